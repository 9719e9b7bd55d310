"""Global models (issue 16): global_gbm (LightGBM per partition) and lstm (autograd, the `deep` extra).

Leakage: every feature row built at an origin o must be a function of the days before o only; the tests
perturb every later day and check the rows are bit-for-bit unchanged. Determinism: two fits, identical
forecasts. Isolation: a poison series is left out with its message, and its neighbours get exactly the
forecast they get without it.
"""

import numpy as np
import pandas as pd
import pytest

from forecast_helpers import CUTOFF, noisy_batch, series_frame, to_batch
from skuplan.forecast import features as ft
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.forecast.global_config import GlobalGBMConfig, LSTMConfig
from skuplan.forecast.global_gbm import GlobalGBM
from skuplan.forecast.isolation import MAX_FAILED_FITS, fit_isolated
from skuplan.forecast.panel import build_panel

H = 28
FAST_GBM = GlobalGBMConfig(rounds=30, origins=6)


def _view(frame: pd.DataFrame, h: int = H):
    panel = build_panel(to_batch(frame), h)
    return panel.view(panel.n_hist, h)


def _frame(n: int = 12, days: int = 200, seed: int = 3) -> pd.DataFrame:
    frame = noisy_batch(n, days, seed)
    frame.loc[frame.index % 13 == 0, "promo"] = 1.0
    frame.loc[frame.index % 11 == 0, "price"] = 9.0
    return frame


def _perturb_from(view, o: int, seed: int, missing: bool = True):
    """A copy of the view whose units from day o on are scrambled (other values, some missing)."""
    rng = np.random.default_rng(seed)
    y = view.y.copy()
    tail = rng.gamma(2.0, 50.0, y[o:].shape)
    y[o:] = np.where(rng.random(tail.shape) < 0.2, np.nan, tail) if missing else tail
    return type(view)(**{**view.__dict__, "y": y})


def test_feature_rows_never_read_a_day_at_or_after_their_origin():
    view = _view(_frame())
    cols = np.arange(view.y.shape[1])
    cal = ft.calendar_columns(view)
    steps = np.arange(1, H + 1)
    for o in (view.end - H, view.end - H - 35, 60):
        before = ft.rows_at(view, ft.prefix(view), cal, o, steps, cols)
        moved = _perturb_from(view, o, seed=o)
        after = ft.rows_at(moved, ft.prefix(moved), cal, o, steps, cols)
        np.testing.assert_array_equal(before.X, after.X)
        np.testing.assert_array_equal(before.scale, after.scale)
        # the targets are the days from o on: they must change (the perturbation reached them)
        assert not np.allclose(np.nan_to_num(before.y), np.nan_to_num(after.y))


def test_training_rows_of_each_origin_only_change_with_their_own_future():
    """Rows of origin o_i are unchanged by scrambling days >= o_i; the forecast rows by nothing in the view
    (their origin is the view's end)."""
    view = _view(_frame())
    cols = np.arange(view.y.shape[1])
    rows = ft.training_rows(view, cols, origins=4, steps_per_origin=5, seed=1)
    origins = [view.end - H - ft.ORIGIN_SPACING * i for i in range(4)]
    for i, o in enumerate(origins):
        # values only (no new missing days): every target stays observed, so each origin keeps its rows
        moved = ft.training_rows(
            _perturb_from(view, o, i, missing=False), cols, origins=4, steps_per_origin=5, seed=1
        )
        # rows come latest origin first: the rows of o_i and older origins follow i x 12 series x 5 steps
        n_later = i * len(cols) * 5
        np.testing.assert_array_equal(rows.X[n_later:], moved.X[n_later:])
        assert not np.array_equal(rows.y, moved.y)


def test_lstm_samples_never_read_a_day_at_or_after_their_origin():
    lstm = pytest.importorskip("skuplan.forecast.lstm")
    view = _view(_frame())
    cols = np.arange(view.y.shape[1])
    o = view.end - H - 14
    X, S, _, scale, _ = lstm.samples(view, cols, [o], 28)
    X2, S2, _, scale2, _ = lstm.samples(_perturb_from(view, o, seed=9), cols, [o], 28)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(scale, scale2)


