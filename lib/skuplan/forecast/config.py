"""Typed, validated configuration of the forecasting engine (pure pydantic, no Spark).

Every knob has a default that gives the fast path: ``model="auto"`` picks among vectorized models per demand
class, so a batch of thousands of series costs milliseconds. Slow models (ETS, ARIMA, Prophet) are opt-in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skuplan.forecast.global_config import GlobalGBMConfig, LSTMConfig

ModelName = Literal[
    "auto",
    "seasonal_naive",
    "moving_average",
    "ses",
    "ets",
    "arima",
    "croston",
    "sba",
    "tsb",
    "regression",
    "ensemble",
    "prophet",
    "global_gbm",
    "lstm",
]
# Every concrete model "auto" may try (all names above except "auto").
MODEL_NAMES: tuple[str, ...] = (
    "seasonal_naive",
    "moving_average",
    "ses",
    "croston",
    "sba",
    "tsb",
    "regression",
    "ensemble",
    "ets",
    "arima",
    "prophet",
    "global_gbm",  # one LightGBM per partition of series (forecast/global_gbm.py)
    "lstm",  # one small LSTM per partition, the `deep` extra (forecast/lstm.py)
)
# Models an ensemble may average: the fast, vectorized ones.
ENSEMBLE_MEMBERS: tuple[str, ...] = (
    "seasonal_naive",
    "moving_average",
    "ses",
    "croston",
    "sba",
    "tsb",
    "regression",
)
DEMAND_CLASSES: tuple[str, ...] = ("smooth", "erratic", "intermittent", "lumpy")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BacktestConfig(_Strict):
    """Rolling-origin backtest: ``folds`` cut-offs, ``step_days`` apart, each scored on ``horizon_days``.

    horizon_days None (the default) = the forecast's own horizon: a model is chosen and its intervals are
    calibrated on the lead times it will be used for (a 28-day score says little about day 90). step_days
    None = the backtest horizon: folds do not overlap, so the interval calibration (fitted on the last fold
    with offsets from the earlier ones) never sees the days it is checked on."""

    folds: int = Field(4, ge=1, description="number of rolling-origin folds, >= 1")
    horizon_days: int | None = Field(None, ge=1, description="days scored after each fold cut-off, >= 1")
    step_days: int | None = Field(None, ge=1, description="days between consecutive fold cut-offs, >= 1")


class ForecastConfig(_Strict):
    model: ModelName = "auto"
    horizon_days: int = Field(28, ge=1, le=3660)
    quantiles: list[float] = [0.05, 0.5, 0.95]
    season_length: int = Field(7, ge=1, le=366)
    # Shorter series are cold starts: mean of their own history shrunk to the batch's category/region profile.
    min_history_days: int = Field(28, ge=1)
    # Flat override of the per-class defaults below (same list for every class).
    candidates: list[str] | None = None
    # Per-demand-class candidates for "auto", in order of preference (first = default when a series is too
    # short to backtest). Only vectorized models by default, so "auto" stays well under 1 ms per series.
    class_candidates: dict[str, list[str]] = {
        "smooth": ["regression", "seasonal_naive", "moving_average", "ses"],
        "erratic": ["regression", "moving_average", "seasonal_naive", "ses"],
        # global_gbm where per-series models are weakest (issue 16; docs/decisions.md "Global models ...").
        "intermittent": ["sba", "tsb", "croston", "regression", "moving_average", "ses", "global_gbm"],
        "lumpy": ["sba", "tsb", "moving_average", "regression", "ses", "global_gbm"],
    }
    backtest: BacktestConfig = BacktestConfig()
    # How "auto" picks among the backtested candidates (see backtest.select_shrunk): "class_shrunk" = the demand
    # class's best model unless a series' own best beats it by `selection_margin` in total and in every fold;
    # "per_series" = each series' lowest backtest error (noisy: 3 folds x 28 days of one series).
    selection: Literal["class_shrunk", "per_series"] = "class_shrunk"
    selection_margin: float = Field(0.1, ge=0, lt=1)
    # "combo": a candidate built from the others, the mean of a series' `combine_top` best backtested models
    # weighted by 1 / backtest error (scoring.combine); 0 or 1 = off.
    combine_top: int = Field(3, ge=0, le=10)
    # ETS/ARIMA/Prophet are 10^3-10^5 times slower than the vectorized models: backtesting them is opt-in.
    # Without a backtest they still give native quantiles, but no metrics rows, and as "auto" candidates they
    # are chosen only for series on which no candidate could be scored.
    backtest_slow_models: bool = False
    seed: int = 42
    # BLAS threads inside forecast_batch (None = leave as is). 1: Spark runs one Python worker per core.
    blas_threads: int | None = Field(1, ge=1)

    # Baselines and intermittent models.
    moving_average_window: int = Field(28, ge=1)
    croston_alpha: float = Field(0.1, gt=0, le=1)
    tsb_alpha: float = Field(0.1, gt=0, le=1)
    tsb_beta: float = Field(0.05, gt=0, le=1)

    # "ensemble": plain mean of these models' forecasts (opt-in: add "ensemble" to the candidates or set model).
    ensemble_members: list[str] = ["regression", "moving_average"]

    # Batch ridge regression (the fast default).
    ridge_alpha: float = Field(10.0, ge=0)
    n_changepoints: int = Field(4, ge=0, le=50)
    changepoint_range: float = Field(0.85, gt=0, le=1)
    fourier_order: int = Field(4, ge=0, le=20)
    transform: Literal["log1p", "none"] = "log1p"
    holidays_country: str | None = None  # e.g. "CN", "US": adds one "public holiday" dummy (holidays package)

    # Days of history the Spark glue ships per series (the most recent ones): bounds a bucket's rows at
    # series_per_bucket x this, however long one series' history is. Three years keep two full yearly cycles
    # for the regression's Fourier terms with room to spare.
    max_history_days: int = Field(1095, ge=28)

    # Global models, one per partition of series (issue 16): forecast/global_gbm.py, forecast/lstm.py.
    global_gbm: GlobalGBMConfig = GlobalGBMConfig()
    lstm: LSTMConfig = LSTMConfig()

    # Slow models.
    slow_model_max_history_days: int = Field(730, ge=28)  # ETS/ARIMA/Prophet see at most this much history
    prophet_uncertainty_samples: int = Field(300, ge=50)

    # Conformal quantiles: a series with fewer backtest residuals borrows the batch's pooled residuals.
    conformal_min_residuals: int = Field(40, ge=1)
    # Units above this (or inf / negative) make a series "poison": fallback forecast, status "failed".
    max_units: float = Field(1e9, gt=0)

    @field_validator("quantiles")
    @classmethod
    def _check_quantiles(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("quantiles must hold at least one level in (0, 1), got []")
        for q in v:
            if not 0.0 < q < 1.0:
                raise ValueError(f"quantiles must each be in (0, 1), got {q}")
        if list(v) != sorted(set(v)):
            raise ValueError(f"quantiles must be sorted ascending and unique, got {v}")
        return list(v)

    @field_validator("candidates")
    @classmethod
    def _check_candidates(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            _check_names("candidates", v)
        return v

    @field_validator("ensemble_members")
    @classmethod
    def _check_ensemble_members(cls, v: list[str]) -> list[str]:
        _check_names("ensemble_members", v)
        bad = [n for n in v if n not in ENSEMBLE_MEMBERS]
        if bad:
            raise ValueError(f"ensemble_members must be fast models from {list(ENSEMBLE_MEMBERS)}, got {bad}")
        return v

    @field_validator("class_candidates")
    @classmethod
    def _check_class_candidates(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        missing = [c for c in DEMAND_CLASSES if c not in v]
        extra = [c for c in v if c not in DEMAND_CLASSES]
        if missing or extra:
            raise ValueError(
                f"class_candidates keys must be exactly {list(DEMAND_CLASSES)}, missing {missing}, unknown {extra}"
            )
        for cls_name, names in v.items():
            _check_names(f"class_candidates[{cls_name!r}]", names)
        return v

    @property
    def backtest_horizon(self) -> int:
        """Days scored after each backtest cut-off: the configured horizon unless backtest.horizon_days is set."""
        return self.backtest.horizon_days or self.horizon_days

    @property
    def backtest_step(self) -> int:
        """Days between backtest cut-offs: backtest.step_days, else the backtest horizon (no overlap)."""
        return self.backtest.step_days or self.backtest_horizon

    def candidates_for(self, demand_class: str) -> list[str]:
        """Models tried for one series: the explicit model, else the flat override, else the class default."""
        if self.model != "auto":
            return [self.model]
        if self.candidates is not None:
            return list(self.candidates)
        return list(self.class_candidates.get(demand_class, self.class_candidates["smooth"]))


def _check_names(key: str, names: list[str]) -> None:
    if not names:
        raise ValueError(f"{key} must name at least one model from {list(MODEL_NAMES)}")
    bad = [n for n in names if n not in MODEL_NAMES]
    if bad:
        raise ValueError(f"{key} has unknown models {bad}; allowed: {list(MODEL_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{key} must not repeat a model, got {names}")
