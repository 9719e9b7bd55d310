"""validate: every input row accepted (typed) or quarantined with a reason; rows in = accepted + quarantined.

The small accepted inputs are committed as staged tables so a resumed run (--from-stage) reads exactly what
this run accepted; the sales rows go on to prepare in memory (committing them would double the nightly write).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import incremental, io
from skuplan.config import INPUT_TABLES, Config
from skuplan.contracts import STAGED_INPUTS
from skuplan.input_guards import DAY_COLUMNS, TableCheck, Verdict, judge_inputs
from skuplan.quality import ITEM_QUARANTINED, quarantined_items, ratio_problem, rows_after, validate_table
from skuplan.run_context import RunContext, RunFailed, StageRecord

log = logging.getLogger("skuplan")

# Validated small inputs, committed under these names (their contracts are the inputs'); sales stay in memory.
STAGED = STAGED_INPUTS


@dataclass
class Checked:
    """What validate found, nothing written yet: the accepted rows ("sales" and the staged_* names), each input's
    quarantine rows and counts, the empty-input and freshness verdict, and every problem that fails the run."""

    frames: dict[str, DataFrame]
    quarantines: dict[str, DataFrame]
    tables: dict[str, TableCheck]
    verdict: Verdict
    problems: list[str]
    window: incremental.Window | None = None  # which sales rows were validated (None: no sales input)
    basis: str = ""  # what decided acceptance (incremental.basis), stored with the watermark
    history_rows: int = 0  # rows of the sales history kept from earlier nights (0 on a full refresh)


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    checked = check(ctx)
    if checked.verdict.keep_previous and not checked.problems:
        # A legal night without sales: nothing is committed, so every table of this run_date (plans, quarantine,
        # the staged inputs a resume reads) stays as the previous run left it.
        ctx.stop_reason = checked.verdict.keep_previous
        ctx.record.detail += checked.verdict.keep_previous
        return {}
    quarantines = list(checked.quarantines.values())
    quarantine = quarantines[0]
    for q in quarantines[1:]:
        quarantine = quarantine.unionByName(q)
    frames = dict(checked.frames)
    if checked.window is not None and not checked.problems:
        # The accepted rows join the history (a failing night leaves it and the watermark as they were); prepare
        # reads the whole history, so forecast and policy see every day whichever rows were validated tonight.
        incremental.commit(ctx, frames["sales"], checked.window, checked.basis)
        total = checked.history_rows + ctx.accepted_rows["sales"]
        ctx.accepted_rows["sales"] = total
        parts = _scale_shuffle_partitions(ctx, total)
        frames["sales"] = incremental.history(ctx.spark, ctx.cfg, ctx.scenario, ctx.cutoff).repartition(
            parts, "item_id", "region_id")
    return {"quarantine": quarantine, **frames}


def check(ctx: RunContext) -> Checked:
    """Every check of the validate stage, nothing written (run() commits, the dry run only reports): each input
    read, split and reconciled, the quarantine ratio, the empty-input and the freshness rule
    (skuplan.input_guards). Problems go to ctx.problems, which fail a run once validate has committed (so the
    quarantine can be inspected) and before any plan table is replaced; warnings go to the log and the detail."""
    frames: dict[str, DataFrame] = {}
    quarantines: dict[str, DataFrame] = {}
    tables: dict[str, TableCheck] = {}
    rec = ctx.record
    rec.rows_in = rec.rows_out = 0
    window, basis, kept = None, "", 0
    for table in ("items", *[t for t in INPUT_TABLES if t != "items"]):
        raw = io.read_input(ctx.spark, ctx.cfg, table)
        if raw is None:
            continue
        if table == "sales":  # items are validated first: the accepted ids are part of the basis
            window, basis, raw = _sales_window(ctx, raw, frames.get("staged_items"))
        earlier = (incremental.earlier_quarantine(ctx.spark, ctx.cfg, ctx.run_date, ctx.scenario)
                   if table == "sales" and not window.full else None)
        good, quarantines[table], tables[table] = _validate_one(ctx, table, raw, frames.get("staged_items"),
                                                                quarantines.get("items"), earlier)
        if table == "sales" and not window.full:
            kept, tables[table] = _with_history(ctx, window, tables[table])
        # Sales go on to prepare's cached daily aggregate; the small inputs are read by every later stage.
        frames["sales" if table == "sales" else STAGED[table]] = good if table == "sales" else ctx.checkpoint(good)
    verdict = judge_inputs(ctx.cfg.quality, ctx.run_date, tables, ctx.cfg.inputs.location("sales"))
    for warning in verdict.warnings:
        log.warning(warning)
    ctx.problems.extend(verdict.problems)
    rec.rows_quarantined = sum(t.quarantined for t in tables.values())
    rec.detail += "".join(f"{part}; " for part in (*verdict.notes, *(f"warning: {w}" for w in verdict.warnings)))
    return Checked(frames, quarantines, tables, verdict, list(ctx.problems), window, basis, kept)


def _sales_window(ctx: RunContext, raw: DataFrame, items: DataFrame | None):
    """The night's window (skuplan.incremental) and the raw sales rows inside it."""
    basis = incremental.basis(ctx.cfg, items) if items is not None else ""
    window = incremental.plan_window(ctx.spark, ctx.cfg, ctx.run_date, ctx.scenario, basis, ctx.full_refresh)
    ctx.record.detail += f"sales: {window.why}; "
    log.info("sales: %s", window.why)
    if window.full:
        return window, basis, raw
    # Persisted: tonight's rows are few, and without the cache every pass over them (the count, the split) would
    # scan the whole sales input again to find them.
    return window, basis, ctx.keep(rows_after(raw, "sales", "date", window.since, ctx.cfg.quality))


