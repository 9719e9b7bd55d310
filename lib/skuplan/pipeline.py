"""The nightly run: the one place that knows the order of the stages.

ingest -> validate -> prepare -> forecast -> policy -> allocate, each stage's outputs written to
Delta (replacing the run_date partition) and read back by the next stage, so that a stage's UDFs
run once and a rerun after a failure starts from committed tables only.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io
from skuplan.config import INPUT_TABLES, Config
from skuplan.forecast.spark import forecast_stage
from skuplan.progress import stage_progress
from skuplan.quality import outlier_flags, validate_table
from skuplan.schemas import RUNS
from skuplan.series import aggregate_channels, series_arrays, series_stats

log = logging.getLogger("skuplan")

STAGES = ("validate", "prepare", "forecast", "policy", "allocate")
# Test hook for failure-injection tests: raise right after the named stage has committed.
FAIL_AFTER_ENV = "SKUPLAN_FAIL_AFTER_STAGE"


class RunFailed(RuntimeError):
    """The run stopped for a reason the message states (data or reconciliation problem)."""


@dataclass
class StageRecord:
    stage: str
    seconds: float
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    status: str = "ok"
    detail: str = ""
    table_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class RunSummary:
    run_id: str
    run_date: dt.date
    output_root: str
    stages: list[StageRecord]
    table_rows: dict[str, int]


class _Run:
    def __init__(self, spark: SparkSession, cfg: Config, run_date: dt.date):
        self.spark, self.cfg, self.run_date = spark, cfg, run_date
        self.cutoff = run_date - dt.timedelta(days=1)
        self.run_id = f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
        self.records: list[StageRecord] = []
        self.table_rows: dict[str, int] = {}
        self.n_series = 0
        self.series_days = 0
        self.accepted_rows: dict[str, int] = {}
        self._persisted: list[DataFrame] = []
        self._checkpoints: list[DataFrame] = []

    def write(self, rec: StageRecord, name: str, df: DataFrame) -> DataFrame:
        start = time.perf_counter()
        version, rows = io.write_partition(df, self.cfg, name, self.run_date)
        # Writes are where Spark's lazy plans run: per-table seconds show where a stage spends its time.
        log.info("  wrote %-18s %10d rows in %6.1fs", name, rows, time.perf_counter() - start)
        rec.table_versions[name] = version
        self.table_rows[name] = rows
        return io.read_table(self.spark, self.cfg, name, self.run_date)

    def keep(self, df: DataFrame) -> DataFrame:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._persisted.append(df)
        return df

    def checkpoint(self, df: DataFrame) -> DataFrame:
        """Materialize df now and cut its lineage: later plans start from the stored rows.

        Without it every later stage re-analyzes (and describes, for Spark's SQL status store) the whole
        validation plan: a policy output's plan printed as 75 MB and each write of an 8-row table took 5-10 s.
        Used for per-series frames and the small inputs; a local checkpoint's blocks are not replicated, so a
        lost executor fails the run (rerunning it is safe: writes are idempotent).
        """
        df = df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        self._checkpoints.append(df)
        return df

    def unpersist(self) -> None:
        """Drop the cached frames (not the checkpoints): after prepare, the cached sales rows and their daily
        aggregate are no longer read, and held half of the execution memory the policy stage needed at 100k
        series (it failed with AGGREGATE_OUT_OF_MEMORY in a 4 GB driver)."""
        for df in self._persisted:
            df.unpersist()
        self._persisted = []

    def release(self) -> None:
        self.unpersist()
        for df in self._checkpoints:
            df._jdf.queryExecution().analyzed().rdd().unpersist(False)
        self._checkpoints = []
        # Python-side reference cycles keep JVM plans alive until the cycle collector runs; a session that
        # runs the pipeline again (tests, notebooks) would otherwise carry each run's plans in the heap.
        gc.collect()


def _validate(run: _Run, rec: StageRecord) -> dict[str, DataFrame]:
    accepted: dict[str, DataFrame] = {}
    quarantines = []
    rows_in = rows_ok = 0
    too_dirty: list[str] = []
    for table in ("items", *[t for t in INPUT_TABLES if t != "items"]):
        raw = io.read_input(run.spark, run.cfg, table)
        if raw is None:
            continue
        start = time.perf_counter()
        n_in = raw.count()
        parts = _scale_shuffle_partitions(run, n_in) if table == "sales" else None
        known = accepted["items"] if table in ("sales", "inventory", "dc_stock") else None
        result = validate_table(raw, table, run.run_date, run.cfg.quality, known_items_df=known, partitions=parts)
        run._persisted.extend(result.cached)
        marked, good = result.marked, result.accepted
        by_outcome = dict(marked.groupBy(F.col("reason_code").isNull().alias("ok")).count().collect())
        n_ok, n_bad = by_outcome.get(True, 0), by_outcome.get(False, 0)
        if n_in != n_ok + n_bad:
            raise RunFailed(f"reconciliation failed for {table}: {n_in} rows in != {n_ok} accepted + {n_bad} quarantined")
        ratio = n_bad / n_in if n_in else 0.0
        if ratio > run.cfg.quality.max_quarantine_ratio:
            too_dirty.append(f"input {table}: {n_bad} of {n_in} rows ({ratio:.1%}) quarantined")
        rec.detail += f"{table}: {n_in} in = {n_ok} accepted + {n_bad} quarantined; "
        log.info("  checked %-17s %10d rows in %6.1fs", table, n_in, time.perf_counter() - start)
        rows_in, rows_ok = rows_in + n_in, rows_ok + n_ok
        run.accepted_rows[table] = n_ok
        # Sales go on to prepare's persisted daily aggregate; the small inputs are used by every later stage.
        accepted[table] = good if table == "sales" else run.checkpoint(good)
        quarantines.append(result.quarantine)
    quarantine = quarantines[0]
    for q in quarantines[1:]:
        quarantine = quarantine.unionByName(q)
    run.write(rec, "quarantine", quarantine)
    rec.rows_in, rec.rows_out, rec.rows_quarantined = rows_in, rows_ok, run.table_rows["quarantine"]
    if too_dirty:  # raised after the quarantine table is written, so the rejected rows can be inspected
        raise RunFailed(
            "; ".join(too_dirty) + f", above quality.max_quarantine_ratio={run.cfg.quality.max_quarantine_ratio}; "
            "inspect the quarantine table or raise the limit"
        )
    return accepted


def _scale_shuffle_partitions(run: _Run, sales_rows: int) -> int:
    """Raise spark.sql.shuffle.partitions with the sales rows (see SparkConfig.rows_per_shuffle_partition) and
    return the parts the sales rows are hash-partitioned into: one per rows_per_shuffle_partition rows, at
    least one per core (a fixed count that adaptive execution would not shrink, so not 200 for a tiny run).

    Results do not depend on either (canonical ordering; tested with 2 and 16 partitions); AQE still coalesces
    small post-shuffle partitions, so small runs keep few tasks.
    """
    per = run.cfg.spark.rows_per_shuffle_partition
    current = int(run.spark.conf.get("spark.sql.shuffle.partitions"))
    if per is None:
        return current
    wanted = math.ceil(sales_rows / per)
    if wanted > current:
        run.spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
        log.info("shuffle partitions %d -> %d for %d sales rows", current, wanted, sales_rows)
    return max(wanted, run.spark.sparkContext.defaultParallelism)


def _timed(run: _Run, stage: str, fn, *args):
    start = time.perf_counter()
    rec = StageRecord(stage=stage, seconds=0.0)
    try:
        result = fn(run, rec, *args)
    except Exception as exc:
        rec.seconds, rec.status, rec.detail = time.perf_counter() - start, "failed", f"{type(exc).__name__}: {exc}"[:2000]
        run.records.append(rec)
        raise
    rec.seconds = time.perf_counter() - start
    run.records.append(rec)
    log.info("stage %-9s %7.1fs rows_in=%s rows_out=%s %s", stage, rec.seconds, rec.rows_in, rec.rows_out,
             f"quarantined={rec.rows_quarantined}" if rec.rows_quarantined is not None else "")
    if os.environ.get(FAIL_AFTER_ENV) == stage:
        raise RunFailed(f"failure injected after stage {stage} ({FAIL_AFTER_ENV})")
    return result


def _prepare(run: _Run, rec: StageRecord, inputs: dict[str, DataFrame]):
    # Sales arrive hash-partitioned by item x region (see quality.validate_table): the daily aggregate, the
    # statistics and the lists below group by supersets of those keys, so none of them shuffles again.
    daily = run.keep(aggregate_channels(inputs["sales"]))
    stats = run.checkpoint(series_stats(daily, run.cutoff))
    # One row per series with list columns, for the stages that hand histories to Python (see history_arrays);
    # days without sales are filled there. The category lets the engine give a cold-start series its
    # category x region profile.
    arrays = series_arrays(daily, run.cutoff, run.cfg.forecast.max_history_days)
    arrays = run.checkpoint(arrays.join(F.broadcast(inputs["items"].select("item_id", "category")), "item_id", "left"))
    # Extreme days, flagged (never dropped) on the daily aggregate: a spike is judged per item x region x day.
    run.write(rec, "data_flags", outlier_flags(daily, run.cfg.quality.outlier_factor))
    rec.rows_in = run.accepted_rows["sales"]  # counted in validate: another pass over 65M rows at 100k series
    totals = stats.agg(F.count("*").alias("series"), F.sum("n_obs").alias("days")).first()
    run.n_series, run.series_days = totals["series"], totals["days"] or 0
    rec.rows_out = run.series_days  # series-days from each first sale to the cutoff, gaps counted as zero sales
    rec.detail = f"{run.n_series} series"
    return daily, stats, arrays


def _forecast(run: _Run, rec: StageRecord, daily: DataFrame, arrays: DataFrame, events: DataFrame | None):
    outs = forecast_stage(
        daily, run.cfg.forecast, run.cutoff, events, run.cfg.spark.series_per_bucket,
        series_df=arrays, n_series=run.n_series, cached=run._persisted,
    )
    with stage_progress(run.spark, "forecast", run.n_series):
        written = {name: run.write(rec, name, df) for name, df in
                   zip(("forecasts", "forecast_status", "forecast_metrics"), outs, strict=True)}
    status = written["forecast_status"]
    rec.rows_in = run.series_days
    rec.rows_out = run.table_rows["forecasts"]
    counts = {r["status"]: r["count"] for r in status.groupBy("status").count().collect()}
    rec.detail = f"series by status: {dict(sorted(counts.items()))}"
    return written


def _policy(run: _Run, rec: StageRecord, inputs, stats, daily, arrays, fc):
    from skuplan.inventory.spark import policy_stage

    outs = policy_stage(
        forecasts_df=fc["forecasts"], status_df=fc["forecast_status"], stats_df=stats, history_df=daily,
        items_df=inputs["items"], inventory_df=inputs["inventory"], cfg=run.cfg.inventory,
        forecast_cfg=run.cfg.forecast, run_date=run.run_date, arrays_df=arrays, cached=run._persisted,
    )
    written = {name: run.write(rec, name, df) for name, df in outs.items()}
    rec.rows_in = stats.count()
    rec.rows_out = run.table_rows["inventory_policy"]
    if "policy_backtest" in written:
        bt = written["policy_backtest"].agg(
            F.sum("served").alias("served"), F.sum("demand").alias("demand"), F.avg("service_level").alias("target"),
            F.count("*").alias("n"),
        ).first()
        if bt["n"]:
            achieved = bt["served"] / bt["demand"] if bt["demand"] else float("nan")
            rec.detail = (f"replay of {bt['n']} series: fill rate achieved {achieved:.3f}, "
                          f"mean service target {bt['target']:.3f}")
    return written


def _allocate(run: _Run, rec: StageRecord, inputs, fc, policy):
    from skuplan.allocation.spark import allocation_stage

    alloc = allocation_stage(
        policy_df=policy["inventory_policy"], forecasts_df=fc["forecasts"], inventory_df=inputs["inventory"],
        dc_stock_df=inputs["dc_stock"], lanes_df=inputs["lanes"], items_df=inputs["items"],
        cfg=run.cfg.allocation, run_date=run.run_date,
    )
    written = run.write(rec, "allocation", alloc)
    rec.rows_in = policy["inventory_policy"].count()
    rec.rows_out = run.table_rows["allocation"]
    # Per-region summary for the manifest: what was asked, shipped, short, and what it cost.
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


def run_pipeline(spark: SparkSession, cfg: Config, run_date: dt.date) -> RunSummary:
    """Run every stage for one run_date; idempotent (each output's run_date partition is replaced)."""
    run = _Run(spark, cfg, run_date)
    try:
        inputs = _timed(run, "validate", _validate)
        daily, stats, arrays = _timed(run, "prepare", _prepare, inputs)
        run.unpersist()  # later stages read the checkpointed stats, lists and small inputs only
        fc = _timed(run, "forecast", _forecast, daily, arrays, inputs.get("events"))
        policy = _timed(run, "policy", _policy, inputs, stats, daily, arrays, fc)
        _timed(run, "allocate", _allocate, inputs, fc, policy)
    except BaseException:
        # Record how far the run got, but never let a manifest problem hide the original error.
        try:
            _write_manifest(run)
        except Exception:
            log.exception("could not write the runs manifest after a failed run")
        try:
            run.release()
        except Exception:  # a dead SparkContext cannot unpersist: the run's own error is what matters
            log.exception("could not release cached frames after a failed run")
        raise
    _write_manifest(run)
    run.release()
    return RunSummary(run.run_id, run_date, cfg.outputs.root, run.records, run.table_rows)


def _write_manifest(run: _Run) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "run_id": run.run_id, "run_date": run.run_date, "config_hash": run.cfg.fingerprint(), "stage": r.stage,
            "rows_in": r.rows_in, "rows_out": r.rows_out, "rows_quarantined": r.rows_quarantined,
            "seconds": float(r.seconds), "status": r.status, "detail": r.detail.strip(),
            "table_versions": r.table_versions, "finished_at": now,
        }
        for r in run.records
    ]
    if rows:
        io.append_manifest(run.spark, run.cfg, rows, RUNS)
