"""ABC/XYZ, demand classes, features and k-means segmentation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inventory_helpers import as_batch, history
from skuplan.inventory import InventoryConfig, abc_class, abc_xyz, kmeans_segments, xyz_class
from skuplan.inventory.segments import (
    cum_share_before,
    demand_class,
    features_from_array,
    segment_features,
    silhouette,
)


def test_abc_uses_share_of_series_ranked_above():
    value = [500.0, 300.0, 100.0, 60.0, 40.0]  # total 1000
    before = cum_share_before(value)
    np.testing.assert_allclose(before, [0.0, 0.5, 0.8, 0.9, 0.96])
    assert list(abc_class(before, (0.8, 0.95))) == ["A", "A", "B", "B", "C"]
    # one dominant series is still A
    assert abc_class(cum_share_before([900.0, 50.0, 50.0]))[0] == "A"
    assert list(cum_share_before([0.0, 0.0])) == [0.0, 0.0]


def test_xyz_and_demand_class():
    assert list(xyz_class([0.2, 0.5, 0.7, 1.0, 1.5, np.nan, np.inf])) == ["X", "X", "Y", "Y", "Z", "Z", "Z"]
    got = demand_class([1.0, 1.0, 2.0, 2.0], [0.1, 0.9, 0.1, 0.9])
    assert list(got) == ["smooth", "erratic", "intermittent", "lumpy"]


def test_abc_xyz_frame():
    df = pd.DataFrame({"item_id": list("abc"), "region_id": "r", "mean_daily_demand": [10.0, 3.0, 0.1],
                       "unit_cost": [10.0, 5.0, 1.0], "xyz_cv": [0.1, 0.8, 2.0]})  # fmt: skip
    out = abc_xyz(df, InventoryConfig())
    assert list(out["segment"]) == ["AX", "BY", "CZ"]
    assert out["annual_value"].iloc[0] == pytest.approx(36500.0)


def test_features_by_construction():
    weeks = 26
    seasonal = np.tile([1, 1, 1, 1, 1, 5, 5], weeks) * 1.0
    flat = np.full(7 * weeks, 3.0)
    rising = np.linspace(1, 10, 7 * weeks)
    sparse = np.zeros(7 * weeks)
    sparse[::5] = [1, 9] * (len(sparse[::5]) // 2) + [1] * (len(sparse[::5]) % 2)
    f = features_from_array(np.stack([seasonal, flat, rising, sparse]))
    assert f.loc[0, "seasonal_strength"] == pytest.approx(1.0) and f.loc[1, "seasonal_strength"] == 0.0
    assert f.loc[1, "cv"] == 0.0 and f.loc[1, "trend"] == 0.0 and f.loc[2, "trend"] > 0
    assert f.loc[3, "adi"] == pytest.approx(182 / 37) and f.loc[3, "demand_class"] == "lumpy"
    assert f.loc[1, "demand_class"] == "smooth"


def test_segment_features_read_the_window_of_a_batch_from_the_first_sale():
    # 28 days to the cutoff; "late" starts 10 days before it, "neg" has returns (negative units count as 0).
    hist = pd.concat([
        history({"full": list(np.arange(1.0, 29.0))}), history({"late": [3.0] * 10}, start="2025-01-19"),
        history({"neg": [2.0, -5.0] * 14}),
    ])  # fmt: skip
    out = segment_features(as_batch(hist), window_days=21, bucket_days=7)
    assert list(out["item_id"]) == ["full", "late", "neg"] and (out["region_id"] == "r1").all()
    x = np.zeros((3, 21))
    x[0], x[1, -10:], x[2] = np.arange(8.0, 29.0), 3.0, [0.0, 2.0] * 10 + [0.0]
    pd.testing.assert_frame_equal(out.drop(columns=["item_id", "region_id"]), features_from_array(x, 7))
    year = segment_features(as_batch(hist))  # window longer than the history: counted from the first sale
    assert year.loc[0, "volume"] == pytest.approx(406.0 / 28)


def test_new_item_is_classed_from_its_first_sale_not_zero_padded():
    # 304 days before launch, then 60 days alternating 4 / 6 units (mean 5): ADI 1, CV^2 of sizes 0.04,
    # weekly totals 34 / 36 alternating over the 8 whole weeks since launch -> CV 1/35 * sqrt(8/7) -> X.
    launch = np.r_[np.zeros(304), np.tile([4.0, 6.0], 30)]
    # every other day 3 units after launch (ADI 2) and a row that never sold.
    sparse = np.r_[np.zeros(304), np.tile([3.0, 0.0], 30)]
    f = features_from_array(np.stack([launch, sparse, np.zeros(364)]), 7)
    assert f.loc[0, "volume"] == pytest.approx(5.0) and f.loc[0, "adi"] == 1.0
    assert f.loc[0, "cv2"] == pytest.approx(0.04) and f.loc[0, "demand_class"] == "smooth"
    assert f.loc[0, "xyz_cv"] == pytest.approx(np.sqrt(8 / 7) / 35)
    assert f.loc[1, "adi"] == 2.0 and f.loc[1, "demand_class"] == "intermittent"
    assert f.loc[2, "volume"] == 0.0 and np.isinf(f.loc[2, "adi"]) and np.isinf(f.loc[2, "xyz_cv"])
    # zero-padded (the old rule) it read ADI 364 / 60 = 6.1: intermittent, and weekly CV > 1: Z


def test_silhouette_hand_computed():
    # 1-D points {0, 1} and {5}: a(0)=1, b(0)=5 -> 0.8; a(1)=1, b(1)=4 -> 0.75; singleton -> 0.
    x = np.array([[0.0], [1.0], [5.0]])
    assert silhouette(x, np.array([0, 0, 1])) == pytest.approx((0.8 + 0.75 + 0.0) / 3)


def test_kmeans_finds_separated_groups_and_labels_hot_cold():
    rng = np.random.default_rng(1)
    n = 40
    groups = [  # volume, cv, adi, trend, seasonal_strength
        (200.0, 0.2, 1.0, 0.0, 0.6), (5.0, 1.5, 6.0, 0.0, 0.1), (50.0, 0.5, 1.2, 0.3, 0.3),
    ]  # fmt: skip
    rows = []
    for g, (v, cv, adi, tr, ss) in enumerate(groups):
        for i in range(n):
            rows.append(dict(item_id=f"{g}-{i}", region_id="r", volume=v * rng.lognormal(0, 0.05),
                             cv=cv + rng.normal(0, 0.02), adi=adi * rng.lognormal(0, 0.02),
                             trend=tr + rng.normal(0, 0.01), seasonal_strength=ss + rng.normal(0, 0.01)))  # fmt: skip
    feats = pd.DataFrame(rows)
    out = kmeans_segments(feats, (2, 6), seed=3)
    assert out["k"].iloc[0] == 3 and out["silhouette"].iloc[0] > 0.7
    truth = feats["item_id"].str[0]
    assert pd.crosstab(truth, out["cluster"]).gt(0).sum(axis=1).eq(1).all()  # each group in one cluster
    by_group = out.groupby(truth)[["cluster", "cluster_label"]].first()
    assert by_group.loc["0", "cluster"] == 0 and by_group.loc["0", "cluster_label"] == "hot"
    assert by_group.loc["1", "cluster_label"] == "cold"
    again = kmeans_segments(feats, (2, 6), seed=3)
    assert again["cluster"].equals(out["cluster"])  # seeded: same clusters every run
