"""Event sources of `skuplan stream` as one raw frame of text columns, and its parsing into typed events with a
rejection reason (skuplan.stream.rules.REASONS) for the bad ones.

Every field is read as text so that a bad value (qty "ten", an unknown kind) reaches the quarantine as sent,
never a null the reader made up or a failed batch.
"""

from __future__ import annotations

import os

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.config import Config
from skuplan.io import InputError
from skuplan.stream.rules import KIND_SIGN, REASONS, REQUIRED_FIELDS, UNSIGNED_KINDS

CORRUPT = "_corrupt_record"
TEXT_SCHEMA = T.StructType([T.StructField(name, T.StringType()) for name in REQUIRED_FIELDS])
# The raw frame every source yields: the event fields as text, the payload as received, and whether the payload
# was an object at all.
RAW_COLUMNS = [*REQUIRED_FIELDS, "payload", "malformed"]


def source_location(cfg: Config) -> str:
    """stream.path under inputs.root unless absolute or with a scheme (the nightly inputs' rule)."""
    path = cfg.stream.path
    if "://" in path or path.startswith("/"):
        return path
    return f"{cfg.inputs.root.rstrip('/')}/{path}"


def read_events(spark: SparkSession, cfg: Config) -> DataFrame:
    """The configured source as a streaming raw frame (RAW_COLUMNS)."""
    s = cfg.stream
    if s.source == "kafka":
        reader = (
            spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", s.kafka.bootstrap_servers)
            .option("subscribe", s.kafka.topic)
            .option("startingOffsets", s.kafka.starting_offsets)
            .option("maxOffsetsPerTrigger", str(s.max_records_per_batch))
            .option("failOnDataLoss", "true")
        )
        for key, value in s.kafka.options.items():
            reader = reader.option(f"kafka.{key}", value)
        return parse_kafka_values(reader.load())
    path = source_location(cfg)
    local = path.removeprefix("file://")
    if "://" not in local and not os.path.isdir(local):
        raise InputError(
            f"stream source {s.source}: folder {local} not found; set stream.path (under inputs.root unless "
            "absolute) to the folder the events are written to, or create it"
        )
    if s.source == "delta":
        df = (
            spark.readStream.format("delta")
            .option("maxFilesPerTrigger", str(s.max_files_per_batch))
            .load(path)
        )
        return raw_from_columns(df, path)
    return read_text_files(
        spark.readStream.option("maxFilesPerTrigger", str(s.max_files_per_batch)), s.format, path
    )


def read_text_files(reader, fmt: str, path: str) -> DataFrame:
    """JSON lines or CSV (header) events as the raw frame; `reader` is spark.readStream (the job) or spark.read.
    A CSV header must name the columns in the order of TEXT_SCHEMA (enforceSchema false: another header fails the
    read, naming the columns, instead of values landing in the wrong field)."""
    schema = T.StructType([*TEXT_SCHEMA.fields, T.StructField(CORRUPT, T.StringType())])
    reader = reader.schema(schema).option("columnNameOfCorruptRecord", CORRUPT).option("mode", "PERMISSIVE")
    if fmt == "csv":
        df = reader.option("header", "true").option("enforceSchema", "false").csv(path)
    else:
        df = reader.json(path)
    return _with_payload(df)


def _with_payload(df: DataFrame) -> DataFrame:
    """Text-file rows: the corrupt-record text where the line did not parse, else the fields as JSON."""
    fields = [F.col(n) for n in REQUIRED_FIELDS]
    return df.select(
        *fields,
        F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*fields))).alias("payload"),
        F.col(CORRUPT).isNotNull().alias("malformed"),
    )


def raw_from_columns(df: DataFrame, path: str) -> DataFrame:
    """A Delta table of events: its columns cast to text (a missing column is an InputError naming it)."""
    present = {f.name.lower(): f.name for f in df.schema.fields}
    missing = [n for n in REQUIRED_FIELDS if n not in present]
    if missing:
        raise InputError(
            f"stream source {path}: column(s) {missing} missing (found {sorted(present)}); the events "
            f"table needs {', '.join(REQUIRED_FIELDS)}"
        )
    fields = [F.col(f"`{present[n]}`").cast("string").alias(n) for n in REQUIRED_FIELDS]
    return df.select(*fields).select(
        *REQUIRED_FIELDS,
        F.to_json(F.struct(*REQUIRED_FIELDS)).alias("payload"),
        F.lit(False).alias("malformed"),
    )


