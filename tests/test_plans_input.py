"""The optional plans input: validated with quarantine reasons like every input, its horizon rows fed to the
forecast as known future promo / price and its events added to the calendar (skuplan.plans)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from forecast_helpers import CUTOFF, series_frame, to_batch
from skuplan.config import QualityConfig, load_config
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch

RUN_DATE = (CUTOFF + pd.Timedelta(days=1)).date()


def test_plans_are_an_optional_input_of_the_config(repo_root):
    cfg = load_config(repo_root / "conf", environ={})
    assert cfg.inputs.plans.required is False  # absent: the run forecasts as before
    assert cfg.inputs.location("plans").endswith("/plans")


def test_plans_are_validated_and_feed_the_forecast(spark):
    from skuplan import plans
    from skuplan.io import conform_columns
    from skuplan.quality import validate_table

    day = dt.timedelta(days=1)
    cutoff = CUTOFF.date()
    rows = [
        ("e", "r1", cutoff + 9 * day, None, 1.0, "618"),  # accepted: promo planned on horizon day 9, an event
        ("e", "r1", cutoff + 3 * day, 9.5, None, None),  # accepted: a price plan only
        (
            "e",
            "r1",
            cutoff + 40 * day,
            None,
            1.0,
            None,
        ),  # accepted, beyond the 28-day horizon: not this run's
        ("e", "r1", cutoff + 4 * day, -2.0, 0.0, None),  # BAD_PLANNED_PRICE
        ("e", "r1", cutoff + 5 * day, None, 50.0, None),  # BAD_PLANNED_PROMO: 50 looks like a percentage
        ("ghost", "r1", cutoff + 6 * day, None, 1.0, None),  # an item the items table does not have
        (None, "r1", cutoff + 7 * day, None, 1.0, None),  # NULL_KEY: no item
    ]
    raw = spark.createDataFrame(
        rows, "item_id string, region_id string, date date, price double, promo double, event_name string"
    )
    items = spark.createDataFrame([("e",)], "item_id string")
    checked = validate_table(
        conform_columns(raw, "plans"), "plans", RUN_DATE, QualityConfig(), known_items_df=items
    )
    reasons = {r.reason_code: r.reason for r in checked.quarantine.collect()}
    assert set(reasons) == {"BAD_PLANNED_PRICE", "BAD_PLANNED_PROMO", "UNKNOWN_ITEM", "NULL_KEY"}
    assert "50 looks like a percentage: write 0.5" in reasons["BAD_PLANNED_PROMO"]
    assert checked.accepted.count() == 3

    future = plans.future_frame(checked.accepted, cutoff, horizon_days=28)
    assert future[["item_id", "region_id", "date"]].values.tolist() == [
        ["e", "r1", pd.Timestamp(cutoff + 3 * day)],
        ["e", "r1", pd.Timestamp(cutoff + 9 * day)],
    ]
    # NaN: not planned that day (forecast_batch then takes the expected value).
    assert np.isnan(future["promo"][0]) and future["promo"][1] == 1.0
    assert future["price"][0] == 9.5 and np.isnan(future["price"][1])
    events = plans.with_plan_events(None, checked.accepted, cutoff, horizon_days=28)
    assert events[["date", "event_name", "region_id"]].values.tolist() == [
        [pd.Timestamp(cutoff + 9 * day), "618", "r1"]
    ]

    # The frame is what forecast_batch takes: a series whose promotions sold ~2x, planned on day 9 only.
    rng = np.random.default_rng(0)
    promo = (rng.random(200) < 0.15).astype(float)
    history = series_frame("e", np.round(10 * np.exp(0.7 * promo)), promo=promo)
    full_plan = pd.DataFrame(
        {"item_id": "e", "region_id": "r1", "date": pd.date_range(CUTOFF + pd.Timedelta(days=1), periods=28)}
    )
    full_plan = full_plan.merge(future[["date", "promo"]], on="date", how="left").fillna({"promo": 0.0})
    f = forecast_batch(to_batch(history), ForecastConfig(model="regression"), future=full_plan).forecasts
    yhat = f.set_index("date")["yhat"]
    promo_day = CUTOFF + pd.Timedelta(days=9)
    assert 1.6 < yhat[promo_day] / yhat.drop(promo_day).median() < 2.4  # exp(0.7) = 2.01: the planned lift
