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
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import quantile_column
from skuplan.history_arrays import dense_lists, lists_to_long, units_matrix
from skuplan.inventory.alerts import ALERT_COLUMNS, alerts
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.kpis import KPI_COLUMNS, kpis
from skuplan.inventory.plan import PLAN_COLUMNS, plan_policy
from skuplan.inventory.policies import REPLENISHMENT_COLUMNS, replenishment
from skuplan.inventory.replay import replay_holdout
from skuplan.inventory.segments import FEATURES, abc_xyz, kmeans_segments, segment_features
from skuplan.series.spark import SERIES_KEYS, series_arrays, with_bucket

_STRING_COLS = {
    "item_id", "region_id", "status", "message", "policy", "method", "demand_class", "segment", "sigma_source",
    "service_type", "lot_sizing", "reason_code", "reason", "alert_type", "severity", "abc", "xyz", "cluster_label",
}  # fmt: skip
_BOOL_COLS = {"z_capped"}
_DATE_COLS = {"expected_arrival_date"}
_INT_COLS = {"cluster"}
SEGMENT_COLUMNS = ["item_id", "region_id", "abc", "xyz", "segment", "cluster", "cluster_label", *FEATURES, "xyz_cv"]


def _spark_type(name: str) -> T.DataType:
    if name in _STRING_COLS:
        return T.StringType()
    if name in _BOOL_COLS:
        return T.BooleanType()
    if name in _DATE_COLS:
        return T.DateType()
    if name in _INT_COLS:
        return T.IntegerType()
    return T.DoubleType()


def schema_of(columns) -> T.StructType:
    return T.StructType([T.StructField(c, _spark_type(c), True) for c in columns])


def _conform(frame: pd.DataFrame, schema: T.StructType) -> pd.DataFrame:
    """Pandas frame with exactly the schema's columns; inf becomes NaN (Delta/Arrow friendly)."""
    out = frame.reindex(columns=schema.fieldNames())
    for f in schema.fields:
        if isinstance(f.dataType, T.DoubleType):
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
        elif isinstance(f.dataType, T.DateType):
            out[f.name] = pd.to_datetime(out[f.name]).dt.date
        elif isinstance(f.dataType, T.IntegerType):
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype("Int32")
    return out


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


def _status_profile(status_df: DataFrame) -> DataFrame:
    """demand_class and the forecast-error profile per series; null profile if the status table predates it."""
    cols = [F.col(c) if c in status_df.columns else F.lit(None).cast("double").alias(c) for c in PROFILE_COLUMNS]
    return status_df.select(*SERIES_KEYS, "demand_class", *cols)


def policy_inputs(summary: DataFrame, status_df: DataFrame, stats_df: DataFrame, seg: DataFrame,
                  items_df: DataFrame) -> DataFrame:
    """plan_policy input per series: forecast mean + band sigma (fallback), the forecast-error profile of
    the chosen model (plan_policy turns it into the sigma of P-day error sums), demand sigma, segment and
    the item master."""
    return (
        summary.join(_status_profile(status_df), SERIES_KEYS, how="left")
        .join(stats_df.select(*SERIES_KEYS, F.col("std_daily").alias("sigma_demand_daily")), SERIES_KEYS, how="left")
        .join(seg.select(*SERIES_KEYS, "segment", "abc", "xyz", "cluster", "cluster_label"), SERIES_KEYS, how="left")
        .join(items_df.drop("category"), "item_id", how="inner")
    )


def _epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _to_arrow(frame: pd.DataFrame, schema: T.StructType) -> pa.Table:
    return pa.Table.from_pandas(_conform(frame, schema), schema=to_arrow_schema(schema), preserve_index=False)