def test_gbm_learns_a_noise_free_weekly_pattern_and_the_planned_promo():
    """30 series, level x weekday profile, promo days double the demand: the forecast must reproduce
    level x profile (x 2 on the planned promo days) within 10 %."""
    profile = np.array([1.0, 1.2, 0.8, 1.0, 1.5, 2.0, 0.5])
    rng = np.random.default_rng(0)
    parts, days = [], 365
    dates = pd.date_range(end=CUTOFF, periods=days, freq="D")
    for i in range(30):
        promo = (rng.random(days) < 0.1).astype(float)
        y = (5.0 + i) * profile[dates.dayofweek] * (1 + promo)
        parts.append(series_frame(f"s{i:02d}", y, promo=promo))
    frame = pd.concat(parts, ignore_index=True)
    plan_day = CUTOFF + pd.Timedelta(days=10)
    # a full plan: no promo anywhere but s07 on plan_day (unplanned days would get the expected promo rate)
    fdates = pd.date_range(CUTOFF + pd.Timedelta(days=1), periods=H)
    future = pd.DataFrame(
        [(f"s{i:02d}", "r1", d, float(i == 7 and d == plan_day)) for i in range(30) for d in fdates],
        columns=["item_id", "region_id", "date", "promo"],
    )
    panel = build_panel(to_batch(frame), H, future=future)
    view = panel.view(panel.n_hist, H)
    fc = GlobalGBM(GlobalGBMConfig(min_data_in_leaf=20, origins=40, steps_per_origin=14), seed=1).fit_predict(
        view
    )
    want = (5.0 + np.arange(30))[None, :] * profile[fdates.dayofweek][:, None]
    want[9, 7] *= 2  # s07 on plan_day (horizon day 10)
    np.testing.assert_allclose(fc.values["yhat"], want, rtol=0.10)
    assert fc.errors == [None] * 30


def test_gbm_forecasts_are_identical_across_runs():
    view = _view(_frame())
    a = GlobalGBM(FAST_GBM, seed=5).fit_predict(view)
    b = GlobalGBM(FAST_GBM, seed=5).fit_predict(view)
    np.testing.assert_array_equal(a.values["yhat"], b.values["yhat"])
    assert np.isfinite(a.values["yhat"]).all() and (a.values["yhat"] >= 0).all()


def test_small_partitions_draw_more_steps_per_origin_up_to_the_horizon():
    """steps = max(steps_per_origin, ceil(min_rows / (series x origins))), at most h: 2,000 rows over 3 series
    x 12 origins is 55.6 -> 56 steps; 300 series need only the default 2; one series would need 167 > h."""
    gbm = GlobalGBM(GlobalGBMConfig())  # min_rows 2000, origins 12, steps_per_origin 2
    assert (gbm.steps(3, 90), gbm.steps(300, 28), gbm.steps(1, 28)) == (56, 2, 28)


def test_partition_without_a_sale_in_any_target_forecasts_zero():
    """All training targets 0 (LightGBM's Tweedie refuses such labels): the fit is 0, with no failed training."""
    frame = pd.concat([series_frame(f"z{k}", np.r_[np.full(60, 3.0), np.zeros(140)]) for k in range(3)])
    fc = GlobalGBM(FAST_GBM).fit_predict(_view(frame.reset_index(drop=True)))
    assert fc.errors == [None] * 3
    assert fc.values["yhat"].tolist() == np.zeros((H, 3)).tolist()


def test_poison_series_is_left_out_and_its_neighbours_are_unchanged():
    frame = _frame(n=10)
    poison = series_frame("zz_poison", np.r_[np.full(150, 4.0), [np.inf, -3.0], np.full(48, 4.0)])
    clean = GlobalGBM(FAST_GBM).fit_predict(_view(frame))
    mixed = GlobalGBM(FAST_GBM).fit_predict(_view(pd.concat([frame, poison], ignore_index=True)))
    assert mixed.errors[:10] == [None] * 10
    assert "1 inf units, 1 negative units" in mixed.errors[10]
    assert np.isnan(mixed.values["yhat"][:, 10]).all()
    np.testing.assert_array_equal(mixed.values["yhat"][:, :10], clean.values["yhat"])


def test_bisection_isolates_a_series_that_breaks_training():
    """A training that raises whenever series 5 is in it: every other series is still forecast, series 5
    alone gets the message, after the bisection's few failed fits (fewer than MAX_FAILED_FITS)."""
    view = _view(_frame(n=16))
    calls = []

    def fit(v, cols):
        calls.append(len(cols))
        if 5 in cols:
            raise np.linalg.LinAlgError("singular design")
        return np.ones((v.h, len(cols)))

    fc = fit_isolated(view, fit, "m")
    assert np.isnan(fc.values["yhat"][:, 5]).all()
    assert np.delete(fc.values["yhat"], 5, axis=1).tolist() == np.ones((H, 15)).tolist()
    assert fc.errors[5] == "m training failed: LinAlgError: singular design"
    assert [e for j, e in enumerate(fc.errors) if j != 5] == [None] * 15
    # failing: 0-15, 0-7, 4-7, 4-5, 5 (five fits < MAX_FAILED_FITS); succeeding: 0-3, 4, 6-7, 8-15
    assert calls == [16, 8, 4, 4, 2, 1, 1, 2, 8] and MAX_FAILED_FITS > 5


