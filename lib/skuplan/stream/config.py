"""Configuration of `skuplan stream` (section `stream:`), pure pydantic. No credentials: a secured Kafka gets
them from the cluster (a JAAS file, a Databricks secret turned into a Spark conf), never from this file."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SERVERS = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$")
# Kafka settings a job may pass through (kafka.<name>); anything credential-like is refused here.
_KAFKA_OPTION = re.compile(
    r"^(security\.protocol|sasl\.mechanism|client\.id|group\.id|session\.timeout\.ms|"
    r"request\.timeout\.ms|fetch\.max\.bytes|max\.partition\.fetch\.bytes)$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSource(_Strict):
    bootstrap_servers: str = "localhost:9092"
    topic: str = "inventory-events"
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    # Extra consumer settings (kafka.security.protocol ...); credentials come from the cluster, not from here.
    options: dict[str, str] = {}

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, v: str) -> str:
        if not _SERVERS.fullmatch(v):
            raise ValueError(f"stream.kafka.bootstrap_servers must be host:port[,host:port...], got {v!r}")
        return v

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        if not _TOPIC.fullmatch(v):
            raise ValueError(
                f"stream.kafka.topic must be a Kafka topic name ([A-Za-z0-9._-], 1-249), got {v!r}"
            )
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in v if not _KAFKA_OPTION.fullmatch(k))
        if bad:
            raise ValueError(
                f"stream.kafka.options: {bad} not allowed (allowed: {_KAFKA_OPTION.pattern[2:-2]}); "
                "credentials (sasl.jaas.config, passwords) belong to the cluster's secret store"
            )
        return v


class StreamConfig(_Strict):
    # Where events come from: a folder of files (json lines or csv, the local default), a Delta table, or Kafka.
    source: Literal["files", "delta", "kafka"] = "files"
    # files/delta: a path under inputs.root unless absolute or with a scheme (like the nightly inputs).
    path: str = "stream_events"
    format: Literal["json", "csv"] = "json"
    kafka: KafkaSource = KafkaSource()
    # Streaming checkpoint (offsets and commits): restart from it continues exactly once. Under outputs.root
    # unless absolute or with a scheme.
    checkpoint: str = "_checkpoints/stream"
    # Processing-time trigger; 0 = the next micro-batch starts as soon as the previous one commits.
    trigger_seconds: float = Field(0.0, ge=0)
    # Upper bound of one micro-batch (files: files per trigger; kafka/delta: records per trigger).
    max_files_per_batch: int = Field(1000, ge=1)
    max_records_per_batch: int = Field(500_000, ge=1)
    # A position row is complete up to the latest event time seen minus this: events later than it are still
    # applied (and counted as late), but a reader should not take the row as final before that time.
    allowed_lateness_minutes: float = Field(60.0, ge=0)
    # How a micro-batch writes inventory_position (skuplan.stream.positions): merge = a Delta MERGE of the touched
    # keys (for large tables); overwrite = the whole table as one file, fewer Spark jobs per batch (faster while the
    # table is small); auto = overwrite while the table is under overwrite_max_mb, merge above (the size is read
    # again every policy_refresh_seconds). Both ways exactly once; switching between batches or restarts is safe.
    positions_write: Literal["auto", "merge", "overwrite"] = "auto"
    overwrite_max_mb: float = Field(64.0, ge=0)
    # Redeliveries (same event_id) are dropped while the first delivery is remembered: the query keeps each
    # event_id in its checkpointed state for this long after it arrived (a watermark on arrival time), then
    # forgets it. State size ~ event rate x this; an event_id redelivered later than this is applied again.
    dedup_retention_minutes: float = Field(60.0, gt=0)
    # How often the inventory_policy in force is re-resolved (latest complete nightly run), in seconds.
    policy_refresh_seconds: float = Field(300.0, ge=0)

    @field_validator("path", "checkpoint")
    @classmethod
    def _safe(cls, v: str) -> str:
        from skuplan.config import validate_path  # here: skuplan.config imports this module

        return validate_path(v, "stream path")
