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
    row: the day counts come from the first date, and absent days add nothing to the sums. So the input may
    be gap-filled or not, with the same result, and prepare never builds a filled frame.
    """
    cut = F.lit(cutoff).cast("date")
    start = F.date_sub(cut, window_days - 1)
    rows = daily_df.where(F.col("date") <= cut)
    inside = F.col("date") >= start
    units = F.when(inside, F.col("units"))
    nz = F.when(inside & (F.col("units") > 0), F.col("units"))
    per_series = rows.groupBy(*SERIES_KEYS).agg(
        F.min("date").alias("first_date"),
        F.sum(units).alias("window_units"),
        F.sum(units * units).alias("window_squares"),
        F.count(nz).alias("nonzero_days"),
        F.avg(nz).alias("nz_mean"),
        F.coalesce(F.stddev_pop(nz), F.lit(0.0)).alias("nz_std"),
        F.max(F.when(F.col("units") > 0, F.col("date"))).alias("last_sale_date"),
    )
    n_obs = F.datediff(cut, F.col("first_date")) + 1
    n = F.least(n_obs, F.lit(window_days)).cast("double")  # days inside the window, zeros included
    total, squares = F.coalesce(F.col("window_units"), F.lit(0.0)), F.coalesce(F.col("window_squares"), F.lit(0.0))
    mean = total / n
    # Sample variance from the sums; clamped at 0 against rounding when every day is equal.
    variance = F.greatest((squares - total * total / n) / (n - 1), F.lit(0.0))
    return per_series.select(
        "item_id",
        "region_id",
        n_obs.cast("long").alias("n_obs"),
        "first_date",
        "last_sale_date",
        mean.cast("double").alias("mean_daily"),
        F.when(n > 1, F.sqrt(variance)).otherwise(0.0).cast("double").alias("std_daily"),
        (n / F.greatest(F.col("nonzero_days"), F.lit(1))).cast("double").alias("adi"),
        F.when(F.col("nz_mean") > 0, (F.col("nz_std") / F.col("nz_mean")) ** 2).otherwise(0.0).alias("cv2"),
        # Annualised so that ABC and EOQ use a yearly demand even for young series.
        (total * 365.0 / n).alias("annual_units"),
    )


def with_bucket(df: DataFrame, n_buckets: int) -> DataFrame:
    """Stable bucket per series: many series per pandas call, same bucket on every run."""
    return df.withColumn("bucket", F.pmod(F.xxhash64(*SERIES_KEYS), F.lit(n_buckets)).cast("int"))



def series_arrays(daily_df: DataFrame, cutoff: dt.date, max_history_days: int) -> DataFrame:
    """One row per series: item_id, region_id (+ category when daily_df has it), first_day (of the whole
    history) and list columns `day` (days since 1970-01-01, ascending), units, promo (+ price, stockout) over
    the last max_history_days days up to the cutoff (SeriesBatch.from_arrow unpacks them in Python).

    daily_df need not be gap-filled: SeriesBatch fills the missing days (zero units) on the Python side from
    first_day, far cheaper than a calendar join in Spark (one row per series-day shuffled).

    The window bounds the rows a forecast bucket holds however long one series' history is. A series with
    no day inside it keeps its row, with empty lists, so it is reported rather than lost.
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
    per_series = daily_df.groupBy(*SERIES_KEYS).agg(obs.alias("obs"), first, *extra)
    return per_series.select(
        *SERIES_KEYS, *(["category"] if extra else []), "first_day",
        *[F.col(f"obs.{c}").alias(c) for c in ("day", *cols)],
    )
