"""The optional simple ensemble: the plain mean of a few fast models' point forecasts (cfg.ensemble_members).

Averaging a trend/seasonal regression with a flat level model hedges the two failure modes of "auto" (a flat
model missing a ramp, a regression over-reacting to a noisy calendar fit). It is an ordinary registry model,
"ensemble": backtested like the others, conformal quantiles from its own residuals. Opt-in (not in the default
class candidates): on the measured data it did not beat class-shrunk selection (see bench/accuracy_eval.py).
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.base import Model
from skuplan.forecast.panel import View


class Ensemble(Model):
    def __init__(self, members: list[Model]):
        if not members:
            raise ValueError("ensemble needs at least one member model")
        if not all(hasattr(m, "batch") for m in members):
            raise ValueError("ensemble members must be vectorized models (with a batch method)")
        self.members = list(members)

    def batch(self, view: View, cfg) -> dict[str, np.ndarray]:
        return {"yhat": np.mean([m.batch(view, cfg)["yhat"] for m in self.members], axis=0)}

    def fit(self, y, X=None) -> Ensemble:
        self._fitted = [m.fit(y, X) for m in self.members]
        return self

    def predict(self, h: int, X=None, quantiles=()) -> dict[str, np.ndarray]:
        return {"yhat": np.mean([m.predict(h, X)["yhat"] for m in self._fitted], axis=0)}
