"""Prepare stage: channel aggregation, zero-filled calendar, series statistics (hand-computed)."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from skuplan.schemas import DAILY_SERIES
from skuplan.series import aggregate_channels, fill_calendar, series_stats

D = dt.date


def _sales(spark, rows):
    return spark.createDataFrame(
        rows, "item_id string, region_id string, date date, units double, channel string, price double, "
        "promo double, stockout boolean",
    )


def test_channels_sum_and_price_is_units_weighted(spark):
    sales = _sales(spark, [
        ("A", "R1", D(2024, 1, 1), 3.0, "web", 10.0, 0.0, False),
        ("A", "R1", D(2024, 1, 1), 1.0, "store", 14.0, 1.0, None),
    ])
    got = aggregate_channels(sales)
    # price = (3*10 + 1*14) / 4 = 11
    expected = spark.createDataFrame([("A", "R1", D(2024, 1, 1), 4.0, 1.0, 11.0, False)], DAILY_SERIES)
    assert_df_equality(got, expected, ignore_nullable=True)


def test_calendar_filled_from_first_sale_to_cutoff(spark):
    daily = spark.createDataFrame(
        [("A", "R1", D(2024, 1, 2), 5.0, 0.0, 2.0, False), ("A", "R1", D(2024, 1, 4), 1.0, 1.0, 2.0, True)], DAILY_SERIES
    )
    got = fill_calendar(daily, D(2024, 1, 5)).orderBy("date").collect()
    assert [(r.date, r.units, r.promo, r.stockout) for r in got] == [
        (D(2024, 1, 2), 5.0, 0.0, False),
        (D(2024, 1, 3), 0.0, 0.0, False),
        (D(2024, 1, 4), 1.0, 1.0, True),
        (D(2024, 1, 5), 0.0, 0.0, False),
    ]


def test_series_stats_by_hand(spark):
    # 8 days: demand 0,4,0,0,8,0,0,0 -> 2 non-zero days, ADI = 8/2 = 4
    # non-zero sizes 4 and 8: mean 6, population std 2, CV² = (2/6)² = 1/9
    units = [0, 4, 0, 0, 8, 0, 0, 0]
    rows = [("A", "R1", D(2024, 1, 1) + dt.timedelta(days=i), float(u), 0.0, None, False) for i, u in enumerate(units)]
    stats = series_stats(spark.createDataFrame(rows, DAILY_SERIES), D(2024, 1, 8)).first()
    assert stats.n_obs == 8
    assert stats.adi == pytest.approx(4.0)
    assert stats.cv2 == pytest.approx(1 / 9)
    assert stats.mean_daily == pytest.approx(1.5)
    assert stats.annual_units == pytest.approx(12 * 365 / 8)
    assert stats.last_sale_date == D(2024, 1, 5)
