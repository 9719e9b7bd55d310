"""The fast default: one ridge regression per series, all series of a batch solved together.

y_t = log1p(units_t) ~ shared calendar design (trend + hinges, weekday, yearly Fourier, festivals, events)
                       + per-series columns (promo, log price, regional events).
Why it is fast: the shared design X (T x p) is the same for every series, so X'WX depends on a series only
through its mask W (start date, stockout days): one reverse cumulative sum of X's row outer products gives
every start date's Gram matrix, stockout days are subtracted with one matmul (see gram_by_mask). The few
per-series columns add thin blocks (3 matmuls), then one batched `np.linalg.solve` over (n, P, P).
Missing/censored days get weight 0, so stockouts are never learned as low demand.
Ridge pulls event coefficients toward log(uplift_hint), so an event never seen in training still gets its hint.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from skuplan.forecast.base import Model, check_range
from skuplan.forecast.calendar import base_design
from skuplan.forecast.panel import View

JITTER = 1e-8  # keeps the intercept block solvable when ridge_alpha = 0
MAX_GROWTH = 10.0  # forecasts are capped at 10x the series' largest observation (guards runaway trends)
SMEAR_DAYS = 182


def gram_by_mask(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    """X' diag(m_i) X for every column m_i of the 0/1 mask M (T, n). Returns (n, p, p).

    A series observed every day from its start s_i has Gram = sum_{t >= s_i} x_t x_t': a reverse cumulative
    sum of the rows' outer products, computed once for the batch (T x p(p+1)/2) and looked up by start.
    Missing days inside a span (stockouts) are subtracted with one matmul over the series that have any.
    """
    T, p = X.shape
    iu = np.triu_indices(p)
    outer = X[:, iu[0]] * X[:, iu[1]]  # (T, p(p+1)/2): x_t x_t', upper triangle
    suffix = np.zeros((T + 1, outer.shape[1]))
    np.cumsum(outer[::-1], axis=0, out=suffix[T - 1 :: -1])
    has = M.any(0)
    first = np.where(has, M.argmax(0), T)
    tri = suffix[first]
    holes = ~M & (np.arange(T)[:, None] >= first[None, :])
    with_holes = np.flatnonzero(holes.any(0))
    if len(with_holes):
        tri[with_holes] -= holes[:, with_holes].T.astype(float) @ outer
    G = np.empty((M.shape[1], p, p))
    G[:, iu[0], iu[1]] = tri
    G[:, iu[1], iu[0]] = tri
    return G


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise sum_t a_ti b_ti without a (T, n) temporary."""
    return np.einsum("tn,tn->n", a, b)


def ridge_solve(X, Zs, Yt, M, lam, pen, prior) -> tuple[np.ndarray, np.ndarray]:
    """Solve min sum_t m_ti (y_ti - X_t b_i - sum_j z_jti c_ji)^2 + lam sum_j pen_j (beta_j - prior_j)^2.

    X (T, p) shared; Zs: k arrays (T, n) of per-series columns; Yt, M (T, n); Yt and every Z must already be
    0 where M is False. Returns (B (n, p), C (n, k)).
    """
    n, p, k = Yt.shape[1], X.shape[1], len(Zs)
    A = np.empty((n, p + k, p + k))
    A[:, :p, :p] = gram_by_mask(X, M)
    b = np.empty((n, p + k))
    b[:, :p] = (X.T @ Yt).T
    for j, Zj in enumerate(Zs):
        rows = np.flatnonzero(Zj.any(1))  # sparse columns (regional events) touch only a few days
        rows = slice(None) if len(rows) > len(Zj) // 2 else rows  # dense ones: a view, no copy
        Zr = Zj[rows]
        A[:, :p, p + j] = A[:, p + j, :p] = (X[rows].T @ Zr).T
        for i in range(j + 1):
            A[:, p + j, p + i] = A[:, p + i, p + j] = _dot(Zr, Zs[i][rows])
        b[:, p + j] = _dot(Zr, Yt[rows])
    d = np.arange(p + k)
    A[:, d, d] += lam * pen + JITTER
    b += lam * pen * prior
    try:
        beta = np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # one degenerate series must not sink the batch: solve one by one
        beta = np.full((n, p + k), np.nan)
        for i in range(n):
            beta[i] = np.linalg.lstsq(A[i], b[i], rcond=None)[0]
    return beta[:, :p], beta[:, p:]


