"""Solve the allocation LP with scipy's HiGHS and turn the solution into allocation rows.

Independent blocks (items, or partitions coupled by a shared capacity) are solved many at a time as one
block-diagonal LP per solver call: the optimum of a block-diagonal LP is the optimum of every block, and the
per-call overhead (input checks, HiGHS setup, presolve) is paid once per batch instead of once per item.
A batch that does not end "optimal" is split in halves and retried, so one bad block only marks itself.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from skuplan.allocation.build import ROUTE, LPModel, build_model
from skuplan.allocation.config import AllocationConfig
from skuplan.allocation.inputs import Encoded, encode
from skuplan.contracts import contract

OUTPUT_COLUMNS = contract("allocation").names
_SCIPY_STATUS = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded", 4: "solver_error"}
_EPS = 1e-9  # below this a flow is solver noise, not an allocation


def solve_allocation(
    requirements: pd.DataFrame,
    supply: pd.DataFrame,
    lanes: pd.DataFrame,
    cfg: AllocationConfig,
    dc_capacity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Allocate DC stock to regions at minimum lane cost + shortage penalty; see OUTPUT_COLUMNS.

    Per (item, region): sum(units) + sum(shortage_units) == requirement; per (item, dc): sum(units) <= available.
    Lane capacity bounds each item's flow on the lane (lane_capacity_scope="item") or the partition's total
    ("partition"); dc_capacity bounds a partition's total outbound units per DC (the same figure for every
    partition unless dc_capacity has the partition column).

    Rows, sorted by item_id, region_id, dc_id (None last): one per used lane (units > 0; a rebalancing
    transfer says "via region 'X'" in message), one per short (item, region) with dc_id None, units 0 and
    the per-unit penalty in unit_cost. lp_status is "optimal"; "no_lane" (with the reason in message) for a
    requirement no usable lane reaches; for a block the solver could not finish ("time_limit",
    "infeasible", "unbounded", "iteration_limit", "solver_error", "error") one all-shortage row per
    (item, region) of the block with the solver's message, so every requirement stays accounted for.
    Input errors (missing columns, negative or NaN quantities, duplicate keys) raise ValueError.
    """
    enc = encode(requirements, supply, lanes, cfg, dc_capacity)
    model = build_model(enc, cfg)
    x, status, message = _solve_blocks(model, cfg)
    return _assemble(enc, model, cfg, x, status, message)


def _rows(a: sp.csr_array, r0: int, r1: int, c0: int, c1: int) -> sp.csr_array:
    """Rows r0:r1 whose entries all lie in columns c0:c1, re-based, without scipy's generic slicing cost."""
    p0, p1 = a.indptr[r0], a.indptr[r1]
    return sp.csr_array(
        (a.data[p0:p1], a.indices[p0:p1] - c0, a.indptr[r0 : r1 + 1] - p0), shape=(r1 - r0, c1 - c0)
    )


