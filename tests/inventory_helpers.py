"""Hand-made inputs shared by the inventory tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.inventory.plan import history_rows
from skuplan.series.batch import SeriesBatch


def one_series(**kw) -> pd.DataFrame:
    """One plan_policy input row: the textbook series d=100/day, sd=30, L=5, sL=1.5, CSL 95%."""
    row = dict(
        item_id="i1", region_id="r1", mean_daily_demand=100.0, sigma_daily=30.0, demand_class="smooth",
        segment=None, unit_cost=10.0, holding_rate=0.24, order_cost=100.0, lead_time_days=5.0,
        lead_time_std_days=1.5, service_level=0.95, service_type="csl", moq=1.0, pack_size=1.0,
    )  # fmt: skip
    row.update(kw)
    return pd.DataFrame([row])


def history(units: dict[str, list[float]], start: str = "2025-01-01", region: str = "r1") -> pd.DataFrame:
    """Long daily history (item_id, region_id, date, units) from {item: daily units}."""
    rows = []
    for item, u in units.items():
        dates = pd.date_range(start, periods=len(u), freq="D")
        rows.append(pd.DataFrame({"item_id": item, "region_id": region, "date": dates, "units": u}))
    return pd.concat(rows, ignore_index=True)


def as_batch(history: pd.DataFrame) -> SeriesBatch:
    """SeriesBatch of a long daily history, cut off at its last date."""
    return SeriesBatch.from_long(history, history["date"].max())


def history_for(stats: pd.DataFrame, history: pd.DataFrame, days: int = 365) -> np.ndarray:
    """plan_policy's history for the rows of `stats`: the last `days` days of a long daily history."""
    return history_rows(as_batch(history), stats, days)
