"""Model selection shrunk to the class winner, the optional ensemble, and the cold-start launch growth."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from forecast_helpers import CUTOFF, noisy_batch, series_frame, to_batch
from skuplan.forecast import backtest as bt
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch

NAMES = ["moving_average", "regression"]  # complexity order: index 0 = moving_average, 1 = regression


def _fold_err(rows):
    """rows: per series (moving_average folds, regression folds) -> (models, folds, n)."""
    return np.array([[ma for ma, _ in rows], [rg for _, rg in rows]], dtype=float).transpose(0, 2, 1)


def test_select_shrunk_keeps_class_winner_unless_clearly_better():
    rows = [
        ([10, 10, 10], [5, 5, 5]),  # 0: regression better
        ([10, 10, 10], [5, 5, 5]),  # 1: regression better
        ([4, 5, 5], [5, 5, 5]),  # 2: flat wins one noisy fold: 14 vs 15 is not 10% better
        ([3, 3, 3], [5, 5, 5]),  # 3: 9 < 0.9 * 15 and better in every fold: keeps its own best
        ([1, 1, 8], [5, 5, 5]),  # 4: 10 < 13.5 in total but worse in the last fold
        ([6, 6, 6], [np.inf, 5, 5]),  # 5: the winner failed on it: its own best
        ([1, 1, 1], [2, 2, 2]),  # 6: another class, where moving_average wins the pooled comparison
    ]
    err = _fold_err(rows)
    groups = np.array(["smooth"] * 6 + ["lumpy"], dtype=object)
    # pooled over the smooth series every model scored (0-4): moving_average 93 vs regression 75
    got = bt.select_shrunk(err, groups, NAMES, margin=0.1)
    np.testing.assert_array_equal(got, [1, 1, 1, 0, 1, 0, 0])
    # the plain per-series argmin takes the flat model for every series where it is lower in total
    plain = bt.select(np.where(np.isfinite(err.sum(1)), err.sum(1), np.nan), NAMES)
    np.testing.assert_array_equal(plain, [1, 1, 0, 0, 0, 0, 0])


def test_select_shrunk_not_scored_and_ties():
    nan = np.nan
    # series 0 has no scores at all; series 1 and 2 tie in the pool -> the simpler model wins the class
    err = _fold_err([([nan] * 3, [nan] * 3), ([2, 2, 2], [1, 2, 3]), ([1, 2, 3], [2, 2, 2])])
    got = bt.select_shrunk(err, np.array(["smooth"] * 3, dtype=object), NAMES, margin=0.1)
    np.testing.assert_array_equal(got, [-1, 0, 0])
    # a fold one model did not take part in is ignored by the every-fold test, not counted as a loss
    err = _fold_err([([nan, 1, 1], [nan, 5, 5]), ([9, 9, 9], [1, 1, 1]), ([9, 9, 9], [1, 1, 1])])
    got = bt.select_shrunk(err, np.array(["smooth"] * 3, dtype=object), NAMES, margin=0.1)
    np.testing.assert_array_equal(got, [0, 1, 1])


def test_engine_selection_modes_agree_with_backtest_functions():
    hist = noisy_batch(n=12, seed=5)
    per = forecast_batch(to_batch(hist), ForecastConfig(selection="per_series"))
    shr = forecast_batch(to_batch(hist), ForecastConfig())
    for res in (per, shr):  # metrics and status name the same selected model
        sel = res.metrics[res.metrics["selected"]].groupby(["item_id", "region_id"])["model"].first()
        assert (res.status.set_index(["item_id", "region_id"])["model"] == sel).all()
    # per_series: the selected model has the lowest total backtest absolute error of its series, which is
    # sum_k wape_k * (units of fold k): fold k scores the 28 days (the horizon) after cut-off
    # cutoff - 28 - step * (folds - 1 - k), oldest first
    cfg = ForecastConfig()
    B, step = cfg.backtest, cfg.backtest_step
    fold_units = {}
    for k in range(B.folds):
        first = CUTOFF - pd.Timedelta(days=28 + step * (B.folds - 1 - k) - 1)
        days = hist[(hist["date"] >= first) & (hist["date"] < first + pd.Timedelta(days=28))]
        for key, u in days.groupby(["item_id", "region_id"])["units"]:
            fold_units.setdefault(key, {})[k] = u.sum()
    m = per.metrics.copy()
    m["abs_err"] = [
        w * fold_units[(i, r)][k]
        for i, r, k, w in m[["item_id", "region_id", "fold", "wape"]].itertuples(False)
    ]
    best = m.groupby(["item_id", "region_id", "model"])["abs_err"].sum().unstack().idxmin(axis=1)
    chosen = per.status.set_index(["item_id", "region_id"])["model"]
    assert (chosen == best.reindex(chosen.index)).all()
    # class_shrunk overrides some of those noisy per-series picks on this batch
    st = shr.status.set_index(["item_id", "region_id"])
    assert (st["model"] != chosen).sum() > 0


def test_ensemble_is_the_mean_of_its_members():
    hist = noisy_batch()
    cfg = ForecastConfig(model="ensemble", ensemble_members=["regression", "tsb"])
    ens = forecast_batch(to_batch(hist), cfg)
    reg = forecast_batch(to_batch(hist), ForecastConfig(model="regression")).forecasts["yhat"]
    tsb = forecast_batch(to_batch(hist), ForecastConfig(model="tsb")).forecasts["yhat"]
    np.testing.assert_array_equal(ens.forecasts["yhat"], (reg + tsb) / 2)
    assert set(ens.status["model"]) == {"ensemble"} and set(ens.status["status"]) == {"ok"}
    # its own backtest (one row per fold and series) and conformal interval around its own forecast
    assert len(ens.metrics) == 6 * ForecastConfig().backtest.folds and set(ens.metrics["model"]) == {
        "ensemble"
    }
    assert (ens.forecasts["q95"] > ens.forecasts["q05"]).any()


def test_ensemble_members_validated():
    with pytest.raises(ValidationError, match="ensemble_members must be fast models"):
        ForecastConfig(ensemble_members=["regression", "prophet"])
    with pytest.raises(ValidationError, match="ensemble_members has unknown models"):
        ForecastConfig(ensemble_members=["magic"])
    assert ForecastConfig(candidates=["regression", "ensemble"]).candidates_for("smooth")[-1] == "ensemble"


def _launch_batch(first: float, later: float, n_launched: int = 24) -> pd.DataFrame:
    """One old series from day 0, n_launched series that start later and sell `first` for their first 7
    days and `later` afterwards (a launch curve with a known answer), and a cold series 7 days old."""
    parts = [series_frame("old", np.full(200, 5.0))]
    for j in range(n_launched):
        days = 40 + 3 * j  # >= 7 + 28 days: each one shows the 28 days after its first week
        parts.append(series_frame(f"l{j:02d}", np.r_[np.full(7, first), np.full(days - 7, later)]))
    parts.append(series_frame("new", np.full(7, first)))
    return pd.concat(parts, ignore_index=True)


def test_cold_start_learns_the_launch_growth_of_the_batch():
    res = forecast_batch(to_batch(_launch_batch(2.0, 6.0)), ForecastConfig())
    st = res.status.set_index("item_id")
    assert st.loc["new", "model"] == "mean"
    # launched series sold 2/day in their first week and 6/day in the next 28 days: growth 3, so 2 * 3
    yhat = res.forecasts.query("item_id == 'new'")["yhat"]
    np.testing.assert_allclose(yhat, 6.0)
    # a decline is not learned (growth is floored at 1): the cold series keeps its own mean
    yhat = forecast_batch(to_batch(_launch_batch(6.0, 2.0)), ForecastConfig()).forecasts.query(
        "item_id == 'new'"
    )
    np.testing.assert_allclose(yhat["yhat"], 6.0)
    # too few launched series to learn from: no growth
    few = forecast_batch(to_batch(_launch_batch(2.0, 6.0, n_launched=5)), ForecastConfig()).forecasts
    np.testing.assert_allclose(few.query("item_id == 'new'")["yhat"], 2.0)
