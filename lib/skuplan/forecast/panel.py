"""Long history frame -> dense (time x series) arrays on one shared daily grid.

Every model works on these arrays, so a batch is pivoted once. Backtests take `Panel.view(end, h)`, which
*slices* the arrays: a fold's model cannot see a date at or after its cut-off because the data is not there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.forecast.calendar import EventColumns, event_columns

REQUIRED = {
    "item_id": "string",
    "region_id": "string",
    "date": "datetime",
    "units": "float",
    "promo": "float",
}
KEYS = ["item_id", "region_id"]


def validate_history(history: pd.DataFrame) -> None:
    """Raise ValueError naming the column and the fix for a malformed frame (never for bad values)."""
    if not isinstance(history, pd.DataFrame):
        raise ValueError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    for col, kind in REQUIRED.items():
        if col not in history.columns:
            raise ValueError(f"history is missing column {col!r}; expected columns {list(REQUIRED)} + price")
        s = history[col]
        ok = {
            "string": pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s),
            "datetime": pd.api.types.is_datetime64_any_dtype(s),
            "float": pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s),
        }[kind]
        if not ok:
            fix = {
                "string": "cast it with .astype(str)",
                "datetime": "convert it with pd.to_datetime(...)",
                "float": "cast it with .astype('float64')",
            }[kind]
            raise ValueError(f"history column {col!r} has dtype {s.dtype}, expected {kind}: {fix}")
    if "price" in history.columns and not pd.api.types.is_numeric_dtype(history["price"]):
        raise ValueError(
            f"history column 'price' has dtype {history['price'].dtype}, expected float64 (NaN allowed)"
        )
    if "stockout" in history.columns and not pd.api.types.is_bool_dtype(history["stockout"]):
        raise ValueError(f"history column 'stockout' has dtype {history['stockout'].dtype}, expected bool")


@dataclass
class Panel:
    """Arrays over a grid of T history days (+ H future days for the regressors)."""

    keys: pd.DataFrame  # N rows: item_id, region_id (+ category), in canonical sorted order
    dates: pd.DatetimeIndex  # T + H days; the first T are history
    y: np.ndarray  # (T, N) units as given; NaN before a series' start (the engine masks bad/censored days)
    censored: np.ndarray  # (T, N) stockout days: demand unobserved, never learned as low demand
    start: np.ndarray  # (N,) index of each series' first day
    promo: np.ndarray  # (T + H, N)
    log_price: np.ndarray  # (T + H, N) log(price / series median price), 0 when unknown
    events: EventColumns  # events table as dummies over the T + H days
    n_hist: int

    @property
    def n_series(self) -> int:
        return self.y.shape[1]

    def view(self, end: int, h: int, cols: np.ndarray | None = None) -> View:
        """Training data for days [0, end) and regressors for days [end, end + h) of series `cols`."""
        full = cols is None or (len(cols) == self.n_series and (np.diff(cols) == 1).all())
        c = slice(None) if full else cols  # a slice is a view: no copy of the (T, N) arrays
        return View(
            y=self.y[:end, c],
            start=self.start[c],
            dates=self.dates[: end + h],
            promo=self.promo[: end + h, c],
            log_price=self.log_price[: end + h, c],
            ev_shared=self.events.shared[: end + h],
            ev_series=self.events.series[: end + h, c],
            ev_prior=np.concatenate([self.events.shared_prior, self.events.series_prior]),
            ev_names=self.events.names,
            end=end,
            h=h,
        )


@dataclass
class View:
    y: np.ndarray  # (end, n) training units, NaN = missing
    start: np.ndarray
    dates: pd.DatetimeIndex  # end + h
    promo: np.ndarray  # (end + h, n)
    log_price: np.ndarray
    ev_shared: np.ndarray  # (end + h, ks) events for all regions
    ev_series: np.ndarray  # (end + h, n, kr) regional events
    ev_prior: np.ndarray  # (ks + kr,) log uplift hints
    ev_names: list[str]
    end: int
    h: int

    @property
    def observed(self) -> np.ndarray:
        return np.isfinite(self.y)


def build_panel(
    history: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    future: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> Panel:
    """Pivot to the grid [first date, cutoff + horizon]. Rows after the cutoff are ignored (no peeking).

    Days missing inside a series count as 0 units (the upstream gap-fill convention). Series are ordered by
    (item_id, region_id) as strings. Stockout flags are kept in `censored` for the engine to mask.
    """
    # Factorize instead of sorting millions of rows: sorted codes give the canonical (item, region) order.
    # Keys come from all rows, so a series with no row on or before the cutoff still gets a (failed) status.
    # numpy only from here: pandas boolean indexing would copy (and consolidate) the whole frame.
    item_code, items = _factorize_runs(history["item_id"].to_numpy())
    region_code, regions = _factorize_runs(history["region_id"].to_numpy())
    if (item_code < 0).any() or (region_code < 0).any() or history["date"].isna().any():
        raise ValueError("history has null item_id, region_id or date; drop or fill those rows first")
    n_reg = max(len(regions), 1)
    combined = item_code.astype(np.int64) * n_reg + region_code
    present = np.bincount(combined, minlength=len(items) * n_reg) > 0  # O(rows); np.unique is slower
    uniq = np.flatnonzero(present)
    sid_all = (np.cumsum(present) - 1)[combined]
    n = len(uniq)
    keys = pd.DataFrame({"item_id": items[uniq // n_reg], "region_id": regions[uniq % n_reg]})
    keys = keys.astype({"item_id": object, "region_id": object})
    date_all = history["date"].to_numpy()
    keep = date_all <= np.datetime64(cutoff)
    sid, date = sid_all[keep], date_all[keep]
    if "category" in history.columns:
        cat = np.empty(n, dtype=object)
        cat[sid_all[::-1]] = history["category"].to_numpy()[::-1]  # first row of each series wins
        keys["category"] = cat
    d0 = pd.Timestamp(date.min()) if len(date) else cutoff
    t_hist = int((cutoff - d0).days) + 1
    dates = pd.date_range(d0, periods=t_hist + horizon, freq="D")
    ti = ((date - np.datetime64(d0)) // np.timedelta64(1, "D")).astype(np.int64)
    counts = np.bincount(sid * t_hist + ti, minlength=n * t_hist)
    if len(counts) and counts.max() > 1:
        raise ValueError("history has duplicate (item_id, region_id, date) rows; aggregate them first")

    start = np.full(n, t_hist, dtype=np.int64)
    np.minimum.at(start, sid, ti)
    y = np.full((t_hist, n), np.nan)
    grid_t = np.arange(t_hist)[:, None]
    y[grid_t >= start[None, :]] = 0.0  # gap-fill convention inside each series' span

    def col(name):
        return history[name].to_numpy(dtype=float, na_value=np.nan)[keep]

    y[ti, sid] = col("units")
    censored = np.zeros((t_hist, n), dtype=bool)
    if "stockout" in history.columns:
        censored[ti, sid] = history["stockout"].to_numpy(dtype=bool)[keep]

    promo = np.zeros((t_hist + horizon, n))
    promo_v = col("promo")
    promo[ti, sid] = np.where(np.isfinite(promo_v), promo_v, 0.0)  # bad promo values: no promo
    price = np.full((t_hist + horizon, n), np.nan)
    if "price" in history.columns:
        price[ti, sid] = col("price")
    if future is not None and len(future):
        _apply_future(future, keys, d0, t_hist, horizon, promo, price)
    log_price = _log_price(price)
    ev = event_columns(events, dates, keys["region_id"].to_numpy())
    return Panel(keys, dates, y, censored, start, promo, log_price, ev, t_hist)


def _factorize_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(sort=True), hashing only the first row of each run of equal values: a series' rows
    usually arrive together, so this hashes ~n_series strings instead of every row (4x less CPU)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    starts = np.r_[0, np.flatnonzero(values[1:] != values[:-1]) + 1]
    firsts = values[starts]
    if not all(isinstance(v, str) for v in firsts):  # e.g. numbers in an object column: compare as text
        firsts = np.array([None if pd.isna(v) else str(v) for v in firsts], dtype=object)
    codes, uniques = pd.factorize(firsts, sort=True)
    return np.repeat(codes, np.diff(np.r_[starts, len(values)])), np.asarray(uniques, dtype=object)


def _apply_future(future, keys, d0, t_hist, horizon, promo, price) -> None:
    for col in KEYS + ["date"]:
        if col not in future.columns:
            raise ValueError(
                f"future is missing column {col!r}; expected item_id, region_id, date, promo, price"
            )
    f = future.assign(item_id=future["item_id"].astype(str), region_id=future["region_id"].astype(str))
    f = f.merge(keys[KEYS].reset_index(names="_sid"), on=KEYS, how="inner")
    ti = ((pd.to_datetime(f["date"]) - d0).dt.days).to_numpy()
    ok = (ti >= t_hist) & (ti < t_hist + horizon)  # planned values only count for the horizon
    sid, ti = f["_sid"].to_numpy()[ok], ti[ok]
    if "promo" in f.columns:
        promo[ti, sid] = np.nan_to_num(f["promo"].to_numpy(dtype=float)[ok], nan=0.0)
    if "price" in f.columns:
        price[ti, sid] = f["price"].to_numpy(dtype=float)[ok]


def _log_price(price: np.ndarray) -> np.ndarray:
    """log(price) centered per series, forward filled: absent future prices repeat the last known price.

    Centering on the mean log price (not the median: nanmedian loops per column) keeps the column near 0;
    the regression's unpenalized intercept absorbs the constant anyway.
    """
    lp = np.log(np.where(np.isfinite(price) & (price > 0), price, np.nan))
    lp = ffill(lp)
    ok = np.isfinite(lp)
    center = np.where(ok, lp, 0.0).sum(0) / np.maximum(ok.sum(0), 1)
    return np.where(ok, lp - center[None, :], 0.0)


def ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along axis 0 (vectorized over columns); leading NaN stay NaN."""
    idx = np.where(np.isfinite(a), np.arange(a.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    return out


def impute(y: np.ndarray, start: np.ndarray, season: int = 7) -> np.ndarray:
    """Fill missing days with the last observed value of the same weekday (only the past: no leakage).

    Days with no earlier same-weekday value take the mean of the series' observed past (or 0). Days before a
    series' start stay NaN. Used by models that cannot skip missing days (naive, averages, Croston, ETS).
    """
    t, n = y.shape
    if t == 0 or np.isfinite(y[np.arange(t)[:, None] >= start[None, :]]).all():
        return y
    out = y.copy()
    for r in range(min(season, t)):
        out[r::season] = ffill(out[r::season])
    # Rows still NaN inside the span: expanding mean of what was observed before.
    obs = np.isfinite(y)
    csum = np.cumsum(np.where(obs, y, 0.0), axis=0)
    ccnt = np.cumsum(obs, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ccnt > 0, csum / np.maximum(ccnt, 1), 0.0)
    in_span = np.arange(t)[:, None] >= start[None, :]
    hole = in_span & ~np.isfinite(out)
    out[hole] = mean[hole]
    return out
