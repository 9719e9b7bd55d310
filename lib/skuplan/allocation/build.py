"""Build the allocation LP as block-diagonal sparse arrays (numpy + scipy.sparse, no per-item Python loop).

Variables, per requirement row k = (item i, region r) with requirement q > 0:
  direct  x[i,d,r]      lane d->r, d stocks i; cost = lane cost
  route   y[i,d,v->r]   only with rebalancing: lane d->v then a lateral transfer v->r; cost = lane + transfer
  short   s[i,r]        cost = shortage penalty (x region priority)
  floor   f[i,r]        only with min_fill_ratio: the part of the shortage below the fill floor, penalised
                        extra (convex piecewise penalty, so the LP fills every floor before any region's rest)
Rows: demand  sum(x, y into r) + s + f = q         (one per k; shortage keeps every block feasible)
      supply  sum(x, y out of (i,d)) <= available  (dropped when the lanes cannot drain the stock anyway)
      lane    shared lane capacity, per item (with rebalancing) or per partition
      dc      outbound capacity per (partition, dc)
Holding cost h per unit left at a DC is the constant h*available minus h per unit shipped, so it is folded
into the shipping costs instead of adding leftover variables.
A "block" is an item, or a whole partition when a partition-level capacity couples its items; blocks are
contiguous in variable and row order, so any run of blocks is an independent, block-diagonal LP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skuplan.allocation.config import AllocationConfig
from skuplan.allocation.inputs import Encoded

DIRECT, ROUTE, SHORT, FLOOR = 0, 1, 2, 3


@dataclass(frozen=True)
class LPModel:
    lp_rows: np.ndarray  # encoded requirement rows that have at least one lane (demand row j -> lp_rows[j])
    no_lane_rows: np.ndarray  # encoded requirement rows no lane reaches: all shortage, status "no_lane"
    c: np.ndarray  # objective incl. tie-break and holding credit
    ub: np.ndarray
    integral: np.ndarray  # bool per variable
    kind: np.ndarray
    v_row: np.ndarray  # demand row served by the variable
    v_dc: np.ndarray  # dc code (-1 for shortage)
    v_via: np.ndarray  # transfer-origin region code (-1 unless ROUTE)
    v_cost: np.ndarray  # true per-unit cost for the output (no tie-break, no holding credit)
    a_eq: sp.csr_array
    b_eq: np.ndarray
    a_ub: sp.csr_array
    b_ub: np.ndarray
    blk_var: np.ndarray  # block b owns variables blk_var[b]:blk_var[b+1]; likewise rows
    blk_eq: np.ndarray
    blk_ub: np.ndarray

    @property
    def n_blocks(self) -> int:
        return len(self.blk_var) - 1


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [starts[j], starts[j]+counts[j]): (owner j, position) of every element, vectorized."""
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + starts[owner]
    return owner, pos


