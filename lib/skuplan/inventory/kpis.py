"""Inventory KPIs per series from today's stock and the policy (forward-looking: demand = forecast)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.contracts import contract
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.sanity import missing_inventory, with_stock_columns
from skuplan.series.batch import KEYS

KPI_COLUMNS = contract("kpis").names


def kpis(policy: pd.DataFrame, inventory: pd.DataFrame, cfg: InventoryConfig) -> pd.DataFrame:
    """One row per series in `inventory`, and one per `policy` series without an inventory row (its stock figures
    null: unknown, not 0; its policy figures kept), with KPI_COLUMNS."""
    cols = KEYS + [
        "mean_daily_demand",
        "unit_cost",
        "safety_stock",
        "cycle_qty",
        "expected_fill_rate",
        "expected_csl",
    ]
    keys_obj = dict.fromkeys(KEYS, object)  # empty frames default to float keys; merge needs one dtype
    inv = with_stock_columns(inventory)[KEYS + ["on_hand"]].astype(keys_obj)
    # A missing row must show up as one (null stock), not vanish from the KPIs (issue 13).
    unknown = policy.loc[missing_inventory(policy, inv), KEYS].astype(keys_obj).assign(on_hand=np.nan)
    inv = pd.concat([inv, unknown], ignore_index=True) if len(unknown) else inv
    df = inv.merge(policy[cols].astype(keys_obj), on=KEYS, how="left", validate="one_to_one")
    oh = df["on_hand"].astype(float).to_numpy()
    d = df["mean_daily_demand"].astype(float).to_numpy()
    annual = d * cfg.days_per_year
    avg_policy = df["safety_stock"].astype(float).to_numpy() + df["cycle_qty"].astype(float).to_numpy() / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        dos = np.where(np.isnan(oh), np.nan, np.where(oh > 0, np.where(d > 0, oh / d, np.inf), 0.0))
        turnover = np.where(oh > 0, annual / oh, np.nan)
        policy_turnover = np.where(avg_policy > 0, annual / avg_policy, np.nan)
    out = df[KEYS + ["on_hand"]].copy()
    out["inventory_value"] = np.maximum(oh, 0.0) * df["unit_cost"].astype(float).to_numpy()
    out["days_of_supply"] = dos
    out["turnover"] = turnover
    out["policy_turnover"] = policy_turnover
    out["projected_fill_rate"] = df["expected_fill_rate"].to_numpy(dtype=float)
    out["projected_csl"] = df["expected_csl"].to_numpy(dtype=float)
    return out[list(KPI_COLUMNS)]
