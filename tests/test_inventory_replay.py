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


def test_integer_start_is_uniform_on_the_whole_positions_above_s():
    # sQ, s = 10.4, Q = 20: the stationary position of (s, Q) under integer demand is uniform on 11 .. 30.
    n = 2000
    plan = pd.concat([levels(reorder_point=10.4)] * n, ignore_index=True)
    plan["item_id"] = [f"i{k}" for k in range(n)]
    m, path = simulate(np.zeros((n, 1)), plan, InventoryConfig(), record=True)
    start = path["on_hand"][:, 0]
    assert np.array_equal(start, np.round(start)) and start.min() == 11 and start.max() == 30
    counts = np.bincount(start.astype(int) - 11, minlength=20)
    # 100 expected per value; binomial sd ~9.7: every count within 5 sd, chi-square below its 99.9% point (43.8)
    assert np.all(np.abs(counts - 100) < 50) and ((counts - 100) ** 2 / 100).sum() < 43.8
    # RS / sS start at ceil(S); the old fractional start stays available to compare
    rs = simulate(np.zeros((1, 1)), levels(policy="RS", order_up_to=30.2), InventoryConfig(), record=True)[1]
    assert rs["on_hand"][0, 0] == 31
    old = InventoryConfig(replay={"initial_stock": "rop_plus_half_q"})
    assert (
        simulate(np.zeros((1, 1)), levels(reorder_point=10.4), old, record=True)[1]["on_hand"][0, 0] == 20.4
    )


def _base_stock_fill(level: float, d: float, lead: int) -> float:
    """Exact fill rate of daily-reviewed base stock `level` with Poisson(d) days and lead time `lead`: the stock
    at the start of a day is level - D_L (D_L ~ Poisson(d L), the L days since the order that closes it), and
    the day serves min((level - D_L)+, X), X ~ Poisson(d)."""
    from scipy.stats import poisson

    k, x = np.arange(80), np.arange(80)
    on_hand = np.maximum(level - k, 0.0)
    served = np.minimum(on_hand[:, None], x[None, :])
    return float((poisson.pmf(k, d * lead)[:, None] * poisson.pmf(x, d)[None, :] * served).sum() / d)


def test_integer_start_meets_the_exact_poisson_fill_rate_the_fractional_start_missed():
    # Poisson d = 2, L = 4, sQ with s = 12, Q = 1 is base stock 13: the integer start puts the position at 13
    # (uniform on 13 .. 13); the old s + Q/2 start left it at 12.5 for good (whole-unit orders keep the .5).
    rng = np.random.default_rng(3)
    n, days = 200, 400
    demand = rng.poisson(2.0, (n, days)).astype(float)
    plan = pd.concat([levels(reorder_point=12.0, order_qty_policy=1.0, order_up_to=13.0, mean_daily_demand=2.0,
                             lead_time_days=4.0)] * n, ignore_index=True)  # fmt: skip
    plan["item_id"] = [f"p{k}" for k in range(n)]
    fill = {}
    for start in ("auto", "rop_plus_half_q"):
        m, _ = simulate(demand, plan, InventoryConfig(replay={"warmup_days": 20, "initial_stock": start}))
        fill[start] = m["served"].sum() / m["demand"].sum()
    exact_13, exact_12_5 = _base_stock_fill(13.0, 2.0, 4), _base_stock_fill(12.5, 2.0, 4)
    # 76,000 scored days: the pooled fill rate's sd is ~0.1 pp; the two exact figures are 3.6 pp apart
    assert fill["auto"] == pytest.approx(exact_13, abs=0.005)
    assert fill["rop_plus_half_q"] == pytest.approx(exact_12_5, abs=0.005)


