"""The forecast stage (the Spark glue) on tiny batches: it must add nothing to what forecast_batch computes.

The engine is tested on pandas in test_forecast_engine.py; here the same histories go through Spark
(Arrow, shuffle by bucket, applyInPandas, the stacked wide output) and must come back equal.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecast_helpers import CUTOFF, noisy_batch, series_frame
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch, output_columns
from skuplan.schemas import DAILY_SERIES, OPTIONAL_DEFAULTS
from skuplan.series.batch import SeriesBatch
from skuplan.series.spark import series_arrays
from stage_helpers import run_forecast

SORT = {"forecasts": ["item_id", "region_id", "date"], "status": ["item_id", "region_id"]}
SORT["metrics"] = ["item_id", "region_id", "model", "fold"]


def _history(n: int = 12) -> pd.DataFrame:
    hist = noisy_batch(n=n, days=150, seed=1)
    hist.loc[hist.index % 17 == 0, "promo"] = 1.0
    hist.loc[hist.index % 23 == 0, "price"] = np.nan  # unknown prices travel as Spark nulls
    if "stockout" in DAILY_SERIES.fieldNames():
        hist["stockout"] = hist.index % 31 == 5  # censored days must reach the engine too
    return hist


def _events() -> pd.DataFrame:
    # One shared and one regional event inside the history: exercises the events path of the glue too.
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-02-14", "2024-03-08"]),
            "event_name": ["valentine", "womens_day"],
            "region_id": [None, "r1"],
            "uplift_hint": [1.5, np.nan],
        }
    )


def _to_spark(spark, hist: pd.DataFrame):
    hist = hist.assign(date=hist["date"].dt.date)
    for f in DAILY_SERIES.fields:  # optional columns the pandas history leaves out (e.g. stockout): defaults
        default = OPTIONAL_DEFAULTS.get(("sales", f.name))
        if f.name not in hist:
            hist[f.name] = default
        elif default is not None:
            hist[f.name] = hist[f.name].astype(object).where(hist[f.name].notna(), default)
    rows = hist[[f.name for f in DAILY_SERIES.fields]]
    rows = rows.astype(object).where(rows.notna(), None)  # NaN price -> null, as the prepare stage writes it
    return spark.createDataFrame(rows.values.tolist(), DAILY_SERIES)


def _events_df(spark, events: pd.DataFrame):
    rows = [
        (d.date(), name, None if pd.isna(r) else r, None if pd.isna(u) else float(u))
        for d, name, r, u in events.itertuples(index=False)
    ]
    return spark.createDataFrame(rows, "date date, event_name string, region_id string, uplift_hint double")


def _stage(spark, hist, cfg, events_df=None, series_per_bucket=1000):
    """The forecast stage on the history as prepare hands it over: one row of day lists per series."""
    arrays = series_arrays(_to_spark(spark, hist), CUTOFF.date(), cfg.max_history_days)
    n_series = hist.groupby(["item_id", "region_id"]).ngroups
    return run_forecast(spark, arrays, cfg, CUTOFF.date(), n_series, events_df, series_per_bucket)


def _batch(hist, cfg, events=None):
    """forecast_batch on the same history, as a test or notebook calls it."""
    return forecast_batch(SeriesBatch.from_long(hist, CUTOFF, cfg.max_history_days), cfg, events=events)


def _run(spark, hist, cfg, events=None, series_per_bucket=1000):
    spark.catalog.clearCache()  # an identical earlier plan must not be served from its persisted output
    events_df = None if events is None else _events_df(spark, events)
    outs = _stage(spark, hist, cfg, events_df, series_per_bucket)
    return {kind: _canonical(kind, df.toPandas(), cfg) for kind, df in zip(SORT, outs, strict=True)}


def _canonical(kind: str, df: pd.DataFrame, cfg) -> pd.DataFrame:
    """Spark's row order is arbitrary and toPandas returns Python dates: sort and type like the engine."""
    cols = output_columns(cfg)[kind]
    assert list(df.columns) == [c for c, _ in cols]
    if "date" in df:
        df["date"] = pd.to_datetime(df["date"])
    df = df.astype({c: (object if t == "string" else t) for c, t in cols})
    return df.sort_values(SORT[kind], kind="mergesort").reset_index(drop=True)


def _assert_same(got: dict, want, rtol: float = 1e-9) -> None:
    for kind, frame in zip(SORT, want, strict=True):
        expected = frame.sort_values(SORT[kind], kind="mergesort").reset_index(drop=True)
        pd.testing.assert_frame_equal(got[kind], expected, rtol=rtol, atol=1e-9, obj=kind)


