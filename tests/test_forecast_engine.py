"""forecast_batch end to end on tiny pandas batches: contract, isolation, leakage, determinism."""

import numpy as np
import pandas as pd
import pytest

from forecast_helpers import CUTOFF, noisy_batch, series_frame, to_batch
from skuplan.forecast import models
from skuplan.forecast.base import Model
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch, output_columns

QCOLS = ["q05", "q50", "q95"]


def _check_contract(res, cfg):
    for frame, cols in zip(res, output_columns(cfg).values(), strict=True):
        assert [c for c, _ in cols] == list(frame.columns)
        for c, t in cols:
            assert str(frame[c].dtype) == ("object" if t == "string" else t), c
    f = res.forecasts
    assert (f[["yhat", *QCOLS]].to_numpy() >= 0).all()
    assert np.isfinite(f[["yhat", *QCOLS]].to_numpy()).all()
    assert (np.diff(f[QCOLS].to_numpy(), axis=1) >= 0).all()
    assert f.equals(f.sort_values(["item_id", "region_id", "date"]))


def test_seasonal_naive_exact_on_pure_weekly_pattern():
    week = np.arange(1.0, 8.0)
    hist = series_frame("a", np.tile(week, 20))  # history ends on a 7
    cfg = ForecastConfig(model="seasonal_naive", horizon_days=14)
    res = forecast_batch(to_batch(hist), cfg)
    _check_contract(res, cfg)
    np.testing.assert_array_equal(res.forecasts["yhat"], np.tile(week, 2))
    # zero backtest residuals -> degenerate interval, and perfect metrics
    np.testing.assert_array_equal(res.forecasts["q05"], res.forecasts["q95"])
    assert (res.metrics["wape"] == 0).all() and (res.metrics["coverage"] == 1).all()
    assert res.forecasts["date"].iloc[0] == CUTOFF + pd.Timedelta(days=1)


def test_auto_contract_dates_and_selection():
    hist = noisy_batch()
    cfg = ForecastConfig()
    res = forecast_batch(to_batch(hist), cfg)
    _check_contract(res, cfg)
    assert len(res.forecasts) == 6 * 28 and len(res.status) == 6
    assert set(res.status["status"]) == {"ok"}
    assert res.forecasts["date"].min() == CUTOFF + pd.Timedelta(days=1)
    assert res.forecasts["date"].max() == CUTOFF + pd.Timedelta(days=28)
    # metrics flag one selected model per series, the one the status names (the rule: test_forecast_selection)
    m = res.metrics
    for (item, region), g in m.groupby(["item_id", "region_id"]):
        sel = g.loc[g["selected"], "model"].unique()
        assert len(sel) == 1
        assert res.status.set_index(["item_id", "region_id"]).loc[(item, region), "model"] == sel[0]
        assert set(g["fold"]) == set(range(cfg.backtest.folds))


def test_determinism_and_canonical_order():
    hist = noisy_batch(seed=3)
    cfg = ForecastConfig()
    a = forecast_batch(to_batch(hist), cfg)
    b = forecast_batch(to_batch(hist.sample(frac=1.0, random_state=1)), cfg)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)


class _Recorder(Model):
    """Per-series model whose data are day numbers: it records the last day it was shown."""

    seen: list[tuple[int, float]] = []

    def _fit(self, y, X):
        _Recorder.seen.append((len(y), float(np.nanmax(y))))

    def _predict(self, h, X, quantiles):
        return {"yhat": np.ones(h), **{f"q{int(q * 100):02d}": np.ones(h) for q in quantiles}}


class _BatchRecorder:
    native_quantiles = False
    seen: list[tuple[int, float]] = []
    horizons: list[int] = []

    def batch(self, view, cfg):
        _BatchRecorder.seen.append((view.y.shape[0], float(np.nanmax(view.y))))
        _BatchRecorder.horizons.append(view.h)
        return {"yhat": np.ones((view.h, view.y.shape[1]))}


