"""Forecast-phased demand over a protection interval: the sum of the daily forecasts from the run date.

A seasonal item's next L days are not L times its mean over the whole forecast horizon: the levels use
the forecast of exactly the days they protect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Past the forecast horizon the path is extended with the mean of its last week (a whole weekly cycle, so
# the weekday pattern does not bias it): the nearest estimate of the level the horizon ends on.
TAIL_DAYS = 7


def forecast_paths(forecast: pd.DataFrame | None, keys: pd.DataFrame) -> np.ndarray:
    """(len(keys), H) daily forecasts (yhat clipped at 0), day 0 = each series' first forecast date (the run
    date), one row per keys row (item_id, region_id); all NaN for a series without a forecast. Days missing
    inside a path are NaN."""
    n = len(keys)
    if forecast is None or forecast.empty or n == 0:
        return np.full((n, 0), np.nan)
    fc = forecast[["item_id", "region_id", "date", "yhat"]].copy()
    fc["date"] = pd.to_datetime(fc["date"])
    first = fc.groupby(["item_id", "region_id"])["date"].transform("min")
    fc["day"] = (fc["date"] - first).dt.days
    fc["yhat"] = pd.to_numeric(fc["yhat"], errors="coerce").clip(lower=0)
    wide = fc.pivot_table(
        index=["item_id", "region_id"], columns="day", values="yhat", aggfunc="sum", dropna=False
    )
    wide = wide.reindex(columns=range(int(fc["day"].max()) + 1))
    idx = pd.MultiIndex.from_frame(keys[["item_id", "region_id"]].astype(object))
    wide.index = pd.MultiIndex.from_arrays([wide.index.get_level_values(i).astype(object) for i in range(2)])
    return wide.reindex(idx).to_numpy(dtype=float)


def interval_demand(paths: np.ndarray, days, fallback_rate) -> np.ndarray:
    """Forecast demand over the first `days` days (fractional: the last day counts pro rata) of each path.

    Beyond the path's horizon the mean of its last TAIL_DAYS days continues it; rows without a path (or with
    a NaN inside the interval) use fallback_rate * days.
    """
    days = np.broadcast_to(np.asarray(days, dtype=float), (paths.shape[0],))
    rate = np.asarray(fallback_rate, dtype=float) * np.ones(paths.shape[0])
    out = rate * days
    n, horizon = paths.shape
    if horizon == 0:
        return out
    whole = np.floor(np.maximum(days, 0.0)).astype(int)
    frac = np.maximum(days, 0.0) - whole
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(paths, axis=1)], axis=1)
    tail = (csum[:, -1] - csum[:, max(horizon - TAIL_DAYS, 0)]) / min(TAIL_DAYS, horizon)
    rows = np.arange(n)
    inside = np.minimum(whole, horizon)
    total = csum[rows, inside] + tail * np.maximum(whole - horizon, 0)
    next_day = np.where(whole < horizon, paths[rows, np.minimum(whole, horizon - 1)], tail)
    total = total + frac * next_day
    return np.where(np.isfinite(total), total, out)
