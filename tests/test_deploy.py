"""Deployment artefacts: the Databricks bundle calls commands that exist, and spark-submit really runs the job."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from skuplan.cli import build_parser
from skuplan.config import load_config

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "deploy" / "databricks.yml"
RUN_DATE = dt.date(2026, 1, 1)
# Tables the spark-submit run must leave behind (Delta logs present), whatever their row counts.
SUBMIT_TABLES = (
    "quarantine",
    "forecasts",
    "forecast_status",
    "forecast_metrics",
    "inventory_policy",
    "replenishment",
    "alerts",
    "kpis",
    "allocation",
    "runs",
)
_DYNAMIC = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")


def _bundle_files() -> list[Path]:
    """databricks.yml and the files its `include` globs name (relative to it), as the CLI reads them."""
    root = yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))
    included = sorted({p for pattern in root.get("include", []) for p in BUNDLE.parent.glob(pattern)})
    assert included or not root.get("include"), f"{BUNDLE}: include {root.get('include')} matches no file"
    return [BUNDLE, *included]


def _merge(into: dict, extra: dict, where: Path) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, where)
        else:
            assert key not in into, f"{where}: {key} defined twice"
            into[key] = value


# Which file defined each job: relative paths in a bundle file are relative to that file.
JOB_FILES: dict[str, Path] = {}


@pytest.fixture(scope="module")
def bundle() -> dict:
    merged: dict = {}
    for path in _bundle_files():
        part = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job in part.get("resources", {}).get("jobs", {}):
            JOB_FILES[job] = path
        _merge(merged, part, path)
    return merged


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public accessor for sub-parsers; the action's choices map name -> parser.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("skuplan.cli.build_parser() defines no sub-commands")


def _jobs(bundle: dict) -> dict[str, dict]:
    jobs = bundle.get("resources", {}).get("jobs", {})
    assert jobs, f"{BUNDLE}: no resources.jobs defined"
    return jobs


def _wheel_tasks(bundle: dict) -> list[tuple[str, dict, dict]]:
    found = [
        (name, job, task)
        for name, job in _jobs(bundle).items()
        for task in job.get("tasks", [])
        if "python_wheel_task" in task
    ]
    assert found, f"{BUNDLE}: no python_wheel_task in any job"
    return found


def _resolve(value: str, job: dict) -> str:
    """Stand in for Databricks at run time: job parameters take their defaults, dates become RUN_DATE."""
    defaults = {p["name"]: str(p.get("default", "")) for p in job.get("parameters", [])}

    def sub(match: re.Match) -> str:
        ref = match.group(1)
        if ref.startswith("job.parameters."):
            name = ref.removeprefix("job.parameters.")
            assert name in defaults, f"task refers to job parameter {name!r}, not declared in job.parameters"
            return _DYNAMIC.sub(sub, defaults[name])
        if ref.endswith("iso_date"):
            return RUN_DATE.isoformat()
        raise AssertionError(f"dynamic value reference {{{{{ref}}}}} has no stand-in in this test")

    return _DYNAMIC.sub(sub, value)


def test_bundle_has_dev_and_prod_targets_and_a_daily_schedule(bundle):
    assert {"dev", "prod"} <= set(bundle["targets"]), "targets dev and prod are required"
    assert bundle["targets"]["dev"].get("default") is True
    nightly = [(name, job) for name, job in _jobs(bundle).items() if _subcommand(job) == "run"]
    assert nightly, "no job runs `skuplan run`"
    for name, job in nightly:
        cron = job.get("schedule", {}).get("quartz_cron_expression", "")
        fields = cron.split()
        # Quartz: sec min hour day-of-month month day-of-week; daily = fixed time, every day.
        assert (
            len(fields) >= 6 and fields[3] in ("*", "?") and fields[4] == "*" and fields[5] in ("*", "?")
        ), f"job {name}: schedule {cron!r} is not daily"
        params = {p["name"] for p in job.get("parameters", [])}
        assert {"run_date", "conf"} <= params, f"job {name}: job parameters run_date and conf are required"


def _subcommand(job: dict) -> str:
    (sub,) = {t["python_wheel_task"]["parameters"][0] for t in job["tasks"] if "python_wheel_task" in t}
    return sub


def test_wheel_artifact_is_built_from_the_repo_pyproject(bundle, pyproject):
    artifacts = bundle["artifacts"]
    wheels = {k: a for k, a in artifacts.items() if a.get("type") == "whl"}
    assert wheels, "a whl artifact is required"
    for name, art in wheels.items():
        source = (BUNDLE.parent / art["path"]).resolve()
        assert (source / "pyproject.toml").is_file(), f"artifact {name}: {source} holds no pyproject.toml"
        assert "--no-deps" in art.get("build", ""), f"artifact {name}: build the package alone"
    for job_name, _job, task in _wheel_tasks(bundle):
        libs = [lib["whl"] for lib in task.get("libraries", []) if "whl" in lib]
        assert libs, f"job {job_name} task {task['task_key']}: the wheel is not installed as a library"
        for lib in libs:
            folder = (JOB_FILES[job_name].parent / lib).parent.resolve()
            assert folder == REPO / "dist", (
                f"{lib}: expected the wheel that the artifact build writes to dist/"
            )
        for req in (lib["requirements"] for lib in task.get("libraries", []) if "requirements" in lib):
            # Uploaded with the bundle: a path relative to the job's file that must exist in the repo.
            assert (JOB_FILES[job_name].parent / req).resolve().is_file(), f"job {job_name}: {req} not found"


def test_every_task_calls_an_existing_entry_point_and_subcommand(bundle, pyproject):
    scripts = pyproject["project"]["scripts"]
    subcommands = _subcommands(build_parser())
    for job_name, _job, task in _wheel_tasks(bundle):
        where = f"job {job_name} task {task['task_key']}"
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == pyproject["project"]["name"], where
        entry = wheel_task["entry_point"]
        assert entry in scripts, f"{where}: entry point {entry!r} not in [project.scripts] {sorted(scripts)}"
        params = wheel_task.get("parameters", [])
        assert params and params[0] in subcommands, (
            f"{where}: sub-command {params[:1]} not in skuplan.cli.build_parser() {sorted(subcommands)}"
        )


def test_every_task_parameter_list_parses_with_the_cli(bundle):
    # Catches a flag the CLI does not have (e.g. --stages before the CLI supports it): argparse exits 2.
    parser = build_parser()
    for job_name, job, task in _wheel_tasks(bundle):
        argv = [_resolve(str(p), job) for p in task["python_wheel_task"].get("parameters", [])]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(
                f"job {job_name} task {task['task_key']}: {argv} rejected by the CLI"
            ) from exc
        if hasattr(args, "run_date"):
            assert args.run_date == RUN_DATE


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(s) for s in specs]
    return {canonicalize_name(r.name): r for r in reqs}


def _pin(req: Requirement) -> str:
    (spec,) = req.specifier  # exactly one clause, ==X.Y.Z
    assert spec.operator == "==", f"{req}: pin an exact version"
    return spec.version


def test_core_dependencies_leave_pyspark_and_delta_to_the_cluster(pyproject):
    # A Databricks runtime brings its own pyspark and Delta: the wheel must not pull a second pyspark.
    core = _requirements(pyproject["project"]["dependencies"])
    assert not {"pyspark", "delta-spark", "py4j"} & set(core), sorted(core)


def test_local_extra_pins_matching_pyspark_and_delta(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    local = _requirements(extras["local"])
    assert set(local) == {"pyspark", "delta-spark"}, sorted(local)
    spark, delta = _pin(local["pyspark"]), _pin(local["delta-spark"])
    # The dev extra (what `make setup` installs) brings the local extra along.
    dev = [Requirement(s) for s in extras["dev"]]
    assert any(canonicalize_name(r.name) == "skuplan" and "local" in r.extras for r in dev), extras["dev"]
    # The installed delta-spark accepts the pinned pyspark (delta-spark 4.4.0 wants pyspark <= 4.2.0) ...
    import importlib.metadata as md

    assert md.version("pyspark") == spark and md.version("delta-spark") == delta, "venv differs from the pins"
    delta_needs = _requirements([r for r in md.requires("delta-spark") or [] if "extra ==" not in r])["pyspark"]
    assert delta_needs.specifier.contains(spark), f"delta-spark {delta} requires {delta_needs}, pinned pyspark {spark}"
    # ... and the Delta JARs that fetch_jars.sh derives from them have their SHA-256 pinned (spark_submit.sh ships
    # only those verified JARs: it has no --packages path).
    spark_mm = ".".join(spark.split(".")[:2])
    pinned = (REPO / "scripts" / "jars.sha256").read_text(encoding="utf-8")
    for jar in (f"delta-spark_{spark_mm}_2.13-{delta}.jar", f"delta-storage-{delta}.jar"):
        assert re.search(rf"^[0-9a-f]{{64}}  {re.escape(jar)}$", pinned, re.M), f"scripts/jars.sha256: no pin for {jar}"
    submit = (REPO / "deploy" / "spark_submit.sh").read_text(encoding="utf-8").splitlines()
    assert not [line for line in submit if "--packages" in line and not line.lstrip().startswith("#")]


def test_bundle_installs_the_wheel_without_the_local_extra(bundle, pyproject):
    name = pyproject["project"]["name"]
    for job_name, _job, task in _wheel_tasks(bundle):
        for lib in task.get("libraries", []):
            where = f"job {job_name} task {task['task_key']} library {lib}"
            spec = str(lib.get("whl") or lib.get("pypi", {}).get("package", ""))
            assert "[" not in spec, f"{where}: the wheel is installed without extras"
            if "pypi" in lib:
                req = Requirement(lib["pypi"]["package"])
                assert canonicalize_name(req.name) not in {"pyspark", "delta-spark"}, f"{where}: the runtime has it"
                assert not (canonicalize_name(req.name) == name and req.extras), where
    for art_name, art in bundle["artifacts"].items():
        assert "[local]" not in art.get("build", ""), f"artifact {art_name}: builds with the local extra"


def test_packed_environment_includes_the_local_extra():
    # spark-submit --packed runs the driver on the packed python: it needs pyspark and delta-spark.
    # It installs them from the hashed lock of skuplan[local] (locks/local.txt), then the wheel alone.
    build = (REPO / "deploy" / "build_env.sh").read_text(encoding="utf-8")
    assert re.search(r"install -q --require-hashes --no-deps .*-r locks/local\.txt", build), "build_env.sh: locks/local.txt"
    assert re.search(r'install -q --no-deps "\$wheel"', build), "build_env.sh: the wheel without resolving anything"
    local = (REPO / "locks" / "local.txt").read_text(encoding="utf-8")
    assert re.search(r"^pyspark==", local, re.M) and re.search(r"^delta-spark==", local, re.M), "locks/local.txt"


_NO_SPARK = "import sys; sys.modules['pyspark'] = None; sys.modules['delta'] = None\n"  # import fails, find_spec None


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKUPLAN", "PYSPARK"))}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_importing_the_cli_leaves_pyspark_unimported(tmp_path):
    proc = _python(
        "import sys\nimport skuplan.cli\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'delta', 'py4j'))\n"
        "assert not loaded, loaded\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_cli_without_pyspark_generates_the_sample_and_names_the_missing_extra(tmp_path):
    # As if installed without the local extra: --help and generate-sample work; Spark commands exit 2
    # with what to install, before anything runs (demo writes no sample).
    proc = _python(
        _NO_SPARK + "from skuplan.cli import main\n"
        "rc = main(['generate-sample', '--out', 'gen', '--items', '2', '--regions', '1'])\n"
        "assert rc == 0, rc\n"
        "for argv in (['run', '--run-date', '2026-01-01'], ['demo', '--sample-dir', 'demo'],\n"
        "             ['report', '--run-date', '2026-01-01']):\n"
        "    assert main(argv) == 2, argv\n"
        "main(['--help'])\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # --help exits 0 after printing the usage
    assert "usage: skuplan" in proc.stdout
    assert (tmp_path / "gen" / "sales").exists() and not (tmp_path / "demo").exists()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("skuplan: error:")]
    assert len(errors) == 3, proc.stderr[-2000:]
    for line, command in zip(errors, ("run", "demo", "report"), strict=True):
        assert f"skuplan {command} needs pyspark and delta-spark" in line
        assert "install skuplan[local] or run on a cluster that provides pyspark" in line


def test_task_dependencies_and_clusters_exist(bundle):
    for job_name, job in _jobs(bundle).items():
        keys = {t["task_key"] for t in job["tasks"]}
        clusters = {c["job_cluster_key"] for c in job.get("job_clusters", [])}
        for task in job["tasks"]:
            for dep in task.get("depends_on", []):
                assert dep["task_key"] in keys, f"job {job_name}: {task['task_key']} depends on unknown task"
            if "job_cluster_key" in task:
                assert task["job_cluster_key"] in clusters, f"job {job_name}: unknown job cluster"


def test_clusters_turn_off_skuplan_delta_jars(bundle, repo_root):
    # The runtime provides Delta; skuplan must not look for its local JAR cache there.
    for job_name, job in _jobs(bundle).items():
        for cluster in job.get("job_clusters", []):
            env = cluster["new_cluster"].get("spark_env_vars", {})
            assert env.get("SKUPLAN__SPARK__JARS_DIR") == "null", (
                f"job {job_name}: set SKUPLAN__SPARK__JARS_DIR"
            )
            cfg = load_config(
                repo_root / "conf", environ={"SKUPLAN__SPARK__JARS_DIR": env["SKUPLAN__SPARK__JARS_DIR"]}
            )
            assert cfg.spark.jars_dir is None


def _tiny_run_inputs(base: Path, repo_root: Path, out_name: str) -> Path:
    """Tiny sample + a conf folder (repo defaults plus overrides) for one spark-submit run."""
    from skuplan.sample import SampleSpec, generate_sample

    generate_sample(base / "in", SampleSpec(n_items=4, n_regions=2, start=dt.date(2024, 6, 1)))
    conf = base / "conf"
    shutil.copytree(repo_root / "conf" / "base", conf / "base")
    overrides = {
        "inputs": {"root": str(base / "in")},
        "outputs": {"root": str(base / out_name), "max_files_per_partition": 1},
        "forecast": {"model": "regression", "horizon_days": 14},
        # This test is about the submit path, not the quality gate (test_pipeline_e2e's business): the tiny
        # sample's master tables have a handful of rows, so a single dirty row there would exceed 5%.
        "quality": {"max_quarantine_ratio": 1.0},
        "spark": {"shuffle_partitions": 2},
        # _submit drops the suite's SKUPLAN__ environment (tracking off): MLflow logging and the report
        # artifact are test_tracking's business and would add minutes to this submit.
        "tracking": {"enabled": False},
        # Nothing here reads policy_backtest (not in SUBMIT_TABLES, no report section checked shows it): the
        # hold-out replay, the policy stage's dearest part, is the golden run's and test_incremental's business.
        "inventory": {"replay": {"enabled": False}},
    }
    (conf / "local").mkdir()
    (conf / "local" / "test.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    return conf


def _submit(args: list[str], repo_root: Path, log: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKUPLAN")}
    with log.open("w") as out:
        proc = subprocess.run(
            ["bash", str(repo_root / "deploy" / "spark_submit.sh"), *args],
            cwd=repo_root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=1500,
            check=False,
        )
    return proc


def _assert_tables(spark, conf: Path, log: Path, proc: subprocess.CompletedProcess) -> None:
    from skuplan.io import read_table

    tail = "\n".join(line for line in log.read_text().splitlines() if " INFO " not in line)[-3000:]
    assert proc.returncode == 0, f"spark-submit exited {proc.returncode}; log {log}:\n{tail}"
    cfg = load_config(conf, environ={})
    for name in SUBMIT_TABLES:
        assert (Path(cfg.outputs.root) / name / "_delta_log").is_dir(), f"Delta table {name} missing"
    assert read_table(spark, cfg, "forecasts", RUN_DATE).count() > 0
    runs = read_table(spark, cfg, "runs").where(f"run_date = DATE'{RUN_DATE}'").collect()
    assert runs and all(r.status == "ok" for r in runs), [(r.stage, r.status) for r in runs]


@pytest.fixture(scope="module")
def submitted(tmp_path_factory, repo_root) -> tuple[Path, Path, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("submit")
    conf = _tiny_run_inputs(base, repo_root, "out")
    log = base / "spark_submit.log"
    return conf, log, _submit([RUN_DATE.isoformat(), "local[2]", str(conf)], repo_root, log)


@pytest.mark.slow
def test_spark_submit_local_writes_delta_tables(spark, submitted):
    _assert_tables(spark, *submitted)


@pytest.mark.slow
def test_report_renders_the_real_outputs(spark, submitted, tmp_path):
    # The report against what the pipeline really writes (hand-made tables in test_report.py may lag
    # behind the pipeline's columns): the core charts must not be skipped.
    from skuplan.report import write_report

    conf, log, proc = submitted
    assert proc.returncode == 0, f"spark-submit failed, see {log}"
    page = write_report(spark, load_config(conf, environ={}), RUN_DATE, tmp_path / "report.html").read_text()
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, flags=re.S))
    for name in ("kpis", "forecast", "accuracy", "alerts", "allocation", "stages"):
        skipped = re.findall(r"Skipped:[^<]*", sections[name])
        assert not skipped, f"section {name}: {skipped}"
    assert sections["forecast"].count("<polygon") >= 1  # quantile bands drawn from real forecasts


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("SKUPLAN_TEST_PACKED") != "1",
    reason="packed mode builds a ~650 MB environment (minutes): set SKUPLAN_TEST_PACKED=1",
)
def test_spark_submit_packed_writes_delta_tables(spark, tmp_path, repo_root):
    build = subprocess.run(
        ["bash", str(repo_root / "deploy" / "build_env.sh")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    conf = _tiny_run_inputs(tmp_path, repo_root, "out_packed")
    log = tmp_path / "spark_submit_packed.log"
    proc = _submit(["--packed", RUN_DATE.isoformat(), "local[2]", str(conf)], repo_root, log)
    _assert_tables(spark, conf, log, proc)


# ------------------------------------------------------------------------------------- production readiness

BUNDLE_SCHEMA = REPO / "tests" / "fixtures" / "databricks_bundle_schema" / "jsonschema-v1.13.0.json.gz"


def _bundle_validator():
    import gzip
    import json

    import jsonschema

    text = gzip.decompress(BUNDLE_SCHEMA.read_bytes()).decode("utf-8")
    # The schema's patterns use \p{L} / \p{N} (Go's regexp), which Python's re lacks: the same classes in re's
    # Unicode terms (see SOURCE.md beside the schema). Nothing else is changed.
    text = text.replace(r"[\\p{L}\\p{N}]", r"[^\\W_]").replace(r"\\p{L}", r"[^\\W\\d_]")
    assert r"\\p{" not in text, "a Unicode property class the rewrite above does not cover"
    return jsonschema.Draft202012Validator(json.loads(text))


def _leaves(error) -> list:
    """The innermost errors under a oneOf (what the object breaks, e.g. "'bogus' was unexpected"), deepest first."""
    found = [leaf for sub in error.context or [] for leaf in _leaves(sub)] or [error]
    return sorted(found, key=lambda e: -len(e.absolute_path))


def _deepest(error):
    return _leaves(error)[0]


def test_bundle_matches_the_databricks_bundle_schema(bundle):
    validator = _bundle_validator()
    for path in _bundle_files():
        errors = [_deepest(e) for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, [f"{path.name}: {'.'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]
    assert not list(validator.iter_errors(bundle))
    # The validator does reject what the CLI rejects: a key no task has.
    broken = yaml.safe_load(yaml.safe_dump(bundle))
    next(iter(_jobs(broken).values()))["tasks"][0]["retries"] = 1
    (error,) = validator.iter_errors(broken)
    assert any("'retries' was unexpected" in leaf.message for leaf in _leaves(error)), error.message[:300]


def test_prod_runs_as_a_service_principal_at_a_fixed_root_with_oncall_permissions(bundle):
    prod = bundle["targets"]["prod"]
    assert prod["mode"] == "production"
    principal = prod["run_as"]["service_principal_name"]
    assert principal == "${var.service_principal}", principal
    root = prod["workspace"]["root_path"]
    # Fixed: the same folder whoever deploys (not the deploying user's home, which would make a second job).
    assert "current_user" not in root and principal in root, root
    oncall = [p for p in prod.get("permissions", []) if p.get("group_name") == "${var.oncall_group}"]
    assert oncall and oncall[0]["level"] in ("CAN_RUN", "CAN_MANAGE"), prod.get("permissions")


def test_conf_local_is_not_synced_to_the_cluster(bundle):
    synced = [(BUNDLE.parent / p).resolve() for p in bundle["sync"]["paths"]]
    local = REPO / "conf" / "local"
    assert synced and all(local != p and local not in p.parents and p not in local.parents for p in synced), synced
    assert (REPO / "conf" / "base").resolve() in synced


def test_jobs_write_unity_catalog_tables_in_a_per_user_dev_schema(bundle):
    schemas = bundle["resources"]["schemas"]
    assert bundle["targets"]["dev"]["mode"] == "development"  # prefixes the schema name per deploying user
    for job_name, job in _jobs(bundle).items():
        for cluster in job.get("job_clusters", []):
            env = cluster["new_cluster"]["spark_env_vars"]
            schema = re.fullmatch(r"\$\{resources\.schemas\.(\w+)\.name\}", env.get("SKUPLAN__OUTPUTS__SCHEMA", ""))
            assert schema and schema.group(1) in schemas, f"job {job_name}: outputs.schema from the bundle's schema"
            assert "SKUPLAN__OUTPUTS__ROOT" not in env, f"job {job_name}: tables by name, not under a path"
            assert cluster["new_cluster"]["data_security_mode"] != "SINGLE_USER", "legacy alias"


def test_readme_states_the_bundle_runtime_and_the_tested_pyspark_together(bundle, pyproject):
    runtime = bundle["variables"]["spark_version"]["default"]
    pyspark = _pin(_requirements(pyproject["project"]["optional-dependencies"]["local"])["pyspark"])
    paragraphs = (REPO / "README.md").read_text(encoding="utf-8").split("\n\n")
    assert any(runtime in p and f"pyspark {pyspark}" in p for p in paragraphs), (
        f"README: say in one paragraph that the bundle runs {runtime} and the tests run pyspark {pyspark}"
    )


def test_the_wheel_entry_point_exits_non_zero_on_a_bad_config(tmp_path, monkeypatch, capsys):
    # As a python_wheel_task does: the entry point from the installed package's metadata, called with sys.argv
    # set to the task's parameters, its return value ignored. A failed run must raise SystemExit(code != 0).
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="console_scripts") if e.name == "skuplan"]
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "skuplan.yaml").write_text("forecast: {horizon_days: -3}\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["skuplan", "run", "--conf", str(tmp_path / "conf"), "--run-date", "2026-01-01"])
    with pytest.raises(SystemExit) as exited:
        entry.load()()
    assert exited.value.code == 2
    assert "forecast.horizon_days" in capsys.readouterr().err
