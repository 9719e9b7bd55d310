"""SeriesBatch: the one in-memory shape of many daily series, used by every Python-side stage.

Spark ships one row per series with list columns (see series.spark.series_arrays), holding only the days that
have a row. `SeriesBatch.from_arrow` turns a bucket of those rows into gap-free (days, series) blocks on one
daily grid, filling absent days; forecasting, segmentation, planning and replay all read these blocks, so the
gap-fill convention lives here and nowhere else. No Spark import.

Conventions:
- columns are series, sorted by (item_id, region_id) as strings; rows are days, oldest first, the last one
  the cutoff;
- a series starts at its first day with a row, or at the window's first day if that is later; before its
  start its units are NaN, after it an absent day is a zero sale (no promo, unknown price, not stocked out);
- a series with no day inside the window keeps one day, the cutoff, with unknown (NaN) units, so that the
  stage that receives it reports it instead of losing it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

KEYS = ["item_id", "region_id"]
# Per-day list columns besides `day` (days since 1970-01-01), and what a day without a row means.
ABSENT_DAY = {"units": 0.0, "promo": 0.0, "price": np.nan, "stockout": False}
EPOCH = dt.date(1970, 1, 1)


def epoch_day(day: dt.date | pd.Timestamp) -> int:
    """Days since 1970-01-01 (Spark's unix_date) of a date or a timestamp's date."""
    if isinstance(day, dt.datetime):  # a pandas Timestamp too
        day = day.date()
    return (day - EPOCH).days


@dataclass(frozen=True)
class SeriesBatch:
    keys: pd.DataFrame  # one row per series: item_id, region_id (+ category), canonical order, index 0..N-1
    day0: int  # epoch day of row 0; the last row is the cutoff
    start: np.ndarray  # (N,) row of each series' first day
    values: dict[str, np.ndarray]  # column name -> (days, N); always has "units"

    @property
    def units(self) -> np.ndarray:
        return self.values["units"]

    @property
    def n_series(self) -> int:
        return len(self.keys)

    @property
    def n_days(self) -> int:
        return self.units.shape[0]

    @property
    def cutoff_day(self) -> int:
        return self.day0 + self.n_days - 1

    def dates(self, extra_days: int = 0) -> pd.DatetimeIndex:
        """The grid's dates, plus `extra_days` after the cutoff."""
        first = pd.Timestamp(EPOCH) + pd.Timedelta(days=self.day0)
        return pd.date_range(first, periods=self.n_days + extra_days, freq="D")

    def last_days(self, days: int, name: str = "units") -> np.ndarray:
        """(days, N) of the last `days` days up to the cutoff; NaN-padded on top where the grid is shorter."""
        block = self.values[name][-days:] if days else self.values[name][:0]
        pad = days - len(block)
        if pad <= 0:
            return block
        return np.vstack([np.full((pad, self.n_series), np.nan), block.astype(float)])

    def subset(self, columns: np.ndarray) -> SeriesBatch:
        """The batch of the series at `columns` (positions, kept in canonical order), its grid trimmed to
        start at the earliest start among them."""
        columns = np.sort(np.asarray(columns, dtype=np.int64))
        start = self.start[columns]
        cut = int(start.min()) if len(columns) else self.n_days - 1
        values = {name: v[cut:, columns] for name, v in self.values.items()}
        keys = self.keys.iloc[columns].reset_index(drop=True)
        return SeriesBatch(keys, self.day0 + cut, start - cut, values)

    def positions(self, keys: pd.DataFrame) -> np.ndarray:
        """Column of each row of `keys` (item_id, region_id) in this batch; -1 where absent."""
        index = pd.MultiIndex.from_frame(self.keys[KEYS].astype(str))
        wanted = pd.MultiIndex.from_frame(keys[KEYS].astype(str))
        return index.get_indexer(wanted)

    @classmethod
    def from_arrow(cls, table: pa.Table, cutoff_day: int, window_days: int | None) -> SeriesBatch:
        """From rows of series.spark.series_arrays: keys (+ category), first_day and the day lists.

        Only days in (cutoff - window_days, cutoff] are kept (all up to the cutoff when window_days is None).
        """
        keys = pd.DataFrame({k: _objects(table.column(k)) for k in _key_columns(table.column_names)})
        first = table.column("first_day").to_numpy(zero_copy_only=False)
        first = np.where(pd.isna(first), cutoff_day + 1, first).astype(np.int64)
        lengths = table.column("day").combine_chunks().value_lengths().fill_null(0)
        row = np.repeat(np.arange(table.num_rows), lengths.to_numpy(zero_copy_only=False).astype(np.int64))
        days = _flat(table, "day").astype(np.int64)
        observed = {name: _flat(table, name) for name in ABSENT_DAY if name in table.column_names}
        return _assemble(keys, first, row, days, observed, cutoff_day, window_days)

    @classmethod
    def from_long(cls, frame: pd.DataFrame, cutoff: dt.date | pd.Timestamp,
                  window_days: int | None = None) -> SeriesBatch:
        """From one row per series-day (item_id, region_id, date, units, [promo, price, stockout, category]),
        as tests, notebooks and benches hold history; rows after the cutoff are ignored.

        Raises ValueError naming the column and the fix for a malformed frame (missing column, wrong dtype,
        null key or date, two rows for one series-day up to the cutoff), never for bad values: NaN, inf or
        negative units are the consumer's to judge. Keys are compared and kept as text."""
        _check_long(frame)
        cutoff_day = epoch_day(pd.Timestamp(cutoff))
        keys_all = frame[_key_columns(frame.columns)].astype({k: str for k in KEYS})
        keys = keys_all.drop_duplicates(KEYS).reset_index(drop=True)
        row = pd.MultiIndex.from_frame(keys[KEYS]).get_indexer(pd.MultiIndex.from_frame(keys_all[KEYS]))
        days = frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        first = np.full(len(keys), cutoff_day + 1, dtype=np.int64)
        past = days <= cutoff_day
        _check_unique(row[past], days[past])
        np.minimum.at(first, row[past], days[past])
        observed = {
            name: frame[name].fillna(False).to_numpy(dtype=bool) if name == "stockout"
            else frame[name].to_numpy(dtype=float, na_value=np.nan)
            for name in ABSENT_DAY if name in frame.columns
        }
        return _assemble(keys, first, row, days, observed, cutoff_day, window_days)


# Long-frame columns: what each must hold, and how to fix it. Optional ones are checked when present.
_LONG_COLUMNS = {
    "item_id": ("string", "cast it with .astype(str)"),
    "region_id": ("string", "cast it with .astype(str)"),
    "date": ("datetime", "convert it with pd.to_datetime(...)"),
    "units": ("float", "cast it with .astype('float64')"),
}
_LONG_OPTIONAL = {
    "promo": ("float", "cast it with .astype('float64')"),
    "price": ("numeric", "cast it with .astype('float64') (NaN allowed)"),
    "stockout": ("bool", "cast it with .astype(bool)"),
}


def _check_long(frame: pd.DataFrame) -> None:
    """ValueError naming the column and the fix for a malformed long frame (see from_long)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"history must be a pandas DataFrame, got {type(frame).__name__}")
    for col in _LONG_COLUMNS:
        if col not in frame.columns:
            raise ValueError(
                f"history is missing column {col!r}; expected columns {list(_LONG_COLUMNS)}"
                f" + optional {list(_LONG_OPTIONAL)} and 'category'"
            )
    api = pd.api.types
    for col, (kind, fix) in {**_LONG_COLUMNS, **_LONG_OPTIONAL}.items():
        if col not in frame.columns:
            continue
        s = frame[col]
        ok = {
            "string": api.is_string_dtype(s) or api.is_object_dtype(s),
            "datetime": api.is_datetime64_any_dtype(s),
            "float": api.is_numeric_dtype(s) and not api.is_bool_dtype(s),
            "numeric": api.is_numeric_dtype(s),
            "bool": api.is_bool_dtype(s),
        }[kind]
        if not ok:
            raise ValueError(f"history column {col!r} has dtype {s.dtype}, expected {kind}: {fix}")
    if frame[KEYS].isna().to_numpy().any() or frame["date"].isna().any():
        raise ValueError("history has null item_id, region_id or date; drop or fill those rows first")


def _check_unique(row: np.ndarray, days: np.ndarray) -> None:
    """ValueError if two observations share a series (`row`) and a day: one count per cell of the (series x
    days) grid, linear in the rows, unlike a sort."""
    if len(row) == 0:
        return
    span = int(days.max() - days.min()) + 1
    if np.bincount(row.astype(np.int64) * span + (days - days.min())).max() > 1:
        raise ValueError("history has duplicate (item_id, region_id, date) rows; aggregate them first")


def _key_columns(columns) -> list[str]:
    return [*KEYS, *(["category"] if "category" in columns else [])]


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _flat(table: pa.Table, name: str) -> np.ndarray:
    """Values of a list column, all series one after the other; nulls become NaN (False for stockout)."""
    values = table.column(name).combine_chunks().flatten()
    if name == "stockout":
        return values.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    if name == "day":
        return values.to_numpy(zero_copy_only=False)
    return values.to_numpy(zero_copy_only=False).astype(float)


def _assemble(keys: pd.DataFrame, first: np.ndarray, row: np.ndarray, days: np.ndarray,
              observed: dict[str, np.ndarray], cutoff_day: int, window_days: int | None) -> SeriesBatch:
    """The gap-free blocks from sparse observations: `row` and `days` give each observed value's series (a
    position in `keys`) and epoch day; `first` is each series' first day up to the cutoff (cutoff + 1: none)."""
    order = np.lexsort((keys["region_id"].astype(str).to_numpy(), keys["item_id"].astype(str).to_numpy()))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    keys = keys.iloc[order].reset_index(drop=True).astype({k: object for k in KEYS})
    begin = first[order] if window_days is None else np.maximum(first[order], cutoff_day - window_days + 1)
    empty = begin > cutoff_day
    begin = np.where(empty, cutoff_day, begin)
    day0 = int(begin.min()) if len(begin) else cutoff_day
    n_days, start = cutoff_day - day0 + 1, begin - day0
    col = rank[row] if len(row) else row
    keep = (days >= begin[col]) & (days <= cutoff_day) if len(row) else np.zeros(0, dtype=bool)
    t, col = days[keep] - day0, col[keep]
    alive = np.arange(n_days)[:, None] >= start[None, :]
    values = {}
    for name, absent in ABSENT_DAY.items():
        if name not in observed:
            continue
        if name == "units":
            block = np.where(alive, absent, np.nan)
        else:
            block = np.full((n_days, len(keys)), absent, dtype=bool if name == "stockout" else float)
        block[t, col] = observed[name][keep]
        values[name] = block
    values["units"][n_days - 1, empty] = np.nan  # the placeholder day of a series with none in the window
    return SeriesBatch(keys, day0, start.astype(np.int64), values)
