"""Credential scanner over every file git tracks (and new files it does not ignore): tests/test_security.py.

Run alone: `.venv/bin/python tests/secret_scan.py` (exit 1 and one line per finding). A finding names the file,
line, column, kind and length, never any part of the secret. A value that refers to a secret instead of holding
one (${VAR}, {{secrets/...}}, <placeholder>, os.environ[...], dbutils.secrets...) is not reported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Binary or generated files: the patterns are text.
SKIPPED_SUFFIXES = (".pyc", ".whl", ".tar.gz", ".jar", ".parquet", ".png", ".jpg", ".gz", ".zip")

_KEYWORD = r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key|credential)[\w.-]*"
# A value that refers to a secret instead of holding one: env/bundle variable, Databricks secret reference,
# placeholder, environment lookup.
_REFERENCE = re.compile(
    r"^(\$\{?|\{\{|<|%\(|os\.environ|os\.getenv|dbutils\.secrets|env\.|null$|none$|~$)", re.I
)
_NOT_REF = r"(?![$%{<])"  # the value does not start like a reference
_B64 = r"[A-Za-z0-9+/]"

PATTERNS: dict[str, re.Pattern[str]] = {
    "AWS access key id": re.compile(
        r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])"
    ),
    "private key block": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "Databricks token": re.compile(r"(?<![A-Za-z0-9])dapi[0-9a-f]{32}(?:-\d+)?(?![0-9a-f])"),
    "GitHub token": re.compile(
        r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"
    ),
    "Slack token": re.compile(
        r"(?<![A-Za-z0-9])(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})"
    ),
    "Slack webhook": re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}"),
    "Google API key": re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    "Azure storage account key": re.compile(rf"AccountKey\s*=\s*{_NOT_REF}{_B64}{{20,}}=*", re.I),
    "Azure account key setting": re.compile(
        rf"fs\.azure\.account\.key\.[\w.-]+['\"]?\s*[:=\s,]\s*['\"]?{_NOT_REF}{_B64}{{20,}}=*"
    ),
    "Azure SAS signature": re.compile(r"[?&;]sig=(?:[A-Za-z0-9+/=]|%[0-9A-Fa-f]{2}){16,}"),
    "password in a JDBC URL": re.compile(
        rf"jdbc:[a-z0-9:]+[^\s'\"]*?[;?&:](?:password|pwd)\s*=\s*{_NOT_REF}[^;&\s'\"]{{3,}}", re.I
    ),
    "Bearer token": re.compile(rf"\bBearer\s+{_NOT_REF}[A-Za-z0-9._~+/-]{{20,}}=*"),
    # scheme://user:<password>@host (the password not a ${VAR} or {{secrets/...}} reference)
    "credentials in a URL": re.compile(
        rf"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:{_NOT_REF}[^\s/@'\"]+@[\w.-]+", re.I
    ),
}
# key: value / key = "value" / "key": "value" (YAML, Python, JSON, TOML, shell), value a literal.
ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?:^|[\s{{,(\["'])                 # start of line or of a mapping / call / list
    ["']?(?P<key>{_KEYWORD})["']?     # the key, maybe quoted
    \s*(?::=|:(?!:)|=(?!=))\s*         # YAML / JSON, Python / TOML / shell; not == (a pin)
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s#,)}}\]]+)
    """
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    kind: str
    length: int  # of the match: with line and column, enough to find it; no character of it is kept

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.kind} ({self.length} characters, not shown)"


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
                findings.append(Finding(path, lineno, m.start() + 1, kind, len(m.group(0))))
        for m in ASSIGNMENT.finditer(line):
            if _literal_assignment(m, suffix):
                # The key name is not secret (and tells what to move to a secret scope); the value is.
                kind = f"literal value for {m.group('key')!r}"
                findings.append(Finding(path, lineno, m.start("value") + 1, kind, len(m.group("value"))))
    return findings


def project_files(root: Path = REPO) -> list[Path]:
    """Every file git tracks, plus new files it does not ignore (what the next commit could add)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    paths = sorted({root / name for name in listed if name})
    return [p for p in paths if p.is_file() and not p.name.endswith(SKIPPED_SUFFIXES)]


def scan_files(paths: list[Path], root: Path = REPO) -> list[Finding]:
    findings = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: the patterns above are text
        findings += scan_text(text, str(path.relative_to(root)))
    return findings


if __name__ == "__main__":
    found = scan_files(project_files())
    print("\n".join(map(str, found)) or "no credentials found", file=sys.stderr if found else sys.stdout)
    sys.exit(1 if found else 0)