def _days_frame(table: pa.Table, cutoff_day: int, window_days: int) -> pd.DataFrame:
    """item_id, region_id, date, units (one row per series-day, gap-free over the window up to the cutoff)
    from a table of day/units lists."""
    long = lists_to_long(dense_lists(table, cutoff_day, window_days), SERIES_KEYS, ["day", "units"])
    long["date"] = long.pop("day").to_numpy(dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    long["units"] = long["units"].astype(float)
    return long[[*SERIES_KEYS, "date", "units"]]


def units_tail(arrays_df: DataFrame, cutoff: dt.date, days: int) -> DataFrame:
    """item_id, region_id and the `day` / `units` lists (series.series_arrays) cut to (cutoff - days, cutoff].

    The lists hold ascending days up to the cutoff, so the days wanted are a suffix: sliced in Spark, only
    they are shipped to Python.
    """
    cut = _epoch_day(cutoff)
    k = F.size(F.filter("day", lambda d: d > cut - days))
    start = F.greatest(F.size("day") - k + 1, F.lit(1))
    return arrays_df.select(*_series_columns(arrays_df), F.slice("day", start, k).alias("day"),
                            F.slice("units", start, k).alias("units"))


def _series_columns(arrays_df: DataFrame) -> list[str]:
    """The keys, and first_day when the lists may have gaps (history_arrays.dense_lists needs it)."""
    return [*SERIES_KEYS, *(["first_day"] if "first_day" in arrays_df.columns else [])]


def _features(tail_df: DataFrame, cfg: InventoryConfig, n_buckets: int, cutoff: dt.date) -> DataFrame:
    cols = ["item_id", "region_id", *FEATURES, "xyz_cv"]
    schema = schema_of(cols)
    cutoff_day, window = _epoch_day(cutoff), cfg.bootstrap_window_days

    def run(table: pa.Table) -> pa.Table:
        days = _days_frame(table, cutoff_day, window)
        return _to_arrow(segment_features(days, bucket_days=cfg.xyz_bucket_days), schema)

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
    schema = schema_of(SEGMENT_COLUMNS)
    if pdf.empty:
        return spark.createDataFrame([], schema)
    seg = abc_xyz(pdf, cfg)
    clusters = kmeans_segments(pdf, (cfg.kmeans.k_min, cfg.kmeans.k_max), seed=cfg.seed, cfg=cfg.kmeans)
    seg = seg.merge(clusters[[*SERIES_KEYS, "cluster", "cluster_label"]], on=SERIES_KEYS, how="left")
    base.unpersist()
    return spark.createDataFrame(_conform(seg, schema), schema)


def _forecast_lists(forecasts_df: DataFrame) -> DataFrame:
    """item_id, region_id, fc_day, fc_yhat: each series' daily forecast as two lists, days ascending."""
    obs = F.sort_array(F.collect_list(F.struct(F.unix_date("date").alias("day"), F.col("yhat"))))
    per_series = forecasts_df.groupBy(*SERIES_KEYS).agg(obs.alias("obs"))
    return per_series.select(*SERIES_KEYS, F.col("obs.day").alias("fc_day"), F.col("obs.yhat").alias("fc_yhat"))


def _plan(stats_df: DataFrame, tail_df: DataFrame, forecasts_df: DataFrame, cfg: InventoryConfig,
          n_buckets: int, cutoff: dt.date) -> DataFrame:
    schema = schema_of(PLAN_COLUMNS)
    cutoff_day, window = _epoch_day(cutoff), cfg.bootstrap_window_days
    left = stats_df.join(_forecast_lists(forecasts_df), SERIES_KEYS, how="left")

    def run(stats_t: pa.Table, hist_t: pa.Table) -> pa.Table:
        if stats_t.num_rows == 0:
            return _to_arrow(pd.DataFrame(), schema)
        stats = stats_t.drop_columns(["bucket", "fc_day", "fc_yhat"]).to_pandas()
        future = lists_to_long(stats_t, SERIES_KEYS, ["fc_day", "fc_yhat"]).rename(columns={"fc_yhat": "yhat"})
        future["date"] = future.pop("fc_day").to_numpy(dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
        history = units_matrix(dense_lists(hist_t, cutoff_day, window), stats[SERIES_KEYS], cutoff_day, window)
        return _to_arrow(plan_policy(stats, cfg, history_array=history, forecast=future), schema)

    return (
        with_bucket(left, n_buckets)
        .groupBy("bucket")
        .cogroup(with_bucket(tail_df, n_buckets).groupBy("bucket"))
        .applyInArrow(run, schema=schema)
    )


def _per_series(policy_df: DataFrame, inventory_df: DataFrame, outputs: dict, run_date: dt.date,
                cfg: InventoryConfig, n_buckets: int) -> tuple[DataFrame, dict[str, DataFrame]]:
    """Apply pure (policy, inventory, run_date, cfg) -> frame functions in buckets of series, all in ONE pass.

    outputs: name -> (function, columns). Spark returns one frame per call, so the frames are stacked with a
    `_kind` column, persisted and split (as the forecast glue does): one shuffle and one Python round trip
    instead of one per output.
    """
    names = list(dict.fromkeys(c for _, cols in outputs.values() for c in cols))
    wide = T.StructType([T.StructField("_kind", T.StringType(), False), *schema_of(names).fields])

    def run(pol: pd.DataFrame, inv: pd.DataFrame) -> pd.DataFrame:
        if pol.empty:
            return pd.DataFrame(columns=wide.fieldNames())
        pol, inv = pol.drop(columns="bucket"), inv.drop(columns="bucket")
        parts = [_conform(fn(pol, inv, run_date, cfg), schema_of(cols)).assign(_kind=kind)
                 for kind, (fn, cols) in outputs.items()]
        stacked = pd.concat(parts, ignore_index=True)
        out = _conform(stacked, schema_of(names))
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


REPLAY_COLUMNS = [
    "item_id", "region_id", "policy", "method", "demand_class", "segment", "service_type", "service_level",
    "expected_fill_rate", "expected_csl", "demand", "served", "fill_rate", "cycles", "stockout_cycles", "csl",
    "ready_rate", "avg_on_hand", "lost_units", "backordered_units", "n_orders", "ordered_units", "holding_cost",
    "ordering_cost", "shortage_cost", "total_cost", "cost_per_day",
]  # fmt: skip


def policy_backtest(arrays_df: DataFrame, stats_df: DataFrame, items_df: DataFrame, cfg: InventoryConfig,
                    n_buckets: int, cutoff: dt.date, window_days: int) -> DataFrame:
    """Replay of held-out demand per series (see replay.replay_holdout), for series with enough history.
    window_days: the days the arrays hold (forecast.max_history_days), filled up where they have gaps."""
    schema = schema_of(REPLAY_COLUMNS)
    need = cfg.replay.holdout_days + cfg.replay.fit_window_days
    eligible = stats_df.where(F.col("n_obs") > need).select(*SERIES_KEYS)
    series_items = eligible.join(items_df.drop("category"), "item_id", how="inner")
    # Fresh column ids (toDF aliases every column): history and stats share one lineage, which the
    # analyzer would otherwise reject as an ambiguous self-join in the cogroup below.
    series_items = series_items.toDF(*series_items.columns)
    history = arrays_df.select(*_series_columns(arrays_df), "day", "units")
    history = history.toDF(*history.columns)
    cutoff_day = _epoch_day(cutoff)

    def run(items_t: pa.Table, days_t: pa.Table) -> pa.Table:
        items = items_t.to_pandas()
        if items.empty or days_t.num_rows == 0:
            return _to_arrow(pd.DataFrame(), schema)
        # Filtered here, not by a join in Spark: both cogroup sides would then share one lineage.
        days = _days_frame(days_t, cutoff_day, window_days).merge(items[SERIES_KEYS], on=SERIES_KEYS, how="inner")
        master = items.drop(columns=["bucket", "region_id"]).drop_duplicates("item_id")
        return _to_arrow(replay_holdout(days, master, cfg).metrics, schema)

    return (
        with_bucket(series_items, n_buckets)
        .groupBy("bucket")
        .cogroup(with_bucket(history, n_buckets).groupBy("bucket"))
        .applyInArrow(run, schema=schema)
    )


def policy_stage(
    forecasts_df: DataFrame,
    status_df: DataFrame,
    stats_df: DataFrame,
    history_df: DataFrame,
    items_df: DataFrame,
    inventory_df: DataFrame,
    cfg: InventoryConfig,
    forecast_cfg: ForecastConfig,
    run_date: dt.date,
    series_per_bucket: int = 2000,
    arrays_df: DataFrame | None = None,
    cached: list[DataFrame] | None = None,
) -> dict[str, DataFrame]:
    """inventory_policy, replenishment, alerts, kpis, segments (and policy_backtest) DataFrames for one run.

    history_df: daily history (item_id, region_id, date, units); arrays_df: the same as series.series_arrays
    (the pipeline builds it once in prepare), built here from history_df when not given. Frames this stage
    persists are appended to `cached`, for the caller to unpersist once the outputs are written.
    """
    n_series = stats_df.count()
    n_buckets = max(1, math.ceil(n_series / series_per_bucket))
    cutoff = run_date - dt.timedelta(days=1)
    if arrays_df is None:
        arrays_df = series_arrays(history_df.select(*SERIES_KEYS, "date", "units"), cutoff,
                                  forecast_cfg.max_history_days)
    recent = units_tail(arrays_df, cutoff, cfg.bootstrap_window_days)
    summary = forecast_summary(forecasts_df, forecast_cfg)
    seg = segments(_features(recent, cfg, n_buckets, cutoff), summary, items_df, cfg)
    series = policy_inputs(summary, status_df, stats_df, seg, items_df)
    policy = _plan(series, recent, forecasts_df, cfg, n_buckets, cutoff)
    policy = policy.join(seg.select(*SERIES_KEYS, "abc", "xyz", "cluster", "cluster_label"), SERIES_KEYS, how="left")
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
    if cfg.replay.enabled:
        outputs["policy_backtest"] = policy_backtest(arrays_df, stats_df, items_df, cfg, n_buckets, cutoff,
                                                     forecast_cfg.max_history_days)
    return outputs
