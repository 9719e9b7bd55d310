"""Seasonal naive and moving average: the baselines every other model must beat, vectorized over series."""

from __future__ import annotations

import warnings

import numpy as np

from skuplan.forecast.base import Model, check_range
from skuplan.forecast.panel import View, impute


def _nanmean0(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """nanmean that returns 0 (not a warning + NaN) for all-missing columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(a, axis=axis)
    return np.nan_to_num(m, nan=0.0)


def seasonal_naive_matrix(y: np.ndarray, start: np.ndarray, h: int, season: int) -> np.ndarray:
    """Repeat the last observed season; a series shorter than one season repeats its mean for missing days."""
    t, n = y.shape
    yi = impute(y, start, season)
    last = np.full((season, n), np.nan)
    k = min(season, t)
    if k:
        last[season - k :] = yi[t - k :]
    last = np.where(np.isfinite(last), last, _nanmean0(last)[None, :])
    # Step i (1-based) of the horizon has the weekday of day t + i - 1 - season, i.e. row (i - 1) % season.
    return last[np.arange(h) % season]


def moving_average_matrix(y: np.ndarray, start: np.ndarray, h: int, window: int) -> np.ndarray:
    """Flat forecast at the mean of the last `window` observed days (missing days are imputed first)."""
    yi = impute(y, start)
    return np.repeat(_nanmean0(yi[-window:])[None, :], h, axis=0)


class SeasonalNaive(Model):
    def __init__(self, season_length: int = 7):
        check_range("season_length", season_length, 1, 366)
        self.season_length = int(season_length)

    def _fit(self, y, X) -> None:
        self._yhat_fn = lambda h: seasonal_naive_matrix(y[:, None], np.zeros(1, int), h, self.season_length)[
            :, 0
        ]

    def _predict(self, h, X, quantiles):
        return {"yhat": self._yhat_fn(h)}

    @staticmethod
    def batch(view: View, cfg) -> dict[str, np.ndarray]:
        return {"yhat": seasonal_naive_matrix(view.y, view.start, view.h, cfg.season_length)}


class MovingAverage(Model):
    def __init__(self, window: int = 28):
        check_range("window", window, 1, 10_000)
        self.window = int(window)

    def _fit(self, y, X) -> None:
        self._level = moving_average_matrix(y[:, None], np.zeros(1, int), 1, self.window)[0, 0]

    def _predict(self, h, X, quantiles):
        return {"yhat": np.full(h, self._level)}

    @staticmethod
    def batch(view: View, cfg) -> dict[str, np.ndarray]:
        return {"yhat": moving_average_matrix(view.y, view.start, view.h, cfg.moving_average_window)}
