"""Exact discrete demand distributions for the policy levels: lead-time demand, undershoot, levels, service.

Every function works on a batch of rows at once: a distribution is an (n, N) array of probabilities on the
cells 0 .. N-1 of a row's grid (cell k stands for k * unit units, `unit` a whole number of units per row, 1
unless the row's demand is too large for N cells); the last cell holds the tail mass. Levels come back in
cells (multiply by the unit).

Replay conventions these formulas are exact for (inventory.replay): integer demand, review every r days,
order when the position is <= s, an order placed at the end of day t lands at the end of day t + L. Then
- the cycle that ends with that receipt is short iff D_L + U > s, U = s - position before ordering (>= 0);
- the expected units short per review are E[(D_{L+r} - IP)+] - E[(D_L - IP)+], IP the position after a
  review: uniform on s+1 .. s+Q for (s, nQ), the renewal weights on s+1 .. S for (s, S), S for (R, S).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, gammaincc, gammaln, ndtr, ndtri

MAX_CELLS = 2048
# (s, S): the first-passage undershoot is computed exactly up to this many cells between S and s; beyond,
# the renewal limit P(U = j) = P(X > j) / E[X] is exact to far below the grid's resolution.
MAX_EXACT_DISTANCE = 2048


def grid_unit(upper, max_cells: int = MAX_CELLS) -> np.ndarray:
    """Units per cell so that 0 .. upper units fit in max_cells cells: 1 unless upper >= max_cells."""
    up = np.nan_to_num(np.asarray(upper, dtype=float), nan=0.0)
    return np.maximum(np.ceil(up / (max_cells - 1)), 1.0)


def _cdf_at(m, mean, var, normal):
    """P(D <= m) at integer m (n, K) for rows of (mean, var): discretised normal (continuity-corrected) where
    `normal`, else negative binomial where var > mean, else Poisson. Each law is evaluated on its rows only."""
    out = np.ones(m.shape)
    mean, var = mean[:, None], var[:, None]
    nb = ~normal & (var[:, 0] > mean[:, 0] * (1 + 1e-9)) & (mean[:, 0] > 0)
    po = ~normal & ~nb & (mean[:, 0] > 0)
    mm = np.maximum(m, 0.0)
    if normal.any():
        sd = np.sqrt(np.maximum(var[normal], 0.0))
        mu, x = mean[normal], m[normal] + 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (x - mu) / np.where(sd > 0, sd, 1.0), np.where(x >= mu, np.inf, -np.inf))
        out[normal] = ndtr(z)
    if nb.any():
        r = mean[nb] ** 2 / (var[nb] - mean[nb])
        out[nb] = betainc(r, mm[nb] + 1.0, r / (r + mean[nb]))
    if po.any():
        out[po] = gammaincc(mm[po] + 1.0, mean[po])
    return np.where(normal[:, None] | (m >= 0), out, 0.0)


def moment_pmf(mean, var, unit, n_cells: int, normal) -> np.ndarray:
    """(n, n_cells) pmf of a demand with the given mean and variance (units), on each row's grid of `unit`.

    normal: discretised normal (negative units folded into cell 0); otherwise negative binomial (var > mean)
    or Poisson. Cell k holds the integers that round to k * unit; the last cell takes the tail.
    """
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    var = np.maximum(np.asarray(var, dtype=float), 0.0)
    normal = np.broadcast_to(np.asarray(normal, dtype=bool), mean.shape)
    unit = np.asarray(unit, dtype=float)
    pmf = np.zeros((len(mean), n_cells))
    # whole units and a count law: its pmf directly (far cheaper than the cdf)
    counts = (unit == 1) & ~normal & (mean > 0)
    if counts.any():
        pmf[counts] = _count_pmf(mean[counts], var[counts], n_cells)
    if normal.any():
        pmf[normal] = _normal_pmf(mean[normal], var[normal], unit[normal], n_cells)
    rest = ~counts & ~normal
    if rest.any():
        k = np.arange(n_cells, dtype=float)[None, :]
        u = unit[rest][:, None]
        upper_edge = np.ceil(k * u + u / 2.0) - 1.0  # last integer of cell k
        cdf = _cdf_at(upper_edge, mean[rest], var[rest], normal[rest])
        cdf[:, -1] = 1.0
        pmf[rest] = np.diff(cdf, axis=1, prepend=0.0)
    return np.maximum(pmf, 0.0)


def _normal_pmf(mean, var, unit, n_cells: int) -> np.ndarray:
    """Discretised normal (continuity-corrected, negatives folded into cell 0, tail into the last cell), the
    normal cdf evaluated only on each row's band mean +- 11 sd (past it the mass is below 1e-27)."""
    n = len(mean)
    sd = np.sqrt(var)
    lo = np.clip(np.floor((mean - 11 * sd) / unit) - 1, 0, n_cells - 1).astype(int)
    width = int(min(n_cells, np.max(np.ceil(22 * sd / unit)) + 4))
    k = lo[:, None] + np.arange(-1, width)[None, :]  # the cell before the band gives its lower edge
    edge = np.ceil(k * unit[:, None] + unit[:, None] / 2.0) - 1.0  # last integer of cell k
    with np.errstate(divide="ignore", invalid="ignore"):
        x = edge + 0.5 - mean[:, None]
        safe = np.where(sd > 0, sd, 1.0)[:, None]
        z = np.where(sd[:, None] > 0, x / safe, np.where(x >= 0, np.inf, -np.inf))
    cdf = ndtr(z)
    cdf[:, 0] = np.where(lo > 0, cdf[:, 0], 0.0)  # band at cell 0: everything below it folds into cell 0
    band = np.diff(cdf, axis=1)
    cells = np.minimum(k[:, 1:], n_cells - 1)
    pmf = np.zeros((n, n_cells))
    np.add.at(pmf, (np.repeat(np.arange(n), width), cells.ravel()), band.ravel())
    pmf[:, -1] += np.maximum(1.0 - pmf.sum(axis=1), 0.0)
    return pmf


