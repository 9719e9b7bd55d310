"""A SeriesBatch plus the horizon: the (time x series) arrays every model reads, on one shared daily grid.

The history arrays are the batch's own blocks; the panel adds the horizon rows of the regressors (promo, log
price, events). Backtests take `Panel.view(end, h)`, which *slices* the arrays: a fold's model cannot see a date
at or after its cut-off because the data is not there.

Regressors are never assumed zero in the future (docs/decisions.md, "Future regressors: planned, else
expected"): a horizon day takes the planned value where `future` gives one, else the expected value known at
the cut-off: promo = the series' promo rate over its last PROMO_RATE_DAYS days (a probability; models treat it
as E[promo]), price = its last regular (non-promo) price. A backtest fold follows the same rule: a series with a
plan for a column is scored with that column's actual values on the fold's days (what a plan would have said),
one without is scored with the expected value computed from the days before the fold's cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.forecast.calendar import EventColumns, event_columns
from skuplan.series.batch import SeriesBatch

KEYS = ["item_id", "region_id"]
PROMO_RATE_DAYS = 91  # a quarter: long enough to hold a few promo windows, short enough to follow the plan


@dataclass
class Panel:
    """Arrays over a grid of T history days (+ H future days for the regressors)."""

    keys: pd.DataFrame  # N rows: item_id, region_id (+ category), in canonical sorted order
    dates: pd.DatetimeIndex  # T + H days; the first T are history
    y: np.ndarray  # (T, N) units as given; NaN before a series' start (the engine masks bad/censored days)
    censored: np.ndarray  # (T, N) stockout days: demand unobserved, never learned as low demand
    start: np.ndarray  # (N,) index of each series' first day
    promo: np.ndarray  # (T + H, N)
    log_price: np.ndarray  # (T + H, N) log price centered per series (see _log_price), 0 when unknown
    events: EventColumns  # events table as dummies over the T + H days
    n_hist: int
    promo_planned: np.ndarray | None = None  # (N,) future gave promo plans for the series (see module doc)
    price_planned: np.ndarray | None = None  # (N,) future gave price plans for the series

    @property
    def n_series(self) -> int:
        return self.y.shape[1]

    def view(self, end: int, h: int, cols: np.ndarray | None = None) -> View:
        """Training data for days [0, end) and regressors for days [end, end + h) of series `cols`."""
        full = cols is None or (len(cols) == self.n_series and (np.diff(cols) == 1).all())
        c = slice(None) if full else cols  # a slice is a view: no copy of the (T, N) arrays
        promo, log_price = self.promo[: end + h, c], self.log_price[: end + h, c]
        if end < self.n_hist:  # a backtest fold: unplanned regressors take their expected value at `end`
            promo, log_price = self._fold_regressors(end, h, c, promo, log_price)
        return View(
            y=self.y[:end, c],
            start=self.start[c],
            dates=self.dates[: end + h],
            promo=promo,
            log_price=log_price,
            ev_shared=self.events.shared[: end + h],
            ev_series=self.events.series[: end + h, c],
            ev_prior=np.concatenate([self.events.shared_prior, self.events.series_prior]),
            ev_names=self.events.names,
            end=end,
            h=h,
        )

    def _fold_regressors(self, end, h, c, promo, log_price):
        n = promo.shape[1]
        planned = np.zeros(n, bool) if self.promo_planned is None else self.promo_planned[c]
        if not planned.all():
            promo = promo.copy()
            rate = expected_promo(self.promo[:end, c], self.start[c])
            promo[end:] = np.where(planned[None, :], promo[end:], rate[None, :])
        planned = np.zeros(n, bool) if self.price_planned is None else self.price_planned[c]
        if not planned.all():
            log_price = log_price.copy()
            last = last_regular(self.log_price[:end, c], self.promo[:end, c], zero_is_unknown=True)
            log_price[end:] = np.where(planned[None, :], log_price[end:], np.nan_to_num(last)[None, :])
        return promo, log_price


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
    batch: SeriesBatch,
    horizon: int,
    future: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> Panel:
    """The engine's arrays for a batch: its (days, series) history blocks as they are (no copy of the units),
    plus `horizon` days after the cutoff for the regressors known in advance: promo and price planned in
    `future` (item_id, region_id, date, [promo], [price]; absent future prices repeat the last known one) and
    the events table. Stockout days are kept in `censored` for the engine to mask."""
    T, n = batch.n_days, batch.n_series
    dates = batch.dates(horizon)
    censored = batch.values.get("stockout")
    censored = np.zeros((T, n), dtype=bool) if censored is None else censored
    promo = np.zeros((T + horizon, n))
    if "promo" in batch.values:
        given = batch.values["promo"]
        promo[:T] = np.where(np.isfinite(given), given, 0.0)  # bad promo values: no promo
    price = np.full((T + horizon, n), np.nan)
    if "price" in batch.values:
        price[:T] = batch.values["price"]
    plan_promo, plan_price = np.full((horizon, n), np.nan), np.full((horizon, n), np.nan)
    if future is not None and len(future):
        _apply_future(future, batch.keys, dates[0], T, horizon, plan_promo, plan_price)
    # Unplanned horizon days: the expected value at the cutoff (module docstring), never zero.
    promo[T:] = np.where(np.isfinite(plan_promo), plan_promo, expected_promo(promo[:T], batch.start)[None, :])
    regular = np.exp(last_regular(np.log(np.where(price[:T] > 0, price[:T], np.nan)), promo[:T]))
    price[T:] = np.where(np.isfinite(plan_price), plan_price, regular[None, :])
    ev = event_columns(events, dates, batch.keys["region_id"].to_numpy())
    planned = (np.isfinite(plan_promo).any(0), np.isfinite(plan_price).any(0))
    return Panel(
        batch.keys, dates, batch.units, censored, batch.start, promo, _log_price(price), ev, T, *planned
    )


def expected_promo(promo: np.ndarray, start: np.ndarray, days: int = PROMO_RATE_DAYS) -> np.ndarray:
    """(n,) share of promo days among each series' last `days` days of `promo` (t, n) on or after its start."""
    t = promo.shape[0]
    lo = max(t - days, 0)
    inside = np.arange(lo, t)[:, None] >= start[None, :]
    w = np.where(inside, np.clip(promo[lo:], 0.0, 1.0), 0.0)
    return w.sum(0) / np.maximum(inside.sum(0), 1)


def last_regular(values: np.ndarray, promo: np.ndarray, zero_is_unknown: bool = False) -> np.ndarray:
    """(n,) last finite value of each column of `values` (t, n) on a non-promo day, else on any day; NaN if none.

    zero_is_unknown: the centered log price holds 0 where the price was unknown (see _log_price)."""
    ok = np.isfinite(values) & ((values != 0) if zero_is_unknown else True)
    out = np.full(values.shape[1], np.nan)
    for mask in (ok, ok & (promo < 0.5)):  # the regular-day value overrides the any-day one when it exists
        has = mask.any(0)
        last = values.shape[0] - 1 - np.argmax(mask[::-1], axis=0)
        out = np.where(has, values[last, np.arange(values.shape[1])], out)
    return out


def _apply_future(future, keys, d0, t_hist, horizon, promo, price) -> None:
    """Planned values into promo / price (horizon, n); days without a plan stay NaN."""
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
        promo[ti - t_hist, sid] = np.clip(f["promo"].to_numpy(dtype=float)[ok], 0.0, 1.0)
    if "price" in f.columns:
        p = f["price"].to_numpy(dtype=float)[ok]
        price[ti - t_hist, sid] = np.where(p > 0, p, np.nan)


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
