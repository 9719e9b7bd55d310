"""Master data and stock rows that are legal but would plan nonsense (issue 13, items 1, 9 and 11), by hand.

order_cost 0 (lot at least one review's demand), a series without an inventory row (position assumed 0, said in
replenishment, alerts and KPIs), an MOQ of decades of demand and a 400-day lead time (alerts; the MOQ left out
above alerts.moq_ignore_days_of_demand). Pure pandas/numpy, plus one run of the CLI on a tiny sample.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from inventory_helpers import as_batch, history, one_series
from skuplan.inventory import InventoryConfig, alerts, kpis, plan_policy, replenishment
from skuplan.inventory.replay import replay_holdout, simulate

RUN = dt.date(2025, 3, 1)


def policy_rows(rows: list[dict]) -> pd.DataFrame:
    """Plan rows as replenishment/alerts/kpis read them: s 100, Q 200, d 10/day, L 6 unless given."""
    base = dict(region_id="r1", status="ok", policy="sQ", reorder_point=100.0, order_up_to=300.0,
                order_qty_policy=200.0, safety_stock=40.0, mean_daily_demand=10.0, lead_time_days=6.0, moq=1.0,
                pack_size=1.0, unit_cost=2.0, cycle_qty=200.0, expected_fill_rate=0.98, expected_csl=0.9)  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows])


def stock(rows: list[dict]) -> pd.DataFrame:
    base = dict(region_id="r1", on_hand=150.0, on_order=0.0, backorders=0.0)
    return pd.DataFrame([{**base, **r} for r in rows])


def by_item(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("item_id")


# ------------------------------------------------------------------------------------------- #1 order_cost 0


def test_zero_order_cost_lot_is_one_review_of_demand():
    # EOQ = sqrt(2 * 0 * D / h) = 0. sQ is reviewed daily: lot = 1 day x 100/day = 100 units.
    sq = plan_policy(one_series(order_cost=0.0), InventoryConfig()).iloc[0]
    assert sq.eoq == 0.0 and sq.order_qty_policy == 100.0 and sq.lot_sizing == "review_demand"
    assert sq.order_up_to == pytest.approx(sq.reorder_point + 100.0)
    assert "lot raised to one review's demand" in sq.message and sq.status == "ok"
    # MOQ 30 and packs of 12: max(100, 30) = 100 -> ceil(100 / 12) = 9 packs = 108.
    packed = plan_policy(one_series(order_cost=0.0, moq=30.0, pack_size=12.0), InventoryConfig()).iloc[0]
    assert packed.order_qty_policy == 108.0
    # sS is reviewed every R = 7 days: lot = 7 x 100 = 700 -> 59 packs of 12 = 708.
    ss = plan_policy(one_series(order_cost=0.0, pack_size=12.0), InventoryConfig(policy="sS")).iloc[0]
    assert ss.order_qty_policy == 708.0 and ss.order_up_to == pytest.approx(ss.reorder_point + 708.0)
    # With an order cost the EOQ stands: sqrt(2 * 100 * 36,500 / 2.4) = 1,744.04 -> 1,745.
    assert plan_policy(one_series(), InventoryConfig()).iloc[0].order_qty_policy == 1745.0


def test_zero_order_cost_orders_from_an_empty_shelf():
    plan = plan_policy(one_series(order_cost=0.0), InventoryConfig())
    s = plan.iloc[0].reorder_point
    out = replenishment(plan, stock([dict(item_id="i1", on_hand=0.0)]), RUN, InventoryConfig()).iloc[0]
    # (s, nQ): the fewest lots of 100 that lift position 0 above s.
    assert out.order_qty == (math.floor(s / 100.0) + 1) * 100.0 and out.order_qty > s
    assert out.reason_code == "below_reorder_point"


def test_a_plan_without_a_lot_still_orders():
    # Levels from elsewhere (an older plan, a hand-made frame) with Q = 0: one day's demand per lot, never 0 lots.
    # Position 50 <= s 100, Q -> d = 10: floor((100 - 50) / 10) + 1 = 6 lots = 60.
    pol = policy_rows([dict(item_id="q0", order_qty_policy=0.0, order_up_to=100.0)])
    out = replenishment(pol, stock([dict(item_id="q0", on_hand=50.0)]), RUN, InventoryConfig()).iloc[0]
    assert out.order_qty == 60.0 and out.reason_code == "below_reorder_point"


def test_zero_order_cost_replay_reaches_its_target():
    # Before: EOQ 0 -> no order in the whole hold-out, fill rate ~0.10. Now lots of one day's demand.
    rng = np.random.default_rng(5)
    units = {f"s{i}": list(np.round(rng.gamma(16, 20 / 16, 420))) for i in range(30)}
    items = pd.DataFrame({"item_id": list(units), "unit_cost": 5.0, "holding_rate": 0.25, "order_cost": 0.0,
                          "lead_time_days": 4.0, "lead_time_std_days": 0.0, "service_level": 0.95,
                          "service_type": "csl", "moq": 1.0, "pack_size": 1.0})  # fmt: skip
    cfg = InventoryConfig(replay={"holdout_days": 182, "fit_window_days": 182})
    res = replay_holdout(as_batch(history(units)), items, cfg)
    assert (res.plan["lot_sizing"] == "review_demand").all() and (res.metrics["n_orders"] > 0).all()
    pooled = res.by_policy.iloc[0]
    # measured 0.919 over ~4,700 one-day cycles (and fill rate 0.976); an order cost of 30 gives 0.947
    assert pooled["csl"] == pytest.approx(0.95, abs=0.05)
    assert pooled["fill_rate"] > 0.95


# --------------------------------------------------------------------------------------- #9 no inventory row


def test_missing_inventory_row_is_said_everywhere():
    pol = policy_rows([dict(item_id="gone"), dict(item_id="here"), dict(item_id="bad", status="invalid",
                                                                        policy=None)])
    inv = stock([dict(item_id="here", on_hand=150.0)])
    rep = by_item(replenishment(pol, inv, RUN, InventoryConfig()))
    # position 0 <= s 100: floor((100 - 0) / 200) + 1 = 1 lot of 200.
    assert rep.loc["gone", "inventory_position"] == 0 and rep.loc["gone", "order_qty"] == 200
    assert rep.loc["gone", "reason_code"] == "no_inventory_row"
    assert rep.loc["gone", "reason"] == ("no inventory row, position assumed 0: order 200: position 0 <= reorder "
                                         "point s 100 (sQ, ~1 x Q 200); rounded to pack 1, MOQ 1")  # fmt: skip
    assert rep.loc["here", "reason_code"] == "above_reorder_point"
    assert rep.loc["bad", "reason_code"] == "invalid"  # the plan is unusable: that is the first thing to say
    al = alerts(pol, inv, RUN, InventoryConfig())
    missing = al[al["alert_type"] == "no_inventory_row"]
    assert sorted(missing["item_id"]) == ["bad", "gone"] and set(missing["severity"]) == {"high"}
    assert missing["value"].isna().all() and "on_hand 0 if the shelf is empty" in missing["message"].iloc[0]
    assert set(al.loc[al["item_id"] == "here", "alert_type"]) == set()
    k = by_item(kpis(pol, inv, InventoryConfig()))
    assert sorted(k.index) == ["bad", "gone", "here"]
    assert k.loc["gone", ["on_hand", "inventory_value", "days_of_supply", "turnover"]].isna().all()
    # the policy's own figures stay: 3650 / (SS 40 + Q/2 100)
    assert k.loc["gone", "policy_turnover"] == pytest.approx(3650 / 140) and k.loc["gone", "projected_csl"] == 0.9
    assert k.loc["here", "days_of_supply"] == 15.0


def test_a_bucket_without_any_inventory_frame():
    # The empty side of a Spark cogroup may come without columns: every series is then without a row.
    pol = policy_rows([dict(item_id="a"), dict(item_id="b")])
    empty = pd.DataFrame()
    assert set(replenishment(pol, empty, RUN, InventoryConfig())["reason_code"]) == {"no_inventory_row"}
    assert list(alerts(pol, empty, RUN, InventoryConfig())["alert_type"]) == ["no_inventory_row"] * 2
    assert kpis(pol, empty, InventoryConfig())["on_hand"].isna().sum() == 2


# ------------------------------------------------------------------------------------ #11 absurd master data


def test_moq_and_lead_time_alerts_by_hand():
    pol = policy_rows([
        dict(item_id="huge", mean_daily_demand=5.8, moq=100_000.0),  # 17,241 days = 47 years of demand
        dict(item_id="big", moq=5_000.0),  # 500 days: applied, flagged
        dict(item_id="none", mean_daily_demand=0.0, moq=100_000.0, reorder_point=0.0),  # no demand, no order
        dict(item_id="far", lead_time_days=400.0),
        dict(item_id="long", lead_time_days=200.0),
    ])  # fmt: skip
    inv = stock([dict(item_id=i, on_hand=0.0) for i in pol["item_id"]])
    al = alerts(pol, inv, RUN, InventoryConfig())
    moq, lead = (by_item(al[al["alert_type"] == t]) for t in ("moq_exceeds_demand", "long_lead_time"))
    assert sorted(moq.index) == ["big", "huge"] and sorted(lead.index) == ["far", "long"]
    assert moq.loc["huge", "value"] == pytest.approx(100_000 / 5.8) and moq.loc["huge", "threshold"] == 365
    assert moq.loc["huge", "severity"] == "high" and "not applied" in moq.loc["huge", "message"]
    assert moq.loc["big", "value"] == pytest.approx(500.0) and moq.loc["big", "severity"] == "medium"  # 500/365<2
    assert lead.loc["far", "value"] == 400 and lead.loc["far", "threshold"] == 180
    assert lead.loc["far", "severity"] == "high" and lead.loc["long", "severity"] == "medium"  # 400/180 > 2
    rep = by_item(replenishment(pol, inv, RUN, InventoryConfig()))
    # huge: the policy lot of 200, not 100,000; big: max(200, 5,000) = 5,000.
    assert rep.loc["huge", "order_qty"] == 200 and rep.loc["big", "order_qty"] == 5_000
    assert ("input MOQ 100,000 not applied: it covers 17,241.38 days of demand (> "
            "alerts.moq_ignore_days_of_demand 3,650)") in rep.loc["huge", "reason"]  # fmt: skip
    assert rep.loc["none", "order_qty"] == 0
    always = InventoryConfig(alerts={"moq_ignore_days_of_demand": None})
    assert by_item(replenishment(pol, inv, RUN, always)).loc["huge", "order_qty"] == 100_000
    flagged = alerts(pol, inv, RUN, always)
    flagged = by_item(flagged[flagged["alert_type"] == "moq_exceeds_demand"])
    assert flagged.loc["huge", "severity"] == "high"  # applied, and 47 years > 2 x 365


def test_plan_and_replay_leave_out_an_absurd_moq():
    # d 5.8: EOQ = sqrt(2 * 100 * 5.8 * 365 / 2.4) = 420.02 -> 421 units, the MOQ of 100,000 left out.
    row = one_series(mean_daily_demand=5.8, sigma_daily=2.0, moq=100_000.0)
    p = plan_policy(row, InventoryConfig()).iloc[0]
    assert p.order_qty_policy == 421.0 and p.moq == 100_000.0 and "moq not applied" in p.message
    kept = plan_policy(row, InventoryConfig(alerts={"moq_ignore_days_of_demand": None})).iloc[0]
    assert kept.order_qty_policy == 100_000.0
    # The replay orders what replenishment would: s 10, Q 20, L 2, 4/day from 22 on hand -> orders of 20 on
    # days 2 and 7 (tests/test_inventory_replay.py), the MOQ of 100,000 = 25,000 days of demand left out.
    levels = policy_rows([dict(item_id="i", reorder_point=10.0, order_up_to=30.0, order_qty_policy=20.0,
                               mean_daily_demand=4.0, moq=100_000.0, lead_time_days=2.0)]).assign(
        review_days=1.0, lead_time_std_days=0.0, holding_rate=0.365, order_cost=5.0, method="normal",
        demand_class="smooth", segment="AX", service_type="fill_rate", service_level=0.95)  # fmt: skip
    _, path = simulate(np.full((1, 10), 4.0), levels, InventoryConfig(), initial_on_hand=np.array([22.0]),
                       record=True)  # fmt: skip
    assert list(np.flatnonzero(path["order"][0])) == [2, 7] and path["order"][0].max() == 20.0


def test_moq_limits_are_validated():
    with pytest.raises(ValidationError, match="moq_ignore_days_of_demand must be >= "):
        InventoryConfig(alerts={"moq_max_days_of_demand": 400, "moq_ignore_days_of_demand": 300})
    with pytest.raises(ValidationError, match="max_lead_time_days"):
        InventoryConfig(alerts={"max_lead_time_days": 0})
    th = InventoryConfig().alerts
    assert (th.moq_max_days_of_demand, th.moq_ignore_days_of_demand, th.max_lead_time_days) == (365, 3650, 180)


# --------------------------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_cli_run_on_questionable_master_data(spark, tmp_path, repo_root, capsys, monkeypatch):
    """A user's edits with pandas: order_cost 0 and no inventory row for one item, MOQ 100,000 and a 400-day lead
    time for the other. The run succeeds, says so in alerts and on the console, and orders sensible amounts."""
    from skuplan.cli import EXIT_OK, main
    from skuplan.config import load_config
    from skuplan.io import read_table
    from skuplan.sample import SampleSpec, generate_sample

    generate_sample(tmp_path / "in", SampleSpec(n_items=2, n_regions=1, start=dt.date(2025, 6, 1), dirty_rows=False))
    items_file, inv_file = tmp_path / "in/items/items.parquet", tmp_path / "in/inventory/inventory.parquet"
    items, inv = pd.read_parquet(items_file), pd.read_parquet(inv_file)
    items.loc[items["item_id"] == "SKU00001", "order_cost"] = 0.0
    items.loc[items["item_id"] == "SKU00002", ["moq", "lead_time_days"]] = [100_000, 400.0]
    items.to_parquet(items_file, index=False)
    inv[inv["item_id"] != "SKU00001"].to_parquet(inv_file, index=False)
    # The replay has no series with enough history here (7 months): switched off to save its Spark job.
    env = {"INPUTS__ROOT": str(tmp_path / "in"), "OUTPUTS__ROOT": str(tmp_path / "out"),
           "FORECAST__MODEL": "regression", "FORECAST__HORIZON_DAYS": "14", "INVENTORY__REPLAY__ENABLED": "false"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(f"SKUPLAN__{key}", value)

    assert main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2026-01-01"]) == EXIT_OK
    assert "data alerts: no_inventory_row 1, moq_exceeds_demand 1, long_lead_time 1" in capsys.readouterr().out
    cfg, day = load_config(repo_root / "conf"), dt.date(2026, 1, 1)
    al = read_table(spark, cfg, "alerts", day).toPandas()
    fired = set(zip(al["item_id"], al["alert_type"], al["severity"], strict=True))
    assert {("SKU00001", "no_inventory_row", "high"), ("SKU00002", "moq_exceeds_demand", "high"),
            ("SKU00002", "long_lead_time", "high")} <= fired  # fmt: skip
    rep = by_item(read_table(spark, cfg, "replenishment", day).toPandas())
    assert rep.loc["SKU00001", "reason_code"] == "no_inventory_row" and rep.loc["SKU00001", "order_qty"] > 0
    assert 0 < rep.loc["SKU00002", "order_qty"] < 100_000 and "not applied" in rep.loc["SKU00002", "reason"]
    k = by_item(read_table(spark, cfg, "kpis", day).toPandas())
    assert len(k) == 2 and math.isnan(k.loc["SKU00001", "on_hand"])
