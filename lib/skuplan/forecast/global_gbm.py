"""global_gbm: one LightGBM model per partition of series (a Spark bucket), trained across all its series.

Why: a per-series model learns nothing from the thousand series beside it, which hurts most where a series
has least to say on its own: intermittent demand, short histories. The model is the direct one of
forecast.features (step k as a feature, features scaled by each series' recent level), a Tweedie objective
for zero-inflated counts. Quantiles are the engine's conformal ones from the rolling-origin backtest
(native_quantiles = False), calibrated per demand class like every other model's.

Deterministic: LightGBM's deterministic mode, row-wise histograms, a fixed thread count and seed, and training
rows in canonical order (origins, then steps, then the view's series order).
A planned promo probability p in (0, 1) (the panel's expected promo) is forecast as p f(promo=1) +
(1 - p) f(promo=0): a tree splitting at promo > 0.5 would otherwise read p = 0.3 as no promo at all.
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast import features as ft
from skuplan.forecast.base import BatchModel, Forecast
from skuplan.forecast.global_config import GlobalGBMConfig
from skuplan.forecast.isolation import fit_isolated
from skuplan.forecast.panel import View


class GlobalGBM(BatchModel):
    native_quantiles = False

    def __init__(self, cfg: GlobalGBMConfig | None = None, seed: int = 42):
        self.cfg, self.seed = cfg or GlobalGBMConfig(), int(seed)

    @classmethod
    def from_config(cls, cfg) -> GlobalGBM:
        return cls(cfg.global_gbm, cfg.seed)

    def params(self) -> dict:
        c = self.cfg
        params = {
            "objective": c.objective,
            "learning_rate": c.learning_rate,
            "num_leaves": c.num_leaves,
            "min_data_in_leaf": c.min_data_in_leaf,
            "lambda_l2": 1.0,
            "feature_fraction": 0.8,
            "num_threads": c.threads,
            "deterministic": True,
            "force_row_wise": True,
            "seed": self.seed,
            "verbosity": -1,
        }
        if c.objective == "tweedie":
            params["tweedie_variance_power"] = c.tweedie_variance_power
        return params

    def steps(self, n_series: int, h: int) -> int:
        """Horizon steps drawn per origin: steps_per_origin, more when the partition is too small for min_rows."""
        c = self.cfg
        need = -(-c.min_rows // max(n_series * c.origins, 1))
        return int(min(h, max(c.steps_per_origin, need)))

    def fit_predict(self, view: View, quantiles=()) -> Forecast:
        return fit_isolated(view, self._fit_forecast, "global_gbm")

    def _fit_forecast(self, view: View, cols: np.ndarray) -> np.ndarray:
        import lightgbm as lgb  # lazy: the registry imports every model module at start-up

        c = self.cfg
        pf, cal = ft.prefix(view), ft.calendar_columns(view)  # shared by the training and forecast rows
        rows = ft.training_rows(view, cols, c.origins, self.steps(len(cols), view.h), self.seed, pf, cal)
        if not rows.y.any():  # no sale in any target: the log-link fit is 0 (LightGBM refuses the labels)
            return np.zeros((view.h, len(cols)))
        names = ft.feature_names(view)
        data = lgb.Dataset(
            rows.X, rows.y, feature_name=names, categorical_feature=["dow"], params={"verbosity": -1}
        )
        booster = lgb.train(self.params(), data, num_boost_round=c.rounds)
        fr = ft.forecast_rows(view, cols, pf, cal)

        def predict(X: np.ndarray) -> np.ndarray:  # on the fixed thread count too, not OpenMP's default
            return booster.predict(X, num_threads=c.threads) if len(X) else np.zeros(0)

        pred = expected_over_promo(predict, fr.X, names.index("promo"))
        return np.maximum(pred * fr.scale, 0.0).reshape(view.h, len(cols))


def expected_over_promo(predict, X: np.ndarray, promo_col: int) -> np.ndarray:
    """predict(X), with rows whose promo is a probability p in (0, 1) taken as p f(1) + (1 - p) f(0)."""
    p = X[:, promo_col]
    frac = (p > 0) & (p < 1)
    out = np.empty(len(X))
    out[~frac] = predict(X[~frac])
    if frac.any():
        on, off = X[frac], X[frac].copy()  # boolean indexing copies already
        on[:, promo_col], off[:, promo_col] = 1.0, 0.0
        out[frac] = p[frac] * predict(on) + (1 - p[frac]) * predict(off)
    return out