def test_stage_equals_forecast_batch_on_the_same_history(spark):
    hist, events, cfg = _history(), _events(), ForecastConfig()
    got = _run(spark, hist, cfg, events)
    n = hist.groupby(["item_id", "region_id"]).ngroups
    assert n == 12
    assert len(got["forecasts"]) == n * cfg.horizon_days
    assert len(got["status"]) == n
    f = got["forecasts"]
    assert (f.groupby(["item_id", "region_id"])["date"].nunique() == cfg.horizon_days).all()
    assert f["date"].min() == CUTOFF + pd.Timedelta(days=1)
    assert f["date"].max() == CUTOFF + pd.Timedelta(days=cfg.horizon_days)
    # 12 series < series_per_bucket: one bucket, i.e. exactly the batch forecast_batch sees here.
    _assert_same(got, _batch(hist, cfg, events=events))


def test_poison_series_fall_back_and_leave_neighbours_unchanged(spark):
    good, cfg = _history(), ForecastConfig()
    huge = np.full(100, 5.0)
    huge[50] = 1e15  # > max_units
    poison = pd.concat(
        [
            series_frame("p_zero", np.zeros(90)),
            series_frame("p_one", [3.0]),  # a single day, on the cutoff
            series_frame("p_huge", huge),
        ],
        ignore_index=True,
    )
    base = _run(spark, good, cfg)
    mixed = _run(spark, pd.concat([good, poison], ignore_index=True), cfg)

    st = mixed["status"].set_index("item_id")
    assert st.loc["p_zero", "status"] == "fallback" and st.loc["p_zero", "model"] == "zero"
    assert st.loc["p_one", "status"] == "fallback" and "cold start" in st.loc["p_one", "message"]
    assert st.loc["p_huge", "status"] == "failed" and "max_units" in st.loc["p_huge", "message"]
    assert (st.drop(index=["p_zero", "p_one", "p_huge"])["status"] == "ok").all()
    f = mixed["forecasts"]
    assert len(f) == (12 + 3) * cfg.horizon_days
    assert (f.loc[f["item_id"] == "p_zero", "yhat"] == 0).all()
    assert (f.loc[f["item_id"] == "p_one", "yhat"] == 3.0).all()
    assert np.isfinite(f[["yhat", "q05", "q50", "q95"]].to_numpy()).all()

    # Same bucket as the poison (one bucket for 15 series), yet every neighbour is unchanged (to 1e-9).
    for kind in SORT:
        keep = ~mixed[kind]["item_id"].str.startswith("p_")
        pd.testing.assert_frame_equal(
            mixed[kind][keep].reset_index(drop=True), base[kind], rtol=1e-9, atol=1e-9, obj=kind
        )


def test_same_bucket_size_gives_identical_output_across_runs(spark):
    """The engine does NOT promise bucket-independent results, so this test pins determinism instead.

    Why composition matters: quantiles come from conformal offsets whose tails are re-scaled so that the
    misses of the batch's demand class match the nominal level (quantiles.TailCalibration, pooled over the
    series of one forecast_batch call), fallback intervals borrow the batch's pooled residuals, and the
    regression's trend knots sit on the batch's own calendar (first date of any series in it). On this
    history, series_per_bucket=1 vs 1000 gives the same point forecasts but q05/q95 differing by several
    units. Buckets are a stable hash of (item_id, region_id), so a rerun with the same size must reproduce
    the output exactly, whatever order Spark delivers the rows in.
    """
    hist, cfg = _history(), ForecastConfig()
    first = _run(spark, hist, cfg, series_per_bucket=4)
    second = _run(spark, hist.sample(frac=1.0, random_state=3), cfg, series_per_bucket=4)
    for kind in SORT:
        pd.testing.assert_frame_equal(first[kind], second[kind], rtol=0, atol=0, obj=kind)
    assert len(first["status"]) == 12 and len(first["forecasts"]) == 12 * cfg.horizon_days


@pytest.mark.slow
def test_prophet_runs_one_series_per_group(spark):
    rng = np.random.default_rng(5)
    t = np.arange(70)
    hist = pd.concat(
        [
            series_frame(f"p{i}", np.round(10 + 4 * i + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, 70)))
            for i in range(2)
        ],
        ignore_index=True,
    )
    cfg = ForecastConfig(model="prophet", horizon_days=7, prophet_uncertainty_samples=50)
    got = _run(spark, hist, cfg)
    assert got["status"]["model"].tolist() == ["prophet", "prophet"]
    assert got["status"]["status"].tolist() == ["ok", "ok"], got["status"]["message"].tolist()
    assert len(got["forecasts"]) == 2 * 7 and got["metrics"].empty  # slow models: no backtest by default
    # Each group holds one series: its output is forecast_batch on that series alone.
    want = [_batch(g, cfg) for _, g in hist.groupby("item_id")]
    merged = [pd.concat(frames, ignore_index=True) for frames in zip(*want, strict=True)]
    _assert_same(got, merged, rtol=1e-6)


def test_stage_dates_are_spark_dates(spark):
    got = _stage(spark, _history(2), ForecastConfig(horizon_days=3))[0]
    assert dict(got.dtypes)["date"] == "date"
    assert sorted({r.date for r in got.select("date").distinct().collect()}) == [
        CUTOFF.date() + dt.timedelta(days=k) for k in (1, 2, 3)
    ]
