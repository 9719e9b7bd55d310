"""Typed configuration: conf/base/*.yaml, then conf/local/*.yaml, then extra files, then environment.

Parsed once into pydantic models; every error names the dotted key and what is allowed.
No Spark import here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skuplan import input_formats
from skuplan.allocation.config import AllocationConfig
from skuplan.forecast.config import ForecastConfig
from skuplan.inventory.config import InventoryConfig
from skuplan.ops_config import OPERATIONAL_SECTIONS, LoggingConfig, MaintenanceConfig, TrackingConfig
from skuplan.safe_values import check_spark_conf, describe, hidden, redact, validate_path  # noqa: F401 (API)
from skuplan.stream.config import StreamConfig

ENV_PREFIX = "SKUPLAN__"
INPUT_TABLES = ("sales", "items", "inventory", "dc_stock", "lanes", "events", "plans")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class ConfigError(ValueError):
    """Bad configuration: the message names the key and the fix."""


# Catalog and schema names from config; always backtick-quoted in SQL (UC allows "-" in a quoted name).
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$")


def check_identifier(value: str, key: str, *, table: bool = False) -> str:
    """The one check of a catalog, schema or table name (skuplan.tables uses it for every table it resolves):
    raise ValueError naming `key` and what is allowed. fullmatch: `$` alone lets a trailing newline through."""
    pattern = _TABLE_NAME if table else _NAMESPACE
    if not isinstance(value, str) or not pattern.fullmatch(value):
        what = "a lowercase identifier" if table else "a catalog or schema name"
        raise ValueError(f"{key} must be {what} matching {pattern.pattern} (letters, digits, _"
                         f"{'' if table else ', -'}), got {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputTable(_Strict):
    path: str
    format: Literal["parquet", "delta", "csv"] = "parquet"
    required: bool = True
    # CSV only (null: the default): the layout of a spreadsheet export, so that it needs no re-export. The text is
    # still read as text, so a value that does not parse under these settings reaches quarantine as written.
    sep: str | None = None  # "," ; e.g. ";" or "\t"
    decimal: Literal[".", ","] | None = None  # "." ; "," reads 1,5 as 1.5 (and 1.234,5 as unparseable)
    date_format: str | None = None  # yyyy-MM-dd ; a Spark date pattern such as dd/MM/yyyy or d.M.yyyy
    encoding: str | None = None  # utf-8 (a BOM is skipped) ; cp1252 / windows-1252, latin-1

    @field_validator("path")
    @classmethod
    def _safe(cls, v: str) -> str:
        return validate_path(v, "path")

    @field_validator("sep")
    @classmethod
    def _sep(cls, v: str | None) -> str | None:
        return None if v is None else input_formats.check_sep(v)

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, v: str | None) -> str | None:
        return None if v is None else input_formats.check_date_format(v)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str | None) -> str | None:
        return None if v is None else input_formats.check_encoding(v)

    @model_validator(mode="after")
    def _csv_options(self) -> InputTable:
        given = [k for k in ("sep", "decimal", "date_format", "encoding") if getattr(self, k) is not None]
        if given and self.format != "csv":
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{', '.join(given)} {verb} to format: csv only (this input's format is {self.format}); "
                             "remove it or set format: csv")
        sep = self.sep or input_formats.CSV_DEFAULTS["sep"]
        if sep == self.decimal:
            raise ValueError(f"sep and decimal are both {sep!r} (sep defaults to ','): a decimal comma needs another "
                             "separator, e.g. sep: ';'")
        return self


class InputsConfig(_Strict):
    root: str = "sample_data"
    # Validate only the sales rows dated after the last night's cutoff and merge them into the sales_history table
    # (skuplan.incremental); false: every night validates the whole sales input (as `--full-refresh` does).
    incremental: bool = True
    sales: InputTable = InputTable(path="sales")
    items: InputTable = InputTable(path="items")
    inventory: InputTable = InputTable(path="inventory")
    dc_stock: InputTable = InputTable(path="dc_stock")
    lanes: InputTable = InputTable(path="lanes")
    events: InputTable = InputTable(path="events", required=False)
    # Planned price / promotion / event per item x region x day (skuplan.plans); absent: no plan, as before.
    plans: InputTable = InputTable(path="plans", required=False)

    @field_validator("root")
    @classmethod
    def _safe_root(cls, v: str) -> str:
        return validate_path(v, "inputs.root")

    def location(self, table: str) -> str:
        spec: InputTable = getattr(self, table)
        if _SCHEME.match(spec.path) or spec.path.startswith("/"):
            return spec.path
        return f"{self.root.rstrip('/')}/{spec.path}"


class OutputsConfig(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    root: str = "output/delta"
    # Tables by name (Unity Catalog): with schema set, every table is catalog.schema.table (catalog optional: the
    # session's current one) and root is not used; null = Delta folders under root (skuplan.tables).
    catalog: str | None = None
    schema_: str | None = Field(None, alias="schema")  # "schema" would shadow a pydantic BaseModel attribute
    # Files per run_date partition: small tables are coalesced so a nightly run never leaves
    # thousands of tiny files behind.
    max_files_per_partition: int = Field(4, ge=1, le=1000)
    # Tables of one stage committed at the same time (threads; 1 = one after another). Outputs are the same.
    parallel_writes: int = Field(4, ge=1, le=32)

    @field_validator("root")
    @classmethod
    def _safe_root(cls, v: str) -> str:
        return validate_path(v, "outputs.root")

    @field_validator("catalog", "schema_")
    @classmethod
    def _safe_name(cls, v: str | None, info) -> str | None:
        return None if v is None else check_identifier(v, f"outputs.{info.field_name.rstrip('_')}")

    @model_validator(mode="after")
    def _catalog_needs_schema(self) -> OutputsConfig:
        if self.catalog and not self.schema_:
            raise ValueError("outputs.catalog is set without outputs.schema: set both (tables are "
                             "catalog.schema.table), or neither for Delta folders under outputs.root")
        return self


class SparkConfig(_Strict):
    master: str = "local[2]"
    app_name: str = "skuplan"
    shuffle_partitions: int = Field(8, ge=1)
    # Once the sales rows are counted, shuffles use at least rows / this many partitions, so that a task's
    # share of a join or aggregation stays bounded as history grows (a fixed count runs out of heap at
    # scale). null keeps shuffle_partitions as given (e.g. a cluster tuned by hand).
    rows_per_shuffle_partition: int | None = Field(1_000_000, ge=10_000)
    jars_dir: str | None = ".cache/jars"
    # Vectorized models fit this many series per pandas call: large enough to amortize Spark's
    # per-call overhead, small enough to bound a task's memory.
    series_per_bucket: int = Field(1000, ge=1, le=1_000_000)
    # Tuning only: settings that load code, start programs or hold credentials are refused (safe_values).
    conf: dict[str, str] = {}

    @field_validator("jars_dir")
    @classmethod
    def _safe_jars_dir(cls, v: str | None) -> str | None:
        return None if v is None else validate_path(v, "spark.jars_dir")

    @field_validator("conf")
    @classmethod
    def _tuning_only(cls, v: dict[str, str]) -> dict[str, str]:
        return check_spark_conf(v)


class QualityConfig(_Strict):
    # Negative units are returns: quarantine them (default) or net them against the day's sales.
    returns: Literal["quarantine", "net"] = "quarantine"
    max_quarantine_ratio: float = Field(0.05, ge=0.0, le=1.0)
    # Units above this multiple of the series' median non-zero sale are flagged, never dropped.
    outlier_factor: float = Field(50.0, gt=1.0)
    # Time zone whose calendar day an instant belongs to: a timestamp with no zone of its own or in UTC (Spark/Delta
    # TIMESTAMP, INT96, pyarrow tz=UTC). Text, naive timestamps and timestamps with their own zone keep the day
    # their writer meant (the rule: skuplan.input_formats).
    business_timezone: str = "UTC"
    # A sales export with no accepted row fails the run at validate (fail), or is a legal night without sales
    # (keep_previous: the run ends after validate, writes no table, and the previous plans stay in force).
    empty_sales: Literal["fail", "keep_previous"] = "fail"
    # Freshness, in days (skuplan.input_guards): the last accepted sale vs the history cutoff (run_date - 1; 0 =
    # complete) and the oldest inventory as_of_date vs run_date (1 = counted at the close of the cutoff day).
    # Above max_* the run warns; above *_fail_days (null: never) it fails at validate, because missing days
    # would be planned as zero sales and old stock as today's.
    max_sales_lag_days: int = Field(1, ge=0)
    sales_lag_fail_days: int | None = Field(3, ge=0)
    max_inventory_age_days: int = Field(1, ge=0)
    inventory_age_fail_days: int | None = Field(7, ge=0)

    @model_validator(mode="after")
    def _fail_after_warn(self) -> QualityConfig:
        for warn, fail in (("max_sales_lag_days", "sales_lag_fail_days"),
                           ("max_inventory_age_days", "inventory_age_fail_days")):
            if getattr(self, fail) is not None and getattr(self, fail) < getattr(self, warn):
                raise ValueError(f"quality.{fail} ({getattr(self, fail)}) must be >= quality.{warn} "
                                 f"({getattr(self, warn)}): a run fails only past the limit it warns at")
        return self

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"business_timezone must be an IANA zone such as 'UTC' or 'Asia/Shanghai', got {v!r}") from None
        return v


class Config(_Strict):
    inputs: InputsConfig = InputsConfig()
    outputs: OutputsConfig = OutputsConfig()
    spark: SparkConfig = SparkConfig()
    quality: QualityConfig = QualityConfig()
    forecast: ForecastConfig = ForecastConfig()
    inventory: InventoryConfig = InventoryConfig()
    allocation: AllocationConfig = AllocationConfig()
    stream: StreamConfig = StreamConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    tracking: TrackingConfig = TrackingConfig()
    logging: LoggingConfig = LoggingConfig()

    def fingerprint(self) -> str:
        """Stable hash of the effective config, stored with every run for audit. Leaves out the operational
        sections (skuplan.ops_config): they change no output, so switching one neither blocks a resume nor
        changes the hash of a config written before they existed."""
        blob = json.dumps(self.model_dump(mode="json", exclude=set(OPERATIONAL_SECTIONS)), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path, origin: str = "config file") -> dict:
    """One YAML layer; a file that is missing or unreadable is a ConfigError (exit 2) naming it and the fix, not a
    traceback. `origin` says where the path came from (--conf-file or the conf folder)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{origin} {path} not found (relative paths start at {Path.cwd()}): "
                          "pass the path of an existing YAML file") from None
    except IsADirectoryError:
        raise ConfigError(f"{origin} {path} is a folder, not a YAML file: pass a .yaml file "
                          "(a folder holding base/ and local/ goes to --conf)") from None
    except OSError as exc:
        raise ConfigError(f"{origin} {path} cannot be read ({exc.strerror or type(exc).__name__}): "
                          "make it readable by the user running skuplan") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{origin} {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        # The problem and its position only: str(exc) quotes the offending line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where} ({getattr(exc, 'problem', None) or type(exc).__name__})"
                          ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _env_overrides(environ: dict[str, str]) -> dict:
    """SKUPLAN__FORECAST__HORIZON_DAYS=14 -> {"forecast": {"horizon_days": 14}} (YAML-parsed value)."""
    out: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        try:  # safe_load: plain YAML values only, a !!python/... tag is an error, never an object
            node[keys[-1]] = yaml.safe_load(environ[name])
        except yaml.YAMLError as exc:
            # A lone "," or ";" is YAML syntax too: say how to pass it as text.
            raise ConfigError(f"environment variable {name}: not a plain YAML value ({exc.__class__.__name__}); "
                              f"quote text that YAML reads as syntax, e.g. {name}='\",\"'") from None
    return out


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        # Never the value of a key that may hold a secret, nor a long one (stderr is the job log): type and key.
        shown = "" if isinstance(got, dict) else f" (got {describe(got, key)})"
        msg = redact(err["msg"], got) if hidden(got, key) else err["msg"]  # a validator may quote the value too
        lines.append(f"config key {key}: {msg}{shown}")
    return "; ".join(lines)


def _check_conf_dir(conf_dir: Path) -> None:
    if conf_dir.is_file():
        raise ConfigError(f"--conf {conf_dir} is a file: --conf takes the folder holding base/ and local/; "
                          "pass a single YAML file with --conf-file")
    if not (conf_dir / "base").is_dir():
        raise ConfigError(f"config folder {conf_dir / 'base'} not found: pass --conf pointing at a conf/ folder")
    for layer in ("base", "local"):
        folder = conf_dir / layer
        # Without read permission glob() finds nothing and the defaults would apply silently.
        if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
            raise ConfigError(f"config folder {folder} cannot be read: make it readable by the user running skuplan")


def load_config(
    conf_dir: str | Path = "conf",
    extra_files: list[str | Path] | None = None,
    overrides: dict | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Merge conf/base, conf/local, extra files, env and explicit overrides, in that order."""
    conf_dir = Path(conf_dir)
    _check_conf_dir(conf_dir)
    merged: dict = {}
    for layer in ("base", "local"):
        for path in sorted((conf_dir / layer).glob("*.yaml")) if (conf_dir / layer).is_dir() else []:
            merged = _deep_merge(merged, _read_yaml(path, "config file"))
    for path in extra_files or []:
        merged = _deep_merge(merged, _read_yaml(Path(path), "--conf-file"))
    merged = _deep_merge(merged, _env_overrides(dict(os.environ if environ is None else environ)))
    merged = _deep_merge(merged, overrides or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
