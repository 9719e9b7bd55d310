"""The report's intraday section, Spark side: what `skuplan stream` wrote for the report's run_date (reorder
signals per hour of event time, and the positions at or below their reorder point now). Loaded only when a report
is written, like queries.py; the markup is page.intraday_section."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import functions as F

from skuplan.report.queries import Tables

BELOW_SHOWN = 15  # rows of the positions-below table (the most urgent first)


@dataclass
class Intraday:
    signals_per_hour: list[tuple[str, int]]  # ("HH:00", signals) for the hours of run_date with any
    # positions at or below s now, most urgent first: item_id, region_id, on_hand, reorder_point, order_qty_policy
    below: list[dict]
    below_count: int
    positions: int
    complete_through: dt.datetime | None  # the latest complete_through over the positions


def intraday(t: Tables) -> Intraday | str | None:
    """The stream's figures for run_date, or why they cannot be drawn; None when no stream writes to this output
    (the page then has no intraday section)."""
    if t.get("inventory_position", partitioned=False) is None:
        return None
    positions = t.need(
        "inventory_position", ["item_id", "region_id", "on_hand", "complete_through"], partitioned=False
    )
    if isinstance(positions, str):
        return positions
    signals = t.need("reorder_signals", ["event_time"], partitioned=False)
    hours: list[tuple[str, int]] = []
    if not isinstance(signals, str):
        day = signals.where(F.to_date("event_time") == F.lit(t.run_date))
        rows = day.groupBy(F.hour("event_time").alias("h")).count().orderBy("h").collect()
        hours = [(f"{r['h']:02d}:00", int(r["count"])) for r in rows]
    policy = t.need("inventory_policy", ["item_id", "region_id", "reorder_point", "order_qty_policy"])
    below: list[dict] = []
    below_count = 0
    if not isinstance(policy, str):
        joined = positions.join(
            policy.select("item_id", "region_id", "reorder_point", "order_qty_policy"),
            ["item_id", "region_id"],
        )
        flagged = joined.where(F.col("on_hand") <= F.col("reorder_point"))
        below_count = flagged.count()
        below = [
            r.asDict()
            for r in flagged.orderBy((F.col("on_hand") - F.col("reorder_point")), "item_id", "region_id")
            .limit(BELOW_SHOWN)
            .collect()
        ]
    stats = positions.agg(F.count("*").alias("n"), F.max("complete_through").alias("c")).first()
    return Intraday(hours, below, below_count, int(stats["n"]), stats["c"])
