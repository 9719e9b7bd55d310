"""The forecast-error profile in the inventory plan: sigma_P = err_sigma_1d * P^err_sum_exponent, by hand,
and end to end through the nightly Spark policy stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast_helpers import CUTOFF, noisy_batch, series_frame, to_batch
from inventory_helpers import one_series
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.inventory import InventoryConfig, plan_policy
from skuplan.inventory.config import ReplayConfig

Z95 = 1.6448536269514722
TEXTBOOK = InventoryConfig(undershoot="none", level_model="normal", z_min=0.0)


def test_safety_stock_is_z_sigma1_p_gamma():
    # sigma_1 = 10, gamma = 0.8, no lead-time spread. sQ: P = L = 5, 5^0.8 = 3.623898 -> sigma_P = 36.23898,
    # SS = 1.644854 * 36.23898 = 59.6078. RS: P = L + R = 12, 12^0.8 = 7.300372 -> SS = 120.0804.
    prof = dict(err_sigma_1d=10.0, err_sum_exponent=0.8, lead_time_std_days=0.0, sigma_daily=np.nan)
    sq = plan_policy(one_series(**prof), TEXTBOOK).iloc[0]
    rs = plan_policy(one_series(**prof), TEXTBOOK.model_copy(update={"policy": "RS"})).iloc[0]
    assert sq.protection_days == 5 and rs.protection_days == 12
    assert sq.safety_stock == pytest.approx(59.6078, abs=1e-3)
    assert rs.safety_stock == pytest.approx(120.0804, abs=1e-3)
    assert sq.sigma_source == rs.sigma_source == "forecast_error_profile"
    # sigma_daily reported per day at P: sigma_P / sqrt(P) (36.23898 / sqrt 5, 73.00372 / sqrt 12)
    assert sq.sigma_daily == pytest.approx(16.20657, abs=1e-4) and rs.sigma_daily == pytest.approx(21.07436, abs=1e-4)
    assert sq.err_sigma_1d == 10.0 and sq.err_sum_exponent == 0.8


def test_a_larger_band_sigma_sets_the_level_and_the_profile_the_growth():
    # sigma_daily = 30 > err_sigma_1d = 10: sigma_P = 30 * 5^0.8 = 108.71694, SS = 1.644854 * that = 178.8235;
    # a smaller band (5) leaves the profile's level: 59.6078 as above.
    big = plan_policy(one_series(err_sigma_1d=10.0, err_sum_exponent=0.8, lead_time_std_days=0.0), TEXTBOOK).iloc[0]
    assert big.sigma_protection == pytest.approx(108.71694, abs=1e-4)
    assert big.safety_stock == pytest.approx(178.8235, abs=1e-3) and big.sigma_source == "forecast_error_profile"
    small = plan_policy(
        one_series(err_sigma_1d=10.0, err_sum_exponent=0.8, lead_time_std_days=0.0, sigma_daily=5.0), TEXTBOOK
    ).iloc[0]
    assert small.safety_stock == pytest.approx(59.6078, abs=1e-3)


def test_profile_with_lead_time_spread():
    # sqrt(36.23898^2 + 100^2 * 1.5^2) = 154.31547 -> SS = 253.8264
    p = plan_policy(one_series(err_sigma_1d=10.0, err_sum_exponent=0.8, sigma_daily=np.nan), TEXTBOOK).iloc[0]
    assert p.sigma_protection == pytest.approx(154.31547, abs=1e-4)
    assert p.safety_stock == pytest.approx(253.8264, abs=1e-3)


def test_exponent_one_half_is_the_textbook_formula():
    # gamma = 0.5 is sqrt(P) scaling of a daily sigma: the same levels as sigma_daily = 30 (textbook 164.3 ...)
    textbook = plan_policy(one_series(), TEXTBOOK).iloc[0]
    profile = plan_policy(one_series(sigma_daily=np.nan, err_sigma_1d=30.0, err_sum_exponent=0.5), TEXTBOOK).iloc[0]
    for col in ("sigma_daily", "sigma_protection", "safety_stock", "reorder_point"):
        assert profile[col] == pytest.approx(textbook[col], rel=1e-12)
    assert textbook.sigma_source == "forecast_error" and profile.sigma_source == "forecast_error_profile"


def test_sigma_source_order_with_profile():
    rows = pd.concat(
        [one_series(item_id="pr", err_sigma_1d=10.0, err_sum_exponent=0.8, sigma_demand_daily=50.0),
         one_series(item_id="fe", err_sigma_1d=np.nan, err_sum_exponent=0.8, sigma_demand_daily=50.0),
         one_series(item_id="po", err_sigma_1d=10.0, err_sum_exponent=0.8, sigma_daily=np.nan)],
        ignore_index=True,
    )  # fmt: skip
    fe = plan_policy(rows, TEXTBOOK).set_index("item_id")
    assert list(fe.sigma_source) == ["forecast_error_profile", "forecast_error", "forecast_error_profile"]
    dem = plan_policy(rows, TEXTBOOK.model_copy(update={"sigma_source": "demand"})).set_index("item_id")
    # demand first; a row without a demand sigma (no history given) still uses the profile, not sigma_daily
    assert list(dem.sigma_source) == ["demand", "demand", "forecast_error_profile"]
    assert dem.loc["pr", "sigma_daily"] == 50.0


def test_empirical_rows_use_the_profile_at_their_interval():
    # lumpy, no history -> negbin. Normal model: over L + r = 5 + 1 = 6 days, sigma = 2 * 6^0.9 (no lead-time
    # spread). Exact model: D_L over L = 5 days, sigma = 2 * 5^0.9 (the undershoot has its own distribution).
    row = one_series(mean_daily_demand=2.0, demand_class="lumpy", lead_time_std_days=0.0,
                     err_sigma_1d=2.0, err_sum_exponent=0.9, sigma_daily=np.nan)  # fmt: skip
    p = plan_policy(row, InventoryConfig(level_model="normal")).iloc[0]
    assert p.method == "negbin" and p.protection_days == 6
    assert p.sigma_protection == pytest.approx(2.0 * 6**0.9, rel=1e-12)
    exact = plan_policy(row, InventoryConfig()).iloc[0]
    assert exact.method == "negbin" and exact.protection_days == 5
    assert exact.sigma_ltd == pytest.approx(2.0 * 5**0.9, rel=1e-12)


def test_nightly_policy_stage_takes_sigma_from_the_status_profile(spark):
    from pyspark.sql import functions as F

    from skuplan.inventory.spark import policy_stage
    from skuplan.series.spark import series_arrays, series_stats

    hist = pd.concat(
        [noisy_batch(n=12, days=200, seed=5), series_frame("cold", np.full(10, 4.0), region="r9")],
        ignore_index=True,
    )
    fcfg = ForecastConfig()
    res = forecast_batch(to_batch(hist), fcfg)
    status = res.status.copy()
    keys = status[["item_id", "region_id"]]
    items = pd.DataFrame({
        "item_id": keys["item_id"], "category": "c", "unit_cost": 10.0, "holding_rate": 0.25, "order_cost": 50.0,
        "lead_time_days": 4.0, "lead_time_std_days": 0.0, "service_level": 0.95, "service_type": "csl",
        "moq": 1.0, "pack_size": 1.0,
    })  # fmt: skip
    day = F.col("date").cast("date")
    history_df = spark.createDataFrame(hist[["item_id", "region_id", "date", "units"]]).withColumn("date", day)
    forecasts_df = spark.createDataFrame(res.forecasts).withColumn("date", day)
    status_df = spark.createDataFrame(status)
    stats_df = series_stats(history_df, CUTOFF.date())
    arrays_df = series_arrays(history_df, CUTOFF.date(), fcfg.max_history_days)
    inventory_df = spark.createDataFrame(keys.assign(on_hand=0.0))
    # every series on sQ with the normal method and no undershoot:
    # sigma_protection = max(sigma_1, band sigma) * L^gamma, the band sigma from the q05-q95 spread
    cfg = InventoryConfig(
        policy="sQ",
        undershoot="none",
        empirical_classes=[],
        replay=ReplayConfig(enabled=False),
        level_model="normal",
        z_min=0.0,
    )
    out = policy_stage(forecasts_df, status_df, stats_df, arrays_df, spark.createDataFrame(items), inventory_df,
                       cfg, fcfg, run_date=(CUTOFF + pd.Timedelta(days=1)).date())  # fmt: skip
    plan = out["inventory_policy"].toPandas().set_index("item_id")
    st = status.set_index("item_id")
    prof = st["err_sigma_1d"].notna() & (plan.loc[st.index, "mean_daily_demand"] > 0)
    assert prof.sum() >= 10
    ids = prof[prof].index
    assert (plan.loc[ids, "sigma_source"] == "forecast_error_profile").all()
    fc = res.forecasts.assign(band=(res.forecasts["q95"] - res.forecasts["q05"]) / (2 * Z95))
    band_sigma = fc.groupby("item_id")["band"].mean().loc[ids]
    level = np.fmax(st.loc[ids, "err_sigma_1d"], band_sigma)
    expected = level * 4.0 ** st.loc[ids, "err_sum_exponent"]
    np.testing.assert_allclose(plan.loc[ids, "sigma_protection"], expected, rtol=1e-9)
    np.testing.assert_allclose(plan.loc[ids, "safety_stock"], Z95 * expected, rtol=1e-9)
    # the cold start has no profile: the 1-day band sigma of forecast_summary, scaled by sqrt(L)
    assert plan.loc["cold", "sigma_source"] == "forecast_error"
    f = res.forecasts[res.forecasts["item_id"] == "cold"]
    band = ((f["q95"] - f["q05"]) / (2 * Z95)).mean()
    assert plan.loc["cold", "sigma_daily"] == pytest.approx(band, rel=1e-6)
