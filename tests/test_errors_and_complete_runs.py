"""Issue 13 #7 and complete runs: a failed run says its root cause and stage on one stderr line (the traceback goes
to the log), a missing --conf-file is a config error (exit 2), and readers (read_plan, the report) refuse a
run_date whose runs do not add up to a complete plan until a rerun or a `--from-stage` resume completes it.

One tiny sample and one output folder for the whole module: the `history` fixture drives a sequence of CLI runs
through `skuplan.cli.main` and records what each step printed and what the readers said in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io as textio
import json
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from skuplan import io
from skuplan.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from skuplan.complete_runs import IncompleteRun, incomplete_reason, read_plan
from skuplan.config import load_config
from skuplan.errors import root_cause, worker_error_line
from skuplan.faults import FAIL_ONCE_ENV
from skuplan.pipeline import FAIL_AFTER_ENV
from skuplan.sample import SampleSpec, generate_sample

RUN_DATE = dt.date(2026, 1, 1)

pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------------- no Spark job needed


def test_missing_conf_file_exits_2_naming_the_path(tmp_path, repo_root, capsys):
    missing = tmp_path / "nowhere.yaml"
    code = main(["run", "--conf", str(repo_root / "conf"), "--conf-file", str(missing), "--run-date", "2026-01-01"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"--conf-file {missing} not found" in err and "pass the path of an existing YAML file" in err


def test_conf_folder_given_as_a_file_exits_2_with_the_fix(repo_root, capsys):
    code = main(["report", "--conf", str(repo_root / "conf" / "base" / "skuplan.yaml"), "--run-date", "2026-01-01"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "is a file" in err and "--conf-file" in err


class _FakeJava:
    """Stands in for a py4j JavaObject throwable: class, message, cause."""

    def __init__(self, cls, message, cause=None):
        self._cls, self._message, self._cause = cls, message, cause

    def getClass(self):  # noqa: N802 - the Java method names
        return SimpleNamespace(getSimpleName=lambda: self._cls)

    def getMessage(self):  # noqa: N802
        return self._message

    def getCause(self):  # noqa: N802
        return self._cause


def test_root_cause_of_worker_and_jvm_errors():
    worker = ("An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
              '  File "x.py", line 3, in f\n    raise ValueError("boom")\nValueError: boom\n\n'
              "During handling of the above exception, another exception occurred:\n\n"
              'Traceback (most recent call last):\n  File "y.py", line 9, in g\n'
              "skuplan.faults.InjectedFault: injected failure in forecast\n\tat org.apache.spark.Foo(Foo.scala:1)\n"
              "org.apache.spark.SparkException: not this one")
    assert worker_error_line(worker) == "skuplan.faults.InjectedFault: injected failure in forecast"

    wrapped = Exception("An error occurred while calling o3944.execute.\n: org.apache...")
    wrapped.java_exception = _FakeJava("DeltaIOException", "[DELTA_CANNOT_CREATE_LOG_PATH] Cannot create x",
                                       _FakeJava("ParentNotDirectoryException", "Parent path is not a directory: y"))
    assert root_cause(wrapped) == "ParentNotDirectoryException: Parent path is not a directory: y"

    in_java = Exception("An error occurred while calling o12.save.")
    in_java.java_exception = _FakeJava("SparkException", "Job aborted", _FakeJava("PythonException", worker))
    assert root_cause(in_java) == "skuplan.faults.InjectedFault: injected failure in forecast"
    assert root_cause(KeyError("k")) == "KeyError: 'k'"


def _row(run_id, stage, minute, status="ok", versions=None):
    return {"run_id": run_id, "stage": stage, "status": status, "detail": "" if status == "ok" else "boom",
            "finished_at": dt.datetime(2026, 1, 1, 3, minute),
            "table_versions": json.dumps({"t": 1} if versions is None else versions)}


STAGE_LIST = ("validate", "prepare", "forecast", "policy", "allocate")


def _run(run_id, minute, stages=STAGE_LIST, failed_at=None, versions=None):
    return [_row(run_id, s, minute, "failed" if s == failed_at else "ok", versions) for s in stages]


def test_the_complete_run_rule():
    full = _run("A", 0)
    assert incomplete_reason(RUN_DATE, full) is None
    # A failure after a success is not complete; the failed run and stage are named with the fix.
    failed = full + _run("B", 5, STAGE_LIST[:4], failed_at="policy")
    reason = incomplete_reason(RUN_DATE, failed)
    assert "run B failed at stage policy" in reason and "--from-stage policy" in reason
    # A failure before its stage's first commit changed nothing: the earlier plan stands.
    assert incomplete_reason(RUN_DATE, full + [_row("B0", "policy", 4, "failed", versions={})]) is None
    only_failed = incomplete_reason(RUN_DATE, [_row("V", "validate", 1, "failed", versions={})])
    assert "run V failed at stage validate (boom) and no run of validate succeeded" in only_failed
    # A resume after the failure completes it, though it wrote rows only for the stages it ran.
    assert incomplete_reason(RUN_DATE, failed + _run("C", 9, ("policy", "allocate"))) is None
    # A run that stopped between stages (no failed row) left new forecasts under old policy tables.
    stopped = full + _run("D", 7, STAGE_LIST[:3])
    reason = incomplete_reason(RUN_DATE, stopped)
    assert "run D rewrote the tables of stage forecast and stopped before stage policy" in reason
    # A stage that committed nothing (a legal night without sales) leaves the earlier plan complete.
    assert incomplete_reason(RUN_DATE, full + _run("E", 8, ("validate",), versions={})) is None
    assert "prepare" in incomplete_reason(RUN_DATE, _run("F", 1, ("validate",)))
    assert "has no run" in incomplete_reason(RUN_DATE, [])
    # prepare cannot be resumed (validate hands the sales on in memory): the fix is a full rerun.
    assert "--from-stage" not in incomplete_reason(RUN_DATE, full + _run("G", 9, STAGE_LIST[:2], failed_at="prepare"))


# ---------------------------------------------------------------------------------- one sample, real runs


@dataclass
class Step:
    code: int
    err: str
    refusal: str = ""  # what read_plan said about RUN_DATE after this step ("" = it read the plan)
    report: tuple[int, str] | None = None
    run_ids: list[str] = field(default_factory=list)


def _cli(args: list[str]) -> tuple[int, str]:
    err = textio.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


def _refusal(spark, cfg, table: str = "inventory_policy") -> str:
    try:
        read_plan(spark, cfg, table, RUN_DATE).count()
        io.read_plan(spark, cfg, "forecasts", RUN_DATE).count()
    except IncompleteRun as exc:
        return str(exc)
    return ""


@pytest.fixture(scope="module")
def history(spark, tmp_path_factory, repo_root):
    base = tmp_path_factory.mktemp("complete_runs")
    # Small and clean: six months of two series (a dirty row would be a large share of such tiny master tables).
    generate_sample(base / "in", SampleSpec(n_items=2, n_regions=1, n_dcs=1, start=dt.date(2025, 7, 1),
                                            dirty_rows=False))
    # The cheapest model and one backtest fold: the runs are here for their failures, not their forecasts.
    overrides = {"inputs": {"root": str(base / "in")}, "outputs": {"root": str(base / "out"),
                 "max_files_per_partition": 1},
                 "forecast": {"horizon_days": 14, "model": "seasonal_naive", "backtest": {"folds": 1}}}
    conf_file = base / "run.yaml"
    conf_file.write_text(json.dumps(overrides))
    cfg = load_config(repo_root / "conf", [conf_file], environ={})
    run = ["run", "--conf", str(repo_root / "conf"), "--conf-file", str(conf_file), "--run-date", RUN_DATE.isoformat()]
    report = ["report", "--conf", str(repo_root / "conf"), "--conf-file", str(conf_file),
              "--run-date", RUN_DATE.isoformat(), "--out", str(base / "report.html")]
    steps: dict[str, Step] = {}
    timings: dict[str, float] = {}

    def step(name: str, args: list[str], fail_after: str | None = None, with_report: bool = False) -> None:
        started = time.perf_counter()
        with pytest.MonkeyPatch.context() as mp:
            if fail_after:
                mp.setenv(FAIL_AFTER_ENV, fail_after)
            code, err = _cli(args)
        rec = Step(code, err, _refusal(spark, cfg), _cli(report) if with_report else None)
        runs = io.read_table(spark, cfg, "runs").orderBy("finished_at").select("run_id").collect()
        rec.run_ids = list(dict.fromkeys(r.run_id for r in runs))
        steps[name] = rec
        timings[name] = time.perf_counter() - started

    # 1. A Python worker fails in forecast. The workers take their environment from the SparkContext, not from
    #    os.environ; the hook fails each task's first attempt and local[2] does not retry.
    env = spark.sparkContext.environment
    env[FAIL_ONCE_ENV] = str(base / "markers")
    (base / "markers").mkdir()
    try:
        step("worker_error", run)
    finally:
        env.pop(FAIL_ONCE_ENV, None)
    # 2. Resume from forecast; the process "dies" right after forecast committed (no policy row yet).
    step("stopped_first", [*run, "--from-stage", "forecast"], fail_after="forecast", with_report=True)
    # 3. Resume from policy: complete.
    step("resumed", [*run, "--from-stage", "policy"])
    # 4. What a run killed mid-stage leaves: a commit of kpis' partition after the version the manifest recorded.
    rows = io.read_table(spark, cfg, "kpis", RUN_DATE).drop("run_date").localCheckpoint()
    io.write_partition(rows, cfg, "kpis", RUN_DATE)
    steps["rewritten"] = Step(EXIT_OK, "", _refusal(spark, cfg, "kpis"), _cli(report))
    # 5. A failure after the success: forecast rewritten, policy not.
    step("stopped_again", [*run, "--from-stage", "forecast"], fail_after="forecast", with_report=True)
    print("step seconds:", {k: round(v, 1) for k, v in timings.items()})  # shown with -s or on a failure
    return cfg, steps


def test_worker_error_is_one_line_with_root_cause_and_stage(spark, history):
    cfg, steps = history
    s = steps["worker_error"]
    assert s.code == EXIT_FAILED
    assert len(s.err.strip().splitlines()) == 1, s.err
    assert "InjectedFault: injected failure in forecast" in s.err and "(stage forecast)" in s.err
    assert "Python worker" not in s.err and "o3944" not in s.err
    # The manifest marks the stage failed with the same root cause; readers refuse the run_date.
    failed = io.read_table(spark, cfg, "runs").where("status = 'failed'").collect()
    assert [(r.stage, r.run_id) for r in failed] == [("forecast", s.run_ids[0])]
    assert "InjectedFault: injected failure in forecast" in failed[0].detail
    assert f"run {s.run_ids[0]} failed at stage forecast" in s.refusal and "--from-stage forecast" in s.refusal


def test_a_run_stopped_after_forecast_is_refused_by_the_read_helper_and_the_report(history):
    _, steps = history
    s = steps["stopped_first"]
    assert s.code == EXIT_FAILED and "failure injected after stage forecast" in s.err
    run_id = s.run_ids[-1]
    assert f"run_date {RUN_DATE} is not complete" in s.refusal
    assert "no policy stage is recorded" in s.refusal and run_id in s.refusal
    assert "--from-stage policy" in s.refusal
    code, err = s.report
    assert code == EXIT_FAILED and len(err.strip().splitlines()) == 1
    assert "report failed" in err and run_id in err and "--from-stage policy" in err


def test_a_resume_from_policy_makes_the_run_date_readable(history):
    _, steps = history
    assert steps["resumed"].code == EXIT_OK, steps["resumed"].err
    assert steps["resumed"].refusal == ""


def test_a_table_rewritten_after_the_recorded_version_is_refused(history):
    _, steps = history
    s = steps["rewritten"]
    assert "table kpis was rewritten (Delta version" in s.refusal and ", WRITE) after run" in s.refusal
    assert "in progress or one stopped before writing the runs manifest" in s.refusal
    code, err = s.report
    assert code == EXIT_FAILED and "table kpis was rewritten" in err and len(err.strip().splitlines()) == 1


def test_a_failure_after_a_success_is_refused(spark, history):
    cfg, steps = history
    s = steps["stopped_again"]
    stopped, resumed = s.run_ids[-1], steps["resumed"].run_ids[-1]
    assert f"run {stopped} rewrote the tables of stage forecast and stopped before stage policy" in s.refusal
    assert f"still those of run {resumed}" in s.refusal and "--from-stage policy" in s.refusal
    assert s.report[0] == EXIT_FAILED and stopped in s.report[1]
    # read_table stays the raw partition (tests, audits): it does not judge runs.
    assert io.read_table(spark, cfg, "allocation", RUN_DATE).count() > 0
