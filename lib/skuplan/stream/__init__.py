"""Intraday stream (`skuplan stream`): inventory events -> positions, reorder signals and alerts, exactly once.

- rules.py: the pure rules (event effect, bad events, crossing detection, batch recomputation); no Spark
- config.py: the `stream:` config section (pure pydantic)
- sources.py: the event sources (files, Delta, Kafka) as one raw text frame, its parsing into events + reasons,
  and the deduplication by event_id in the query's state
- tables.py: the stream's Delta tables and the nightly plan (reorder points, opening stock) it works against
- positions.py: the rules as window functions over a micro-batch, and the one positions write (MERGE or overwrite)
- batch.py: the foreachBatch writer: quarantine, signals, alerts, then the positions, idempotent per batch
- job.py: starting the query (checkpoint, trigger)

Importing this package loads neither pyspark nor the Spark modules.
"""