def _solve_range(m: LPModel, b0: int, b1: int, seconds: float, cfg: AllocationConfig, mip: bool):
    v0, v1 = m.blk_var[b0], m.blk_var[b1]
    e0, e1, u0, u1 = m.blk_eq[b0], m.blk_eq[b1], m.blk_ub[b0], m.blk_ub[b1]
    c, ub = m.c[v0:v1], m.ub[v0:v1]
    a_eq, b_eq = _rows(m.a_eq, e0, e1, v0, v1), m.b_eq[e0:e1]
    a_ub, b_ub = _rows(m.a_ub, u0, u1, v0, v1), m.b_ub[u0:u1]
    # Tie-break costs differ by ~1e-7 (see build.py); HiGHS' default dual tolerance (1e-7) would ignore them.
    opts = {"time_limit": seconds, "presolve": cfg.presolve, "dual_feasibility_tolerance": 1e-10}
    try:
        if mip:
            cons = [LinearConstraint(a_eq, b_eq, b_eq)] + (
                [LinearConstraint(a_ub, -np.inf, b_ub)] if u1 > u0 else []
            )
            with warnings.catch_warnings():  # milp warns that it passes HiGHS-native options on verbatim
                warnings.filterwarnings("ignore", message="Unrecognized options")
                res = milp(
                    c,
                    integrality=m.integral[v0:v1].astype(np.uint8),
                    bounds=Bounds(0, ub),
                    constraints=cons,
                    # Prove optimality to the tie-break scale, else any near-tie ends the search.
                    options=opts | {"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9},
                )
        else:
            res = linprog(
                c,
                A_ub=a_ub if u1 > u0 else None,
                b_ub=b_ub if u1 > u0 else None,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=np.column_stack([np.zeros(len(c)), ub]),
                method="highs",
                options=opts,
            )
    except Exception as exc:  # reported as this block's status by the caller, never swallowed
        return "error", f"{type(exc).__name__}: {exc}", None
    status = _SCIPY_STATUS.get(res.status, "solver_error")
    if status == "iteration_limit" and "time" in str(res.message).lower():
        status = "time_limit"
    if status == "optimal" and res.x is None:
        status = "solver_error"
    return status, str(res.message), res.x


def _batches(m: LPModel, blocks: np.ndarray, batch_vars: int) -> list[tuple[int, int]]:
    """Runs of consecutive blocks with about batch_vars variables each (one solver call per run)."""
    if not len(blocks):
        return []
    sizes = np.diff(m.blk_var)[blocks]
    cut = ((np.cumsum(sizes) - sizes) // batch_vars)[1:] != ((np.cumsum(sizes) - sizes) // batch_vars)[:-1]
    cut |= np.diff(blocks) != 1  # a gap in the block ids always ends a run
    starts = np.concatenate([[0], np.flatnonzero(cut) + 1])
    ends = np.concatenate([starts[1:], [len(blocks)]])
    return [(int(blocks[i]), int(blocks[j - 1]) + 1) for i, j in zip(starts, ends, strict=True)]


def _solve_blocks(m: LPModel, cfg: AllocationConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.zeros(len(m.c))
    status = np.full(m.n_blocks, "optimal", dtype=object)
    message = np.full(m.n_blocks, "", dtype=object)
    deadline = time.monotonic() + cfg.time_limit_s
    _run(m, _batches(m, np.arange(m.n_blocks), cfg.batch_vars), False, cfg, deadline, x, status, message)
    if cfg.integer:
        # An integral LP optimum is MILP-optimal (the relaxation bounds the MILP): only blocks with a
        # fractional LP solution go to branch and bound. Transportation LPs with integer data are totally
        # unimodular, so this is usually none of them, and the answer keeps the LP's tie-break determinism.
        frac = m.integral & (np.abs(x - np.round(x)) > 1e-6)  # 1e-6: above HiGHS' primal tolerance
        v_blk = np.repeat(np.arange(m.n_blocks), np.diff(m.blk_var))
        todo = np.unique(v_blk[frac])
        todo = todo[status[todo] == "optimal"]
        _run(m, _batches(m, todo, cfg.batch_vars), True, cfg, deadline, x, status, message)
    return x, status, message


def _run(
    m: LPModel,
    batches: list[tuple[int, int]],
    mip: bool,
    cfg: AllocationConfig,
    deadline: float,
    x: np.ndarray,
    status: np.ndarray,
    message: np.ndarray,
) -> None:
    """Solve each batch; a batch that fails is halved until the failing block(s) are isolated."""
    todo = batches[::-1]  # a stack with the first batch on top
    while todo:
        b0, b1 = todo.pop()
        left = deadline - time.monotonic()
        if left <= 0:
            status[b0:b1] = "time_limit"
            message[b0:b1] = f"time_limit_s={cfg.time_limit_s} spent before this block was solved"
            continue
        st, msg, xb = _solve_range(m, b0, b1, left, cfg, mip)
        if st == "optimal":
            x[m.blk_var[b0] : m.blk_var[b1]] = xb
        elif b1 - b0 > 1:  # the other blocks of the batch still get their optimum
            mid = (b0 + b1) // 2
            todo += [(mid, b1), (b0, mid)]
        else:
            status[b0], message[b0] = st, msg


def _no_lane_messages(enc: Encoded, rows: np.ndarray, cfg: AllocationConfig) -> list[str]:
    usable = np.bincount(enc.l_region, minlength=len(enc.regions)) > 0
    tail = " (and no transfer route)" if cfg.rebalancing else ""
    out = []
    for item, rg in zip(enc.items[enc.r_item[rows]], enc.r_region[rows], strict=False):
        region = enc.regions[rg]
        if not enc.region_has_lane[rg]:
            out.append(f"region {region!r} has no row in lanes{tail}")
        elif not usable[rg]:
            out.append(
                f"no lane into region {region!r} with lead_time_days <= {cfg.horizon_days} "
                f"and capacity > 0{tail}"
            )
        else:
            out.append(f"no DC with a lane into region {region!r} stocks item {item!r} (available > 0){tail}")
    return out


def _assemble(
    enc: Encoded, m: LPModel, cfg: AllocationConfig, x: np.ndarray, status: np.ndarray, message: np.ndarray
) -> pd.DataFrame:
    v_blk = np.repeat(np.arange(m.n_blocks), np.diff(m.blk_var))
    ok_var = status[v_blk] == "optimal" if len(v_blk) else np.zeros(0, bool)
    x = np.where(x > _EPS, np.round(x, 9), 0.0)  # drop solver noise; 9 decimals keeps integer data exact
    ship = (m.kind <= ROUTE) & ok_var
    if cfg.integer:
        x[ship] = np.round(x[ship])
    ship &= x > _EPS
    delivered = np.bincount(m.v_row[ship], weights=x[ship], minlength=len(m.lp_rows))
    short = np.maximum(enc.r_qty[m.lp_rows] - delivered, 0.0)
    row_blk = np.repeat(np.arange(m.n_blocks), np.diff(m.blk_eq))
    ok_row = status[row_blk] == "optimal" if len(row_blk) else np.zeros(0, bool)
    s_rows = np.flatnonzero(ok_row & (short > _EPS))
    k_short = m.lp_rows[s_rows]
    nl = m.no_lane_rows

    # Failed blocks: one row per (item, region) of the block, all shortage, with the solver's status/message.
    # (Per region rather than per item: keeps region_id non-null and the requirement identity exact.)
    bad = np.flatnonzero(~ok_row)
    k_bad = m.lp_rows[bad]

    sv = np.flatnonzero(ship)
    k_ship = m.lp_rows[m.v_row[sv]]
    k_all = np.concatenate([k_ship, k_short, nl, k_bad])
    n_ship, n_s, n_n, n_f = len(sv), len(k_short), len(nl), len(bad)
    pad = np.full(n_s + n_n + n_f, -1)
    item, region = enc.r_item[k_all], enc.r_region[k_all]
    dc, via = np.concatenate([m.v_dc[sv], pad]), np.concatenate([m.v_via[sv], pad])
    units = np.concatenate([x[sv], np.zeros(n_s + n_n + n_f)])
    unit_cost = np.concatenate([m.v_cost[sv], enc.r_pen[k_short], enc.r_pen[nl], enc.r_pen[k_bad]])
    shortage = np.concatenate([np.zeros(n_ship), short[s_rows], enc.r_qty[nl], enc.r_qty[k_bad]])
    lp_status = np.concatenate(
        [
            np.full(n_ship + n_s, "optimal", dtype=object),
            np.full(n_n, "no_lane", dtype=object),
            status[row_blk[bad]],
        ]
    )
    msg = np.full(len(item), "", dtype=object)
    routed = np.flatnonzero(via >= 0)
    msg[routed] = [f"via region {v!r}" for v in enc.regions[via[routed]]]
    msg[n_ship + n_s : n_ship + n_s + n_n] = _no_lane_messages(enc, nl, cfg)
    msg[n_ship + n_s + n_n :] = message[row_blk[bad]]

    n_rg, n_dc = len(enc.regions), len(enc.dcs)
    order = np.lexsort((via, np.where(dc < 0, n_dc, dc), np.where(region < 0, n_rg, region), item))
    out = {
        "item_id": enc.items[item[order]],
        "dc_id": _decode(enc.dcs, dc[order]),
        "region_id": _decode(enc.regions, region[order]),
        "units": units[order],
        "unit_cost": unit_cost[order],
        "shortage_units": shortage[order],
        "lp_status": lp_status[order],
        "message": msg[order],
    }
    return pd.DataFrame(out, columns=OUTPUT_COLUMNS)


def _decode(uniq: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.full(len(codes), None, dtype=object)
    hit = codes >= 0
    out[hit] = uniq[codes[hit]]
    return out
