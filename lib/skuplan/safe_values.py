"""Checks of the values that reach storage, Spark or a log from config, the environment or the command line.

Three rules (issue 19), Spark-free:
- a path is ASCII from a short allow-list, has no `..` segment (also after a scheme: `file:..`) and carries no
  credential (`s3a://<key>:<secret>@bucket`, `password=` / `sig=` parameters): credentials belong to the cluster;
- an error message never repeats a value that may be a secret (the key says so) or that is long: the key and
  the value's type and length are enough to find it in the file;
- spark.conf from skuplan config tunes Spark, it does not load code, start programs or carry credentials (the
  trust boundary in README's Security section).
"""

from __future__ import annotations

import re
from pathlib import Path

# Spaces are allowed inside a path (exports live in "Sales Reports/2024"), never at its ends (a typo).
# re.ASCII: without it \w and [A-Za-z] checks let full-width and other Unicode letters through.
_SAFE_PATH = re.compile(r"[A-Za-z0-9_ ./:@+=-]+", re.ASCII)
ALLOWED_PATH_CHARS = "A-Z a-z 0-9 space _ . / : @ + = -"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# scheme://user:<password>@host: a password in the authority part (abfss://container@account has no colon).
_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", re.IGNORECASE)
# Query or JDBC parameters that carry a credential (password=..., Azure AccountKey=... and SAS sig=...).
_CREDENTIAL_PARAM = re.compile(
    r"(?:^|[;?&/:])\s*(?:password|passwd|pwd|secret|token|sig|accountkey|sharedaccesskey|access_?key)\s*=",
    re.I,
)
CREDENTIALS_BELONG = (
    "credentials belong to the cluster, never in skuplan config or a path: an instance profile, service "
    "principal or Unity Catalog external location, or spark.hadoop.fs.* settings in the cluster's Spark config "
    "read from a secret scope ({{secrets/<scope>/<key>}}), or the environment (e.g. AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY)"
)
# Longest value an error message repeats; a longer one is described by its type and length only.
MAX_SHOWN_CHARS = 16
# A key whose value may be a secret (any dotted part matching): its value is never shown.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|credential|auth|sas|sig|cert|private|conf", re.I)

# Spark settings that load code or start programs: set where the job is deployed (spark-submit, the cluster's
# Spark config), which the deployer controls, never from skuplan config or SKUPLAN__ environment variables.
_CODE_LOADING_CONF = re.compile(
    r"spark\.(?:jars(?:\..+)?|files|archives|submit\.pyfiles|pyspark\..+|plugins|executor\.plugins"
    r"|(?:driver|executor|yarn\.am)\.(?:extra|default)\w*|yarn\.dist\..+|kubernetes\..*podtemplatefile"
    r"|(?:driver|executor|worker)\.resource\..+\.discoveryscript|python\.(?:daemon|worker)\.module|sql\.extensions)",
    re.I,
)
_CREDENTIAL_CONF = re.compile(
    r"secret|password|token|credential|account\.key|access\.key|\.sas\.|oauth2", re.I
)


class UnsafeValue(ValueError):
    """A value from config or the command line that is refused: the message names where it came from."""


def may_hold_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def hidden(value: object, key: str = "") -> bool:
    """Whether an error message must not show value: its key may hold a secret, or it is long or a credential."""
    text = value if isinstance(value, str) else repr(value)
    return may_hold_secret(key) or len(text) > MAX_SHOWN_CHARS or credential_in(text) is not None


def describe(value: object, key: str = "") -> str:
    """How an error message shows a value: repr when short and under a harmless key, else type and length."""
    text = value if isinstance(value, str) else repr(value)
    if hidden(value, key):
        size = f", {len(text)} characters" if isinstance(value, str) else ""
        return f"a {type(value).__name__}{size}, not shown"
    return repr(value)