def _count_pmf(mean, var, n_cells: int) -> np.ndarray:
    """Negative binomial (var > mean) or Poisson pmf on 0 .. n_cells-1 (mean > 0), tail in the last cell."""
    k = np.arange(n_cells, dtype=float)[None, :]
    m, v = mean[:, None], var[:, None]
    nb = v > m * (1 + 1e-9)
    r = np.where(nb, m**2 / np.where(nb, v - m, 1.0), 1.0)
    p = np.where(nb, r / (r + m), 0.5)
    log_nb = gammaln(k + r) - gammaln(r) - gammaln(k + 1) + r * np.log(p) + k * np.log1p(-p)
    log_po = k * np.log(m) - m - gammaln(k + 1)
    pmf = np.exp(np.where(nb, log_nb, log_po))
    pmf[:, -1] += np.maximum(1.0 - pmf.sum(axis=1), 0.0)
    return pmf


def sample_pmf(samples: np.ndarray, unit, n_cells: int) -> np.ndarray:
    """(n, n_cells) empirical pmf of (n, B) draws on each row's grid (rounded to the nearest cell)."""
    n, b = samples.shape
    cells = np.clip(np.rint(samples / np.asarray(unit, dtype=float)[:, None]), 0, n_cells - 1).astype(
        np.int64
    )
    flat = (cells + (np.arange(n) * n_cells)[:, None]).ravel()
    return np.bincount(flat, minlength=n * n_cells).reshape(n, n_cells) / b


def convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """pmf of the sum of independent rows of a and b, on the same grid; mass past the grid in the last cell."""
    n_cells = a.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_cells)))
    full = np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)
    out = np.maximum(full[:, :n_cells], 0.0)
    out[:, -1] += np.maximum(1.0 - out.sum(axis=1), 0.0)  # the tail past the grid (FFT noise is ~1e-16)
    return out / out.sum(axis=1, keepdims=True)


