"""prepare: channels summed per item x region x day, one row of day lists per series, series statistics and
outlier flags computed from those lists. Statistics and lists are committed (exactly, not rounded) for the stages
after it.

A night whose validate merged only new sales into the history (skuplan.incremental) builds its lists from the
lists the last prepare committed plus the new days, without aggregating the whole history again; statistics and
flags come from the lists either way, so they equal a full prepare's on the same history.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan import incremental
from skuplan.run_context import RunContext, StageRecord
from skuplan.series.prepared import flags_from_lists, full_lists, list_window, merged_lists, stats_from_lists
from skuplan.series.spark import aggregate_channels

log = logging.getLogger("skuplan")


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    window = list_window(ctx.cfg.forecast.max_history_days)
    # Persisted: arrays, statistics and flags all read the lists.
    lists = ctx.keep(_lists(ctx, inputs["sales"], window))
    # The category lets the forecast engine give a cold-start series its category x region profile.
    categories = F.broadcast(inputs["staged_items"].select("item_id", "category"))
    arrays = lists.drop("last_sale_day").join(categories, "item_id", "left")
    # Extreme days, flagged (never dropped): a spike is judged per item x region x day.
    return {
        "data_flags": flags_from_lists(lists, ctx.cfg.quality.outlier_factor),
        "series_stats": stats_from_lists(lists, ctx.cutoff),
        "series_arrays": arrays,
    }


def _lists(ctx: RunContext, sales: DataFrame, window: int) -> DataFrame:
    """Tonight's lists: last night's plus the new days on an incremental night, else from the whole history."""
    merged, since = incremental.night_since(ctx.spark, ctx.cfg, ctx.scenario, ctx.run_id)
    base, why = None, "validate read every sales row" if merged else "no sales history merged"
    if merged and since is not None:
        base, why = incremental.prepare_base(ctx.spark, ctx.cfg, ctx.scenario, since, window)
    how = "full" if base is None else "incremental"
    ctx.record.detail += f"lists {how}: {why}; "
    log.info("prepare lists %s: %s", how, why)
    if base is None:
        # Sales arrive hash-partitioned by item x region (see quality.validate_table): the aggregate and the
        # lists group by supersets of those keys, so neither shuffles again.
        return full_lists(aggregate_channels(sales), ctx.cutoff, window)
    new_rows = incremental.history(ctx.spark, ctx.cfg, ctx.scenario, ctx.cutoff).where(
        F.col("date") > F.lit(since)
    )
    return merged_lists(base.lists, aggregate_channels(new_rows), ctx.cutoff, window)


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.accepted_rows["sales"]  # counted in validate: another pass over the sales rows costs
    count_series(ctx, frames["series_stats"])
    rec.rows_out = (
        ctx.series_days
    )  # series-days from each first sale to the cutoff, gaps counted as zero sales
    rec.detail += f"{ctx.n_series} series"
    ctx.unpersist()  # later stages read the committed statistics, lists and small inputs only
    merged, _ = incremental.night_since(ctx.spark, ctx.cfg, ctx.scenario, ctx.run_id)
    if merged:  # the lists hold the history this run merged: the next night may start from them
        incremental.record_prepared(ctx, rec.table_versions, list_window(ctx.cfg.forecast.max_history_days))


def count_series(ctx: RunContext, stats: DataFrame) -> None:
    """Series and series-days of the run (bucket sizes and manifest counts of later stages)."""
    totals = stats.agg(F.count("*").alias("series"), F.sum("n_obs").alias("days")).first()
    ctx.n_series, ctx.series_days = totals["series"], totals["days"] or 0
