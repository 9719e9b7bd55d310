"""Forecast-error profile per series: sigma of forecast-error SUMS over h days, as sigma(h) = sigma_1 * h^gamma.

Inventory protects demand summed over P days (lead time, + review). The sigma of that sum is not
sqrt(P) * sigma of one day: an error in the forecast level is shared by every day of P, so daily errors are
positively correlated and the sum's sigma grows faster than sqrt(P) (up to P for a pure level error). It is
measured here on the chosen model's backtest residuals, bias included (RMSE, not a standard deviation):

- sums: for each fold and each window start j < WINDOW_STARTS (a plan is used until the next run, so
  orders see the forecast from lead 1 up to a week later), the error summed over leads j+1 .. j+h;
- gamma: ONE exponent per demand class of the batch, fitted on the pooled scale-normalized mean square of
  those sums (a few folds per series give too few sums for a per-series shape); classes with fewer than
  MIN_POOL series take the batch-wide exponent;
- sigma_1: per series, the amplitude that fits its own sums under that exponent,
  sigma_1^2 = mean over h of MSE_i(h) / h^(2 gamma) (each horizon weighs the same, relatively).

Downstream sigma_P = sigma_1 * P^gamma for any protection interval P (P beyond the backtest horizon is an
extrapolation of the power law). Series without residuals (fallback, cold start, zero, no backtest) get NaN:
the inventory plan then falls back to its other sigma sources. Pure numpy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Window starts within each fold: 7 = the first week of leads (weekly re-planning at the latest).
WINDOW_STARTS = 7
# A demand class needs this many series with residuals to get an exponent of its own.
MIN_POOL = 20
# Exponent bounds: 0.5 = independent days, 1 = pure level error. Fits outside a wide band are noise.
GAMMA_BOUNDS = (0.25, 1.5)


class ErrorProfile(NamedTuple):
    sigma_1d: np.ndarray  # (N,) sigma_1: RMSE of the 1-day error implied by the fitted curve; NaN = none
    exponent: np.ndarray  # (N,) gamma of sigma(h) = sigma_1 * h^gamma; NaN where sigma_1 is NaN


def window_mse(R: np.ndarray, starts: int = WINDOW_STARTS) -> tuple[np.ndarray, np.ndarray]:
    """Mean square of error sums over h = 1..steps days and its sample count, each (steps, N).

    R: (folds, steps, N) actual - forecast, NaN = not scored. A window with any NaN day is skipped.
    """
    F, S, N = R.shape
    ok = np.isfinite(R)
    c = np.concatenate([np.zeros((F, 1, N)), np.cumsum(np.where(ok, R, 0.0), axis=1)], axis=1)
    cn = np.concatenate([np.zeros((F, 1, N)), np.cumsum(ok, axis=1)], axis=1)
    sq, cnt = np.zeros((S, N)), np.zeros((S, N))
    for h in range(1, S + 1):
        for j in range(min(starts, S - h + 1)):
            full = (cn[:, j + h] - cn[:, j]) == h  # (F, N)
            e = c[:, j + h] - c[:, j]
            sq[h - 1] += np.where(full, e * e, 0.0).sum(0)
            cnt[h - 1] += full.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cnt > 0, sq / cnt, np.nan), cnt


def fit_exponent(mse: np.ndarray, scale: np.ndarray) -> float:
    """Least-squares slope of log sigma(h) on log h for the pooled curve mean_i(MSE_i(h) / scale_i^2).

    mse: (steps, n) of series with every horizon measured. NaN when the pool is empty or flat (all zero).
    """
    if mse.shape[1] == 0:
        return float("nan")
    pooled = (mse / scale[None, :] ** 2).mean(1)
    h = np.arange(1, len(pooled) + 1, dtype=float)
    good = pooled > 0
    if good.sum() < 2:
        return float("nan")
    x, y = np.log(h[good]), 0.5 * np.log(pooled[good])
    slope = np.polyfit(x, y, 1)[0]
    return float(np.clip(slope, *GAMMA_BOUNDS))


def error_profile(R: np.ndarray, scale: np.ndarray, groups: np.ndarray) -> ErrorProfile:
    """sigma_1 and gamma per series from the chosen model's backtest residuals R (folds, steps, N).

    scale: (N,) residual scale (> 0) that makes series comparable in the pool; groups: (N,) demand class.
    """
    F, S, N = R.shape
    mse, cnt = window_mse(R)
    has = (cnt > 0).any(0)
    complete = (cnt > 0).all(0)  # the pooled shape only from series measured at every horizon
    scale = np.asarray(scale, dtype=float)
    groups = np.asarray(groups, dtype=object)
    everyone = fit_exponent(mse[:, complete], scale[complete])
    gamma = np.full(N, np.nan)
    for g in np.unique(groups[has]):
        pool = complete & (groups == g)
        own = fit_exponent(mse[:, pool], scale[pool]) if pool.sum() >= MIN_POOL else float("nan")
        gamma[has & (groups == g)] = own if np.isfinite(own) else everyone
    # A batch whose errors are all zero has no shape: the textbook exponent (the sigmas are 0 anyway).
    gamma = np.where(has & ~np.isfinite(gamma), 0.5, gamma)
    h = np.arange(1, S + 1, dtype=float)[:, None]
    with np.errstate(invalid="ignore"):
        ratio = np.where(cnt > 0, mse / h ** (2.0 * gamma[None, :]), np.nan)
        s1 = np.sqrt(np.nanmean(np.where(has[None, :], ratio, 0.0), axis=0))
    return ErrorProfile(np.where(has, s1, np.nan), np.where(has, gamma, np.nan))
