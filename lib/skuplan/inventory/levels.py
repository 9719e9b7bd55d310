"""Integer policy levels of a batch of rows from exact discrete distributions (skuplan.inventory.discrete).

Per row: D_L, the demand from an order to its receipt (L days for sQ and sS, whose undershoot is added
exactly; L for RS too, whose D_{L+R} is D_L plus one review's demand X), and X, the demand of one review.
Both come from their moments (discretised normal, negative binomial or Poisson) or, for bootstrap rows,
from resampled history. CSL targets: the alpha-quantile of D_L + U (sQ, sS) or D_{L+R} (RS). Fill-rate
targets: the smallest level whose exact expected shortage per review is at most (1 - beta) E[X]. For sQ
with a fill-rate target and candidate lots, s and Q are chosen together for the least cost at the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skuplan.inventory import discrete as ds

CHUNK_ROWS = 256
CODES = {"sQ": 0, "RS": 1, "sS": 2}


@dataclass
class LevelRows:
    """Inputs of discrete_levels, one entry per row (units and days)."""

    code: np.ndarray  # 0 sQ, 1 RS, 2 sS
    mean_l: np.ndarray  # E[D_L]
    var_l: np.ndarray  # Var[D_L], lead-time variability included
    step_mean: np.ndarray  # E[X], X = demand of one review
    step_var: np.ndarray
    review: np.ndarray  # whole days per review (X's days)
    lot: np.ndarray  # Q (sQ), S - s (sS); ignored for RS
    alpha: np.ndarray
    use_fill: np.ndarray
    normal: np.ndarray  # D_L discretised normal (else negative binomial / Poisson)
    z_min: float  # the level stays within E[P] + [z_min, z_max] * sd(P), P the protected demand (D_L + U or
    z_max: float  # D_{L+R}); z_min < 0 lets a fill-rate level go below the mean
    l_samples: np.ndarray | None = None  # (n, B) draws of D_L (NaN rows: use the moments)
    # (n, W) days of history (NaN rows: moments): X and, without l_samples, D_L are sums of i.i.d. days drawn
    # from them, exactly (the bootstrap's law without its Monte Carlo noise), their mean times day_scale by
    # frequency (discrete.scale_frequency), over lead times N(lead, lead_sd) in whole days.
    day_samples: np.ndarray | None = None
    day_scale: np.ndarray | None = None
    # weight of the history's law against the moment-fitted one (NB / Poisson), per row (1: history only)
    day_weight: np.ndarray | None = None
    lead: np.ndarray | None = None
    # var(L d e) of the forecast level's error e (units^2): the history law holds only the days' noise, so its
    # D_L gets it added (discrete.add_normal); a lagging level (a seasonal rise) is invisible to resampled days
    l_level_var: np.ndarray | None = None
    lead_sd: np.ndarray | None = None
    # E[D_L] (units) the caller measures safety stock and z from (the forecast's; E[U] is added for sQ / sS rows):
    # the z_min / z_max band is centred on it, so a capped row reports z = z_max, not the law's own mean's z
    # (the history law and the level-error shift have means of their own). None: the law's mean.
    report_mean_l: np.ndarray | None = None
    lot_candidates: np.ndarray | None = None  # (n, C) lots for the joint (s, Q) search (NaN: not a candidate)
    order_cost: np.ndarray | None = None
    holding_per_day: np.ndarray | None = None


@dataclass
class LevelResult:
    level: np.ndarray  # s (sQ, sS) or S (RS), units
    lot: np.ndarray  # Q / S - s actually used (the joint search may change it)
    undershoot: np.ndarray  # E[U], units
    csl: np.ndarray  # expected cycle service level at the level
    fill: np.ndarray  # expected fill rate at the level
    capped: np.ndarray  # the level was lowered to the ceiling
    mean: np.ndarray  # E[P] (units), P = D_L + U (sQ, sS) or D_{L+R} (RS)
    sd: np.ndarray  # sd(P)


def _pmfs(rows: LevelRows, idx: np.ndarray):
    """(unit, pmf of D_L, pmf of X) on a common grid for the rows idx."""
    m_l, v_l, m_x, v_x = rows.mean_l[idx], rows.var_l[idx], rows.step_mean[idx], rows.step_var[idx]
    upper = m_l + 3 * m_x + 10 * np.sqrt(v_l + 3 * v_x) + 12  # 10 sd: the tail past it is < 1e-20 (normal)
    ls = rows.l_samples[idx] if rows.l_samples is not None else None
    days = rows.day_samples[idx] if rows.day_samples is not None else None
    has_l = np.isfinite(ls).all(axis=1) if ls is not None else np.zeros(len(idx), bool)
    has_d = np.isfinite(days).any(axis=1) if days is not None else np.zeros(len(idx), bool)
    if has_l.any():
        upper = np.where(
            has_l, np.maximum(upper, np.nanmax(np.where(has_l[:, None], ls, 0), axis=1) * 1.5 + 12), upper
        )
    if has_d.any():
        k = rows.day_scale[idx] if rows.day_scale is not None else np.ones(len(idx))
        with np.errstate(invalid="ignore"):
            d_max = np.nanmax(np.where(has_d[:, None], days, 0), axis=1) * np.maximum(k, 1.0)
            d1, d2 = (np.nanmean(np.where(has_d[:, None], days**p, 0), axis=1) * k for p in (1, 2))
        longest = (
            rows.lead[idx] + 4 * rows.lead_sd[idx] + 1 + rows.review[idx] if rows.lead is not None else 0
        )
        top = longest * d1 + 12 * np.sqrt(longest * d2) + 3 * d_max + d_max * rows.review[idx]
        upper = np.where(has_d, upper + top, upper)
    unit = ds.grid_unit(upper)
    n_cells = int(min(ds.MAX_CELLS, 1 << int(np.ceil(np.log2(np.max(upper / unit) + 2)))))
    pmf_l = ds.moment_pmf(m_l, v_l, unit, n_cells, rows.normal[idx])
    step = ds.moment_pmf(m_x, v_x, unit, n_cells, v_x < m_x)
    if has_l.any():
        pmf_l[has_l] = ds.sample_pmf(ls[has_l], unit[has_l], n_cells)
    if has_d.any():
        daily = days[has_d]
        valid = np.isfinite(daily)
        # one day's pmf from the valid days of each row, then the review's sum of whole days
        one = np.zeros((int(has_d.sum()), n_cells))
        cells = np.clip(np.rint(np.nan_to_num(daily) / unit[has_d][:, None]), 0, n_cells - 1).astype(int)
        np.add.at(one, (np.nonzero(valid)[0], cells[valid]), 1.0)
        one /= one.sum(axis=1, keepdims=True)
        if rows.day_scale is not None:
            one = ds.scale_frequency(one, rows.day_scale[idx][has_d])
        w = rows.day_weight[idx][has_d][:, None] if rows.day_weight is not None else 1.0
        step[has_d] = w * ds.power(one, np.round(rows.review[idx][has_d]).astype(int)) + (1 - w) * step[has_d]
        exact = ~has_l[has_d] & (rows.lead is not None)
        if exact.any():
            sel = np.flatnonzero(has_d)[exact]
            w_l = w[exact] if np.ndim(w) else w
            from_days = ds.lead_time_demand(one[exact], rows.lead[idx][sel], rows.lead_sd[idx][sel])
            if rows.l_level_var is not None:
                from_days = ds.add_normal(from_days, rows.l_level_var[idx][sel] / unit[sel] ** 2)
            pmf_l[sel] = w_l * from_days + (1 - w_l) * pmf_l[sel]
    return unit, pmf_l, step


def _given_positive(step: np.ndarray) -> np.ndarray:
    """pmf of X given X > 0 (X = 0 where X is never positive)."""
    pos = step.copy()
    pos[:, 0] = 0.0
    total = pos.sum(axis=1, keepdims=True)
    return np.where(total > 1e-300, pos / np.where(total > 1e-300, total, 1.0), step)


def _uniform_offsets(q: np.ndarray, width: int | None = None) -> np.ndarray:
    """Weights of the offsets 0 .. width-1 (default max q + 1) of a position uniform on s+1 .. s+q."""
    o = np.arange(int(q.max()) + 1 if width is None else width)[None, :]
    w = ((o >= 1) & (o <= q[:, None])).astype(float)
    return w / w.sum(axis=1, keepdims=True)


def _short_limit(rows: LevelRows, idx, unit, step, lost: bool):
    beta = rows.alpha[idx]
    e_x = ds.mean_of(step)
    return (1.0 - beta) * e_x / (beta if lost else 1.0), e_x


def _fill_from_short(short, e_x, lost: bool):
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = e_x / (e_x + short) if lost else 1.0 - short / e_x
    return np.where(e_x > 0, np.clip(fr, 0.0, 1.0), 1.0)


def _at(curve, col):
    return np.take_along_axis(curve, np.clip(col, 0, curve.shape[1] - 1)[:, None], axis=1)[:, 0]


def _chunk(rows: LevelRows, idx: np.ndarray, lost: bool, out: LevelResult) -> None:
    unit, pmf_l, step = _pmfs(rows, idx)
    code = rows.code[idx]
    n_cells = pmf_l.shape[1]
    lot = np.maximum(np.rint(rows.lot[idx] / unit), 1).astype(int)
    limit, e_x = _short_limit(rows, idx, unit, step, lost)
    sq, ss, rs = code == 0, code == 2, code == 1
    lot[rs] = 1  # RS has no lot in its levels: keep the offset grid small
    u_pmf = np.zeros_like(pmf_l)
    u_pmf[:, 0] = 1.0
    # weights of the position after a review, as offsets above the level (RS: the level itself)
    width = int(lot.max()) + 1
    weights = np.zeros((len(idx), width))
    weights[rs, 0] = 1.0
    if sq.any():
        u_pmf[sq] = ds.undershoot_sq(step[sq], lot[sq])
    if ss.any():
        u_pmf[ss], ss_w = ds.undershoot_ss(step[ss], lot[ss])
        # the position S - k = s + (delta - k) has weight ss_w[k], k < delta
        k = np.arange(ss_w.shape[1])[None, :]
        delta = lot[ss][:, None]
        sw = np.zeros((int(ss.sum()), width))
        np.put_along_axis(sw, np.clip(delta - k, 0, width - 1), np.where(k < delta, ss_w, 0.0), axis=1)
        far = lot[ss] > ds.MAX_EXACT_DISTANCE  # renewal limit: the position is uniform on s+1 .. S
        if far.any():
            sw[far] = _uniform_offsets(lot[ss][far], width)
        weights[ss] = sw
    # RS: a review without demand orders nothing and closes no cycle, so the cycles counted are those whose last
    # review saw demand: D_L + X given X > 0.
    csl_pmf = np.where(rs[:, None], ds.convolve(pmf_l, _given_positive(step)), ds.convolve(pmf_l, u_pmf))
    csl_level = ds.quantile_level(csl_pmf, rows.alpha[idx]).astype(float)
    pad = width
    pmf_lr = ds.convolve(pmf_l, step)
    short = np.zeros((len(idx), pad + n_cells))
    if sq.any():
        short[sq] = ds.shortage_uniform(pmf_l[sq], pmf_lr[sq], lot[sq], pad)
    if (ss | rs).any():
        other = ss | rs
        short[other] = ds.shortage_per_review(pmf_l[other], pmf_lr[other], weights[other], pad)
    fill_level = ds.first_meeting(short, limit) - pad
    use_fill = rows.use_fill[idx]
    level = np.where(use_fill, fill_level, csl_level)
    lot_units = rows.lot[idx].astype(float)
    joint = use_fill & sq & (rows.lot_candidates is not None)
    if joint.any():
        level, lot_units = _joint_sq(rows, idx, joint, unit, pmf_l, step, limit, level, lot_units)
        lot = np.maximum(np.rint(lot_units / unit), 1).astype(int)
        u_pmf[joint] = ds.undershoot_sq(step[joint], lot[joint])
        csl_pmf[joint] = ds.convolve(pmf_l[joint], u_pmf[joint])
    mean_p = ds.mean_of(csl_pmf)
    sd_p = np.sqrt(np.maximum(ds.mean_of(csl_pmf * np.arange(n_cells)) - mean_p**2, 0.0))
    centre = mean_p
    if rows.report_mean_l is not None:
        centre = np.where(rs, mean_p, rows.report_mean_l[idx] / unit + ds.mean_of(u_pmf))
    lo = np.ceil(centre + rows.z_min * sd_p - 1e-9)
    hi = np.floor(centre + rows.z_max * sd_p + 1e-9)
    capped = level > hi
    level = np.minimum(np.maximum(level, lo), np.maximum(hi, lo))
    short_final = _at(short, (level + pad).astype(int))
    if joint.any():  # their curve is that of the lot the search chose
        pad_j = int(lot[joint].max()) + 1
        short_j = ds.shortage_uniform(pmf_l[joint], pmf_lr[joint], lot[joint], pad_j)
        short_final[joint] = _at(short_j, (level[joint] + pad_j).astype(int))
    out.level[idx] = level * unit
    out.lot[idx] = np.where(rs, rows.lot[idx], lot_units)
    out.undershoot[idx] = np.where(rs, 0.0, ds.mean_of(u_pmf) * unit)
    out.csl[idx] = ds.cdf_at(csl_pmf, level)
    out.fill[idx] = _fill_from_short(short_final, e_x, lost)
    out.capped[idx] = capped
    out.mean[idx], out.sd[idx] = mean_p * unit, sd_p * unit


def _joint_sq(rows, idx, joint, unit, pmf_l, step, limit, level, lot_units):
    """Least-cost (s, Q) over the candidate lots at the fill-rate target (sQ rows in `joint`).

    Per lot q the least s meeting the target (shortage per review = mean of L_{L+r} - L_L over s+1 .. s+q) and
    the cost h E[on hand] + K E[orders]; the prefix sums of the loss functions do not depend on q, so each
    candidate costs one gather per row."""
    cand = rows.lot_candidates[idx][joint]
    pl = pmf_l[joint]
    u = unit[joint]
    q_all = np.maximum(np.rint(np.nan_to_num(cand, nan=1.0) / u[:, None]), 1).astype(int)
    pad = int(q_all.max()) + 1
    n, n_cells = pl.shape
    n_out = pad + n_cells

    def prefix(x):
        ext = np.concatenate([x, np.zeros((n, pad))], axis=1)  # the losses are 0 past the grid
        return np.concatenate([np.zeros((n, 1)), np.cumsum(ext, axis=1)], axis=1)

    loss_l = ds.loss(pl, pad)
    c_short = prefix(ds.loss(ds.convolve(pl, step[joint]), pad) - loss_l)
    c_loss = prefix(loss_l)
    mean_l = ds.mean_of(pl)
    i = np.arange(n_out)[None, :]
    best_cost = np.full(n, np.inf)
    best_s, best_q = level[joint].astype(float), lot_units[joint].astype(float)
    h, k = rows.holding_per_day[idx][joint], rows.order_cost[idx][joint]
    demand_per_day = ds.mean_of(step[joint]) * u / np.maximum(rows.review[idx][joint], 1)
    for c in range(cand.shape[1]):
        ok = np.isfinite(cand[:, c]) & (cand[:, c] > 0)
        if not ok.any():
            continue
        q = q_all[:, c][:, None]
        short = (np.take_along_axis(c_short, i + 1 + q, axis=1) - c_short[:, 1 : n_out + 1]) / q
        col = ds.first_meeting(np.maximum(short, 0.0), limit[joint])[:, None]
        mean_loss = (
            np.take_along_axis(c_loss, col + 1 + q, axis=1) - np.take_along_axis(c_loss, col + 1, axis=1)
        ) / q
        s = col[:, 0] - pad
        on_hand = (s + (q[:, 0] + 1) / 2.0 - mean_l + mean_loss[:, 0]) * u  # mean over o of E[(s + o - D_L)+]
        cost = h * on_hand + k * demand_per_day / cand[:, c]
        better = ok & (cost < best_cost - 1e-12)
        best_cost = np.where(better, cost, best_cost)
        best_s = np.where(better, s, best_s)
        best_q = np.where(better, cand[:, c], best_q)
    level = level.astype(float).copy()
    lot_units = lot_units.astype(float).copy()
    level[joint], lot_units[joint] = best_s, best_q
    return level, lot_units


def discrete_levels(rows: LevelRows, lost_sales: bool = False) -> LevelResult:
    """Levels, lots, undershoot and expected service of every row, in chunks of rows (memory: chunk x grid)."""
    n = len(rows.code)
    z = np.zeros
    out = LevelResult(z(n), z(n), z(n), z(n), z(n), np.zeros(n, dtype=bool), z(n), z(n))
    order = np.argsort(rows.mean_l + rows.step_mean, kind="stable")  # similar sizes share a grid
    for start in range(0, n, CHUNK_ROWS):
        _chunk(rows, order[start : start + CHUNK_ROWS], lost_sales, out)
    return out
