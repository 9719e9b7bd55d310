"""Conformal quantiles from backtest residuals, for models without native quantiles.

For series i and level q the offset added to yhat is
    own:    the q-quantile of the series' own residuals (actual - forecast, all folds and steps), used when it
            has >= `min_res` of them; the level is widened by (n + 1) / n as split-conformal prescribes;
    pooled: otherwise scale_i * the q-quantile of the batch's residuals divided by their series' scale
            (scale = in-sample seasonal-naive MAE, the MASE denominator), so short series borrow strength;
and both are multiplied by a horizon-step factor phi(s): the batch's mean |scaled residual| at step s over its
mean, smoothed by a straight line (per-step raw values are noisy with 3 folds), clipped to [0.5, 2].
Results are clipped at 0 and made monotone in q.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def masked_quantile(R: np.ndarray, valid: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Column-wise linear-interpolated quantiles of R (m, n) over `valid` entries, without per-column loops.

    `levels` is (nq,) or (nq, n). Returns (nq, n); NaN for columns with no valid entry.
    """
    counts = valid.sum(0)
    srt = np.sort(np.where(valid, R, np.inf), axis=0)
    lev = np.broadcast_to(np.asarray(levels, dtype=float).reshape(len(levels), -1), (len(levels), R.shape[1]))
    pos = lev * np.maximum(counts - 1, 0)[None, :]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(counts - 1, 0)[None, :])
    vlo, vhi = np.take_along_axis(srt, lo, 0), np.take_along_axis(srt, hi, 0)
    with np.errstate(invalid="ignore"):
        out = vlo + (pos - lo) * (vhi - vlo)
    out[:, counts == 0] = np.nan
    return out


def step_factor(U: np.ndarray, h: int) -> np.ndarray:
    """phi(s) for s = 0..h-1 from scaled residuals U (folds, steps, n); 1 where there is nothing to learn from."""
    a = np.abs(U)
    valid = np.isfinite(a)
    per_step = np.where(valid, a, 0.0).sum((0, 2)) / np.maximum(valid.sum((0, 2)), 1)
    w = valid.sum((0, 2)).astype(float)
    if w.sum() == 0 or (w > 0).sum() < 2:
        return np.ones(h)
    s = np.arange(len(per_step), dtype=float)
    slope, icpt = np.polyfit(s[w > 0], per_step[w > 0], 1, w=np.sqrt(w[w > 0]))
    mean = np.average(per_step[w > 0], weights=w[w > 0])
    if mean <= 0:
        return np.ones(h)
    line = (icpt + slope * np.minimum(np.arange(h), len(per_step) - 1)) / mean
    return np.clip(line, 0.5, 2.0)


def conformal_offsets(R, scale, levels, h, min_res, exclude_fold: int | None = None) -> np.ndarray:
    """Offsets (h, n, nq) from residuals R (folds, steps, n); NaN where neither own nor pooled data exist."""
    if exclude_fold is not None and R.shape[0] > 1:  # leave-one-fold-out: honest fold coverage in metrics
        R = np.delete(R, exclude_fold, axis=0)
    levels = np.asarray(levels, dtype=float)
    folds, steps, n = R.shape
    U = R / scale[None, None, :]
    valid = np.isfinite(R)
    flat, vflat = R.reshape(folds * steps, n), valid.reshape(folds * steps, n)
    n_res = vflat.sum(0)
    widened = np.clip(0.5 + (levels[:, None] - 0.5) * (n_res + 1) / np.maximum(n_res, 1), 0.0, 1.0)
    own = masked_quantile(flat, vflat, widened)
    pooled = masked_quantile(U.reshape(-1, 1), np.isfinite(U).reshape(-1, 1), levels)[:, 0]
    base = np.where(n_res[None, :] >= min_res, own, scale[None, :] * pooled[:, None])
    return step_factor(U, h)[:, None, None] * base.T[None, :, :]


