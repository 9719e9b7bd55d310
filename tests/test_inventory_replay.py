"""Replay simulation: deterministic demand reproduces hand-computed inventory paths day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inventory_helpers import as_batch, history
from skuplan.inventory import InventoryConfig
from skuplan.inventory.replay import replay_holdout, simulate


def levels(**kw) -> pd.DataFrame:
    row = dict(item_id="i", region_id="r", status="ok", policy="sQ", method="normal", demand_class="smooth",
               segment="AX", service_type="fill_rate", service_level=0.95, expected_fill_rate=0.95,
               expected_csl=0.9, reorder_point=10.0, order_up_to=30.0, order_qty_policy=20.0, moq=1.0,
               pack_size=1.0, mean_daily_demand=4.0, review_days=1.0, lead_time_days=2.0,
               lead_time_std_days=0.0, unit_cost=1.0, holding_rate=0.365, order_cost=5.0)  # fmt: skip
    row.update(kw)
    return pd.DataFrame([row])


def run(demand, plan, cfg=None, start=22.0):
    cfg = cfg or InventoryConfig()
    return simulate(
        np.array([demand], dtype=float), plan, cfg, initial_on_hand=np.array([start]), record=True
    )


def test_sq_constant_demand_path():
    # s=10, Q=20, L=2, 4/day from 22 on hand. Day order: serve, receive (end of day), review.
    # t2: 10 <= s -> order 20, lands end of t4; t7 likewise -> t9.
    m, path = run([4] * 10, levels())
    np.testing.assert_array_equal(path["on_hand"][0], [18, 14, 10, 6, 22, 18, 14, 10, 6, 22])
    np.testing.assert_array_equal(np.flatnonzero(path["order"][0]), [2, 7])
    np.testing.assert_array_equal(np.flatnonzero(path["receipt"][0]), [4, 9])
    r = m.iloc[0]
    assert r.fill_rate == 1.0 and r.n_orders == 2 and r.cycles == 1 and r.csl == 1.0
    assert r.avg_on_hand == pytest.approx(14.0)
    # holding 0.365/yr on cost 1 = 0.001/unit/day: 140 unit-days -> 0.14; 2 orders x 5
    assert r.holding_cost == pytest.approx(0.14) and r.ordering_cost == 10.0


def test_sq_spike_backorders_then_recovers():
    # t3 demand 12 with 10 on hand: 2 backordered; t4: 4 more short, the receipt of 20 clears 6 -> 14.
    m, path = run([4, 4, 4, 12, 4, 4, 4, 4], levels())
    np.testing.assert_array_equal(path["on_hand"][0], [18, 14, 10, 0, 14, 10, 6, 22])
    np.testing.assert_array_equal(path["backorders"][0], [0, 0, 0, 2, 0, 0, 0, 0])
    np.testing.assert_array_equal(path["short"][0], [0, 0, 0, 2, 4, 0, 0, 0])
    np.testing.assert_array_equal(np.flatnonzero(path["order"][0]), [2, 5])
    r = m.iloc[0]
    assert r.fill_rate == pytest.approx(34 / 40) and r.backordered_units == 6 and r.lost_units == 0
    assert r.cycles == 1 and r.csl == 1.0  # the stockouts fell in the warm-start cycle, not scored


def test_sq_spike_lost_sales():
    m, path = run([4, 4, 4, 12, 4, 4, 4, 4], levels(), InventoryConfig(shortage_mode="lost_sales"))
    np.testing.assert_array_equal(path["on_hand"][0], [18, 14, 10, 0, 20, 16, 12, 8])
    np.testing.assert_array_equal(np.flatnonzero(path["order"][0]), [2, 7])
    assert m.iloc[0].lost_units == 6 and m.iloc[0].backordered_units == 0


def test_rs_reviews_every_r_days():
    # R=3, S=30, L=2, 5/day from 30: reviews t0, t3, t6 order S - position.
    plan = levels(policy="RS", reorder_point=30.0, order_up_to=30.0, review_days=3.0, mean_daily_demand=5.0)
    _, path = run([5] * 9, plan, start=30.0)
    np.testing.assert_array_equal(path["order"][0], [5, 0, 0, 15, 0, 0, 15, 0, 0])
    np.testing.assert_array_equal(path["on_hand"][0], [25, 20, 20, 15, 10, 20, 15, 10, 20])


def test_stockout_cycle_counted():
    # Second cycle (t5..t9) runs out on t8: 1 of 1 scored cycles has a stockout.
    plan = levels(reorder_point=6.0)
    m, path = run([4, 4, 4, 4, 4, 4, 4, 9, 9, 4, 4, 4, 4, 4], plan)
    r = m.iloc[0]
    assert r.cycles >= 1 and r.stockout_cycles >= 1 and r.csl < 1.0
    assert r.fill_rate == pytest.approx(path["served"][0].sum() / 66)


def test_replay_holdout_on_stationary_series_meets_model():
    rng = np.random.default_rng(5)
    units = {f"s{i}": list(np.round(rng.gamma(16, 20 / 16, 420))) for i in range(30)}
    hist = history(units)
    items = pd.DataFrame({"item_id": list(units), "unit_cost": 5.0, "holding_rate": 0.25, "order_cost": 30.0,
                          "lead_time_days": 4.0, "lead_time_std_days": 0.0, "service_level": 0.95,
                          "service_type": "csl", "moq": 1.0, "pack_size": 1.0})  # fmt: skip
    cfg = InventoryConfig(policy="RS", replay={"holdout_days": 182, "fit_window_days": 182})
    res = replay_holdout(as_batch(hist), items, cfg)
    assert len(res.metrics) == 30 and set(res.by_class["demand_class"]) == {"smooth"}
    pooled = res.by_policy.iloc[0]
    assert pooled["csl"] == pytest.approx(0.95, abs=0.03)  # ~780 cycles: binomial sd ~0.8 pp