class Regression(Model):
    def __init__(
        self,
        ridge_alpha: float = 10.0,
        n_changepoints: int = 4,
        changepoint_range: float = 0.85,
        fourier_order: int = 4,
        transform: str = "log1p",
        holidays_country: str | None = None,
    ):
        check_range("ridge_alpha", ridge_alpha, 0, np.inf)
        check_range("n_changepoints", n_changepoints, 0, 50)
        check_range("changepoint_range", changepoint_range, 0, 1, lo_open=True)
        check_range("fourier_order", fourier_order, 0, 20)
        if transform not in ("log1p", "none"):
            raise ValueError(f"transform must be one of ['log1p', 'none'], got {transform!r}")
        self.cfg = SimpleNamespace(
            ridge_alpha=float(ridge_alpha),
            n_changepoints=int(n_changepoints),
            changepoint_range=float(changepoint_range),
            fourier_order=int(fourier_order),
            transform=transform,
            holidays_country=holidays_country,
        )

    @classmethod
    def from_config(cls, cfg) -> Regression:
        keys = (
            "ridge_alpha",
            "n_changepoints",
            "changepoint_range",
            "fourier_order",
            "transform",
            "holidays_country",
        )
        return cls(**{k: getattr(cfg, k) for k in keys})

    def batch(self, view: View, cfg=None) -> dict[str, np.ndarray]:
        c, T = self.cfg, view.end
        X, pen, _ = base_design(view.dates, T, c)
        ks, kr = view.ev_shared.shape[1], view.ev_series.shape[2]
        X = np.concatenate([X, view.ev_shared], axis=1)
        p = X.shape[1]
        M = np.isfinite(view.y)
        Zs = [view.promo, view.log_price] + [np.ascontiguousarray(view.ev_series[:, :, j]) for j in range(kr)]
        Zs = [np.where(np.vstack([M, np.ones((view.h, M.shape[1]), bool)]), z, 0.0) for z in Zs]
        log_scale = c.transform == "log1p"
        prior = np.zeros(p + len(Zs))
        if log_scale:  # uplift hints are multiplicative: a prior on the log scale only
            prior[p - ks : p] = view.ev_prior[:ks]
            prior[p + 2 :] = view.ev_prior[ks:]
        pen = np.concatenate([pen, np.ones(ks + len(Zs), dtype=bool)]).astype(float)
        Yt = np.log1p(np.where(M, view.y, 0.0)) if log_scale else np.where(M, view.y, 0.0)
        B, C = ridge_solve(X[:T], [z[:T] for z in Zs], Yt, M, c.ridge_alpha, pen, prior)

        def mu(rows: slice) -> np.ndarray:
            return X[rows] @ B.T + sum(z[rows] * C[:, j] for j, z in enumerate(Zs))

        ymax = np.max(np.where(M, view.y, 0.0), axis=0, initial=0.0)
        cap = MAX_GROWTH * ymax + 1.0
        mu_f = mu(slice(T, T + view.h))
        if not log_scale:
            return {"yhat": np.clip(mu_f, 0.0, cap)}
        # Duan's smearing: E[y] = exp(mu) * mean(exp(residual)) - 1, robust to non-normal residuals; from the
        # last SMEAR_DAYS only (the recent regime, and cheaper than the whole history).
        r = slice(max(T - SMEAR_DAYS, 0), T)
        w = M[r]
        with np.errstate(over="ignore"):
            smear = np.where(w, np.exp(np.clip(Yt[r] - mu(r), -50, 50)), 0.0).sum(0) / np.maximum(w.sum(0), 1)

            def level(m):
                return np.exp(np.minimum(m, np.log1p(cap))) * smear - 1.0

            # A fractional future promo is a probability (panel: the expected value when no plan is given):
            # E[y] = p * y(promo) + (1 - p) * y(no promo), not y at promo = p (the log link is convex).
            p, c = Zs[0][T : T + view.h], C[:, 0]
            yhat = p * level(mu_f + (1 - p) * c) + (1 - p) * level(mu_f - p * c)
        return {"yhat": np.clip(yhat, 0.0, cap)}

    def fit(self, y, X: pd.DataFrame | None = None) -> Regression:
        if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
            raise ValueError("Regression.fit needs y as a pd.Series with a daily DatetimeIndex")
        self._y, self._X = y.astype(float), X
        return self

    def predict(self, h: int, X: pd.DataFrame | None = None, quantiles=()) -> dict[str, np.ndarray]:
        check_range("h", h, 1, 10_000)
        y = self._y
        dates = pd.date_range(y.index[0], periods=len(y) + h, freq="D")
        xs = pd.concat([self._X, X]) if self._X is not None and X is not None else None

        def col(name):
            return np.zeros((len(dates), 1)) if xs is None or name not in xs else xs[name].to_numpy()[:, None]

        ev = [c for c in (xs.columns if xs is not None else []) if c.startswith("event")]
        view = View(
            y=y.to_numpy()[:, None],
            start=np.zeros(1, dtype=int),
            dates=dates,
            promo=col("promo"),
            log_price=col("log_price"),
            ev_shared=np.column_stack([col(e) for e in ev]) if ev else np.zeros((len(dates), 0)),
            ev_series=np.zeros((len(dates), 1, 0)),
            ev_prior=np.zeros(len(ev)),
            ev_names=ev,
            end=len(y),
            h=h,
        )
        return {"yhat": self.batch(view)["yhat"][:, 0]}