def power(step: np.ndarray, times) -> np.ndarray:
    """pmf of the sum of `times` (per row, >= 0 whole) independent copies of step, by one FFT: the caller's
    grid must hold the whole sum (its mass past the grid would wrap around the FFT length, 2 N)."""
    times = np.asarray(times, dtype=int)
    n_cells = step.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_cells)))
    full = np.fft.irfft(np.fft.rfft(step, size) ** times[:, None], size)
    out = np.maximum(full[:, :n_cells], 0.0)
    out[:, -1] += np.maximum(1.0 - out.sum(axis=1), 0.0)
    return out / out.sum(axis=1, keepdims=True)


def scale_frequency(day: np.ndarray, factor) -> np.ndarray:
    """A day's pmf with its mean times `factor`, by changing how often demand occurs, not its size: P(X = j)
    times factor for j > 0, the rest at 0. Where that would need more than every day (factor * P(X > 0) > 1),
    every day has demand and the sizes grow by the remaining factor (mass split between neighbouring cells so
    the mean is exact)."""
    f = np.asarray(factor, dtype=float)
    nonzero = 1.0 - day[:, 0]
    out = day * f[:, None]
    out[:, 0] = 1.0 - f * nonzero
    over = f * nonzero > 1.0
    if over.any():
        sizes = day[over].copy()
        sizes[:, 0] = 0.0
        sizes /= np.maximum(nonzero[over], 1e-300)[:, None]
        grow = (f * nonzero)[over]
        n_cells = day.shape[1]
        pos = np.arange(n_cells)[None, :] * grow[:, None]
        low = np.minimum(np.floor(pos).astype(int), n_cells - 1)
        high = np.minimum(low + 1, n_cells - 1)
        w_high = np.where(high > low, pos - low, 0.0)
        scaled = np.zeros_like(sizes)
        rows = np.repeat(np.arange(len(sizes)), n_cells)
        np.add.at(scaled, (rows, low.ravel()), (sizes * (1 - w_high)).ravel())
        np.add.at(scaled, (rows, high.ravel()), (sizes * w_high).ravel())
        out[over] = scaled
    return np.maximum(out, 0.0)


def lead_time_weights(lead, lead_sd, points: int = 41):
    """(days 0 .. D-1, (n, D) probabilities) of whole-day lead times: N(L, sL) rounded stochastically (the
    fraction is the chance of the next whole day), at least 0 days. Exact for sL = 0; otherwise integrated on
    `points` normal quantiles."""
    lead, sd = np.asarray(lead, dtype=float), np.asarray(lead_sd, dtype=float)
    u = (np.arange(points) + 0.5) / points
    x = np.maximum(lead[:, None] + sd[:, None] * np.where(sd[:, None] > 0, ndtri(u)[None, :], 0.0), 0.0)
    days = np.arange(int(np.ceil(x.max(initial=0.0))) + 2)
    w = np.maximum(1.0 - np.abs(x[:, :, None] - days[None, None, :]), 0.0).mean(axis=1)  # triangular kernel
    return days, w / w.sum(axis=1, keepdims=True)


def lead_time_demand(day: np.ndarray, lead, lead_sd) -> np.ndarray:
    """pmf of the demand of a random whole number of i.i.d. days (lead_time_weights), by one FFT: the grid
    must hold the longest lead time's demand."""
    days, w = lead_time_weights(lead, lead_sd)
    n_cells = day.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_cells)))
    f = np.fft.rfft(day, size)
    acc = np.zeros_like(f)
    power_k = np.ones_like(f)
    for k in days:  # sum_k w_k F^k
        acc += w[:, k][:, None] * power_k
        power_k = power_k * f
    out = np.maximum(np.fft.irfft(acc, size)[:, :n_cells], 0.0)
    out[:, -1] += np.maximum(1.0 - out.sum(axis=1), 0.0)
    return out / out.sum(axis=1, keepdims=True)


