"""Spark glue for forecasting: buckets of many series per applyInPandas call, one pass, three outputs.

The pure engine (skuplan.forecast.engine) returns forecasts, status and metrics for a batch. Spark
can return one frame per call, so the three are stacked into one wide frame with a `_kind`
column, persisted once, and split; the UDF therefore runs once per bucket.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.faults import maybe_fail_once
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch, output_columns
from skuplan.schemas import struct_from_columns
from skuplan.series import SERIES_KEYS, with_bucket

KINDS = ("forecasts", "status", "metrics")
# Prophet costs ~150 ms per series, so Spark's per-group overhead is negligible and one series
# per group balances tasks best; the vectorized models want thousands of series per call.
PER_SERIES_MODELS = {"prophet"}


class ForecastOutputs(NamedTuple):
    forecasts: DataFrame
    status: DataFrame
    metrics: DataFrame


def _schemas(cfg: ForecastConfig) -> dict[str, T.StructType]:
    return {kind: struct_from_columns(cols) for kind, cols in output_columns(cfg).items()}


def _wide_schema(schemas: dict[str, T.StructType]) -> T.StructType:
    fields: dict[str, T.StructField] = {"_kind": T.StructField("_kind", T.StringType(), False)}
    for schema in schemas.values():
        for f in schema.fields:
            fields.setdefault(f.name, T.StructField(f.name, f.dataType, True))
    return T.StructType(list(fields.values()))


def _batch_function(cfg: ForecastConfig, cutoff: dt.date, events: pd.DataFrame | None, wide: T.StructType):
    names = wide.fieldNames()
    cutoff_ts = pd.Timestamp(cutoff)

    def run(history: pd.DataFrame) -> pd.DataFrame:
        maybe_fail_once("forecast", history["bucket"].iloc[0] if "bucket" in history and len(history) else "series")
        history = history.drop(columns=["bucket"], errors="ignore")
        history["date"] = pd.to_datetime(history["date"])
        result = forecast_batch(history, cfg, cutoff_ts, events=events)
        parts = []
        for kind, frame in zip(KINDS, result, strict=True):
            frame = frame.copy()
            if "date" in frame:
                frame["date"] = pd.to_datetime(frame["date"]).dt.date
            frame["_kind"] = kind
            parts.append(frame)
        return pd.concat(parts, ignore_index=True).reindex(columns=names)

    return run


def forecast_stage(
    filled_df: DataFrame,
    cfg: ForecastConfig,
    cutoff: dt.date,
    events_df: DataFrame | None = None,
    series_per_bucket: int = 1000,
) -> ForecastOutputs:
    """Forecast every item x region series of the gap-filled history (schema DAILY_SERIES)."""
    schemas = _schemas(cfg)
    wide = _wide_schema(schemas)
    # The events table is a small calendar (a few rows per year): shipped to every task as pandas.
    events = None
    if events_df is not None:
        events = events_df.select("date", "event_name", "region_id", "uplift_hint").orderBy("date", "event_name").toPandas()
        events["date"] = pd.to_datetime(events["date"])
    if cfg.model in PER_SERIES_MODELS:
        grouped = filled_df.groupBy(*SERIES_KEYS)
    else:
        n_series = filled_df.select(*SERIES_KEYS).distinct().count()
        n_buckets = max(1, math.ceil(n_series / series_per_bucket))
        grouped = with_bucket(filled_df, n_buckets).groupBy("bucket")
    wide_df = grouped.applyInPandas(_batch_function(cfg, cutoff, events, wide), schema=wide)
    wide_df = wide_df.persist(StorageLevel.MEMORY_AND_DISK)
    outs = {
        kind: wide_df.where(F.col("_kind") == kind).select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])
        for kind, schema in schemas.items()
    }
    return ForecastOutputs(**outs)