def parse_kafka_values(df: DataFrame) -> DataFrame:
    """Kafka records (the connector's columns: key, value binary, topic, ...) -> the raw frame. The value is one
    JSON object per event; anything else is malformed (kept as text for the quarantine)."""
    raw = F.col("value").cast("string")
    # Bytes that are not UTF-8 are replaced (U+FFFD) in the payload kept for the quarantine: Delta and Arrow
    # readers of the quarantine must not fail on them.
    text = F.make_valid_utf8(raw)
    parsed = F.from_json(text, TEXT_SCHEMA)
    is_object = F.coalesce(
        F.is_valid_utf8(raw) & F.ltrim(text).startswith("{") & parsed.isNotNull(), F.lit(False)
    )
    return df.select(
        *[F.when(is_object, parsed[n]).alias(n) for n in REQUIRED_FIELDS],
        text.alias("payload"),
        (~is_object).alias("malformed"),
    )


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def parse_events(raw: DataFrame) -> DataFrame:
    """Raw frame -> typed events (event_time timestamp, qty and delta double) plus reason_code, null for a good
    event. The first rule that applies wins, in the order of skuplan.stream.rules.REASONS."""
    event_time = F.expr("try_cast(trim(event_time) AS TIMESTAMP)")
    qty = F.expr("try_cast(trim(qty) AS DOUBLE)")
    kind = F.lower(F.trim(F.col("kind")))
    sign = F.create_map(*[x for k, v in KIND_SIGN.items() for x in (F.lit(k), F.lit(v))])[kind]
    missing = F.lit(False)
    for name in REQUIRED_FIELDS:
        missing = missing | _blank(F.col(name))
    failed_by = {
        "malformed": F.col("malformed"),
        "missing_key": missing,
        "bad_event_time": event_time.isNull(),
        "unknown_kind": sign.isNull(),
        "non_numeric_qty": qty.isNull() | F.isnan(qty) | (F.abs(qty) == float("inf")),
        "negative_qty": kind.isin(*UNSIGNED_KINDS) & (qty < 0),
    }
    reason = F.lit(None).cast("string")
    for code in reversed(REASONS):  # built inside out, so the first rule in REASONS' order wins
        reason = F.when(failed_by[code], F.lit(code)).otherwise(reason)
    return raw.select(
        F.trim("event_id").alias("event_id"),
        F.trim("item_id").alias("item_id"),
        F.trim("region_id").alias("region_id"),
        event_time.alias("event_time"),
        kind.alias("kind"),
        qty.alias("qty"),
        (sign * qty).alias("delta"),
        "payload",
        reason.alias("reason_code"),
    )


def deduplicate(events: DataFrame, retention_minutes: float) -> DataFrame:
    """Parsed streaming events without redeliveries: the first arrival of each event_id is kept, the later ones
    within `retention_minutes` of it are dropped, in the query's own checkpointed state (so a micro-batch replayed
    after a kill drops exactly what it dropped the first time).

    The watermark is on arrival time (the micro-batch's timestamp, recorded in the checkpoint), not on event time:
    the state forgets an event_id `retention_minutes` after it arrived, and an event however late in event time
    is never dropped as late (it is applied, and counted as late in inventory_position). Bad events are kept
    apart by a key of their own (their payload's hash), so a redelivered bad event is quarantined once."""
    key = F.when(F.col("reason_code").isNull(), F.concat(F.lit("e|"), "event_id")).otherwise(
        F.concat(F.lit("q|"), F.sha2(F.coalesce("payload", F.lit("")), 256))
    )
    return (
        events.withColumn("dedup_key", key)
        .withColumn("arrived_at", F.current_timestamp())
        .withWatermark("arrived_at", f"{round(retention_minutes * 60_000)} milliseconds")
        .dropDuplicatesWithinWatermark(["dedup_key"])
        .drop("dedup_key", "arrived_at")
    )


def reason_text(code: Column) -> Column:
    """reason_code -> its human-readable reason (rules.REASONS)."""
    return F.create_map(*[x for k, v in REASONS.items() for x in (F.lit(k), F.lit(v))])[code]
