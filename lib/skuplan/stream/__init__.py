"""Intraday stream (`skuplan stream`): inventory events -> positions, reorder signals and alerts, exactly once.

- rules.py: the pure rules (event effect, bad events, crossing detection, batch recomputation); no Spark
- config.py: the `stream:` config section (pure pydantic)
- sources.py: the event sources (files, Delta, Kafka) as one raw text frame, and its parsing into events + reasons
- tables.py: the stream's Delta tables and the latest complete inventory_policy
- batch.py: the foreachBatch writer: dedup, positions MERGE, signals, alerts, quarantine, idempotent per batch
- job.py: starting the query (checkpoint, trigger)

Importing this package loads neither pyspark nor the Spark modules.
"""
