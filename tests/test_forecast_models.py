"""Models against exact or hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from skuplan.forecast.classify import demand_class
from skuplan.forecast.models import SBA, TSB, Croston, MovingAverage, Regression, SeasonalNaive

Y = [0, 3, 0, 0, 5, 0, 2]


def test_seasonal_naive_repeats_last_week():
    week = np.arange(1.0, 8.0)
    out = SeasonalNaive(7).fit(np.tile(week, 5)[2:]).predict(10)["yhat"]
    # history ends on week[6] (value 7): the forecast continues 1, 2, ... 7, 1, 2, 3
    np.testing.assert_array_equal(out, np.tile(week, 2)[:10])


def test_moving_average_and_missing_days():
    np.testing.assert_allclose(MovingAverage(3).fit([1, 2, 3, 4, 5]).predict(2)["yhat"], [4, 4])
    # a missing (NaN) day takes the last same-weekday value (weekday = position mod 7 here)
    y = np.r_[np.arange(1.0, 8.0), np.nan]
    assert MovingAverage(1).fit(y).predict(1)["yhat"][0] == 1.0


def test_croston_sba_hand_computed():
    # alpha 0.5. demand at t=1 (q=2): z=3, p=2; t=4 (q=3): z=4, p=2.5; t=6 (q=2): z=3, p=2.25
    assert Croston(0.5).fit(Y).predict(3)["yhat"] == pytest.approx([3 / 2.25] * 3)
    assert SBA(0.5).fit(Y).predict(1)["yhat"][0] == pytest.approx(0.75 * 3 / 2.25)


def test_tsb_hand_computed():
    # first demand t=1: prob=1/2, z=3; then prob: .25, .125, .5625 (z=4), .28125, .640625 (z=3)
    assert TSB(0.5, 0.5).fit(Y).predict(2)["yhat"] == pytest.approx([0.640625 * 3] * 2)


def test_tsb_decays_on_dying_item_croston_does_not():
    alive = [5.0] * 20
    levels = [TSB(0.1, 0.1).fit(alive + [0.0] * k).predict(1)["yhat"][0] for k in (0, 10, 20, 40)]
    assert all(a > b for a, b in zip(levels, levels[1:], strict=False))
    assert levels[-1] < 0.1 * levels[0]
    assert Croston(0.1).fit(alive + [0.0] * 40).predict(1)["yhat"][0] == pytest.approx(5.0)


def test_intermittent_no_demand_is_zero():
    assert Croston().fit(np.zeros(30)).predict(2)["yhat"].tolist() == [0, 0]
    assert TSB().fit(np.zeros(30)).predict(1)["yhat"][0] == 0


def test_constructor_messages_name_the_range():
    with pytest.raises(ValueError, match=r"alpha must be in \(0.0, 1.0\], got 1.5"):
        Croston(1.5)
    with pytest.raises(ValueError, match=r"beta must be in \(0.0, 1.0\], got 0"):
        TSB(0.1, 0)
    with pytest.raises(ValueError, match=r"season_length must be in \[1, 366\], got 0"):
        SeasonalNaive(0)
    with pytest.raises(ValueError, match=r"ridge_alpha must be in \[0, inf\], got -1"):
        Regression(ridge_alpha=-1)


def test_regression_recovers_noiseless_trend_and_weekday():
    dates = pd.date_range("2022-01-01", periods=730 + 28, freq="D")
    t = np.arange(len(dates))
    weekday = np.array([0.0, 0.1, 0.2, 0.3, 0.2, 0.5, 0.6])[dates.dayofweek]
    truth = np.expm1(1.5 + 0.001 * t + weekday)  # exact in the model's log1p space
    y = pd.Series(truth[:730], index=dates[:730])
    out = Regression(ridge_alpha=1e-7, n_changepoints=3).fit(y).predict(28)["yhat"]
    np.testing.assert_allclose(out, truth[730:], rtol=1e-5)


def test_regression_linear_transform_recovers_trend():
    dates = pd.date_range("2023-01-01", periods=400, freq="D")
    truth = 50 + 0.05 * np.arange(400) + np.array([0, 1, 2, 3, 4, 8, 9.0])[dates.dayofweek]
    y = pd.Series(truth[:372], index=dates[:372])
    out = Regression(ridge_alpha=1e-7, transform="none").fit(y).predict(28)["yhat"]
    np.testing.assert_allclose(out, truth[372:], rtol=1e-6)


def test_demand_class_quadrants():
    smooth = np.full(100, 10.0)
    erratic = np.tile([1.0, 30.0], 50)
    intermittent = np.tile([0.0, 0.0, 5.0], 34)[:100]
    lumpy = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 40.0], 17)[:100]
    y = np.column_stack([smooth, erratic, intermittent, lumpy])
    assert demand_class(y).tolist() == ["smooth", "erratic", "intermittent", "lumpy"]


def test_gram_by_mask_matches_direct_product():
    from skuplan.forecast.regression import gram_by_mask

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    M = np.arange(60)[:, None] >= np.array([0, 10, 10, 59, 60])[None, :]  # starts, incl. empty series
    M[[20, 33], 1] = False  # stockout holes
    G = gram_by_mask(X, M)
    for i in range(M.shape[1]):
        np.testing.assert_allclose(G[i], X[M[:, i]].T @ X[M[:, i]], atol=1e-10)
