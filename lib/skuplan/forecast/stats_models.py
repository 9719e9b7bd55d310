"""ETS and ARIMA through statsforecast's AutoETS / AutoARIMA.

Why statsforecast rather than our own: it is maintained, compiled, selects the model form by AICc and gives
analytic prediction intervals (our quantiles are then native). Cost is the catch: 10^4-10^5 times the batch
ridge per series (docs/decisions.md, 2026-11-30 "Slow models are opt-in"), so both are opt-in (never in the
default "auto" candidates) and see at most `max_history` days. Univariate: promo and price are not used
(constant regressors make ARIMA's exogenous fit singular on many SKUs).
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.base import Model, check_range, quantile_column
from skuplan.forecast.panel import impute


def _levels(quantiles) -> dict[float, tuple[str, float]]:
    """Map a quantile to statsforecast's symmetric interval bound: 0.05 -> ("lo", 90.0), 0.95 -> ("hi", 90.0)."""
    out = {}
    for q in quantiles:
        if q != 0.5:
            out[q] = ("lo" if q < 0.5 else "hi", round(abs(2 * q - 1) * 100, 6))
    return out


class _StatsForecast(Model):
    native_quantiles = True

    def __init__(self, season_length: int = 7, max_history: int = 730):
        check_range("season_length", season_length, 1, 366)
        check_range("max_history", max_history, 14, 100_000)
        self.season_length, self.max_history = int(season_length), int(max_history)

    def _fit(self, y, X) -> None:
        y = impute(y[-self.max_history :, None], np.zeros(1, int), self.season_length)[:, 0]
        if len(y) < 2 * self.season_length + 2:
            raise ValueError(f"needs at least {2 * self.season_length + 2} days of history, got {len(y)}")
        self._model = self._make().fit(y)

    def _predict(self, h, X, quantiles):
        lv = _levels(quantiles)
        levels = sorted({v for _, v in lv.values()})
        res = self._model.predict(h, level=levels) if levels else self._model.predict(h)
        out = {"yhat": np.asarray(res["mean"], dtype=float)}
        for q in quantiles:
            out[quantile_column(q)] = out["yhat"] if q == 0.5 else np.asarray(res[f"{lv[q][0]}-{lv[q][1]}"])
        return out


class ETS(_StatsForecast):
    def _make(self):
        from statsforecast.models import AutoETS

        return AutoETS(season_length=self.season_length)


class ARIMA(_StatsForecast):
    def _make(self):
        from statsforecast.models import AutoARIMA

        return AutoARIMA(season_length=self.season_length)
