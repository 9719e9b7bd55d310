"""The one model contract, and the adapter that runs single-series models over a batch.

Contract: the constructor validates its arguments (messages name the range); ``fit(y, X=None)`` returns self;
``predict(h, X=None, quantiles=())`` returns ``{"yhat": array(h), quantile_column(q): array(h), ...}``;
models without native quantiles (``native_quantiles = False``) return only "yhat" and the engine adds
conformal quantiles from their backtest residuals.
``y`` is a 1-D array or a date-indexed Series (NaN = missing/censored day); ``X`` is an optional frame of
regressors indexed by the same dates (``promo``, ``log_price``); ``predict``'s ``X`` covers the horizon.
Vectorized models additionally expose ``batch(view, cfg) -> {"yhat": (h, n), ...}``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.forecast.panel import View


def quantile_column(q: float) -> str:
    """0.05 -> "q05", 0.5 -> "q50", 0.95 -> "q95", 0.975 -> "q97_5" (percent, "_" for the decimal point)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q}")
    pct = round(q * 100, 6)
    whole = int(pct)
    frac = f"{pct - whole:.6f}"[2:].rstrip("0")
    return f"q{whole:02d}" + (f"_{frac}" if frac else "")


def check_range(name: str, value: float, lo: float, hi: float, lo_open=False, hi_open=False) -> None:
    bad = value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi)
    if bad:
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value}")


class Model:
    """Base class: subclasses implement `_fit(y)` / `_predict(h)` on plain arrays or override fit/predict."""

    native_quantiles = False

    def fit(self, y, X: pd.DataFrame | None = None) -> Model:
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {y.shape}")
        self._y = y
        self._fit(y, X)
        return self

    def predict(self, h: int, X: pd.DataFrame | None = None, quantiles=()) -> dict[str, np.ndarray]:
        if h < 1:
            raise ValueError(f"h must be >= 1, got {h}")
        return self._predict(h, X, tuple(quantiles))

    def _fit(self, y: np.ndarray, X) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, h: int, X, quantiles) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


def series_inputs(view: View, j: int) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Series j of a view as (y, X history, X horizon), date-indexed, from its first day on."""
    s, end = int(view.start[j]), view.end
    hist = view.dates[s:end]
    y = pd.Series(view.y[s:end, j], index=hist, name="units")
    cols = {"promo": view.promo[:, j], "log_price": view.log_price[:, j]}
    ev = np.concatenate([view.ev_shared, view.ev_series[:, j, :]], axis=1)
    cols.update({name: ev[:, k] for k, name in enumerate(view.ev_names)})
    x = pd.DataFrame(cols, index=view.dates)
    return y, x.iloc[s:end], x.iloc[end : end + view.h]


def run_per_series(factory, view: View, quantiles) -> tuple[dict[str, np.ndarray], list[str | None]]:
    """Fit a new model per series; one failure becomes NaN + message, never an exception for the batch."""
    n, h, quantiles = view.y.shape[1], view.h, tuple(quantiles)
    names = ["yhat"] + [quantile_column(q) for q in quantiles]
    out = {k: np.full((h, n), np.nan) for k in names}
    errors: list[str | None] = [None] * n
    for j in range(n):
        try:
            y, xh, xf = series_inputs(view, j)
            pred = factory().fit(y, xh).predict(h, xf, quantiles)
            for k, v in pred.items():
                if k in out:
                    out[k][:, j] = v
            if not np.isfinite(out["yhat"][:, j]).all():
                raise FloatingPointError("model returned non-finite forecasts")
        except Exception as exc:  # isolate the series: the engine turns this into a fallback + status row
            out["yhat"][:, j] = np.nan
            errors[j] = f"{type(exc).__name__}: {exc}"
    return out, errors
