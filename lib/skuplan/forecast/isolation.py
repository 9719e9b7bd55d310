"""Failure isolation for the global models: one bad series must not sink the partition it is trained in.

A global model fits all series of a view in one training run, so an error anywhere is an error for all. Two
layers keep the damage to the series that caused it:
1. screening: a series whose inputs are unusable (inf or negative units, non-finite regressors) is left out of
   the training with a message, before anything runs;
2. bisection: if training still raises, the partition is split in halves and each half trained on its own,
   recursively, so a poison series ends up alone and fails alone. A failure that is not one series' fault
   (every half fails) would bisect down to single series: `MAX_FAILED_FITS` bounds the retries, after which
   every series of a failing group gets the message.
Series that fail get NaN forecasts and a message; the engine gives them the next candidate or the per-series
fallback and a status row (engine._assemble).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from skuplan.forecast.base import Forecast
from skuplan.forecast.panel import View

MAX_FAILED_FITS = 16  # isolates a handful of poison series in a 1,000-series partition (~10 fits each)


def unusable_inputs(view: View) -> list[str | None]:
    """Per series: why its inputs cannot be trained on, or None."""
    y = view.y
    n = y.shape[1]
    inf = np.isinf(y)
    neg = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0) < 0
    bad_x = ~np.isfinite(view.promo).all(0) | ~np.isfinite(view.log_price).all(0)
    out: list[str | None] = [None] * n
    for j in np.flatnonzero(inf.any(0) | neg.any(0) | bad_x):
        counts = ((inf[:, j].sum(), "inf"), (neg[:, j].sum(), "negative"))
        parts = [f"{int(c)} {label} units" for c, label in counts if c]
        if bad_x[j]:
            parts.append("non-finite promo or price")
        out[j] = "inputs not usable for a global model: " + ", ".join(parts)
    return out


def fit_isolated(view: View, fit_forecast: Callable[[View, np.ndarray], np.ndarray], name: str) -> Forecast:
    """Run `fit_forecast(view, cols) -> (h, len(cols))` (one training on the series `cols`) with the two layers
    above; returns the forecasts (NaN where failed) and the per-series messages."""
    n, h = view.y.shape[1], view.h
    yhat = np.full((h, n), np.nan)
    errors = unusable_inputs(view)
    failed_fits = [0]

    def run(cols: np.ndarray) -> None:
        try:
            yhat[:, cols] = fit_forecast(view, cols)
            return
        except Exception as exc:  # noqa: BLE001 - isolated below; every series keeps its own message
            message = f"{name} training failed: {type(exc).__name__}: {exc}"
            failed_fits[0] += 1
            if len(cols) == 1 or failed_fits[0] >= MAX_FAILED_FITS:
                for j in cols:
                    errors[j] = message
                return
        half = len(cols) // 2
        run(cols[:half])
        run(cols[half:])

    good = np.array([j for j in range(n) if errors[j] is None], dtype=int)
    if len(good):
        run(good)
    bad = ~np.isfinite(yhat).all(0)
    for j in np.flatnonzero(bad):
        errors[j] = errors[j] or f"{name}: non-finite forecast"
    yhat[:, bad] = np.nan
    return Forecast({"yhat": yhat}, errors)