def mean_of(pmf: np.ndarray) -> np.ndarray:
    return pmf @ np.arange(pmf.shape[1], dtype=float)


def undershoot_sq(step: np.ndarray, q) -> np.ndarray:
    """pmf of U = s - position at the review that orders, for (s, nQ) with lot q cells.

    The position after each review is uniform on s+1 .. s+q; a review's demand X crosses from s + i to s - j
    with probability P(X = i + j) / q, so P(U = j) is proportional to P(j < X <= j + q) (for q >= every X:
    P(X > j) / E[X], the size-biased equilibrium excess).
    """
    n, n_cells = step.shape
    cdf = np.concatenate([np.cumsum(step, axis=1), np.ones((n, 1))], axis=1)
    j = np.arange(n_cells)[None, :]
    q = np.maximum(np.asarray(q, dtype=int), 1)[:, None]
    w = np.take_along_axis(cdf, np.minimum(j + q, n_cells), axis=1) - cdf[:, :n_cells]
    total = w.sum(axis=1, keepdims=True)
    none = np.zeros_like(w)
    none[:, 0] = 1.0  # no demand: the position never falls below s
    return np.where(total > 1e-300, np.maximum(w, 0.0) / np.where(total > 1e-300, total, 1.0), none)


def _renewal_mass(step: np.ndarray, delta: np.ndarray, k_max: int) -> np.ndarray:
    """h(k), k < k_max: probability that the cumulative demand of nonzero reviews ever equals k (h(0) = 1),
    zeroed from each row's delta on. h = 1 + g * h (g the step pmf given X > 0), so its generating function is
    1 / (1 - G(z)); it is inverted by an FFT on the circle |z| = rho < 1, where 1 - G has no zero, and the
    result divided by rho^k. rho^size = 1e-18 keeps the aliased terms below 1e-18 while rho^-k_max stays
    below 10^2.25 (size >= 8 k_max), so rounding errors stay near 1e-14."""
    n, n_cells = step.shape
    nonzero = np.maximum(1.0 - step[:, 0], 1e-300)
    g = np.concatenate([np.zeros((n, 1)), step[:, 1:]], axis=1) / nonzero[:, None]
    size = 1 << int(np.ceil(np.log2(max(8 * k_max, 2 * n_cells))))
    rho = 10.0 ** (-18.0 / size)
    tilt = rho ** np.arange(size)
    g_ext = np.zeros((n, size))
    g_ext[:, :n_cells] = g * tilt[:n_cells]
    h = np.fft.irfft(1.0 / (1.0 - np.fft.rfft(g_ext, size)), size)[:, :k_max] / tilt[:k_max]
    h = np.maximum(h, 0.0)
    h[np.arange(k_max)[None, :] >= delta[:, None]] = 0.0
    return h


def undershoot_ss(step: np.ndarray, delta):
    """(pmf of U, weights of S - position over 0 .. delta-1) for (s, S) with S - s = delta cells.

    Exact first passage of the position restarted at S: P(U = j) = sum_{k < delta} h(k) P(X' = delta + j - k)
    with h the renewal mass of the nonzero steps X'; between orders the position sits at S - k with weight
    h(k). Rows with delta > MAX_EXACT_DISTANCE use the renewal limit (U size-biased, weights uniform).
    """
    n, n_cells = step.shape
    delta = np.maximum(np.asarray(delta, dtype=int), 1)
    exact = delta <= MAX_EXACT_DISTANCE
    k_max = int(min(delta[exact].max(initial=1), MAX_EXACT_DISTANCE))
    u = undershoot_sq(step, np.full(n, n_cells))  # renewal limit
    weights = np.ones((n, k_max)) * (np.arange(k_max)[None, :] < delta[:, None])
    if exact.any():
        st = step[exact]
        h = _renewal_mass(st, delta[exact], k_max)
        gp = np.concatenate([np.zeros((len(st), 1)), st[:, 1:]], axis=1) / np.maximum(1.0 - st[:, :1], 1e-300)
        size = 1 << int(np.ceil(np.log2(k_max + n_cells + 1)))
        conv = np.fft.irfft(np.fft.rfft(h, size) * np.fft.rfft(gp, size), size)
        idx = np.minimum(delta[exact][:, None] + np.arange(n_cells)[None, :], size - 1)
        ue = np.maximum(np.take_along_axis(conv, idx, axis=1), 0.0)
        ue[:, -1] += np.maximum(1.0 - ue.sum(axis=1), 0.0)
        u[exact] = ue / ue.sum(axis=1, keepdims=True)
        weights[exact] = h
    return u, weights / weights.sum(axis=1, keepdims=True)


