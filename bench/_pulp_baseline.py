"""Baseline in the style of a typical open implementation: one pulp.LpProblem per item, solved by CBC.

Same model as skuplan's (lane cost + penalised shortage, stock and per-item lane capacity), no tie-break.
"""

from __future__ import annotations

import pandas as pd


def solve_item_pulp(pulp, item_req: pd.DataFrame, item_sup: pd.DataFrame, lanes: pd.DataFrame, horizon: int):
    """Return (status, objective, {(dc, region): units}) for one item; item_req carries a 'penalty' column."""
    prob = pulp.LpProblem("alloc", pulp.LpMinimize)
    stock = dict(zip(item_sup["dc_id"], item_sup["available"], strict=True))
    usable = lanes[
        (lanes["lead_time_days"] <= horizon) & lanes["dc_id"].isin([d for d, a in stock.items() if a > 0])
    ]
    x, short = {}, {}
    for r, q, pen in item_req[["region_id", "requirement", "penalty"]].itertuples(index=False):
        short[r] = (pulp.LpVariable(f"s_{r}", lowBound=0), pen)
        for d, cost, cap in usable.loc[
            usable["region_id"] == r, ["dc_id", "unit_cost", "capacity"]
        ].itertuples(index=False):
            x[d, r] = (pulp.LpVariable(f"x_{d}_{r}", lowBound=0, upBound=None if pd.isna(cap) else cap), cost)
        prob += pulp.lpSum(v for (_, rr), (v, _) in x.items() if rr == r) + short[r][0] == q, f"dem_{r}"
    prob += pulp.lpSum(v * c for v, c in x.values()) + pulp.lpSum(v * p for v, p in short.values())
    for d, a in stock.items():
        out = [v for (dd, _), (v, _) in x.items() if dd == d]
        if out:
            prob += pulp.lpSum(out) <= a, f"sup_{d}"
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    status = pulp.LpStatus[prob.status]
    return status, pulp.value(prob.objective), {k: v.value() for k, (v, _) in x.items()}
