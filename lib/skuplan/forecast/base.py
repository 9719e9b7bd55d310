"""The model contracts: one batch-level contract the engine calls, and the two kinds of models behind it.

Engine contract (`BatchModel`): ``fit_predict(view, quantiles) -> Forecast`` fits on the view's history and
forecasts its ``view.h`` days for all n series at once; a series that fails gets NaN and a message, never an
exception for the batch. `models.build(name, cfg)` returns one, wrapping a registry model of either kind:

- vectorized models expose ``batch(view, cfg) -> {"yhat": (h, n)}`` and are wrapped in `Vectorized`;
- one-series models (``Model``): the constructor validates its arguments (messages name the range);
  ``fit(y, X=None)`` returns self; ``predict(h, X=None, quantiles=()) -> {"yhat": array(h),
  quantile_column(q): array(h), ...}``. ``y`` is a 1-D array or a date-indexed Series (NaN = missing/censored
  day); ``X`` an optional frame of regressors on the same dates (``promo``, ``log_price``, events);
  ``predict``'s ``X`` covers the horizon. `PerSeries` fits a fresh one per series.

Models without native quantiles (``native_quantiles = False``) return only "yhat"; the engine adds conformal
quantiles from their backtest residuals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from skuplan.contracts import quantile_column  # the forecasts table's naming; the models import it from here
from skuplan.forecast.panel import View


def check_range(name: str, value: float, lo: float, hi: float, lo_open=False, hi_open=False) -> None:
    bad = value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi)
    if bad:
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value}")


class Model:
    """One-series model base class: subclasses implement `_fit(y)` / `_predict(h)` on plain arrays or override
    fit/predict."""

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


class Forecast(NamedTuple):
    """What a batch-level model returns for the n series of a view."""

    values: dict[str, np.ndarray]  # "yhat" (+ quantile_column(q) if native), each (h, n); NaN where failed
    errors: list[str | None]  # per series: "ExceptionType: message" where it failed, else None


class BatchModel:
    """The engine's contract: one fit + forecast over all series of a view (see the module docstring)."""

    native_quantiles: bool = False

    def fit_predict(self, view: View, quantiles=()) -> Forecast:  # pragma: no cover - abstract
        raise NotImplementedError


class PerSeries(BatchModel):
    """A one-series model over a batch: a fresh model per series from `factory`; a series whose fit or
    forecast raises, or whose forecast is not finite, gets NaN and the message (its neighbours are unaffected)."""

    def __init__(self, factory: Callable[[], Model]):
        self.factory = factory
        self.native_quantiles = factory().native_quantiles

    def fit_predict(self, view: View, quantiles=()) -> Forecast:
        quantiles = tuple(quantiles) if self.native_quantiles else ()
        n, h = view.y.shape[1], view.h
        out = {k: np.full((h, n), np.nan) for k in ["yhat"] + [quantile_column(q) for q in quantiles]}
        errors: list[str | None] = [None] * n
        for j in range(n):
            try:
                y, xh, xf = series_inputs(view, j)
                pred = self.factory().fit(y, xh).predict(h, xf, quantiles)
                for k, v in pred.items():
                    if k in out:
                        out[k][:, j] = v
                if not np.isfinite(out["yhat"][:, j]).all():
                    raise FloatingPointError("model returned non-finite forecasts")
            except Exception as exc:  # isolate the series: the engine turns this into a fallback + status row
                out["yhat"][:, j] = np.nan
                errors[j] = f"{type(exc).__name__}: {exc}"
        return Forecast(out, errors)


class Vectorized(BatchModel):
    """A vectorized model (`batch(view, cfg)`) over a batch: every series in one call. A series with a
    non-finite forecast fails alone; if the call raises, the series are retried one by one (PerSeries), so
    one bad series cannot sink the batch."""

    def __init__(self, factory: Callable[[], object], cfg):
        self.factory, self.cfg = factory, cfg
        self.native_quantiles = factory().native_quantiles

    def fit_predict(self, view: View, quantiles=()) -> Forecast:
        try:
            out = self.factory().batch(view, self.cfg)
        except Exception:  # noqa: BLE001 - retried per series: each series' error is reported there
            return PerSeries(self.factory).fit_predict(view, quantiles)
        bad = ~np.isfinite(out["yhat"]).all(0)
        out["yhat"] = np.where(bad[None, :], np.nan, out["yhat"])
        return Forecast(out, ["FloatingPointError: non-finite forecast" if b else None for b in bad])


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
