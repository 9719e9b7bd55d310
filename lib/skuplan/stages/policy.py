"""policy: inventory levels, replenishment, alerts, KPIs, segments and the replay (skuplan.inventory.spark)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.inventory.alerts import DATA_ALERT_TYPES
from skuplan.inventory.spark import policy_stage
from skuplan.run_context import RunContext, StageRecord


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    cached: list[DataFrame] = []
    outs = policy_stage(
        forecasts_df=inputs["forecasts"], status_df=inputs["forecast_status"], stats_df=inputs["series_stats"],
        arrays_df=inputs["series_arrays"], items_df=inputs["staged_items"], inventory_df=inputs["staged_inventory"],
        cfg=ctx.cfg.inventory, forecast_cfg=ctx.cfg.forecast, run_date=ctx.run_date, cached=cached,
    )
    ctx.hold(cached)
    return outs


def _data_alert_counts(alerts: DataFrame) -> str:
    """'data alerts: no_inventory_row 2, ...' for the input alerts that fired (tiny: one row per alert type)."""
    rows = alerts.where(F.col("alert_type").isin(*DATA_ALERT_TYPES)).groupBy("alert_type").count().collect()
    counts = {r["alert_type"]: r["count"] for r in rows}
    return ("data alerts: " + ", ".join(f"{k} {counts[k]}" for k in DATA_ALERT_TYPES if k in counts)) if counts else ""


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.n_series
    rec.rows_out = ctx.table_rows["inventory_policy"]
    # Master data and stock rows the plan had to read a certain way: on the console and in the manifest.
    rec.detail = _data_alert_counts(frames["alerts"])
    if "policy_backtest" not in frames:
        return
    bt = frames["policy_backtest"].agg(
        F.sum("served").alias("served"), F.sum("demand").alias("demand"), F.avg("service_level").alias("target"),
        F.count("*").alias("n"),
    ).first()
    if bt["n"]:
        achieved = bt["served"] / bt["demand"] if bt["demand"] else float("nan")
        replay = (f"replay of {bt['n']} series: fill rate achieved {achieved:.3f}, "
                  f"mean service target {bt['target']:.3f}")
        rec.detail = "; ".join(part for part in (replay, rec.detail) if part)
