"""policy: inventory levels, replenishment, alerts, KPIs, segments and the replay (skuplan.inventory.spark)."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.inventory.alerts import DATA_ALERT_TYPES
from skuplan.inventory.spark import policy_stage
from skuplan.run_context import RunContext, StageRecord
from skuplan.stages.replay_cadence import carried_replay

log = logging.getLogger("skuplan")


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    cached: list[DataFrame] = []
    carried = None
    if ctx.cfg.inventory.replay.enabled:
        carried, why = carried_replay(ctx)
        log.info("policy: %s", why)
    outs = policy_stage(
        forecasts_df=inputs["forecasts"],
        status_df=inputs["forecast_status"],
        stats_df=inputs["series_stats"],
        arrays_df=inputs["series_arrays"],
        items_df=inputs["staged_items"],
        inventory_df=inputs["staged_inventory"],
        cfg=ctx.cfg.inventory,
        forecast_cfg=ctx.cfg.forecast,
        run_date=ctx.run_date,
        cached=cached,
        carried_backtest=carried,
    )
    ctx.hold(cached)
    return outs


def _data_alert_counts(alerts: DataFrame) -> str:
    """'data alerts: no_inventory_row 2, ...' for the input alerts that fired (tiny: one row per alert type)."""
    rows = alerts.where(F.col("alert_type").isin(*DATA_ALERT_TYPES)).groupBy("alert_type").count().collect()
    counts = {r["alert_type"]: r["count"] for r in rows}
    return (
        ("data alerts: " + ", ".join(f"{k} {counts[k]}" for k in DATA_ALERT_TYPES if k in counts))
        if counts
        else ""
    )


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.n_series
    rec.rows_out = ctx.table_rows["inventory_policy"]
    # Master data and stock rows the plan had to read a certain way: on the console and in the manifest.
    rec.detail = _data_alert_counts(frames["alerts"])
    if "policy_backtest" not in frames:
        return
    summary = _replay_summary(frames["policy_backtest"], ctx.run_date)
    rec.detail = "; ".join(part for part in (summary, rec.detail) if part)


def _replay_summary(backtest: DataFrame, run_date) -> str:
    """'replay of N series (P plans each; simopt levels on K): fill_rate target t promised p achieved a; csl ...'
    pooled per service type (fill rate over units, CSL over cycles), with the night it was computed when that
    is an earlier one; '' without rows (one tiny row per type)."""
    fill = F.col("service_type") == "fill_rate"
    rows = backtest.groupBy("service_type").agg(
        F.count("*").alias("n"), F.avg("service_level").alias("target"),
        F.avg(F.when(fill, F.col("expected_fill_rate")).otherwise(F.col("expected_csl"))).alias("promised"),
        (F.sum("served") / F.sum("demand")).alias("fill"),
        (1 - F.sum("stockout_cycles") / F.sum("cycles")).alias("csl"), F.avg("replans").alias("plans"),
        F.sum(F.when(F.col("policy_source") == "simopt", 1).otherwise(0)).alias("simopt"),
        F.min("replay_run_date").alias("replayed_on"),
    ).orderBy("service_type").collect()  # fmt: skip
    if not rows:
        return ""
    n = sum(r["n"] for r in rows)
    plans = sum((r["plans"] or 0) * r["n"] for r in rows) / n
    parts = [
        f"{r['service_type']} target {r['target']:.3f} promised {_num(r['promised'])} achieved "
        f"{_num(r['fill'] if r['service_type'] == 'fill_rate' else r['csl'])}"
        for r in rows
    ]
    replayed_on = min(r["replayed_on"] for r in rows)
    when = f" (of {replayed_on}, carried forward)" if replayed_on != run_date else ""
    return (f"replay{when} of {n} series ({plans:.0f} plans each; simopt levels on "
            f"{sum(r['simopt'] for r in rows)}): " + ", ".join(parts))  # fmt: skip


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
