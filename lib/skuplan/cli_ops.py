"""The operator's part of the command line (skuplan.cli calls it): global options (--version, --log-level,
--log-format), `skuplan maintain`, and MLflow tracking after a run. No Spark import at import time."""

from __future__ import annotations

import argparse
import logging

from skuplan import __version__, logs

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAINTAIN_EXAMPLE = "example: skuplan maintain --conf conf   (weekly, outside the nightly run)"


def add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"skuplan {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        default=None,
        help="log level (default: logging.level in conf, INFO)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="text, or json: one JSON object per line with run_id and stage (default: "
        "logging.format in conf, text)",
    )


def add_maintain_command(maintain: argparse.ArgumentParser) -> None:
    maintain.add_argument(
        "--conf", default="conf", help="config folder holding base/ and local/ (default: conf)"
    )
    maintain.add_argument(
        "--conf-file", action="append", default=[], help="extra YAML merged last (repeatable)"
    )
    maintain.add_argument(
        "--tables",
        type=lambda s: [t.strip() for t in s.split(",") if t.strip()],
        default=None,
        help="comma-separated tables (default: every skuplan table that exists)",
    )


def configure_logging(args: argparse.Namespace, cfg=None) -> None:
    """Flags first, then the config's logging section, then text at INFO. Called before the config is read (so
    that its errors are logged as asked) and again once it is."""
    section = getattr(cfg, "logging", None)
    fmt = getattr(args, "log_format", None) or (section.format if section else "text")
    level = getattr(args, "log_level", None) or (section.level if section else "INFO")
    logs.configure(fmt, level)


def run_maintain(args: argparse.Namespace) -> int:
    from skuplan.config import load_config
    from skuplan.maintain import maintain
    from skuplan.spark import build_session

    cfg = load_config(args.conf, args.conf_file)
    configure_logging(args, cfg)
    done = maintain(build_session(cfg.spark), cfg, args.tables)
    for t in done:
        added = f"; constraints added: {', '.join(t.constraints_added)}" if t.constraints_added else ""
        added += "; rewritten in this version's partitioning" if t.rewritten else ""
        print(
            f"  {t.table:<18} files {t.files_before:>5} -> {t.files_after:<5} vacuum retain "
            f"{t.vacuum_retention_hours} h{added}"
        )
    print(f"maintained {len(done)} tables (OPTIMIZE, VACUUM)")
    return 0


def check_tracking(cfg) -> None:
    """ConfigError (exit 2) before the run when tracking is required and mlflow is not installed."""
    from skuplan import tracking

    tracking.active(cfg.tracking)


def track_run(spark, cfg, summary, scenario: str = "base") -> None:
    """Log the finished run to MLflow when tracking is on (skuplan.tracking). A tracking server that fails is
    logged with its traceback and does not fail the command: the plan is committed, and failing the task would
    make its retry run the whole night again for the sake of the tracking record."""
    from skuplan import tracking

    log = logging.getLogger("skuplan")
    if not tracking.active(cfg.tracking):
        return
    try:
        mlflow_run = tracking.log_run(spark, cfg, summary.run_date, summary.run_id, scenario)
    except Exception:
        log.exception(
            "MLflow tracking failed for run %s: the plan tables are committed, the MLflow record of "
            "this run is missing (tracking.tracking_uri %s)",
            summary.run_id,
            cfg.tracking.tracking_uri,
        )
        return
    log.info(
        "MLflow run %s in experiment %s (%s)",
        mlflow_run.run_id,
        mlflow_run.experiment,
        mlflow_run.tracking_uri,
    )
