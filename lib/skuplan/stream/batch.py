"""The foreachBatch writer of `skuplan stream`: one micro-batch of raw events -> quarantine, the event ledger,
inventory_position, reorder_signals and stream_alerts, exactly once.

Exactly once, whatever the point at which a run is killed: Spark replays an unfinished micro-batch with the same
batch_id and the same events, and every Delta commit of the batch carries (txnAppId = the query's id,
txnVersion = batch_id), so a commit the killed attempt made is skipped on replay instead of repeated. The replay
recomputes from the state before the batch: the ledger is read without this batch's own rows, and a position the
batch already merged restarts from its batch_start_on_hand. Redelivered events (same event_id) are dropped
against the ledger; late events are applied.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan import tables
from skuplan.config import Config
from skuplan.contracts import contract
from skuplan.stream import rules
from skuplan.stream.sources import parse_events, reason_text
from skuplan.stream.tables import PolicyCache

log = logging.getLogger("skuplan.stream")

# Test-only hook ("<batch_id>:<step>", step after_ledger | after_positions | after_signals): the process kills
# itself with SIGKILL at that point of that batch, as an operator's kill -9 or a lost driver would. Unset in
# production, it does nothing.
KILL_ENV = "SKUPLAN_STREAM_KILL_AT"
KEYS = rules.KEYS
APPLIED_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType()),
        T.StructField("region_id", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("event_time", T.TimestampType()),
        T.StructField("delta", T.DoubleType()),
        T.StructField("on_hand", T.DoubleType()),
        T.StructField("signal", T.BooleanType()),
        T.StructField("alert", T.BooleanType()),
    ]
)
_TXN_CONF = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")


def _apply_group(frame: pd.DataFrame) -> pd.DataFrame:
    """applyInPandas body: one item x region's new events (same start stock and reorder point on every row)."""
    rop = frame["reorder_point"].iloc[0]
    return rules.apply_events(
        frame, float(frame["start_on_hand"].iloc[0]), None if pd.isna(rop) else float(rop)
    )


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    """Seconds per step of a batch, in the batch's stats (the log and the bench show where a batch's time goes)."""
    started = time.perf_counter()
    yield
    steps[name] = round(steps.get(name, 0.0) + time.perf_counter() - started, 3)


def _maybe_kill(batch_id: int, step: str) -> None:
    if os.environ.get(KILL_ENV) == f"{batch_id}:{step}":
        log.warning("stream: %s=%s set, killing this process", KILL_ENV, os.environ[KILL_ENV])
        os.kill(os.getpid(), signal.SIGKILL)


