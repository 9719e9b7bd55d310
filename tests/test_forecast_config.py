"""Config validation: messages name the key and the allowed range."""

import pytest
from pydantic import ValidationError

from skuplan.forecast.config import BacktestConfig, ForecastConfig
from skuplan.forecast.engine import quantile_column


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"quantiles": [0.05, 1.2]}, "quantiles must each be in (0, 1), got 1.2"),
        ({"quantiles": [0.0]}, "quantiles must each be in (0, 1)"),
        ({"quantiles": [0.95, 0.05]}, "quantiles must be sorted ascending and unique"),
        ({"quantiles": [0.5, 0.5]}, "sorted ascending and unique"),
        ({"candidates": ["regression", "magic"]}, "candidates has unknown models ['magic']"),
        ({"model": "magic"}, "model"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_forecast_config_messages(kwargs, needle):
    with pytest.raises(ValidationError) as exc:
        ForecastConfig(**kwargs)
    assert needle in str(exc.value)


def test_backtest_config_ranges():
    with pytest.raises(ValidationError, match="folds"):
        BacktestConfig(folds=0)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ForecastConfig(backtest={"step_days": 0})


def test_class_candidates_keys_checked():
    with pytest.raises(ValidationError, match="class_candidates keys must be exactly"):
        ForecastConfig(class_candidates={"smooth": ["regression"]})


def test_candidates_for():
    assert ForecastConfig(model="prophet").candidates_for("lumpy") == ["prophet"]
    assert ForecastConfig(candidates=["tsb"]).candidates_for("smooth") == ["tsb"]
    assert ForecastConfig().candidates_for("intermittent")[0] == "sba"


@pytest.mark.parametrize(
    ("q", "name"),
    [(0.05, "q05"), (0.5, "q50"), (0.95, "q95"), (0.975, "q97_5"), (0.9, "q90"), (0.001, "q00_1")],
)
def test_quantile_column(q, name):
    assert quantile_column(q) == name


def test_quantile_column_range():
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 1.5"):
        quantile_column(1.5)
