"""Prepare stage: channel aggregation, series statistics and the one-row-per-series lists (hand-computed)."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from skuplan.schemas import DAILY_SERIES
from skuplan.series.spark import aggregate_channels, series_stats

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


def test_series_stats_count_absent_days_as_zero_sales(spark):
    """Prepare hands series_stats the daily aggregate WITHOUT a calendar fill: a day with no row is a day with
    no sale. Same series as the by-hand test, only the first day's row kept among the zero days."""
    units = {0: 0.0, 1: 4.0, 4: 8.0}  # days 2, 3, 5, 6, 7 (0-based) have no row at all
    rows = [("A", "R1", D(2024, 1, 1) + dt.timedelta(days=i), u, 0.0, None, False) for i, u in units.items()]
    daily = spark.createDataFrame(rows, DAILY_SERIES)
    stats = series_stats(daily, D(2024, 1, 8)).first()
    assert stats.n_obs == 8 and stats.first_date == D(2024, 1, 1)
    assert stats.adi == pytest.approx(4.0) and stats.cv2 == pytest.approx(1 / 9)
    assert stats.mean_daily == pytest.approx(1.5)
    # sample std of 0,4,0,0,8,0,0,0: sum of squares 80, n*mean^2 = 18 -> variance 62/7
    assert stats.std_daily == pytest.approx((62 / 7) ** 0.5)
    # a 4-day window sees 8,0,0,0: mean 2, variance (64 - 16)/3 = 16, one non-zero day -> ADI 4, CV² 0
    recent = series_stats(daily, D(2024, 1, 8), window_days=4).first()
    assert (recent.mean_daily, recent.std_daily, recent.adi, recent.cv2) == pytest.approx((2.0, 4.0, 4.0, 0.0))
    assert recent.n_obs == 8 and recent.annual_units == pytest.approx(8 * 365 / 4)
    # and the gap-filled frame gives the same numbers
    zeros = [("A", "R1", D(2024, 1, 1) + dt.timedelta(days=i), 0.0, 0.0, None, False) for i in (2, 3, 5, 6, 7)]
    filled = series_stats(spark.createDataFrame(rows + zeros, DAILY_SERIES), D(2024, 1, 8)).first()
    for name, value in stats.asDict().items():
        assert filled[name] == (pytest.approx(value) if isinstance(value, float) else value), name


def test_series_arrays_round_trip_window_and_empty_series(spark):
    """One row per series, days ascending inside the window; unpacked into the gap-free blocks exactly."""
    import numpy as np
    import pyarrow as pa

    from skuplan.series.batch import SeriesBatch
    from skuplan.series.spark import series_arrays

    cutoff = D(2024, 1, 10)
    daily = spark.createDataFrame(
        [
            ("A", "R1", D(2024, 1, 9), 2.0, 0.0, 3.0, False),
            ("A", "R1", D(2024, 1, 7), 5.0, 1.0, None, True),
            ("A", "R1", D(2024, 1, 1), 9.0, 0.0, 3.0, False),  # outside a 5-day window
            ("B", "R1", D(2023, 12, 1), 4.0, 0.0, 1.0, False),  # no day inside the window
        ],
        DAILY_SERIES,
    )
    rows = {r.item_id: r for r in series_arrays(daily, cutoff, max_history_days=5).collect()}
    epoch = D(1970, 1, 1)
    assert rows["A"].day == [(D(2024, 1, 7) - epoch).days, (D(2024, 1, 9) - epoch).days]
    assert rows["A"].units == [5.0, 2.0] and rows["A"].price == [None, 3.0] and rows["A"].stockout == [True, False]
    assert rows["B"].day == []

    table = pa.Table.from_pylist([r.asDict() for r in sorted(rows.values(), key=lambda r: r.item_id)])
    batch = SeriesBatch.from_arrow(table, (cutoff - epoch).days, 5)
    assert batch.keys["item_id"].tolist() == ["A", "B"]
    assert batch.day0 == (D(2024, 1, 6) - epoch).days and batch.n_days == 5  # the 5-day window, 6th to 10th
    # A: first day before the window -> starts with it; 7th and 9th sold, the other days zero.
    # B sold before the window only: five known zero-sale days (a series with no day at all up to the cutoff
    # would keep one placeholder day with unknown units instead: see test_series_batch.py)
    np.testing.assert_array_equal(batch.units, [[0, 0], [5, 0], [0, 0], [2, 0], [0, 0]])
    assert batch.start.tolist() == [0, 0]
    assert batch.values["stockout"][:, 0].tolist() == [False, True, False, False, False]


