"""Simulation-optimised levels: per group of series, the least-cost (s, Q) / (s, S) / S at the target service.

The analytic plan gives each series its levels; the search moves them by one reorder-level shift (in units
of the series' sigma_protection) and one lot multiplier per group (cfg.simopt.group_by: segment, demand
class, policy, service type), so it costs a few simulations per group, not per series:
- demand paths: whole weeks resampled from each series' history since its first sale (weekday pattern and
  short runs kept), rescaled to the plan's daily mean, times a forecast-level error redrawn every
  level_block_days (its size is the part of the plan's sigma that daily demand noise does not explain);
  integer units by stochastic rounding. Counter-based draws (empirical.uniforms): deterministic per series.
- for every lot multiplier, bisection on the shift until the group's mean gap (achieved - target, pooled
  over each series' paths) is >= 0, all groups at once on the same paths (common random numbers: every
  candidate sees the same demand and lead times); the multiplier of least cost per group wins;
- the figure reported is measured on held-out paths (other draws), beside the analytic levels on them.
Pure numpy/pandas; the replay (replay.py) scores both on real held-out demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from skuplan.inventory import empirical as emp
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.simopt_config import SimOptConfig

ADJUST_COLUMNS = ["group", "shift_sigma", "lot_multiplier", "train_gap_pp", "holdout_gap_pp",
                  "holdout_cost", "analytic_holdout_gap_pp", "analytic_holdout_cost", "n_series"]  # fmt: skip


def simopt_config(cfg: InventoryConfig) -> SimOptConfig:
    """cfg.simopt (default SimOptConfig() on a config built before the field existed)."""
    return getattr(cfg, "simopt", None) or SimOptConfig()


def shifted_levels(plan: pd.DataFrame, shift: np.ndarray, lot_multiplier: np.ndarray) -> pd.DataFrame:
    """plan with s moved by shift * sigma_protection and the lot (Q, or S - s for sS) times lot_multiplier.

    RS has no lot: S moves by the shift. Lots stay whole units and at least 1.
    """
    out = plan.copy()
    sig = np.nan_to_num(plan["sigma_protection"].to_numpy(dtype=float))
    s = plan["reorder_point"].to_numpy(dtype=float) + np.asarray(shift, dtype=float) * sig
    big_s = plan["order_up_to"].to_numpy(dtype=float)
    q = plan["order_qty_policy"].to_numpy(dtype=float)
    pol = plan["policy"].to_numpy()
    mult = np.asarray(lot_multiplier, dtype=float)
    q_new = np.maximum(np.round(q * mult), 1.0)
    gap_new = np.maximum(np.round((big_s - plan["reorder_point"].to_numpy(dtype=float)) * mult), 1.0)
    out["reorder_point"] = s
    out["order_qty_policy"] = np.where(pol == "sQ", q_new, q)
    out["order_up_to"] = np.where(pol == "sQ", s + q_new, np.where(pol == "sS", s + gap_new, s))
    return out


def demand_paths(history: np.ndarray, plan: pd.DataFrame, sc: SimOptConfig, n_paths: int, stream: int,
                 seed: int) -> np.ndarray:  # fmt: skip
    """(n * n_paths, horizon) integer daily demand, row i * n_paths + k = path k of plan row i (module doc)."""
    n = len(plan)
    x = np.asarray(history, dtype=float)[:, -sc.history_days :]
    active = np.maximum.accumulate(np.nan_to_num(x) > 0, axis=1)
    x = np.where(active, np.nan_to_num(x), np.nan)
    weeks_avail = np.maximum(active.sum(axis=1) // 7, 1)
    width = x.shape[1]
    n_weeks = -(-sc.horizon_days // 7)
    keys = emp.series_keys(plan["item_id"], plan["region_id"], seed)
    pick = np.floor(emp.uniforms(keys, stream, (n_paths, n_weeks)) * weeks_avail[:, None, None]).astype(int)
    starts = width - 7 * (pick + 1)  # whole weeks counted back from the origin: weekdays stay aligned
    cols = np.clip(starts[..., None] + np.arange(7), 0, width - 1).reshape(n, n_paths, -1)[
        :, :, : sc.horizon_days
    ]
    raw = np.nan_to_num(np.take_along_axis(x[:, None, :].repeat(n_paths, axis=1), cols, axis=2))
    d = np.nan_to_num(plan["mean_daily_demand"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        h_mean = np.nansum(x, axis=1) / np.maximum(active.sum(axis=1), 1)
        scale = np.where(h_mean > 0, d / h_mean, 0.0)
        p_days = np.maximum(np.nan_to_num(plan["protection_days"].to_numpy(dtype=float)), 1.0)
        sd_demand = np.nanstd(x, axis=1)
        extra = (
            np.nan_to_num(plan["sigma_daily"].to_numpy(dtype=float)) ** 2
            - np.nan_to_num(sd_demand * scale) ** 2
        )
        rel_level_sd = np.where(d > 0, np.sqrt(np.maximum(extra, 0.0) / p_days) / d, 0.0)
    n_blocks = -(-sc.horizon_days // sc.level_block_days)
    eps = ndtri(emp.uniforms(keys, stream + 1, (n_paths, n_blocks)))
    level = np.maximum(1.0 + rel_level_sd[:, None, None] * eps, 0.0).repeat(sc.level_block_days, axis=2)
    units = raw * scale[:, None, None] * level[:, :, : sc.horizon_days]
    u = emp.uniforms(keys, stream + 2, (n_paths, sc.horizon_days))
    return np.floor(units + u).reshape(n * n_paths, sc.horizon_days)


def path_rows(plan: pd.DataFrame, n_paths: int) -> pd.DataFrame:
    """plan rows repeated per path, item ids suffixed '#k': each path draws its own lead times and start."""
    rep = plan.loc[plan.index.repeat(n_paths)].reset_index(drop=True)
    k = np.tile(np.arange(n_paths), len(plan)).astype(str)
    return rep.assign(item_id=rep["item_id"].astype(str).to_numpy(dtype=object) + "#" + k)


def series_gap_and_cost(metrics: pd.DataFrame, plan: pd.DataFrame, n_paths: int):
    """Per plan row: achieved - target in pp (fill rate or CSL as its service type says, pooled over its paths),
    its weight when pooled over series (demand for fill rate, cycles for CSL) and the mean total cost per path."""
    idx = np.repeat(np.arange(len(plan)), n_paths)
    total = {c: np.bincount(idx, metrics[c].to_numpy(dtype=float), len(plan))
             for c in ("demand", "served", "cycles", "stockout_cycles", "total_cost")}  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(total["demand"] > 0, total["served"] / total["demand"], np.nan)
        csl = np.where(total["cycles"] > 0, 1.0 - total["stockout_cycles"] / total["cycles"], np.nan)
    is_fill = plan["service_type"].to_numpy() == "fill_rate"
    achieved = np.where(is_fill, fill, csl)
    weight = np.where(is_fill, total["demand"], total["cycles"])
    return (
        100.0 * (achieved - plan["service_level"].to_numpy(dtype=float)),
        weight,
        total["total_cost"] / n_paths,
    )


@dataclass
class SearchResult:
    adjust: pd.DataFrame  # one row per group, ADJUST_COLUMNS
    shift: np.ndarray  # per plan row (0 where not searched)
    lot_multiplier: np.ndarray  # per plan row (1 where not searched)
    group: np.ndarray  # per plan row, the group name ('' where not searched)


def _group_names(plan: pd.DataFrame, sc: SimOptConfig) -> np.ndarray:
    cols = plan[list(sc.group_by)].astype(object).where(plan[list(sc.group_by)].notna(), "none").astype(str)
    return cols.agg("/".join, axis=1).to_numpy(dtype=object) if len(cols) else np.array([], dtype=object)


def _group_mean(values: np.ndarray, weight: np.ndarray, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """Weighted mean per group (pooled service: demand- or cycle-weighted gaps); NaN values left out."""
    ok = np.isfinite(values) & (weight > 0)
    total = np.bincount(gid[ok], values[ok] * weight[ok], n_groups)
    w = np.bincount(gid[ok], weight[ok], n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w > 0, total / w, np.nan)


class _PathSim:
    """Replays one set of paths through shifted levels of the searched rows (common random numbers)."""

    def __init__(self, plan: pd.DataFrame, demand: np.ndarray, n_paths: int, cfg: InventoryConfig):
        from skuplan.inventory.replay import simulate  # replay imports this module: late import, no cycle

        self.simulate, self.plan, self.demand, self.n_paths = simulate, plan, demand, n_paths
        sc = simopt_config(cfg)
        self.cfg = cfg.model_copy(
            update={"replay": cfg.replay.model_copy(update={"warmup_days": sc.warmup_days})}
        )
        self.rows = path_rows(plan, n_paths)

    def run(self, shift: np.ndarray, mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        levels = shifted_levels(self.rows, np.repeat(shift, self.n_paths), np.repeat(mult, self.n_paths))
        metrics, _ = self.simulate(self.demand, levels, self.cfg)
        return series_gap_and_cost(metrics, self.plan, self.n_paths)


def search(plan: pd.DataFrame, history: np.ndarray, cfg: InventoryConfig) -> SearchResult:
    """Per group of `plan` rows (status ok, demand > 0): shift and lot multiplier of least cost at the target.

    plan: plan_policy output; history: (n, days) past daily units, row i for plan row i, the origin last.
    """
    sc = simopt_config(cfg)
    n = len(plan)
    shift_all, mult_all, group_all = np.zeros(n), np.ones(n), np.full(n, "", dtype=object)
    use = (plan["status"].to_numpy() == "ok") & (np.nan_to_num(plan["mean_daily_demand"].to_numpy(float)) > 0)
    if not use.any():
        return SearchResult(pd.DataFrame(columns=ADJUST_COLUMNS), shift_all, mult_all, group_all)
    sub = plan.loc[use].reset_index(drop=True)
    hist = np.asarray(history, dtype=float)[use]
    names, gid = np.unique(_group_names(sub, sc), return_inverse=True)
    n_groups = len(names)
    train = _PathSim(sub, demand_paths(hist, sub, sc, sc.paths, 20, sc.seed), sc.paths, cfg)
    # shift, multiplier, train gap: a group without a scored cycle or demand on any path keeps the analytic levels
    best_cost, best = np.full(n_groups, np.inf), np.column_stack([np.zeros(n_groups), np.ones(n_groups),
                                                                  np.full(n_groups, np.nan)])  # fmt: skip
    best_meets = np.zeros(n_groups, dtype=bool)
    for mult in sc.lot_multipliers:
        lo, hi = np.full(n_groups, sc.shift_range[0]), np.full(n_groups, sc.shift_range[1])
        m_rows = np.full(len(sub), mult)
        for _ in range(sc.bisection_steps):  # all groups bisect together on the same paths
            mid = (lo + hi) / 2.0
            gap, weight, _ = train.run(mid[gid], m_rows)
            meets = ~(_group_mean(gap, weight, gid, n_groups) < 0.0)  # no cycle at all: nothing to raise
            hi, lo = np.where(meets, mid, hi), np.where(meets, lo, mid)
        gap, weight, cost = train.run(hi[gid], m_rows)
        g_gap, g_cost = _group_mean(gap, weight, gid, n_groups), np.bincount(gid, cost, n_groups)
        meets = ~(
            g_gap < 0.0
        )  # a multiplier that reaches the target beats one that does not, then cost decides
        better = np.isfinite(g_gap) & ((meets & ~best_meets) | ((meets == best_meets) & (g_cost < best_cost)))
        best_cost, best_meets = np.where(better, g_cost, best_cost), best_meets | (meets & better)
        best[better] = np.column_stack([hi, np.full(n_groups, mult), g_gap])[better]
    held = _PathSim(sub, demand_paths(hist, sub, sc, sc.holdout_paths, 40, sc.seed), sc.holdout_paths, cfg)
    gap_o, w_o, cost_o = held.run(best[gid, 0], best[gid, 1])
    gap_a, w_a, cost_a = held.run(np.zeros(len(sub)), np.ones(len(sub)))
    adjust = pd.DataFrame({
        "group": names, "shift_sigma": best[:, 0], "lot_multiplier": best[:, 1], "train_gap_pp": best[:, 2],
        "holdout_gap_pp": _group_mean(gap_o, w_o, gid, n_groups), "holdout_cost": np.bincount(gid, cost_o, n_groups),
        "analytic_holdout_gap_pp": _group_mean(gap_a, w_a, gid, n_groups),
        "analytic_holdout_cost": np.bincount(gid, cost_a, n_groups), "n_series": np.bincount(gid, minlength=n_groups),
    })  # fmt: skip
    shift_all[use], mult_all[use], group_all[use] = best[gid, 0], best[gid, 1], names[gid]
    return SearchResult(adjust, shift_all, mult_all, group_all)


def apply_search(
    plan: pd.DataFrame, result: SearchResult, cfg: InventoryConfig
) -> tuple[pd.DataFrame, np.ndarray]:
    """Searched levels for a (re-)plan of the same series: (levels, group per row). A later plan of the same
    rows keeps the group's shift and multiplier (its levels move with its own sigma and lot)."""
    sc = simopt_config(cfg)
    names = _group_names(plan, sc)
    table = result.adjust.set_index("group")
    shift = pd.Series(names).map(table["shift_sigma"]).fillna(0.0).to_numpy(dtype=float)
    mult = pd.Series(names).map(table["lot_multiplier"]).fillna(1.0).to_numpy(dtype=float)
    return shifted_levels(plan, shift, mult), names


