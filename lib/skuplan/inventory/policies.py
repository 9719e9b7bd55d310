"""Replenishment policies: which policy a series uses, and the order a policy places at a review.

`order_decision` is the single source of truth for "order or not, and how much": replenishment() and the
replay simulation both call it, so what the replay measures is what production orders.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from skuplan.contracts import contract
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.lot_sizing import round_order_qty
from skuplan.inventory.sanity import moq_cover_days, moq_ignored, moq_in_force, with_stock_columns

POLICY_CODES = {"sQ": 0, "RS": 1, "sS": 2}

REPLENISHMENT_COLUMNS = contract("replenishment").names


def resolve_policy(segment, demand_class, cfg: InventoryConfig) -> np.ndarray:
    """Policy name per row: cfg.policy, or for "auto" the segment table, then the demand-class table, then sQ."""
    n = len(segment)
    if cfg.policy != "auto":
        return np.full(n, cfg.policy, dtype=object)
    seg = pd.Series(segment, dtype=object).map(cfg.auto_policy)
    cls = pd.Series(demand_class, dtype=object).map(cfg.auto_policy_by_class)
    return seg.fillna(cls).fillna("sQ").to_numpy(dtype=object)


def order_decision(code, position, s, big_s, q, moq, pack, d):
    """(order quantity, reason code) per row at a review.

    sQ: position <= s -> n * Q with the smallest n lifting the position above s ((s, nQ): one Q may not
        be enough after a large drop). RS: position < S -> S - position. sS: position <= s -> S - position.
    Then MOQ and pack rounding. Zero forecast demand orders only to clear a negative position (backorders):
    with d = 0 the reorder point is 0 and "position <= 0" alone would keep ordering stock nobody wants.
    A missing or non-positive Q with demand (plan_policy never gives one; older or hand-made levels may) counts
    as one day's demand: 0 lots would leave the series unreplenished forever.
    """
    code, position, s, big_s, q, moq, pack, d = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (code, position, s, big_s, q, moq, pack, d))
    )
    is_sq, is_rs = code == 0, code == 1
    q = np.where((d > 0) & ~(q > 0), d, q)
    trigger = np.where(is_rs, position < big_s, position <= s)
    trigger &= (d > 0) | (position < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_lots = np.where(q > 0, np.floor((s - position) / q) + 1, 0.0)
    raw = np.where(is_sq, n_lots * q, big_s - position)
    # d == 0 but backorders: bring the position back to zero at least.
    raw = np.where(d > 0, raw, np.maximum(raw, -position))
    raw = np.where(trigger, np.maximum(raw, 0.0), 0.0)
    qty = round_order_qty(raw, moq, pack)
    reason = np.where(
        ~np.isfinite(position) | ~np.isfinite(s), "invalid",
        np.where(qty > 0, np.where(d > 0, "below_reorder_point", "clear_backorders"),
                 np.where(d > 0, "above_reorder_point", "zero_demand")),
    )  # fmt: skip
    return np.where(reason == "invalid", 0.0, qty), reason


def _fmt(x: pd.Series) -> pd.Series:
    """Numbers as short text (vectorised): 1,234.5 style, 'n/a' for NaN."""
    v = pd.to_numeric(x, errors="coerce").astype(float)
    text = v.map("{:,.2f}".format).str.replace(r"\.?0+$", "", regex=True)
    return text.where(np.isfinite(v), "n/a")


def reason_text(df: pd.DataFrame) -> pd.Series:
    """Human reason per row from reason_code and the levels (vectorised string building)."""
    pol, code = df["policy"].astype(str), df["reason_code"]
    pos, s, big_s, qty = (
        _fmt(df[c]) for c in ("inventory_position", "reorder_point", "order_up_to", "order_qty")
    )
    lot = "; rounded to pack " + _fmt(df["pack_size"]) + ", MOQ " + _fmt(df["moq"])
    with np.errstate(divide="ignore", invalid="ignore"):
        n_lots = np.where(df["order_qty_policy"] > 0, np.round(df["order_qty"] / df["order_qty_policy"]), 1)
    level = np.where(pol == "RS", "S " + big_s, "s " + s)
    cmp = np.where(pol == "RS", " < ", " <= ")
    below = np.where(
        pol == "sQ",
        "order "
        + qty
        + ": position "
        + pos
        + " <= reorder point s "
        + s
        + " (sQ, ~"
        + pd.Series(n_lots, index=df.index).astype(int).astype(str)
        + " x Q "
        + _fmt(df["order_qty_policy"])
        + ")"
        + lot,
        "order " + qty + ": position " + pos + cmp + level + " (" + pol + "), up to S " + big_s + lot,
    )
    above = np.where(
        pol == "RS",
        "no order: position " + pos + " at order-up-to level S " + big_s + " (RS)",
        "no order: position " + pos + " > reorder point s " + s + " (" + pol + ")",
    )
    choices = {
        "invalid": pd.Series("no order: missing inventory position or policy level", index=df.index),
        "zero_demand": "no order: zero forecast demand, position " + pos,
        "clear_backorders": "order "
        + qty
        + ": zero forecast demand but position "
        + pos
        + " < 0 (backorders)"
        + lot,
        "above_reorder_point": pd.Series(above, index=df.index),
        "below_reorder_point": pd.Series(below, index=df.index),
    }
    out = pd.Series("", index=df.index, dtype=object)
    for key, text in choices.items():
        out = out.where(code != key, text)
    return out


def _reasons(df: pd.DataFrame, moq: np.ndarray, cfg: InventoryConfig) -> pd.Series:
    """reason_text with the MOQ in force, plus what the master-data rules changed (sanity): an MOQ left out,
    a position assumed 0 for want of an inventory row."""
    text = reason_text(df.assign(moq=moq))
    ignored = moq_ignored(df["moq"], df["mean_daily_demand"], cfg.alerts) & (df["order_qty"] > 0).to_numpy()
    days = _fmt(pd.Series(moq_cover_days(df["moq"], df["mean_daily_demand"]), index=df.index))
    limit = _fmt(pd.Series(cfg.alerts.moq_ignore_days_of_demand, index=df.index))
    text = text.where(~ignored, text + "; input MOQ " + _fmt(df["moq"]) + " not applied: it covers " + days
                      + " days of demand (> alerts.moq_ignore_days_of_demand " + limit + ")")  # fmt: skip
    assumed = (df["_inv"] == "left_only").to_numpy() & (df["reason_code"] != "invalid").to_numpy()
    return text.where(~assumed, "no inventory row, position assumed 0: " + text)


def replenishment(
    policy: pd.DataFrame, inventory: pd.DataFrame, run_date: dt.date, cfg: InventoryConfig
) -> pd.DataFrame:
    """Order recommendation per series of `policy` (plan_policy output) given today's inventory.

    inventory: item_id, region_id, on_hand, [on_order=0], [backorders=0]. Position = on_hand + on_order -
    backorders. A series with no inventory row is planned with position 0 (nothing known on hand or on order):
    reason_code no_inventory_row and a reason saying so, whatever the decision (alerts raise it too).
    RS/sS series are treated as reviewed today: the caller runs this every review period for them.
    Output REPLENISHMENT_COLUMNS: order_qty 0 rows are kept so every decision has its reason.
    expected_arrival_date = run_date + ceil(lead_time_days). The MOQ in force is sanity.moq_in_force's.
    """
    inv = with_stock_columns(inventory)[["item_id", "region_id", "on_hand", "on_order", "backorders"]]
    inv = inv.astype({"item_id": object, "region_id": object})
    pol = policy.astype({"item_id": object, "region_id": object})
    df = pol.merge(inv, on=["item_id", "region_id"], how="left", validate="one_to_one", indicator="_inv")
    filled = df[["on_hand", "on_order", "backorders"]].astype(float).fillna(0.0)
    df["inventory_position"] = filled["on_hand"] + filled["on_order"] - filled["backorders"]
    code = df["policy"].map(POLICY_CODES).fillna(-1).to_numpy()
    moq = moq_in_force(df["moq"], df["mean_daily_demand"], cfg.alerts)
    qty, reason = order_decision(
        code, df["inventory_position"], df["reorder_point"], df["order_up_to"], df["order_qty_policy"],
        moq, df["pack_size"], df["mean_daily_demand"],
    )  # fmt: skip
    df["order_qty"] = qty
    df["reason_code"] = np.where(code < 0, "invalid", reason)
    df["reason"] = _reasons(df, moq, cfg) if len(df) else pd.Series(dtype=object)
    # After the text: reason_text picks its wording by the decision code, which this one replaces.
    df.loc[(df["_inv"] == "left_only") & (df["reason_code"] != "invalid"), "reason_code"] = "no_inventory_row"
    lead = np.ceil(df["lead_time_days"].astype(float).fillna(0.0).to_numpy())
    df["expected_arrival_date"] = pd.Timestamp(run_date) + pd.to_timedelta(lead, unit="D")
    df.loc[df["order_qty"] <= 0, "expected_arrival_date"] = pd.NaT
    df["expected_arrival_date"] = df["expected_arrival_date"].dt.date
    return df[REPLENISHMENT_COLUMNS].reset_index(drop=True)
