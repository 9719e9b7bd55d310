"""The foreachBatch writer of `skuplan stream`: one micro-batch of parsed, deduplicated events -> quarantine,
reorder_signals, stream_alerts and one MERGE into inventory_position, exactly once.

Exactly once, whatever the point at which a run is killed: Spark replays an unfinished micro-batch with the same
batch_id, the same events and the same deduplication state (skuplan.stream.sources.deduplicate), and every Delta
commit of the batch carries (txnAppId = the query's id, txnVersion = batch_id), so a commit the killed attempt
made is skipped on replay instead of repeated. The batch's commits (reorder_signals, stream_alerts and the one
write of inventory_position) run at the same time and in no fixed order: every row is computed from the
positions as they were before the batch (a position the batch already wrote restarts from its
batch_start_on_hand, in case that write landed and only the checkpoint's commit was lost).

The rules and the positions write are in skuplan.stream.positions; this module runs the commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import tables
from skuplan.config import Config
from skuplan.stream import rules
from skuplan.stream.positions import apply_batch, write_positions
from skuplan.stream.sources import reason_text
from skuplan.stream.tables import NightlyPlan, PlanCache

log = logging.getLogger("skuplan.stream")

# Test-only hook ("<batch_id>:<step>", step after_signals: signals and alerts committed, the positions write
# maybe not yet; after_positions: all three committed): the process kills itself with SIGKILL at that point of
# that batch, as an operator's kill -9 or a lost driver would. Unset, it does nothing.
KILL_ENV = "SKUPLAN_STREAM_KILL_AT"
KEYS = rules.KEYS


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
        self.plan = PlanCache(cfg.stream.policy_refresh_seconds)
        # complete_through of the last batch this process committed (None: read it from the table, as after a
        # restart); only this writer moves it, so one read per process is enough.
        self.mark: dt.datetime | None = None
        self._auto: tuple[float, str] | None = None  # (when, merge | overwrite) of positions_write auto

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        self.steps: dict[str, float] = {}
        # Persisted: every step below reads the batch, and the deduplication must run once per batch.
        batch = batch_df.persist()
        try:
            stats = self._process(batch_df.sparkSession, batch, batch_id, self.app_id())
        finally:
            batch.unpersist()
        stats["steps"] = self.steps
        stats["seconds"] = round(time.perf_counter() - started, 3)
        log.info("stream batch %d: %s", batch_id, stats)
        if self.on_commit is not None:
            self.on_commit(batch_id, stats)

    def _process(self, spark: SparkSession, batch: DataFrame, batch_id: int, app_id: str) -> dict:
        with _timed(self.steps, "plan"):
            plan = self.plan.get(spark, self.cfg)
            positions = tables.read(spark, self.refs["inventory_position"])
            if self.mark is None:  # first batch of this process: where the last one left complete_through
                self.mark = positions.agg(F.max("complete_through")).first()[0]
        good = F.col("reason_code").isNull()
        # Good events with their positions and flags, and the bad ones for the quarantine, in one cached frame:
        # one Spark job computes the batch and every count the writes below need.
        rows = (
            apply_batch(batch.where(good), positions, plan, batch_id)
            .unionByName(
                batch.where(~good).select("event_id", "payload", "reason_code"), allowMissingColumns=True
            )
            .persist()
        )
        try:
            return self._write(spark, rows, plan, batch_id, app_id)
        finally:
            rows.unpersist()

    def _write(
        self, spark: SparkSession, rows: DataFrame, plan: NightlyPlan, batch_id: int, app_id: str
    ) -> dict:
        good = F.col("reason_code").isNull()
        with _timed(self.steps, "apply"):
            counts = rows.agg(
                F.count("*").alias("n"),
                F.sum((~good).cast("long")).alias("bad"),
                F.max("event_time").alias("hi"),
                F.sum(F.col("signal").cast("long")).alias("signals"),
                F.sum(F.col("alert").cast("long")).alias("alerts"),
            ).first()
        stats = {"events_in": counts["n"], "quarantined": counts["bad"] or 0}
        stats.update(applied=counts["n"] - stats["quarantined"], signals=0, alerts=0)
        if stats["quarantined"]:
            with _timed(self.steps, "quarantine"):
                self._quarantine(rows.where(~good), batch_id, app_id)
        if not stats["applied"]:
            return stats
        applied = rows.where(good)
        lateness = dt.timedelta(minutes=self.cfg.stream.allowed_lateness_minutes)
        mark = max(m for m in (self.mark, counts["hi"] - lateness) if m is not None)
        positions = (
            spark,
            self.refs["inventory_position"],
            applied,
            plan,
            (app_id, batch_id),
            (self.mark, mark),
            self._positions_write(spark),
        )
        # The three commits run at once (one Spark job each, in threads): a batch's time here is mostly Delta's
        # per-commit work on the driver, not data. Their order does not matter for exactly once: every row is
        # computed from the positions before the batch (apply_batch), and each commit is skipped on replay if it
        # landed, so a kill between any two of them replays to the same tables. The MERGE takes its idempotency
        # keys from the session, which the appends share: all three carry the same (app_id, batch_id), and Delta
        # does not reset the keys after a write (write.txnVersion.autoReset.enabled is false).
        # Killing at after_signals tests the state a slow positions write leaves (signals in, positions not):
        # the hook holds that write back until then, so the state is certain rather than a race.
        hold_positions = os.environ.get(KILL_ENV) == f"{batch_id}:after_signals"
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="stream-commit") as pool:
            pending = {}
            if not hold_positions:
                pending["positions"] = pool.submit(self._timed_call, "positions", write_positions, *positions)
            if counts["signals"]:
                crossed = applied.where(F.col("signal"))
                pending["signals"] = pool.submit(
                    self._timed_call, "signals", self._signals, crossed, plan, batch_id, app_id
                )
            if counts["alerts"]:
                below = applied.where(F.col("alert"))
                pending["alerts"] = pool.submit(self._timed_call, "alerts", self._alerts, below, batch_id, app_id)
            for name in ("signals", "alerts"):
                if name in pending:
                    pending[name].result()
            _maybe_kill(batch_id, "after_signals")
            if hold_positions:  # not reached when the hook kills; kept so the batch is whole if it did not
                pending["positions"] = pool.submit(self._timed_call, "positions", write_positions, *positions)
            pending["positions"].result()
        _maybe_kill(batch_id, "after_positions")
        self.mark = mark
        return {
            **stats,
            "positions_write": positions[-1],
            "signals": counts["signals"] or 0,
            "alerts": counts["alerts"] or 0,
            "complete_through": str(mark),
        }

    def _positions_write(self, spark: SparkSession) -> str:
        """stream.positions_write, auto resolved by the table's size: overwrite (one join, one file) while it is
        under stream.overwrite_max_mb, a MERGE of the touched keys above. Re-read every policy_refresh_seconds."""
        stream = self.cfg.stream
        if stream.positions_write != "auto":
            return stream.positions_write
        now = time.monotonic()
        if self._auto is None or now - self._auto[0] >= stream.policy_refresh_seconds:
            size = tables.delta_table(spark, self.refs["inventory_position"]).detail().first()["sizeInBytes"]
            self._auto = (now, "overwrite" if size < stream.overwrite_max_mb * 2**20 else "merge")
        return self._auto[1]

    def _timed_call(self, step: str, fn: Callable, *args) -> None:
        with _timed(self.steps, step):
            fn(*args)

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
        self._append(rows.coalesce(1), "stream_quarantine", batch_id, app_id)

    def _signals(self, crossed: DataFrame, plan: NightlyPlan, batch_id: int, app_id: str) -> None:
        rows = crossed.join(F.broadcast(plan.policy.select(*KEYS, "order_qty")), KEYS, "left").select(
            F.sha2(F.concat_ws("|", *KEYS, "event_id"), 256).alias("signal_id"),
            *KEYS,
            "event_id",
            "event_time",
            "on_hand",
            "reorder_point",
            "order_qty",
            F.lit(plan.run_date).cast("date").alias("policy_run_date"),
            F.lit(batch_id).cast("long").alias("batch_id"),
            F.current_timestamp().alias("signalled_at"),
        )
        self._append(rows.coalesce(1), "reorder_signals", batch_id, app_id)

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
        self._append(rows.coalesce(1), "stream_alerts", batch_id, app_id)