def test_backtest_folds_span_the_horizon_and_never_see_their_future(monkeypatch):
    monkeypatch.setitem(models.REGISTRY, "ets", models.ModelSpec(lambda c: _Recorder(), 6, slow=True))
    monkeypatch.setitem(models.REGISTRY, "seasonal_naive", models.ModelSpec(lambda c: _BatchRecorder(), 0))
    _Recorder.seen.clear()
    _BatchRecorder.seen.clear()
    _BatchRecorder.horizons.clear()
    hist = series_frame("a", np.arange(1.0, 201.0))  # units = day number: a model's max(y) is its last day
    # A horizon that is no default anywhere: every fold must forecast (and be scored on) all 45 days of it.
    cfg = ForecastConfig(
        horizon_days=45,
        candidates=["ets", "seasonal_naive"],
        backtest_slow_models=True,
        backtest={"folds": 3},
    )
    res = forecast_batch(to_batch(hist), cfg)
    folds, step = cfg.backtest.folds, cfg.backtest_step
    # Fold k's cut-off leaves 45 days + (folds-1-k) steps before the last history day; + the final fit.
    expected_ends = sorted([200 - 45 - step * (folds - 1 - k) for k in range(folds)] + [200])
    for seen in (_Recorder.seen, _BatchRecorder.seen):
        assert sorted(n for n, _ in seen) == expected_ends
        for n_days, last in seen:
            assert last == n_days  # saw days 1..n_days only: never a day on/after its fold cut-off
    assert _BatchRecorder.horizons == [45] * (folds + 1)
    assert set(res.metrics["fold"]) == set(range(folds))
    # The scored days of the last fold are the 45 days before the cutoff: units 156..200, forecast 1 each.
    last = res.metrics[(res.metrics["model"] == "seasonal_naive") & (res.metrics["fold"] == folds - 1)]
    days = np.arange(156.0, 201.0)
    assert last["wape"].iloc[0] == pytest.approx(np.abs(days - 1).sum() / days.sum())


def test_poison_series_fall_back_and_neighbours_unchanged():
    good = noisy_batch(n=4, seed=7)
    huge = np.full(100, 5.0)
    huge[50] = 1e15
    inf = np.full(100, 5.0)
    inf[10] = np.inf
    poison = pd.concat(
        [
            series_frame("p_nan", np.full(60, np.nan)),
            series_frame("p_one", [3.0]),
            series_frame("p_zero", np.zeros(90)),
            series_frame("p_huge", huge),
            series_frame("p_inf", inf),
        ]
    )
    cfg = ForecastConfig()
    base = forecast_batch(to_batch(good), cfg)
    mixed = forecast_batch(to_batch(pd.concat([poison, good], ignore_index=True)), cfg)
    _check_contract(mixed, cfg)
    st = mixed.status.set_index("item_id")
    assert st.loc["p_nan", "status"] == "failed" and "NaN" in st.loc["p_nan", "message"]
    assert st.loc["p_one", "status"] == "fallback" and "cold start" in st.loc["p_one", "message"]
    assert st.loc["p_zero", "status"] == "fallback" and st.loc["p_zero", "model"] == "zero"
    assert st.loc["p_huge", "status"] == "failed" and "max_units" in st.loc["p_huge", "message"]
    assert st.loc["p_inf", "status"] == "failed" and "inf" in st.loc["p_inf", "message"]
    f = mixed.forecasts.set_index("item_id")
    assert (f.loc["p_one", "yhat"] == 3.0).all()
    assert (f.loc["p_zero", [*QCOLS, "yhat"]].to_numpy() == 0).all()
    assert f.loc["p_inf", "yhat"].between(4.9, 5.1).all()  # seasonal naive on the cleaned history
    keep = ~mixed.forecasts["item_id"].str.startswith("p_")
    pd.testing.assert_frame_equal(mixed.forecasts[keep].reset_index(drop=True), base.forecasts, rtol=1e-9)
    pd.testing.assert_frame_equal(
        mixed.status[~mixed.status["item_id"].str.startswith("p_")].reset_index(drop=True), base.status
    )


def test_series_with_rows_only_after_the_cutoff_is_reported():
    late = series_frame("late", np.ones(4), cutoff=CUTOFF + pd.Timedelta(days=4))
    res = forecast_batch(to_batch(pd.concat([noisy_batch(n=2), late], ignore_index=True)), ForecastConfig())
    st = res.status.set_index("item_id")
    assert st.loc["late", "status"] == "failed" and st.loc["late", "model"] == "zero"
    assert st.loc["late", "message"].startswith("no finite units on or before the cutoff")
    assert st.loc["late", "n_obs"] == 0 and (res.forecasts.query("item_id == 'late'")["yhat"] == 0).all()


