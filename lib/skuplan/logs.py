"""Log lines and Spark UI labels that say which run and which stage they belong to.

`configure` sets up the root logger once per process: text for a terminal, or JSON (one object per line:
ts, level, logger, message, run_id, stage, and the traceback when there is one) for a log pipeline that indexes
fields. `enter_run` / `enter_stage` record the run and stage every later line carries, and label the Spark jobs
the stage starts (setJobDescription), so the Spark UI's job list reads like the pipeline.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys

_RUN_ID: contextvars.ContextVar[str] = contextvars.ContextVar("skuplan_run_id", default="")
_STAGE: contextvars.ContextVar[str] = contextvars.ContextVar("skuplan_stage", default="")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(run_id)s %(stage)s]: %(message)s"
# Loggers of libraries that are chatty at INFO: kept at WARNING unless --log-level DEBUG.
_QUIET = ("py4j", "urllib3", "mlflow", "git", "alembic")


class _CurrentStderr:
    """sys.stderr as it is when a line is written, not when the handler was made (a test runner or notebook
    replaces sys.stderr; a handler holding the old one would write to a closed stream)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _RunFields(logging.Filter):
    """Adds run_id and stage to every record (empty outside a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _RUN_ID.get() or "-"
        record.stage = _STAGE.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": _RUN_ID.get() or None,
            "stage": _STAGE.get() or None,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(fmt: str = "text", level: str = "INFO", stream=None, force: bool = False) -> None:
    """Log lines of skuplan at `level`, as text or JSON. Like logging.basicConfig, the handler is installed only
    where the process has not configured logging itself (a test runner, a notebook): there skuplan's lines go to
    the handlers already in place, unless `force`. Idempotent: calling it again (the CLI does once the config is
    read) replaces skuplan's handler instead of adding a second one."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_skuplan", False)]
    logging.getLogger("skuplan").setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    if len(ours) < len(root.handlers) and not force:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or _CurrentStderr())
    handler._skuplan = True  # type: ignore[attr-defined]
    handler.addFilter(_RunFields())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def enter_run(run_id: str) -> None:
    _RUN_ID.set(run_id)
    _STAGE.set("")


def enter_stage(spark, run_id: str, stage: str, run_date: dt.date | None = None) -> None:
    """From here on, log lines carry this stage and the Spark jobs read "skuplan <stage> ..." in the Spark UI."""
    _RUN_ID.set(run_id)
    _STAGE.set(stage)
    label = f"skuplan {stage}" + (f" run_date={run_date.isoformat()}" if run_date else "") + f" run {run_id}"
    set_job_description(spark, label)


def set_job_description(spark, label: str | None) -> None:
    """Label the Spark jobs started from this thread. Spark Connect sessions (Databricks serverless, shared
    clusters) have no SparkContext; they are labelled by the job's task name instead, so nothing is set there."""
    from pyspark.sql.utils import is_remote

    if is_remote():
        return
    spark.sparkContext.setJobDescription(label)


def current() -> tuple[str, str]:
    """(run_id, stage) the log lines carry now."""
    return _RUN_ID.get(), _STAGE.get()