def test_rolling_origin_replans_from_the_data_available_then():
    # 400 days at 10/day, then 20/day from hold-out day 50; weekly re-plans, 28-day trailing mean (smooth).
    units = [10.0] * (400 - 182 + 50) + [20.0] * (182 - 50)
    items = pd.DataFrame({"item_id": ["a"], "unit_cost": 5.0, "holding_rate": 0.25, "order_cost": 30.0,
                          "lead_time_days": 3.0, "lead_time_std_days": 0.0, "service_level": 0.95,
                          "service_type": "csl", "moq": 1.0, "pack_size": 1.0})  # fmt: skip
    cfg = InventoryConfig(
        policy="sQ", replay={"holdout_days": 182, "fit_window_days": 182, "replan_every_days": 7}
    )
    res = replay_holdout(as_batch(history({"a": units})), items, cfg)
    assert sorted(res.replans) == list(range(7, 182, 7)) and res.metrics["replans"].iloc[0] == 26
    d = {t: p["mean_daily_demand"].iloc[0] for t, p in res.replans.items()}
    assert res.plan["mean_daily_demand"].iloc[0] == 10.0 and d[49] == 10.0  # day 49 sees days before 49 only
    assert d[56] == pytest.approx((22 * 10 + 6 * 20) / 28) and d[84] == 20.0
    by_type = res.by_service_type.iloc[0]
    assert by_type["service_type"] == "csl" and by_type["target"] == 0.95
    assert by_type["promised"] == pytest.approx(res.metrics["expected_csl"].iloc[0])
    assert by_type["gap_pp"] == pytest.approx(100 * (res.metrics["csl"].iloc[0] - 0.95))


def test_rolling_stats_follow_a_yearly_swing_with_last_years_change():
    from skuplan.inventory.replay_stats import rolling_stats

    # Exactly periodic (52 weeks) swing, 800 days; sQ, L = 7 -> P = 7, smooth -> trailing window w = 28.
    t = np.arange(800)
    swing = 20 + 10 * np.sin(2 * np.pi * t / 364)
    flat = np.full(800, 20.0)
    flat[::2] += 2.0  # no yearly change: last year's ratio only adds error, the trailing mean stays
    base = pd.DataFrame({"item_id": ["s", "f"], "region_id": "r", "unit_cost": 5.0, "lead_time_days": 7.0})
    cfg = InventoryConfig(policy="sQ")
    stats = rolling_stats(np.stack([swing, flat]), base, cfg)
    # seasonal: trailing mean x (last year's mean of the 28 days centred on the interval / of the 28 days before
    # the origin); periodic, so the latter is the trailing mean itself: d = mean of days 800-364-11 .. +28
    start = 800 - 364 + round((7 - 28) / 2)
    assert stats["mean_daily_demand"].iloc[0] == pytest.approx(swing[start : start + 28].mean())
    assert stats["mean_daily_demand"].iloc[1] == pytest.approx(flat[-28:].mean())


def test_rolling_sigma_never_below_the_iid_error_of_the_trailing_mean():
    from skuplan.inventory.replay_stats import rolling_stats

    # i.i.d. days of variance v: a 28-day trailing mean forecasting the next 7 days errs by sqrt(7 v (1 + 7/28))
    # (the 7 days' own noise plus the mean's), brute force on 100k independent windows within 1 %.
    rng = np.random.default_rng(5)
    days = rng.gamma(2.0, 5.0, (100_000, 35))  # v = 2 * 5^2 = 50
    err = days[:, 28:].sum(axis=1) - 7 * days[:, :28].mean(axis=1)
    assert np.sqrt(np.mean(err**2)) == pytest.approx(np.sqrt(7 * 50 * (1 + 7 / 28)), rel=0.01)
    # A weekly pattern makes every 7-day sum equal: the measured error is 0, a sampling accident of a few
    # independent origins for demand the floor cannot tell from i.i.d.; the plan's daily sigma is the floor.
    week = np.tile([5.0, 10, 15, 20, 25, 30, 35], 60)
    base = pd.DataFrame({"item_id": ["w"], "region_id": "r", "unit_cost": 5.0, "lead_time_days": 7.0})
    cfg = InventoryConfig(policy="sQ")
    stats = rolling_stats(week[None, :], base, cfg)
    fit = week[-cfg.replay.fit_window_days :]
    assert stats["sigma_daily"].iloc[0] == pytest.approx(np.std(fit, ddof=1) * np.sqrt(1 + 7 / 28), rel=1e-9)
