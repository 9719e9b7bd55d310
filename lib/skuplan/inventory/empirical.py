"""Empirical lead-time demand for intermittent/lumpy series: seeded bootstrap or moment-fitted negative binomial.

Random numbers come from a counter-based hash of (seed, series key, stream, draw index), not from a shared
generator: a series gets the same draws whichever Spark batch it lands in, and retries are reproducible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtri

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective scramble of uint64 (wrap-around arithmetic is intended)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def series_keys(item_id, region_id, seed: int) -> np.ndarray:
    """Stable uint64 per series from its ids and the seed (pandas' hash is fixed-key, not salted per run)."""
    ids = (
        pd.Series(item_id).astype(str).to_numpy(dtype=object)
        + "\x1f"
        + pd.Series(region_id).astype(str).to_numpy(dtype=object)
    )
    h = pd.util.hash_array(ids.astype(object))
    with np.errstate(over="ignore"):
        return _mix(h ^ _mix(np.array([seed], dtype=np.uint64) * _GOLDEN + _GOLDEN))


def uniforms(keys: np.ndarray, stream: int, shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(keys), *shape); draw j of a stream is the same whatever `shape` is."""
    count = int(np.prod(shape)) if shape else 1
    ctr = (np.arange(count, dtype=np.uint64) + np.uint64(offset)).reshape(shape)
    with np.errstate(over="ignore"):
        base = _mix(keys.astype(np.uint64) + np.uint64(stream) * _GOLDEN)
        x = _mix(base.reshape((-1,) + (1,) * len(shape)) + (ctr + np.uint64(1)) * _GOLDEN)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def draw_lead_times(lead_time, lead_time_std, u_norm, u_round, min_days: float = 1.0) -> np.ndarray:
    """Whole-day lead times >= min_days from N(L, sL): stochastic rounding keeps the mean at L for fractional L.

    min_days = 1 is the daily replay's physics (an order placed at the end of a day lands a day later at the
    earliest); the lead-time demand of a plan uses 0, so that L = 0.5 protects half a day on average, not one.
    """
    lt = np.asarray(lead_time, dtype=float) + np.asarray(lead_time_std, dtype=float) * ndtri(u_norm)
    return np.maximum(np.floor(lt + u_round), float(min_days))


def bootstrap_protection_demand(
    hist: np.ndarray,
    n_valid: np.ndarray,
    keys: np.ndarray,
    lead_time: np.ndarray,
    lead_time_std: np.ndarray,
    extra_days: np.ndarray,
    samples: int,
    min_days: float = 1.0,
) -> np.ndarray:
    """Samples (n, samples) of demand over L' + extra days, L' ~ N(L, sL) rounded (>= min_days, see
    draw_lead_times), days resampled i.i.d.

    hist: (n, W) daily units, right-aligned (most recent last), NaN before a series' first day; n_valid
    counts the valid days (see right_align). One small PCG64 stream per series, seeded by its key: the loop
    is over series only to give each its own stream (everything inside is vectorised), far cheaper than
    hashing every draw in numpy.
    """
    n, width = hist.shape
    out = np.zeros((n, samples))
    for j in range(n):
        g = np.random.Generator(np.random.PCG64(int(keys[j])))
        u = g.random((2, samples))
        lt = draw_lead_times(lead_time[j], lead_time_std[j], u[0], u[1], min_days)
        days = (lt + extra_days[j]).astype(np.int64)
        idx = g.integers(width - int(n_valid[j]), width, size=(samples, int(days.max())))
        draws = hist[j, idx]
        out[j] = np.where(np.arange(idx.shape[1]) < days[:, None], draws, 0.0).sum(axis=1)
    return out


def right_align(hist: np.ndarray):
    """(hist with each row's valid (non-NaN) days moved to its right end in date order, n_valid per row):
    the layout bootstrap_protection_demand resamples from."""
    valid = ~np.isnan(hist)
    order = np.argsort(valid, axis=1, kind="stable")  # NaN (False) first, valid days keep date order
    return np.take_along_axis(hist, order, axis=1), valid.sum(axis=1)


def empirical_csl_level(samples: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Smallest sample value x with F(x) >= alpha (inverted-CDF quantile), per row."""
    srt = np.sort(samples, axis=1)
    k = np.clip(np.ceil(np.asarray(alpha) * srt.shape[1]).astype(int) - 1, 0, srt.shape[1] - 1)
    return np.take_along_axis(srt, k[:, None], axis=1)[:, 0]


def empirical_fill_level(samples: np.ndarray, max_shortage: np.ndarray) -> np.ndarray:
    """Smallest s with E[(X - s)+] <= max_shortage, exact on the piecewise-linear empirical loss."""
    srt = np.sort(samples, axis=1)
    b = srt.shape[1]
    suffix = np.cumsum(srt[:, ::-1], axis=1)[:, ::-1]  # sum of x_(k) .. x_(B)
    above = b - np.arange(b)  # number of samples >= x_(k) (ties counted in, harmless)
    loss_at = (suffix - above * srt) / b  # E[(X - x_(k))+]
    ok = loss_at <= max_shortage[:, None]
    k = np.argmax(ok, axis=1)  # first sample point meeting the target (last point always has loss 0)
    xk = srt[np.arange(len(k)), k]
    # On [x_(k-1), x_(k)] the loss has slope -(B - k) / B (0-based k): walk left from x_(k) to the target.
    s = xk - (max_shortage - loss_at[np.arange(len(k)), k]) * b / (b - k)
    prev = np.where(k > 0, srt[np.arange(len(k)), np.maximum(k - 1, 0)], -np.inf)
    return np.maximum(s, prev)


def empirical_service(samples: np.ndarray, level: np.ndarray):
    """(P(X <= s), E[(X - s)+]) per row, for the expected CSL and fill-rate columns."""
    csl = (samples <= level[:, None]).mean(axis=1)
    short = np.maximum(samples - level[:, None], 0.0).mean(axis=1)
    return csl, short


def _negbin_params(mean, var):
    """(r, p) of NB(r, p) with the given moments; r = inf (Poisson) where var <= mean."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(var > mean * (1 + 1e-9), mean**2 / (var - mean), np.inf)
        p = np.where(np.isfinite(r), r / (r + mean), 1.0)
    return r, p


def negbin_sf(k, mean, r, p):
    """P(X > k) for NB(r, p) where r is finite, Poisson(mean) elsewhere."""
    fin = np.isfinite(r)
    safe_r = np.where(fin, r, 1.0)
    return np.where(fin, stats.nbinom.sf(k, safe_r, p), stats.poisson.sf(k, mean))


def negbin_loss(s, mean, r, p):
    """E[(X - s)+] for s >= 0. With c = ceil(s): E[X 1{X >= c}] - s P(X >= c), and x f(x; r, p) =
    mean f(x - 1; r + 1, p) (Poisson: f(x - 1; mean)) gives E[X 1{X >= c}] = mean P(Y >= c - 1)."""
    c = np.ceil(np.asarray(s, dtype=float))
    fin = np.isfinite(r)
    safe_r = np.where(fin, r, 1.0)
    tail_y = np.where(fin, stats.nbinom.sf(c - 2, safe_r + 1, p), stats.poisson.sf(c - 2, mean))
    return np.maximum(mean * tail_y - s * negbin_sf(c - 1, mean, r, p), 0.0)


def negbin_levels(mean, var, alpha, max_shortage, use_fill):
    """Integer reorder level per row: CSL quantile, or the smallest s meeting the fill-rate shortage."""
    mean = np.asarray(mean, dtype=float)
    r, p = _negbin_params(mean, np.asarray(var, dtype=float))
    fin = np.isfinite(r)
    safe_r = np.where(fin, r, 1.0)
    csl_s = np.where(fin, stats.nbinom.ppf(alpha, safe_r, p), stats.poisson.ppf(alpha, mean))
    hi = np.where(fin, stats.nbinom.ppf(1 - 1e-12, safe_r, p), stats.poisson.ppf(1 - 1e-12, mean)) + 1
    lo = np.zeros_like(mean)
    for _ in range(64):  # integer bisection: loss is decreasing in s
        mid = np.floor(0.5 * (lo + hi))
        ok = negbin_loss(mid, mean, r, p) <= max_shortage
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
        if np.all(lo >= hi):
            break
    level = np.where(use_fill, hi, csl_s)
    return (level, *negbin_service(mean, var, level))


def negbin_service(mean, var, level):
    """(P(X <= level), E[(X - level)+]) under the moment-fitted NB / Poisson."""
    mean = np.asarray(mean, dtype=float)
    r, p = _negbin_params(mean, np.asarray(var, dtype=float))
    return 1.0 - negbin_sf(level, mean, r, p), negbin_loss(level, mean, r, p)
