"""inventory_position's side of a micro-batch: the rules applied to the batch's events (window functions, no
Python worker) and the one write of the positions per batch, exactly once through Delta's (txnAppId, txnVersion).

Two ways to write the positions, the same rows either way (stream.positions_write):
- merge: a Delta MERGE, rewriting the files holding the keys the batch touched; scales with the batch.
- overwrite: the whole table rewritten as one file from the positions read before the batch; fewer Spark jobs
  (one join and one write instead of the MERGE's source, touched-files and rewrite passes), the faster choice
  while the table is small (a table of item x region positions up to ~1M rows), and always one compact file.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from skuplan import tables
from skuplan.stream import rules
from skuplan.stream.tables import NightlyPlan

KEYS = rules.KEYS
_TXN_CONF = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")


def apply_batch(events: DataFrame, positions: DataFrame, plan: NightlyPlan, batch_id: int) -> DataFrame:
    """Good events of one batch -> one row per event with the position's stock before the batch (start_on_hand;
    for a key without a position, the opening stock of the nightly snapshot, else 0), the stock after the event
    (on_hand), and the rules' signal and alert flags (skuplan.stream.rules.apply_events)."""
    spark = events.sparkSession
    start = positions.select(
        *KEYS,
        F.when(F.col("batch_id") == batch_id, F.col("batch_start_on_hand"))
        .otherwise(F.col("on_hand"))
        .alias("position_on_hand"),
    )
    opening = plan.opening
    if opening is None:
        opening = spark.createDataFrame([], "item_id string, region_id string, opening_on_hand double")
    policy = plan.policy
    if policy is None:
        policy = spark.createDataFrame([], "item_id string, region_id string, reorder_point double")
    in_order = Window.partitionBy(*KEYS).orderBy("event_time", "event_id")
    running = in_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    joined = (
        events.join(start, KEYS, "left")
        .join(F.broadcast(opening.select(*KEYS, "opening_on_hand")), KEYS, "left")
        .join(F.broadcast(policy.select(*KEYS, "reorder_point")), KEYS, "left")
        .withColumn(
            "start_on_hand",
            F.coalesce("position_on_hand", "opening_on_hand", F.lit(0.0)),
        )
    )
    after = F.col("start_on_hand") + F.sum("delta").over(running)
    return (
        joined.withColumn("on_hand", after)
        # The stock before an event is the one after the event before it (not on_hand - delta, which rounds
        # differently from rules.apply_events when quantities are fractional).
        .withColumn("before", F.coalesce(F.lag("on_hand").over(in_order), F.col("start_on_hand")))
        .select(
            *KEYS,
            "event_id",
            "event_time",
            "delta",
            "on_hand",
            "start_on_hand",
            "opening_on_hand",
            "reorder_point",
            F.coalesce(
                (F.col("before") > F.col("reorder_point")) & (F.col("on_hand") <= F.col("reorder_point")),
                F.lit(False),
            ).alias("signal"),
            ((F.col("before") >= 0) & (F.col("on_hand") < 0)).alias("alert"),
        )
    )


def _changes(applied: DataFrame, previous_mark: dt.datetime | None) -> DataFrame:
    """One row per item x region the batch touched: stock after its last event, stock before the batch, events,
    latest event time, late events (at or before the complete_through of the batch before)."""
    late = F.col("event_time") <= F.lit(previous_mark) if previous_mark is not None else F.lit(False)
    return applied.groupBy(*KEYS).agg(
        F.max_by("on_hand", F.struct("event_time", "event_id")).alias("on_hand"),
        F.first("start_on_hand").alias("batch_start_on_hand"),
        F.count("*").alias("n"),
        F.max("event_time").alias("hi"),
        F.sum(late.cast("long")).alias("late"),
        F.first("opening_on_hand").alias("opening_on_hand"),
    )


def _assignments(
    run_date: dt.date | None, batch_id: int, mark: dt.datetime
) -> tuple[dict[str, Column], dict[str, Column]]:
    """(update of an existing position t, insert of a new one) from the batch's change s."""
    common = {
        "on_hand": F.col("s.on_hand"),
        "complete_through": F.lit(mark).cast("timestamp"),
        "batch_id": F.lit(batch_id).cast("long"),
        "batch_start_on_hand": F.col("s.batch_start_on_hand"),
    }
    update = {
        **common,
        "events_applied": F.col("t.events_applied") + F.col("s.n"),
        "late_events": F.col("t.late_events") + F.col("s.late"),
        "last_event_time": F.greatest("t.last_event_time", "s.hi"),
    }
    insert = {
        **{k: F.col(f"s.{k}") for k in KEYS},
        **common,
        "events_applied": F.col("s.n"),
        "late_events": F.col("s.late"),
        "last_event_time": F.col("s.hi"),
        "opening_on_hand": F.coalesce("s.opening_on_hand", F.lit(0.0)),
        "opening_run_date": F.when(F.col("s.opening_on_hand").isNotNull(), F.lit(run_date).cast("date")),
    }
    return update, insert


def write_positions(
    spark: SparkSession,
    ref: tables.TableRef,
    applied: DataFrame,
    plan: NightlyPlan,
    batch: tuple[str, int],
    marks: tuple[dt.datetime | None, dt.datetime],
    how: str,
) -> None:
    """The batch's one commit to inventory_position. batch: (txnAppId, batch_id); marks: (complete_through of
    the batch before, of this one); how: merge | overwrite (see the module)."""
    app_id, batch_id = batch
    changes = _changes(applied, marks[0]).alias("s")
    update, insert = _assignments(plan.run_date, batch_id, marks[1])
    if how == "overwrite":
        current = tables.read(spark, ref).alias("t")
        on = [F.col(f"t.{k}") == F.col(f"s.{k}") for k in KEYS]
        has_t, has_s = F.col("t.item_id").isNotNull(), F.col("s.item_id").isNotNull()
        columns = []
        for name in current.columns:
            if name in KEYS:
                value = F.coalesce(F.col(f"t.{name}"), F.col(f"s.{name}"))
            else:
                kept = F.col(f"t.{name}")
                value = (
                    F.when(has_t & has_s, update.get(name, kept)).when(has_s, insert[name]).otherwise(kept)
                )
            columns.append(value.alias(name))
        rows = current.join(changes, on, "full_outer").select(*columns).coalesce(1)
        writer = rows.write.format("delta").mode("overwrite")
        tables.save(writer.option("txnAppId", app_id).option("txnVersion", batch_id), ref)
        return
    conf = spark.conf
    settings = {_TXN_CONF[0]: app_id, _TXN_CONF[1]: str(batch_id)}
    for key, value in settings.items():  # a MERGE takes the idempotency keys from the session, not options
        conf.set(key, value)
    try:
        (
            tables.delta_table(spark, ref)
            .alias("t")
            .merge(changes, " AND ".join(f"t.{k} = s.{k}" for k in KEYS))
            .whenMatchedUpdate(set=update)
            .whenNotMatchedInsert(values=insert)
            .execute()
        )
    finally:
        for key in settings:
            conf.unset(key)