def _with_history(ctx: RunContext, window: incremental.Window, night: TableCheck) -> tuple[int, TableCheck]:
    """The sales check of an incremental night, over the kept history and tonight's rows together: the empty-input
    and freshness rules judge the history the plan is made from, not only tonight's rows."""
    kept, first, last = incremental.history_stats(ctx.spark, ctx.cfg, window, ctx.scenario)
    firsts = [d for d in (first, night.first_day) if d is not None]
    lasts = [d for d in (last, night.last_day) if d is not None]
    ctx.record.detail += f"sales history: {kept} rows kept from earlier nights; "
    return kept, TableCheck(night.table, night.rows_in + kept, night.accepted + kept, night.quarantined,
                            min(firsts, default=None), max(lasts, default=None))


def check_without_writing(spark: SparkSession, cfg: Config, run_date: dt.date) -> tuple[Checked, dict[str, list]]:
    """`skuplan run --dry-run`: check() in a context of its own, plus each input's most frequent reason codes
    [(code, rows)]; nothing is written and what check() cached is released (the frames are spent after)."""
    ctx = RunContext(spark, cfg, run_date)
    ctx.record = StageRecord(stage="validate")
    try:
        checked = check(ctx)
        reasons = {table: _top_reasons(checked.quarantines[table])
                   for table, counts in checked.tables.items() if counts.quarantined}
    finally:
        ctx.release()
    return checked, reasons


def _main_reason(quarantine: DataFrame) -> str:
    """The most frequent reason of a table over its quarantine limit, with one row's reason text: a wrong
    date_format or decimal setting quarantines every row for one reason, and that text names the option to set
    (read only on the failure path, so a good night pays nothing for it)."""
    top = (quarantine.groupBy("reason_code").agg(F.count("*").alias("n"), F.min("reason").alias("reason"))
           .orderBy(F.desc("n"), "reason_code").first())
    return f"; most rows: {top['reason_code']} ({top['n']}), e.g. {top['reason']}" if top else ""


def _top_reasons(quarantine: DataFrame, n: int = 3) -> list[tuple[str, int]]:
    top = quarantine.groupBy("reason_code").count().orderBy(F.desc("count"), "reason_code").limit(n).collect()
    return [(r["reason_code"], r["count"]) for r in top]


