"""lstm: one small LSTM per partition of series, trained across all its series (opt-in, the `deep` extra).

Library: autograd (numpy code, differentiated), the lightest CPU autograd that installs here: 0.7 MB and pure
Python over numpy, against ~380 MB for jax+jaxlib (CPU), 40 MB for tinygrad (which also needs a C compiler at
run time for its CPU device) and several GB for torch's default wheel (CUDA libraries); figures in
docs/decisions.md "LSTM on autograd". numpy also makes it deterministic: seeded initialisation and batch
order, and the engine caps BLAS at a fixed thread count.

Model (direct, like global_gbm): the last `window` days before an origin, scaled by the series' recent level
(forecast.features), with promo, log price and an observed-day mask, run through one LSTM layer; its last
state, the log scale and the horizon's planned promo go through a dense layer to all h steps at once, with a
log link (forecasts are positive). Loss: Poisson deviance of the scaled units, missing days masked.
Training samples: every series at origins a week apart, as for global_gbm; targets after an origin and inputs
before it, so the final forecast (origin = view.end) is built exactly like a training sample.
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.base import BatchModel, Forecast
from skuplan.forecast.features import ORIGIN_SPACING, origin_stats, prefix
from skuplan.forecast.global_config import LSTMConfig
from skuplan.forecast.isolation import fit_isolated
from skuplan.forecast.panel import View

N_INPUTS = 4  # scaled units (0 where missing), observed mask, promo, log price


def _import_autograd():
    try:
        import autograd.numpy as anp
        from autograd import grad
    except ImportError as exc:  # a clear fix rather than a bare ModuleNotFoundError
        raise ImportError("forecast.model 'lstm' needs the deep extra: pip install 'skuplan[deep]'") from exc
    return anp, grad


def samples(view: View, cols: np.ndarray, origins: list[int], window: int):
    """(inputs (s, window, N_INPUTS), static (s, 1 + h), target (s, h), scale (s,), series (s,)) for the
    series `cols` at each origin; inputs use days < origin only, targets are days >= origin (NaN past end)."""
    pf = prefix(view)
    h, T = view.h, view.end
    X, S, Y, sc, ser = [], [], [], [], []
    for o in origins:
        scale = origin_stats(view, pf, o)[0][cols]
        lo = o - window
        idx = np.arange(lo, o)
        y = np.full((window, len(cols)), np.nan)
        valid = idx >= 0
        y[valid] = view.y[idx[valid]][:, cols]
        obs = np.isfinite(y)
        promo = np.zeros((window, len(cols)))
        lp = np.zeros((window, len(cols)))
        promo[valid], lp[valid] = view.promo[idx[valid]][:, cols], view.log_price[idx[valid]][:, cols]
        X.append(np.stack([np.where(obs, y / scale, 0.0), obs, promo, lp], axis=-1).transpose(1, 0, 2))
        fut = np.arange(o, o + h)
        S.append(np.column_stack([np.log(scale), view.promo[fut][:, cols].T]))
        tgt = np.full((h, len(cols)), np.nan)
        inside = fut < T
        tgt[inside] = view.y[fut[inside]][:, cols]
        Y.append((tgt / scale).T)
        sc.append(scale)
        ser.append(cols)
    return tuple(np.concatenate(a) for a in (X, S, Y, sc, ser))


def init_params(rng: np.random.Generator, hidden: int, h: int) -> dict[str, np.ndarray]:
    def glorot(*shape):
        return rng.normal(0.0, np.sqrt(2.0 / sum(shape)), size=shape)

    return {
        "W": glorot(N_INPUTS + hidden, 4 * hidden),
        "b": np.concatenate([np.zeros(hidden), np.ones(hidden), np.zeros(2 * hidden)]),  # forget gate open
        "V": glorot(hidden + 1 + h, h) * 0.1,
        "c": np.zeros(h),
    }


def forward(anp, params, X, S):
    """log of the scaled forecast (s, h)."""
    n, hidden = X.shape[0], params["W"].shape[1] // 4
    hs = anp.zeros((n, hidden))
    cs = anp.zeros((n, hidden))
    for t in range(X.shape[1]):
        z = anp.dot(anp.concatenate([X[:, t, :], hs], axis=1), params["W"]) + params["b"]
        i, f = _sigmoid(anp, z[:, :hidden]), _sigmoid(anp, z[:, hidden : 2 * hidden])
        g, o = anp.tanh(z[:, 2 * hidden : 3 * hidden]), _sigmoid(anp, z[:, 3 * hidden :])
        cs = f * cs + i * g
        hs = o * anp.tanh(cs)
    return anp.dot(anp.concatenate([hs, S], axis=1), params["V"]) + params["c"]


def _sigmoid(anp, x):
    return 0.5 * (anp.tanh(0.5 * x) + 1.0)


class GlobalLSTM(BatchModel):
    native_quantiles = False

    def __init__(self, cfg: LSTMConfig | None = None, seed: int = 42):
        self.cfg, self.seed = cfg or LSTMConfig(), int(seed)

    @classmethod
    def from_config(cls, cfg) -> GlobalLSTM:
        return cls(cfg.lstm, cfg.seed)

    def fit_predict(self, view: View, quantiles=()) -> Forecast:
        _import_autograd()  # fail the whole call, clearly, when the extra is missing
        return fit_isolated(view, self._fit_forecast, "lstm")

    def _fit_forecast(self, view: View, cols: np.ndarray) -> np.ndarray:
        anp, grad = _import_autograd()
        c, h = self.cfg, view.h
        origins = [o for o in (view.end - h - ORIGIN_SPACING * i for i in range(c.origins)) if o >= 1]
        if not origins:
            raise ValueError(f"no training samples: history of {view.end} days is too short for horizon {h}")
        X, S, Y, _, _ = samples(view, cols, origins, c.window)
        keep = np.isfinite(Y).any(1) & (X[:, :, 1].sum(1) > 0)
        X, S, Y = X[keep], S[keep], Y[keep]
        if not len(Y):
            raise ValueError("no training samples with observed history and targets")
        # Targets capped at target_clip x the recent level: one wholesale order must not teach the network
        # that any day can be 50x (UCI: WAPE 1.37 -> 0.82 with a cap of 5).
        mask, Y0 = np.isfinite(Y), np.where(np.isfinite(Y), np.minimum(Y, c.target_clip), 0.0)
        rng = np.random.default_rng(self.seed)
        params = init_params(rng, c.hidden, h)
        params["c"] = np.full(h, np.log(max(Y0.sum() / max(mask.sum(), 1), 1e-3)))  # start at the mean level

        def loss(p, xb, sb, yb, mb):
            eta = forward(anp, p, xb, sb)
            return anp.sum(mb * (anp.exp(eta) - yb * eta)) / max(mb.sum(), 1)

        dloss = grad(loss)
        params = _adam(params, dloss, (X, S, Y0, mask), c, rng)
        Xf, Sf, _, scale, _ = samples(view, cols, [view.end], c.window)
        eta = forward(np, params, Xf, Sf)
        return (np.exp(np.clip(eta, -30, 30)) * scale[:, None]).T


def _adam(params, dloss, data, c: LSTMConfig, rng, b1=0.9, b2=0.999, eps=1e-8):
    """Minibatch Adam, batches in a seeded order; gradients clipped by global norm (LSTMs can spike)."""
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    n, step = len(data[0]), 0
    for _ in range(c.epochs):
        order = rng.permutation(n)
        for lo in range(0, n, c.batch_size):
            b = order[lo : lo + c.batch_size]
            g = dloss(params, *(a[b] for a in data))
            norm = np.sqrt(sum(float((x * x).sum()) for x in g.values()))
            if not np.isfinite(norm):
                raise FloatingPointError("non-finite gradient in LSTM training")
            clip = min(1.0, 5.0 / max(norm, 1e-12))
            step += 1
            for k in params:
                gk = g[k] * clip
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                mhat, vhat = m[k] / (1 - b1**step), v[k] / (1 - b2**step)
                params[k] = params[k] - c.learning_rate * mhat / (np.sqrt(vhat) + eps)
    return params
