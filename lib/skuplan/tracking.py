"""MLflow tracking: one MLflow run per skuplan run, read back from what the run committed.

Params: config hash, run_date, run id, scenario, the configured forecast model and the models chosen. Metrics:
WAPE of the chosen models per demand class (mean over series of the series' mean over folds, as the report shows
it) and overall, achieved service of the policy replay (fill rate = served / demand over all series, mean cycle
service level), seconds per stage. Artifact: the run's HTML report (skuplan.report).

Everything comes from the Delta tables and the runs manifest, so a run can be logged again later
(`log_run(spark, cfg, run_date, run_id)`), e.g. after a tracking server was down. Where: tracking.tracking_uri,
else the workspace's server on Databricks, else a file store under outputs.root (`<root>/_mlflow`).
mlflow is imported only here (the `tracking` extra: mlflow-skinny).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import __version__, io, tables
from skuplan.config import Config, ConfigError

LOCAL_STORE = "_mlflow"  # folder under outputs.root: not a Delta table (no _delta_log), readers skip it
# MLflow 3 keeps its file store in maintenance mode and refuses it unless this is set: the local default is a
# file store all the same (no database for one process's runs), so it is set while skuplan logs to one.
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
DEFAULT_EXPERIMENT = "skuplan"


@dataclass(frozen=True)
class TrackedRun:
    run_id: str  # MLflow's run id
    experiment: str
    tracking_uri: str


def active(tracking) -> bool:
    """Whether to track (`tracking`: skuplan.config's TrackingConfig)."""
    installed = importlib.util.find_spec("mlflow") is not None
    if tracking.enabled is True and not installed:
        raise ConfigError(
            "tracking.enabled is true but mlflow is not installed: pip install 'skuplan[tracking]' "
            "(mlflow-skinny), or set tracking.enabled: auto or false"
        )
    return installed if tracking.enabled == "auto" else bool(tracking.enabled)


def tracking_uri(cfg: Config) -> str:
    if cfg.tracking.tracking_uri:
        return cfg.tracking.tracking_uri
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return "databricks"
    root = cfg.outputs.root.rstrip("/")
    if "://" in root:
        return f"{root}/{LOCAL_STORE}"
    return Path(root, LOCAL_STORE).resolve().as_uri()


@contextlib.contextmanager
def file_store_allowed(uri: str) -> Iterator[None]:
    """Allow MLflow's file store for the duration, when `uri` is one (and the user has not decided already)."""
    if not uri.startswith("file:") or ALLOW_FILE_STORE in os.environ:
        yield
        return
    os.environ[ALLOW_FILE_STORE] = "true"
    try:
        yield
    finally:
        os.environ.pop(ALLOW_FILE_STORE, None)


def _finite(column: str):
    return F.when(~F.isnan(F.col(column)), F.col(column))


def run_metrics(
    spark: SparkSession, cfg: Config, run_date: dt.date, run_id: str, scenario: str = io.BASE_SCENARIO
) -> tuple[dict[str, str], dict[str, float], str]:
    """(params, metrics, status) of one run from its tables: status is failed when a stage of it failed."""
    runs = io.read_table(spark, cfg, "runs").where(F.col("run_id") == run_id).collect()
    if not runs:
        raise ValueError(
            f"run {run_id} is not in the runs manifest under {cfg.outputs.root}: nothing to track"
        )
    metrics = {f"seconds_{r['stage']}": float(r["seconds"]) for r in runs}
    metrics["seconds_total"] = sum(float(r["seconds"]) for r in runs)
    status = "failed" if any(r["status"] != "ok" for r in runs) else "ok"

    def table(name: str) -> DataFrame | None:
        """The run's rows, or None for a table the run did not write (policy_backtest with the replay off)."""
        if not tables.exists(spark, tables.table_ref(cfg, name)):
            return None
        return io.read_table(spark, cfg, name, run_date, scenario=scenario)

    status_rows = table("forecast_status")
    chosen = [] if status_rows is None else status_rows.select("model").distinct().collect()
    chosen = sorted(r["model"] for r in chosen)
    params = {
        "config_hash": runs[0]["config_hash"], "run_date": run_date.isoformat(), "skuplan_run_id": run_id,
        "scenario": scenario, "forecast_model": cfg.forecast.model, "models_chosen": ",".join(chosen),
        "horizon_days": str(cfg.forecast.horizon_days), "skuplan_version": __version__,
    }  # fmt: skip
    backtest, replay = table("forecast_metrics"), table("policy_backtest")
    if backtest is not None and status_rows is not None:
        metrics.update(_wape_by_class(backtest, status_rows))
    if replay is not None:
        metrics.update(_achieved_service(replay))
    return params, {k: v for k, v in metrics.items() if v is not None and math.isfinite(v)}, status


def _wape_by_class(fm: DataFrame, status: DataFrame) -> dict[str, float]:
    per_series = (
        fm.where(F.col("selected"))
        .groupBy("item_id", "region_id")
        .agg(F.avg(_finite("wape")).alias("wape"))
        .where(F.col("wape").isNotNull())
    )
    classes = status.select("item_id", "region_id", F.coalesce("demand_class", F.lit("unknown")).alias("cls"))
    rows = (
        per_series.join(classes, ["item_id", "region_id"])
        .groupBy("cls")
        .agg(F.avg("wape").alias("wape"), F.count("*").alias("n"))
        .collect()
    )
    out = {f"wape_{r['cls']}": float(r["wape"]) for r in rows}
    total = sum(r["n"] for r in rows)
    if total:
        out["wape_all"] = sum(float(r["wape"]) * r["n"] for r in rows) / total
    return out


def _achieved_service(replay: DataFrame) -> dict[str, float]:
    row = replay.agg(
        F.sum(_finite("served")).alias("served"),
        F.sum(_finite("demand")).alias("demand"),
        F.avg(_finite("csl")).alias("csl"),
    ).first()
    out = {}
    if row["demand"]:
        out["achieved_fill_rate"] = float(row["served"]) / float(row["demand"])
    if row["csl"] is not None:
        out["achieved_csl"] = float(row["csl"])
    return out


def log_run(
    spark: SparkSession, cfg: Config, run_date: dt.date, run_id: str, scenario: str = io.BASE_SCENARIO
) -> TrackedRun:
    """Log the run to MLflow (params, metrics, the HTML report as artifact report/report.html)."""
    params, metrics, status = run_metrics(spark, cfg, run_date, run_id, scenario)
    uri = tracking_uri(cfg)
    with file_store_allowed(uri):
        return _log(spark, cfg, uri, run_date, run_id, scenario, params, metrics, status)


def _log(spark, cfg, uri, run_date, run_id, scenario, params, metrics, status) -> TrackedRun:
    import mlflow

    experiment = cfg.tracking.experiment or DEFAULT_EXPERIMENT
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(
        experiment_id,
        run_name=f"{run_date.isoformat()} {scenario}",
        tags={"skuplan.run_id": run_id, "skuplan.scenario": scenario},
    )
    mlflow_id = run.info.run_id
    try:
        for key, value in sorted(params.items()):
            client.log_param(mlflow_id, key, value)
        for key, value in sorted(metrics.items()):
            client.log_metric(mlflow_id, key, value)
        if status == "ok":  # a failed run's report would refuse to draw (the run is incomplete)
            from skuplan.report import write_report

            with tempfile.TemporaryDirectory(prefix="skuplan-report-") as tmp:
                path = write_report(spark, cfg, run_date, Path(tmp) / "report.html")
                client.log_artifact(mlflow_id, str(path), artifact_path="report")
    except BaseException:
        client.set_terminated(mlflow_id, status="FAILED")
        raise
    client.set_terminated(mlflow_id, status="FINISHED" if status == "ok" else "FAILED")
    return TrackedRun(mlflow_id, experiment, uri)
