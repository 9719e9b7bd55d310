"""The stream's Delta tables (created with their contract's comments) and the policy it plans against: the
inventory_policy of the latest complete nightly run, never a run that failed halfway (skuplan.complete_runs)."""

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

STREAM_TABLES = (
    "inventory_position",
    "reorder_signals",
    "stream_alerts",
    "stream_events",
    "stream_quarantine",
)


def ensure_tables(spark: SparkSession, cfg: Config) -> dict[str, tables.TableRef]:
    """Create any of the stream's tables that does not exist yet (empty; comments, constraints and retention from
    io.create_table, as the nightly tables); name -> its reference (a Delta folder or a catalog name)."""
    refs = {}
    for name in STREAM_TABLES:
        ref = tables.table_ref(cfg, name)
        if not tables.exists(spark, ref):
            io.create_table(
                spark.createDataFrame([], struct_type(contract(name), all_nullable=True)), cfg, name
            )
        refs[name] = ref
    return refs


def latest_complete_policy(spark: SparkSession, cfg: Config) -> tuple[DataFrame | None, dt.date | None]:
    """(keys, reorder_point, order_qty of the ok rows; its run_date) of the latest run_date whose nightly run is
    complete, or (None, None) when there is none yet (positions are still kept; no signal can be computed).
    Without a runs manifest (tables written by hand) the latest run_date of the table is taken."""
    from skuplan.complete_runs import IncompleteRun

    if not tables.exists(spark, tables.table_ref(cfg, "inventory_policy")):
        return None, None
    if tables.exists(spark, tables.table_ref(cfg, "runs")):
        runs = io.read_table(spark, cfg, "runs")
        if "scenario" in runs.columns:  # what-if runs are not the plan in force
            runs = runs.where(F.col("scenario").isNull() | (F.col("scenario") == io.BASE_SCENARIO))
        dates = [
            r[0]
            for r in runs.where(F.col("status") == "ok")
            .select("run_date")
            .distinct()
            .orderBy(F.desc("run_date"))
            .collect()
        ]
        for run_date in dates:
            try:
                return _policy_columns(io.read_plan(spark, cfg, "inventory_policy", run_date)), run_date
            except IncompleteRun as exc:  # logged, and the run_date before it is tried
                log.warning("stream: policy of %s not used: %s", run_date, exc)
        return None, None
    table = io.read_table(spark, cfg, "inventory_policy")
    if "scenario" in table.columns:
        table = table.where(F.col("scenario") == F.lit(io.BASE_SCENARIO))
    latest = table.agg(F.max("run_date")).first()[0]
    if latest is None:
        return None, None
    return _policy_columns(table.where(F.col("run_date") == F.lit(latest))), latest


def _policy_columns(df: DataFrame) -> DataFrame:
    return df.where(
        (F.col("status") == "ok") & F.col("reorder_point").isNotNull() & ~F.isnan("reorder_point")
    ).select("item_id", "region_id", "reorder_point", F.col("order_qty_policy").alias("order_qty"))


@dataclass
class PolicyCache:
    """The policy in force, re-resolved at most every `refresh_seconds` (each resolution reads the runs
    manifest and the Delta log; a nightly run lands once a day)."""

    refresh_seconds: float
    frame: DataFrame | None = None
    run_date: dt.date | None = None
    loaded_at: float = float("-inf")

    def get(self, spark: SparkSession, cfg: Config) -> tuple[DataFrame | None, dt.date | None]:
        if time.monotonic() - self.loaded_at >= self.refresh_seconds:
            frame, run_date = latest_complete_policy(spark, cfg)
            if self.frame is not None:
                self.frame.unpersist()
            self.frame = None if frame is None else frame.persist()
            self.run_date, self.loaded_at = run_date, time.monotonic()
            log.info("stream: reorder points from inventory_policy run_date %s", run_date)
        return self.frame, self.run_date
