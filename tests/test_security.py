"""Security checks (issue #7 item 6, issue 19).

1. No secrets in the repository: tests/secret_scan.py scans every file git tracks (tests/ and root files such as
   a committed .env included) for credential patterns: cloud keys, Azure AccountKey= / fs.azure.account.key.* /
   SAS sig=, GitHub, Slack and Google tokens, Slack webhooks, JDBC password=, Bearer headers, user:password@
   URLs, password/secret/token assignments with literal values. Each pattern is tested on a planted fake first
   (built at run time: no file spells one out), so a pass on the repo means something; a finding shows no
   character of the secret. .env is git-ignored.
2. Paths and table names from config are validated: ASCII allow-list, no `..` segment (also `file:..`), no
   credentials in a URI, wherever the value comes from (YAML, env, CLI). Already covered elsewhere, not repeated
   here: `..` in inputs.root (test_bad_inputs.py test_path_traversal_rejected) and relative output roots
   (test_io.py test_relative_output_root_works).
3. No customer identifiers in outputs: the UCI ingest keeps only the sales contract's columns, and the
   quarantine payload (the one output that holds raw rows) carries no CustomerID; asserted on the real file
   by test_uci_ingest.py::test_quarantine_payload_has_no_customer_identifiers, not duplicated here. The
   contract check below (no customer-like input column) runs without the data set.
4. Errors never echo a secret: a planted secret in an env override or config file reaches neither stderr nor
   the output tables (the run stops at config, before any write).
5. spark.conf from config tunes Spark only: settings that load code, start programs or hold credentials are
   refused (the trust boundary in README, Security).
6. CLI output folders are checked before anything is replaced; quarantine payload fields are capped.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess

import pytest

from secret_scan import PATTERNS, REPO, project_files, scan_files, scan_text
from skuplan.config import ConfigError, load_config, validate_path


def planted(text: str) -> str:
    """A fake secret as the scanner must see it: '~' breaks every pattern in this file's source text."""
    return text.replace("~", "")


_B64_KEY = base64.b64encode(bytes(range(7, 71))).decode()  # 64 bytes: the shape of an Azure storage key
# kind -> (a line holding a fake, the secret part of it that no report may show any 4 characters of)
FAKES = {
    "AWS access key id": ("aws_key_id = 'AK~IAIOSFODNN7EXAMPLE'", "IOSFODNN7EXAMPLE"),
    "private key block": ("-----BEGIN RSA PRIV~ATE KEY-----\nMIIEowIBAAKCAQEA\n", "MIIEowIBAAKCAQEA"),
    "Databricks token": ("host_token_for_ci da~pi" + "0123456789abcdef" * 2, "0123456789abcdef" * 2),
    "GitHub token": ("gh~p_" + "A1b2C3d4E5" * 4, "A1b2C3d4E5" * 4),
    "GitHub fine-grained token": (
        "GH_PAT github~_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789",
        "aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789",
    ),
    "Slack token": (
        "app_level xa~pp-1-A0123BCDEF-4567890123-f00dfacecafe0123456789",
        "f00dfacecafe0123456789",
    ),
    "Slack webhook": (
        "notify: https://hooks.sl~ack.com/services/T0123ABCD/B0456EFGH/a1B2c3D4e5F6g7H8i9J0k1L2",
        "a1B2c3D4e5F6g7H8i9J0k1L2",
    ),
    "Google API key": (
        "maps AI~za" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6q",
        "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6q",
    ),
    "Azure storage account key": (
        "conn: DefaultEndpointsProtocol=https;AccountName=acct;Account~Key=" + _B64_KEY,
        _B64_KEY,
    ),
    "Azure account key setting": (
        "spark.hadoop.fs.azure.acc~ount.key.acct.dfs.core.windows.net " + _B64_KEY,
        _B64_KEY,
    ),
    "Azure SAS signature": (
        "src: https://acct.blob.core.windows.net/c/f.csv?sv=2024-11-04&sp=r&si~g="
        "Zm9vYmFyYmF6cXV4cXV1eA%2Bq9%3D",
        "Zm9vYmFyYmF6cXV4cXV1eA",
    ),
    "password in a JDBC URL": (
        "url: jdbc:sqlserver://db.internal:1433;database=sales;user=etl;pass~word=Hunter2-Secret",
        "Hunter2-Secret",
    ),
    "Bearer token": (
        "curl -H 'Authorization: Bea~rer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldGwifQ.c2lnbmF0dXJl'",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldGwifQ",
    ),
    "credentials in a URL": (
        "url: postgresql:~//etl_user:hunter2secret@db.internal:5432/sales",
        "hunter2secret",
    ),
}
# GitHub's two token shapes are one scanner pattern.
_PATTERN_OF = dict([("GitHub fine-grained token", "GitHub token")])
FAKE_ASSIGNMENTS = {
    "conf.yaml": [
        "pass~word: s3cr3t-value",
        "  client_sec~ret: 'abcd1234efgh'",
        "api_k~ey: AbCdEf123456",
        "spark.hadoop.fs.s3a.sec~ret.key: wJalrXUtnFEMI",
    ],
    "job.py": [
        'DB_PASS~WORD = "correct-horse"',
        'connect(tok~en="abcdef123456")',
        "{'access_k~ey': 'XYZ12345'}",
    ],
    "run.sh": ["export DATABRICKS_TOK~EN=abcdef0123456789"],
    ".env": ["SKUPLAN_DB_PASS~WORD=Hunter2-Secret"],
}
# Things that name a credential without holding one: must not be reported.
CLEAN = {
    "conf.yaml": [
        "password: ${DB_PASSWORD}",
        "token: '{{secrets/skuplan/token}}'",
        "secret: null",
        "# No credentials here: storage credentials come from the cluster (secret scope, env)",
        "client_secret: <from the secret scope>",
        "url: s3a://bucket/path@v1",
        "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net {{secrets/skuplan/azure-key}}",
        "url: jdbc:postgresql://db/sales?user=etl&password=${DB_PASSWORD}",
        "header: 'Authorization: Bearer <token>'",
    ],
    "job.py": [
        "password = os.environ['DB_PASSWORD']",
        "token = dbutils.secrets.get('skuplan', 'token')",
        "def f(token: str) -> None:",
        "password=args.password",
        "url = f'jdbc://{user}:{pw}@{host}'",
    ],
    "dev.txt": ["asttokens==3.0.2 \\"],
}


