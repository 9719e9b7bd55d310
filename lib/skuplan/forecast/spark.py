"""Spark glue for forecasting (used by skuplan.stages.forecast): buckets of many series per Arrow UDF call.

The history arrives as one row per series with list columns (series.spark.series_arrays); each bucket of rows
becomes one SeriesBatch on the Python side and one forecast_batch call. The engine returns three frames
(forecasts, status, metrics) and Spark takes one per call, so they are stacked into one wide frame with a
`_kind` column, persisted once and split: the UDF runs once per bucket.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, GroupedData
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from skuplan.faults import maybe_fail_once
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.forecast.frames import output_contracts
from skuplan.schemas import struct_type
from skuplan.series.batch import SeriesBatch, epoch_day
from skuplan.series.spark import SERIES_KEYS, with_bucket

KINDS = ("forecasts", "status", "metrics")
# Prophet costs ~150 ms per series, so Spark's per-group overhead is negligible and one series
# per group balances tasks best; the vectorized models want thousands of series per call.
PER_SERIES_MODELS = {"prophet"}


class ForecastOutputs(NamedTuple):
    forecasts: DataFrame
    status: DataFrame
    metrics: DataFrame


def output_schemas(cfg: ForecastConfig) -> dict[str, T.StructType]:
    return {kind: struct_type(c, all_nullable=True) for kind, c in output_contracts(cfg).items()}


def wide_schema(schemas: dict[str, T.StructType]) -> T.StructType:
    fields: dict[str, T.StructField] = {"_kind": T.StructField("_kind", T.StringType(), False)}
    for schema in schemas.values():
        for f in schema.fields:
            # Dates travel as day numbers: Arrow date conversion per row costs more than the engine.
            dtype = T.IntegerType() if isinstance(f.dataType, T.DateType) else f.dataType
            fields.setdefault(f.name, T.StructField(f.name, dtype, True))
    return T.StructType(list(fields.values()))


def _to_days(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64).astype(np.int32)


def forecast_bucket(
    cfg: ForecastConfig,
    cutoff: dt.date,
    events: pd.DataFrame | None,
    wide: T.StructType,
    future: pd.DataFrame | None = None,
):
    """The UDF: a bucket of series rows -> its stacked forecasts, status and metrics.

    future: planned promo / price of the horizon (forecast_batch's `future`), shipped to every task; each
    bucket keeps the rows of its own series (forecast_batch joins on the keys)."""
    names = wide.fieldNames()
    arrow_schema = to_arrow_schema(wide)
    cutoff_day = epoch_day(cutoff)

    def run(table: pa.Table) -> pa.Table:
        maybe_fail_once("forecast", table.column("bucket")[0].as_py() if table.num_rows else "empty")
        batch = SeriesBatch.from_arrow(table, cutoff_day, cfg.max_history_days)
        result = forecast_batch(batch, cfg, events=events, future=future)
        parts = []
        for kind, frame in zip(KINDS, result, strict=True):
            extra = {"_kind": kind}
            if "date" in frame:
                extra["date"] = _to_days(frame["date"])
            parts.append(frame.assign(**extra))
        wide_frame = pd.concat(parts, ignore_index=True).reindex(columns=names)
        # Rows of the other kinds have no date: nullable ints, so Arrow gets int32 + nulls rather than floats.
        wide_frame["date"] = wide_frame["date"].astype("Int32")
        return pa.Table.from_pandas(wide_frame, schema=arrow_schema, preserve_index=False)

    return run


def events_frame(events_df: DataFrame | None) -> pd.DataFrame | None:
    """The events calendar (a few rows a year) as pandas, shipped to every task."""
    if events_df is None:
        return None
    events = events_df.select("date", "event_name", "region_id", "uplift_hint").orderBy("date", "event_name").toPandas()
    events["date"] = pd.to_datetime(events["date"])
    return events


def bucketed(arrays_df: DataFrame, cfg: ForecastConfig, n_series: int, series_per_bucket: int) -> GroupedData:
    """The series rows grouped for the UDF: buckets of about series_per_bucket series (a stable hash of the
    key), or one series per group for the models that fit one series at a time anyway."""
    if cfg.model in PER_SERIES_MODELS:
        return arrays_df.withColumn("bucket", F.lit(0)).groupBy(*SERIES_KEYS)
    return with_bucket(arrays_df, max(1, math.ceil(n_series / series_per_bucket))).groupBy("bucket")


def split_outputs(wide_df: DataFrame, schemas: dict[str, T.StructType]) -> ForecastOutputs:
    """The three outputs of the stacked UDF result, each with its contract's columns and types."""
    return ForecastOutputs(**{
        kind: wide_df.where(F.col("_kind") == kind).select(*[_output_column(f) for f in schema.fields])
        for kind, schema in schemas.items()
    })


def _output_column(field: T.StructField):
    if isinstance(field.dataType, T.DateType):
        return F.date_from_unix_date(F.col(field.name)).alias(field.name)
    return F.col(field.name).cast(field.dataType)