def test_non_finite_forecast_of_a_vectorized_model_fails_only_its_series(monkeypatch):
    class Holey(models.MovingAverage):
        @staticmethod
        def batch(view, cfg):
            out = models.MovingAverage.batch(view, cfg)
            out["yhat"][:, 0] = np.nan
            return out

    monkeypatch.setitem(models.REGISTRY, "moving_average", models.ModelSpec(lambda c: Holey(), 1))
    res = forecast_batch(to_batch(noisy_batch(n=3)), ForecastConfig(model="moving_average"))
    st = res.status.set_index("item_id")
    assert st.loc["item00", "status"] == "failed" and "non-finite forecast" in st.loc["item00", "message"]
    assert (st.drop("item00")["status"] == "ok").all()


def test_model_failure_is_isolated(monkeypatch):
    real = models.REGISTRY["regression"]

    class Fragile(models.Regression):
        def batch(self, view, cfg=None):
            if np.nanmax(view.y) == 777:
                raise RuntimeError("boom on 777")
            return super().batch(view, cfg)

    monkeypatch.setitem(models.REGISTRY, "regression", models.ModelSpec(lambda c: Fragile(), real.complexity))
    bad = np.full(120, 4.0)
    bad[-1] = 777.0
    hist = pd.concat([series_frame("bad", bad), noisy_batch(n=3, days=120)], ignore_index=True)
    res = forecast_batch(to_batch(hist), ForecastConfig(model="regression"))
    st = res.status.set_index("item_id")
    assert st.loc["bad", "status"] == "failed" and "boom on 777" in st.loc["bad", "message"]
    assert st.loc["bad", "model"] == "seasonal_naive"
    assert (st.drop("bad")["status"] == "ok").all()
    alone = forecast_batch(to_batch(noisy_batch(n=3, days=120)), ForecastConfig(model="regression"))
    keep = res.forecasts["item_id"] != "bad"
    pd.testing.assert_frame_equal(res.forecasts[keep].reset_index(drop=True), alone.forecasts, rtol=1e-9)


def test_cold_start_mean_and_category_profile():
    cold = series_frame("new", [2.0, 4.0] * 5)
    res = forecast_batch(to_batch(cold), ForecastConfig())
    assert res.status["status"].tolist() == ["fallback"] and res.status["model"].tolist() == ["mean"]
    # the mean of the last 7 observed days (4, 2, 4, 2, 4, 2, 4); no launched series to learn a growth from
    assert np.allclose(res.forecasts["yhat"], 22 / 7)
    # with a category, the mean is shrunk toward the established series of the same category and region:
    # w = n / (n + 7) = 10 / 17
    old = series_frame("old", np.full(120, 17.0), region="r1")
    both = pd.concat([cold, old], ignore_index=True).assign(category="shoes")
    yhat = forecast_batch(to_batch(both), ForecastConfig()).forecasts.query("item_id == 'new'")["yhat"]
    assert np.allclose(yhat, 10 / 17 * 22 / 7 + 7 / 17 * 17)


def test_stockouts_are_not_learned_as_low_demand():
    units = np.full(140, 10.0)
    stock = np.zeros(140, dtype=bool)
    units[-21:], stock[-21:] = 0.0, True  # three censored weeks at the end
    hist = series_frame("s", units, stockout=stock)
    for model in ("regression", "seasonal_naive", "moving_average"):
        yhat = forecast_batch(to_batch(hist), ForecastConfig(model=model)).forecasts["yhat"]
        assert yhat.between(9.0, 11.5).all(), model


