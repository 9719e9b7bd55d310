"""Spark glue for the inventory stage: features, segments, policy, replenishment, alerts and KPIs.

The math lives in the pure modules of this package; this layer only groups, ships and collects:
- per-series work (features, policy) runs in buckets of many series per pandas call;
- segmentation is global by nature (ABC ranks every series, k-means sees all of them) and runs on the
  driver over ONE ROW PER SERIES of features (a few floats each), never over the daily history.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.contracts import Contract, conform, contract, to_arrow, union
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import quantile_column
from skuplan.inventory.alerts import ALERT_COLUMNS, alerts
from skuplan.inventory.config import InventoryConfig, replay_basis
from skuplan.inventory.kpis import KPI_COLUMNS, kpis
from skuplan.inventory.plan import history_rows, plan_policy
from skuplan.inventory.policies import REPLENISHMENT_COLUMNS, replenishment
from skuplan.inventory.replay import replay_holdout
from skuplan.inventory.segments import abc_xyz, kmeans_segments, segment_features
from skuplan.inventory.simopt import shifted_levels, simopt_config
from skuplan.schemas import struct_type
from skuplan.series.batch import SeriesBatch, epoch_day
from skuplan.series.spark import SERIES_KEYS, with_bucket

FEATURES_FRAME = contract("inventory_features")
SEGMENTS = contract("segments")
PLAN = contract("inventory_plan")
REPLAY = contract("policy_backtest")
_REPLAY_DATE = "replay_run_date"
_SET_IN_SPARK = (_REPLAY_DATE, "replay_basis")
# What the pure functions return beyond their table, left out on purpose: segment_features' cv2 and
# demand_class (the plan takes the forecast stage's class), abc_xyz's inputs and ranking values.
_FEATURE_EXTRAS = ("cv2", "demand_class")
_SEGMENT_EXTRAS = ("mean_daily_demand", "unit_cost", "annual_value", "cum_share_before")


def schema_of(c: Contract) -> T.StructType:
    """The UDF output schema of a contract, every field nullable (see schemas.struct_type)."""
    return struct_type(c, all_nullable=True)


def _conform(frame: pd.DataFrame, c: Contract, drop=()) -> pd.DataFrame:
    return conform(frame, c, drop=drop)


PROFILE_COLUMNS = ["err_sigma_1d", "err_sum_exponent"]


def forecast_summary(forecasts_df: DataFrame, forecast_cfg: ForecastConfig) -> DataFrame:
    """Mean forecast per day and the 1-day forecast-error sigma implied by the outer quantile band.

    For a normal error, (q_hi - q_lo) / (z_hi - z_lo) is its sigma; the band comes from the backtest
    residuals (conformal), so this is the sigma of forecast error, not of raw demand. It is only the
    fallback of the plan: scaled by sqrt(P) it under-states the error of P-day sums (shared level
    errors); the forecast_status error profile (PROFILE_COLUMNS, see policy_inputs) measures those sums.
    """
    from scipy.stats import norm

    lo, hi = min(forecast_cfg.quantiles), max(forecast_cfg.quantiles)
    spread = float(norm.ppf(hi) - norm.ppf(lo))
    band = F.col(quantile_column(hi)) - F.col(quantile_column(lo))
    sigma = F.avg(band) / F.lit(spread) if spread > 0 else F.lit(None).cast("double")
    return forecasts_df.groupBy(*SERIES_KEYS).agg(
        F.avg("yhat").alias("mean_daily_demand"), sigma.alias("sigma_daily")
    )


def policy_inputs(summary: DataFrame, status_df: DataFrame, stats_df: DataFrame, seg: DataFrame,
                  items_df: DataFrame) -> DataFrame:
    """plan_policy input per series: forecast mean + band sigma (fallback), the forecast-error profile of
    the chosen model (plan_policy turns it into the sigma of P-day error sums), demand sigma, segment and
    the item master."""
    return (
        summary.join(status_df.select(*SERIES_KEYS, "demand_class", *PROFILE_COLUMNS), SERIES_KEYS, how="left")
        .join(stats_df.select(*SERIES_KEYS, F.col("std_daily").alias("sigma_demand_daily")), SERIES_KEYS, how="left")
        .join(seg.select(*SERIES_KEYS, "segment", "abc", "xyz", "cluster", "cluster_label"), SERIES_KEYS, how="left")
        .join(items_df.drop("category"), "item_id", how="inner")
    )


def _to_arrow(frame: pd.DataFrame, c: Contract, drop=()) -> pa.Table:
    return to_arrow(frame, c, drop=drop, all_nullable=True)


# What the Python side needs of a series_arrays row besides the day lists: SeriesBatch.from_arrow fills the
# days between first_day and the cutoff that have no row.
_ROW_KEYS = [*SERIES_KEYS, "first_day"]


def _with_history(table: pa.Table, cutoff_day: int) -> pa.Table:
    """The rows of series with a day up to the cutoff: features and replay leave the others out (the plan
    keeps them, with no history)."""
    return table.filter(pc.less_equal(table.column("first_day"), cutoff_day))


def _features_batch(table: pa.Table, cutoff_day: int, cfg: InventoryConfig) -> pd.DataFrame:
    """segment_features of one bucket of units_tail rows."""
    batch = SeriesBatch.from_arrow(_with_history(table, cutoff_day), cutoff_day, cfg.bootstrap_window_days)
    return segment_features(batch, bucket_days=cfg.xyz_bucket_days)


def units_tail(arrays_df: DataFrame, cutoff: dt.date, days: int) -> DataFrame:
    """item_id, region_id and the `day` / `units` lists (series.series_arrays) cut to (cutoff - days, cutoff].

    The lists hold ascending days up to the cutoff, so the days wanted are a suffix: sliced in Spark, only
    they are shipped to Python.
    """
    cut = epoch_day(cutoff)
    k = F.size(F.filter("day", lambda d: d > cut - days))
    start = F.greatest(F.size("day") - k + 1, F.lit(1))
    return arrays_df.select(*_ROW_KEYS, F.slice("day", start, k).alias("day"),
                            F.slice("units", start, k).alias("units"))


def _features(tail_df: DataFrame, cfg: InventoryConfig, n_buckets: int, cutoff: dt.date) -> DataFrame:
    schema = schema_of(FEATURES_FRAME)
    cutoff_day = epoch_day(cutoff)

    def run(table: pa.Table) -> pa.Table:
        return _to_arrow(_features_batch(table, cutoff_day, cfg), FEATURES_FRAME, drop=_FEATURE_EXTRAS)

    return with_bucket(tail_df, n_buckets).groupBy("bucket").applyInArrow(run, schema=schema)


def segments(features_df: DataFrame, summary_df: DataFrame, items_df: DataFrame, cfg: InventoryConfig) -> DataFrame:
    """ABC x XYZ and k-means clusters: global, on one row per series (collected; see module doc)."""
    base = features_df.join(summary_df.select(*SERIES_KEYS, "mean_daily_demand"), SERIES_KEYS, how="inner").join(
        items_df.select("item_id", "unit_cost"), "item_id", how="inner"
    )
    # Two actions follow (the total, then the ranked rows): without the cache the features UDF runs twice.
    base = base.persist()
    # Cumulative value share computed in Spark so ABC stays global without the pandas side sorting.
    value = F.col("mean_daily_demand") * F.lit(cfg.days_per_year) * F.col("unit_cost")
    order = Window.orderBy(value.desc(), F.col("item_id"), F.col("region_id"))
    before = Window.orderBy(value.desc(), F.col("item_id"), F.col("region_id")).rowsBetween(
        Window.unboundedPreceding, -1
    )
    total = base.agg(F.sum(value)).first()[0] or 0.0
    ranked = base.withColumn(
        "cum_share_before",
        F.coalesce(F.sum(value).over(before), F.lit(0.0)) / F.lit(total if total > 0 else 1.0),
    ).withColumn("_rank", F.row_number().over(order))
    pdf = ranked.orderBy("_rank").drop("_rank").toPandas()
    spark = features_df.sparkSession
    schema = schema_of(SEGMENTS)
    if pdf.empty:
        return spark.createDataFrame([], schema)
    seg = abc_xyz(pdf, cfg)
    clusters = kmeans_segments(pdf, (cfg.kmeans.k_min, cfg.kmeans.k_max), seed=cfg.seed, cfg=cfg.kmeans)
    seg = seg.merge(clusters[[*SERIES_KEYS, "cluster", "cluster_label"]], on=SERIES_KEYS, how="left")
    base.unpersist()
    return spark.createDataFrame(_conform(seg, SEGMENTS, drop=_SEGMENT_EXTRAS), schema)


def _forecast_lists(forecasts_df: DataFrame) -> DataFrame:
    """item_id, region_id, fc_day, fc_yhat: each series' daily forecast as two lists, days ascending."""
    obs = F.sort_array(F.collect_list(F.struct(F.unix_date("date").alias("day"), F.col("yhat"))))
    per_series = forecasts_df.groupBy(*SERIES_KEYS).agg(obs.alias("obs"))
    return per_series.select(*SERIES_KEYS, F.col("obs.day").alias("fc_day"), F.col("obs.yhat").alias("fc_yhat"))