def test_one_item_with_100x_rows_is_bounded_per_bucket(spark):
    """An item with 100x the raw rows of the others (100 channels a day, 30 years) forecasts fine, and what a
    bucket holds is bounded: one row per series-day after the channel sum, at most max_history_days days."""
    import pandas as pd

    from skuplan.forecast.config import ForecastConfig
    from skuplan.series.spark import series_arrays
    from stage_helpers import run_forecast

    cutoff = D(2024, 12, 31)
    short = pd.date_range(end=cutoff, periods=3 * 365, freq="D")
    rows = [(f"S{k}", "R1", d.date(), float(1 + (d.dayofweek == 5)), "web", 2.0, 0.0, False)
            for k in range(3) for d in short]
    long_days = pd.date_range(end=cutoff, periods=30 * 365, freq="D")
    sales = spark.createDataFrame(rows, "item_id string, region_id string, date date, units double, "
                                        "channel string, price double, promo double, stockout boolean")
    big = (
        spark.createDataFrame(pd.DataFrame({"date": long_days.date}))
        .crossJoin(spark.range(10).withColumnRenamed("id", "c"))
        .selectExpr("'BIG' as item_id", "'R1' as region_id", "date", "1.0 as units",
                    "concat('ch', c) as channel", "2.0 as price", "0.0 as promo", "false as stockout")
    )
    sales = sales.unionByName(big)
    assert sales.where("item_id = 'BIG'").count() == 100 * sales.where("item_id = 'S0'").count()
    cfg = ForecastConfig(horizon_days=7, max_history_days=730)
    arrays = series_arrays(aggregate_channels(sales), cutoff, cfg.max_history_days)
    lengths = {r.item_id: r.n for r in arrays.selectExpr("item_id", "size(day) as n").collect()}
    assert lengths == {"S0": 730, "S1": 730, "S2": 730, "BIG": 730}
    forecasts, status_df, _ = run_forecast(spark, arrays, cfg, cutoff, n_series=4, series_per_bucket=2)
    status = {r.item_id: r.status for r in status_df.collect()}
    assert status == {"S0": "ok", "S1": "ok", "S2": "ok", "BIG": "ok"}
    big_fc = [r.yhat for r in forecasts.where("item_id = 'BIG'").collect()]
    assert len(big_fc) == 7 and all(abs(y - 10.0) < 0.5 for y in big_fc)  # 10 channels x 1 unit a day


def test_outlier_days_lower_median_and_minimum_count():
    """Flags from the day lists (numpy, no Spark): the threshold is factor x the series' lower median non-zero day
    (the ceil(k/2)-th smallest of k, as Spark's percentile_approx(0.5) gives), zeros ignored, and a series with
    fewer than 5 non-zero days is never flagged."""
    import numpy as np

    from skuplan.series.window_stats import outlier_days

    # series 0: non-zero 2, 4, 6, 8, 100 (and a zero day): k=5, median = 3rd smallest = 6, threshold 6 x 10 = 60
    # series 1: non-zero 1, 2, 3, 4, 5, 70: k=6, lower median = 3rd smallest = 3, threshold 30: only 70 flagged
    # series 2: four non-zero days, one huge: too few to judge
    units = [2, 0, 4, 6, 8, 100, 1, 2, 3, 4, 5, 70, 1, 1, 1, 900]
    offsets = np.array([0, 6, 12, 16])
    day = np.array([10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13])
    rows, days, values, threshold = outlier_days(offsets, day, np.array(units, dtype=float), factor=10.0)
    assert rows.tolist() == [0, 1] and days.tolist() == [15, 15]
    assert values.tolist() == [100.0, 70.0] and threshold.tolist() == [60.0, 30.0]


def test_window_stats_by_hand_with_a_day_outside_the_window():
    """The statistics of the lists (numpy): only the last `window_days` days count, first_day (whole history) sets
    the day count. Days 0..9, window 4 (days 6..9): units 5 on day 1 (outside), 0, 3, absent, 9 inside."""
    import numpy as np

    from skuplan.series.window_stats import window_stats

    got = window_stats(np.array([0]), np.array([0, 4]), np.array([1, 6, 7, 9]), np.array([5.0, 0.0, 3.0, 9.0]),
                       cutoff_day=9, window_days=4)
    # window 0, 3, 0, 9: mean 3, sample variance (0 + 9 + 0 + 81 - 4 * 9) / 3 = 18; non-zero 3 and 9: mean 6,
    # population sd 3 -> CV² 0.25; ADI 4 / 2; 12 units in 4 days -> 1095 a year
    assert got["n_obs"].tolist() == [10]
    assert got["mean_daily"][0] == 3.0 and got["std_daily"][0] == np.sqrt(18.0)
    assert got["adi"][0] == 2.0 and got["cv2"][0] == 0.25 and got["annual_units"][0] == 1095.0
