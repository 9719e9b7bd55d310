"""Forecast-error profile: sigma of h-day error sums = sigma_1 * h^gamma, on residuals with a known answer,
and its columns in the engine's status frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast_helpers import CUTOFF, noisy_batch, series_frame, to_batch
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.forecast.error_profile import MIN_POOL, error_profile, window_mse


def _classes(n, name="smooth"):
    return np.full(n, name, dtype=object)


def test_iid_residuals_give_sqrt_h():
    # Independent days: Var(sum of h) = h sigma^2 -> gamma = 0.5, sigma_1 = sigma.
    rng = np.random.default_rng(0)
    n = 3000
    R = rng.normal(0.0, 2.0, (3, 28, n))
    p = error_profile(R, np.ones(n), _classes(n))
    assert p.exponent == pytest.approx(np.full(n, 0.5), abs=0.01)
    # sigma_1 per series from 3 folds is noisy; its root mean square is the true sigma.
    assert np.sqrt(np.mean(p.sigma_1d**2)) == pytest.approx(2.0, rel=0.02)


def test_level_error_shared_by_all_days_gives_h():
    # One error per fold, the same on every day: the h-day sum is h times it -> gamma = 1 exactly.
    rng = np.random.default_rng(1)
    n = 200
    b = rng.normal(0.0, 3.0, (3, 1, n))
    p = error_profile(np.broadcast_to(b, (3, 28, n)).copy(), np.ones(n), _classes(n))
    assert p.exponent == pytest.approx(np.ones(n), abs=1e-9)
    # sigma_1 is the series' own RMS level error (bias included).
    assert p.sigma_1d == pytest.approx(np.sqrt((b[:, 0, :] ** 2).mean(0)), rel=1e-9)


def test_window_sums_by_hand():
    # One fold, 3 days of errors 1, 2, 3; window starts 0..6 (only the ones that fit).
    R = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    mse, cnt = window_mse(R)
    assert cnt[:, 0].tolist() == [3, 2, 1]
    assert mse[:, 0] == pytest.approx([(1 + 4 + 9) / 3, (9 + 25) / 2, 36.0])


def test_classes_pool_separately_and_small_classes_borrow():
    rng = np.random.default_rng(2)
    n_iid, n_level, n_small = 400, 400, MIN_POOL - 1
    iid = rng.normal(0.0, 1.0, (3, 28, n_iid + n_small))
    level = np.broadcast_to(rng.normal(0.0, 1.0, (3, 1, n_level)), (3, 28, n_level))
    R = np.concatenate([iid, level], axis=2)
    groups = np.array(["smooth"] * n_iid + ["lumpy"] * n_small + ["erratic"] * n_level, dtype=object)
    # normalised by scale, so the pools do not depend on each series' size
    scale = rng.uniform(0.5, 5.0, R.shape[2])
    p = error_profile(R * scale, scale, groups)
    g = pd.Series(p.exponent).groupby(groups).first()
    assert g["smooth"] == pytest.approx(0.5, abs=0.02) and g["erratic"] == pytest.approx(1.0, abs=1e-6)
    # too few lumpy series for a shape of their own: the batch-wide exponent, between the two
    assert 0.5 < g["lumpy"] < 1.0


def test_series_without_residuals_get_nan():
    R = np.random.default_rng(3).normal(size=(3, 28, 5))
    R[:, :, 2] = np.nan
    p = error_profile(R, np.ones(5), _classes(5))
    assert np.isnan(p.sigma_1d[2]) and np.isnan(p.exponent[2])
    assert np.isfinite(np.delete(p.sigma_1d, 2)).all()


def test_engine_status_has_the_profile_of_the_chosen_model():
    cold = series_frame("cold", np.full(10, 4.0), region="r9", cutoff=CUTOFF)
    hist = pd.concat([noisy_batch(n=6, days=200), cold], ignore_index=True)
    res = forecast_batch(to_batch(hist), ForecastConfig())
    st = res.status.set_index("item_id")
    ok = st["status"] == "ok"
    assert ok.sum() >= 5
    assert (st.loc[ok, "err_sigma_1d"] >= 0).all() and np.isfinite(st.loc[ok, "err_sum_exponent"]).all()
    # cold start: no backtest residuals -> null, the plan falls back to the band / demand sigma
    assert np.isnan(st.loc["cold", "err_sigma_1d"]) and np.isnan(st.loc["cold", "err_sum_exponent"])
    # Each series' own backtest sets its amplitude: the busy series (levels 25 and 12) err far more than
    # the slow ones (0.3 and 0.1).
    busy, slow = st.loc[["item02", "item05"], "err_sigma_1d"], st.loc[["item01", "item04"], "err_sigma_1d"]
    assert busy.min() > 5 * slow.max()