def _forecast_frame(stats_t: pa.Table) -> pd.DataFrame:
    """item_id, region_id, yhat, date: the fc_day / fc_yhat lists of plan input rows, one row per day."""
    fc_day = stats_t.column("fc_day").combine_chunks()
    lengths = fc_day.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    out = {k: np.repeat(stats_t.column(k).to_numpy(zero_copy_only=False), lengths) for k in SERIES_KEYS}
    out["yhat"] = stats_t.column("fc_yhat").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    days = fc_day.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    out["date"] = days.astype("datetime64[D]").astype("datetime64[ns]")
    return pd.DataFrame(out)


def _plan_batch(stats_t: pa.Table, hist_t: pa.Table, cutoff_day: int, cfg: InventoryConfig) -> pd.DataFrame:
    """plan_policy of one bucket: policy_inputs rows with their forecast lists, and units_tail rows."""
    stats = stats_t.drop_columns(["bucket", "fc_day", "fc_yhat"]).to_pandas()
    window = cfg.bootstrap_window_days
    history = history_rows(SeriesBatch.from_arrow(hist_t, cutoff_day, window), stats[SERIES_KEYS], window)
    return plan_policy(stats, cfg, history=history, forecast=_forecast_frame(stats_t))


def _plan(stats_df: DataFrame, tail_df: DataFrame, forecasts_df: DataFrame, cfg: InventoryConfig,
          n_buckets: int, cutoff: dt.date) -> DataFrame:
    schema = schema_of(PLAN)
    cutoff_day = epoch_day(cutoff)
    left = stats_df.join(_forecast_lists(forecasts_df), SERIES_KEYS, how="left")

    def run(stats_t: pa.Table, hist_t: pa.Table) -> pa.Table:
        if stats_t.num_rows == 0:
            return _to_arrow(pd.DataFrame(), PLAN)
        return _to_arrow(_plan_batch(stats_t, hist_t, cutoff_day, cfg), PLAN)

    return (
        with_bucket(left, n_buckets)
        .groupBy("bucket")
        .cogroup(with_bucket(tail_df, n_buckets).groupBy("bucket"))
        .applyInArrow(run, schema=schema)
    )


