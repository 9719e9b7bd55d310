"""Prepare: channels aggregated to item x region x day, calendar gaps filled with zeros, series statistics."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.history_arrays import DAY_COLUMNS
from skuplan.schemas import DAILY_SERIES

SERIES_KEYS = ["item_id", "region_id"]


def aggregate_channels(sales_df: DataFrame) -> DataFrame:
    """One row per item x region x day; price is the units-weighted mean over channels.

    Net units below zero (returns larger than the day's sales, possible when returns are netted)
    are floored at zero: a forecast of negative demand has no meaning for replenishment.
    """
    weighted_price = F.sum(F.col("price") * F.col("units")) / F.sum(F.when(F.col("price").isNotNull(), F.col("units")))
    daily = sales_df.groupBy("item_id", "region_id", "date").agg(
        F.greatest(F.sum("units"), F.lit(0.0)).alias("units"),
        F.max(F.coalesce(F.col("promo"), F.lit(0.0))).alias("promo"),
        F.coalesce(weighted_price, F.avg("price")).alias("price"),
        F.max(F.coalesce(F.col("stockout"), F.lit(False))).alias("stockout"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in DAILY_SERIES.fields])


def fill_calendar(daily_df: DataFrame, cutoff: dt.date) -> DataFrame:
    """Every day from the series' first sale to the cutoff; missing days have zero units, no promo."""
    spans = daily_df.groupBy(*SERIES_KEYS).agg(F.min("date").alias("first_date"))
    grid = spans.select(
        *SERIES_KEYS,
        F.explode(F.sequence(F.col("first_date"), F.lit(cutoff).cast("date"), F.expr("interval 1 day"))).alias("date"),
    )
    filled = grid.join(daily_df, on=[*SERIES_KEYS, "date"], how="left")
    return filled.select(
        F.col("item_id"),
        F.col("region_id"),
        F.col("date"),
        F.coalesce(F.col("units"), F.lit(0.0)).alias("units"),
        F.coalesce(F.col("promo"), F.lit(0.0)).alias("promo"),
        F.col("price"),
        F.coalesce(F.col("stockout"), F.lit(False)).alias("stockout"),
    )


def series_stats(filled_df: DataFrame, cutoff: dt.date, window_days: int = 365) -> DataFrame:
    """Per series: history length, recent mean/std of daily demand, ADI and CV² of non-zero demand.

    ADI = days per non-zero demand; CV² = squared coefficient of variation of the non-zero sizes
    (Syntetos-Boylan classification inputs). Computed over the last `window_days` days.
    """
    start = F.date_sub(F.lit(cutoff).cast("date"), window_days - 1)
    recent = filled_df.where(F.col("date") >= start)
    nz = F.when(F.col("units") > 0, F.col("units"))
    stats = recent.groupBy(*SERIES_KEYS).agg(
        F.count("*").alias("window_days"),
        F.avg("units").alias("mean_daily"),
        F.coalesce(F.stddev_samp("units"), F.lit(0.0)).alias("std_daily"),
        F.count(nz).alias("nonzero_days"),
        F.avg(nz).alias("nz_mean"),
        F.coalesce(F.stddev_pop(nz), F.lit(0.0)).alias("nz_std"),
        F.sum("units").alias("window_units"),
        F.max(F.when(F.col("units") > 0, F.col("date"))).alias("last_sale_date"),
    )
    life = filled_df.groupBy(*SERIES_KEYS).agg(F.count("*").alias("n_obs"), F.min("date").alias("first_date"))
    out = stats.join(life, on=SERIES_KEYS, how="inner")
    return out.select(
        "item_id",
        "region_id",
        F.col("n_obs").cast("long"),
        "first_date",
        "last_sale_date",
        F.col("mean_daily").cast("double"),
        F.col("std_daily").cast("double"),
        (F.col("window_days") / F.greatest(F.col("nonzero_days"), F.lit(1))).cast("double").alias("adi"),
        F.when(F.col("nz_mean") > 0, (F.col("nz_std") / F.col("nz_mean")) ** 2).otherwise(0.0).alias("cv2"),
        # Annualised so that ABC and EOQ use a yearly demand even for young series.
        (F.col("window_units") * 365.0 / F.col("window_days")).alias("annual_units"),
    )


def with_bucket(df: DataFrame, n_buckets: int) -> DataFrame:
    """Stable bucket per series: many series per pandas call, same bucket on every run."""
    return df.withColumn("bucket", F.pmod(F.xxhash64(*SERIES_KEYS), F.lit(n_buckets)).cast("int"))



def series_arrays(daily_df: DataFrame, cutoff: dt.date, max_history_days: int) -> DataFrame:
    """One row per series: item_id, region_id (+ category when daily_df has it) and list columns `day`
    (days since 1970-01-01, ascending), units, promo (+ price, stockout) over the last max_history_days days
    up to the cutoff (history_arrays.history_from_arrow unpacks them in Python).

    The window bounds the rows a forecast bucket holds however long one series' history is. A series with
    no day inside it keeps its row, with empty lists, so it is reported rather than lost.
    """
    if isinstance(cutoff, dt.datetime):  # a pandas Timestamp too
        cutoff = cutoff.date()
    cutoff_day = (cutoff - dt.date(1970, 1, 1)).days
    day = F.unix_date(F.col("date").cast("date"))
    cols = [c for c in DAY_COLUMNS if c in daily_df.columns]
    inside = (day <= cutoff_day) & (day > cutoff_day - max_history_days)
    # collect_list skips the nulls (days outside the window); sort_array orders the structs by their first
    # field, the day, so the lists are canonical whatever order the shuffle delivered.
    obs = F.sort_array(F.collect_list(F.when(inside, F.struct(day.alias("day"), *[F.col(c) for c in cols]))))
    extra = [F.first("category", ignorenulls=True).alias("category")] if "category" in daily_df.columns else []
    per_series = daily_df.groupBy(*SERIES_KEYS).agg(obs.alias("obs"), *extra)
    return per_series.select(
        *SERIES_KEYS, *(["category"] if extra else []), *[F.col(f"obs.{c}").alias(c) for c in ("day", *cols)]
    )
