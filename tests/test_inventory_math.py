"""Textbook inventory math: a published example in, the published number out."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import ndtr
from scipy.stats import norm

from inventory_helpers import one_series
from skuplan.inventory import InventoryConfig, plan_policy
from skuplan.inventory.lot_sizing import eoq, round_order_qty, wagner_whitin, wagner_whitin_batch
from skuplan.inventory.safety_stock import (
    normal_loss,
    sigma_ltd,
    undershoot_moments,
    z_for_csl,
    z_for_fill_rate,
)

# The textbook normal model (and the old SS >= 0 clamp) these tests check by hand; the exact discrete levels,
# the default, are checked in test_inventory_exact.py.
NORMAL = {"level_model": "normal", "z_min": 0.0}


def test_safety_stock_textbook_example():
    # d=100/day, sd=30, L=5, sL=1.5, CSL 95%: sigma_LTD = sqrt(5*900 + 100^2*2.25) = 164.3.
    s = sigma_ltd(100, 30, 5, 1.5)
    assert s == pytest.approx(164.317, abs=1e-3)
    assert z_for_csl(0.95) * s == pytest.approx(270.3, abs=0.05)
    plan = plan_policy(one_series(), InventoryConfig(undershoot="none", **NORMAL)).iloc[0]
    assert plan.sigma_ltd == pytest.approx(164.3, abs=0.05)
    assert plan.safety_stock == pytest.approx(270.3, abs=0.05)
    assert plan.reorder_point == pytest.approx(770.3, abs=0.05)
    assert plan.method == "normal" and plan.status == "ok"


def test_lead_time_sigma_enters_squared():
    # sqrt(6*25 + 50^2*2^2) = 100.7; the "^ as xor" bug some packages ship gives 71.8.
    assert sigma_ltd(50, 5, 6, 2) == pytest.approx(100.747, abs=1e-3)
    assert sigma_ltd(50, 5, 6, 2) != pytest.approx(71.8, abs=1)


def test_normal_loss_published_value_and_identities():
    assert normal_loss(1.3) == pytest.approx(0.045528, abs=5e-7)  # standard normal loss table
    assert normal_loss(0.0) == pytest.approx(norm.pdf(0.0))
    z = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(normal_loss(-z), z + normal_loss(z), atol=1e-12)


def test_fill_rate_z_textbook_and_matches_brentq():
    z = z_for_fill_rate(0.98, 500, 164.3)
    assert float(z) == pytest.approx(1.160, abs=5e-4)
    assert ndtr(z) == pytest.approx(0.877, abs=1e-3)  # the CSL that this z gives is much lower
    betas = np.array([0.8, 0.9, 0.95, 0.99, 0.999])
    got = z_for_fill_rate(betas, 400.0, 120.0)
    for b, zz in zip(betas, got, strict=True):
        ref = brentq(lambda x, b=b: normal_loss(x) - (1 - b) * 400.0 / 120.0, -10, 10, xtol=1e-12)
        assert zz == pytest.approx(ref, abs=1e-8)


def test_fill_rate_extremes_clamp():
    # beta so high that z would be huge: capped at z_max and flagged in the plan.
    assert float(z_for_fill_rate(0.9999999999, 1.0, 1000.0, z_max=5.0)) == 5.0
    plan = plan_policy(
        one_series(service_type="fill_rate", service_level=0.9999999999, order_cost=0.01),
        InventoryConfig(**NORMAL),
    ).iloc[0]
    assert plan.z_capped and plan.z == 5.0 and "z_max" in plan.message
    # beta so low that z < 0: safety stock clamped at 0, never negative.
    assert float(z_for_fill_rate(0.5, 5000.0, 100.0)) < 0
    low = plan_policy(
        one_series(service_type="fill_rate", service_level=0.5), InventoryConfig(**NORMAL)
    ).iloc[0]
    assert low.safety_stock == 0.0 and low.z == 0.0
    assert low.expected_fill_rate > 0.5  # SS = 0 over-delivers, and the plan says so


def test_lost_sales_fill_rate_uses_served_units_per_cycle():
    # With lost sales, (1 - beta) Q / beta units may be short per cycle (Silver, Pyke & Peterson).
    z_b = z_for_fill_rate(0.9, 500, 164.3)
    z_l = z_for_fill_rate(0.9, 500, 164.3, lost_sales=True)
    assert normal_loss(z_l) == pytest.approx(0.1 / 0.9 * 500 / 164.3, rel=1e-9)
    assert z_l < z_b


def test_eoq_textbook():
    assert eoq(1200, 100, 2.4) == pytest.approx(316.23, abs=0.01)
    assert eoq(0, 100, 2.4) == 0.0
    assert np.isnan(eoq(1200, 100, 0.0))


def test_pack_and_moq_rounding():
    got = round_order_qty([0, 1, 13, 24, 25, 5, 101], [0, 10, 0, 0, 0, 7, 100], [1, 1, 12, 12, 12, 6, 1])
    np.testing.assert_array_equal(got, [0, 10, 24, 24, 36, 12, 101])
    # float noise must not add a pack: 36.000000001 units of 12-packs stays 36
    assert round_order_qty(36.000000001, 0, 12) == 36


def test_zero_demand_gives_zero_safety_stock():
    plan = plan_policy(one_series(mean_daily_demand=0.0, sigma_daily=3.0), InventoryConfig()).iloc[0]
    assert plan.safety_stock == 0.0 and plan.reorder_point == 0.0
    assert plan.order_qty_policy == 0.0 and plan.expected_cost_per_day == 0.0


def test_undershoot_of_constant_demand_is_uniform():
    # Constant demand m per review: the position lands uniformly in (s - m, s], mean m/2, var m^2/12.
    mean, var = undershoot_moments(10.0, 0.0, 1.0)
    assert mean == pytest.approx(5.0) and var == pytest.approx(100 / 12)
    assert undershoot_moments(0.0, 3.0, 1.0) == (0.0, 0.0)


def test_wagner_whitin_original_1958_example():
    # Wagner & Whitin (1958), Management Science 5(1):89-96, 12-month example: h = 1/unit/month,
    # set-up costs vary by month; published optimum 864, orders in months 1, 3, 5, 8, 10, 11.
    demand = [69, 29, 36, 61, 61, 26, 34, 67, 45, 67, 79, 56]
    setup = [85, 102, 102, 101, 98, 114, 105, 86, 119, 110, 98, 114]
    plan, cost = wagner_whitin(demand, setup, 1.0)
    assert cost == pytest.approx(864.0)
    np.testing.assert_array_equal(np.flatnonzero(plan) + 1, [1, 3, 5, 8, 10, 11])
    assert plan.sum() == sum(demand)


def _brute_force(demand, k, h):
    best = np.inf
    for pattern in itertools.product([0, 1], repeat=len(demand) - 1):
        starts = [0] + [i + 1 for i, p in enumerate(pattern) if p]
        cost = 0.0
        for a, b in zip(starts, starts[1:] + [len(demand)], strict=True):
            cost += (k if sum(demand[a:b]) > 0 else 0) + sum(h * (t - a) * demand[t] for t in range(a, b))
        best = min(best, cost)
    return best


def test_wagner_whitin_matches_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(20):
        demand = list(rng.integers(0, 60, 6) * (rng.random(6) < 0.8))
        k, h = float(rng.uniform(20, 200)), float(rng.uniform(0.2, 3))
        _, cost = wagner_whitin(demand, k, h)
        assert cost == pytest.approx(_brute_force(demand, k, h))


def test_wagner_whitin_batch_matches_single():
    rng = np.random.default_rng(7)
    dem = rng.integers(0, 80, (50, 8)) * (rng.random((50, 8)) < 0.8)
    k, h = rng.uniform(20, 300, 50), rng.uniform(0.1, 3, 50)
    first, cost = wagner_whitin_batch(dem, k, h)
    for i in range(50):
        plan, c = wagner_whitin(dem[i], k[i], h[i])
        assert cost[i] == pytest.approx(c)
        nz = plan[plan > 0]
        assert first[i] == pytest.approx(nz[0] if nz.size else 0.0)


def test_negative_safety_factor_only_when_allowed():
    row = one_series(service_type="fill_rate", service_level=0.9)
    clamped = plan_policy(row, InventoryConfig(undershoot="none", **NORMAL)).iloc[0]
    free = plan_policy(row, InventoryConfig(undershoot="none", level_model="normal", z_min=-5.0)).iloc[0]
    assert clamped.safety_stock == 0.0 and clamped.expected_fill_rate > 0.9
    assert free.z < 0 and free.reorder_point < 500.0
    assert free.expected_fill_rate == pytest.approx(0.9, abs=1e-9)
