"""Which nights replay the policy (inventory.replay.every_days): the replay scores the last `holdout_days` of
history through re-planned policies, so one more day moves it little, and it is the dearest part of the policy
stage (88 of 112 s at 10k series). Between replays a night carries the last replay's rows forward under its own
run_date; their `replay_run_date` says which night computed them.

A night replays when every_days is 1, on --full-refresh, or when no earlier night of the same scenario in the
last every_days - 1 days wrote policy_backtest rows computed under tonight's replay settings (`replay_basis`)
by a replay less than every_days days old.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.inventory.config import replay_basis
from skuplan.run_context import RunContext

TABLE = "policy_backtest"


def carried_replay(ctx: RunContext) -> tuple[DataFrame | None, str]:
    """(an earlier night's rows to carry forward, or None on a replay night; why, for the log)."""
    every = ctx.cfg.inventory.replay.every_days
    if every <= 1:
        return None, "replayed (inventory.replay.every_days = 1)"
    if ctx.full_refresh:
        return None, "replayed (--full-refresh)"
    ref = tables.table_ref(ctx.cfg, TABLE)
    if not tables.exists(ctx.spark, ref):
        return None, f"replayed (no {TABLE} yet)"
    earliest = ctx.run_date - dt.timedelta(days=every - 1)
    earlier = io.read_table(ctx.spark, ctx.cfg, TABLE, scenario=ctx.scenario)
    if not {"replay_run_date", "replay_basis"} <= set(earlier.columns):  # written before replays were carried
        return None, f"replayed ({TABLE} has no replay_run_date column yet)"
    fresh = earlier.where(
        (F.col("run_date") >= F.lit(earliest))
        & (F.col("run_date") < F.lit(ctx.run_date))
        & (F.col("replay_run_date") >= F.lit(earliest))
        & (F.col("replay_basis") == replay_basis(ctx.cfg.inventory, ctx.cfg.forecast.max_history_days))
    )
    last = fresh.agg(F.max("run_date")).first()[0]
    if last is None:
        return None, f"replayed (no replay under these settings in the {every - 1} nights before)"
    rows = fresh.where(F.col("run_date") == F.lit(last)).drop(*io.PARTITION_COLUMNS)
    # Cut from the table it is read from: tonight's write replaces another partition of the same table, which a
    # catalog table refuses while the plan still reads it. Released with the run's other checkpoints.
    carried = ctx.checkpoint(rows)
    replayed_on = carried.agg(F.min("replay_run_date")).first()[0]
    return carried, f"replay of {replayed_on} carried forward from {last} (inventory.replay.every_days = {every})"
