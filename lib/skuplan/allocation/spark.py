"""Spark glue for allocation: regional net requirements, then one LP solve per partition.

Items of one partition (config allocation.partition_key, a column of the items table) may share DC
capacity, so they are solved together in one pandas call; partitions are independent and run in
parallel. The lanes table is small and shipped to every task.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.allocation.config import AllocationConfig
from skuplan.allocation.lp import solve_allocation
from skuplan.contracts import check_columns, contract
from skuplan.faults import maybe_fail_once
from skuplan.schemas import struct_type

# The UDF's schema keeps the contract's non-null columns: solve_allocation fills them on every row.
ALLOCATION = struct_type(contract("allocation"))
_PART = "_partition"


def net_requirements(
    policy_df: DataFrame,
    forecasts_df: DataFrame,
    inventory_df: DataFrame,
    cfg: AllocationConfig,
    cutoff: dt.date,
) -> DataFrame:
    """requirement = forecast over the horizon + safety stock - on hand - on order, floored at zero."""
    horizon_end = F.date_add(F.lit(cutoff).cast("date"), cfg.horizon_days)
    demand = (
        forecasts_df.where(F.col("date") <= horizon_end)
        .groupBy("item_id", "region_id")
        .agg(F.sum("yhat").alias("horizon_demand"))
    )
    position = inventory_df.select(
        "item_id",
        "region_id",
        (F.col("on_hand") + F.coalesce(F.col("on_order"), F.lit(0.0))).alias("position"),
    )
    req = demand.join(
        policy_df.select("item_id", "region_id", "safety_stock"), ["item_id", "region_id"], how="left"
    ).join(position, ["item_id", "region_id"], how="left")
    need = (
        F.col("horizon_demand")
        + F.coalesce(F.col("safety_stock"), F.lit(0.0))
        - F.coalesce(F.col("position"), F.lit(0.0))
    )
    return req.select("item_id", "region_id", F.greatest(need, F.lit(0.0)).alias("requirement"))


def allocation_stage(
    policy_df: DataFrame,
    forecasts_df: DataFrame,
    inventory_df: DataFrame,
    dc_stock_df: DataFrame,
    lanes_df: DataFrame,
    items_df: DataFrame,
    cfg: AllocationConfig,
    run_date: dt.date,
) -> DataFrame:
    """Allocation rows (schema ALLOCATION) for every item with a regional requirement."""
    key = cfg.partition_key
    if key not in items_df.columns:
        raise ValueError(
            f"allocation.partition_key {key!r} is not a column of items; use one of {items_df.columns}"
        )
    cutoff = run_date - dt.timedelta(days=1)
    part = items_df.select("item_id", F.coalesce(F.col(key).cast("string"), F.lit("")).alias(_PART))
    req = net_requirements(policy_df, forecasts_df, inventory_df, cfg, cutoff).join(
        part, "item_id", how="inner"
    )
    supply = dc_stock_df.join(part, "item_id", how="inner")
    return solve_partitions(req, supply, lanes_df.toPandas(), cfg)


def solve_partitions(req_df: DataFrame, supply_df: DataFrame, lanes: pd.DataFrame, cfg: AllocationConfig) -> DataFrame:
    """One LP solve per `_partition` value: requirements (item_id, region_id, requirement, [shortage_penalty]) and supply
    (item_id, dc_id, available), both carrying `_partition`; lanes is the small lanes table in pandas."""
    # One frame per partition holding both requirement and supply rows: applyInPandas takes one input.
    penalty = F.col("shortage_penalty") if "shortage_penalty" in req_df.columns else F.lit(cfg.default_shortage_penalty)
    stacked = req_df.select(
        _PART, "item_id", "region_id", "requirement", penalty.cast("double").alias("shortage_penalty"),
        F.lit(None).cast("string").alias("dc_id"), F.lit(None).cast("double").alias("available"),
    ).unionByName(
        supply_df.select(
            _PART, "item_id", F.lit(None).cast("string").alias("region_id"),
            F.lit(None).cast("double").alias("requirement"), F.lit(None).cast("double").alias("shortage_penalty"),
            "dc_id", "available",
        )
    )
    lanes = lanes[["dc_id", "region_id", "unit_cost", "lead_time_days", "capacity"]]
    names = ALLOCATION.fieldNames()

    def solve(group: pd.DataFrame) -> pd.DataFrame:
        maybe_fail_once("allocation", group[_PART].iloc[0] if len(group) else "empty")
        is_req = group["region_id"].notna()
        requirements = group.loc[is_req, ["item_id", "region_id", "requirement", "shortage_penalty"]]
        supply_pd = group.loc[~is_req, ["item_id", "dc_id", "available"]]
        out = solve_allocation(requirements.reset_index(drop=True), supply_pd.reset_index(drop=True), lanes, cfg)
        check_columns(contract("allocation"), out.columns)
        return out[names]

    return stacked.groupBy(_PART).applyInPandas(solve, schema=ALLOCATION)
