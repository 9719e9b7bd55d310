"""Security checks (issue #7 item 6).

1. No secrets in code or config: a scanner over the project's files for credential patterns (cloud access
   keys, private key blocks, Databricks/GitHub tokens, password/secret/token assignments with literal
   values, connection strings carrying user:password@). Credentials come only from the environment or a
   secret scope. The scanner is tested on planted fakes first, so a pass on the repo means something.
2. Paths and table names from config are validated: no `..` segments, no characters outside a safe set
   (`;`, backticks, quotes, `$`, newlines; spaces only inside a path), wherever the value comes from (YAML, env).
   Already covered elsewhere, not repeated here: `..` in inputs.root (test_bad_inputs.py
   test_path_traversal_rejected) and relative output roots (test_io.py test_relative_output_root_works).
3. No customer identifiers in outputs: the UCI ingest keeps only the sales contract's columns, and the
   quarantine payload (the one output that holds raw rows) carries no CustomerID; asserted on the real file
   by test_uci_ingest.py::test_quarantine_payload_has_no_customer_identifiers, not duplicated here. The
   contract check below (no customer-like input column) runs without the data set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from skuplan.config import ConfigError, load_config, validate_path

REPO = Path(__file__).resolve().parents[1]
# The project's own files (tests/ is left out: it holds the planted fakes, built at run time anyway).
SCANNED = ("lib", "jobs", "conf", "deploy", "bench", "notebooks", "scripts", ".ci",
           "Makefile", "pyproject.toml", "README.md", ".gitignore")
# Generated or git-ignored things inside those folders.
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc", ".egg-info", ".whl", ".tar.gz", ".jar", ".parquet", ".png", ".jpg")

_KEYWORD = r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key|credential)[\w.-]*"
# A value that refers to a secret instead of holding one: env/bundle variable, Databricks secret reference,
# placeholder, environment lookup.
_REFERENCE = re.compile(r"^(\$\{?|\{\{|<|%\(|os\.environ|os\.getenv|dbutils\.secrets|env\.|null$|none$|~$)", re.I)

PATTERNS: dict[str, re.Pattern[str]] = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "private key block": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "Databricks token": re.compile(r"(?<![A-Za-z0-9])dapi[0-9a-f]{32}(?:-\d+)?(?![0-9a-f])"),
    "GitHub token": re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{36,}"),
    "Slack token": re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"),
    # scheme://user:password@host (password not a ${VAR} or {{secrets/...}} reference)
    "credentials in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?![$%{<])[^\s/@'\"]+@[\w.-]+", re.I),
}
# key: value / key = "value" / "key": "value" (YAML, Python, JSON, TOML, shell), value a literal.
ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?:^|[\s{{,(\["'])                 # start of line or of a mapping / call / list
    ["']?(?P<key>{_KEYWORD})["']?     # the key, maybe quoted
    \s*(?::|=|:=)\s*                  # YAML / JSON, Python / TOML / shell
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s#,)}}\]]+)
    """
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    excerpt: str  # masked: a report must not leak the secret again

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def _mask(text: str) -> str:
    text = text.strip()
    return text[:12] + "…" if len(text) > 12 else text


def _literal_assignment(match: re.Match[str], suffix: str) -> bool:
    value = match.group("value")
    quoted = value[:1] in "\"'"
    value = value.strip("\"'").strip()
    if len(value) < 4 or _REFERENCE.match(value):
        return False
    if suffix == ".py" and not quoted:
        return False  # `token = next_token()`, `password=args.password`: code, not a literal
    # An identifier-like unquoted YAML value can still be a secret; a type annotation or a call cannot.
    return not re.match(r"^(str|int|bool|dict|list|None|True|False)\b", value)


def scan_text(text: str, path: str = "<text>") -> list[Finding]:
    suffix = Path(path).suffix.lower()
    findings = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            for m in pattern.finditer(line):
                findings.append(Finding(path, lineno, kind, _mask(m.group(0))))
        for m in ASSIGNMENT.finditer(line):
            if _literal_assignment(m, suffix):
                findings.append(Finding(path, lineno, f"literal value for {m.group('key')!r}", _mask(m.group(0))))
    return findings


def project_files(root: Path = REPO) -> list[Path]:
    files = []
    for name in SCANNED:
        top = root / name
        candidates = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in candidates:
            rel = path.relative_to(root)
            if SKIPPED_PARTS & set(rel.parts) or any(part.endswith(SKIPPED_SUFFIXES) for part in rel.parts):
                continue
            files.append(path)
    return files


def scan_files(paths: list[Path], root: Path = REPO) -> list[Finding]:
    findings = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: the patterns above are text
        findings += scan_text(text, str(path.relative_to(root)))
    return findings