class BatchWriter:
    """Callable for DataStreamWriter.foreachBatch. `app_id` is called once per batch (the query's id, known only
    after start); `on_commit(batch_id, stats)` after the batch's last commit (the bench's latency clock)."""

    def __init__(
        self,
        cfg: Config,
        refs: dict[str, tables.TableRef],
        app_id: Callable[[], str],
        on_commit: Callable[[int, dict], None] | None = None,
    ):
        self.cfg, self.refs, self.app_id, self.on_commit = cfg, refs, app_id, on_commit
        self.policy = PolicyCache(cfg.stream.policy_refresh_seconds)
        # complete_through of the last batch this process committed (None: read it from the table, as after a
        # restart); only this writer moves it, so one read per process is enough.
        self.mark: dt.datetime | None = None

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        parsed = parse_events(batch_df).persist()
        self.steps: dict[str, float] = {}
        try:
            stats = self._process(batch_df.sparkSession, parsed, batch_id, self.app_id())
        finally:
            parsed.unpersist()
        stats["steps"] = self.steps
        stats["seconds"] = round(time.perf_counter() - started, 3)
        log.info("stream batch %d: %s", batch_id, stats)
        if self.on_commit is not None:
            self.on_commit(batch_id, stats)

    def _process(self, spark: SparkSession, parsed: DataFrame, batch_id: int, app_id: str) -> dict:
        good = F.col("reason_code").isNull()
        with _timed(self.steps, "read"):
            counts = parsed.agg(
                F.count("*").alias("n"),
                F.sum((~good).cast("long")).alias("bad"),
                F.min(F.when(good, F.col("event_time"))).alias("lo"),
                F.max(F.when(good, F.col("event_time"))).alias("hi"),
            ).first()
        stats = {
            "events_in": counts["n"],
            "quarantined": counts["bad"] or 0,
            "applied": 0,
            "signals": 0,
            "alerts": 0,
        }
        if stats["quarantined"]:
            with _timed(self.steps, "quarantine"):
                self._quarantine(parsed.where(~good), batch_id, app_id)
        if counts["lo"] is None:
            return stats
        events = parsed.where(good).dropDuplicates(["event_id"])
        ledger = tables.read(spark, self.refs["stream_events"]).where(
            (F.col("batch_id") != batch_id) & F.col("event_time").between(counts["lo"], counts["hi"])
        )
        new = events.join(ledger.select("event_id"), "event_id", "left_anti").persist()
        try:
            stats.update(self._apply(spark, new, batch_id, app_id, counts["hi"]))
        finally:
            new.unpersist()
        return stats

    def _apply(
        self, spark: SparkSession, new: DataFrame, batch_id: int, app_id: str, hi: dt.datetime
    ) -> dict:
        positions = tables.read(spark, self.refs["inventory_position"])
        # A position this batch already merged (a replay after a kill) restarts from its pre-batch stock.
        before = positions.select(
            *KEYS,
            F.when(F.col("batch_id") == batch_id, F.col("batch_start_on_hand"))
            .otherwise(F.col("on_hand"))
            .alias("start_on_hand"),
            "events_applied",
            "late_events",
            "last_event_time",
        )
        with _timed(self.steps, "positions_read"):
            previous_mark = self.mark or positions.agg(F.max("complete_through")).first()[0]
        lateness = dt.timedelta(minutes=self.cfg.stream.allowed_lateness_minutes)
        mark = max(m for m in (previous_mark, hi - lateness) if m is not None)
        with _timed(self.steps, "policy"):
            policy, policy_date = self.policy.get(spark, self.cfg)
        rops = (
            policy.select(*KEYS, "reorder_point")
            if policy is not None
            else spark.createDataFrame([], "item_id string, region_id string, reorder_point double")
        )
        applied = (
            new.join(before.select(*KEYS, "start_on_hand"), KEYS, "left")
            .join(rops, KEYS, "left")
            .fillna({"start_on_hand": 0.0})
            .groupBy(*KEYS)
            .applyInPandas(_apply_group, APPLIED_SCHEMA)
            .persist()
        )
        try:
            with _timed(self.steps, "apply"):
                flags = applied.agg(
                    F.count("*"), F.sum(F.col("signal").cast("long")), F.sum(F.col("alert").cast("long"))
                ).first()
            with _timed(self.steps, "ledger"):
                self._append(
                    new.select(
                        *contract("stream_events").names[:-1], F.lit(batch_id).cast("long").alias("batch_id")
                    ),
                    "stream_events",
                    batch_id,
                    app_id,
                )
            _maybe_kill(batch_id, "after_ledger")
            with _timed(self.steps, "positions_merge"):
                self._merge_positions(spark, applied, before, batch_id, app_id, previous_mark, mark)
            self.mark = mark
            _maybe_kill(batch_id, "after_positions")
            if flags[1]:
                with _timed(self.steps, "signals"):
                    self._signals(applied.where(F.col("signal")), policy, policy_date, batch_id, app_id)
            _maybe_kill(batch_id, "after_signals")
            if flags[2]:
                with _timed(self.steps, "alerts"):
                    self._alerts(applied.where(F.col("alert")), batch_id, app_id)
        finally:
            applied.unpersist()
        return {
            "applied": flags[0],
            "signals": flags[1] or 0,
            "alerts": flags[2] or 0,
            "complete_through": str(mark),
        }

    def _append(self, df: DataFrame, table: str, batch_id: int, app_id: str) -> None:
        writer = (
            df.write.format("delta").mode("append").option("txnAppId", app_id).option("txnVersion", batch_id)
        )
        tables.save(writer, self.refs[table])

    def _quarantine(self, bad: DataFrame, batch_id: int, app_id: str) -> None:
        rows = bad.select(
            F.lit(self.cfg.stream.source).alias("source"),
            F.col("event_id"),
            F.col("payload"),
            F.col("reason_code"),
            reason_text(F.col("reason_code")).alias("reason"),
            F.lit(batch_id).cast("long").alias("batch_id"),
            F.current_timestamp().alias("quarantined_at"),
        )
        self._append(rows, "stream_quarantine", batch_id, app_id)

    def _merge_positions(
        self,
        spark: SparkSession,
        applied: DataFrame,
        before: DataFrame,
        batch_id: int,
        app_id: str,
        previous_mark: dt.datetime | None,
        mark: dt.datetime,
    ) -> None:
        late = F.col("event_time") <= F.lit(previous_mark) if previous_mark is not None else F.lit(False)
        moved = applied.groupBy(*KEYS).agg(
            F.sum("delta").alias("moved"),
            F.count("*").alias("n"),
            F.max("event_time").alias("hi"),
            F.sum(late.cast("long")).alias("late"),
        )
        prior = before.withColumnRenamed("start_on_hand", "start")
        rows = moved.join(prior, KEYS, "left").select(
            *KEYS,
            (F.coalesce("start", F.lit(0.0)) + F.col("moved")).alias("on_hand"),
            (F.coalesce("events_applied", F.lit(0)) + F.col("n")).alias("events_applied"),
            (F.coalesce("late_events", F.lit(0)) + F.col("late")).alias("late_events"),
            F.greatest("last_event_time", "hi").alias("last_event_time"),
            F.lit(mark).cast("timestamp").alias("complete_through"),
            F.lit(batch_id).cast("long").alias("batch_id"),
            F.coalesce("start", F.lit(0.0)).alias("batch_start_on_hand"),
        )
        target = tables.delta_table(spark, self.refs["inventory_position"])
        cond = " AND ".join(f"t.{k} = s.{k}" for k in KEYS)
        conf = spark.conf
        conf.set(_TXN_CONF[0], app_id)
        conf.set(_TXN_CONF[1], str(batch_id))
        try:  # a MERGE takes the idempotency keys from the session, not from writer options
            (
                target.alias("t")
                .merge(rows.alias("s"), cond)
                .whenMatchedUpdateAll()
                .whenNotMatchedInsertAll()
                .execute()
            )
        finally:
            for key in _TXN_CONF:
                conf.unset(key)

    def _signals(
        self, crossed: DataFrame, policy: DataFrame, policy_date: dt.date, batch_id: int, app_id: str
    ) -> None:
        rows = crossed.join(policy, KEYS, "left").select(
            F.sha2(F.concat_ws("|", *KEYS, "event_id"), 256).alias("signal_id"),
            *KEYS,
            "event_id",
            "event_time",
            "on_hand",
            "reorder_point",
            "order_qty",
            F.lit(policy_date).cast("date").alias("policy_run_date"),
            F.lit(batch_id).cast("long").alias("batch_id"),
            F.current_timestamp().alias("signalled_at"),
        )
        self._append(rows, "reorder_signals", batch_id, app_id)

    def _alerts(self, below: DataFrame, batch_id: int, app_id: str) -> None:
        rows = below.select(
            F.sha2(F.concat_ws("|", *KEYS, "event_id"), 256).alias("alert_id"),
            *KEYS,
            F.lit("negative_on_hand").alias("alert_type"),
            "event_id",
            "event_time",
            "on_hand",
            F.lit(batch_id).cast("long").alias("batch_id"),
            F.current_timestamp().alias("raised_at"),
        )
        self._append(rows, "stream_alerts", batch_id, app_id)