def test_event_uplift_hint_and_future_promo():
    rng = np.random.default_rng(0)
    t = np.arange(200)
    promo = (rng.random(200) < 0.15).astype(float)
    units = np.round(10 * np.exp(0.7 * promo))  # promo days sell ~2x
    hist = series_frame("e", units, promo=promo)
    day = CUTOFF + pd.Timedelta(days=5)
    events = pd.DataFrame(
        {"date": [day], "event_name": ["brand_day"], "region_id": [None], "uplift_hint": [2.0]}
    )
    plan_days = pd.date_range(CUTOFF + pd.Timedelta(days=1), periods=28)
    # A full plan: promo on day 9 only (an unplanned day would take the expected promo rate instead).
    future = pd.DataFrame(
        {"item_id": "e", "region_id": "r1", "date": plan_days, "promo": (plan_days.day == 9).astype(float)}
    )
    cfg = ForecastConfig(model="regression")
    f = forecast_batch(to_batch(hist), cfg, events=events, future=future).forecasts.set_index("date")["yhat"]
    normal = f.drop([day, CUTOFF + pd.Timedelta(days=9)]).median()
    assert 1.7 < f[day] / normal < 2.4  # never seen in training: the hint is the prior
    assert 1.6 < f[CUTOFF + pd.Timedelta(days=9)] / normal < 2.4  # learned promo lift, planned in `future`
    assert t.size == 200


def test_quantiles_monotone_nonnegative_on_sparse_data():
    rng = np.random.default_rng(5)
    parts = [series_frame(f"s{i}", rng.poisson(0.2, 120) * rng.integers(1, 9, 120)) for i in range(8)]
    cfg = ForecastConfig(quantiles=[0.1, 0.5, 0.8, 0.975])
    res = forecast_batch(to_batch(pd.concat(parts, ignore_index=True)), cfg)
    q = res.forecasts[["q10", "q50", "q80", "q97_5"]].to_numpy()
    assert (q >= 0).all() and (np.diff(q, axis=1) >= 0).all()
    assert set(res.status["demand_class"]) <= {"intermittent", "lumpy"}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.drop(columns="units"), "missing column 'units'"),
        (lambda d: d.assign(date=d["date"].astype(str)), "pd.to_datetime"),
        (lambda d: d.assign(units=d["units"].astype(str)), "'units' has dtype object"),
        (lambda d: d.assign(stockout=1.0), "'stockout'"),
        (lambda d: pd.concat([d, d.tail(1)]), "duplicate"),
    ],
)
def test_malformed_frames_raise_with_the_column_and_fix(mutate, needle):
    with pytest.raises(ValueError, match=None) as exc:
        forecast_batch(to_batch(mutate(series_frame("a", np.ones(40)))), ForecastConfig())
    assert needle in str(exc.value)


def test_empty_history_gives_empty_frames():
    hist = series_frame("a", np.ones(3)).iloc[:0]
    res = forecast_batch(to_batch(hist), ForecastConfig())
    assert all(len(f) == 0 for f in res)
    _check_contract(res, ForecastConfig())


def test_interval_coverage_near_nominal_on_holdout():
    """Tail-calibrated conformal intervals: the 90% interval covers ~90% of 28 unseen days."""
    rng = np.random.default_rng(11)
    days, n = 400, 150
    t = np.arange(days)
    parts = []
    for i in range(n):
        level = rng.lognormal(1.5, 1.0)
        mu = level * (1 + 0.3 * np.sin(2 * np.pi * t / 7 + i)) * (1 + rng.normal(0, 0.1) * t / days)
        y = rng.negative_binomial(4, 4 / (4 + mu)).astype(float)
        parts.append(series_frame(f"s{i:03d}", y, cutoff=CUTOFF + pd.Timedelta(days=28)))
    full = pd.concat(parts, ignore_index=True)
    res = forecast_batch(to_batch(full[full["date"] <= CUTOFF]), ForecastConfig())
    j = res.forecasts.merge(full, on=["item_id", "region_id", "date"])
    coverage = ((j["units"] >= j["q05"]) & (j["units"] <= j["q95"])).mean()
    assert 0.87 <= coverage <= 0.93, coverage


def test_masked_quantile_matches_numpy():
    from skuplan.forecast.quantiles import masked_quantile

    rng = np.random.default_rng(0)
    R = rng.normal(size=(50, 7))
    valid = rng.random((50, 7)) < 0.7
    valid[:, 3] = False
    got = masked_quantile(R, valid, np.array([0.05, 0.5, 0.95]))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="All-NaN"):
        want = np.nanquantile(np.where(valid, R, np.nan), [0.05, 0.5, 0.95], axis=0)
    np.testing.assert_allclose(got[:, [0, 1, 2, 4, 5, 6]], want[:, [0, 1, 2, 4, 5, 6]])
    assert np.isnan(got[:, 3]).all()
