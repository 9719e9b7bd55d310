"""Features of the global models (global_gbm, lstm): one row per (series, origin, step k), from a View.

Direct strategy, horizon step as a feature: a row forecasts day t = o + k - 1 from an origin o (the first day
not known) using only days < o, plus what is known in advance about day t (calendar, events, planned promo
and price). One model serves every k = 1..h, so there is no recursion: a forecast never feeds on its own
earlier forecasts (errors do not compound over 28 days), and the final forecast (o = view.end) is built exactly
like the training rows (o = earlier origins), so no feature can reach past its origin (tests/test_forecast_global
perturbs every day from o on and checks the row is unchanged). Why not recursive: see docs/decisions.md
"Global models: direct, horizon as a feature".

Everything a model sees is scaled by the series' recent level (`scale`), so one model fits a 0.1-a-day item
and a 500-a-day item alike; the scale itself (log) is a feature too. NaN features are legitimate (no history
yet, a stockout): LightGBM routes them natively, the LSTM gets 0 and a mask.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skuplan.forecast.calendar import festival_features
from skuplan.forecast.panel import View

ORIGIN_SPACING = 7  # training origins a week apart: every origin falls on the forecast origin's weekday
SCALE_DAYS = 56
MIN_SCALE = 1e-2
STAT_NAMES = [
    "log_scale", "mean7", "mean28", "mean91", "last", "zero28", "cv28", "since_sale", "age", "promo28",
    "same_wd_last", "same_wd_mean4", "last_year",
]  # fmt: skip
TARGET_NAMES = ["k", "dow", "sin1", "cos1", "sin2", "cos2", "promo", "log_price", "price_vs_28d"]


class Prefix(NamedTuple):
    """Prefix sums over time of a view's history: any window's sum/count of observed days in O(1)."""

    s: np.ndarray  # (end + 1, n) sum of observed units before row t
    s2: np.ndarray  # sum of squares
    c: np.ndarray  # count of observed days
    p: np.ndarray  # sum of promo
    lp: np.ndarray  # sum of log price
    last_sale: np.ndarray  # (end + 1, n) last row < t with a positive sale, -1 if none


def prefix(view: View) -> Prefix:
    y = view.y
    ok = np.isfinite(y)
    y0 = np.where(ok, y, 0.0)
    T, n = y.shape

    def cum(a):
        out = np.zeros((T + 1, n))
        np.cumsum(a, axis=0, out=out[1:])
        return out

    pos = np.where(ok & (y > 0), np.arange(T)[:, None], -1)
    last = np.full((T + 1, n), -1)
    np.maximum.accumulate(pos, axis=0, out=last[1:])
    return Prefix(cum(y0), cum(y0 * y0), cum(ok), cum(view.promo[:T]), cum(view.log_price[:T]), last)


def _window_mean(cs: np.ndarray, cc: np.ndarray, o: int, days: int) -> np.ndarray:
    a = max(o - days, 0)
    cnt = cc[o] - cc[a]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (cs[o] - cs[a]) / cnt, np.nan)


def _at(y: np.ndarray, rows: np.ndarray, o: int) -> np.ndarray:
    """y[rows[i], i] where 0 <= rows < o (strictly before the origin), else NaN."""
    ok = (rows >= 0) & (rows < o)
    out = np.full(y.shape[1], np.nan)
    cols = np.flatnonzero(ok)
    out[cols] = y[rows[cols], cols]
    return out


def origin_stats(view: View, pf: Prefix, o: int) -> tuple[np.ndarray, np.ndarray]:
    """Series statistics at origin o from days < o only: (scale (n,), stats (n, len(STAT_NAMES) - 3)).

    The three same-weekday/last-year statistics depend on the target day: see target_block."""
    m56 = _window_mean(pf.s, pf.c, o, SCALE_DAYS)
    m_all = _window_mean(pf.s, pf.c, o, o)
    scale = np.maximum(np.nan_to_num(np.where(m56 > 0, m56, m_all), nan=0.0), MIN_SCALE)
    m28 = _window_mean(pf.s, pf.c, o, 28)
    sq28 = _window_mean(pf.s2, pf.c, o, 28)
    cnt28 = pf.c[o] - pf.c[max(o - 28, 0)]
    zeros28 = cnt28 - _count_positive(view.y, o, 28)
    with np.errstate(invalid="ignore", divide="ignore"):
        zero28 = np.where(cnt28 > 0, zeros28 / cnt28, np.nan)
        cv28 = np.sqrt(np.maximum(sq28 - m28 * m28, 0.0)) / scale
    since = np.where(pf.last_sale[o] >= 0, o - pf.last_sale[o], np.nan)
    age = (o - view.start).astype(float)
    promo28 = (pf.p[o] - pf.p[max(o - 28, 0)]) / max(min(o, 28), 1)
    stats = np.column_stack([
        np.log(scale),
        _window_mean(pf.s, pf.c, o, 7) / scale,
        m28 / scale,
        _window_mean(pf.s, pf.c, o, 91) / scale,
        _at(view.y, np.full(view.y.shape[1], o - 1), o) / scale,
        zero28,
        cv28,
        np.minimum(since, 365.0),
        np.minimum(age, 730.0),
        promo28,
    ])  # fmt: skip
    return scale, stats


def _count_positive(y: np.ndarray, o: int, days: int) -> np.ndarray:
    w = y[max(o - days, 0) : o]
    return (np.isfinite(w) & (w > 0)).sum(0)


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a)
    cnt = ok.sum(0)
    return np.where(cnt > 0, np.where(ok, a, 0.0).sum(0) / np.maximum(cnt, 1), np.nan)


def target_block(view: View, pf: Prefix, o: int, k: int, scale: np.ndarray, cal: np.ndarray) -> np.ndarray:
    """Per-series features of target day t = o + k - 1 (n, 3 + len(TARGET_NAMES) + events): the same-weekday
    and last-year lags (days < o only), then the step, calendar and the regressors known for day t."""
    t, n = o + k - 1, view.y.shape[1]
    r = (k - 1) % 7  # the target's weekday relative to the origin's
    last_same = np.full(n, o + r - 7)  # the most recent day < o on the target's weekday
    same = _nanmean_rows(np.stack([_at(view.y, last_same - 7 * w, o) for w in range(4)]))
    last_year = _nanmean_rows(np.stack([_at(view.y, np.full(n, t - 364 + d), o) for d in (-1, 0, 1)]))
    lp28 = (pf.lp[o] - pf.lp[max(o - 28, 0)]) / max(min(o, 28), 1)
    ev = np.concatenate(
        [np.repeat(view.ev_shared[t][None, :], n, 0), view.ev_series[t].reshape(n, -1)], axis=1
    )
    return np.column_stack([
        _at(view.y, last_same, o) / scale,
        same / scale,
        last_year / scale,
        np.full(n, float(k)),
        np.repeat(cal[t][None, :], n, 0),
        view.promo[t],
        view.log_price[t],
        view.log_price[t] - lp28,
        ev,
    ])  # fmt: skip


def calendar_columns(view: View) -> np.ndarray:
    """(end + h, 5 + festivals): weekday, yearly Fourier pairs 1-2, 双十一/618 day and pre-sale ramp."""
    doy = 2 * np.pi * view.dates.dayofyear.to_numpy() / 365.25
    fest, _ = festival_features(view.dates)
    wd = view.dates.dayofweek.to_numpy().astype(float)
    return np.column_stack([wd, np.sin(doy), np.cos(doy), np.sin(2 * doy), np.cos(2 * doy), fest])


def feature_names(view: View) -> list[str]:
    _, fest = festival_features(view.dates[:1])
    ev = [f"ev_{i}" for i in range(view.ev_shared.shape[1] + view.ev_series.shape[2])]
    return STAT_NAMES + TARGET_NAMES[:1] + TARGET_NAMES[1:6] + fest + TARGET_NAMES[6:] + ev


class Rows(NamedTuple):
    X: np.ndarray  # (rows, features)
    y: np.ndarray  # (rows,) target / scale (NaN for forecast rows)
    series: np.ndarray  # (rows,) column of the view
    k: np.ndarray  # (rows,) step
    scale: np.ndarray  # (rows,)


def rows_at(view: View, pf: Prefix, cal: np.ndarray, o: int, steps, cols: np.ndarray) -> Rows:
    """Feature rows of series `cols` at origin o for the given steps; targets where t < view.end."""
    scale, stats = origin_stats(view, pf, o)
    blocks, ys, ks = [], [], []
    for k in steps:
        tb = target_block(view, pf, o, int(k), scale, cal)
        # column order: stats(10) + same-weekday/last-year(3) = STAT_NAMES, then k, calendar, regressors
        blocks.append(np.concatenate([stats[cols], tb[cols]], axis=1))
        t = o + int(k) - 1
        ys.append(view.y[t, cols] / scale[cols] if t < view.end else np.full(len(cols), np.nan))
        ks.append(np.full(len(cols), int(k)))
    m = len(blocks)
    return Rows(
        np.concatenate(blocks),
        np.concatenate(ys),
        np.tile(cols, m),
        np.concatenate(ks),
        np.tile(scale[cols], m),
    )


def training_rows(
    view: View, cols: np.ndarray, origins: int, steps_per_origin: int, seed: int, pf=None, cal=None
) -> Rows:
    """Rows for fitting: origins o_i = end - h - 7 i (i < origins), each with `steps_per_origin` steps drawn
    (seeded, the same for every series, so the rows of a series never depend on its neighbours) from 1..h;
    only series that had started before o_i and whose target day is observed. pf, cal: the view's prefix()
    and calendar_columns() when the caller has them already."""
    pf = prefix(view) if pf is None else pf
    cal = calendar_columns(view) if cal is None else cal
    parts = []
    for i in range(origins):
        o = view.end - view.h - ORIGIN_SPACING * i
        if o < 1:
            break
        steps = (
            np.sort(np.random.default_rng([seed, i]).choice(view.h, min(steps_per_origin, view.h), False)) + 1
        )
        live = cols[view.start[cols] < o]
        if len(live):
            r = rows_at(view, pf, cal, o, steps, live)
            keep = np.isfinite(r.y)
            parts.append(Rows(*(a[keep] for a in r)))
    if not parts:
        raise ValueError(f"no training rows: history of {view.end} days is too short for horizon {view.h}")
    return Rows(*(np.concatenate(a) for a in zip(*parts, strict=True)))


def forecast_rows(view: View, cols: np.ndarray, pf=None, cal=None) -> Rows:
    """Rows of the forecast from o = view.end, steps 1..h (pf, cal: as for training_rows)."""
    pf = prefix(view) if pf is None else pf
    cal = calendar_columns(view) if cal is None else cal
    return rows_at(view, pf, cal, view.end, np.arange(1, view.h + 1), cols)
