"""Spark side of prepare: channels aggregated to item x region x day, series statistics, and one row of
lists per series (the rows SeriesBatch.from_arrow turns into gap-free blocks on the Python side)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.schemas import DAILY_SERIES
from skuplan.series.batch import ABSENT_DAY

SERIES_KEYS = ["item_id", "region_id"]


def aggregate_channels(sales_df: DataFrame) -> DataFrame:
    """One row per item x region x day; price is the units-weighted mean over channels.

    Net units below zero (returns larger than the day's sales, possible when returns are netted)
    are floored at zero: a forecast of negative demand has no meaning for replenishment.
    """
    priced_units = F.sum(F.when(F.col("price").isNotNull(), F.col("units")))
    # A day whose priced rows sold nothing (dense exports list every day, units 0 with the shelf price) has no
    # weights: ANSI mode raises DIVIDE_BY_ZERO on x / 0, so such a day takes the plain mean of the channel
    # prices below (null when no channel has one).
    weighted_price = F.when(priced_units != 0, F.sum(F.col("price") * F.col("units")) / priced_units)
    daily = sales_df.groupBy("item_id", "region_id", "date").agg(
        F.greatest(F.sum("units"), F.lit(0.0)).alias("units"),
        F.max(F.coalesce(F.col("promo"), F.lit(0.0))).alias("promo"),
        F.coalesce(weighted_price, F.avg("price")).alias("price"),
        F.max(F.coalesce(F.col("stockout"), F.lit(False))).alias("stockout"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in DAILY_SERIES.fields])


def series_stats(daily_df: DataFrame, cutoff: dt.date, window_days: int = 365) -> DataFrame:
    """Per series: history length, recent mean/std of daily demand, ADI and CV² of non-zero demand.

    ADI = days per non-zero demand; CV² = squared coefficient of variation of the non-zero sizes
    (Syntetos-Boylan classification inputs). Computed over the last `window_days` days.

    Every day from a series' first row to the cutoff counts, with zero units where the daily aggregate has no
    row, so the input may be gap-filled or not, with the same result. Computed from the series' day lists, as
    prepare does (series.prepared, series.window_stats): one implementation for the pipeline and its callers.
    """
    from skuplan.series.prepared import full_lists, stats_from_lists  # it builds on series_arrays below

    return stats_from_lists(full_lists(daily_df, cutoff, window_days), cutoff, window_days)


def with_bucket(df: DataFrame, n_buckets: int) -> DataFrame:
    """Stable bucket per series: many series per pandas call, same bucket on every run."""
    return df.withColumn("bucket", F.pmod(F.xxhash64(*SERIES_KEYS), F.lit(n_buckets)).cast("int"))



def series_arrays(daily_df: DataFrame, cutoff: dt.date, max_history_days: int,
                  with_last_sale: bool = False) -> DataFrame:
    """One row per series: item_id, region_id (+ category when daily_df has it), first_day (of the whole
    history) and list columns `day` (days since 1970-01-01, ascending), units, promo (+ price, stockout) over
    the last max_history_days days up to the cutoff (SeriesBatch.from_arrow unpacks them in Python).

    daily_df need not be gap-filled: SeriesBatch fills the missing days (zero units) on the Python side from
    first_day, far cheaper than a calendar join in Spark (one row per series-day shuffled).

    The window bounds the rows a forecast bucket holds however long one series' history is. A series with
    no day inside it keeps its row, with empty lists, so it is reported rather than lost.
    with_last_sale: add `last_sale_day`, the last day up to the cutoff with units > 0 in the whole history (null:
    never sold), which prepare's statistics need beyond the window (series.prepared).
    """
    if isinstance(cutoff, dt.datetime):  # a pandas Timestamp too
        cutoff = cutoff.date()
    cutoff_day = (cutoff - dt.date(1970, 1, 1)).days
    day = F.unix_date(F.col("date").cast("date"))
    cols = [c for c in ABSENT_DAY if c in daily_df.columns]
    inside = (day <= cutoff_day) & (day > cutoff_day - max_history_days)
    # collect_list skips the nulls (days outside the window); sort_array orders the structs by their first
    # field, the day, so the lists are canonical whatever order the shuffle delivered.
    obs = F.sort_array(F.collect_list(F.when(inside, F.struct(day.alias("day"), *[F.col(c) for c in cols]))))
    extra = [F.first("category", ignorenulls=True).alias("category")] if "category" in daily_df.columns else []
    first = F.min(F.when(day <= cutoff_day, day)).alias("first_day")
    last_sale = [F.max(F.when((day <= cutoff_day) & (F.col("units") > 0), day)).alias("last_sale_day")]
    per_series = daily_df.groupBy(*SERIES_KEYS).agg(obs.alias("obs"), first, *extra, *(last_sale if with_last_sale
                                                                                       else []))
    return per_series.select(
        *SERIES_KEYS, *(["category"] if extra else []), "first_day",
        *[F.col(f"obs.{c}").alias(c) for c in ("day", *cols)], *(["last_sale_day"] if with_last_sale else []),
    )
