"""policy: inventory levels, replenishment, alerts, KPIs, segments and the replay (skuplan.inventory.spark)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

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


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.n_series
    rec.rows_out = ctx.table_rows["inventory_policy"]
    if "policy_backtest" not in frames:
        return
    bt = frames["policy_backtest"].agg(
        F.sum("served").alias("served"), F.sum("demand").alias("demand"), F.avg("service_level").alias("target"),
        F.count("*").alias("n"),
    ).first()
    if bt["n"]:
        achieved = bt["served"] / bt["demand"] if bt["demand"] else float("nan")
        rec.detail = (f"replay of {bt['n']} series: fill rate achieved {achieved:.3f}, "
                      f"mean service target {bt['target']:.3f}")
