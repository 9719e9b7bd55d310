"""Replenishment decisions, alerts and KPIs on hand-made rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from skuplan.inventory import InventoryConfig, alerts, kpis, replenishment

RUN = dt.date(2025, 3, 1)


def policy_rows(rows: list[dict]) -> pd.DataFrame:
    base = dict(region_id="r1", policy="sQ", reorder_point=100.0, order_up_to=300.0, order_qty_policy=200.0,
                safety_stock=40.0, mean_daily_demand=10.0, lead_time_days=6.0, moq=1.0, pack_size=1.0,
                unit_cost=2.0, cycle_qty=200.0, expected_fill_rate=0.98, expected_csl=0.9)  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows])


def inventory_rows(rows: list[dict]) -> pd.DataFrame:
    base = dict(region_id="r1", on_hand=150.0, on_order=0.0, backorders=0.0)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_replenishment_decisions_and_reasons():
    pol = policy_rows(
        [
            dict(item_id="above"),
            dict(item_id="below", moq=250.0, pack_size=12.0),
            dict(item_id="deep"),  # position far below s: (s, nQ) orders 2 lots
            dict(item_id="rs", policy="RS", reorder_point=300.0, order_up_to=300.0),
            dict(item_id="ss", policy="sS", reorder_point=100.0, order_up_to=400.0),
            dict(
                item_id="zero",
                mean_daily_demand=0.0,
                reorder_point=0.0,
                order_up_to=0.0,
                order_qty_policy=0.0,
            ),
            dict(
                item_id="zero_bo",
                mean_daily_demand=0.0,
                reorder_point=0.0,
                order_up_to=0.0,
                order_qty_policy=0.0,
            ),
        ]
    )
    inv = inventory_rows(
        [
            dict(item_id="above", on_hand=150.0),
            dict(item_id="below", on_hand=60.0, on_order=30.0),
            dict(item_id="deep", on_hand=0.0, backorders=150.0),
            dict(item_id="rs", on_hand=120.0, on_order=50.0, backorders=10.0),
            dict(item_id="ss", on_hand=90.0),
            dict(item_id="zero", on_hand=0.0),
            dict(item_id="zero_bo", on_hand=0.0, backorders=5.0),
        ]
    )
    out = replenishment(pol, inv, RUN, InventoryConfig()).set_index("item_id")
    assert out.loc["above", "order_qty"] == 0 and out.loc["above", "reason_code"] == "above_reorder_point"
    assert out.loc["above", "reason"] == "no order: position 150 > reorder point s 100 (sQ)"
    # 200 -> MOQ 250 -> 21 packs of 12 = 252
    assert out.loc["below", "inventory_position"] == 90 and out.loc["below", "order_qty"] == 252
    assert out.loc["below", "reason"].startswith("order 252: position 90 <= reorder point s 100 (sQ")
    assert "pack 12, MOQ 250" in out.loc["below", "reason"]
    assert out.loc["below", "expected_arrival_date"] == dt.date(2025, 3, 7)
    assert out.loc["deep", "inventory_position"] == -150 and out.loc["deep", "order_qty"] == 400
    assert out.loc["rs", "inventory_position"] == 160 and out.loc["rs", "order_qty"] == 140
    assert "up to S 300" in out.loc["rs", "reason"]
    assert out.loc["ss", "order_qty"] == 310
    assert out.loc["zero", "order_qty"] == 0 and out.loc["zero", "reason_code"] == "zero_demand"
    assert out.loc["zero", "expected_arrival_date"] is None or pd.isna(
        out.loc["zero", "expected_arrival_date"]
    )
    assert out.loc["zero_bo", "order_qty"] == 5 and out.loc["zero_bo", "reason_code"] == "clear_backorders"


def test_series_without_inventory_row_has_position_zero():
    out = replenishment(
        policy_rows([dict(item_id="x")]), inventory_rows([dict(item_id="other")]), RUN, InventoryConfig()
    )
    assert out.iloc[0].inventory_position == 0 and out.iloc[0].order_qty == 200


def _fired(out: pd.DataFrame, item: str) -> set[str]:
    return set(out.loc[out.item_id == item, "alert_type"])


def test_each_alert_fires_on_its_row_only():
    pol = policy_rows([dict(item_id=i) for i in ("normal", "neg", "low", "stockout", "over", "days", "dead")])
    pol.loc[pol.item_id == "days", ["order_up_to", "mean_daily_demand"]] = [5000.0, 1.0]
    inv = inventory_rows(
        [
            dict(item_id="normal", on_hand=150.0),
            dict(item_id="neg", on_hand=-3.0),
            dict(item_id="low", on_hand=30.0, next_receipt_date=RUN + dt.timedelta(days=2)),
            dict(item_id="stockout", on_hand=45.0, backorders=5.0),  # 4 days of cover < 6-day lead time
            dict(item_id="over", on_hand=700.0),
            dict(item_id="days", on_hand=120.0),
            dict(item_id="dead", on_hand=150.0),
        ]
    )
    # last sales: 120 days of sales from 2024-11-01 end on 2025-02-28; "dead" sold its first 10 days only
    inv["last_sale_date"] = np.where(inv["item_id"] == "dead", dt.date(2024, 11, 10), dt.date(2025, 2, 28))
    out = alerts(pol, inv, RUN, InventoryConfig())
    assert _fired(out, "normal") == set()
    assert _fired(out, "neg") == {"impossible_data"}
    assert _fired(out, "low") == {"below_safety_stock"}  # 3 days of cover vs receipt in 2 days: no stockout
    assert _fired(out, "stockout") == {"projected_stockout"}
    assert _fired(out, "over") == {"overstock"}
    assert _fired(out, "days") == {"overstock_days"}
    assert _fired(out, "dead") == {"dead_stock"}
    row = out.set_index("item_id")
    assert row.loc["stockout", "value"] == pytest.approx(4.0) and row.loc["stockout", "threshold"] == 6.0
    assert row.loc["over", "severity"] == "high" and row.loc["over", "threshold"] == 300.0
    assert row.loc["dead", "value"] == 111 and row.loc["dead", "threshold"] == 90
    assert row.loc["neg", "value"] == -3.0 and row.loc["neg", "severity"] == "high"
    assert list(out.columns) == [
        "item_id",
        "region_id",
        "alert_type",
        "severity",
        "value",
        "threshold",
        "message",
    ]


def test_kpis_by_hand():
    pol = policy_rows([dict(item_id="a"), dict(item_id="z", mean_daily_demand=0.0)])
    inv = inventory_rows([dict(item_id="a", on_hand=50.0), dict(item_id="z", on_hand=8.0)])
    out = kpis(pol, inv, InventoryConfig()).set_index("item_id")
    assert out.loc["a", "inventory_value"] == 100.0
    assert out.loc["a", "days_of_supply"] == 5.0
    assert out.loc["a", "turnover"] == pytest.approx(3650 / 50)
    assert out.loc["a", "policy_turnover"] == pytest.approx(3650 / (40 + 100))
    assert out.loc["a", "projected_fill_rate"] == 0.98
    assert np.isinf(out.loc["z", "days_of_supply"]) and out.loc["z", "turnover"] == 0.0
