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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skuplan.allocation.config import AllocationConfig
from skuplan.forecast.config import ForecastConfig
from skuplan.inventory.config import InventoryConfig

ENV_PREFIX = "SKUPLAN__"
INPUT_TABLES = ("sales", "items", "inventory", "dc_stock", "lanes", "events")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SAFE_PATH = re.compile(r"^[\w./:@+=-]+$")


class ConfigError(ValueError):
    """Bad configuration: the message names the key and the fix."""


def validate_path(value: str, key: str) -> str:
    """Reject path traversal and odd characters in a storage path taken from config."""
    if not value or not value.strip():
        raise ValueError(f"{key} must be a non-empty path")
    rest = _SCHEME.sub("", value)
    # fullmatch, not match: `$` also matches before a trailing newline.
    if not _SAFE_PATH.fullmatch(rest):
        raise ValueError(f"{key} has characters outside [A-Za-z0-9_./:@+=-]: {value!r}")
    if ".." in rest.split("/"):
        raise ValueError(f"{key} must not contain '..' (path traversal): {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputTable(_Strict):
    path: str
    format: Literal["parquet", "delta", "csv"] = "parquet"
    required: bool = True

    @field_validator("path")
    @classmethod
    def _safe(cls, v: str) -> str:
        return validate_path(v, "path")


class InputsConfig(_Strict):
    root: str = "sample_data"
    sales: InputTable = InputTable(path="sales")
    items: InputTable = InputTable(path="items")
    inventory: InputTable = InputTable(path="inventory")
    dc_stock: InputTable = InputTable(path="dc_stock")
    lanes: InputTable = InputTable(path="lanes")
    events: InputTable = InputTable(path="events", required=False)

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
    root: str = "output/delta"
    # Files per run_date partition: small tables are coalesced so a nightly run never leaves
    # thousands of tiny files behind.
    max_files_per_partition: int = Field(4, ge=1, le=1000)

    @field_validator("root")
    @classmethod
    def _safe_root(cls, v: str) -> str:
        return validate_path(v, "outputs.root")


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
    conf: dict[str, str] = {}


class QualityConfig(_Strict):
    # Negative units are returns: quarantine them (default) or net them against the day's sales.
    returns: Literal["quarantine", "net"] = "quarantine"
    max_quarantine_ratio: float = Field(0.05, ge=0.0, le=1.0)
    # Units above this multiple of the series' median non-zero sale are flagged, never dropped.
    outlier_factor: float = Field(50.0, gt=1.0)
    # Time zone whose calendar day a timestamp-typed sale belongs to (text dates keep their own day).
    business_timezone: str = "UTC"

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

    def fingerprint(self) -> str:
        """Stable hash of the effective config, stored with every run for audit."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
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
            raise ConfigError(f"environment variable {name}: not a plain YAML value ({exc.__class__.__name__})") from None
    return out


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"config key {key}: {err['msg']}{shown}")
    return "; ".join(lines)


def load_config(
    conf_dir: str | Path = "conf",
    extra_files: list[str | Path] | None = None,
    overrides: dict | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Merge conf/base, conf/local, extra files, env and explicit overrides, in that order."""
    conf_dir = Path(conf_dir)
    if not (conf_dir / "base").is_dir():
        raise ConfigError(f"config folder {conf_dir / 'base'} not found: pass --conf pointing at a conf/ folder")
    merged: dict = {}
    for layer in ("base", "local"):
        for path in sorted((conf_dir / layer).glob("*.yaml")) if (conf_dir / layer).is_dir() else []:
            merged = _deep_merge(merged, _read_yaml(path))
    for path in extra_files or []:
        merged = _deep_merge(merged, _read_yaml(Path(path)))
    merged = _deep_merge(merged, _env_overrides(dict(os.environ if environ is None else environ)))
    merged = _deep_merge(merged, overrides or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
