"""Spark side of prepare on the day lists: statistics and outlier flags computed from the lists (numpy, in
series.window_stats, one Arrow batch of series at a time, no shuffle), and an incremental night's lists built
from last night's and the new days' (a broadcast join: the history is never aggregated again).

The lists are series_arrays rows plus `last_sale_day` (whole history), over `list_window(cfg)` days: the forecast's
window, or the statistics' year if that is longer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.contracts import contract
from skuplan.schemas import struct_type
from skuplan.series.batch import epoch_day
from skuplan.series.spark import SERIES_KEYS, series_arrays
from skuplan.series.window_stats import STATS_WINDOW_DAYS, outlier_days, window_stats

LIST_COLUMNS = ("day", "units", "promo", "price", "stockout")


def list_window(max_history_days: int) -> int:
    """Days the lists hold: the forecast's history window, or the statistics' year if that is longer."""
    return max(max_history_days, STATS_WINDOW_DAYS)


def full_lists(daily_df: DataFrame, cutoff: dt.date, window_days: int) -> DataFrame:
    """The lists of every series from the daily aggregate of the whole history (a full prepare)."""
    return series_arrays(daily_df, cutoff, window_days, with_last_sale=True)


def merged_lists(previous: DataFrame, new_daily: DataFrame, cutoff: dt.date, window_days: int) -> DataFrame:
    """Tonight's lists from last night's (`previous`: lists up to an earlier cutoff, with last_sale_day) and the
    daily aggregate of the days after it (`new_daily`): last night's days still inside the window, then the new
    days. Equal to full_lists over the whole history, the new days included (the days never overlap)."""
    new = series_arrays(new_daily, cutoff, window_days, with_last_sale=True)
    oldest = epoch_day(cutoff) - window_days  # days up to this one left the window
    drop = F.size(F.filter(F.col("p.day"), lambda d: d <= oldest))  # ascending lists: a prefix goes
    kept = {
        c: F.slice(F.col(f"p.{c}"), drop + 1, F.greatest(F.size(F.col("p.day")), F.lit(1)))
        for c in LIST_COLUMNS
    }
    both = previous.alias("p").join(F.broadcast(new.alias("n")), SERIES_KEYS, "left")
    old = both.select(
        *SERIES_KEYS,
        F.least("p.first_day", "n.first_day").alias("first_day"),
        *[
            F.concat(kept[c], F.coalesce(F.col(f"n.{c}"), F.array().cast(previous.schema[c].dataType))).alias(
                c
            )
            for c in LIST_COLUMNS
        ],
        F.greatest("p.last_sale_day", "n.last_sale_day").alias("last_sale_day"),
    )
    fresh = new.join(previous.select(*SERIES_KEYS), SERIES_KEYS, "left_anti")  # series first seen tonight
    return old.unionByName(fresh.select(*old.columns))


def stats_from_lists(lists: DataFrame, cutoff: dt.date, window_days: int = STATS_WINDOW_DAYS) -> DataFrame:
    """series_stats (its contract's columns) of the series with a day up to the cutoff, over the last
    `window_days` days (the lists must hold at least those)."""
    schema = struct_type(contract("series_stats"))
    cutoff_day = epoch_day(cutoff)
    arrow_schema = pa.schema([pa.field(f.name, _arrow(f.dataType)) for f in schema.fields])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            batch = batch.filter(batch.column("first_day").is_valid())
            offsets, day, units = _flat(batch, "units")
            first = batch.column("first_day")
            cols = window_stats(
                first.to_numpy(zero_copy_only=False).astype(np.int64),
                offsets,
                day,
                units,
                cutoff_day,
                window_days,
            )
            yield pa.RecordBatch.from_pydict(
                {
                    **{k: batch.column(k) for k in SERIES_KEYS},
                    "n_obs": cols["n_obs"],
                    "first_date": first.cast(pa.date32()),
                    "last_sale_date": batch.column("last_sale_day").cast(pa.date32()),
                    **{k: cols[k] for k in ("mean_daily", "std_daily", "adi", "cv2", "annual_units")},
                },
                schema=arrow_schema,
            )

    needed = lists.select(*SERIES_KEYS, "first_day", "last_sale_day", "day", "units")
    return needed.mapInArrow(run, schema)


def flags_from_lists(lists: DataFrame, factor: float) -> DataFrame:
    """data_flags rows (EXTREME_OUTLIER) of the listed days: units above factor x the series' median non-zero day."""
    schema = struct_type(contract("data_flags"))
    arrow_schema = pa.schema([pa.field(f.name, _arrow(f.dataType)) for f in schema.fields])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            offsets, day, units = _flat(batch, "units")
            rows, days, values, threshold = outlier_days(offsets, day, units, factor)
            yield pa.RecordBatch.from_pydict(
                {
                    **{k: batch.column(k).take(pa.array(rows, pa.int64())) for k in SERIES_KEYS},
                    "date": pa.array(days.astype("int32"), pa.int32()).cast(pa.date32()),
                    "flag": pa.array(["EXTREME_OUTLIER"] * len(rows), pa.string()),
                    "value": values,
                    "threshold": threshold,
                },
                schema=arrow_schema,
            )

    return lists.select(*SERIES_KEYS, "day", "units").mapInArrow(run, schema)


def _flat(batch: pa.RecordBatch, values: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets, days and values of a batch's list columns (never null: collect_list and concat give [])."""
    day = batch.column("day")
    offsets = day.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]
    flat = batch.column(values).flatten().to_numpy(zero_copy_only=False).astype(float)
    return offsets, day.flatten().to_numpy(zero_copy_only=False).astype(np.int64), flat


def _arrow(dtype: T.DataType) -> pa.DataType:
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(dtype)
