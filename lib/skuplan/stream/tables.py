"""The stream's Delta tables (created with their contract's comments) and the nightly plan it works against: the
inventory_policy (reorder points) and the opening stock (staged_inventory, the inventory snapshot the nightly run
validated and committed) of the latest complete nightly run, never a run that failed halfway
(skuplan.complete_runs)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.config import Config
from skuplan.contracts import contract
from skuplan.schemas import struct_type

log = logging.getLogger("skuplan.stream")

STREAM_TABLES = ("inventory_position", "reorder_signals", "stream_alerts", "stream_quarantine")
SNAPSHOT = "staged_inventory"


def ensure_tables(spark: SparkSession, cfg: Config) -> dict[str, tables.TableRef]:
    """Create any of the stream's tables that does not exist yet (empty; comments, constraints and retention from
    io.create_table, as the nightly tables); name -> its reference (a Delta folder or a catalog name).

    Existing ones are first brought up to this version's contracts: columns added since are added, a layout this
    version cannot write stops the job before its first batch (table_upgrade.TableLayoutError), not at the first
    write of a position with a checkpoint already ahead of it."""
    from skuplan.table_upgrade import prepare_tables  # table_upgrade imports STREAM_TABLES from here

    prepare_tables(spark, cfg, STREAM_TABLES)
    refs = {}
    for name in STREAM_TABLES:
        ref = tables.table_ref(cfg, name)
        if not tables.exists(spark, ref):
            io.create_table(
                spark.createDataFrame([], struct_type(contract(name), all_nullable=True)), cfg, name
            )
        refs[name] = ref
    return refs


@dataclass
class NightlyPlan:
    """What one complete nightly run tells the stream. policy: keys, reorder_point, order_qty (ok rows with a
    reorder point); opening: keys, on_hand of its inventory snapshot (None when the run committed none)."""

    run_date: dt.date | None = None
    policy: DataFrame | None = None
    opening: DataFrame | None = None


def latest_complete_plan(spark: SparkSession, cfg: Config) -> NightlyPlan:
    """The plan of the latest run_date whose nightly run is complete, or an empty NightlyPlan when there is none
    yet (positions are still kept, from 0; no signal can be computed). Without a runs manifest (tables written by
    hand) the latest run_date of inventory_policy is taken."""
    from skuplan.complete_runs import IncompleteRun

    if not tables.exists(spark, tables.table_ref(cfg, "inventory_policy")):
        return NightlyPlan()
    if not tables.exists(spark, tables.table_ref(cfg, "runs")):
        return _plan_by_hand(spark, cfg)
    runs = io.read_table(spark, cfg, "runs")
    if "scenario" in runs.columns:  # what-if runs are not the plan in force
        runs = runs.where(F.col("scenario").isNull() | (F.col("scenario") == io.BASE_SCENARIO))
    ok = runs.where(F.col("status") == "ok").select("run_date").distinct().orderBy(F.desc("run_date"))
    for run_date in [r[0] for r in ok.collect()]:
        try:
            policy = _policy_columns(io.read_plan(spark, cfg, "inventory_policy", run_date))
            opening = None
            if tables.exists(spark, tables.table_ref(cfg, SNAPSHOT)):
                opening = _opening_columns(io.read_plan(spark, cfg, SNAPSHOT, run_date))
        except IncompleteRun as exc:  # logged, and the run_date before it is tried
            log.warning("stream: plan of %s not used: %s", run_date, exc)
            continue
        return NightlyPlan(run_date, policy, opening)
    return NightlyPlan()


def _plan_by_hand(spark: SparkSession, cfg: Config) -> NightlyPlan:
    table = _base_rows(io.read_table(spark, cfg, "inventory_policy"))
    latest = table.agg(F.max("run_date")).first()[0]
    if latest is None:
        return NightlyPlan()
    opening = None
    if tables.exists(spark, tables.table_ref(cfg, SNAPSHOT)):
        snapshot = _base_rows(io.read_table(spark, cfg, SNAPSHOT, latest))
        opening = _opening_columns(snapshot)
    return NightlyPlan(latest, _policy_columns(table.where(F.col("run_date") == F.lit(latest))), opening)


def _base_rows(df: DataFrame) -> DataFrame:
    return df.where(F.col("scenario") == F.lit(io.BASE_SCENARIO)) if "scenario" in df.columns else df


def _policy_columns(df: DataFrame) -> DataFrame:
    return df.where(
        (F.col("status") == "ok") & F.col("reorder_point").isNotNull() & ~F.isnan("reorder_point")
    ).select("item_id", "region_id", "reorder_point", F.col("order_qty_policy").alias("order_qty"))


def _opening_columns(df: DataFrame) -> DataFrame:
    # One row per key after validate (its duplicate rule); the sum guards a snapshot written by other means.
    return df.groupBy("item_id", "region_id").agg(F.sum("on_hand").alias("opening_on_hand"))


@dataclass
class PlanCache:
    """The plan in force, re-resolved at most every `refresh_seconds` (each resolution reads the runs manifest
    and the Delta logs; a nightly run lands once a day). Its frames are small and cached (a broadcast join)."""

    refresh_seconds: float
    plan: NightlyPlan | None = None
    loaded_at: float = float("-inf")

    def get(self, spark: SparkSession, cfg: Config) -> NightlyPlan:
        if self.plan is None or time.monotonic() - self.loaded_at >= self.refresh_seconds:
            plan = latest_complete_plan(spark, cfg)
            for old in (self.plan.policy, self.plan.opening) if self.plan else ():
                if old is not None:
                    old.unpersist()
            for frame in (plan.policy, plan.opening):
                if frame is not None:
                    frame.persist()
            self.plan, self.loaded_at = plan, time.monotonic()
            log.info("stream: reorder points and opening stock from the nightly run of %s", plan.run_date)
        return self.plan
