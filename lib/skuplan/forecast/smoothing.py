"""Simple exponential smoothing with weekday factors, the smoothing constant chosen per series, vectorized.

Weekday factors first: w_d = (S_d + K m) / (N_d m + K m) over the last WEEKDAY_DAYS observed days (S_d: units
on weekday d, N_d: its observed days, m: the mean), i.e. the weekday's share shrunk toward 1 by K days'
worth of the mean (sparse series get flat factors). The level runs on y / w. Then for each series the level follows l_t = l_{t-1} + a (y_t - l_{t-1}) on observed days (missing days keep the
level), for every a in ALPHAS at once; the a with the least in-sample one-step squared error (after a burn-in)
is the series' own, and its last level is the flat forecast. This is what per-series AutoETS picks on most
retail series (the A,N,N form), at the cost of one numpy pass over the days instead of one optimizer per
series (docs/decisions.md, "Horizon-matched selection").
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.base import Model
from skuplan.forecast.baselines import _nanmean0
from skuplan.forecast.panel import View

ALPHAS = np.array([0.01, 0.03, 0.06, 0.1, 0.2, 0.35, 0.6])
BURN_IN = 14  # days the level needs to forget its starting value before its errors count
WEEKDAY_DAYS = 182
K_PRIOR = 8.0


def weekday_factors(y: np.ndarray, weekday: np.ndarray, days: int = WEEKDAY_DAYS) -> np.ndarray:
    """(7, n) multiplicative weekday factors from the last `days` rows of y (t, n); weekday (t,) in 0..6."""
    w, wd = y[-days:], weekday[-days:]
    obs = np.isfinite(w)
    m = _nanmean0(w)
    out = np.ones((7, y.shape[1]))
    for d in range(7):
        rows = wd == d
        s_d = np.where(obs[rows], w[rows], 0.0).sum(0)
        n_d = obs[rows].sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[d] = np.where(m > 0, (s_d + K_PRIOR * m) / ((n_d + K_PRIOR) * m), 1.0)
    return out


def ses_levels(
    y: np.ndarray, start: np.ndarray, alphas: np.ndarray = ALPHAS
) -> tuple[np.ndarray, np.ndarray]:
    """(last level (n,), chosen alpha index (n,)) of y (t, n), NaN = missing or before the series' start."""
    t, n = y.shape
    first = np.clip(start, 0, max(t - 1, 0))
    init = _nanmean0(
        np.where((np.arange(t)[:, None] >= first) & (np.arange(t)[:, None] < first + BURN_IN), y, np.nan)
    )
    level = np.repeat(init[None, :], len(alphas), 0)
    sse = np.zeros((len(alphas), n))
    a = alphas[:, None]
    for r in range(t):
        row = y[r]
        obs = np.isfinite(row)
        err = np.where(obs, row, 0.0)[None, :] - level
        counted = obs & (r >= first + BURN_IN)
        sse += np.where(counted[None, :], err * err, 0.0)
        level = np.where(obs[None, :], level + a * err, level)
    best = np.argmin(sse, axis=0)
    return level[best, np.arange(n)], best


class SES(Model):
    """Flat forecast at the smoothed level, alpha chosen per series by in-sample one-step error."""

    def _fit(self, y, X) -> None:
        self._level = float(ses_levels(y[:, None], np.zeros(1, int))[0][0])

    def _predict(self, h, X, quantiles):
        return {"yhat": np.full(h, max(self._level, 0.0))}

    @staticmethod
    def batch(view: View, cfg) -> dict[str, np.ndarray]:
        wd = view.dates.dayofweek.to_numpy()
        f = weekday_factors(view.y, wd[: view.end])
        level, _ = ses_levels(view.y / f[wd[: view.end]], view.start)
        return {"yhat": np.maximum(level, 0.0)[None, :] * f[wd[view.end :]]}
