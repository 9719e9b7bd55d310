"""Issue 15: selection on hand-made cases, future regressors (planned, else expected), calibrated intervals.

Pure pandas/numpy (forecast_batch without Spark); the fold-horizon test is in test_forecast_engine.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast_helpers import series_frame, to_batch
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.forecast.panel import PROMO_RATE_DAYS, build_panel, expected_promo
from skuplan.sample.profiles import profile_data

KEYS = ["item_id", "region_id"]
INTERMITTENT_MODELS = {"sba", "tsb", "croston", "global_gbm", "lstm"}


def test_selection_seasonal_series_gets_a_seasonal_model_lumpy_one_an_intermittent_one():
    rng = np.random.default_rng(0)
    days = 3 * 365
    t = np.arange(days)
    parts = []
    # A strong yearly cycle (x e^{+-0.6}) and a weekend lift: only regression models the year.
    for i in range(3):
        mu = 20 * np.exp(0.6 * np.sin(2 * np.pi * t / 365.25 + i)) * np.where(t % 7 >= 5, 1.4, 1.0)
        parts.append(series_frame(f"seasonal{i}", rng.poisson(mu).astype(float)))
    for i in range(3):  # a sale on ~8% of days, sizes from 1 to dozens: lumpy
        sale = rng.random(days) < 0.08
        size = 1 + rng.negative_binomial(0.5, 0.5 / (0.5 + 8), days)
        parts.append(series_frame(f"lumpy{i}", np.where(sale, size, 0).astype(float)))
    res = forecast_batch(to_batch(pd.concat(parts)), ForecastConfig(horizon_days=90))
    st = res.status.set_index("item_id")
    for i in range(3):
        assert st.loc[f"seasonal{i}", "model"] == "regression", st.loc[f"seasonal{i}"]
        assert st.loc[f"lumpy{i}", "demand_class"] in ("intermittent", "lumpy")
        assert st.loc[f"lumpy{i}", "model"] in INTERMITTENT_MODELS, st.loc[f"lumpy{i}"]


def _promo_history(days=364, seed=3):
    """Promo windows of 7 days every other week from a random phase: exactly half of all days on promo; promo
    days sell 3x (30 vs 10 units, no noise)."""
    rng = np.random.default_rng(seed)
    phase = int(rng.integers(0, 14))
    promo = (((np.arange(days) + phase) // 7) % 2 == 0).astype(float)
    units = np.where(promo > 0, 30.0, 10.0)
    return series_frame("p", units, promo=promo), promo


def test_future_promo_planned_where_given_else_the_expected_rate():
    hist, promo = _promo_history()
    rate = promo[-PROMO_RATE_DAYS:].mean()
    cfg = ForecastConfig(model="regression")
    none = forecast_batch(to_batch(hist), cfg).forecasts["yhat"].to_numpy()
    # No plan: every horizon day expects promo with the recent rate, E[y] = rate * 30 + (1 - rate) * 10. The
    # old behaviour (promo = 0) forecast 10: the promo effect learned, then assumed away.
    assert none.mean() == pytest.approx(rate * 30 + (1 - rate) * 10, rel=0.08)
    days = pd.date_range(hist["date"].max() + pd.Timedelta(days=1), periods=28)
    plan = np.isin(days.day % 7, [0, 1, 2]).astype(float)
    future = pd.DataFrame({"item_id": "p", "region_id": "r1", "date": days, "promo": plan})
    planned = forecast_batch(to_batch(hist), cfg, future=future).forecasts["yhat"].to_numpy()
    assert planned[plan == 1] == pytest.approx(np.full(int(plan.sum()), 30.0), rel=0.08)
    assert planned[plan == 0] == pytest.approx(np.full(int((plan == 0).sum()), 10.0), rel=0.08)


def test_backtest_folds_use_the_same_rule_without_future_leak():
    hist, promo = _promo_history()
    a = hist.assign(item_id="unplanned")
    b = hist.assign(item_id="planned")
    batch = to_batch(pd.concat([a, b]))
    day1 = hist["date"].max() + pd.Timedelta(days=1)
    future = pd.DataFrame({"item_id": "planned", "region_id": "r1", "date": [day1], "promo": [1.0]})
    panel = build_panel(batch, 28, future)
    ids = list(batch.keys["item_id"])
    j_plan, j_none = ids.index("planned"), ids.index("unplanned")
    end, h = len(promo) - 60, 28
    view = panel.view(end, h)
    # Unplanned: the fold's days get the rate known at the fold's cut-off, from days before it only.
    fold_rate = promo[end - PROMO_RATE_DAYS : end].mean()
    np.testing.assert_allclose(view.promo[end:, j_none], fold_rate)
    np.testing.assert_allclose(expected_promo(promo[:end, None], np.zeros(1, int)), [fold_rate])
    # Planned: the fold's days carry what happened (the plan's analog in the past).
    np.testing.assert_array_equal(view.promo[end:, j_plan], promo[end : end + h])
    # The panel's own horizon: the plan where given (day 1), the cutoff's rate elsewhere.
    assert panel.promo[len(promo), j_plan] == 1.0
    np.testing.assert_allclose(panel.promo[len(promo) + 1 :, j_plan], promo[-PROMO_RATE_DAYS:].mean())
    # History rows are untouched by any view.
    np.testing.assert_array_equal(panel.promo[: len(promo), j_none], promo)


def _holdout_coverage(draw, n=150, days=300, h=28):
    """moving_average fitted on `days` iid days per series, scored on h fresh days of the same law."""
    y = draw((n, days + h))
    hist = pd.concat([series_frame(f"s{i:03d}", y[i, :days]) for i in range(n)])
    res = forecast_batch(to_batch(hist), ForecastConfig(model="moving_average"))
    f = res.forecasts.sort_values(["item_id", "date"])
    q05, q95 = (f[c].to_numpy().reshape(n, h) for c in ("q05", "q95"))
    act = y[:, days:]
    return ((act >= q05 - 1e-9) & (act <= q95 + 1e-9)).mean(), q05, q95


def test_interval_calibration_on_known_quantiles():
    rng = np.random.default_rng(1)
    # Normal(50, 5): the true q05 / q95 are 50 -+ 1.645 * 5; the band may be a bit wider (the level is estimated).
    cover, q05, q95 = _holdout_coverage(lambda s: rng.normal(50.0, 5.0, s))
    z = stats.norm.ppf(0.95) * 5.0
    assert q05.mean() == pytest.approx(50 - z, abs=1.0) and q95.mean() == pytest.approx(50 + z, abs=1.0)
    assert 0.87 <= cover <= 0.93
    # Zero-inflated counts, P(0) = 0.7: q05 must be 0 (it can never be missed), so the whole 10% goes to the
    # upper tail: P(y <= 3) = 0.7 + 0.3 * P(Poisson(2) <= 2) = 0.903 is the central-90% bound, not q95's 4.
    cover, q05, q95 = _holdout_coverage(lambda s: (rng.random(s) < 0.3) * (1 + rng.poisson(2.0, s)))
    assert (q05 == 0).all()
    assert 3.0 <= np.median(q95) < 4.0
    assert 0.87 <= cover <= 0.93


def test_bench_profiles_have_the_documented_shape():
    smooth = profile_data("smooth_yearly", 10, seed=2)
    assert smooth.horizon == 90 and smooth.history["date"].nunique() == 900 - 90
    assert len(smooth.actual) == 10 * 90
    m5 = profile_data("m5_intermittent", 20, seed=2)
    assert (m5.history["units"] == 0).mean() > 0.4  # sparse
    assert m5.history.groupby("item_id")["price"].nunique().min() > 1  # prices move
    promo = profile_data("promo_heavy", 20, seed=2)
    h = promo.history
    assert 0.3 < h["promo"].mean() < 0.5
    lift = h[h["promo"] == 1]["units"].mean() / h[h["promo"] == 0]["units"].mean()
    assert lift > 2.5  # several-fold
    assert set(promo.plan["promo"].unique()) <= {0.0, 1.0} and len(promo.plan) == 20 * 28
    again = profile_data("promo_heavy", 20, seed=2)
    pd.testing.assert_frame_equal(promo.history, again.history)
    with pytest.raises(ValueError, match="profile must be one of"):
        profile_data("weekly", 3)
