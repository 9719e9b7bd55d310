"""Exception alerts on today's inventory against the policy. One row per (series, alert type) that fires.

Rules (thresholds in cfg.alerts):
- impossible_data: on_hand, on_order or backorders < 0. value = the bad number, threshold 0, severity high.
  Rows with impossible data get no other alert (their numbers would mislead).
- below_safety_stock: on_hand < safety_stock (> 0). high when on_hand <= high_severity_ratio * SS.
- projected_stockout: net stock (on_hand - backorders) covers fewer days of forecast demand than the days
  until the next receipt: value = days of cover, threshold = days to next receipt (inventory column
  next_receipt_date if given, else lead_time_days: the earliest an order placed today can land).
  high when cover < high_severity_ratio * threshold.
- overstock: on_hand > overstock_factor * order_up_to (the policy maximum). high above twice the threshold.
- overstock_days: days of supply on_hand / d > max_days_of_supply (d > 0). high above twice the threshold.
- dead_stock: on_hand > 0 and no sale for >= dead_stock_days (the inventory row's last_sale_date, which the
  pipeline joins from the series statistics); value = days since the last sale. high at 2x.
Per planned series (policy rows; how each is read: inventory.sanity):
- no_inventory_row: the series has no inventory row, so replenishment assumed position 0. severity high, value
  and threshold null.
- moq_exceeds_demand: moq > moq_max_days_of_demand days of forecast demand (d > 0); value = moq / d in days.
  high above twice the threshold, and always when the MOQ is not applied (above moq_ignore_days_of_demand).
- long_lead_time: lead_time_days > max_lead_time_days; value = the lead time. high above twice the threshold.
- no_policy_level: the plan could not give the series a sane level (status no_level: inventory.plan's guard,
  levels left blank, so nothing is ordered). severity high, value and threshold null.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.contracts import contract
from skuplan.inventory.config import AlertThresholds, InventoryConfig
from skuplan.inventory.sanity import missing_inventory, moq_cover_days, moq_ignored, with_stock_columns
from skuplan.series.batch import KEYS

# value / threshold are in the unit of the rule: units (stock levels), days (cover, supply, no sale).
ALERT_COLUMNS = contract("alerts").names
# Alerts on the inputs rather than on today's stock: the policy stage counts them in its manifest detail.
DATA_ALERT_TYPES = ("no_inventory_row", "moq_exceeds_demand", "long_lead_time", "no_policy_level")


def _days_since_last_sale(df: pd.DataFrame, run_date: dt.date) -> pd.Series:
    """Days from the last sale (inventory's last_sale_date, from the series statistics) to the run date."""
    last = (
        pd.to_datetime(df["last_sale_date"]) if "last_sale_date" in df else pd.Series(pd.NaT, index=df.index)
    )
    return (pd.Timestamp(run_date) - last).dt.days.astype(float)


def _rows(df, mask, kind, severity, value, threshold, message) -> pd.DataFrame:
    m = np.asarray(mask, dtype=bool)
    out = df.loc[m, KEYS].copy()
    out["alert_type"] = kind
    out["severity"] = np.asarray(severity, dtype=object)[m] if np.ndim(severity) else severity
    out["value"] = np.asarray(value, dtype=float)[m]
    out["threshold"] = np.asarray(threshold, dtype=float)[m] if np.ndim(threshold) else float(threshold)
    out["message"] = np.asarray(message, dtype=object)[m] if np.ndim(message) else message
    return out


@dataclass(frozen=True)
class _Levels:
    """Numbers of the joined (inventory x policy) rows, as float arrays in row order."""

    on_hand: np.ndarray
    on_order: np.ndarray
    backorders: np.ndarray
    safety_stock: np.ndarray
    order_up_to: np.ndarray
    demand: np.ndarray  # mean daily demand
    ok: np.ndarray  # no impossible data: the other rules only look at these rows
    cover: np.ndarray  # days of net stock (on_hand - backorders) at mean demand; inf without demand

    @classmethod
    def of(cls, df: pd.DataFrame) -> _Levels:
        oh = df["on_hand"].astype(float).to_numpy()
        oo = df["on_order"].astype(float).fillna(0.0).to_numpy()
        bo = df["backorders"].astype(float).fillna(0.0).to_numpy()
        d = df["mean_daily_demand"].astype(float).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(d > 0, (oh - bo) / d, np.inf)
        return cls(
            on_hand=oh,
            on_order=oo,
            backorders=bo,
            safety_stock=df["safety_stock"].astype(float).to_numpy(),
            order_up_to=df["order_up_to"].astype(float).to_numpy(),
            demand=d,
            ok=~((oh < 0) | (oo < 0) | (bo < 0) | np.isnan(oh)),
            cover=cover,
        )


def _joined(policy: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    """Inventory rows (on_order, backorders default to 0) with their policy columns, left-joined."""
    inv = with_stock_columns(inventory)
    cols = ["item_id", "region_id", "safety_stock", "order_up_to", "mean_daily_demand", "lead_time_days"]
    keys_obj = dict.fromkeys(KEYS, object)  # empty frames default to float keys; merge needs one dtype
    df = inv.astype(keys_obj).merge(policy[cols].astype(keys_obj), on=KEYS, how="left", validate="one_to_one")
    return df.reset_index(drop=True)


def _severity(value, threshold, high_if_below: bool, high_ratio: float) -> np.ndarray:
    """high when value / threshold <= high_ratio (high_if_below) or > 2, else medium."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = value / threshold
    high = ratio <= high_ratio if high_if_below else ratio > 2.0
    return np.where(high, "high", "medium")


def _impossible_data(df: pd.DataFrame, lv: _Levels) -> list[pd.DataFrame]:
    levels = (("on_hand", lv.on_hand), ("on_order", lv.on_order), ("backorders", lv.backorders))
    return [
        _rows(df, val < 0, "impossible_data", "high", val, 0.0, f"{name} is negative") for name, val in levels
    ]


def _below_safety_stock(df: pd.DataFrame, lv: _Levels, th: AlertThresholds) -> pd.DataFrame:
    oh, ss = lv.on_hand, lv.safety_stock
    m = lv.ok & (ss > 0) & (oh < ss)
    sev = _severity(oh, ss, True, th.high_severity_ratio)
    return _rows(df, m, "below_safety_stock", sev, oh, ss, "on hand below safety stock")


def _projected_stockout(
    df: pd.DataFrame, lv: _Levels, th: AlertThresholds, run_date: dt.date
) -> pd.DataFrame:
    """Cover shorter than the days to the next receipt (next_receipt_date, else the lead time)."""
    if "next_receipt_date" in df:
        gap = (
            (pd.to_datetime(df["next_receipt_date"]) - pd.Timestamp(run_date))
            .dt.days.astype(float)
            .to_numpy()
        )
    else:
        gap = np.full(len(df), np.nan)
    gap = np.where(np.isfinite(gap), gap, df["lead_time_days"].astype(float).to_numpy())
    m = lv.ok & (lv.demand > 0) & np.isfinite(gap) & (lv.cover < gap)
    sev = _severity(np.maximum(lv.cover, 0), gap, True, th.high_severity_ratio)
    return _rows(
        df, m, "projected_stockout", sev, lv.cover, gap, "net stock runs out before the next receipt"
    )


def _overstock(df: pd.DataFrame, lv: _Levels, th: AlertThresholds) -> pd.DataFrame:
    oh, limit = lv.on_hand, th.overstock_factor * lv.order_up_to
    m = lv.ok & np.isfinite(limit) & (oh > limit) & (oh > 0)
    sev = _severity(oh, limit, False, th.high_severity_ratio)
    return _rows(df, m, "overstock", sev, oh, limit, "on hand above the policy maximum")


def _overstock_days(df: pd.DataFrame, lv: _Levels, th: AlertThresholds) -> pd.DataFrame:
    limit = th.max_days_of_supply
    m = lv.ok & (lv.demand > 0) & (lv.cover > limit)
    sev = _severity(lv.cover, limit, False, th.high_severity_ratio)
    return _rows(df, m, "overstock_days", sev, lv.cover, limit, "days of supply above the limit")


def _dead_stock(df: pd.DataFrame, lv: _Levels, th: AlertThresholds, run_date: dt.date) -> pd.DataFrame:
    since = _days_since_last_sale(df, run_date).to_numpy()
    limit = th.dead_stock_days
    m = lv.ok & (lv.on_hand > 0) & np.isfinite(since) & (since >= limit)
    sev = _severity(since, limit, False, th.high_severity_ratio)
    return _rows(df, m, "dead_stock", sev, since, limit, "no sale for a long time")


def _no_inventory_row(policy: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    m = missing_inventory(policy, inventory)
    return _rows(policy, m, "no_inventory_row", "high", np.full(len(policy), np.nan), np.nan,
                 "no inventory row: replenishment assumed nothing on hand or on order; add the row (on_hand 0 "
                 "if the shelf is empty)")  # fmt: skip


def _no_policy_level(policy: pd.DataFrame) -> pd.DataFrame:
    no_status = pd.Series("ok", index=policy.index)
    m = (policy.get("status", no_status) == "no_level").to_numpy()
    return _rows(policy, m, "no_policy_level", "high", np.full(len(policy), np.nan), np.nan,
                 "no policy level: the plan's demand law gave a level beyond its sane bound (see the policy row's "
                 "message); nothing is ordered until a planner sets one or the forecast is fixed")  # fmt: skip


def _master_data(policy: pd.DataFrame, th: AlertThresholds) -> list[pd.DataFrame]:
    """moq_exceeds_demand and long_lead_time on the policy rows (inputs passed through by plan_policy)."""
    moq, d = policy["moq"].astype(float).to_numpy(), policy["mean_daily_demand"].astype(float).to_numpy()
    cover, limit = moq_cover_days(moq, d), th.moq_max_days_of_demand
    ignored = moq_ignored(moq, d, th)
    sev = np.where(ignored, "high", _severity(cover, limit, False, th.high_severity_ratio))
    text = np.where(ignored, "MOQ covers more days of forecast demand than alerts.moq_ignore_days_of_demand: not "
                    "applied to orders, check the master data", "MOQ covers more days of forecast demand than the "
                    "limit: orders are at least the MOQ, check the master data")  # fmt: skip
    lead, max_lead = policy["lead_time_days"].astype(float).to_numpy(), th.max_lead_time_days
    return [
        _rows(policy, cover > limit, "moq_exceeds_demand", sev, cover, limit, text),
        _rows(policy, lead > max_lead, "long_lead_time", _severity(lead, max_lead, False, th.high_severity_ratio),
              lead, max_lead, "lead time above the limit: plans cover it as given, check the master data"),
    ]  # fmt: skip


def alerts(
    policy: pd.DataFrame,
    inventory: pd.DataFrame,
    run_date: dt.date,
    cfg: InventoryConfig,
) -> pd.DataFrame:
    """Alerts for every series present in `inventory` (joined to its plan_policy row, and carrying the series'
    last_sale_date), and the per-series rules for every row of `policy`; ALERT_COLUMNS."""
    th = cfg.alerts
    df = _joined(policy, inventory)
    lv = _Levels.of(df)
    parts = [
        *_impossible_data(df, lv),
        _below_safety_stock(df, lv, th),
        _projected_stockout(df, lv, th, run_date),
        _overstock(df, lv, th),
        _overstock_days(df, lv, th),
        _dead_stock(df, lv, th, run_date),
        _no_inventory_row(policy, inventory),
        _no_policy_level(policy),
        *_master_data(policy, th),
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[ALERT_COLUMNS].sort_values(KEYS + ["alert_type"], kind="stable").reset_index(drop=True)
