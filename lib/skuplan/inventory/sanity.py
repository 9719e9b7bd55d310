"""How questionable inputs are read, in one place (pure numpy/pandas): the plan, the replay, replenishment, alerts
and KPIs all call these, so an absurd MOQ or a missing stock row means the same thing everywhere.

- MOQ: moq_cover_days = moq / d, the days of forecast demand one minimum order holds. Above
  alerts.moq_max_days_of_demand it is flagged (alert moq_exceeds_demand) and applied; above
  alerts.moq_ignore_days_of_demand it is taken for a data error and orders leave it out (moq_in_force).
- Lead time: above alerts.max_lead_time_days it is flagged (alert long_lead_time) and used as given.
- Stock: a planned series without an inventory row is planned with position 0 (nothing known on hand or on order);
  replenishment says so (reason_code no_inventory_row), alerts raise no_inventory_row, KPIs keep a row with null
  stock figures (missing_inventory).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.inventory.config import AlertThresholds
from skuplan.series.batch import KEYS

STOCK_COLUMNS = ("on_hand", "on_order", "backorders")


def moq_cover_days(moq, d) -> np.ndarray:
    """Days of forecast demand the MOQ covers (moq / d); NaN where d <= 0 or unknown: without demand nothing is
    ordered, so no MOQ can be absurd."""
    moq, d = np.broadcast_arrays(np.asarray(moq, dtype=float), np.asarray(d, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((d > 0) & np.isfinite(moq), moq / d, np.nan)


def moq_ignored(moq, d, th: AlertThresholds) -> np.ndarray:
    """True where the MOQ covers more than th.moq_ignore_days_of_demand of demand (never when that is None)."""
    if th.moq_ignore_days_of_demand is None:
        return np.zeros(np.broadcast(np.asarray(moq), np.asarray(d)).shape, dtype=bool)
    return moq_cover_days(moq, d) > th.moq_ignore_days_of_demand


def moq_in_force(moq, d, th: AlertThresholds) -> np.ndarray:
    """The MOQ orders are rounded up to: the input, or 1 (no minimum, as for a missing MOQ) where moq_ignored.

    Why not apply it anyway: an order of decades of stock is expensive and hard to undo, while an order below a
    real MOQ is caught by the supplier; the high alert tells the planner either way (docs/decisions.md)."""
    moq = np.asarray(moq, dtype=float)
    return np.where(moq_ignored(moq, d, th), 1.0, moq)


def with_stock_columns(inventory: pd.DataFrame) -> pd.DataFrame:
    """inventory with item_id, region_id and STOCK_COLUMNS guaranteed (on_order, backorders default 0), other
    columns kept. A frame without columns (the empty side of a Spark cogroup) becomes an empty one."""
    inv = inventory.copy()
    for col in KEYS:
        if col not in inv:
            inv[col] = pd.Series(dtype=object)
    if "on_hand" not in inv:
        inv["on_hand"] = np.nan
    for col in STOCK_COLUMNS[1:]:
        if col not in inv:
            inv[col] = 0.0
    return inv


def missing_inventory(policy: pd.DataFrame, inventory: pd.DataFrame) -> np.ndarray:
    """True per policy row whose (item_id, region_id) has no inventory row."""
    inv = with_stock_columns(inventory)
    have = pd.MultiIndex.from_frame(inv[KEYS].astype(object))
    return ~pd.MultiIndex.from_frame(policy[KEYS].astype(object)).isin(have)
