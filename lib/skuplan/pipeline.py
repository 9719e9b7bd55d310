"""The nightly run: the one place that knows the stages, their order, and what each reads and writes.

Every stage is `run(ctx, inputs) -> {name: DataFrame}`. The frames a stage lists under `writes` are committed
to Delta (the run_date partition replaced) and read back for the stages after it; those under `passes` go on
in memory only. `run_pipeline(..., from_stage=NAME)` skips the stages before NAME and reads what they
committed for the same run_date, checked against the manifest (see skuplan.resume).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from skuplan import io, logs, table_upgrade
from skuplan.config import Config
from skuplan.errors import root_cause, tag_stage
from skuplan.resume import committed_inputs
from skuplan.run_context import RunContext, RunFailed, StageRecord
from skuplan.schemas import RUNS
from skuplan.stages import allocate, forecast, policy, prepare, validate

__all__ = ["STAGES", "STAGE_NAMES", "FAIL_AFTER_ENV", "RunFailed", "RunSummary", "Stage", "StageRecord",
           "UnknownStage", "run_pipeline"]

log = logging.getLogger("skuplan")


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[RunContext, dict[str, DataFrame]], dict[str, DataFrame]]
    reads: tuple[str, ...]  # frames of earlier stages (validate reads the configured inputs itself)
    writes: tuple[str, ...]  # Delta tables it commits (optional ones may be absent from its result)
    finish: Callable[[RunContext, StageRecord, dict[str, DataFrame]], None]
    passes: tuple[str, ...] = ()  # frames handed on in memory, not committed: a resume cannot start after them
    progress: Callable[[RunContext], object] | None = None


STAGES = (
    Stage("validate", validate.run, reads=(),
          writes=("quarantine", *validate.STAGED.values()), passes=("sales",), finish=validate.finish),
    Stage("prepare", prepare.run, reads=("sales", "staged_items"),
          writes=("data_flags", "series_stats", "series_arrays"), finish=prepare.finish),
    Stage("forecast", forecast.run, reads=("series_arrays", "staged_events", "staged_plans"),
          writes=tuple(forecast.OUTPUTS.values()), finish=forecast.finish, progress=forecast.progress),
    Stage("policy", policy.run,
          reads=("forecasts", "forecast_status", "series_stats", "series_arrays", "staged_items", "staged_inventory"),
          writes=("inventory_policy", "replenishment", "alerts", "kpis", "segments", "policy_backtest"),
          finish=policy.finish),
    Stage("allocate", allocate.run,
          reads=("inventory_policy", "forecasts", "staged_inventory", "staged_dc_stock", "staged_lanes", "staged_items"),
          writes=("allocation",), finish=allocate.finish),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
# Tables committed only so a later stage (or a resumed run) can read them; not plan outputs.
STAGED_TABLES = frozenset({*validate.STAGED.values(), "series_stats", "series_arrays"})
# Test hook for failure-injection tests: raise right after the named stage has committed.
FAIL_AFTER_ENV = "SKUPLAN_FAIL_AFTER_STAGE"


class UnknownStage(ValueError):
    """--from-stage names no stage."""


@dataclass
class RunSummary:
    run_id: str
    run_date: dt.date
    output_root: str
    stages: list[StageRecord]
    table_rows: dict[str, int]


def run_pipeline(spark: SparkSession, cfg: Config, run_date: dt.date, from_stage: str | None = None,
                 scenario: str = io.BASE_SCENARIO, full_refresh: bool = False) -> RunSummary:
    """Run the stages for one run_date (from `from_stage` on, if given); idempotent: each output's (run_date,
    scenario) partition is replaced. scenario: a what-if run's name (its tables' rows sit beside base's);
    full_refresh: validate every sales row again and rebuild the sales history (skuplan.incremental)."""
    if from_stage is not None and from_stage not in STAGE_NAMES:
        raise UnknownStage(f"--from-stage {from_stage!r} is not a stage; use one of {', '.join(STAGE_NAMES)}")
    io.partition_predicate(run_date, scenario)  # a scenario name that is no plain identifier stops here (ValueError)
    io.check_output_root(cfg)  # before validate: a root that is a file would fail only at the first commit
    for column in table_upgrade.prepare_tables(spark, cfg):  # an earlier version's tables, before any write
        log.info("outputs: added %s for this version", column)
    ctx = RunContext(spark, cfg, run_date, scenario=scenario, full_refresh=full_refresh)
    logs.enter_run(ctx.run_id)  # every log line of the run carries its id (skuplan.logs)
    first = STAGE_NAMES.index(from_stage) if from_stage else 0
    try:
        frames = committed_inputs(ctx, STAGES, first) if first else {}
        for stage in STAGES[first:]:
            frames.update(_run_stage(ctx, stage, frames))
            if ctx.stop_reason:  # e.g. a legal night without sales: nothing after it may replace the plans
                log.warning("run ends after stage %s: %s", stage.name, ctx.stop_reason)
                break
    except BaseException:
        # Record how far the run got, but never let a manifest problem hide the original error.
        try:
            _write_manifest(ctx)
        except Exception:
            log.exception("could not write the runs manifest after a failed run")
        try:
            ctx.release()
        except Exception:  # a dead SparkContext cannot unpersist: the run's own error is what matters
            log.exception("could not release cached frames after a failed run")
        raise
    _write_manifest(ctx)
    ctx.release()
    return RunSummary(ctx.run_id, run_date, cfg.outputs.root, ctx.records, ctx.table_rows)


def _run_stage(ctx: RunContext, stage: Stage, frames: dict[str, DataFrame]) -> dict[str, DataFrame]:
    logs.enter_stage(ctx.spark, ctx.run_id, stage.name, ctx.run_date)  # log lines and Spark UI job labels
    start = time.perf_counter()
    rec = ctx.record = StageRecord(stage=stage.name)
    resumed, ctx.resumed_from = ctx.resumed_from, ""
    try:
        out = stage.run(ctx, {name: frames[name] for name in stage.reads if name in frames})
        with stage.progress(ctx) if stage.progress else nullcontext():
            committed = _write_outputs(ctx, rec, [name for name in stage.writes if name in out], out)
        committed.update({name: out[name] for name in stage.passes if name in out})
        stage.finish(ctx, rec, {**frames, **committed})
        rec.detail = "; ".join(part for part in (resumed, rec.detail) if part)
        if ctx.problems:
            raise RunFailed("; ".join(ctx.problems))
    except Exception as exc:
        # The root cause, not str(exc): a worker's error would be its wrapper's first line ("An exception was
        # thrown from the Python worker") or a Py4J call id. The stage tag lets the CLI name where it failed.
        rec.seconds, rec.status, rec.detail = time.perf_counter() - start, "failed", root_cause(exc)[:2000]
        tag_stage(exc, stage.name)
        ctx.records.append(rec)
        raise
    rec.seconds = time.perf_counter() - start
    ctx.records.append(rec)
    log.info("stage %-9s %7.1fs rows_in=%s rows_out=%s %s", stage.name, rec.seconds, rec.rows_in, rec.rows_out,
             f"quarantined={rec.rows_quarantined}" if rec.rows_quarantined is not None else "")
    if os.environ.get(FAIL_AFTER_ENV) == stage.name:
        raise RunFailed(f"failure injected after stage {stage.name} ({FAIL_AFTER_ENV})")
    return committed


def _write_outputs(ctx: RunContext, rec: StageRecord, names: list[str], out: dict[str, DataFrame]
                   ) -> dict[str, DataFrame]:  # fmt: skip
    """Commit a stage's tables, up to outputs.parallel_writes at once: they are independent Delta tables, and a
    small table's commit is mostly driver-side Delta work (log, stats, checkpoint) that threads overlap. Each
    thread keeps the stage's log tags and Spark job label."""
    def write(name: str) -> DataFrame:
        logs.enter_stage(ctx.spark, ctx.run_id, rec.stage, ctx.run_date)
        return ctx.write(rec, name, out[name], exact=name in STAGED_TABLES)

    workers = min(ctx.cfg.outputs.parallel_writes, len(names))
    if workers <= 1:
        return {name: write(name) for name in names}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"write-{rec.stage}") as pool:
        pending = {name: pool.submit(contextvars.copy_context().run, write, name) for name in names}
        # Every write ends before an error is raised (the pool waits): the manifest then records each commit.
        return {name: future.result() for name, future in pending.items()}


def _write_manifest(ctx: RunContext) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "run_id": ctx.run_id, "run_date": ctx.run_date, "config_hash": ctx.cfg.fingerprint(), "stage": r.stage,
            "rows_in": r.rows_in, "rows_out": r.rows_out, "rows_quarantined": r.rows_quarantined,
            "seconds": float(r.seconds), "status": r.status, "detail": r.detail.strip(),
            "table_versions": r.table_versions, "finished_at": now, "scenario": ctx.scenario,
        }
        for r in ctx.records
    ]
    if rows:
        io.append_manifest(ctx.spark, ctx.cfg, rows, RUNS)
