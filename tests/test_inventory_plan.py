"""plan_policy contract: columns, invalid rows, policy levels, sigma sources, empirical methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from inventory_helpers import history as _history
from inventory_helpers import history_for, one_series
from skuplan.inventory import PLAN_COLUMNS, InventoryConfig, plan_policy
from skuplan.inventory import empirical as emp
from skuplan.inventory.lot_sizing import extend_with_tail, wagner_whitin
from skuplan.inventory.safety_stock import sigma_ltd, z_for_csl

# The textbook normal model (and the old SS >= 0 clamp) these tests check by hand; the exact discrete levels,
# the default, are checked in test_inventory_exact.py.
NORMAL = {"level_model": "normal", "z_min": 0.0}


def test_output_columns_and_invalid_rows_are_kept_with_reasons():
    df = pd.concat(
        [
            one_series(item_id="ok"),
            one_series(item_id="neg", mean_daily_demand=-1.0),
            one_series(item_id="sl", service_level=1.2),
            one_series(item_id="h0", holding_rate=0.0),
            one_series(item_id="st", service_type="weird"),
        ],
        ignore_index=True,
    )
    plan = plan_policy(df, InventoryConfig())
    assert list(plan.columns) == list(PLAN_COLUMNS)
    assert list(plan["status"]) == ["ok", "invalid", "invalid", "invalid", "invalid"]
    msg = dict(zip(plan.item_id, plan.message, strict=True))
    assert "mean_daily_demand" in msg["neg"] and "service_level" in msg["sl"]
    assert "holding" in msg["h0"] and "service_type" in msg["st"]
    assert plan.loc[plan.status == "invalid", "reorder_point"].isna().all()


def test_missing_required_column_is_named():
    with pytest.raises(ValueError, match="lead_time_days"):
        plan_policy(one_series().drop(columns=["lead_time_days"]), InventoryConfig())


def test_periodic_review_uses_l_plus_r():
    cfg = InventoryConfig(policy="RS", review_period_days=7, **NORMAL)
    p = plan_policy(one_series(), cfg).iloc[0]
    sig = sigma_ltd(100, 30, 12, 1.5)
    assert p.sigma_ltd == pytest.approx(sig)
    assert p.safety_stock == pytest.approx(z_for_csl(0.95) * sig)
    assert p.order_up_to == pytest.approx(100 * 12 + p.safety_stock)
    assert p.reorder_point == p.order_up_to  # RS orders at every review below S
    assert p.cycle_qty == pytest.approx(700.0)


def test_ss_policy_textbook_and_with_undershoot():
    textbook = plan_policy(one_series(), InventoryConfig(policy="sS", undershoot="none", **NORMAL)).iloc[0]
    assert textbook.reorder_point == pytest.approx(1200 + z_for_csl(0.95) * sigma_ltd(100, 30, 12, 1.5))
    assert textbook.order_up_to == pytest.approx(textbook.reorder_point + textbook.order_qty_policy)
    # (s, S) restarts at S after each order: the undershoot is that of a walk of weekly demands
    # N(700, 7 * 30^2) started S - s = Q above s. Check the Wald-based mean against a direct simulation.
    renewal = plan_policy(one_series(), InventoryConfig(policy="sS", **NORMAL)).iloc[0]
    q = renewal.order_qty_policy
    walk = np.cumsum(np.random.default_rng(0).normal(700.0, np.sqrt(7 * 900.0), (100_000, 12)), axis=1)
    crossing = walk[np.arange(len(walk)), np.argmax(walk >= q, axis=1)]
    assert renewal.undershoot == pytest.approx((crossing - q).mean(), abs=2.0)
    assert renewal.protection_days == 5.0
    assert renewal.reorder_point == pytest.approx(500 + renewal.undershoot + renewal.safety_stock)
    assert renewal.cycle_qty == pytest.approx(q + renewal.undershoot)


def test_sq_undershoot_adds_mean_and_variance():
    p = plan_policy(one_series(), InventoryConfig(**NORMAL)).iloc[0]
    e_u = (900 + 100**2) / 200
    assert p.undershoot == pytest.approx(e_u)
    assert p.sigma_protection > p.sigma_ltd
    assert p.reorder_point == pytest.approx(500 + e_u + z_for_csl(0.95) * p.sigma_protection)


def test_segment_service_level_overrides_item_and_auto_policy():
    df = pd.concat(
        [one_series(item_id="a", segment="AX"), one_series(item_id="c", segment="CX"),
         one_series(item_id="n", segment=None, demand_class="lumpy")], ignore_index=True,
    )  # fmt: skip
    cfg = InventoryConfig(policy="auto", segment_service_levels={"AX": 0.99}, empirical_method="normal")
    plan = plan_policy(df, cfg).set_index("item_id")
    assert plan.loc["a", "service_level"] == 0.99 and plan.loc["c", "service_level"] == 0.95
    assert (
        plan.loc["a", "policy"] == "sQ"
        and plan.loc["c", "policy"] == "RS"
        and plan.loc["n", "policy"] == "sS"
    )


def test_sigma_source_order_and_poisson_fallback():
    df = pd.concat(
        [one_series(item_id="fe", sigma_daily=30.0, sigma_demand_daily=50.0),
         one_series(item_id="dm", sigma_daily=np.nan, sigma_demand_daily=50.0),
         one_series(item_id="po", sigma_daily=np.nan, sigma_demand_daily=np.nan)], ignore_index=True,
    )  # fmt: skip
    p = plan_policy(df, InventoryConfig()).set_index("item_id")
    assert list(p.sigma_source) == ["forecast_error", "demand", "poisson"]
    assert list(p.sigma_daily) == [30.0, 50.0, 10.0]
    assert "Poisson" in p.loc["po", "message"]
    d = plan_policy(df, InventoryConfig(sigma_source="demand")).set_index("item_id")
    assert d.loc["fe", "sigma_daily"] == 50.0


def test_negbin_with_poisson_moments_is_the_poisson_quantile():
    # variance == mean -> Poisson; sQ empirical protection = L + one review day.
    row = one_series(
        mean_daily_demand=0.5, sigma_daily=np.sqrt(0.5), lead_time_std_days=0.0, demand_class="lumpy"
    )
    p = plan_policy(row, InventoryConfig(empirical_method="negbin", **NORMAL)).iloc[0]
    assert p.method == "negbin" and p.protection_days == 6.0
    assert p.reorder_point == stats.poisson.ppf(0.95, 3.0)
    assert p.safety_stock == pytest.approx(p.reorder_point - 3.0)


def test_negbin_loss_matches_direct_sum():
    mean, var = 4.0, 12.0
    r, p = emp._negbin_params(np.array([mean]), np.array([var]))
    x = np.arange(0, 400)
    pmf = stats.nbinom.pmf(x, r[0], p[0])
    for s in (0, 2, 3.5, 7, 15):
        direct = (np.maximum(x - s, 0) * pmf).sum()
        assert float(emp.negbin_loss(np.array([s]), np.array([mean]), r, p)[0]) == pytest.approx(
            direct, abs=1e-9
        )


def test_empirical_fill_level_is_exact():
    x = np.array([[0.0, 0.0, 0.0, 5.0, 10.0, 30.0]])
    for target in (0.5, 2.0, 4.0, 7.5):
        s = emp.empirical_fill_level(x, np.array([target]))[0]
        assert np.maximum(x - s, 0).mean() == pytest.approx(target)
    assert emp.empirical_csl_level(x, np.array([0.5]))[0] == 0.0
    assert emp.empirical_csl_level(x, np.array([0.9]))[0] == 30.0


def test_bootstrap_constant_history_and_batch_independence():
    cfg = InventoryConfig(bootstrap_samples=500, **NORMAL)
    # Constant 2/day, fixed lead time: every resampled protection demand is exactly 2 * (L + 1).
    hist = _history({"i1": [2.0] * 100})
    row = one_series(mean_daily_demand=2.0, sigma_daily=0.0, lead_time_std_days=0.0, demand_class="lumpy")
    p = plan_policy(row, cfg, history=history_for(row, hist)).iloc[0]
    assert p.method == "bootstrap" and p.reorder_point == pytest.approx(12.0) and p.safety_stock == 0.0

    rng = np.random.default_rng(0)
    lumpy = list((rng.random(200) < 0.2) * rng.integers(1, 20, 200) * 1.0)
    other = list((rng.random(200) < 0.3) * rng.integers(1, 5, 200) * 1.0)
    hist = _history({"i1": lumpy, "i2": other})
    mk = {"mean_daily_demand": np.mean(lumpy), "sigma_daily": np.nan, "demand_class": "lumpy"}
    alone = plan_policy(one_series(**mk), cfg, history=history_for(one_series(**mk), hist)).iloc[0]
    batch = pd.concat(
        [one_series(item_id="i2", mean_daily_demand=1.0, demand_class="lumpy"), one_series(**mk)]
    )
    together = plan_policy(batch, cfg, history=history_for(batch, hist)).set_index("item_id").loc["i1"]
    assert alone.method == "bootstrap"
    assert together.reorder_point == alone.reorder_point  # same draws whichever batch it lands in
    again = plan_policy(one_series(**mk), cfg, history=history_for(one_series(**mk), hist)).iloc[0]
    assert again.reorder_point == alone.reorder_point


def test_bootstrap_falls_back_to_negbin_without_history():
    p = plan_policy(one_series(mean_daily_demand=1.0, demand_class="lumpy"), InventoryConfig()).iloc[0]
    assert p.method == "negbin"


def test_stochastic_rounding_keeps_the_mean_lead_time():
    keys = emp.series_keys(["a"], ["b"], 1)
    u1, u2 = emp.uniforms(keys, 1, (20000,)), emp.uniforms(keys, 2, (20000,))
    lt = emp.draw_lead_times(4.3, 0.0, u1, u2)
    assert set(np.unique(lt)) == {4.0, 5.0} and lt.mean() == pytest.approx(4.3, abs=0.02)


def test_wagner_whitin_lot_where_ordering_cost_dominates():
    # K large vs holding: EOQ covers many weekly buckets -> Wagner-Whitin on the forecast, here lumpy weeks
    # (70, 0, 70, 0, ...): with K = 30 and h = 0.24/365*7 per unit-week the first lot, by brute force over the
    # lot lengths of the 8-week path continued by its mean week (rolling horizon), is returned.
    row = one_series(mean_daily_demand=5.0, sigma_daily=3.0, order_cost=30.0, unit_cost=1.0)
    yhat = np.tile(np.r_[[10.0] * 7, [0.0] * 7], 4)
    fc = pd.DataFrame({"item_id": "i1", "region_id": "r1", "date": pd.date_range("2025-01-01", periods=56),
                       "yhat": yhat})  # fmt: skip
    p = plan_policy(row, InventoryConfig(), forecast=fc).iloc[0]
    h_week = 0.24 / 365 * 7
    weeks = extend_with_tail(np.tile([70.0, 0.0], 4)[None, :], 30.0, h_week)[0]
    # continued by the mean week (35) for 4 EOQ covers + 2: EOQ = sqrt(2 * 30 * 35 / h) = 19.3 weeks -> 80 weeks
    assert len(weeks) == 80 and (weeks[8:] == 35.0).all()
    plan, _ = wagner_whitin(weeks, 30.0, h_week)
    assert p.lot_sizing == "wagner_whitin" and p.order_qty_policy == pytest.approx(plan[plan > 0][0])
    plain = plan_policy(row, InventoryConfig(lot_sizing={"method": "eoq"}), forecast=fc).iloc[0]
    assert plain.lot_sizing == "eoq" and plain.order_qty_policy == np.ceil(plain.eoq)