def _per_series(policy_df: DataFrame, inventory_df: DataFrame, outputs: dict, run_date: dt.date,
                cfg: InventoryConfig, n_buckets: int) -> tuple[DataFrame, dict[str, DataFrame]]:
    """Apply pure (policy, inventory, run_date, cfg) -> frame functions in buckets of series, all in ONE pass.

    outputs: table name -> (function, columns of its contract). Spark returns one frame per call, so the frames
    are stacked with a `_kind` column, persisted and split (as the forecast glue does): one shuffle and one Python
    round trip instead of one per output.
    """
    both = union("inventory_per_series", [contract(kind) for kind in outputs])
    wide = T.StructType([T.StructField("_kind", T.StringType(), False), *schema_of(both).fields])

    def run(pol: pd.DataFrame, inv: pd.DataFrame) -> pd.DataFrame:
        if pol.empty:
            return pd.DataFrame(columns=wide.fieldNames())
        pol, inv = pol.drop(columns="bucket"), inv.drop(columns="bucket")
        parts = [_conform(fn(pol, inv, run_date, cfg), contract(kind)).assign(_kind=kind)
                 for kind, (fn, _) in outputs.items()]
        stacked = pd.concat(parts, ignore_index=True)
        out = _conform(stacked, both, drop=("_kind",))
        out.insert(0, "_kind", stacked["_kind"].to_numpy())
        return out

    stacked = (
        with_bucket(policy_df, n_buckets)
        .groupBy("bucket")
        .cogroup(with_bucket(inventory_df, n_buckets).groupBy("bucket"))
        .applyInPandas(run, schema=wide)
        .persist()
    )
    return stacked, {kind: stacked.where(F.col("_kind") == kind).select(*cols) for kind, (_, cols) in outputs.items()}


