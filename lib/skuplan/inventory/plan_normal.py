"""plan_policy's textbook levels (cfg.level_model = "normal", the baseline the policy bench compares against):
the normal approximation over the protection interval on one mean daily demand, then the empirical levels
(bootstrap / negative binomial over L + r) of the intermittent and lumpy rows. Split from plan.py; the
formulas are in its module docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from skuplan.inventory import empirical as emp
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.safety_stock import (
    day_sd_at_rate,
    fill_rate_normal,
    sigma_ltd,
    undershoot_after_order_up_to,
    undershoot_moments,
    z_for_csl,
    z_for_fill_rate,
)

if TYPE_CHECKING:  # plan.py imports this module: its input types are annotations only
    from skuplan.inventory.plan import _Inputs, _Sigma


@dataclass
class Levels:
    """The policy levels per row: the normal approximation, then empirical inp overwritten."""

    q_cycle: np.ndarray  # demand per replenishment cycle in the fill-rate formula
    max_short: np.ndarray  # expected shortage per cycle the service target allows
    prot_days: np.ndarray
    u_mean: np.ndarray  # undershoot mean
    sig_lt: np.ndarray
    sig_prot: np.ndarray
    z: np.ndarray
    z_capped: np.ndarray
    ss: np.ndarray
    lvl: np.ndarray  # reorder level s
    exp_csl: np.ndarray
    exp_fill: np.ndarray
    method: np.ndarray


def normal_levels(inp: _Inputs, cfg: InventoryConfig, sigma: _Sigma, policy: np.ndarray, review: np.ndarray,
                   q_order: np.ndarray, day_mean: np.ndarray | None = None) -> Levels:  # fmt: skip
    """Levels of every row under the normal approximation (empirical inp are overwritten later). day_mean: the
    history window's mean day per row (NaN or None: unknown), which bounds the undershoot's day spread."""
    d0, lt, lt_sd, alpha = inp.d0, inp.lt, inp.lt_sd, inp.alpha
    is_rs, is_ss = policy == "RS", policy == "sS"
    big_r = cfg.review_period_days
    lost = cfg.shortage_mode == "lost_sales"
    q_cycle = np.where(is_rs, d0 * big_r, q_order)
    lt_days = lt + np.where(policy == "sQ", 0.0, big_r)
    sig_lt = sigma_ltd(d0, sigma.at(lt_days), lt_days, lt_sd)
    with_u = ~is_rs & (cfg.undershoot == "renewal")
    # The undershoot is made of single-review demand steps: their spread is the day-to-day variability of
    # demand itself (weekday pattern included), not the forecast error, when the former is known.
    sig_step = np.where(np.isfinite(sigma.demand) & (sigma.demand > 0), sigma.demand, sigma.at(review))
    if day_mean is not None:
        sig_step = day_sd_at_rate(d0, sig_step, day_mean)
    u_mean, u_var = undershoot_moments(d0, sig_step, review)
    # (s, S) restarts at S after every order: its undershoot depends on (S - s) / (demand per review).
    ss_rows = np.flatnonzero(is_ss)
    u_mean[ss_rows] = undershoot_after_order_up_to(
        d0[ss_rows], sig_step[ss_rows], review[ss_rows], q_order[ss_rows]
    )
    u_mean, u_var = np.where(with_u, u_mean, 0.0), np.where(with_u, u_var, 0.0)
    # sS: a cycle moves S - s plus the undershoot; sQ moves Q whatever the undershoot.
    q_cycle = np.where(is_ss & with_u, q_order + u_mean, q_cycle)
    # Fill rate: expected shortage per cycle may be (1 - beta) Q; lost sales: (1 - beta) Q / beta.
    with np.errstate(divide="ignore", invalid="ignore"):  # alpha 0 only on invalid inp
        max_short = (1.0 - alpha) * q_cycle / (alpha if lost else 1.0)
    prot_days = lt + np.where(is_rs | (is_ss & ~with_u), big_r, 0.0)
    sig_prot = np.sqrt(sigma_ltd(d0, sigma.at(prot_days), prot_days, lt_sd) ** 2 + u_var)
    z_fill = z_for_fill_rate(alpha, q_cycle, sig_prot, lost, cfg.z_max, z_min=min(cfg.z_min, -5.0))
    z_raw = np.where(inp.stype == "fill_rate", z_fill, z_for_csl(alpha))
    z_capped = inp.valid & (d0 > 0) & (z_raw >= cfg.z_max - 1e-9)
    z = np.where(d0 > 0, np.clip(z_raw, cfg.z_min, cfg.z_max), 0.0)
    ss = z * sig_prot
    return Levels(
        q_cycle=q_cycle, max_short=max_short, prot_days=prot_days, u_mean=u_mean, sig_lt=sig_lt,
        sig_prot=sig_prot, z=z, z_capped=z_capped, ss=ss, lvl=d0 * prot_days + u_mean + ss,
        exp_csl=np.where(sig_prot > 0, ndtr(z), 1.0), exp_fill=fill_rate_normal(z, sig_prot, q_cycle, lost),
        method=np.full(inp.n, "normal", dtype=object),
    )  # fmt: skip


def empirical_levels(lv: Levels, inp: _Inputs, cfg: InventoryConfig, sigma: _Sigma, hist: np.ndarray,
                      review: np.ndarray) -> None:  # fmt: skip
    """Overwrite the levels of intermittent / lumpy inp (cfg.empirical_classes) with empirical ones."""
    d0, lt_sd = inp.d0, inp.lt_sd
    emp_rows = inp.valid & (d0 > 0) & inp.df["demand_class"].isin(cfg.empirical_classes).to_numpy()
    if cfg.empirical_method == "normal" or not emp_rows.any():
        return
    e_days = inp.lt + review  # reorder-point policies: one review of demand covers the undershoot
    idx, e_lvl, e_csl, e_short, e_method = _empirical(
        np.flatnonzero(emp_rows), inp, hist, cfg, sigma.at(e_days), review, e_days, lv.max_short
    )
    lv.lvl[idx], lv.exp_csl[idx], lv.method[idx] = e_lvl, e_csl, e_method
    lv.exp_fill[idx] = _fill_from_short(e_short, lv.q_cycle[idx], cfg.shortage_mode == "lost_sales")
    e = np.zeros(inp.n, dtype=bool)
    e[idx] = True
    lv.prot_days = np.where(e, e_days, lv.prot_days)
    lv.u_mean = np.where(e, 0.0, lv.u_mean)
    lv.sig_prot = np.where(e, sigma_ltd(d0, sigma.at(e_days), e_days, lt_sd), lv.sig_prot)
    lv.ss = np.where(e, lv.lvl - d0 * e_days, lv.ss)
    with np.errstate(divide="ignore", invalid="ignore"):
        lv.z = np.where(e, np.where(lv.sig_prot > 0, lv.ss / lv.sig_prot, 0.0), lv.z)
    lv.z_capped &= ~e


def _empirical(rows, inp: _Inputs, hist, cfg, sig, review, e_days, max_short):
    """Reorder levels of `rows` from the bootstrap (enough history) or the moment-fitted NB (otherwise).

    Returns (row indices, level, P(X <= level), E[(X - level)+], method); SS = level - d * e_days is at
    least z_min * sigma (0 by default).
    """
    df, d0, lt, lt_sd = inp.df, inp.d0, inp.lt, inp.lt_sd
    alpha, use_fill = inp.alpha, inp.stype == "fill_rate"
    if hist.shape[1]:
        aligned, n_valid = emp.right_align(hist[rows])
    else:
        aligned, n_valid = np.zeros((len(rows), 1)), np.zeros(len(rows), dtype=int)
    nz = (np.nan_to_num(aligned) > 0).sum(axis=1)
    h_mean = np.nansum(aligned, axis=1) / np.maximum(n_valid, 1)
    boot = (cfg.empirical_method == "bootstrap") & (nz >= cfg.bootstrap_min_nonzero) & (h_mean > 0)
    b, g = rows[boot], rows[~boot]
    # SS >= z_min * sigma (z_min = 0: SS >= 0), as for the normal method.
    floor = d0 * e_days + cfg.z_min * sigma_ltd(d0, sig, e_days, lt_sd)
    level, csl, short = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
    if b.size:
        keys = emp.series_keys(df["item_id"].iloc[b], df["region_id"].iloc[b], cfg.seed)
        draws, rv = cfg.bootstrap_samples, np.round(review[b])
        x = emp.bootstrap_protection_demand(
            aligned[boot], n_valid[boot], keys, lt[b], lt_sd[b], rv, draws, min_days=0.0
        )
        if cfg.bootstrap_rescale:  # shape from history, level from the forecast
            x *= (d0[b] / h_mean[boot])[:, None]
        fill_s = emp.empirical_fill_level(x, max_short[b])
        s_b = np.maximum(np.where(use_fill[b], fill_s, emp.empirical_csl_level(x, alpha[b])), floor[b])
        level[boot] = s_b
        csl[boot], short[boot] = emp.empirical_service(x, s_b)
    if g.size:
        # The NB is fitted on the demand's own moments; the z_min floor only raises the level afterwards (a
        # negative z_min lowers the floor, never the fitted mean), and the service is evaluated at that level.
        mean_g, var = d0[g] * e_days[g], sigma_ltd(d0[g], sig[g], e_days[g], lt_sd[g]) ** 2
        s_g, _, _ = emp.negbin_levels(mean_g, var, alpha[g], max_short[g], use_fill[g])
        s_g = np.maximum(s_g, np.ceil(floor[g] - 1e-9))
        level[~boot] = s_g
        csl[~boot], short[~boot] = emp.negbin_service(mean_g, var, s_g)
    return rows, level, csl, short, np.where(boot, "bootstrap", "negbin")


def _fill_from_short(short, q_cycle, lost: bool):
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = q_cycle / (q_cycle + short) if lost else 1.0 - short / q_cycle
    return np.where(q_cycle > 0, np.clip(fr, 0.0, 1.0), np.where(short > 0, 0.0, 1.0))
