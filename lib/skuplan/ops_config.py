"""Config sections for operating the job: table maintenance, MLflow tracking, log lines. No Spark import."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Config sections that change how the job is operated, never what it computes (skuplan.config.Config.fingerprint).
OPERATIONAL_SECTIONS = ("maintenance", "tracking", "logging")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MaintenanceConfig(_Strict):
    """Retention and compaction of the Delta tables (table properties at creation; `skuplan maintain`)."""

    # delta.logRetentionDuration: how far back time travel (versionAsOf, a resume's table versions) can reach.
    log_retention_days: int = Field(30, ge=1, le=3650)
    # delta.deletedFileRetentionDuration and VACUUM's RETAIN: files a newer version replaced are deleted after
    # this long. Not below 7 days: a reader or a resumed run still on an older version would lose its files.
    file_retention_days: int = Field(7, ge=7, le=3650)
    # delta.autoOptimize.autoCompact on the plan tables (the runs manifest always has it): small files of a
    # partition are compacted after a write, where the runtime supports it (Databricks, Delta >= 3.1).
    auto_compact: bool = True

    @property
    def vacuum_retention_hours(self) -> int:
        return self.file_retention_days * 24


class TrackingConfig(_Strict):
    """MLflow: one MLflow run per skuplan run with params, metrics and the HTML report (skuplan.tracking)."""

    # auto: track when mlflow is installed (the `tracking` extra; Databricks runtimes ship it), say so once in the
    # log when it is not; true: required (a run without mlflow stops before its first stage); false: off.
    enabled: Literal["auto", True, False] = "auto"
    # null: a file store under outputs.root (<root>/_mlflow); on Databricks set "databricks" (the workspace's
    # server). Any other MLflow tracking URI works too.
    tracking_uri: str | None = None
    # null: "skuplan" locally; on Databricks an experiment is a workspace path, e.g. /Shared/skuplan.
    experiment: str | None = None

    @field_validator("tracking_uri", "experiment")
    @classmethod
    def _plain(cls, v: str | None, info) -> str | None:
        # [ and ]: a development-mode bundle names its experiment "[dev <user>] ...".
        if v is not None and not re.fullmatch(r"[\w ./:@+=\[\]-]{1,500}", v):
            raise ValueError(
                f"tracking.{info.field_name} has characters outside letters, digits, space and "
                f"_ . / : @ + = [ ] -: {v!r}"
            )
        return v


class LoggingConfig(_Strict):
    """Log lines (skuplan.logs): text for a terminal, json for a log pipeline (one object per line with run_id
    and stage)."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
