"""prepare: channels summed per item x region x day, series statistics, one row of day lists per series,
outlier flags. Statistics and lists are committed (exactly, not rounded) for the stages after it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan.quality import outlier_flags
from skuplan.run_context import RunContext, StageRecord
from skuplan.series.spark import aggregate_channels, series_arrays, series_stats


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    # Sales arrive hash-partitioned by item x region (see quality.validate_table): the daily aggregate, the
    # statistics and the lists below group by supersets of those keys, so none of them shuffles again.
    daily = ctx.keep(aggregate_channels(inputs["sales"]))
    stats = series_stats(daily, ctx.cutoff)
    # The category lets the forecast engine give a cold-start series its category x region profile.
    categories = F.broadcast(inputs["staged_items"].select("item_id", "category"))
    arrays = series_arrays(daily, ctx.cutoff, ctx.cfg.forecast.max_history_days).join(categories, "item_id", "left")
    # Extreme days, flagged (never dropped) on the daily aggregate: a spike is judged per item x region x day.
    return {"data_flags": outlier_flags(daily, ctx.cfg.quality.outlier_factor),
            "series_stats": stats, "series_arrays": arrays}


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.accepted_rows["sales"]  # counted in validate: another pass over the sales rows costs
    count_series(ctx, frames["series_stats"])
    rec.rows_out = ctx.series_days  # series-days from each first sale to the cutoff, gaps counted as zero sales
    rec.detail = f"{ctx.n_series} series"
    ctx.unpersist()  # later stages read the committed statistics, lists and small inputs only


def count_series(ctx: RunContext, stats: DataFrame) -> None:
    """Series and series-days of the run (bucket sizes and manifest counts of later stages)."""
    totals = stats.agg(F.count("*").alias("series"), F.sum("n_obs").alias("days")).first()
    ctx.n_series, ctx.series_days = totals["series"], totals["days"] or 0
