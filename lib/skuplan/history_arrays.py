"""Series histories shipped as one row per series with list columns, unpacked on the Python side.

Spark moves a row through shuffle, sort and Arrow in about the time the forecast engine spends on a
series-day, so the Spark glue ships one row per series (see series.series_arrays) and the pandas side
rebuilds the long frame here from Arrow's flat buffers: no Python object per series-day. No Spark import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

# Per-day list columns of a series row, besides `day` (days since 1970-01-01, ascending).
DAY_COLUMNS = ("units", "promo", "price", "stockout")


def _flat(table: pa.Table, name: str) -> pa.Array:
    """Values of a list column, all series one after the other."""
    return table.column(name).combine_chunks().flatten()


# What a day without a row in the daily aggregate means: no sale, no promo, price unknown, not stocked out.
_ABSENT_DAY = {"units": 0.0, "promo": 0.0, "price": np.nan, "stockout": False}


def dense_lists(table: pa.Table, cutoff_day: int, window_days: int) -> pa.Table:
    """The table with its day lists made gap-free: every day from max(first_day, cutoff - window + 1) to the
    cutoff, absent days filled as _ABSENT_DAY. Unchanged when it has no first_day column (already dense).

    Spark ships only the days that have a row (series.series_arrays); filling here costs a few numpy
    scatters per bucket, where a calendar join in Spark shuffled one row per series-day.
    """
    if "first_day" not in table.column_names or table.num_rows == 0:
        return table
    first = table.column("first_day").to_numpy(zero_copy_only=False)
    first = np.where(pd.isna(first), cutoff_day + 1, first).astype(np.int64)  # no day up to the cutoff: empty
    start = np.maximum(first, cutoff_day - window_days + 1)
    length = np.maximum(cutoff_day - start + 1, 0)
    offsets = np.r_[0, np.cumsum(length)].astype(np.int32)
    total = int(offsets[-1])
    sparse_len = table.column("day").combine_chunks().value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    row = np.repeat(np.arange(table.num_rows), sparse_len.astype(np.int64))
    days = _flat(table, "day").to_numpy(zero_copy_only=False).astype(np.int64)
    at = days - start[row]
    keep = (at >= 0) & (days <= cutoff_day)
    pos = offsets[:-1][row[keep]] + at[keep]
    dense_days = np.repeat(start - offsets[:-1], length) + np.arange(total)
    columns = {"day": dense_days}
    for name, fill in _ABSENT_DAY.items():
        if name not in table.column_names:
            continue
        values = _flat(table, name)
        if name == "stockout":
            values = values.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        else:
            values = values.to_numpy(zero_copy_only=False).astype(float)
        out = np.full(total, fill, dtype=values.dtype)
        out[pos] = values[keep]
        columns[name] = out
    for name, values in columns.items():
        field = table.schema.field(name)
        flat = pa.array(values, from_pandas=True).cast(field.type.value_type)  # NaN price -> null
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat).cast(field.type)  # Spark's names
        table = table.set_column(table.schema.get_field_index(name), field, lists)
    return table


def history_from_arrow(table: pa.Table, cutoff_day: int) -> pd.DataFrame:
    """One row per series with list columns -> one row per series-day (item_id, region_id, date, units, ...).

    A series whose list is empty (no day inside the shipped window) still gets one row, on the cutoff with
    NaN units, so that the engine reports it (status failed, "no finite units") instead of losing it.
    """
    lengths = table.column("day").combine_chunks().value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    lengths = lengths.astype(np.int64)
    empty = lengths == 0
    reps = np.where(empty, 1, lengths)
    # Where a series is empty, splice one placeholder day into the flat arrays at its position.
    offsets = np.r_[0, np.cumsum(reps)[:-1]] if len(reps) else np.zeros(0, dtype=np.int64)
    n_rows = int(reps.sum())
    real = np.ones(n_rows, dtype=bool)
    real[offsets[empty]] = False

    def spread(values: np.ndarray, fill) -> np.ndarray:
        out = np.full(n_rows, fill, dtype=values.dtype if values.dtype != bool else bool)
        out[real] = values
        return out

    days = spread(_flat(table, "day").to_numpy(zero_copy_only=False).astype(np.int64), cutoff_day)
    out = {
        "item_id": np.repeat(table.column("item_id").to_numpy(zero_copy_only=False), reps),
        "region_id": np.repeat(table.column("region_id").to_numpy(zero_copy_only=False), reps),
        "date": days.astype("datetime64[D]").astype("datetime64[ns]"),
    }
    if "category" in table.column_names:
        out["category"] = np.repeat(table.column("category").to_numpy(zero_copy_only=False), reps)
    for name in DAY_COLUMNS:
        if name not in table.column_names:
            continue
        values = _flat(table, name)
        if name == "stockout":
            out[name] = spread(values.fill_null(False).to_numpy(zero_copy_only=False).astype(bool), False)
        else:
            fill = np.nan if name in ("units", "price") else 0.0
            out[name] = spread(values.to_numpy(zero_copy_only=False).astype(float), fill)  # nulls -> NaN
    return pd.DataFrame(out)


def lists_to_long(table: pa.Table, keys: list[str], lists: list[str]) -> pd.DataFrame:
    """Key columns repeated per list element, list columns flattened (same lengths per row assumed)."""
    lengths = table.column(lists[0]).combine_chunks().value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    out = {k: np.repeat(table.column(k).to_numpy(zero_copy_only=False), lengths) for k in keys}
    for name in lists:
        out[name] = _flat(table, name).to_numpy(zero_copy_only=False)
    return pd.DataFrame(out)


def units_matrix(table: pa.Table, keys: pd.DataFrame, cutoff_day: int, days: int) -> np.ndarray:
    """(len(keys), days) units of the `days` days up to the cutoff, most recent last, rows in the order of
    `keys` (item_id, region_id); NaN where a series has no value (before its start, or absent)."""
    long = lists_to_long(table, ["item_id", "region_id"], ["day", "units"])
    col = long["day"].to_numpy(dtype=np.int64) - (cutoff_day - days + 1)
    row_of = pd.Series(np.arange(len(keys)), index=pd.MultiIndex.from_frame(keys[["item_id", "region_id"]]))
    row = row_of.reindex(pd.MultiIndex.from_frame(long[["item_id", "region_id"]])).to_numpy()
    ok = (col >= 0) & (col < days) & np.isfinite(row)
    out = np.full((len(keys), days), np.nan)
    out[row[ok].astype(np.int64), col[ok]] = long["units"].to_numpy(dtype=float, na_value=np.nan)[ok]
    return out
