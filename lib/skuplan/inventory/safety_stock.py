"""Normal-approximation safety stock: sigma of lead-time demand, z for CSL or fill rate, undershoot.

All functions take and return numpy arrays (broadcasting), so one call serves a whole batch of series.
Notation: d = mean daily demand, sd = sigma of daily demand (or forecast error), L = lead time (days),
sL = sigma of the lead time (days), P = protection interval (L, or L + R for periodic review).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def sigma_ltd(d, sigma_d, lead_time, lead_time_std):
    """sigma of demand over a random lead time: sqrt(L * sd^2 + d^2 * sL^2).

    Demand variance scales with the *number of days* (L * sd^2, not L^2 * sd^2: daily errors are
    independent) and lead-time variance with the *squared* daily rate (d^2 * sL^2).
    """
    d, sigma_d, lead_time, lead_time_std = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (d, sigma_d, lead_time, lead_time_std))
    )
    return np.sqrt(lead_time * sigma_d**2 + d**2 * lead_time_std**2)


def sigma_daily_at(sigma_1d, exponent, days):
    """Per-day sigma whose P-day variance P * sd^2 equals the forecast-error profile's sigma of P-day sums.

    The profile (skuplan.forecast.error_profile) gives sigma(P) = sigma_1d * P^exponent; dividing by sqrt(P)
    lets sigma_ltd keep its form: sqrt(P * sd^2 + d^2 sL^2) = sqrt(sigma(P)^2 + d^2 sL^2). P <= 0 -> sigma_1d
    (the P * sd^2 term is 0 then anyway).
    """
    s1, g, p = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (sigma_1d, exponent, days)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(p > 0, s1 * np.where(p > 0, p, 1.0) ** (g - 0.5), s1)


def day_sd_at_rate(rate, sd_day, day_mean):
    """sd of one day's demand at a forecast `rate` below the history's day mean: at most that of the history's
    days made rarer, sqrt(k (sd^2 + m^2) - rate^2) with k = rate / m (by size, k sd, it is smaller still).
    sd_day as given where the rate is not below the mean or the mean is unknown (NaN).

    Why: the undershoot E[X^2] / 2 E[X] - 1/2 of a review's demand X divides the day's variance by the rate; a
    series whose forecast fell to 0.005/day while its history's sd stayed 17.75 had a dispersion of 60 000 and an
    undershoot of 35 000 units (10k-series run): a stopped series cannot keep its old day-to-day spread."""
    rate, sd, m = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (rate, sd_day, day_mean)))
    with np.errstate(divide="ignore", invalid="ignore"):
        var = rate / m * (sd**2 + m**2) - rate**2
    lower = (rate < m) & np.isfinite(var) & (var < sd**2)
    return np.where(lower, np.sqrt(np.maximum(var, 0.0)), sd)


def normal_loss(z):
    """Standard normal loss G(z) = E[(Z - z)+] = phi(z) - z * (1 - Phi(z))."""
    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z * z) / _SQRT_2PI - z * ndtr(-z)


def z_for_csl(alpha):
    """Cycle service level alpha = P(no stockout in a cycle) -> z = Phi^-1(alpha)."""
    return ndtri(np.asarray(alpha, dtype=float))


def z_for_fill_rate(
    beta, cycle_qty, sigma, lost_sales: bool = False, z_max: float = 5.0, z_min: float = -5.0
):
    """Smallest z with expected shortage per cycle sigma * G(z) <= (1 - beta) * Q.

    Solves G(z) = (1 - beta) * Q / sigma (lost sales: (1 - beta) / beta * Q, because with lost sales only
    served units pass through a cycle). G is strictly decreasing, so a vectorised bisection on
    [z_min, z_max] converges for every row at once; it is the bracketing root finder brentq would use per
    row, without a Python loop over 100k series. Targets above G(z_min) give z_min (the caller clamps
    safety stock at 0); targets below G(z_max) (beta near 1) give z_max and should be flagged.
    sigma == 0 gives z = 0 (no uncertainty: any z is exact, and 0 keeps SS = 0).
    """
    beta, cycle_qty, sigma = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (beta, cycle_qty, sigma))
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # invalid rows (beta 0, NaN) give NaN, masked later
        short = (1.0 - beta) * cycle_qty / (beta if lost_sales else 1.0)
        target = np.where(sigma > 0, short / np.where(sigma > 0, sigma, 1.0), np.nan)
    lo = np.full(target.shape, float(z_min))
    hi = np.full(target.shape, float(z_max))
    for _ in range(60):  # bracket width 10 / 2^60: far below float resolution of z
        mid = 0.5 * (lo + hi)
        above = normal_loss(mid) > target  # loss still too big -> root lies to the right
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    z = 0.5 * (lo + hi)
    z = np.where(normal_loss(z_max) >= target, z_max, z)
    z = np.where(normal_loss(z_min) <= target, z_min, z)
    return np.where(sigma > 0, z, 0.0)


def undershoot_moments(d, sigma_d, review_days):
    """Mean and variance of how far the inventory position falls below s when it is checked every r days.

    Renewal theory: the undershoot of a random walk with i.i.d. steps X (demand per review, mean m,
    variance v) has the equilibrium-excess law, E[U] = E[X^2] / (2m), E[U^2] = E[X^3] / (3m). With X
    normal, E[X^2] = v + m^2 and E[X^3] = m^3 + 3 m v. Zero demand -> no undershoot.
    """
    d, sigma_d, r = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (d, sigma_d, review_days)))
    m = d * r
    v = sigma_d**2 * r
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = (v + m * m) / (2.0 * m)
        e2 = (m**3 + 3.0 * m * v) / (3.0 * m)
    mean = np.where(m > 0, e1, 0.0)
    var = np.where(m > 0, np.maximum(e2 - e1 * e1, 0.0), 0.0)
    return mean, var


def undershoot_after_order_up_to(d, sigma_d, review_days, distance, max_steps: int = 64):
    """Mean undershoot below s of a position restarted at S = s + distance (an (s, S) policy), per row.

    Wald: the review that first finds the position <= s is the N-th, E[U] = m E[N] - distance, with
    E[N] = sum_k P(S_k <= distance), S_k ~ N(k m, k v) the demand of k reviews. Unlike the renewal limit,
    this keeps the dependence on distance / m: with steady demand the position lands almost the same
    distance below s in every cycle. Rows needing more than max_steps reviews use the renewal limit.
    """
    d, sigma_d, r, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (d, sigma_d, review_days, distance))
    )
    # Rows are picked by index below: work on 1-d copies (scalars included), reshape at the end.
    shape = d.shape
    d, sigma_d, r, q = (np.ravel(x) for x in (d, sigma_d, r, q))
    m, v = d * r, sigma_d**2 * r
    out, _ = undershoot_moments(d, sigma_d, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = q / m
    rows = np.flatnonzero((m > 0) & (q > 0) & (steps < max_steps - 8))
    if rows.size:  # beyond ~max_steps reviews per cycle the renewal limit is accurate
        m, v, q = m[rows], v[rows], q[rows]
        cv = np.sqrt(v) / m
        # P(S_k <= q) is negligible once k m exceeds q by several sd: stop the sum there.
        k_max = int(min(max_steps, np.ceil(np.max(steps[rows] * (1 + 6 * cv) + 8))))
        k = np.arange(1, k_max + 1, dtype=float)
        mean_k, sd_k = m[:, None] * k, np.sqrt(v[:, None] * k)
        with np.errstate(divide="ignore", invalid="ignore"):
            below = np.where(sd_k > 0, ndtr((q[:, None] - mean_k) / sd_k), (mean_k <= q[:, None]) * 1.0)
        out = out.copy()
        out[rows] = np.maximum(m * (1.0 + below.sum(axis=1)) - q, 0.0)
    return out.reshape(shape)


def fill_rate_normal(z, sigma, cycle_qty, lost_sales: bool = False):
    """Expected fill rate of a policy with safety factor z: 1 - sigma * G(z) / Q (lost sales: Q / (Q + ES))."""
    z, sigma, q = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (z, sigma, cycle_qty)))
    es = sigma * normal_loss(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = q / (q + es) if lost_sales else 1.0 - es / q
    return np.where(q > 0, np.clip(fr, 0.0, 1.0), np.where(es > 0, 0.0, 1.0))