def redact(message: str, value: object) -> str:
    """message with every copy of value (as given, and its repr) replaced: for messages built elsewhere."""
    if not isinstance(value, str) or len(value) < 3:
        return message
    for text in (repr(value), value):
        message = message.replace(text, "<value not shown>")
    return message


def credential_in(value: str) -> str | None:
    """What credential a path or URI carries, or None."""
    if _USERINFO.match(value):
        return "a user:password@ part"
    if _CREDENTIAL_PARAM.search(value):
        return "a credential parameter (password=, sig=, AccountKey=, ...)"
    return None


def validate_path(value: str, key: str) -> str:
    """Reject credentials, odd characters and path traversal in a storage path taken from config or the CLI."""
    if not isinstance(value, str) or not value.strip():
        raise UnsafeValue(f"{key} must be a non-empty path")
    found = credential_in(value)
    if found:
        raise UnsafeValue(f"{key} holds {found} (value not shown): remove it; {CREDENTIALS_BELONG}")
    rest = _SCHEME.sub("", value)
    # fullmatch, not match: `$` also matches before a trailing newline.
    if not _SAFE_PATH.fullmatch(rest):
        bad = next(c for c in rest if not _SAFE_PATH.fullmatch(c))
        raise UnsafeValue(
            f"{key} has the character {bad!r} (U+{ord(bad):04X}) at position {value.index(bad)}: "
            f"a path may hold only {ALLOWED_PATH_CHARS} (got {describe(value, key)})"
        )
    if value != value.strip(" "):
        raise UnsafeValue(f"{key} starts or ends with a space: remove it (spaces inside a path are fine)")
    # Split at ':' too: `file:..` and `dbfs:..` name the parent folder just as `../` does.
    if ".." in re.split(r"[/:]", rest):
        raise UnsafeValue(
            f"{key} must not contain a '..' segment (path traversal; got {describe(value, key)})"
        )
    return value


def check_spark_conf(conf: dict[str, str]) -> dict[str, str]:
    """spark.conf from skuplan config: refuse settings that load code, start programs or hold credentials."""
    for name in conf:
        if _CODE_LOADING_CONF.fullmatch(name):
            raise UnsafeValue(
                f"spark.conf.{name} loads code or starts a program, which skuplan config may not do: "
                "set it where the job is deployed (spark-submit arguments or the cluster's Spark "
                "config); see README, Security"
            )
        if _CREDENTIAL_CONF.search(name):
            raise UnsafeValue(f"spark.conf.{name} holds a credential (value not shown): {CREDENTIALS_BELONG}")
    return conf


# What generate_sample writes in each table folder: the only files --out / --sample-dir may replace.
_SAMPLE_FILE = re.compile(r"(?:part-\d+|[a-z_]+)(?:\.\w+)?\.(?:parquet|csv)|_SUCCESS|\..*\.crc", re.ASCII)


def check_output_folder(value: str, flag: str, tables: tuple[str, ...]) -> Path:
    """A CLI output folder whose table subfolders are about to be replaced (rmtree): checked before any delete.

    Besides validate_path's rules, each existing <folder>/<table> must hold only files the sample generator
    writes, so a mistyped --out (a home folder, a project) never loses anything else."""
    validate_path(value, flag)
    out = Path(value)
    for table in tables:
        folder = out / table
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise UnsafeValue(
                f"{flag} {value}: {folder} is not a folder the sample generator wrote; "
                f"choose an empty folder or a previous sample for {flag}"
            )
        if not folder.is_dir():
            continue
        foreign = sorted(
            p.name for p in folder.iterdir() if not (p.is_file() and _SAMPLE_FILE.fullmatch(p.name))
        )
        if foreign:
            raise UnsafeValue(
                f"{flag} {value}: {folder} holds {', '.join(foreign[:3])}"
                f"{' ...' if len(foreign) > 3 else ''}, which the sample generator did not write; "
                f"nothing was deleted: choose an empty folder or a previous sample for {flag}"
            )
    return out
