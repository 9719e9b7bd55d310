"""Model registry: every forecasting model, built from a ForecastConfig, behind one contract (see base).

`build(name, cfg)` is what the engine calls: a batch-level model whose `fit_predict(view, quantiles)` fits and
forecasts all series of a view. `REGISTRY[name].factory(cfg)` returns a fresh registry model: vectorized over
series when it has a `batch(view, cfg)` method, else a one-series model run one instance per series.
`complexity` breaks ties in model selection (simpler wins) and `slow` marks models whose backtests are opt-in
(ForecastConfig.backtest_slow_models).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skuplan.forecast.base import BatchModel, Model, PerSeries, Vectorized, quantile_column
from skuplan.forecast.baselines import MovingAverage, SeasonalNaive
from skuplan.forecast.ensemble import Ensemble
from skuplan.forecast.global_gbm import GlobalGBM
from skuplan.forecast.intermittent import SBA, TSB, Croston
from skuplan.forecast.prophet_model import ProphetModel
from skuplan.forecast.regression import Regression
from skuplan.forecast.smoothing import SES
from skuplan.forecast.stats_models import ARIMA, ETS

__all__ = [
    "ARIMA",
    "ETS",
    "REGISTRY",
    "GlobalGBM",
    "SBA",
    "TSB",
    "Croston",
    "Ensemble",
    "Model",
    "ModelSpec",
    "MovingAverage",
    "ProphetModel",
    "Regression",
    "SeasonalNaive",
    "build",
    "quantile_column",
]


@dataclass(frozen=True)
class ModelSpec:
    factory: Callable[..., Model]
    complexity: int
    slow: bool = False
    # cfg -> whether it also forecasts the batch's cold-start series (engine): a global model can learn young
    # series from the others.
    cold_start: Callable[..., bool] = lambda cfg: False


REGISTRY: dict[str, ModelSpec] = {
    "seasonal_naive": ModelSpec(lambda c: SeasonalNaive(c.season_length), 0),
    "moving_average": ModelSpec(lambda c: MovingAverage(c.moving_average_window), 1),
    "ses": ModelSpec(lambda c: SES(), 1),
    "croston": ModelSpec(lambda c: Croston(c.croston_alpha), 2),
    "sba": ModelSpec(lambda c: SBA(c.croston_alpha), 3),
    "tsb": ModelSpec(lambda c: TSB(c.tsb_alpha, c.tsb_beta), 4),
    "regression": ModelSpec(Regression.from_config, 5),
    # Members are looked up at build time (REGISTRY is complete by then); config allows only fast models.
    "ensemble": ModelSpec(lambda c: Ensemble([REGISTRY[m].factory(c) for m in c.ensemble_members]), 6),
    "ets": ModelSpec(lambda c: ETS(c.season_length, c.slow_model_max_history_days), 7, slow=True),
    "arima": ModelSpec(lambda c: ARIMA(c.season_length, c.slow_model_max_history_days), 8, slow=True),
    "prophet": ModelSpec(
        lambda c: ProphetModel(
            c.seed, c.holidays_country, c.prophet_uncertainty_samples, c.slow_model_max_history_days
        ),
        9,
        slow=True,
    ),
    # Global models: batch-level themselves (one training per partition, failures isolated inside, see
    # forecast/isolation.py); backtested like the fast ones so "auto" keeps them only where they win.
    "global_gbm": ModelSpec(GlobalGBM.from_config, 10, cold_start=lambda c: c.global_gbm.cold_start),
    "lstm": ModelSpec(lambda c: _lstm().from_config(c), 11),
}


def _lstm():
    """The LSTM class, imported when used: its autograd library is the optional `deep` extra."""
    from skuplan.forecast.lstm import GlobalLSTM

    return GlobalLSTM


def build(name: str, cfg) -> BatchModel:
    """The batch-level model the engine fits: registry model `name` configured by `cfg`, vectorized when it
    can be, else one instance per series (errors isolated per series either way, see base)."""
    spec = REGISTRY[name]
    model = spec.factory(cfg)
    if isinstance(model, BatchModel):  # a global model: already the batch-level contract
        return model

    def factory():
        return spec.factory(cfg)

    return Vectorized(factory, cfg) if hasattr(factory(), "batch") else PerSeries(factory)
