"""SeriesBatch: the one gap-free block every Python-side stage reads (no Spark needed)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from skuplan.series.batch import SeriesBatch, epoch_day

INTS, FLOATS, BOOLS = pa.list_(pa.int32()), pa.list_(pa.float64()), pa.list_(pa.bool_())


def _table() -> pa.Table:
    # B is listed first: the batch orders series by (item_id, region_id) whatever order Spark delivers
    return pa.table({
        "item_id": ["B", "A", "C"], "region_id": ["R", "R", "R"],
        "first_day": pa.array([1, 5, None], pa.int32()),  # C: no day up to the cutoff
        "day": pa.array([[8], [5, 7], []], INTS), "units": pa.array([[3.0], [1.0, 2.0], []], FLOATS),
        "price": pa.array([[1.0], [None, 2.5], []], FLOATS),
        "stockout": pa.array([[False], [True, None], []], BOOLS),
    })  # fmt: skip


def test_absent_days_filled_from_first_day_or_window_start():
    batch = SeriesBatch.from_arrow(_table(), cutoff_day=8, window_days=5)
    assert batch.keys["item_id"].tolist() == ["A", "B", "C"]
    # window = days 4..8: A starts on its first day (5); B started before the window, so at its start (4);
    # C has no day: one placeholder day, the cutoff, with unknown units
    assert (batch.day0, batch.n_days, batch.cutoff_day) == (4, 5, 8)
    assert batch.start.tolist() == [1, 0, 4]
    nan = np.nan
    np.testing.assert_array_equal(batch.units.T, [[nan, 1, 0, 2, 0], [0, 0, 0, 0, 3], [nan] * 5])
    np.testing.assert_array_equal(batch.values["price"].T[:2], [[nan, nan, nan, 2.5, nan], [nan] * 4 + [1.0]])
    assert batch.values["stockout"].T[:2].tolist() == [[False, True, False, False, False], [False] * 5]


def test_without_a_window_the_whole_history_is_kept():
    batch = SeriesBatch.from_arrow(_table(), cutoff_day=8, window_days=None)
    assert batch.day0 == 1 and batch.units[:, 1].tolist() == [0.0] * 7 + [3.0]


def test_from_long_gives_the_same_blocks_as_from_arrow():
    rows = [("B", "R", 1, 0.0, np.nan, False), ("B", "R", 8, 3.0, 1.0, False), ("A", "R", 5, 1.0, np.nan, True),
            ("A", "R", 7, 2.0, 2.5, False)]
    frame = pd.DataFrame(rows, columns=["item_id", "region_id", "day", "units", "price", "stockout"])
    frame["date"] = pd.Timestamp("1970-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")
    cutoff = dt.date(1970, 1, 9)
    assert epoch_day(cutoff) == 8
    got = SeriesBatch.from_long(frame, cutoff, window_days=4)
    want = SeriesBatch.from_arrow(_table().slice(0, 2), 8, 4)  # the same two series
    assert got.keys.equals(want.keys)
    np.testing.assert_array_equal(got.units, want.units)
    np.testing.assert_array_equal(got.values["price"], want.values["price"])


def test_last_days_pads_subset_trims_positions_find():
    batch = SeriesBatch.from_arrow(_table(), cutoff_day=8, window_days=5)
    padded = batch.last_days(7)
    assert padded.shape == (7, 3) and np.isnan(padded[:2]).all()
    np.testing.assert_array_equal(padded[2:], batch.units)
    only_a = batch.subset(np.array([0]))
    assert only_a.keys["item_id"].tolist() == ["A"] and only_a.day0 == 5 and only_a.units[:, 0].tolist() == [1, 0, 2, 0]
    keys = pd.DataFrame({"item_id": ["C", "Z", "A"], "region_id": ["R", "R", "R"]})
    assert batch.positions(keys).tolist() == [2, -1, 0]


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_batches(rows):
    batch = SeriesBatch.from_arrow(_table().slice(2, rows), cutoff_day=8, window_days=5)
    assert batch.n_series == rows and batch.cutoff_day == 8
