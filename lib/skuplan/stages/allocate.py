"""allocate: DC stock to regions by one LP per partition (skuplan.allocation.spark)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.allocation.spark import allocation_stage
from skuplan.run_context import RunContext, StageRecord


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    alloc = allocation_stage(
        policy_df=inputs["inventory_policy"], forecasts_df=inputs["forecasts"], inventory_df=inputs["staged_inventory"],
        dc_stock_df=inputs["staged_dc_stock"], lanes_df=inputs["staged_lanes"], items_df=inputs["staged_items"],
        cfg=ctx.cfg.allocation, run_date=ctx.run_date,
    )
    return {"allocation": alloc}


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    """Per region for the manifest: what was asked, shipped, short, and what it cost."""
    written = frames["allocation"]
    rec.rows_in = frames["inventory_policy"].count()
    rec.rows_out = ctx.table_rows["allocation"]
    by_region = written.groupBy("region_id").agg(
        F.sum("units").alias("allocated"), F.sum("shortage_units").alias("shortage"),
        F.sum(F.when(F.col("dc_id").isNotNull(), F.col("units") * F.col("unit_cost"))).alias("cost"),
    ).orderBy("region_id").collect()
    parts = []
    for r in by_region:
        need = (r["allocated"] or 0.0) + (r["shortage"] or 0.0)
        fill = (r["allocated"] or 0.0) / need if need else 1.0
        parts.append(f"{r['region_id']}: fill {fill:.3f}, short {r['shortage'] or 0:.0f}, cost {r['cost'] or 0:.0f}")
    statuses = {r["lp_status"]: r["count"] for r in written.groupBy("lp_status").count().collect()}
    rec.detail = f"lp_status {dict(sorted(statuses.items()))}; " + "; ".join(parts)