def _replay_batch(items_t: pa.Table, days_t: pa.Table, cutoff_day: int, window_days: int,
                  cfg: InventoryConfig) -> pd.DataFrame:  # fmt: skip
    """replay_holdout metrics of one bucket: eligible series with their item master, and series_arrays rows."""
    items = items_t.to_pandas()
    batch = SeriesBatch.from_arrow(_with_history(days_t, cutoff_day), cutoff_day, window_days)
    # Eligible series only, picked here rather than by a join in Spark (both cogroup sides would then share one
    # lineage); the subset's grid starts at the earliest start among them, the replay's calendar.
    columns = batch.positions(items[SERIES_KEYS])
    batch = batch.subset(np.unique(columns[columns >= 0]))
    master = items.drop(columns=["bucket", "region_id"]).drop_duplicates("item_id")
    return replay_holdout(batch, master, cfg).metrics


def policy_backtest(arrays_df: DataFrame, stats_df: DataFrame, items_df: DataFrame, cfg: InventoryConfig,
                    n_buckets: int, cutoff: dt.date, window_days: int) -> DataFrame:
    """Replay of held-out demand per series (see replay.replay_holdout), for series with enough history.
    window_days: the days the arrays hold (forecast.max_history_days). Each row carries the night and the
    settings it was computed under (replay_run_date, replay_basis: skuplan.stages.replay_cadence)."""
    schema = schema_of(REPLAY)
    need = cfg.replay.holdout_days + cfg.replay.fit_window_days
    eligible = stats_df.where(F.col("n_obs") > need).select(*SERIES_KEYS)
    series_items = eligible.join(items_df.drop("category"), "item_id", how="inner")
    # Fresh column ids (toDF aliases every column): history and stats share one lineage, which the
    # analyzer would otherwise reject as an ambiguous self-join in the cogroup below.
    series_items = series_items.toDF(*series_items.columns)
    history = arrays_df.select(*_ROW_KEYS, "day", "units")
    history = history.toDF(*history.columns)
    cutoff_day = epoch_day(cutoff)

    def run(items_t: pa.Table, days_t: pa.Table) -> pa.Table:
        if items_t.num_rows == 0 or days_t.num_rows == 0:
            return _to_arrow(pd.DataFrame(), REPLAY)
        metrics = _replay_batch(items_t, days_t, cutoff_day, window_days, cfg)
        return _to_arrow(metrics.assign(**dict.fromkeys(_SET_IN_SPARK)), REPLAY)  # set below, in Spark

    replayed = (
        with_bucket(series_items, n_buckets)
        .groupBy("bucket")
        .cogroup(with_bucket(history, n_buckets).groupBy("bucket"))
        .applyInArrow(run, schema=schema)
    )
    return replayed.withColumn(_REPLAY_DATE, F.lit(cutoff + dt.timedelta(days=1)).cast("date")).withColumn(
        "replay_basis", F.lit(replay_basis(cfg, window_days))
    )


