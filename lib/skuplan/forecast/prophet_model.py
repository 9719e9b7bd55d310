"""Prophet 1.5, one new instance per series (a Prophet object can be fit only once).

Holidays: 双十一 (Nov 11, 10-day pre-sale window) and 618 (Jun 18, 17-day window) always, country holidays when
configured; events-table dummies, promo and log price enter as extra regressors. Quantiles are native: empirical
quantiles of Prophet's predictive samples, drawn under a fixed seed so reruns are identical.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from skuplan.forecast.base import Model, check_range, quantile_column
from skuplan.forecast.calendar import FESTIVALS


def _quiet() -> None:
    """cmdstanpy configures its logger (level DEBUG + an INFO handler) lazily on first use: force that first."""
    try:
        from cmdstanpy.utils.logging import get_logger

        get_logger()
    except ImportError:  # pragma: no cover - older cmdstanpy
        pass
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    # prophet resets its logger to INFO at import; its one warning ("yearly seasonality with < 730 days") is
    # our deliberate choice (yearly terms from 1 year of history, like the regression), so: errors only.
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly missing" is irrelevant here


def festival_holidays(first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    rows = []
    for year in range(first.year, last.year + 1):
        for name, (m, d, ramp) in FESTIVALS.items():
            rows.append((name, pd.Timestamp(year, m, d), -ramp, 1))
    return pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])


class ProphetModel(Model):
    native_quantiles = True

    def __init__(
        self,
        seed: int = 42,
        holidays_country: str | None = None,
        uncertainty_samples: int = 300,
        max_history: int = 730,
    ):
        check_range("uncertainty_samples", uncertainty_samples, 50, 100_000)
        check_range("max_history", max_history, 14, 100_000)
        self.seed, self.country = int(seed), holidays_country
        self.uncertainty_samples, self.max_history = int(uncertainty_samples), int(max_history)

    def fit(self, y, X: pd.DataFrame | None = None) -> ProphetModel:
        _quiet()  # before the import: prophet logs "plotly missing" at import time
        from prophet import Prophet

        _quiet()  # and after it: the import resets prophet's level
        if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
            raise ValueError("ProphetModel.fit needs y as a pd.Series with a daily DatetimeIndex")
        y = y.iloc[-self.max_history :]
        if y.notna().sum() < 2:
            raise ValueError("Prophet needs at least 2 non-missing days")
        df = pd.DataFrame({"ds": y.index, "y": y.to_numpy()})  # NaN (censored) days are skipped by Prophet
        years = (y.index[-1] - y.index[0]).days >= 365
        m = Prophet(
            holidays=festival_holidays(y.index[0], y.index[-1] + pd.Timedelta(days=400)),
            yearly_seasonality=years,
            weekly_seasonality=True,
            daily_seasonality=False,
            uncertainty_samples=self.uncertainty_samples,
        )
        if self.country:
            m.add_country_holidays(country_name=self.country)
        self._regressors = []
        if X is not None:
            xh = X.loc[y.index]
            for col in xh.columns:
                if xh[col].nunique() > 1:  # a constant regressor carries no information and breaks scaling
                    m.add_regressor(col)
                    df[col] = xh[col].to_numpy()
                    self._regressors.append(col)
        m.fit(df, seed=self.seed)
        self._m, self._last = m, y.index[-1]
        return self

    def predict(self, h: int, X: pd.DataFrame | None = None, quantiles=()) -> dict[str, np.ndarray]:
        check_range("h", h, 1, 10_000)
        quantiles = tuple(quantiles)
        fut = pd.DataFrame({"ds": pd.date_range(self._last + pd.Timedelta(days=1), periods=h, freq="D")})
        for col in self._regressors:
            fut[col] = X[col].to_numpy() if X is not None and col in X else 0.0
        m = self._m
        m.uncertainty_samples = 0  # point forecast without sampling; samples drawn once below
        out = {"yhat": np.clip(m.predict(fut)["yhat"].to_numpy(), 0.0, None)}
        m.uncertainty_samples = self.uncertainty_samples
        if quantiles:
            state = np.random.get_state()  # Prophet samples from numpy's global RNG: seed it, then restore
            np.random.seed(self.seed)
            try:
                samples = m.predictive_samples(fut)["yhat"]
            finally:
                np.random.set_state(state)
            for q in quantiles:
                out[quantile_column(q)] = np.clip(np.quantile(samples, q, axis=1), 0.0, None)
        return out