def _winners(analytic: pd.DataFrame, searched: pd.DataFrame, group: np.ndarray, tol_pp: float) -> np.ndarray:
    """Per row: True where its group's searched levels win in this replay: within tol_pp of target and cheaper
    than the analytic levels (or the analytic ones are not within it), else strictly closer to target."""
    gaps, costs = [], []
    for m in (analytic, searched):
        is_fill = (m["service_type"] == "fill_rate").to_numpy()
        achieved = np.where(is_fill, m["fill_rate"], m["csl"])
        weight = np.where(is_fill, m["demand"], m["cycles"]).astype(float)
        gap = 100 * (achieved - m["service_level"].to_numpy(float))
        ok = np.isfinite(gap) & (weight > 0)
        frame = pd.DataFrame({"g": group, "wgap": np.where(ok, gap * weight, 0.0), "w": np.where(ok, weight, 0.0),
                              "cost": m["total_cost"].to_numpy(float)})  # fmt: skip
        agg = frame.groupby("g").agg(wgap=("wgap", "sum"), w=("w", "sum"), cost=("cost", "sum"))
        gaps.append((agg["wgap"] / agg["w"]).abs().fillna(np.inf))
        costs.append(agg["cost"])
    in_a, in_s = gaps[0] <= tol_pp, gaps[1] <= tol_pp
    win = (in_s & (~in_a | (costs[1] < costs[0]))) | (~in_s & ~in_a & (gaps[1] < gaps[0]))
    return pd.Series(group).map(win).fillna(False).to_numpy(dtype=bool) & (group != "")