@pytest.fixture
def git_tree(tmp_path):
    """An empty git work tree: the scanner lists files with git, as it does in the repository."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_every_pattern_has_a_planted_fake():
    assert set(PATTERNS) == {_PATTERN_OF.get(kind, kind) for kind in FAKES}


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_scanner_finds_each_planted_credential_without_showing_it(git_tree, kind):
    line, secret = FAKES[kind]
    # Root files (.env) and tests/ are scanned like the rest.
    for name in (".env", "tests/test_leak.py", "conf/leak.yaml"):
        (git_tree / name).parent.mkdir(exist_ok=True)
        (git_tree / name).write_text(f"inputs:\n  root: data\n# {kind}\n{planted(line)}\n", encoding="utf-8")
    findings = scan_files(project_files(git_tree), git_tree)
    pattern = _PATTERN_OF.get(kind, kind)
    assert {f.path for f in findings if f.kind == pattern} == {".env", "tests/test_leak.py", "conf/leak.yaml"}
    assert all(f.line == 4 for f in findings), findings
    report = "\n".join(map(str, findings))
    leaked = {secret[i : i + 4] for i in range(len(secret) - 3)} & {
        report[i : i + 4] for i in range(len(report) - 3)
    }
    assert not leaked, f"the report shows part of the secret: {leaked}"


def test_git_ignored_files_are_not_listed_but_dot_env_is_ignored_in_the_repo(git_tree):
    (git_tree / ".gitignore").write_text(".env\n", encoding="utf-8")
    (git_tree / ".env").write_text(planted(FAKES["GitHub token"][0]), encoding="utf-8")
    assert [p.name for p in project_files(git_tree)] == [".gitignore"]
    # The repository ignores .env (a local file of secrets is never committed by `git add .`).
    assert subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", ".env"]).returncode == 0


@pytest.mark.parametrize(
    ("name", "line"), [(n, line) for n, lines in FAKE_ASSIGNMENTS.items() for line in lines]
)
def test_scanner_finds_literal_credential_assignments(name, line):
    assert scan_text(planted(line), name), f"{name}: {planted(line)!r} not reported"


@pytest.mark.parametrize(("name", "line"), [(n, line) for n, lines in CLEAN.items() for line in lines])
def test_scanner_lets_references_to_secrets_pass(name, line):
    assert not scan_text(line, name), scan_text(line, name)


def test_no_credentials_in_the_project_files():
    files = project_files()
    scanned = {str(p.relative_to(REPO)) for p in files}
    # Guard against a scanner that silently scans nothing: code, config, deploy, tests and root files.
    expected = {
        "conf/base/skuplan.yaml",
        "deploy/databricks.yml",
        "deploy/spark_submit.sh",
        "lib/skuplan/config.py",
        "jobs/plan.py",
        "Makefile",
        "pyproject.toml",
        "README.md",
        "notebooks/explore.ipynb",
        ".gitignore",
        "tests/test_security.py",
        "tests/conftest.py",
        "locks/dev.txt",
    }
    assert expected <= scanned, sorted(expected - scanned)
    findings = scan_files(files)
    assert not findings, "credentials in the repository (use env vars or a secret scope):\n" + "\n".join(
        map(str, findings)
    )


# --- 2. paths and table names from config ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "../outside",  # leading ..
        "data/../../etc",
        "s3a://bucket/../other-bucket",  # .. after a scheme
        "abfss://c@acct.dfs.core.windows.net/a/../../b",
        "/Volumes/main/skuplan/..",  # trailing ..
        "data//..//x",
        "out;rm -rf ~",  # shell / SQL separators
        "out`whoami`",  # backticks (Spark SQL identifier quoting)
        "delta.`/tmp/x`",
        "out'--",
        'out"x',
        " out",  # a space at either end is a typo (spaces inside are allowed: see below)
        "out ",
        "out\tdir",
        "$HOME/out",
        "out\n",  # a trailing newline ($ in a regex would let it through)
        "out\nFAKE LOG LINE",
        "%2e%2e/etc",  # URL-encoded ..
        "~/out",
        "C:\\out",
        "",
        "   ",
        "ｏｕｔｐｕｔ/delta",  # full-width letters: Unicode \w would take them for ASCII ones
        "output/dé",
        "file:..",  # .. right after a scheme
        "dbfs:../other",
        "file:/tmp/..",
    ],
)
def test_validate_path_rejects(value):
    with pytest.raises(ValueError):
        validate_path(value, "outputs.root")


@pytest.mark.parametrize(
    "value",
    [
        "output/delta",
        "/Volumes/main/skuplan_dev/delta",
        "s3a://bucket/skuplan/delta",
        "dbfs:/mnt/skuplan",
        "abfss://container@account.dfs.core.windows.net/skuplan",
        "file:///tmp/skuplan",
        "gs://b/p-1/v=2",
        "data/..hidden/x",
        "data/x..y",
        "out dir",
        "/Volumes/main/raw/Sales Reports 2024/sales.csv",
        "s3a://bucket/Sales Exports/2024",
    ],
)
def test_validate_path_accepts_storage_paths(value):
    assert validate_path(value, "outputs.root") == value


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"outputs": {"root": "out/../../etc"}}, "outputs.root"),
        ({"inputs": {"sales": {"path": "../../secrets"}}}, "inputs.sales.path"),
        ({"inputs": {"items": {"path": "items;DROP TABLE x"}}}, "inputs.items.path"),
        ({"inputs": {"lanes": {"path": "s3://b/`x`"}}}, "inputs.lanes.path"),
    ],
)
def test_config_rejects_unsafe_paths_naming_the_key(repo_root, overrides, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key {key}")):
        load_config(repo_root / "conf", environ={}, overrides=overrides)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"SKUPLAN__OUTPUTS__ROOT": "/data/../etc"}, "outputs.root"),
        ({"SKUPLAN__INPUTS__ROOT": "in;put"}, "inputs.root"),
        ({"SKUPLAN__INPUTS__EVENTS__PATH": "../events"}, "inputs.events.path"),
    ],
)
def test_env_overrides_are_validated_like_yaml(repo_root, env, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key {key}")):
        load_config(repo_root / "conf", environ=env)


def test_env_values_are_parsed_as_plain_yaml_never_as_objects(repo_root, tmp_path):
    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    with pytest.raises(ConfigError, match="SKUPLAN__OUTPUTS__ROOT"):
        load_config(repo_root / "conf", environ={"SKUPLAN__OUTPUTS__ROOT": payload})
    assert not marker.exists()


def test_absolute_and_uri_input_paths_ignore_the_root_but_are_still_validated(repo_root):
    cfg = load_config(
        repo_root / "conf",
        environ={},
        overrides={
            "inputs": {
                "root": "s3a://bucket/in",
                "sales": {"path": "/Volumes/main/raw/sales"},
                "items": {"path": "abfss://c@a.dfs.core.windows.net/items"},
            },
        },
    )
    assert cfg.inputs.location("sales") == "/Volumes/main/raw/sales"
    assert cfg.inputs.location("items") == "abfss://c@a.dfs.core.windows.net/items"
    assert cfg.inputs.location("lanes") == "s3a://bucket/in/lanes"
    with pytest.raises(ConfigError, match="inputs.sales.path"):
        load_config(
            repo_root / "conf", environ={}, overrides={"inputs": {"sales": {"path": "/Volumes/../etc"}}}
        )


@pytest.mark.parametrize(
    "name",
    [
        "forecasts; DROP TABLE runs",
        "forecasts`",
        "`runs`",
        "../runs",
        "runs/../x",
        "a.b",
        "Runs",
        "",
        "x" * 64,
    ],
)
def test_output_table_names_are_plain_identifiers(repo_root, name):
    io = pytest.importorskip("skuplan.io")  # imports pyspark (the local extra)
    cfg = load_config(repo_root / "conf", environ={})
    with pytest.raises(ValueError, match="table name"):
        io.table_path(cfg, name)


# --- 3. customer identifiers --------------------------------------------------------------------------


def test_input_contract_has_no_customer_columns():
    # What conform_columns keeps is the contract; a customer id in a source file is dropped on read (and
    # test_uci_ingest.py asserts the quarantine payload of the real UCI file has no CustomerID).
    schemas = pytest.importorskip("skuplan.schemas")
    columns = {name for table in schemas.INPUT_COLUMNS.values() for name, *_ in table}
    personal = re.compile(r"customer|client|user|email|phone|address|name$", re.I)
    assert not {c for c in columns if personal.search(c) and c != "event_name"}, sorted(columns)


# --- 4. errors never echo a secret --------------------------------------------------------------------

PLANTED = planted("Hunter2~-Secret-9f3a")  # a fake secret


@pytest.mark.parametrize(
    "env",
    [
        {"SKUPLAN__SPARK__PASSWORD": PLANTED},  # an unknown key: pydantic would echo the input
        {
            "SKUPLAN__FORECAST__HORIZON_DAYS": PLANTED
        },  # a typed key: only a value of <= 16 characters is shown
        {"SKUPLAN__OUTPUTS__ROOT": f"s3a://AKIAEXAMPLE:{PLANTED}@bucket/skuplan"},
        {"SKUPLAN__INPUTS__SALES__PATH": f"jdbc:sqlserver://db;user=etl;password={PLANTED}"},
        {"SKUPLAN__SPARK__CONF": f"{{spark.hadoop.fs.s3a.secret.key: {PLANTED}}}"},
        {"SKUPLAN__SPARK__MASTER": f"{{nested: {PLANTED}}}"},  # a mapping where text goes
    ],
)
def test_a_secret_in_an_env_override_reaches_neither_stderr_nor_the_tables(
    repo_root, tmp_path, monkeypatch, capsys, env
):
    from skuplan.cli import EXIT_BAD_INPUT, main

    out = tmp_path / "delta"
    monkeypatch.setenv("SKUPLAN__OUTPUTS__ROOT", str(out))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01"]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "config key" in captured.err or "holds" in captured.err, captured.err  # the error names the key
    assert "Secret" not in captured.err + captured.out, captured.err
    assert not out.exists(), "the run stopped at config: no table (and no runs manifest row) was written"


def test_a_secret_in_a_broken_yaml_file_is_not_quoted(repo_root, tmp_path):
    broken = tmp_path / "local.yaml"
    broken.write_text(f"spark:\n  password: {PLANTED}\n\tmaster: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(repo_root / "conf", extra_files=[broken], environ={})
    assert "line 3" in str(err.value) and "Secret" not in str(err.value), str(err.value)


def test_short_harmless_values_are_still_shown(repo_root):
    with pytest.raises(ConfigError, match=r"config key quality\.returns: .*\(got 'drop'\)"):
        load_config(repo_root / "conf", environ={"SKUPLAN__QUALITY__RETURNS": "drop"})


@pytest.mark.parametrize(
    "value",
    [
        planted("s3a:~//AKIAEXAMPLE:SECRETKEY@bucket/x"),
        planted("abfss:~//container:key@acct.dfs.core.windows.net/x"),
        planted("jdbc:postgresql://db/sales;pass~word=abc"),
        "wasbs://c@acct.blob.core.windows.net/x;sig=abc",
        "https://host/x/AccountKey=abc",
    ],
)
def test_uris_with_credentials_are_refused_saying_where_credentials_belong(value):
    with pytest.raises(ValueError) as err:
        validate_path(value, "inputs.root")
    assert "credentials belong to the cluster" in str(err.value) and "secret scope" in str(err.value)
    assert value not in str(err.value) and "abc" not in str(err.value).split("(value not shown)")[0]


# --- 5. spark.conf: tuning only (trust boundary) -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("spark.jars", "loads code"),
        ("spark.jars.packages", "loads code"),
        ("spark.driver.extraJavaOptions", "loads code"),
        ("spark.executor.extraJavaOptions", "loads code"),
        ("spark.executor.extraClassPath", "loads code"),
        ("spark.pyspark.python", "loads code"),
        ("spark.plugins", "loads code"),
        ("spark.hadoop.fs.s3a.secret.key", "holds a credential"),
        ("spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net", "holds a credential"),
    ],
)
def test_spark_conf_from_config_cannot_load_code_or_hold_credentials(repo_root, key, why):
    with pytest.raises(ConfigError, match=re.escape(why)):
        load_config(repo_root / "conf", environ={}, overrides={"spark": {"conf": {key: "x"}}})


def test_spark_tuning_settings_and_jars_dir_are_accepted_and_jars_dir_validated(repo_root):
    cfg = load_config(
        repo_root / "conf", environ={}, overrides={"spark": {"conf": {"spark.sql.shuffle.partitions": "4"}}}
    )
    assert cfg.spark.conf == {"spark.sql.shuffle.partitions": "4"}
    with pytest.raises(ConfigError, match="spark.jars_dir"):
        load_config(repo_root / "conf", environ={"SKUPLAN__SPARK__JARS_DIR": "../elsewhere"})


# --- 6. CLI output folders; quarantine payloads --------------------------------------------------------


@pytest.mark.parametrize("command", ["generate-sample", "demo"])
def test_cli_output_folders_are_checked_before_anything_is_deleted(tmp_path, capsys, command):
    from skuplan.cli import EXIT_BAD_INPUT, main

    flag = "--out" if command == "generate-sample" else "--sample-dir"
    keep = tmp_path / "sales" / "notes.txt"  # a folder named like a sample table, holding someone's file
    keep.parent.mkdir()
    keep.write_text("not a sample", encoding="utf-8")
    assert main([command, flag, str(tmp_path)]) == EXIT_BAD_INPUT
    assert keep.exists() and "notes.txt" in capsys.readouterr().err
    for bad in ("../x", "out;rm -rf ~", "file:.."):
        assert main([command, flag, bad]) == EXIT_BAD_INPUT
    assert main(["report", "--run-date", "2026-01-01", "--out", "../report.html"]) == EXIT_BAD_INPUT


def test_cli_output_folder_holding_a_previous_sample_is_replaced(tmp_path):
    from skuplan.cli import EXIT_OK, main

    args = ["generate-sample", "--out", str(tmp_path), "--items", "2", "--regions", "1", "--dcs", "1"]
    assert main(args) == EXIT_OK
    assert main([*args, "--format", "csv"]) == EXIT_OK  # parquet and csv files of a sample may be replaced


def test_quarantine_payload_fields_are_capped_with_a_marker(spark):
    from pyspark.sql import types as T

    from skuplan.config import QualityConfig
    from skuplan.io import conform_columns
    from skuplan.quality import PAYLOAD_FIELD_CHARS, validate_table

    huge = "9" * 3 + "x" * 9_997  # 10,000 characters of garbage in a numeric column
    text = T.StructType(
        [T.StructField(c, T.StringType()) for c in ("item_id", "region_id", "date", "units", "channel")]
    )
    raw = conform_columns(spark.createDataFrame([("A", "R1", "2024-01-05", huge, "web")], text), "sales")
    (row,) = validate_table(raw, "sales", dt.date(2024, 2, 1), QualityConfig()).quarantine.collect()
    payload = json.loads(row.payload)  # still valid JSON: each field is cut, not the document
    assert payload["units"] == huge[:PAYLOAD_FIELD_CHARS] + f"…[+{len(huge) - PAYLOAD_FIELD_CHARS} chars]"
    assert payload["item_id"] == "A" and row.reason_code is not None
