"""validate: every input row accepted (typed) or quarantined with a reason; rows in = accepted + quarantined.

The small accepted inputs are committed as staged tables so a resumed run (--from-stage) reads exactly what
this run accepted; the sales rows go on to prepare in memory (committing them would double the nightly write).
"""

from __future__ import annotations

import logging
import math
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from skuplan import io
from skuplan.config import INPUT_TABLES
from skuplan.contracts import STAGED_INPUTS
from skuplan.quality import validate_table
from skuplan.run_context import RunContext, RunFailed, StageRecord

log = logging.getLogger("skuplan")

# Validated small inputs, committed under these names (their contracts are the inputs'); sales stay in memory.
STAGED = STAGED_INPUTS


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    out: dict[str, DataFrame] = {}
    quarantines = []
    ctx.record.rows_in = ctx.record.rows_out = 0
    for table in ("items", *[t for t in INPUT_TABLES if t != "items"]):
        raw = io.read_input(ctx.spark, ctx.cfg, table)
        if raw is None:
            continue
        good, quarantine = _validate_one(ctx, table, raw, out.get("staged_items"))
        # Sales go on to prepare's cached daily aggregate; the small inputs are read by every later stage.
        out["sales" if table == "sales" else STAGED[table]] = good if table == "sales" else ctx.checkpoint(good)
        quarantines.append(quarantine)
    quarantine = quarantines[0]
    for q in quarantines[1:]:
        quarantine = quarantine.unionByName(q)
    return {"quarantine": quarantine, **out}


def _validate_one(ctx: RunContext, table: str, raw: DataFrame, items: DataFrame | None):
    start = time.perf_counter()
    n_in = raw.count()
    parts = _scale_shuffle_partitions(ctx, n_in) if table == "sales" else None
    known = items if table in ("sales", "inventory", "dc_stock") else None
    result = validate_table(raw, table, ctx.run_date, ctx.cfg.quality, known_items_df=known, partitions=parts)
    ctx.hold(result.cached)
    by_outcome = dict(result.marked.groupBy(F.col("reason_code").isNull().alias("ok")).count().collect())
    n_ok, n_bad = by_outcome.get(True, 0), by_outcome.get(False, 0)
    if n_in != n_ok + n_bad:
        raise RunFailed(f"reconciliation failed for {table}: {n_in} rows in != {n_ok} accepted + {n_bad} quarantined")
    ratio = n_bad / n_in if n_in else 0.0
    limit = ctx.cfg.quality.max_quarantine_ratio
    if ratio > limit:
        ctx.problems.append(f"input {table}: {n_bad} of {n_in} rows ({ratio:.1%}) quarantined, above "
                            f"quality.max_quarantine_ratio={limit}; inspect the quarantine table or raise the limit")
    log.info("  checked %-17s %10d rows in %6.1fs", table, n_in, time.perf_counter() - start)
    rec = ctx.record
    rec.detail += f"{table}: {n_in} in = {n_ok} accepted + {n_bad} quarantined; "
    rec.rows_in, rec.rows_out = rec.rows_in + n_in, rec.rows_out + n_ok
    ctx.accepted_rows[table] = n_ok
    return result.accepted, result.quarantine


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
    rec.rows_quarantined = ctx.table_rows["quarantine"]
