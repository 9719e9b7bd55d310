"""Complete runs: whether a run_date holds a plan a reader may use, judged from the runs manifest, and the read
helper that refuses the others (`read_plan`, also reachable as `skuplan.io.read_plan`).

Why: each stage replaces its tables' run_date partition when it commits, and the manifest rows are appended when
the run ends. A run that fails (or is killed) after a stage has written leaves that stage's new rows beside an
older run's rows of the later stages: a mix no single run computed, which a reader could take for a plan.

A run_date is complete when, judged stage by stage (a `--from-stage` resume has rows only for the stages it ran,
so "the latest run" alone cannot decide):
1. every stage has an ok manifest row for the run_date, and the latest row of each stage is ok. A failure after
   a success is therefore not complete (the failed stage replaced some of its tables); a later successful rerun
   or resume of that stage makes it complete again.
2. no stage's latest row is older than the latest row of an earlier stage that committed tables: a run that
   stopped after stage a with no failed row (its process died between stages) left a's new tables under b's
   old ones.
A row that committed no table changed nothing and does not count for 1 or 2: a failure before the stage's first
commit (an empty sales export stopped at validate) or a legal night without sales leaves the earlier plan as it
was. The manifest records every commit a stage made before failing (`table_versions`), and rule 3 catches one
it could not record.
3. (per table read) no Delta commit after the version that the table's stage recorded has rewritten the
   run_date's partition: a run still in progress, or one killed before it could write the manifest.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.config import Config
from skuplan.pipeline import STAGES
from skuplan.resume import later_rewrite, scenario_of_run

__all__ = ["CompleteRun", "IncompleteRun", "incomplete_reason", "read_plan", "require_complete"]

_STAGE_OF_TABLE = {name: stage.name for stage in STAGES for name in stage.writes}


class IncompleteRun(RuntimeError):
    """The run_date has no complete run; the message names the run_date, the run, the stage and the fix."""


@dataclass(frozen=True)
class CompleteRun:
    run_date: dt.date
    stages: dict[str, dict]  # stage name -> its latest manifest row (all ok): together they make the plan
    scenario: str = io.BASE_SCENARIO

    def recorded_version(self, table: str) -> tuple[str, int | None]:
        """The run that last wrote `table` for this run_date and the Delta version it recorded (None: not
        recorded, e.g. a hand-made manifest)."""
        row = self.stages[_STAGE_OF_TABLE[table]]
        version = _versions(row).get(table)
        return row["run_id"], None if version is None else int(version)


def incomplete_reason(run_date: dt.date, rows: list[dict], stages=STAGES) -> str | None:
    """Why the manifest rows of one run_date do not make a complete plan (None: they do). Pure: no Spark."""
    if not rows:
        return (f"run_date {run_date} has no run in the runs manifest; run "
                f"`skuplan run --run-date {run_date}` first")
    latest = _latest_per_stage(_counted(rows))
    latest_any = _latest_per_stage(rows)
    newest = max(rows, key=_order)
    newest_committed: dict | None = None  # the latest row of the earlier stages that committed tables
    for stage in stages:
        row = latest.get(stage.name)
        if row is None and stage.name in latest_any:  # it only ever failed, before committing anything
            return (f"run_date {run_date} is not complete: run {latest_any[stage.name]['run_id']} failed at stage "
                    f"{stage.name} ({_detail(latest_any[stage.name])}) and no run of {stage.name} succeeded; "
                    f"{_fix(run_date, stage.name, stages)}")
        if row is None:
            return (f"run_date {run_date} is not complete: no {stage.name} stage is recorded (the latest run, "
                    f"{newest['run_id']}, stopped before it); {_fix(run_date, stage.name, stages)}")
        if row["status"] != "ok":
            return (f"run_date {run_date} is not complete: run {row['run_id']} failed at stage {stage.name} "
                    f"({_detail(row)}) after replacing some of its tables, so run_date {run_date} mixes new and "
                    f"old rows; {_fix(run_date, stage.name, stages)}")
        if newest_committed is not None and _order(row) < _order(newest_committed):
            return (f"run_date {run_date} is not complete: run {newest_committed['run_id']} rewrote the tables of "
                    f"stage {newest_committed['stage']} and stopped before stage {stage.name}, whose tables are "
                    f"still those of run {row['run_id']}; {_fix(run_date, stage.name, stages)}")
        if _versions(row) and (newest_committed is None or _order(row) >= _order(newest_committed)):
            newest_committed = row  # >=: of one run's rows the last stage it got through is the one to name
    return None


def require_complete(spark: SparkSession, cfg: Config, run_date: dt.date,
                     scenario: str = io.BASE_SCENARIO) -> CompleteRun | None:
    """The complete run of run_date (of the scenario: each scenario's runs are judged on their own), or
    IncompleteRun. None when there is no runs manifest at all (tables written without the pipeline, e.g. by hand
    in tests): then nothing says a run failed, and callers decide."""
    if not tables.exists(spark, tables.table_ref(cfg, "runs")):
        return None
    rows = [r.asDict() for r in io.read_table(spark, cfg, "runs").where(
        (F.col("run_date") == F.lit(run_date).cast("date")) & (scenario_of_run() == scenario)).collect()]
    reason = incomplete_reason(run_date, rows)
    if reason:
        if scenario != io.BASE_SCENARIO:
            reason = f"scenario {scenario}: {reason.replace('--run-date', f'--scenario {scenario} --run-date')}"
        raise IncompleteRun(reason)
    return CompleteRun(run_date, _latest_per_stage(_counted(rows)), scenario)


def read_plan(spark: SparkSession, cfg: Config, name: str, run_date: dt.date,
              complete: CompleteRun | None = None, scenario: str = io.BASE_SCENARIO) -> DataFrame:
    """Rows of plan table `name` for run_date, only if run_date is complete (else IncompleteRun, naming the
    run_date, the run and stage at fault, and the fix). `complete`: a check already made for this run_date (the
    report checks once for all its tables)."""
    if name not in _STAGE_OF_TABLE:
        raise ValueError(f"{name} is not a table a stage writes (one of {', '.join(sorted(_STAGE_OF_TABLE))}); "
                         "read the runs manifest with skuplan.io.read_table")
    if complete is None:
        complete = require_complete(spark, cfg, run_date, scenario)
    if complete is None:
        raise IncompleteRun(f"no runs manifest at {tables.table_ref(cfg, 'runs')}: nothing says a run of {run_date} "
                            f"finished; run `skuplan run --run-date {run_date}`, or point outputs.root (or "
                            "outputs.catalog / outputs.schema) at its output")
    check_not_rewritten(spark, cfg, name, complete)
    return io.read_table(spark, cfg, name, run_date, scenario=complete.scenario)


def check_not_rewritten(spark: SparkSession, cfg: Config, name: str, complete: CompleteRun) -> None:
    """Rule 3: the table's run_date partition is still what the complete run recorded."""
    run_id, version = complete.recorded_version(name)
    if version is None:
        return
    later = later_rewrite(spark, tables.table_ref(cfg, name), version, complete.run_date, complete.scenario)
    if later is not None:
        stage = _STAGE_OF_TABLE[name]
        raise IncompleteRun(
            f"run_date {complete.run_date} is not complete: table {name} was rewritten (Delta version "
            f"{later['version']}, {later['operation']}) after run {run_id} recorded version {version}, by a run "
            f"still in progress or one stopped before writing the runs manifest; wait for it to end, or "
            f"{_fix(complete.run_date, stage, STAGES)}"
        )


def _fix(run_date: dt.date, stage: str, stages) -> str:
    run = f"skuplan run --run-date {run_date}"
    resume = _resume_stage(stage, stages)
    if resume is None:
        return f"fix: rerun the whole run_date with `{run}`"
    return f"fix: rerun it with `{run}`, or resume with `{run} --from-stage {resume}` (same --conf)"


def _resume_stage(stage: str, stages) -> str | None:
    """The latest stage at or before `stage` a resume can start from (None: only a full run), mirroring
    skuplan.resume: a stage cannot be resumed after a frame an earlier stage hands on in memory only."""
    names = [s.name for s in stages]
    for i in range(names.index(stage), 0, -1):
        needed = {n for s in stages[i:] for n in s.reads}
        if not any(needed & set(s.passes) for s in stages[:i]):
            return names[i]
    return None


def _counted(rows: list[dict]) -> list[dict]:
    """The rows that can have changed the plan: ok ones, and failed ones that committed a table."""
    return [r for r in rows if r["status"] == "ok" or _versions(r)]


def _detail(row: dict) -> str:
    return " ".join(str(row.get("detail") or "").split())[:300] or "no detail"


def _versions(row: dict) -> dict:
    try:
        return json.loads(row.get("table_versions") or "{}")
    except ValueError:  # a hand-edited manifest: treat as unrecorded rather than failing every read
        return {}


def _order(row: dict) -> tuple:
    # finished_at orders rows; on a tie a failed row counts as the later one (the safe side).
    return row.get("finished_at") or dt.datetime.min, row.get("status") != "ok"


def _latest_per_stage(rows: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for row in rows:
        if row["stage"] not in latest or _order(row) > _order(latest[row["stage"]]):
            latest[row["stage"]] = row
    return latest