def _validate_one(ctx: RunContext, table: str, raw: DataFrame, items: DataFrame | None,
                  items_quarantine: DataFrame | None = None, earlier: DataFrame | None = None):
    """Validate one input. earlier: quarantine rows of earlier nights (source, payload, reason_code); a row
    quarantined again for the same reason is not written again and does not count towards the ratio (it was
    judged on its first night: an incremental night re-reads rows whose date does not parse or is after the
    run date)."""
    start = time.perf_counter()
    n_in = raw.count()
    parts = _scale_shuffle_partitions(ctx, n_in) if table == "sales" else None
    known = items if table in ("sales", "inventory", "dc_stock") else None
    # Rows of an item whose master row was quarantined are blamed on that row (ITEM_QUARANTINED), not unknown.
    item_q = quarantined_items(items_quarantine) if known is not None and items_quarantine is not None else None
    result = validate_table(raw, table, ctx.run_date, ctx.cfg.quality, known_items_df=known, partitions=parts,
                            quarantined_items_df=item_q)
    ctx.hold(result.cached)
    # One pass counts both outcomes and finds the accepted rows' first and last day (for the freshness rule).
    day = DAY_COLUMNS.get(table)
    days = [F.min(day).alias("first"), F.max(day).alias("last")] if day else []
    by_outcome = {r["ok"]: r for r in result.marked.groupBy(F.col("reason_code").isNull().alias("ok"))
                  .agg(F.count("*").alias("n"), F.count(F.when(F.col("reason_code") == ITEM_QUARANTINED, 1))
                       .alias("n_item"), *days).collect()}
    n_ok, n_bad = (by_outcome[ok]["n"] if ok in by_outcome else 0 for ok in (True, False))
    if n_in != n_ok + n_bad:
        raise RunFailed(f"reconciliation failed for {table}: {n_in} rows in != {n_ok} accepted + {n_bad} quarantined")
    n_item = by_outcome[False]["n_item"] if False in by_outcome else 0
    quarantine, n_known = result.quarantine, 0
    if earlier is not None and n_bad:
        keys = ["source", "payload", "reason_code"]
        n_known = quarantine.join(earlier, keys, "left_semi").count()
        quarantine = quarantine.join(earlier, keys, "left_anti")
    problem = ratio_problem(table, n_in - n_known, n_bad - n_known, n_item,
                            ctx.cfg.quality.max_quarantine_ratio)
    if problem:
        ctx.problems.append(problem + _main_reason(result.quarantine))
    log.info("  checked %-17s %10d rows in %6.1fs", table, n_in, time.perf_counter() - start)
    rec = ctx.record
    known = f" ({n_known} of them quarantined on an earlier night already, not written again)" if n_known else ""
    rec.detail += f"{table}: {n_in} in = {n_ok} accepted + {n_bad} quarantined{known}; "
    rec.rows_in, rec.rows_out = rec.rows_in + n_in, rec.rows_out + n_ok
    ctx.accepted_rows[table] = n_ok
    accepted = by_outcome.get(True)
    first, last = (accepted["first"], accepted["last"]) if accepted and day else (None, None)
    return result.accepted, quarantine, TableCheck(table, n_in, n_ok, n_bad, first, last)


def _scale_shuffle_partitions(ctx: RunContext, sales_rows: int) -> int:
    """Raise spark.sql.shuffle.partitions with the sales rows (see SparkConfig.rows_per_shuffle_partition) and
    return the parts the sales rows are hash-partitioned into: one per rows_per_shuffle_partition rows, at
    least one per core (a fixed count that adaptive execution would not shrink, so not 200 for a tiny run).
    Results do not depend on either (canonical ordering)."""
    per = ctx.cfg.spark.rows_per_shuffle_partition
    current = int(ctx.spark.conf.get("spark.sql.shuffle.partitions"))
    if per is None:
        return current
    wanted = math.ceil(sales_rows / per)
    if wanted > current:
        ctx.spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
        log.info("shuffle partitions %d -> %d for %d sales rows", current, wanted, sales_rows)
    return max(wanted, ctx.spark.sparkContext.defaultParallelism)


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    # Nothing is committed on a kept-previous night: then the count stays the one check() made.
    rec.rows_quarantined = ctx.table_rows.get("quarantine", rec.rows_quarantined)