def side_by_side(analytic: pd.DataFrame, searched: pd.DataFrame, found: SearchResult,
                 cfg: InventoryConfig) -> pd.DataFrame:  # fmt: skip
    """Replay metrics of the levels in use (cfg.simopt.use; "auto": per group the winner of this replay) with
    policy_source, the other levels' fill rate, CSL and cost (alt_*), and the group's search result."""
    sc = simopt_config(cfg)
    if sc.use == "auto":
        take = _winners(analytic, searched, found.group, sc.tolerance_pp)
    else:
        take = np.full(len(analytic), sc.use == "simopt") & (found.group != "")
    cols = [c for c in analytic.columns if c not in ("replans",)]
    out = analytic.copy()
    out.loc[take, cols] = searched.loc[take, cols].to_numpy()
    alt_cols = ["fill_rate", "csl", "cycles", "total_cost"]
    other = np.where(take[:, None], analytic[alt_cols].to_numpy(float), searched[alt_cols].to_numpy(float))
    searched_rows = found.group != ""
    return out.assign(
        policy_source=np.where(take, "simopt", "analytic"), alt_fill_rate=other[:, 0], alt_csl=other[:, 1],
        alt_cycles=other[:, 2], alt_total_cost=other[:, 3], simopt_shift_sigma=np.where(searched_rows, found.shift, np.nan),
        simopt_lot_multiplier=np.where(searched_rows, found.lot_multiplier, np.nan),
    )  # fmt: skip
