"""The replay's stand-in for the forecast stage: plan_policy inputs at a hold-out origin from the days before it
(trailing-mean forecast, its error measured over the protection interval, last year's change for seasonal
series). Split from replay.py, which plays the held-out days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.policies import resolve_policy
from skuplan.inventory.segments import abc_xyz, features_from_array


def protection_horizon(stats: pd.DataFrame, cfg: InventoryConfig) -> np.ndarray:
    """Whole days of demand the safety stock of each row protects: L + R for RS (and sS without undershoot
    correction), L otherwise (the undershoot is modelled separately); at least 1."""
    policy = resolve_policy(stats["segment"].to_numpy(), stats["demand_class"].to_numpy(), cfg)
    periodic = (policy == "RS") | ((policy == "sS") & (cfg.undershoot == "none"))
    lt = np.nan_to_num(stats["lead_time_days"].to_numpy(dtype=float))
    return np.maximum(np.round(lt + np.where(periodic, cfg.review_period_days, 0.0)), 1).astype(int)


def rolling_stats(past: np.ndarray, base: pd.DataFrame, cfg: InventoryConfig) -> pd.DataFrame:
    """plan_policy input from the days before an origin: the replay's stand-in for the forecast stage.

    past: (n, days) daily units up to the origin (most recent last); base: item_id, region_id and the item
    master columns, same rows. d = trailing mean over forecast_window_days (intermittent/lumpy:
    forecast_window_days_sparse). sigma_daily = forecast error of that trailing mean measured directly on
    demand summed over the series' protection interval P (L, or L + R for periodic review) at every origin
    of the fit window (RMSE, bias included), divided by sqrt(P): the plan's P * sigma_d^2 then reproduces
    the measured error. Measuring at P matters: the error of an estimated level is shared by all days of
    the interval, so it grows like P, not sqrt(P), and a 1-day sigma scaled by sqrt(P) under-protects.
    Seasonal series: where a year of history lies behind every origin of the fit window, the trailing mean
    times last year's change (_seasonal_ratio) is tried too, and each series keeps the forecast whose
    measured P-day error is smaller (its sigma is that error): a trailing mean lags a yearly swing by half
    its window, and the stockouts of the rising season outweigh the surplus of the falling one.
    """
    rc = cfg.replay
    fit = past[:, -rc.fit_window_days :]
    stats = pd.concat([base.reset_index(drop=True), features_from_array(fit, cfg.xyz_bucket_days)], axis=1)
    sparse = stats["demand_class"].isin(["intermittent", "lumpy"]).to_numpy()
    win = np.where(sparse, rc.forecast_window_days_sparse, rc.forecast_window_days)
    x = np.nan_to_num(past)
    n, width = x.shape
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(x, axis=1)], axis=1)
    d = (csum[:, -1] - csum[np.arange(n), width - win]) / win
    stats["mean_daily_demand"] = d
    stats = abc_xyz(stats, cfg)
    h = protection_horizon(stats, cfg)[:, None]
    o = np.broadcast_to(np.arange(width - rc.fit_window_days, width)[None, :], (n, rc.fit_window_days))
    w = win[:, None]
    valid = (o - w >= 0) & (o + h <= width)  # forecast made before day o from the w days before it
    o = np.clip(o, w, np.maximum(width - h, w))
    f = (np.take_along_axis(csum, o, 1) - np.take_along_axis(csum, o - w, 1)) / w
    actual = np.take_along_axis(csum, np.minimum(o + h, width), 1) - np.take_along_axis(csum, o, 1)
    ratio, seasonal_ok = _seasonal_ratio(csum, o, w, h)
    now, now_ok = _seasonal_ratio(csum, np.full((n, 1), width), w, h)
    # Errors relative to the forecast level ** k, rescaled to today's level: the error of a seasonal series is
    # larger in its high season, where most cycles fall. k = 1 (spread proportional to the level: smooth,
    # erratic sizes), 1/2 for sparse classes (occurrences: variance proportional to the level).
    k = np.where(sparse, 0.5, 1.0)[:, None]
    rmse, rmse_s = _relative_rmse(actual, h * f, valid, k), _relative_rmse(actual, h * f * ratio, valid, k)
    seasonal = (seasonal_ok | ~valid).all(axis=1) & now_ok[:, 0] & (rmse_s < rmse)
    stats["mean_daily_demand"] = np.where(seasonal, d * now[:, 0], d)
    level_now = (h[:, 0] * stats["mean_daily_demand"].to_numpy(dtype=float)) ** k[:, 0]
    measured = np.where(seasonal, rmse_s, rmse) * level_now / np.sqrt(h[:, 0])
    stats["sigma_demand_daily"] = np.nanstd(fit, axis=1, ddof=1)
    stats["sigma_daily"] = _floor_sigma(measured, stats["sigma_demand_daily"].to_numpy(), h[:, 0], win)
    return stats


def _floor_sigma(measured: np.ndarray, sigma_day: np.ndarray, h: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Daily sigma of the plan: the measured one, never below the error a w-day trailing mean makes on i.i.d.
    demand over h days, sqrt(h var (1 + h / w)) / sqrt(h) (the h days' own noise plus the mean's).

    The measured RMSE rests on ~fit_window / (w + h) independent origins (about 5 for a 28-day mean over 10
    days in half a year): its noise alone (q10-q90 of 0.6-1.3 x the true error on erratic series) cost ~1.5 pp
    of CSL, the service being concave in sigma near its target. Below the i.i.d. floor the difference is that
    noise; above it, the measurement keeps what the floor cannot see (seasonality, trends, autocorrelation).
    """
    floor = np.nan_to_num(sigma_day) * np.sqrt(1.0 + h / win)
    return np.where(np.isfinite(measured), np.maximum(measured, floor), measured)


def _relative_rmse(actual: np.ndarray, forecast: np.ndarray, valid: np.ndarray, k: np.ndarray) -> np.ndarray:
    """RMSE per row of (actual - forecast) / forecast ** k over the valid origins (forecast 0: the error itself)."""
    scale = np.where(forecast > 0, forecast, 1.0) ** k
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(
            np.where(valid, ((actual - forecast) / scale) ** 2, 0.0).sum(axis=1) / valid.sum(axis=1)
        )


def _seasonal_ratio(csum: np.ndarray, o: np.ndarray, w: np.ndarray, h: np.ndarray, year: int = 364):
    """Last year's change from the trailing window [o - w, o) to the protection interval [o, o + h): the mean of
    the w days centred on the interval's centre a year (52 weeks: same weekdays) before, over the mean of the
    w days before o a year before. Returns (ratio clipped to [0.25, 4], valid) of the shape of o."""
    n_days = csum.shape[1] - 1
    back = o - year
    start = back + np.round((h - w) / 2.0).astype(int)
    ok = (back - w >= 0) & (start >= 0) & (start + w <= n_days)
    back_c, start_c = np.clip(back, w, n_days), np.clip(start, 0, np.maximum(n_days - w, 0))
    before = np.take_along_axis(csum, back_c, 1) - np.take_along_axis(csum, back_c - w, 1)
    ahead = np.take_along_axis(csum, np.minimum(start_c + w, n_days), 1) - np.take_along_axis(
        csum, start_c, 1
    )
    ok &= before > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ok, np.clip(ahead / before, 0.25, 4.0), 1.0)
    return ratio, ok