def test_partition_that_cannot_train_falls_back_per_series_with_a_status_row():
    """20 days of history cannot hold a 28-day training target: the partition fails, each series gets the
    seasonal-naive fallback, status 'failed' and the training error as its message."""
    frame = pd.concat([series_frame(f"i{k}", np.arange(20.0) % 7 + k) for k in range(3)], ignore_index=True)
    cfg = ForecastConfig(model="global_gbm", min_history_days=7)
    res = forecast_batch(to_batch(frame), cfg)
    st = res.status
    assert st["status"].tolist() == ["failed"] * 3
    assert st["model"].tolist() == ["seasonal_naive"] * 3
    assert all("global_gbm training failed: ValueError: no training rows" in m for m in st["message"])
    # seasonal naive: the last week repeated; series k's last 7 days are (13..19) % 7 + k
    last_week = (np.arange(13, 20) % 7).astype(float)
    got = res.forecasts[res.forecasts["item_id"] == "i1"]["yhat"].to_numpy()
    np.testing.assert_allclose(got, np.tile(last_week + 1, 4))


def test_engine_runs_global_gbm_deterministically_among_auto_candidates():
    """Same series, rows handed over in another order: identical frames (the batch is canonical, the training
    rows follow it, LightGBM runs deterministic on one thread)."""
    frame = _frame(n=12)
    cfg = ForecastConfig(candidates=["global_gbm", "moving_average"], global_gbm=FAST_GBM)
    a = forecast_batch(to_batch(frame), cfg)
    b = forecast_batch(to_batch(frame.sample(frac=1.0, random_state=7)), cfg)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    m = a.metrics
    # both backtested on the same folds (the engine may add its combination of them as one more candidate)
    assert {"global_gbm", "moving_average"} <= set(m["model"])
    gbm, ma = (
        m[m["model"] == k].set_index(["item_id", "fold"]).index for k in ("global_gbm", "moving_average")
    )
    assert gbm.equals(ma)
    assert (a.status["status"] == "ok").all()


def test_cold_start_series_use_the_global_model_only_when_asked():
    frame = pd.concat([_frame(n=8), series_frame("new", [2.0, 0.0, 3.0, 1.0, 4.0])], ignore_index=True)
    cands = ["global_gbm", "moving_average"]
    off = forecast_batch(to_batch(frame), ForecastConfig(candidates=cands, global_gbm=FAST_GBM))
    gbm_on = FAST_GBM.model_copy(update={"cold_start": True})
    on = forecast_batch(to_batch(frame), ForecastConfig(candidates=cands, global_gbm=gbm_on))
    new_off, new_on = (r.status.set_index("item_id").loc["new"] for r in (off, on))
    assert (new_off["model"], new_off["status"]) == ("mean", "fallback")
    assert (new_on["model"], new_on["status"]) == ("global_gbm", "fallback")
    assert new_on["message"].startswith("cold start: 5 observed days")
    f = on.forecasts[on.forecasts["item_id"] == "new"]
    assert np.isfinite(f[["yhat", "q05", "q95"]].to_numpy()).all() and (f["yhat"] >= 0).all()
    # the other series are forecast by a model trained without the cold start's rows (it has none yet)
    pd.testing.assert_frame_equal(
        on.forecasts[on.forecasts["item_id"] != "new"], off.forecasts[off.forecasts["item_id"] != "new"]
    )


def test_lstm_is_deterministic_and_positive():
    lstm = pytest.importorskip("skuplan.forecast.lstm")
    pytest.importorskip("autograd")
    view = _view(_frame(n=6, days=120))
    cfg = LSTMConfig(window=14, hidden=4, epochs=2, batch_size=64, origins=4)
    a = lstm.GlobalLSTM(cfg, seed=3).fit_predict(view)
    b = lstm.GlobalLSTM(cfg, seed=3).fit_predict(view)
    np.testing.assert_array_equal(a.values["yhat"], b.values["yhat"])
    assert a.errors == [None] * 6
    assert np.isfinite(a.values["yhat"]).all() and (a.values["yhat"] > 0).all()


def test_spark_glue_trains_one_global_model_per_bucket(spark):
    """Through the forecast stage (Arrow, buckets, applyInPandas): the same output as forecast_batch on the
    bucket; 12 series in one bucket, so the model is trained once, across all of them, inside the UDF."""
    from test_forecast_spark import _assert_same, _batch, _history, _run

    hist, cfg = _history(), ForecastConfig(model="global_gbm", global_gbm=FAST_GBM)
    got = _run(spark, hist, cfg)
    assert (got["status"]["model"] == "global_gbm").all() and (got["status"]["status"] == "ok").all()
    _assert_same(got, _batch(hist, cfg), rtol=1e-9)
