"""The optional `plans` input (planned price, promotion and event per item x region x day) as the forecast's known
future: validate checks and stages it like every input (skuplan.quality: missing keys, duplicates, unknown items,
price > 0, promo in [0, 1], each quarantined with its reason); here the staged rows of the horizon become
forecast_batch's `future` frame and their events join the events calendar.

Only days in (cutoff, cutoff + horizon_days] matter to a forecast; plan rows outside it stay in staged_plans, valid
input that this run does not use (a later run_date will).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

FUTURE_COLUMNS = ("item_id", "region_id", "date", "promo", "price")
EVENT_COLUMNS = ("date", "event_name", "region_id", "uplift_hint")


def horizon_rows(plans: DataFrame, cutoff: dt.date, horizon_days: int) -> DataFrame:
    last = cutoff + dt.timedelta(days=horizon_days)
    return plans.where((F.col("date") > F.lit(cutoff)) & (F.col("date") <= F.lit(last)))


def future_frame(plans: DataFrame | None, cutoff: dt.date, horizon_days: int) -> pd.DataFrame | None:
    """forecast_batch's `future`: item_id, region_id, date, promo, price (NaN: not planned that day), in a
    canonical order (the frame is shipped to every forecast task; the order keeps runs byte-identical)."""
    if plans is None:
        return None
    rows = horizon_rows(plans, cutoff, horizon_days).where(
        F.col("price").isNotNull() | F.col("promo").isNotNull()
    )
    future = rows.select(*FUTURE_COLUMNS).orderBy("item_id", "region_id", "date").toPandas()
    if future.empty:
        return None
    future["date"] = pd.to_datetime(future["date"])
    future[["promo", "price"]] = future[["promo", "price"]].astype("float64")
    return future


def with_plan_events(
    events: pd.DataFrame | None, plans: DataFrame | None, cutoff: dt.date, horizon_days: int
) -> pd.DataFrame | None:
    """The events calendar plus the horizon's planned events, each an event of its row's region that day (the
    forecast models events per region and day, not per item)."""
    if plans is None:
        return events
    planned = (
        horizon_rows(plans, cutoff, horizon_days)
        .where(F.col("event_name").isNotNull())
        .select("date", "event_name", "region_id")
        .distinct()
        .orderBy("date", "event_name", "region_id")
        .toPandas()
    )
    if planned.empty:
        return events
    planned["date"] = pd.to_datetime(planned["date"])
    planned["uplift_hint"] = float("nan")
    if events is None:
        return planned[list(EVENT_COLUMNS)]
    both = pd.concat([events[list(EVENT_COLUMNS)], planned[list(EVENT_COLUMNS)]], ignore_index=True)
    return (
        both.drop_duplicates(["date", "event_name", "region_id"])
        .sort_values(["date", "event_name", "region_id"], na_position="first")
        .reset_index(drop=True)
    )