def _supply_pos(enc: Encoded, item: np.ndarray, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = item * len(enc.dcs) + dc
    pos = np.minimum(np.searchsorted(enc.s_key, key), max(len(enc.s_key) - 1, 0))
    has = (enc.s_key[pos] == key) if len(enc.s_key) else np.zeros(len(key), bool)
    return has, pos


def _direct(enc: Encoded) -> dict[str, np.ndarray]:
    by_region = np.argsort(enc.l_region, kind="stable")  # lanes ordered (region, dc)
    cnt = np.bincount(enc.l_region, minlength=len(enc.regions))
    start = np.concatenate([[0], np.cumsum(cnt)])
    k, pos = _expand(start[enc.r_region], cnt[enc.r_region])
    lane = by_region[pos]
    has, spos = _supply_pos(enc, enc.r_item[k], enc.l_dc[lane])
    k, lane = k[has], lane[has]
    return {"k": k, "lane": lane, "spos": spos[has], "cost": enc.l_cost[lane], "via": np.full(len(k), -1)}


def _routes(enc: Encoded, cfg: AllocationConfig) -> dict[str, np.ndarray]:
    """Stock of i at d reaches r through a lane d->v and a transfer v->r (v != r)."""
    n_dc, n_rg = len(enc.dcs), len(enc.regions)
    lo = np.searchsorted(enc.s_key, enc.r_item * n_dc)
    hi = np.searchsorted(enc.s_key, (enc.r_item + 1) * n_dc)
    k, spos = _expand(lo, hi - lo)  # every (requirement row, DC stocking the item)
    elig = np.flatnonzero(enc.l_lead + cfg.transfer_lead_time_days <= cfg.horizon_days)
    # Skip (dc, region) pairs served by an uncapped direct lane no dearer than dc's cheapest route: every
    # route from that dc would be dominated, and expanding them first costs memory (items x regions^2).
    cheapest = np.full(n_dc, np.inf)
    np.minimum.at(cheapest, enc.l_dc[elig], enc.l_cost[elig] + cfg.transfer_cost)
    served = np.zeros((n_dc, n_rg), bool)
    free = np.isnan(enc.l_cap) & (enc.l_cost <= cheapest[enc.l_dc])
    served[enc.l_dc[free], enc.l_region[free]] = True
    dc_of = enc.s_key[spos] % n_dc
    need = ~served[dc_of, enc.r_region[k]]
    k, spos, dc_of = k[need], spos[need], dc_of[need]
    lstart = np.searchsorted(enc.l_dc[elig], np.arange(n_dc + 1))
    j, lpos = _expand(lstart[dc_of], lstart[dc_of + 1] - lstart[dc_of])
    k, spos, lane = k[j], spos[j], elig[lpos]
    cost = enc.l_cost[lane] + cfg.transfer_cost
    dest = enc.r_region[k]
    keep = enc.l_region[lane] != dest
    # Drop routes dominated by an uncapped direct lane d->r that is no dearer (same stock, same DC).
    lkey = enc.l_dc * n_rg + enc.l_region
    dkey = enc.l_dc[lane] * n_rg + dest
    dp = np.minimum(np.searchsorted(lkey, dkey), max(len(lkey) - 1, 0))
    dominated = (lkey[dp] == dkey) & np.isnan(enc.l_cap[dp]) & (enc.l_cost[dp] <= cost)
    keep &= ~dominated
    return {
        "k": k[keep],
        "lane": lane[keep],
        "spos": spos[keep],
        "cost": cost[keep],
        "via": enc.l_region[lane[keep]],
    }


def _floor(a: np.ndarray) -> np.ndarray:
    return np.floor(a + 1e-9)  # NaN (unbounded) stays NaN


def _id_hash(ids: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(np.asarray(ids, dtype=object)) if len(ids) else np.zeros(0, np.uint64)


def _unit(*hashes: np.ndarray) -> np.ndarray:
    """Mix uint64 hashes (splitmix64 finaliser) into floats uniform in [0, 1)."""
    h = np.zeros(len(hashes[0]), np.uint64)
    for i, part in enumerate(hashes):
        h ^= (
            part + np.uint64(0x9E3779B97F4A7C15 * (i + 1) % 2**64) + (h << np.uint64(6)) + (h >> np.uint64(2))
        )
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        h = (h ^ (h >> np.uint64(shift))) * np.uint64(mult)
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53


def _ub_rows(member: np.ndarray, key: np.ndarray, rhs_of_key, ub: np.ndarray, blk: np.ndarray):
    """Group variables by key into '<= rhs' rows; drop rows that the variable bounds already satisfy."""
    if not len(member):
        return [np.empty(0, np.int64)] * 3 + [np.empty(0)]
    uniq, inv = np.unique(key, return_inverse=True)
    rhs = rhs_of_key(uniq)
    need = np.bincount(inv, weights=np.minimum(ub[member], 1e300), minlength=len(uniq)) > rhs + 1e-9
    rows = np.cumsum(need) - 1
    m = need[inv]
    first = np.zeros(len(uniq), np.int64)
    first[inv[::-1]] = member[::-1]  # any member's block: every member of a row is in the same block
    return [rows[inv[m]], member[m], blk[first[need]], rhs[need]]


def build_model(enc: Encoded, cfg: AllocationConfig) -> LPModel:
    q_true = enc.r_qty
    if cfg.integer:
        enc = _floored(enc)
    ship = _shipping(enc, cfg)
    has_var = np.bincount(ship["k"], minlength=len(enc.r_qty)) > 0
    lp_rows, no_lane_rows = np.flatnonzero(has_var), np.flatnonzero(~has_var)
    v = _variables(enc, cfg, ship, lp_rows, np.cumsum(has_var) - 1, q_true[lp_rows])
    row_blk, dc_coupled = _row_blocks(enc, cfg, lp_rows, enc.l_cap[ship["lane"]])

    order = np.argsort(v["row"], kind="stable")  # demand rows are block-sorted, so blocks become contiguous
    v = {name: a[order] for name, a in v.items()}
    row = v["row"]
    v_blk = row_blk[row] if len(row) else row
    n_var = len(row)
    a_eq = sp.csr_array((np.ones(n_var), (row, np.arange(n_var))), shape=(len(lp_rows), n_var))
    a_ub, b_ub, ub_blk = _stack_rows(_capacity_rows(enc, cfg, lp_rows, v, v_blk, dc_coupled), n_var)

    n_blk = int(row_blk.max()) + 1 if len(row_blk) else 0
    edges = np.arange(n_blk + 1)
    return LPModel(
        lp_rows=lp_rows,
        no_lane_rows=no_lane_rows,
        c=v["c"],
        ub=v["ub"],
        integral=(v["kind"] <= ROUTE) & cfg.integer,
        kind=v["kind"],
        v_row=row,
        v_dc=v["dc"],
        v_via=v["via"],
        v_cost=v["cost"],
        a_eq=a_eq,
        b_eq=enc.r_qty[lp_rows],
        a_ub=a_ub,
        b_ub=b_ub,
        blk_var=np.searchsorted(v_blk, edges),
        blk_eq=np.searchsorted(row_blk, edges),
        blk_ub=np.searchsorted(ub_blk, edges),
    )


def _floored(enc: Encoded) -> Encoded:
    """Integral units can never use the fraction of a requirement, stock or capacity: floor them all (the
    fractions become shortage). With integral right-hand sides and bounds the LP is totally unimodular
    (supply, per-item lane and dc rows are laminar, each variable has one demand row), so its vertex is
    integral. Partition-scope lane rows break that; a fractional LP block then goes to milp (lp.py)."""
    return replace(
        enc,
        r_qty=_floor(enc.r_qty),
        s_avail=_floor(enc.s_avail),
        l_cap=_floor(enc.l_cap),
        dc_cap=None if enc.dc_cap is None else _floor(enc.dc_cap),
    )


def _shipping(enc: Encoded, cfg: AllocationConfig) -> dict[str, np.ndarray]:
    """Shipping candidates (direct lanes, then transfer routes with rebalancing) with their kind."""
    parts = [_direct(enc)] + ([_routes(enc, cfg)] if cfg.rebalancing else [])
    ship = {f: np.concatenate([p[f] for p in parts]) for f in parts[0]}
    ship["kind"] = np.concatenate(
        [np.full(len(p["k"]), DIRECT if i == 0 else ROUTE) for i, p in enumerate(parts)]
    )
    return ship


def _ship_tie_break(enc: Encoded, cfg: AllocationConfig, ship: dict[str, np.ndarray], rg_h: np.ndarray):
    """A pseudo-random but fixed cost in [tie_break, 2 tie_break) per (dc, region, via).

    Hashed ids, so it depends neither on row order nor on which other items share the solver call. Any
    additive scheme such as "lane rank" leaves cycles d1r1 - d1r2 + d2r2 - d2r1 cost-neutral; generic
    values make the optimum unique, hence the same whatever the batch composition.
    """
    dc_h = _id_hash(enc.dcs)
    via_h = np.where(ship["via"] >= 0, rg_h[np.maximum(ship["via"], 0)], np.uint64(0))
    return cfg.tie_break * (1 + _unit(dc_h[enc.l_dc[ship["lane"]]], rg_h[enc.r_region[ship["k"]]], via_h))


def _variables(
    enc: Encoded,
    cfg: AllocationConfig,
    ship: dict[str, np.ndarray],
    lp_rows: np.ndarray,
    row_of_k: np.ndarray,
    q_true: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per-variable arrays: shipping variables, then one shortage (and with a fill floor, one floor) variable
    per demand row. q_true is the requirement before integer flooring."""
    ratio = cfg.min_fill_ratio or 0.0
    q, pen, rg = enc.r_qty[lp_rows], enc.r_pen[lp_rows], enc.r_region[lp_rows]
    rg_h = _id_hash(enc.regions)
    ship_c = ship["cost"] - cfg.holding_cost + _ship_tie_break(enc, cfg, ship, rg_h)
    ship_ub = np.fmin(np.minimum(enc.s_avail[ship["spos"]], enc.r_qty[ship["k"]]), enc.l_cap[ship["lane"]])
    # Fill floor in units: ratio * requirement (rounded up to whole units in integer mode).
    floor_units = q_true * ratio
    if cfg.integer:
        floor_units = np.minimum(np.ceil(floor_units - 1e-9), q)
    big = 2.0 * (pen.max(initial=0) + np.abs(enc.l_cost).max(initial=0) + cfg.transfer_cost) + 1.0
    s_tie = cfg.tie_break * (1 + _unit(rg_h[rg]))  # the same fixed tie-break per region for shortage
    n, short_rows = len(lp_rows), np.arange(len(lp_rows))
    # One segment per variable kind: (kind, demand row, objective, upper bound, true cost).
    segments = [
        (ship["kind"], row_of_k[ship["k"]], ship_c, ship_ub, ship["cost"]),
        (np.full(n, SHORT), short_rows, pen + s_tie, q - floor_units, pen),
    ]
    if ratio > 0:
        segments.append((np.full(n, FLOOR), short_rows, pen + big + s_tie, floor_units, pen))
    kind, row, c, ub, cost = (np.concatenate(column) for column in zip(*segments, strict=True))
    pad = np.full(len(row) - len(ship["k"]), -1)  # shortage variables have no dc, via, lane or supply row
    return {
        "kind": kind,
        "row": row,
        "c": c,
        "ub": ub,
        "cost": cost,
        "dc": np.concatenate([enc.l_dc[ship["lane"]], pad]),
        "via": np.concatenate([ship["via"], pad]),
        "lane": np.concatenate([ship["lane"], pad]),
        "spos": np.concatenate([ship["spos"], pad]),
    }


def _row_blocks(
    enc: Encoded, cfg: AllocationConfig, lp_rows: np.ndarray, ship_lane_cap: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Block of every demand row: a partition when a partition-level capacity couples its items, else an
    item. Returns (block per demand row, whether DC capacities couple a partition)."""
    dc_coupled = enc.dc_cap is not None and bool(np.isfinite(enc.dc_cap).any())
    lane_coupled = cfg.lane_capacity_scope == "partition" and bool(np.isfinite(ship_lane_cap).any())
    grp = enc.r_part[lp_rows] if (dc_coupled or lane_coupled) else enc.r_item[lp_rows]
    return np.cumsum(np.concatenate([[True], grp[1:] != grp[:-1]])[: len(grp)]) - 1, dc_coupled


def _capacity_rows(
    enc: Encoded,
    cfg: AllocationConfig,
    lp_rows: np.ndarray,
    v: dict[str, np.ndarray],
    v_blk: np.ndarray,
    dc_coupled: bool,
) -> list:
    """'<=' row groups over the (block-sorted) variables: supply per (item, dc), shared lane capacity per
    partition or (with rebalancing) per item, outbound capacity per (partition, dc)."""
    n_dc, n_lanes = len(enc.dcs), len(enc.l_dc)
    row, ub, lane = v["row"], v["ub"], v["lane"]
    ship_v = np.flatnonzero(v["kind"] <= ROUTE)
    groups = [_ub_rows(ship_v, v["spos"][ship_v], lambda u: enc.s_avail[u], ub, v_blk)]
    fin = ship_v[np.isfinite(enc.l_cap[lane[ship_v]])]
    if cfg.lane_capacity_scope == "partition":
        key = enc.r_part[lp_rows][row[fin]] * n_lanes + lane[fin]
        groups.append(_ub_rows(fin, key, lambda u: enc.l_cap[u % n_lanes], ub, v_blk))
    elif cfg.rebalancing:  # per-item lanes shared by direct and transfer routes; else the bound suffices
        key = enc.r_item[lp_rows][row[fin]] * n_lanes + lane[fin]
        groups.append(_ub_rows(fin, key, lambda u: enc.l_cap[u % n_lanes], ub, v_blk))
    if dc_coupled:
        vp = enc.r_part[lp_rows][row[ship_v]]
        capped = np.isfinite(enc.dc_cap[vp, v["dc"][ship_v]])
        key = vp[capped] * n_dc + v["dc"][ship_v][capped]
        groups.append(_ub_rows(ship_v[capped], key, lambda u: enc.dc_cap[u // n_dc, u % n_dc], ub, v_blk))
    return groups


def _stack_rows(groups, n_var: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Concatenate row groups and order the rows by block (stable: group order, then key, inside a block)."""
    offsets = np.cumsum([0] + [len(g[3]) for g in groups])
    r = np.concatenate([g[0] + off for g, off in zip(groups, offsets, strict=False)])
    v = np.concatenate([g[1] for g in groups])
    blk = np.concatenate([g[2] for g in groups])
    rhs = np.concatenate([g[3] for g in groups])
    order = np.argsort(blk, kind="stable")
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(len(order))
    a = sp.csr_array((np.ones(len(v)), (new_of_old[r], v)), shape=(len(rhs), n_var))
    return a, rhs[order], blk[order]