def finalize(yhat: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip at 0 and sort along the quantile axis (last), so quantiles are non-negative and monotone in q."""
    yhat = np.where(np.isfinite(yhat) & (yhat > 0), yhat, 0.0)
    q = np.where(np.isfinite(q) & (q > 0), q, 0.0)
    return yhat, np.maximum.accumulate(q, axis=-1)


def poisson_quantiles(yhat: np.ndarray, levels) -> np.ndarray:
    """Last resort when a batch has no residuals at all: Poisson quantiles around the forecast."""
    mu = np.maximum(yhat, 1e-9)[..., None]
    return stats.poisson.ppf(np.asarray(levels)[None, None, :], mu)


def zero_fraction(y: np.ndarray, days: int = 56) -> np.ndarray:
    """Share of zero-demand days among the last `days` observed days of y (t, n); 0 when none observed."""
    w = y[-days:]
    obs = np.isfinite(w)
    return np.where(obs & (w == 0), 1.0, 0.0).sum(0) / np.maximum(obs.sum(0), 1)


class TailCalibration:
    """Conformal quantiles whose tails are re-scaled so the batch's misses match the nominal levels.

    Residual quantiles from a few folds under-cover (a fold's residuals share one level error, so the effective
    sample is small, and the future drifts). So each tail offset is written as center + lam_q * (offset_q -
    center), center = the 0.5 offset, and lam_q is chosen so that, on each of the last CAL_FOLDS backtest folds
    with offsets from its earlier folds only (at most OFFSET_FOLDS of them: forward in time, as in production,
    where the final forecast's offsets come from the latest OFFSET_FOLDS folds), the share of actuals below q
    (above q for q > 0.5) equals q (1 - q), pooled over the series of a demand class (the classes with
    < MIN_POINTS points: the small classes pooled). The band is one promise, q_hi - q_lo coverage: where the
    lower bound misses less than its share (floored at zero, it cannot miss), the shortfall is given to the
    upper tail (at most doubling its miss share), so intermittent classes are not over-covered.
    Count data: when >= q of a series' recent days are zero, its q-quantile is 0.
    """

    MIN_POINTS = 200
    OFFSET_FOLDS = 3  # forward offsets from the latest folds only (older folds had less history)
    CAL_FOLDS = 2  # folds the tails are calibrated on (the latest ones); one fold's period is a noisy sample

    def __init__(self, levels, min_res: int):
        self.levels = np.asarray(levels, dtype=float)
        self.ext = np.union1d(self.levels, [0.5])  # the 0.5 offset is the center even if not requested
        self.j50 = int(np.searchsorted(self.ext, 0.5))
        self.idx = np.searchsorted(self.ext, self.levels)
        self.min_res = min_res
        self.lam = None

    def offsets(self, R, scale, h, exclude_fold=None) -> np.ndarray:
        if (
            exclude_fold is None
        ):  # forward use: the latest folds, fitted on the most history, like the final fit
            R = R[-self.OFFSET_FOLDS :]
        return conformal_offsets(R, scale, self.ext, h, self.min_res, exclude_fold)

    def quantiles(self, yhat, off, p0) -> np.ndarray:
        """(h, n, nq) from forecasts (h, n), offsets (h, n, next) and recent zero shares (n,)."""
        center = off[..., self.j50]
        q = (yhat + center)[..., None] + self.lam[None] * (off[..., self.idx] - center[..., None])
        return np.where(p0[None, :, None] >= self.levels[None, None, :], 0.0, q)

    def fit(self, R, fold_yhat, A, scale, groups, p0_folds) -> TailCalibration:
        """lam per series and level from the last CAL_FOLDS folds, each with offsets from its earlier folds.

        p0_folds: (folds, n) recent zero share before each fold's cut-off."""
        n, F = R.shape[2], R.shape[0]
        self.lam = np.ones((n, len(self.levels)))
        if F < 2:
            return self
        parts = []  # per calibration fold: (offsets (S, n, next), center (S, n), actuals (S, n), ok, p0 (n,))
        for k in range(max(1, F - self.CAL_FOLDS), F):
            off_k = self.offsets(R[:k], scale, R.shape[1])
            center_k = fold_yhat[k] + off_k[..., self.j50]
            ok_k = np.isfinite(R[k]) & np.isfinite(center_k)  # R is NaN for series whose final fit failed
            parts.append((off_k, center_k, A[k], ok_k, p0_folds[k]))
        off, center, y = (np.concatenate([p[i] for p in parts]) for i in range(3))
        ok = np.concatenate([p[3] for p in parts])
        p0_last = np.concatenate([np.broadcast_to(p[4], p[3].shape) for p in parts])
        lower_miss: dict[float, dict] = {}  # level -> group -> share of points below the fitted lower bound
        order = np.argsort(np.abs(self.levels - 0.5) * 10 + (self.levels > 0.5))  # each lower before its pair
        for j in order:
            lv = self.levels[j]
            if lv == 0.5:
                continue
            d = off[..., self.idx[j]] - off[..., self.j50]
            with np.errstate(divide="ignore", invalid="ignore"):
                r = (y - center) / d  # a point misses the tail iff r > lam (d < 0 below, d > 0 above)
            miss_anyway = (y < center) if lv < 0.5 else (y > center)
            r = np.where(d == 0, np.where(miss_anyway, np.inf, -np.inf), r)
            if lv < 0.5:
                r = np.where(p0_last >= lv, -np.inf, r)  # zero-floored: can never miss below
            pair = lower_miss.get(round(1.0 - lv, 9)) if lv > 0.5 else None
            for g, cols in self._groups(groups, ok):
                pts = r[:, cols][ok[:, cols]]
                target = 1 - lv if lv < 0.5 else lv
                if pair is not None:
                    # The interval [q_lo, q_hi] promises q_hi - q_lo: lower misses short of their share (a
                    # bound floored at zero cannot miss) move to the upper tail, at most doubling it.
                    target = float(np.clip(lv - (1.0 - lv - pair[g]), 2 * lv - 1, lv))
                lam = self._quantile(pts, target)
                self.lam[cols, j] = lam
                if lv < 0.5:
                    lower_miss.setdefault(round(lv, 9), {})[g] = float((pts > lam).mean()) if pts.size else lv
        return self

    def _groups(self, groups, ok):
        """(group, column mask) pairs: each group with >= MIN_POINTS calibration points on its own, the rest
        pooled under the key None."""
        small = np.zeros(len(groups), dtype=bool)
        out = []
        for g in np.unique(groups):
            cols = groups == g
            if ok[:, cols].sum() >= self.MIN_POINTS:
                out.append((g, cols))
            else:
                small |= cols
        if small.any():
            out.append((None, small))
        return out

    def _quantile(self, r: np.ndarray, target: float) -> float:
        if r.size < self.MIN_POINTS // 2:
            return 1.0
        return float(np.clip(np.quantile(r, target, method="inverted_cdf"), 0.5, 5.0))
