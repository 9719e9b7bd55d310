"""plan_policy's exact levels (cfg.level_model = "discrete"): the inputs of inventory.levels from the plan's
validated rows, phased on the daily forecast, and the plan's level fields from its result.

Moments per row (d = the forecast rate over the lead time, sum of the daily forecasts / L):
- D_L: mean = forecast sum over the first L days from the run date (phasing.interval_demand); variance =
  the error profile's variance of L-day sums + d^2 (sL^2 + f (1 - f)), f = frac(L): an order's lead time is
  a whole number of days, L rounded up with probability f, which adds f (1 - f) days^2 of spread.
- X (one review): sQ / sS: d r and the day-to-day demand variance times r (the undershoot is made of demand
  steps); RS: D_{L+R} - D_L in mean and variance, so D_L + X has the profile's moments over L + R.
Intermittent / lumpy rows (cfg.empirical_classes): negative binomial moments, or, where the history allows
(bootstrap), the exact law of i.i.d. days resampled from it: X a sum of r days, D_L of a random whole number of
days (lead time N(L, sL), stochastically rounded), the day's law moved to the forecast rate by how often demand
occurs (a lumpy item's level changes with the frequency of its lumps, not their size).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from skuplan.inventory.levels import CODES, LevelRows, discrete_levels
from skuplan.inventory.lot_sizing import round_order_qty
from skuplan.inventory.phasing import interval_demand
from skuplan.inventory.safety_stock import day_sd_at_rate, sigma_ltd

# Lots tried by the joint (s, Q) search of sQ fill-rate rows, as multiples of the EOQ.
LOT_MULTIPLES = (0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.45, 1.75, 2.1, 2.5, 3.0)
# Largest squared relative error of the forecast level _level_error_terms expands in (a relative sd of 1).
MAX_LEVEL_ERROR_T2 = 1.0


def _moments(inp, cfg, sigma, policy, review, paths, day_moments, empirical):
    d0, lt, lt_sd = inp.d0, inp.lt, inp.lt_sd
    big_r = cfg.review_period_days
    mean_l = interval_demand(paths, lt, d0)
    rate = np.where(lt > 0, mean_l / np.where(lt > 0, lt, 1.0), d0)
    rate = np.where(np.isfinite(rate) & (rate >= 0), rate, d0)
    frac = lt - np.floor(lt)
    var_l = sigma_ltd(rate, sigma.at(lt), lt, np.sqrt(lt_sd**2 + frac * (1 - frac))) ** 2
    sig_step = np.where(np.isfinite(sigma.demand) & (sigma.demand > 0), sigma.demand, sigma.at(review))
    day_var = _frequency_day_var(rate, *day_moments)
    # Other rows keep their day variance sig_step^2, but below the history's level (window mean) never more than
    # that day made rarer (safety_stock.day_sd_at_rate): left as it was, a rate of 0.005/day with the history's
    # variance 315 gave an undershoot of 31 000 units and, via _level_error_terms, a reorder point of 5e8.
    sd_at_rate = day_sd_at_rate(rate, sig_step, day_moments[0])
    day_var = np.where(empirical, day_var, np.where(sd_at_rate < sig_step, sd_at_rate**2, np.nan))
    # the days' own noise at the forecast rate replaces the history's, in every interval's variance
    noise_shift = np.where(np.isfinite(day_var), day_var - sig_step**2, 0.0)
    var_l = np.maximum(var_l + lt * noise_shift, 0.0)
    step_mean, step_var = rate * review, (sig_step**2 + noise_shift) * review
    rs = policy == "RS"
    mean_lr = interval_demand(paths, lt + big_r, d0)
    rate_lr = mean_lr / np.maximum(lt + big_r, 1e-9)
    frac_lr = (lt + big_r) - np.floor(lt + big_r)
    var_lr = (
        sigma_ltd(rate_lr, sigma.at(lt + big_r), lt + big_r, np.sqrt(lt_sd**2 + frac_lr * (1 - frac_lr))) ** 2
    )
    var_lr = np.maximum(var_lr + (lt + big_r) * noise_shift, 0.0)
    level_var = np.maximum(np.nan_to_num(sigma.at(lt) ** 2 * lt - sig_step**2 * lt), 0.0)  # var(L d e)
    extra, shift = _level_error_terms(mean_l, level_var, step_mean, step_var)
    extra, shift = np.where(rs, 0.0, extra), np.where(rs, 0.0, shift)
    step_mean = np.where(rs, np.maximum(mean_lr - mean_l, 0.0), step_mean)
    step_var = np.where(rs, np.maximum(var_lr - var_l, 0.0), step_var)
    return mean_l, var_l, rate, step_mean, step_var, extra, shift, level_var


def _frequency_day_var(rate, m1, m2):
    """Variance of one day's demand at `rate` when the history's day law (mean m1, mean square m2) moves to it by
    how often demand occurs (discrete.scale_frequency: P(X = j) k for j > 0, k = rate / m1): k m2 - rate^2.
    NaN where there is no such history (m1 NaN or 0).

    The sparse rows' moment fit (the negative binomial their history law is blended with) must describe the same
    day as that law. The history's own variance at a lower rate does not: a lumpy item whose trailing mean fell
    to 0.11/day kept the 182-day variance 21, an NB of lumps of ~190 units, and its fill-rate level went to
    s = 321 for lumps of at most 55 (the bench's lumpy sQ cells cost 1.2-2x the textbook at the same service)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = rate / m1
        out = k * m2 - rate**2
    return np.where(np.isfinite(out) & (m1 > 0), np.maximum(out, 0.0), np.nan)


def _history_day_moments(cfg, hist, empirical):
    """(mean, mean square) of the history days of the sparse-class rows (NaN elsewhere and without history)."""
    m1, m2 = np.full(len(empirical), np.nan), np.full(len(empirical), np.nan)
    if not hist.shape[1] or not empirical.any():
        return m1, m2
    window = hist[empirical]
    n_valid = np.isfinite(window).sum(axis=1)
    ok = n_valid > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        m1[empirical] = np.where(ok, np.nansum(window, axis=1) / np.maximum(n_valid, 1), np.nan)
        m2[empirical] = np.where(ok, np.nansum(window**2, axis=1) / np.maximum(n_valid, 1), np.nan)
    return m1, m2


def _level_error_terms(mean_l, level_var, step_mean, step_var):
    """(variance, mean) to add to D_L for reorder-point rows (s, Q) and (s, S): what the forecast level's error
    does to the protected demand D_L + U beyond D_L's own variance.

    The profile's variance of D_L is the days' own noise plus the error of the forecast level, a relative error e
    (variance t2) common to the days: var(L d e). Two consequences, with c = L d + E[U]:
    - the undershoot is demand at the same rate, so D_L + U carries c e, not L d e: add var(L d e) ((c / L d)^2 - 1)
      (E[U] ~ E[X^2] / 2 E[X] - 1/2, the large-lot undershoot; several days of demand for weekly (s, S));
    - the CSL counts cycles, and a series (or a stretch of time) runs cycles in proportion to its true rate, 1 + e:
      the cycles see e weighted by 1 + e, whose mean is t2 (variance t2 - t2^2 ~ t2 for a normal e), so the
      cycles' D_L + U has mean c t2 more than the forecast's. Without these, the replay's erratic (s, S) CSL fell
      ~3 pp short and a brute-force replay with a per-series level error (t = 0.2) 2.5 pp (tests).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u_mean = np.maximum(np.nan_to_num((step_var + step_mean**2) / (2 * step_mean) - 0.5), 0.0)
        ok = mean_l > 0
        t2 = np.where(ok, level_var / np.where(ok, mean_l, 1.0) ** 2, 0.0)
    # Both terms are the small-error expansion in e, and e >= -1 (demand is never negative): past a relative sd of
    # 1 they are held at t = 1. Unbounded, an absolute error measured at the history's level over a forecast that
    # fell to ~0 made t2 ~ 1e7 and the protected demand's mean 3e11 (10k-series run, tests).
    t2 = np.minimum(t2, MAX_LEVEL_ERROR_T2)
    with np.errstate(invalid="ignore", over="ignore"):
        c = mean_l + u_mean
        return np.nan_to_num(t2 * (c**2 - mean_l**2)), np.nan_to_num(t2 * c)


def _history_days(cfg, hist, rows, rate, prior):
    """(days of history, frequency scale, weight of their law) for the bootstrap rows among `rows` (NaN / 1 / 0
    elsewhere), and the bootstrap mask: rows with at least cfg.bootstrap_min_nonzero days of demand. `prior` per
    row: the history's law weighs n / (n + prior) against the moment fit, n its days of demand."""
    n_rows = len(rows)
    days = np.full((n_rows, max(hist.shape[1], 1)), np.nan)
    scale = np.ones(n_rows)
    if cfg.empirical_method != "bootstrap" or not hist.shape[1] or not n_rows:
        return days, scale, np.zeros(n_rows), np.zeros(n_rows, dtype=bool)
    window = hist[rows]
    n_valid = np.isfinite(window).sum(axis=1)
    nz = (np.nan_to_num(window) > 0).sum(axis=1)
    h_mean = np.nansum(window, axis=1) / np.maximum(n_valid, 1)
    boot = (nz >= cfg.bootstrap_min_nonzero) & (h_mean > 0)
    days[boot] = window[boot]
    # A few months of a lumpy item hold a handful of lumps: their law misses the tail the moments still see.
    weight = np.where(boot, nz / np.maximum(nz + prior, 1e-9), 0.0)
    if cfg.bootstrap_rescale:  # shape from history, level from the forecast (by how often demand occurs)
        scale[boot] = rate[rows[boot]] / h_mean[boot]
    return days, scale, weight, boot


def _lot_candidates(inp, cfg, policy, review, lots, fill):
    """(n, C) candidate lots (pack/MOQ rounded) for sQ fill-rate rows whose lot is the EOQ; NaN elsewhere."""
    want = (policy == "sQ") & fill & (lots.kind == "eoq") & np.isfinite(lots.eoq) & (lots.eoq > 0)
    cand = np.full((inp.n, len(LOT_MULTIPLES) + 1), np.nan)
    for j, m in enumerate(LOT_MULTIPLES):
        q = round_order_qty(np.maximum(lots.eoq * m, inp.d0 * review), lots.moq, inp.pack)
        cand[:, j] = np.where(want & (q > 0), q, np.nan)
    cand[:, -1] = np.where(want, lots.q_order, np.nan)
    return cand


def _ss_lots(inp, lots, is_ss, step_mean, step_var, review):
    """S - s of (s, S) rows whose lot is an economic one (EOQ, Wagner-Whitin): the lot minus the mean undershoot.

    An (s, S) order is S minus the position, i.e. S - s plus the undershoot U, so with S - s = EOQ the orders
    averaged EOQ + E[U]: a weekly review leaves U ~ half a week of demand and more, and the bench's erratic (s, S)
    ordered 35 % less often than (s, Q) with the same EOQ, its cycle stock that much higher. The large-lot
    E[U] = E[X^2] / 2 E[X] - 1/2 of one review's demand X; never below one review's demand (the floor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.nan_to_num((step_var + step_mean**2) / (2 * step_mean) - 0.5)
    economic = is_ss & np.isin(lots.kind, ["eoq", "wagner_whitin"]) & (inp.d0 > 0)
    target = np.maximum(lots.q_order - np.maximum(u, 0.0), inp.d0 * review)
    return np.where(economic, round_order_qty(target, lots.moq, inp.pack), lots.q_order)


def discrete_plan_levels(inp, cfg, sigma, policy, review, lots, hist, paths):
    """(fields of plan_normal.Levels, lot per row) for every row; rows without demand or invalid keep level 0."""
    n = inp.n
    big_r = cfg.review_period_days
    rs, is_ss = policy == "RS", policy == "sS"
    act = np.flatnonzero(inp.valid & (inp.d0 > 0))
    empirical = inp.df["demand_class"].isin(cfg.empirical_classes).to_numpy() & (
        cfg.empirical_method != "normal"
    )
    # every row's day moments: the sparse rows' law, the others' variance ceiling
    with_history = np.ones(n, dtype=bool)
    mean_l, var_l, rate, step_mean, step_var, extra, shift, level_var = _moments(
        inp, cfg, sigma, policy, review, paths, _history_day_moments(cfg, hist, with_history), empirical
    )
    fill = inp.stype == "fill_rate"
    # Sparse classes change level by how often demand occurs, not by its size: their undershoot does not scale
    # with the rate, and a relative error t of a sparse forecast is often > 1, where the linear weighting of
    # _level_error_terms means nothing (it tripled the lumpy cells' cost); the history law gets var(L d e) only.
    extra, shift = np.where(empirical, 0.0, extra), np.where(empirical, 0.0, shift)
    emp_rows = act[empirical[act]]
    prior = np.where(rs[emp_rows], cfg.bootstrap_prior_nonzero_rs, cfg.bootstrap_prior_nonzero)
    days, scale, weight, boot = _history_days(cfg, hist, emp_rows, rate, prior)
    all_days, all_scale, all_weight = np.full((n, days.shape[1]), np.nan), np.ones(n), np.zeros(n)
    all_days[emp_rows], all_scale[emp_rows], all_weight[emp_rows] = days, scale, weight
    cand = _lot_candidates(inp, cfg, policy, review, lots, fill)
    lots = replace(lots, q_order=_ss_lots(inp, lots, is_ss, step_mean, step_var, review))
    # Over-dispersed lead-time demand (variance above the mean) is skewed to the right: its upper quantiles lie
    # above a normal's with the same moments, and a normal D_L cost erratic series ~2 pp of CSL with the true
    # moments (brute-force replay, docs/decisions.md). The negative binomial (gamma-Poisson) of those moments
    # carries a skew of about 2 cv; the normal stays for under-dispersed rows, where a count law would
    # over-state the spread.
    gaussian = ~empirical & ~(var_l > mean_l)
    code = np.array([CODES.get(p, 0) for p in policy[act]])
    rows = LevelRows(
        code=code, mean_l=(mean_l + shift)[act], var_l=(var_l + extra)[act], step_mean=step_mean[act], step_var=step_var[act],
        review=review[act], lot=lots.q_order[act], alpha=inp.alpha[act], use_fill=fill[act],
        normal=gaussian[act], z_min=cfg.z_min, z_max=cfg.z_max, day_samples=all_days[act],
        day_scale=all_scale[act], day_weight=all_weight[act], lead=inp.lt[act], lead_sd=inp.lt_sd[act], l_level_var=level_var[act],
        report_mean_l=mean_l[act],
        lot_candidates=cand[act], order_cost=inp.k[act], holding_per_day=inp.h_year[act] / cfg.days_per_year,
    )  # fmt: skip
    res = discrete_levels(rows, cfg.shortage_mode == "lost_sales")
    lvl, u, csl, fr, mean_p, sd_p = (np.zeros(n) for _ in range(6))
    capped = np.zeros(n, dtype=bool)
    lvl[act], u[act], csl[act], fr[act] = res.level, res.undershoot, res.csl, res.fill
    # SS above the forecast's E[D_L + U] (sQ, sS), not the modelled law's mean: the history law of sparse rows
    # and its level-error noise folded at 0 have a mean of their own; RS keeps S - E[D_{L+R}] of its law.
    mean_p[act] = np.where(rs[act], res.mean - shift[act], mean_l[act] + u[act])
    sd_p[act] = res.sd
    capped[act] = res.capped
    q_order = lots.q_order.copy()
    q_order[act] = np.where(rs[act], q_order[act], res.lot)
    method = np.full(n, "normal", dtype=object)
    method[emp_rows] = np.where(boot, "bootstrap", "negbin")
    ss = lvl - mean_p  # 0 on rows without demand (both 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = np.where(sd_p > 0, ss / sd_p, 0.0)
    q_cycle = np.where(rs, step_mean, np.where(is_ss, q_order + u, q_order))
    q_cycle = np.where(inp.d0 > 0, q_cycle, 0.0)
    return dict(
        q_cycle=q_cycle, max_short=(1.0 - inp.alpha) * q_cycle, prot_days=inp.lt + np.where(rs, big_r, 0.0),
        u_mean=u, sig_lt=np.sqrt(var_l), sig_prot=sd_p, z=zz, z_capped=capped, ss=ss, lvl=lvl,
        exp_csl=csl, exp_fill=fr, method=method,
    ), q_order  # fmt: skip
