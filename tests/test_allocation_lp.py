"""Allocation LP: textbook instances with hand-worked optima, statuses, determinism (plain pandas, no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from allocation_helpers import allocation_violations
from skuplan.allocation import OUTPUT_COLUMNS, AllocationConfig, allocation_summary, solve_allocation


def req_df(rows, **extra) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["item_id", "region_id", "requirement"])
    return df.assign(**extra)


def sup_df(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "dc_id", "available"])


def lanes_df(rows) -> pd.DataFrame:
    """rows: (dc, region, unit_cost[, capacity[, lead_time_days]])."""
    full = [(*r, *(np.nan, 2.0)[len(r) - 3 :]) for r in rows]
    return pd.DataFrame(full, columns=["dc_id", "region_id", "unit_cost", "capacity", "lead_time_days"])


def solve(req, sup, lanes, cfg=None, **kw) -> pd.DataFrame:
    out = solve_allocation(req, sup, lanes, cfg or AllocationConfig(), **kw)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert allocation_violations(out, req, sup) == []  # identities checked on every output
    return out


def objective(out: pd.DataFrame) -> float:
    return float((out["units"] * out["unit_cost"]).sum() + (out["shortage_units"] * out["unit_cost"]).sum())


def flows(out: pd.DataFrame) -> dict:
    ship = out[out["units"] > 0]
    return {(d, r): u for d, r, u in zip(ship["dc_id"], ship["region_id"], ship["units"], strict=True)}


def shortages(out: pd.DataFrame) -> dict:
    s = out[out["shortage_units"] > 0]
    return dict(zip(s["region_id"], s["shortage_units"], strict=True))


# Hand instance, item A: D1 has 100, D2 has 60; R1 needs 80, R2 needs 70; penalty 100 (never worth it).
#   lane cost  D1->R1 1, D1->R2 3, D2->R1 2, D2->R2 1
# D2 is R2's cheap source (1 vs 3) and D1 is R1's (1 vs 2), so D2->R2 60 (all of D2), D1->R1 80 and the
# remaining 10 of R2 from D1 at 3. Moving t units of D2 to R1 instead costs +1 (D2->R1 over D1->R1) and
# +2 (D1->R2 over D2->R2) per unit, so the optimum is unique: 60*1 + 80*1 + 10*3 = 170.
HAND_REQ = req_df([("A", "R1", 80.0), ("A", "R2", 70.0)])
HAND_SUP = sup_df([("A", "D1", 100.0), ("A", "D2", 60.0)])
HAND_LANES = lanes_df([("D1", "R1", 1.0), ("D1", "R2", 3.0), ("D2", "R1", 2.0), ("D2", "R2", 1.0)])


def test_hand_instance_known_optimum():
    out = solve(HAND_REQ, HAND_SUP, HAND_LANES)
    assert flows(out) == {("D1", "R1"): 80.0, ("D1", "R2"): 10.0, ("D2", "R2"): 60.0}
    assert objective(out) == pytest.approx(170.0)
    assert (out["lp_status"] == "optimal").all() and (out["shortage_units"] == 0).all()
    assert out[["region_id", "dc_id"]].values.tolist() == [["R1", "D1"], ["R2", "D1"], ["R2", "D2"]]


def test_binding_lane_capacity_per_item():
    # Cap D2->R2 at 40: R2 takes 40 from D2 and 30 from D1 (3); D1 has 70 left for R1 (1); the last 10 of
    # R1 come from D2 (2). 40*1 + 30*3 + 70*1 + 10*2 = 220.
    lanes = lanes_df([("D1", "R1", 1.0), ("D1", "R2", 3.0), ("D2", "R1", 2.0), ("D2", "R2", 1.0, 40.0)])
    out = solve(HAND_REQ, HAND_SUP, lanes)
    assert flows(out) == {("D1", "R1"): 70.0, ("D2", "R1"): 10.0, ("D1", "R2"): 30.0, ("D2", "R2"): 40.0}
    assert objective(out) == pytest.approx(220.0)


def test_shortage_lands_in_lowest_penalty_region():
    # 50 units for 3 x 30: R3 (penalty 200) is filled first, then R1 (100); R2 (50) takes the shortage.
    req = req_df([("A", "R1", 30.0), ("A", "R2", 30.0), ("A", "R3", 30.0)])
    sup = sup_df([("A", "D1", 50.0)])
    lanes = lanes_df([("D1", r, 1.0) for r in ("R1", "R2", "R3")])
    cfg = AllocationConfig(region_priority={"R2": 0.5, "R3": 2.0})
    out = solve(req, sup, lanes, cfg)
    assert shortages(out) == {"R1": 10.0, "R2": 30.0}
    assert out.loc[out["region_id"] == "R2", "unit_cost"].tolist() == [50.0]  # penalty on the shortage row
    # A row-level penalty overrides the default before the multiplier: R1 at 10 is now the cheapest to short.
    out = solve(req.assign(shortage_penalty=[10.0, np.nan, np.nan]), sup, lanes, cfg)
    assert shortages(out) == {"R1": 30.0, "R2": 10.0}


def test_dc_capacity_couples_items_of_a_partition():
    # One DC ships at most 60 units per partition: B (penalty 20) beats A (penalty 10).
    req = req_df([("A", "R1", 50.0), ("B", "R1", 50.0)], category="c1", shortage_penalty=[10.0, 20.0])
    sup = sup_df([("A", "D1", 50.0), ("B", "D1", 50.0)])
    lanes = lanes_df([("D1", "R1", 1.0)])
    cap = pd.DataFrame({"dc_id": ["D1"], "capacity": [60.0]})
    out = solve(req, sup, lanes, dc_capacity=cap)
    assert dict(
        zip(out["item_id"] + out["dc_id"].fillna("-"), out["units"] + out["shortage_units"], strict=True)
    ) == {"AD1": 10.0, "A-": 40.0, "BD1": 50.0}
    # Separate partitions each get the full 60: both items fully served.
    out = solve(req.assign(category=["c1", "c2"]), sup, lanes, dc_capacity=cap)
    assert out["shortage_units"].sum() == 0 and out["units"].sum() == 100.0


def test_lane_capacity_scope():
    req = req_df([("A", "R1", 50.0), ("B", "R1", 50.0)], category="c1", shortage_penalty=[10.0, 20.0])
    sup = sup_df([("A", "D1", 50.0), ("B", "D1", 50.0)])
    lanes = lanes_df([("D1", "R1", 1.0, 60.0)])
    per_item = solve(req, sup, lanes)
    assert per_item["units"].tolist() == [50.0, 50.0]
    shared = solve(req, sup, lanes, AllocationConfig(lane_capacity_scope="partition"))
    assert shared.groupby("item_id")["units"].sum().to_dict() == {"A": 10.0, "B": 50.0}


def test_region_without_lane_gets_status_row_others_solved():
    req = req_df([("A", "R1", 10.0), ("A", "R3", 5.0), ("A", "R4", 4.0), ("A", "R5", 3.0), ("B", "R1", 7.0)])
    sup = sup_df([("A", "D1", 100.0), ("B", "D1", 100.0)])
    lanes = lanes_df([("D1", "R1", 1.0), ("D2", "R4", 1.0), ("D1", "R5", 1.0, np.nan, 30.0)])
    out = solve(req, sup, lanes).set_index(["item_id", "region_id"])
    assert out.loc[("A", "R1"), "units"] == 10.0 and out.loc[("B", "R1"), "units"] == 7.0
    for region, qty, why in [
        ("R3", 5.0, "no row in lanes"),
        ("R4", 4.0, "stocks item 'A'"),
        ("R5", 3.0, "lead_time_days <= 14"),
    ]:
        row = out.loc[("A", region)]
        assert (row["lp_status"], row["shortage_units"], row["units"], row["dc_id"]) == (
            "no_lane",
            qty,
            0.0,
            None,
        )
        assert region in row["message"] and why in row["message"]


def test_lane_beyond_horizon_is_unused():
    lanes = lanes_df([("D1", "R1", 1.0, np.nan, 20.0), ("D2", "R1", 5.0)])
    out = solve(HAND_REQ.iloc[:1], HAND_SUP, lanes)
    assert flows(out) == {("D2", "R1"): 60.0} and shortages(out) == {"R1": 20.0}
    assert flows(solve(HAND_REQ.iloc[:1], HAND_SUP, lanes, AllocationConfig(horizon_days=30))) == {
        ("D1", "R1"): 80.0
    }


def random_instance(seed: int, n_items: int = 40, ties: bool = True):
    rng = np.random.default_rng(seed)
    items, dcs, regions = (
        [f"I{i:03d}" for i in range(n_items)],
        ["D1", "D2", "D3"],
        ["R1", "R2", "R3", "R4", "R5"],
    )
    req = req_df(
        [(i, r, float(rng.integers(0, 30))) for i in items for r in regions],
        category=[f"c{i % 3}" for i in range(n_items) for _ in regions],
    )
    sup = sup_df([(i, d, float(rng.integers(0, 40))) for i in items for d in dcs])
    cost = rng.integers(1, 3, (3, 5)).astype(float) if ties else rng.uniform(1, 3, (3, 5)).round(2)
    cap = np.where(rng.uniform(size=(3, 5)) < 0.3, 15.0, np.nan)
    lanes = lanes_df(
        [(d, r, cost[a, b], cap[a, b]) for a, d in enumerate(dcs) for b, r in enumerate(regions)]
    )
    return req, sup, lanes


def test_permuted_input_rows_give_identical_output():
    req, sup, lanes = random_instance(3)
    cfg = AllocationConfig(region_priority={"R2": 1.5})
    base = solve(req, sup, lanes, cfg)
    rng = np.random.default_rng(0)

    def shuffle(df):
        return df.sample(frac=1.0, random_state=rng.integers(1 << 31)).loc[:, rng.permutation(df.columns)]

    for _ in range(3):
        assert_frame_equal(solve(shuffle(req), shuffle(sup), shuffle(lanes), cfg), base)
    # Batch composition (1 item per solver call vs all at once) does not change the answer either.
    for bv in (1, 10**9):
        assert_frame_equal(solve(req, sup, lanes, cfg.model_copy(update={"batch_vars": bv})), base)
    # Coupled partitions (shared DC capacity) are canonical too.
    cap = pd.DataFrame({"dc_id": ["D3", "D1", "D2"], "capacity": [150.0, 200.0, np.nan]})
    coupled = solve(req, sup, lanes, cfg, dc_capacity=cap)
    assert objective(coupled) > objective(base)
    for _ in range(2):
        assert_frame_equal(
            solve(shuffle(req), shuffle(sup), shuffle(lanes), cfg, dc_capacity=shuffle(cap)), coupled
        )
    assert list(base.sort_values(["item_id", "region_id", "dc_id"], na_position="last").index) == list(
        base.index
    )


def test_integer_mode_returns_integers():
    req = req_df([("A", "R1", 10.5), ("A", "R2", 7.3), ("B", "R1", 4.2)])
    sup = sup_df([("A", "D1", 12.0), ("B", "D1", 3.0)])
    lanes = lanes_df([("D1", "R1", 1.0), ("D1", "R2", 1.5)])
    out = solve(req, sup, lanes, AllocationConfig(integer=True))
    assert (out["units"] == out["units"].round()).all()
    assert out["units"].sum() == 15.0  # all integral stock used, fractional rest is shortage
    lp = solve(req, sup, lanes)
    assert objective(out) >= objective(lp) - 1e-9


def test_min_fill_ratio_spreads_scarce_stock():
    req = req_df([("A", "R1", 50.0), ("A", "R2", 50.0)])
    sup = sup_df([("A", "D1", 50.0)])
    lanes = lanes_df([("D1", "R1", 1.0), ("D1", "R2", 1.0)])
    cfg = AllocationConfig(region_priority={"R1": 3.0})
    assert flows(solve(req, sup, lanes, cfg)) == {("D1", "R1"): 50.0}
    fair = solve(req, sup, lanes, cfg.model_copy(update={"min_fill_ratio": 0.4}))
    assert flows(fair) == {("D1", "R1"): 30.0, ("D1", "R2"): 20.0}  # R2 gets its floor 0.4 * 50, R1 the rest


def test_rebalancing_transfers_through_a_neighbour_region():
    # R2 has no lane; D1->R1 is capped at 50 per item. With transfers R2 is served via R1 (1 + 2 per unit),
    # sharing the lane's 50 with R1's own 40, so 10 reach R2 and 20 stay short.
    req = req_df([("A", "R1", 40.0), ("A", "R2", 30.0)])
    sup = sup_df([("A", "D1", 100.0)])
    lanes = lanes_df([("D1", "R1", 1.0, 50.0)])
    plain = solve(req, sup, lanes)
    assert plain.set_index("region_id").loc["R2", "lp_status"] == "no_lane"
    out = solve(req, sup, lanes, AllocationConfig(rebalancing=True, transfer_cost=2.0))
    via = out[out["message"] == "via region 'R1'"]
    assert via[["dc_id", "region_id", "units", "unit_cost"]].values.tolist() == [["D1", "R2", 10.0, 3.0]]
    assert shortages(out) == {"R2": 20.0} and objective(out) < objective(plain)
    # A transfer dearer than the shortage it saves is never used.
    out = solve(req, sup, lanes, AllocationConfig(rebalancing=True, transfer_cost=150.0))
    assert out["message"].eq("").all() and shortages(out) == {"R2": 30.0}


def test_holding_cost_ships_when_leftover_is_dearer():
    # Shipping (5) costs more than the shortage (3) until stock left at the DC costs 4 per unit.
    req = req_df([("A", "R1", 10.0)], shortage_penalty=3.0)
    sup, lanes = sup_df([("A", "D1", 10.0)]), lanes_df([("D1", "R1", 5.0)])
    assert solve(req, sup, lanes)["units"].sum() == 0.0
    assert solve(req, sup, lanes, AllocationConfig(holding_cost=4.0))["units"].sum() == 10.0


@pytest.mark.parametrize(
    ("fake", "status", "message"),
    [
        ({"status": 1, "message": "Time limit reached", "x": None}, "time_limit", "Time limit reached"),
        ({"status": 2, "message": "The problem is infeasible.", "x": None}, "infeasible", "infeasible"),
        (RuntimeError("HiGHS crashed"), "error", "RuntimeError: HiGHS crashed"),
    ],
)
def test_failing_block_only_marks_its_own_item(monkeypatch, fake, status, message):
    import scipy.optimize

    from skuplan.allocation import lp

    def flaky(c, **kw):  # any LP that contains item B's requirement (777) fails
        if 777.0 in kw["b_eq"]:
            if isinstance(fake, Exception):
                raise fake
            return scipy.optimize.OptimizeResult(fake)
        return scipy.optimize.linprog(c, **kw)

    monkeypatch.setattr(lp, "linprog", flaky)
    req = req_df([("A", "R1", 5.0), ("B", "R1", 777.0), ("B", "R2", 3.0), ("C", "R1", 6.0)])
    sup = sup_df([(i, "D1", 1000.0) for i in "ABC"])
    out = solve(req, sup, lanes_df([("D1", "R1", 1.0), ("D1", "R2", 1.0)]))
    bad = out[out["item_id"] == "B"]
    assert bad["lp_status"].eq(status).all() and bad["message"].str.contains(message).all()
    assert bad["shortage_units"].tolist() == [777.0, 3.0] and bad["units"].eq(0).all()
    good = out[out["item_id"] != "B"]
    assert good["lp_status"].eq("optimal").all() and good["units"].tolist() == [5.0, 6.0]


def test_empty_and_zero_requirements():
    out = solve(req_df([("A", "R1", 0.0)]), HAND_SUP, HAND_LANES)
    assert out.empty and list(out.columns) == OUTPUT_COLUMNS
    out = solve(req_df([]).astype({"requirement": float}), HAND_SUP, HAND_LANES)
    assert out.empty


@pytest.mark.parametrize(
    ("req", "sup", "fragment"),
    [
        (HAND_REQ.drop(columns="requirement"), HAND_SUP, "requirements is missing column(s) ['requirement']"),
        (
            HAND_REQ.assign(requirement=[-1.0, 2.0]),
            HAND_SUP,
            "requirements.requirement must be finite and >= 0",
        ),
        (pd.concat([HAND_REQ, HAND_REQ]), HAND_SUP, "requirements has duplicate ['item_id', 'region_id']"),
        (HAND_REQ, HAND_SUP.assign(available=[np.nan, 1.0]), "supply.available must be finite and >= 0"),
        (HAND_REQ.assign(category=["x", "y"]), HAND_SUP, "appear in more than one 'category' partition"),
    ],
)
def test_bad_inputs_fail_with_precise_messages(req, sup, fragment):
    with pytest.raises(ValueError) as exc:
        solve_allocation(req, sup, HAND_LANES, AllocationConfig())
    assert fragment in str(exc.value)


def test_summary_per_region():
    req = pd.concat([HAND_REQ, req_df([("B", "R2", 10.0)])], ignore_index=True)
    out = solve(req, HAND_SUP, HAND_LANES)  # B has no stock anywhere: no_lane, all shortage
    s = allocation_summary(out, req).set_index("region_id")
    assert s.loc["R1"].tolist() == [80.0, 80.0, 0.0, 1.0, 80.0]
    assert s.loc["R2"].tolist() == [80.0, 70.0, 10.0, 0.875, 90.0]


def test_integer_mode_falls_back_to_milp_on_a_fractional_lp(monkeypatch):
    import scipy.optimize

    from skuplan.allocation import lp

    calls = {"milp": 0}

    def fractional_lp(c, **kw):  # pretend the LP vertex is fractional
        res = scipy.optimize.linprog(c, **kw)
        return scipy.optimize.OptimizeResult(res | {"x": res.x + 0.25})

    def counting_milp(*a, **kw):
        calls["milp"] += 1
        return scipy.optimize.milp(*a, **kw)

    monkeypatch.setattr(lp, "linprog", fractional_lp)
    monkeypatch.setattr(lp, "milp", counting_milp)
    req, sup, lanes = random_instance(5, n_items=6)
    out = solve(req, sup, lanes, AllocationConfig(integer=True))
    monkeypatch.undo()
    assert calls["milp"] >= 1 and (out["units"] == out["units"].round()).all()
    assert objective(out) == pytest.approx(objective(solve(req, sup, lanes, AllocationConfig(integer=True))))


def test_exhausted_time_budget_gives_status_rows_not_exceptions():
    out = solve(HAND_REQ, HAND_SUP, HAND_LANES, AllocationConfig(time_limit_s=1e-9))
    assert out["lp_status"].eq("time_limit").all() and out["message"].str.contains("time_limit_s=1e-09").all()
    assert out["shortage_units"].tolist() == [80.0, 70.0] and out["region_id"].tolist() == ["R1", "R2"]


def test_integer_ids_and_priority_keyed_by_string():
    req = req_df([(7, 1, 30.0), (7, 2, 30.0)])
    sup, lanes = sup_df([(7, 10, 40.0)]), lanes_df([(10, 1, 1.0), (10, 2, 1.0)])
    out = solve(req, sup, lanes, AllocationConfig(region_priority={"2": 3.0}))
    assert out["item_id"].tolist() == [7, 7, 7] and flows(out) == {(10, 1): 10.0, (10, 2): 30.0}


def test_violation_checker_catches_broken_outputs():
    out = solve(HAND_REQ, HAND_SUP, HAND_LANES)
    over = out.assign(units=out["units"] * 2)
    problems = allocation_violations(over, HAND_REQ, HAND_SUP)
    assert any("units + shortage != requirement" in p for p in problems)
    assert any("units > available" in p for p in problems)
    assert allocation_violations(out.assign(lp_status=None), HAND_REQ, HAND_SUP) == [
        "null lp_status or message"
    ]