# Planted fakes, assembled at run time so that no file in the repository spells one out.
FAKES = {
    "AWS access key id": "aws_key_id = " + repr("AKIA" + "IOSFODNN7EXAMPLE"),
    "private key block": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "Databricks token": "host_token_for_ci " + "dapi" + "0123456789abcdef" * 2,
    "GitHub token": "gh" + "p_" + "A1b2C3d4E5" * 4,
    "credentials in a URL": "url: postgresql://" + "etl_user:" + "hunter2secret@db.internal:5432/sales",
}
FAKE_ASSIGNMENTS = {
    "conf.yaml": ["pass" + "word: s3cr3t-value", "  client_secret: 'abcd1234efgh'", "api_key: AbCdEf123456",
                  "spark.hadoop.fs.s3a.secret.key: wJalrXUtnFEMI"],
    "job.py": ['DB_PASSWORD = "correct-horse"', 'connect(token="abcdef123456")', "{'access_key': 'XYZ12345'}"],
    "run.sh": ["export DATABRICKS_TOKEN=abcdef0123456789"],
}
# Things that name a credential without holding one: must not be reported.
CLEAN = {
    "conf.yaml": ["password: ${DB_PASSWORD}", "token: '{{secrets/skuplan/token}}'", "secret: null",
                  "# No credentials here: storage credentials come from the cluster (secret scope, env)",
                  "client_secret: <from the secret scope>", "url: s3a://bucket/path@v1"],
    "job.py": ["password = os.environ['DB_PASSWORD']", "token = dbutils.secrets.get('skuplan', 'token')",
               "def f(token: str) -> None:", "password=args.password", "url = f'jdbc://{user}:{pw}@{host}'"],
}


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_scanner_finds_each_planted_credential(tmp_path, kind):
    planted = tmp_path / "conf" / "leak.yaml"
    planted.parent.mkdir()
    planted.write_text(f"inputs:\n  root: data\n# {kind}\n{FAKES[kind]}\n", encoding="utf-8")
    findings = scan_files(project_files(tmp_path), tmp_path)
    assert [f.kind for f in findings if f.kind == kind], f"{kind} not found in {planted}: {findings}"
    assert all(f.path == "conf/leak.yaml" and f.line >= 4 for f in findings), findings
    secret_tail = FAKES[kind][-8:]
    assert not any(secret_tail in str(f) for f in findings), "the report must mask what it found"


@pytest.mark.parametrize(("name", "line"), [(n, line) for n, lines in FAKE_ASSIGNMENTS.items() for line in lines])
def test_scanner_finds_literal_credential_assignments(name, line):
    assert scan_text(line, name), f"{name}: {line!r} not reported"


@pytest.mark.parametrize(("name", "line"), [(n, line) for n, lines in CLEAN.items() for line in lines])
def test_scanner_lets_references_to_secrets_pass(name, line):
    assert not scan_text(line, name), scan_text(line, name)


def test_no_credentials_in_the_project_files():
    files = project_files()
    scanned = {str(p.relative_to(REPO)) for p in files}
    # Guard against a scanner that silently scans nothing.
    expected = {"conf/base/skuplan.yaml", "deploy/databricks.yml", "deploy/spark_submit.sh", "lib/skuplan/config.py",
                "jobs/plan.py", "Makefile", "pyproject.toml", "README.md", "notebooks/explore.ipynb"}
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
    ],
)
def test_validate_path_rejects(value):
    with pytest.raises(ValueError):
        validate_path(value, "outputs.root")


@pytest.mark.parametrize(
    "value",
    ["output/delta", "/Volumes/main/skuplan_dev/delta", "s3a://bucket/skuplan/delta", "dbfs:/mnt/skuplan",
     "abfss://container@account.dfs.core.windows.net/skuplan", "file:///tmp/skuplan", "gs://b/p-1/v=2",
     "data/..hidden/x", "data/x..y", "out dir", "/Volumes/main/raw/Sales Reports 2024/sales.csv",
     "s3a://bucket/Sales Exports/2024"],
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
    cfg = load_config(repo_root / "conf", environ={}, overrides={
        "inputs": {"root": "s3a://bucket/in", "sales": {"path": "/Volumes/main/raw/sales"},
                   "items": {"path": "abfss://c@a.dfs.core.windows.net/items"}},
    })
    assert cfg.inputs.location("sales") == "/Volumes/main/raw/sales"
    assert cfg.inputs.location("items") == "abfss://c@a.dfs.core.windows.net/items"
    assert cfg.inputs.location("lanes") == "s3a://bucket/in/lanes"
    with pytest.raises(ConfigError, match="inputs.sales.path"):
        load_config(repo_root / "conf", environ={}, overrides={"inputs": {"sales": {"path": "/Volumes/../etc"}}})


@pytest.mark.parametrize(
    "name", ["forecasts; DROP TABLE runs", "forecasts`", "`runs`", "../runs", "runs/../x", "a.b", "Runs", "", "x" * 64]
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
