"""Prophet / ETS / ARIMA on one tiny series each (they are slow: opt-in in production)."""

import numpy as np
import pytest

from forecast_helpers import series_frame, to_batch
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch, output_columns


def _weekly(days: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return np.round(20 + 6 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1.5, days))


def test_prophet_runs_on_120_days_and_returns_the_columns():
    cfg = ForecastConfig(model="prophet", horizon_days=14)
    promo = (np.arange(120) % 17 == 0).astype(float)
    res = forecast_batch(to_batch(series_frame("p", _weekly(120), promo=promo)), cfg)
    assert list(res.forecasts.columns) == [c for c, _ in output_columns(cfg)["forecasts"]]
    assert res.status["status"].tolist() == ["ok"], res.status["message"].tolist()
    assert res.status["model"].tolist() == ["prophet"]
    f = res.forecasts
    assert len(f) == 14 and (f["q05"] <= f["q50"]).all() and (f["q50"] <= f["q95"]).all()
    assert f["yhat"].between(8, 32).all()
    assert res.metrics.empty  # slow models are not backtested unless backtest_slow_models=True
    again = forecast_batch(to_batch(series_frame("p", _weekly(120), promo=promo)), cfg)
    assert np.array_equal(again.forecasts["q95"], f["q95"])  # seeded sampling: reruns are identical


@pytest.mark.parametrize("model", ["ets", "arima"])
def test_statsforecast_models_native_quantiles(model):
    cfg = ForecastConfig(model=model, horizon_days=7)
    res = forecast_batch(to_batch(series_frame("s", _weekly(70))), cfg)
    assert res.status["status"].tolist() == ["ok"], res.status["message"].tolist()
    f = res.forecasts
    assert (f["q05"] < f["q95"]).all() and f["yhat"].between(8, 32).all()
