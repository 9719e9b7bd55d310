"""Resuming a run: the frames the skipped stages committed for the same run_date, checked against the
runs manifest (same config hash, table partitions unchanged since the recorded Delta versions)."""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.run_context import RunContext, RunFailed

# Delta operations that can change a table's rows (OPTIMIZE, VACUUM and the like cannot).
_CONTENT_OPERATIONS = {"WRITE", "CREATE OR REPLACE TABLE AS SELECT", "REPLACE TABLE AS SELECT", "DELETE", "MERGE",
                       "UPDATE", "RESTORE", "TRUNCATE", "STREAMING UPDATE"}


def committed_inputs(ctx: RunContext, stages, first: int) -> dict[str, DataFrame]:
    """name -> committed frame, for every frame the stages from `first` on read from the stages before it."""
    skipped, resumed = stages[:first], stages[first]
    needed = {name for stage in stages[first:] for name in stage.reads}
    for stage in skipped:
        held = sorted(needed & set(stage.passes))
        if held:
            raise RunFailed(
                f"cannot resume from {resumed.name}: {', '.join(held)} is handed on in memory by {stage.name}, "
                f"never committed; start from {stage.name} instead"
            )
    records = _latest_ok_records(ctx, [s.name for s in skipped])
    frames: dict[str, DataFrame] = {}
    sources = []
    for stage in skipped:
        rec = records.get(stage.name)
        if rec is None:
            raise RunFailed(f"cannot resume from {resumed.name}: no successful {stage.name} stage for run_date "
                            f"{ctx.run_date} in the runs manifest; run without --from-stage")
        if rec["config_hash"] != ctx.cfg.fingerprint():
            raise RunFailed(f"cannot resume from {resumed.name}: the config changed since run {rec['run_id']} "
                            f"committed {stage.name} (hash {rec['config_hash']}, now {ctx.cfg.fingerprint()}); "
                            "run without --from-stage")
        versions = json.loads(rec["table_versions"] or "{}")
        if not versions and needed & set(stage.writes):  # e.g. validate on a kept-previous night wrote nothing
            raise RunFailed(f"cannot resume from {resumed.name}: {stage.name} of run {rec['run_id']} committed no "
                            f"table ({(rec['detail'] or '')[:300]}); run without --from-stage")
        for name in sorted(needed & set(stage.writes) & versions.keys()):
            _check_unchanged(ctx, name, versions[name], rec["run_id"])
            frames[name] = ctx.read(name, versions[name])
        sources.append(f"{stage.name} of run {rec['run_id']}")
    if "series_stats" in frames:
        from skuplan.stages.prepare import count_series

        count_series(ctx, frames["series_stats"])
    ctx.resumed_from = "resumed: reused " + ", ".join(sources)
    return frames


def _latest_ok_records(ctx: RunContext, stage_names: list[str]) -> dict[str, dict]:
    if not tables.exists(ctx.spark, tables.table_ref(ctx.cfg, "runs")):
        return {}
    rows = (
        io.read_table(ctx.spark, ctx.cfg, "runs")
        .where((F.col("run_date") == F.lit(ctx.run_date)) & (F.col("status") == "ok") & F.col("stage").isin(stage_names)
               & (scenario_of_run() == ctx.scenario))
        .orderBy(F.col("finished_at").desc(), F.col("run_id").desc())
        .collect()
    )
    latest: dict[str, dict] = {}
    for row in rows:
        latest.setdefault(row["stage"], row.asDict())
    return latest


def _check_unchanged(ctx: RunContext, name: str, version: int, run_id: str) -> None:
    """Raise if a commit after `version` may have changed this run_date's rows of table `name`."""
    row = later_rewrite(ctx.spark, tables.table_ref(ctx.cfg, name), version, ctx.run_date, ctx.scenario)
    if row is not None:
        raise RunFailed(
            f"cannot resume: table {name} differs from what run {run_id} committed (version {version}); "
            f"version {row['version']} ({row['operation']}) rewrote run_date {ctx.run_date}; run without --from-stage"
        )


def scenario_of_run():
    """The runs manifest's scenario column; rows written before scenarios existed (null) were base runs."""
    return F.coalesce(F.col("scenario"), F.lit(io.BASE_SCENARIO))


def later_rewrite(spark: SparkSession, ref: tables.TableRef, version: int, run_date: dt.date,
                  scenario: str = io.BASE_SCENARIO) -> Row | None:
    """The first commit after `version` that may have changed the (run_date, scenario) partition of the Delta
    table `ref` (None if none did). Shared with skuplan.complete_runs: a reader must not take such rows for the
    recorded run. A commit whose predicate names the day but another scenario left this one alone."""
    history = tables.delta_table(spark, ref).history()
    later = history.where(F.col("version") > version).select("version", "operation", "operationParameters").collect()
    day = run_date.isoformat()
    for row in sorted(later, key=lambda r: r["version"]):
        predicate = (row["operationParameters"] or {}).get("predicate")
        if row["operation"] in _CONTENT_OPERATIONS and _may_touch(predicate, day, scenario):
            return row
    return None


def _may_touch(predicate: str | None, day: str, scenario: str) -> bool:
    if predicate is None:
        return True
    if day not in predicate:
        return False
    # Predicates written by io.partition_predicate name the scenario; one without it may have touched any.
    return "scenario" not in predicate or f"'{scenario}'" in predicate
