"""Croston, SBA and TSB for intermittent demand, vectorized over series (one pass over time, numpy per day).

Definitions (fixed smoothing constants, no optimisation: robust on short, sparse series; easy to audit):
  q = periods since the previous demand (counted from the series' first day for the first demand).
  Croston: at the first demand z = y, p = q; at later demands z += a (y - z), p += a (q - p). yhat = z / p.
  SBA: Croston times (1 - a / 2), removing Croston's known upward bias.
  TSB: at the first demand z = y, prob = 1 / q; afterwards every day prob += b (1[y > 0] - prob) and at demands
  z += a (y - z). yhat = prob * z, so the forecast decays while an item stops selling (Croston's does not).
Series with no demand forecast 0.
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.base import Model, check_range
from skuplan.forecast.panel import View, impute


def croston_level(y: np.ndarray, start: np.ndarray, alpha: float) -> np.ndarray:
    """Croston's z / p per series, shape (n,). `y` is (t, n) with NaN before each start."""
    yi = impute(y, start)
    n = yi.shape[1]
    z, p, q = np.zeros(n), np.ones(n), np.zeros(n)
    init = np.zeros(n, dtype=bool)
    for row in yi:
        active = np.isfinite(row)
        q += active
        dem = active & (row > 0)
        first, upd = dem & ~init, dem & init
        z = np.where(first, row, np.where(upd, z + alpha * (row - z), z))
        p = np.where(first, q, np.where(upd, p + alpha * (q - p), p))
        q = np.where(dem, 0.0, q)
        init |= first
    return np.where(init, z / p, 0.0)


def tsb_level(y: np.ndarray, start: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """TSB's prob * z per series, shape (n,)."""
    yi = impute(y, start)
    n = yi.shape[1]
    z, prob, q = np.zeros(n), np.zeros(n), np.zeros(n)
    init = np.zeros(n, dtype=bool)
    for row in yi:
        active = np.isfinite(row)
        q += active
        dem = active & (row > 0)
        first = dem & ~init
        upd = active & init  # every observed day after the first demand updates the probability
        prob = np.where(first, 1.0 / np.maximum(q, 1), np.where(upd, prob + beta * (dem - prob), prob))
        z = np.where(first, row, np.where(upd & dem, z + alpha * (row - z), z))
        q = np.where(dem, 0.0, q)
        init |= first
    return np.where(init, prob * z, 0.0)


class _Intermittent(Model):
    def _fit(self, y, X) -> None:
        self._level = float(self._levels(y[:, None], np.zeros(1, int))[0])

    def _predict(self, h, X, quantiles):
        return {"yhat": np.full(h, self._level)}

    def batch(self, view: View, cfg) -> dict[str, np.ndarray]:
        return {"yhat": np.repeat(self._levels(view.y, view.start)[None, :], view.h, axis=0)}


class Croston(_Intermittent):
    def __init__(self, alpha: float = 0.1):
        check_range("alpha", alpha, 0.0, 1.0, lo_open=True)
        self.alpha = float(alpha)

    def _levels(self, y, start):
        return croston_level(y, start, self.alpha)


class SBA(Croston):
    def _levels(self, y, start):
        return (1.0 - self.alpha / 2.0) * croston_level(y, start, self.alpha)


class TSB(_Intermittent):
    def __init__(self, alpha: float = 0.1, beta: float = 0.05):
        check_range("alpha", alpha, 0.0, 1.0, lo_open=True)
        check_range("beta", beta, 0.0, 1.0, lo_open=True)
        self.alpha, self.beta = float(alpha), float(beta)

    def _levels(self, y, start):
        return tsb_level(y, start, self.alpha, self.beta)
