"""Starting `skuplan stream`: the source, the foreachBatch writer, the checkpoint and the trigger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from skuplan.config import Config, validate_path
from skuplan.stream.batch import BatchWriter
from skuplan.stream.sources import deduplicate, parse_events, read_events
from skuplan.stream.tables import ensure_tables

log = logging.getLogger("skuplan.stream")


def checkpoint_location(cfg: Config) -> str:
    """stream.checkpoint under outputs.root unless absolute or with a scheme."""
    path = cfg.stream.checkpoint
    if "://" not in path and not path.startswith("/"):
        path = f"{cfg.outputs.root.rstrip('/')}/{path}"
    return validate_path(path, "stream.checkpoint")


def start_stream(
    spark: SparkSession,
    cfg: Config,
    *,
    available_now: bool = False,
    on_commit: Callable[[int, dict], None] | None = None,
) -> StreamingQuery:
    """Start the query. available_now: process what the source holds now, then stop (a scheduled job, tests);
    else a micro-batch every stream.trigger_seconds until stopped. Restarting with the same checkpoint goes on
    exactly once from where the last run stopped, whether it stopped cleanly or was killed."""
    refs = ensure_tables(spark, cfg)
    # The Delta idempotency key is the query's id: kept in the checkpoint, so stable across restarts, and new for
    # a new checkpoint (whose batch ids restart at 0 and must not be taken for batches already written).
    ready = threading.Event()
    holder: dict[str, str] = {}

    def app_id() -> str:
        if not ready.wait(timeout=600):
            raise RuntimeError("stream: the query id was not published within 600 s of the query's start")
        return holder["id"]

    writer = BatchWriter(cfg, refs, app_id, on_commit)
    events = deduplicate(parse_events(read_events(spark, cfg)), cfg.stream.dedup_retention_minutes)
    stream = (
        events.writeStream.foreachBatch(writer)
        .option("checkpointLocation", checkpoint_location(cfg))
        .queryName("skuplan_stream")
    )
    if available_now:
        stream = stream.trigger(availableNow=True)
    else:
        stream = stream.trigger(processingTime=f"{round(cfg.stream.trigger_seconds * 1000)} milliseconds")
    # No micro-batch without new data: such a batch would only move the deduplication watermark, and its state
    # is evicted by the next batch with data all the same. The query takes a copy of the session's settings when
    # it starts, so the setting is put back right after.
    conf, key = spark.conf, "spark.sql.streaming.noDataMicroBatches.enabled"
    before = conf.get(key, None)
    conf.set(key, "false")
    try:
        query = stream.start()
    finally:
        if before is None:
            conf.unset(key)
        else:
            conf.set(key, before)
    holder["id"] = f"skuplan-stream-{query.id}"
    ready.set()
    log.info(
        "stream %s started: source %s, checkpoint %s", query.id, cfg.stream.source, checkpoint_location(cfg)
    )
    return query