def with_searched_levels(policy_df: DataFrame, backtest_df: DataFrame) -> DataFrame:
    """inventory_policy rows with the simulation-optimised levels (simopt.shifted_levels) where the series'
    replay picked them (policy_backtest.policy_source = simopt, cfg.simopt.use), the others unchanged; the
    message says which levels and why. Tonight's levels move by the shift and lot multiplier the replay's
    search found for the series' group (in units of tonight's sigma_protection)."""
    shift, mult = F.col("simopt_shift_sigma").alias("_shift"), F.col("simopt_lot_multiplier").alias("_mult")
    picked = backtest_df.where(F.col("policy_source") == "simopt").select(*SERIES_KEYS, shift, mult)
    joined = policy_df.join(picked, SERIES_KEYS, how="left")
    schema = policy_df.schema

    def run(frames):
        for pdf in frames:
            hit = pdf["_shift"].notna().to_numpy() & (pdf["status"] == "ok").to_numpy()
            out = pdf.drop(columns=["_shift", "_mult"])
            if hit.any():
                moved = shifted_levels(out[hit], pdf.loc[hit, "_shift"], pdf.loc[hit, "_mult"])
                note = ("levels: simulation-optimised (shift " + pdf.loc[hit, "_shift"].map("{:+.2f}".format)
                        + " sigma, lot x" + pdf.loc[hit, "_mult"].map("{:g}".format) + "), they won the replay")  # fmt: skip
                msg = out.loc[hit, "message"].fillna("")
                moved["message"] = np.where(msg == "", note, msg + "; " + note)
                out.loc[hit, moved.columns] = moved
            yield out

    return joined.mapInPandas(run, schema=schema)


def policy_stage(
    forecasts_df: DataFrame,
    status_df: DataFrame,
    stats_df: DataFrame,
    arrays_df: DataFrame,
    items_df: DataFrame,
    inventory_df: DataFrame,
    cfg: InventoryConfig,
    forecast_cfg: ForecastConfig,
    run_date: dt.date,
    series_per_bucket: int = 2000,
    cached: list[DataFrame] | None = None,
    carried_backtest: DataFrame | None = None,
) -> dict[str, DataFrame]:
    """inventory_policy, replenishment, alerts, kpis, segments (and policy_backtest) DataFrames for one run.

    arrays_df: one row per series with its day lists (series.spark.series_arrays over
    forecast_cfg.max_history_days up to the cutoff, built once in prepare). Frames this stage persists are
    appended to `cached`, for the caller to unpersist once the outputs are written. carried_backtest: an earlier
    night's policy_backtest rows to hand on instead of replaying (skuplan.stages.replay_cadence).
    """
    n_series = stats_df.count()
    n_buckets = max(1, math.ceil(n_series / series_per_bucket))
    cutoff = run_date - dt.timedelta(days=1)
    recent = units_tail(arrays_df, cutoff, cfg.bootstrap_window_days)
    summary = forecast_summary(forecasts_df, forecast_cfg)
    seg = segments(_features(recent, cfg, n_buckets, cutoff), summary, items_df, cfg)
    series = policy_inputs(summary, status_df, stats_df, seg, items_df)
    policy = _plan(series, recent, forecasts_df, cfg, n_buckets, cutoff)
    policy = policy.join(
        seg.select(*SERIES_KEYS, "abc", "xyz", "cluster", "cluster_label"), SERIES_KEYS, how="left"
    )
    backtest = None
    if cfg.replay.enabled:
        history_days = forecast_cfg.max_history_days
        backtest = carried_backtest
        if backtest is None:
            backtest = policy_backtest(arrays_df, stats_df, items_df, cfg, n_buckets, cutoff, history_days)
        sc = simopt_config(cfg)
        # With the searched levels on, the replay decides tonight's levels: computed once, read twice.
        if sc.enabled and sc.use != "analytic":
            backtest = backtest.persist()
            if cached is not None:
                cached.append(backtest)
            policy = with_searched_levels(policy, backtest)
    policy = policy.persist()
    inventory = inventory_df.join(stats_df.select(*SERIES_KEYS, "last_sale_date"), SERIES_KEYS, how="left")
    per_series = {
        "replenishment": (replenishment, REPLENISHMENT_COLUMNS),
        "alerts": (alerts, ALERT_COLUMNS),
        "kpis": (lambda p, i, d, c: kpis(p, i, c), list(KPI_COLUMNS)),
    }
    stacked, per_series_outputs = _per_series(policy, inventory, per_series, run_date, cfg, n_buckets)
    if cached is not None:
        cached.extend([policy, stacked])
    outputs = {"inventory_policy": policy, **per_series_outputs, "segments": seg}
    if backtest is not None:
        outputs["policy_backtest"] = backtest
    return outputs
