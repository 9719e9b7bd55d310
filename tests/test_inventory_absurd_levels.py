"""Absurd levels of a series whose forecast collapsed (10k-series scale run, 2026-01-01/02), pure numpy/pandas.

Two erratic sQ series had sold for two years (window mean 14.1 and 7.1 units/day) and stopped; the forecast fell to
~0.005/day while the demand sigma (17.75, 6.29) and the error profile stayed those of the selling years. The plan
gave s = 5.0e8 (CSL row, its own expected CSL 6e-18) and s = -2.1e6 (fill row): the undershoot E[X^2] / 2 E[X] of a
day with the old variance at the new rate was ~30 000 units, and _level_error_terms turned the old absolute level
error into a relative one of t^2 ~ 1e7. The inputs below are the run's (stats, item master, the forecast's weekly
pattern); for these non-sparse rows the plan reads only the mean of the history window, so the history is that
mean on each of the 365 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skuplan.inventory import InventoryConfig, alerts, plan_policy, replenishment
from skuplan.inventory.plan import _beyond_sane_bound, _read_inputs
from skuplan.inventory.plan_discrete import _level_error_terms
from skuplan.inventory.plan_normal import Levels
from skuplan.inventory.safety_stock import day_sd_at_rate

CFG = InventoryConfig()
STOPPED = {  # SKU01859/R02 on 2026-01-02: CSL 0.9
    "stats": dict(item_id="SKU01859", region_id="R02", sigma_daily=0.0, demand_class="erratic",
                  err_sigma_1d=32.538003316, err_sum_exponent=0.598161395, sigma_demand_daily=17.753720618933478,
                  segment="CY", unit_cost=4.77, holding_rate=0.254, order_cost=137.07, lead_time_days=3.7,
                  lead_time_std_days=0.73, service_level=0.9, service_type="csl", moq=48.0, pack_size=12.0),
    "week": [0.004297, 0.006502, 0.005515, 0.003575, 0.004429, 0.003443, 0.003874],
    "start": "2026-01-02",
    "window_mean": 5149 / 365,
}  # fmt: skip
STOPPED_FILL = {  # SKU00938/R02 on 2026-01-01: fill rate 0.9
    "stats": dict(item_id="SKU00938", region_id="R02", sigma_daily=0.0, demand_class="erratic",
                  err_sigma_1d=5.30841112, err_sum_exponent=0.621726459, sigma_demand_daily=6.287841934598105,
                  segment="CY", unit_cost=20.85, holding_rate=0.221, order_cost=226.25, lead_time_days=9.5,
                  lead_time_std_days=0.82, service_level=0.9, service_type="fill_rate", moq=2.0, pack_size=1.0),
    "week": [0.00195, 0.002275, 0.002444, 0.002529, 0.001654, 0.001696, 0.001809],
    "start": "2026-01-01",
    "window_mean": 2600 / 365,
}  # fmt: skip


def _plan(case: dict, cfg: InventoryConfig = CFG) -> pd.Series:
    yhat = np.tile(case["week"], 4)
    stats = pd.DataFrame([{**case["stats"], "mean_daily_demand": yhat.mean()}])
    dates = pd.date_range(case["start"], periods=len(yhat), freq="D")
    forecast = pd.DataFrame(dict(item_id=stats["item_id"][0], region_id="R02", date=dates, yhat=yhat))
    history = np.full((1, cfg.bootstrap_window_days), case["window_mean"])
    return plan_policy(stats, cfg, history=history, forecast=forecast).iloc[0]


def _scale(case: dict) -> float:
    """d L + u_max + sigma_L by hand: u_max = (sd^2 + m^2) / 2 m is the largest mean undershoot the history's days
    give at any rate below m (made rarer, E[X^2] / E[X] = (sd^2 + m^2) / m); sigma_L = sigma_1 L^gamma."""
    s, m = case["stats"], case["window_mean"]
    d_l = np.mean(case["week"]) * s["lead_time_days"]
    u_max = (s["sigma_demand_daily"] ** 2 + m**2) / (2 * m)
    return d_l + u_max + s["err_sigma_1d"] * s["lead_time_days"] ** s["err_sum_exponent"]


@pytest.mark.parametrize(
    ("case", "target"), [(STOPPED, "expected_csl"), (STOPPED_FILL, "expected_fill_rate")]
)
def test_a_stopped_series_gets_a_level_of_its_own_scale(case, target):
    # scale by hand: 0.0167 + 18.22 + 71.17 = 89.4 (CSL row); 0.0196 + 6.34 + 21.52 = 27.9 (fill row)
    row = _plan(case)
    assert row["status"] == "ok"
    # before the fix: 5.0e8 and -2.1e6; a level within the plan's own scale (z <= 5 of a spread ~ the scale)
    assert 0 < row["reorder_point"] < 5 * _scale(case)
    assert 0 < row["safety_stock"] < 5 * _scale(case)
    # the level is the law's smallest meeting the target, one unit of which moves the service by < 2 pp; before
    # the fix the CSL row's own law gave its (capped) level a CSL of 6e-18
    assert 0.9 <= row[target] < 0.92
    assert row["undershoot"] < (case["stats"]["sigma_demand_daily"] ** 2 + case["window_mean"] ** 2) / (
        2 * case["window_mean"]
    )


def test_the_textbook_undershoot_of_a_stopped_series():
    # level_model normal, same inputs: E[U] = sd^2 / 2 d + d / 2 - 1/2 with the old sd was 34,871 units; at the
    # rate, the day's variance is at most the old days made rarer (day_sd_at_rate), E[X^2] / 2 E[X] <= u_max.
    row = _plan(STOPPED, CFG.model_copy(update={"level_model": "normal"}))
    assert 0 <= row["undershoot"] <= _scale(STOPPED) - STOPPED["stats"]["err_sigma_1d"] * 3.7**0.598161395
    assert row["reorder_point"] < 5 * _scale(STOPPED)


def test_day_sd_at_rate_by_hand():
    # rate 0.005, sd 17.75, m 14.1: var = 0.005 / 14.1 * (17.75^2 + 14.1^2) - 0.005^2 = 0.18220 (sd 0.42685)
    sd = day_sd_at_rate(np.array([0.005, 14.1, 20.0, 0.005]), np.array([17.75, 17.75, 17.75, 17.75]),
                        np.array([14.1, 14.1, 14.1, np.nan]))  # fmt: skip
    assert sd[0] == pytest.approx(np.sqrt(0.005 / 14.1 * (17.75**2 + 14.1**2) - 0.005**2), rel=1e-12)
    assert sd[0] == pytest.approx(0.42685, abs=1e-5)
    # at or above the history's mean, or without history, the given sd stays
    assert list(sd[1:]) == [17.75, 17.75, 17.75]
    # a smooth day (cv 0.3) at 90 % of its mean: made rarer its variance would grow (0.9 (0.09 + 1) - 0.81 = 0.171
    # > 0.09): the given sd stays
    assert day_sd_at_rate(0.9, 0.3, 1.0) == pytest.approx(0.3)


def test_level_error_terms_small_and_held_at_t_one():
    # small error (t^2 = 0.04): extra = t^2 (c^2 - m^2), shift = t^2 c with c = m + E[U], E[U] = (v + x^2) / 2x - 1/2
    m, x, v = np.array([100.0]), np.array([10.0]), np.array([30.0])
    u = (30 + 100) / 20 - 0.5  # 6
    extra, shift = _level_error_terms(m, np.array([0.04 * 100**2]), x, v)
    assert extra[0] == pytest.approx(0.04 * (106**2 - 100**2)) and shift[0] == pytest.approx(0.04 * 106)
    # a level error of 1000 % (t^2 = 100) is held at t^2 = 1: extra = c^2 - m^2, shift = c
    extra, shift = _level_error_terms(m, np.array([100 * 100**2]), x, v)
    assert extra[0] == pytest.approx(106**2 - 100**2) and shift[0] == pytest.approx(106) and u == 6


def _levels(**kw) -> Levels:
    base = dict(q_cycle=24.0, max_short=0.0, prot_days=3.7, u_mean=0.0, sig_lt=71.165, sig_prot=1.135e8, z=4.42,
                z_capped=True, ss=5.01495e8, lvl=501495486.0, exp_csl=0.0, exp_fill=1.0, method="normal")  # fmt: skip
    return Levels(**{k: np.array([v]) for k, v in {**base, **kw}.items()})


def test_the_guard_blanks_a_level_beyond_the_sane_bound():
    inp = _read_inputs(pd.DataFrame([{**STOPPED["stats"], "mean_daily_demand": 0.004519}]), CFG)
    # bound = 2 (10 + 1) (d L + E[U] + lot + sigma_ltd + 1) = 22 (0.0167 + 0 + 24 + 71.165 + 1) = 2116.0
    flagged, bound = _beyond_sane_bound(inp, CFG, _levels())
    assert flagged[0] and bound[0] == pytest.approx(22 * (0.004519 * 3.7 + 24 + 71.165 + 1))
    ok, _ = _beyond_sane_bound(inp, CFG, _levels(ss=61.6, lvl=77.0))  # the fixed plan's row
    assert not ok[0]
    nan, _ = _beyond_sane_bound(inp, CFG, _levels(lvl=np.nan))
    assert nan[0]


def test_a_series_without_a_level_is_alerted_and_not_ordered():
    base = dict(region_id="R02", policy="sQ", mean_daily_demand=0.0045, lead_time_days=3.7, moq=1.0, pack_size=1.0,
                unit_cost=4.77, order_qty_policy=24.0, cycle_qty=24.0, expected_fill_rate=np.nan,
                expected_csl=np.nan)  # fmt: skip
    pol = pd.DataFrame([
        {**base, "item_id": "gone", "status": "no_level", "reorder_point": np.nan, "order_up_to": np.nan,
         "safety_stock": np.nan},
        {**base, "item_id": "fine", "status": "ok", "reorder_point": 77.0, "order_up_to": 101.0, "safety_stock": 61.6},
    ])  # fmt: skip
    inv = pd.DataFrame(
        dict(item_id=["gone", "fine"], region_id="R02", on_hand=0.0, on_order=0.0, backorders=0.0)
    )
    run = pd.Timestamp("2026-01-02").date()
    al = alerts(pol, inv, run, CFG)
    hit = al[al["alert_type"] == "no_policy_level"]
    assert list(hit["item_id"]) == ["gone"] and list(hit["severity"]) == ["high"]
    rep = replenishment(pol, inv, run, CFG).set_index("item_id")
    assert rep.loc["gone", "order_qty"] == 0 and rep.loc["gone", "reason_code"] == "invalid"