def quantile_level(pmf: np.ndarray, alpha) -> np.ndarray:
    """Smallest cell s with P(D <= s) >= alpha, per row."""
    cdf = np.cumsum(pmf, axis=1)
    return np.argmax(cdf >= np.asarray(alpha, dtype=float)[:, None] - 1e-12, axis=1)


def cdf_at(pmf: np.ndarray, level) -> np.ndarray:
    """P(D <= level) per row (level in cells; < 0 gives 0, past the grid 1)."""
    cdf = np.cumsum(pmf, axis=1)
    lv = np.asarray(level, dtype=float)
    idx = np.clip(np.floor(lv), 0, pmf.shape[1] - 1).astype(int)
    return np.where(lv < 0, 0.0, np.take_along_axis(cdf, idx[:, None], axis=1)[:, 0])


def loss(pmf: np.ndarray, pad: int) -> np.ndarray:
    """E[(D - y)+] for y = -pad .. N-1 (cells): (n, pad + N); below 0 it is E[D] - y."""
    n, n_cells = pmf.shape
    y = np.arange(n_cells, dtype=float)
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # P(D >= y)
    # E[(D - y)+] = sum_{m > y} P(D >= m)
    above = np.concatenate([np.cumsum(tail[:, :0:-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1)
    mean = (pmf * y).sum(axis=1, keepdims=True)
    below = mean - np.arange(-pad, 0, dtype=float)[None, :]
    return np.concatenate([below, above], axis=1)


def shortage_per_review(pmf_l: np.ndarray, pmf_lr: np.ndarray, weights: np.ndarray, pad: int):
    """Expected units short per review for levels s = -pad .. N-1: sum_o w(o) [L_{L+r}(s + o) - L_L(s + o)],
    the position after a review being s + o with probability w(o), o = 0 .. W-1 (offsets past the grid
    contribute 0). Returns (n, pad + N), column i for s = i - pad."""
    n, n_cells = pmf_l.shape
    diff = loss(pmf_lr, pad) - loss(pmf_l, pad)  # (n, pad + N), index i <-> y = i - pad
    width = weights.shape[1]
    ext = np.concatenate([diff, np.zeros((n, width))], axis=1)
    size = 1 << int(np.ceil(np.log2(ext.shape[1] + width)))
    # correlation: out[i] = sum_o w[o] ext[i + o]
    corr = np.fft.irfft(np.fft.rfft(ext[:, ::-1], size) * np.fft.rfft(weights, size), size)
    m = ext.shape[1]
    return np.maximum(corr[:, m - 1 - np.arange(pad + n_cells)], 0.0)


def _window_mean(values: np.ndarray, q: np.ndarray, n_out: int) -> np.ndarray:
    """out[:, i] = mean of values[:, i+1 .. i+q] per row (values long enough), by prefix sums."""
    c = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    i = np.arange(n_out)[None, :]
    q = np.asarray(q, dtype=int)[:, None]
    return (np.take_along_axis(c, i + 1 + q, axis=1) - c[:, 1 : n_out + 1]) / q


def shortage_uniform(pmf_l: np.ndarray, pmf_lr: np.ndarray, q, pad: int) -> np.ndarray:
    """shortage_per_review for a position uniform on s+1 .. s+q ((s, nQ)), by prefix sums instead of an FFT."""
    n, n_cells = pmf_l.shape
    diff = loss(pmf_lr, pad) - loss(pmf_l, pad)
    ext = np.concatenate([diff, np.zeros((n, int(np.max(q)) + 1))], axis=1)  # loss is 0 past the grid
    return np.maximum(_window_mean(ext, q, pad + n_cells), 0.0)


def on_hand_uniform(pmf_l: np.ndarray, q, pad: int) -> np.ndarray:
    """on_hand_per_review for a position uniform on s+1 .. s+q, by prefix sums."""
    n, n_cells = pmf_l.shape
    width = int(np.max(q)) + 1
    y = np.arange(-pad, n_cells + width, dtype=float)[None, :]
    mean = mean_of(pmf_l)[:, None]
    lo = np.concatenate([loss(pmf_l, pad), np.zeros((n, width))], axis=1)
    return _window_mean(y - mean + lo, q, pad + n_cells)


def on_hand_per_review(pmf_l: np.ndarray, weights: np.ndarray, pad: int):
    """Expected net stock on hand E[(IP - D_L)+] at the levels of shortage_per_review (same layout)."""
    n, n_cells = pmf_l.shape
    y = np.arange(-pad, n_cells, dtype=float)[None, :]
    mean = mean_of(pmf_l)[:, None]
    oh = y - mean + loss(pmf_l, pad)  # E[(y - D)+]
    width = weights.shape[1]
    offs = np.arange(width, dtype=float)
    last = oh[:, -1:] + offs[None, :]  # past the grid: D is always below y, on hand grows linearly
    ext = np.concatenate([oh, last + 1.0], axis=1)
    size = 1 << int(np.ceil(np.log2(ext.shape[1] + width)))
    corr = np.fft.irfft(np.fft.rfft(ext[:, ::-1], size) * np.fft.rfft(weights, size), size)
    m = ext.shape[1]
    return corr[:, m - 1 - np.arange(pad + n_cells)]


def first_meeting(curve: np.ndarray, limit) -> np.ndarray:
    """Index of the first column where a non-increasing curve is <= limit (the last column if none)."""
    ok = curve <= np.asarray(limit, dtype=float)[:, None] + 1e-12
    return np.where(ok.any(axis=1), np.argmax(ok, axis=1), curve.shape[1] - 1)


def add_normal(pmf: np.ndarray, var_cells) -> np.ndarray:
    """pmf of max(X + E, 0), E a zero-mean normal of variance var_cells (cells^2) discretised on the grid
    (continuity-corrected) and independent of X: an error common to the days added to a law of their noise.
    Mass below 0 folds into cell 0, past the grid into the last cell."""
    var = np.maximum(np.nan_to_num(np.asarray(var_cells, dtype=float)), 0.0)
    n, n_cells = pmf.shape
    sd = np.sqrt(var)
    half = int(min(n_cells, np.ceil(8 * sd.max(initial=0.0)) + 1))
    off = np.arange(-half, half + 1, dtype=float)[None, :]
    safe = np.where(sd > 0, sd, 1.0)[:, None]
    kernel = np.where(sd[:, None] > 0, ndtr((off + 0.5) / safe) - ndtr((off - 0.5) / safe), off == 0)
    kernel /= kernel.sum(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(n_cells + 2 * half + 1)))
    full = np.maximum(np.fft.irfft(np.fft.rfft(pmf, size) * np.fft.rfft(kernel, size), size), 0.0)
    out = full[:, half : half + n_cells].copy()  # full[m] is the value m - half
    out[:, 0] += full[:, :half].sum(axis=1)
    out[:, -1] += np.maximum(1.0 - out.sum(axis=1), 0.0)
    return out / out.sum(axis=1, keepdims=True)
