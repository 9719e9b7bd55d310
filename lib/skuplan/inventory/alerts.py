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
- dead_stock: on_hand > 0 and no sale for >= dead_stock_days (from history, or inventory column
  last_sale_date; value = run_date - last sale date in days; never sold in history counts from the day
  before the first history date). high at 2x.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.history import KEYS

# value / threshold are in the unit of the rule: units (stock levels), days (cover, supply, no sale).
ALERT_COLUMNS = ["item_id", "region_id", "alert_type", "severity", "value", "threshold", "message"]


def _days_since_last_sale(df: pd.DataFrame, run_date: dt.date, history: pd.DataFrame | None) -> pd.Series:
    run = pd.Timestamp(run_date)
    last = (
        pd.to_datetime(df["last_sale_date"]) if "last_sale_date" in df else pd.Series(pd.NaT, index=df.index)
    )
    if history is not None and not history.empty:
        h = history[KEYS + ["date", "units"]].copy()
        h["date"] = pd.to_datetime(h["date"])
        h = h[h["date"] <= run]
        sold = h[h["units"] > 0].groupby(KEYS)["date"].max().rename("_last")
        first = h.groupby(KEYS)["date"].min().rename("_first")
        j = df[KEYS].join(sold, on=KEYS).join(first, on=KEYS)
        # never sold within history: at least as long as the history itself (a lower bound)
        last = last.fillna(j["_last"]).fillna(j["_first"] - pd.Timedelta(days=1))
    return (run - last).dt.days.astype(float)


def _rows(df, mask, kind, severity, value, threshold, message) -> pd.DataFrame:
    m = np.asarray(mask, dtype=bool)
    out = df.loc[m, KEYS].copy()
    out["alert_type"] = kind
    out["severity"] = np.asarray(severity, dtype=object)[m] if np.ndim(severity) else severity
    out["value"] = np.asarray(value, dtype=float)[m]
    out["threshold"] = np.asarray(threshold, dtype=float)[m] if np.ndim(threshold) else float(threshold)
    out["message"] = message
    return out


def alerts(
    policy: pd.DataFrame,
    inventory: pd.DataFrame,
    run_date: dt.date,
    cfg: InventoryConfig,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Alerts for every series present in `inventory` (joined to its plan_policy row); ALERT_COLUMNS."""
    th = cfg.alerts
    inv = inventory.copy()
    for col in ("on_order", "backorders"):
        if col not in inv:
            inv[col] = 0.0
    cols = ["item_id", "region_id", "safety_stock", "order_up_to", "mean_daily_demand", "lead_time_days"]
    keys_obj = dict.fromkeys(KEYS, object)  # empty frames default to float keys; merge needs one dtype
    df = inv.astype(keys_obj).merge(policy[cols].astype(keys_obj), on=KEYS, how="left", validate="one_to_one")
    df = df.reset_index(drop=True)
    oh = df["on_hand"].astype(float).to_numpy()
    oo = df["on_order"].astype(float).fillna(0.0).to_numpy()
    bo = df["backorders"].astype(float).fillna(0.0).to_numpy()
    ss = df["safety_stock"].astype(float).to_numpy()
    top = df["order_up_to"].astype(float).to_numpy()
    d = df["mean_daily_demand"].astype(float).to_numpy()
    parts = []
    for name, val in (("on_hand", oh), ("on_order", oo), ("backorders", bo)):
        parts.append(_rows(df, val < 0, "impossible_data", "high", val, 0.0, f"{name} is negative"))
    bad = (oh < 0) | (oo < 0) | (bo < 0) | np.isnan(oh)
    ok = ~bad

    def sev(value, threshold, high_if_below: bool):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = value / threshold
        high = ratio <= th.high_severity_ratio if high_if_below else ratio > 2.0
        return np.where(high, "high", "medium")

    m = ok & (ss > 0) & (oh < ss)
    parts.append(_rows(df, m, "below_safety_stock", sev(oh, ss, True), oh, ss, "on hand below safety stock"))

    if "next_receipt_date" in df:
        gap = (
            (pd.to_datetime(df["next_receipt_date"]) - pd.Timestamp(run_date))
            .dt.days.astype(float)
            .to_numpy()
        )
    else:
        gap = np.full(len(df), np.nan)
    gap = np.where(np.isfinite(gap), gap, df["lead_time_days"].astype(float).to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(d > 0, (oh - bo) / d, np.inf)
    m = ok & (d > 0) & np.isfinite(gap) & (cover < gap)
    msg = "net stock runs out before the next receipt"
    parts.append(_rows(df, m, "projected_stockout", sev(np.maximum(cover, 0), gap, True), cover, gap, msg))

    limit = th.overstock_factor * top
    m = ok & np.isfinite(limit) & (oh > limit) & (oh > 0)
    parts.append(
        _rows(df, m, "overstock", sev(oh, limit, False), oh, limit, "on hand above the policy maximum")
    )
    m = ok & (d > 0) & (cover > th.max_days_of_supply)
    msg = "days of supply above the limit"
    parts.append(
        _rows(
            df,
            m,
            "overstock_days",
            sev(cover, th.max_days_of_supply, False),
            cover,
            th.max_days_of_supply,
            msg,
        )
    )

    since = _days_since_last_sale(df, run_date, history).to_numpy()
    m = ok & (oh > 0) & np.isfinite(since) & (since >= th.dead_stock_days)
    parts.append(
        _rows(
            df,
            m,
            "dead_stock",
            sev(since, th.dead_stock_days, False),
            since,
            th.dead_stock_days,
            "no sale for a long time",
        )
    )

    out = pd.concat(parts, ignore_index=True)
    return out[ALERT_COLUMNS].sort_values(KEYS + ["alert_type"], kind="stable").reset_index(drop=True)
