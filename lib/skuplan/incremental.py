"""Incremental nights: the validated sales history is a Delta table (`sales_history`), and a night validates only
the sales rows dated after the last night's cutoff (the watermark in `history_state`), merges them into the
history and hands the whole history to prepare, so forecast and policy still see every day.

Which rows a night validates (`plan_window`):
- all of them (a full refresh) on `--full-refresh`, with `inputs.incremental: false`, for a scenario's first night,
  when what decides acceptance changed since the last night (the `basis`: quality.returns and business_timezone, the sales input's
  format and layout, the accepted item ids), or for a run_date before the last night's;
- a rerun of the last night's run_date: the same rows as that night (so a retry is idempotent);
- otherwise: rows dated after the last night's cutoff, plus rows whose date does not parse.
Rows dated on or before the watermark are not read again: a file source whose old days change needs
`--full-refresh`. A bad row that lies outside every window (a date that does not parse, a day after the run date)
is quarantined on the first night that sees it only (`earlier_quarantine`: same source, payload and reason).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.config import Config, check_identifier
from skuplan.contracts import contract
from skuplan.resume import later_rewrite
from skuplan.schemas import struct_type

log = logging.getLogger("skuplan")

HISTORY, STATE, PREPARED = "sales_history", "history_state", "prepare_state"


@dataclass(frozen=True)
class Window:
    """The sales rows a night validates: every row (since None), or those dated after `since`."""

    since: dt.date | None
    why: str

    @property
    def full(self) -> bool:
        return self.since is None


def basis(cfg: Config, accepted_items: DataFrame) -> str:
    """Hash of what decides whether a sales row is accepted, apart from the row itself and the run date."""
    items = sorted(r["item_id"] for r in accepted_items.select("item_id").distinct().collect())
    # Not the sales path: a nightly export may land in a new folder each night, holding the old days as well. Of
    # the quality settings only those that change a row's verdict or its day (limits and alerts do not).
    layout = cfg.inputs.sales.model_dump(mode="json", exclude={"path"})
    quality = {"returns": cfg.quality.returns, "business_timezone": cfg.quality.business_timezone}
    blob = json.dumps({"quality": quality, "sales": layout, "items": items}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_window(
    spark: SparkSession, cfg: Config, run_date: dt.date, scenario: str, basis_now: str, full_refresh: bool
) -> Window:
    if full_refresh:
        return Window(None, "full refresh (--full-refresh)")
    if not cfg.inputs.incremental:
        return Window(None, "full refresh (inputs.incremental: false)")
    state = last_state(spark, cfg, scenario)
    if state is None or not tables.exists(spark, tables.table_ref(cfg, HISTORY)):
        return Window(None, f"full refresh (no sales history of scenario {scenario} yet)")
    if state["basis"] != basis_now:
        return Window(
            None,
            "full refresh (quality config, sales input or accepted items changed since run "
            f"{state['run_id']})",
        )
    if run_date < state["run_date"]:
        return Window(None, f"full refresh (run_date before the last night's, {state['run_date']})")
    if run_date == state["run_date"]:  # a rerun of the last night validates what that night validated
        since = state["since_date"]
        return Window(
            since,
            "rerun of the last night: "
            + ("full refresh" if since is None else f"incremental, sales dated after {since}"),
        )
    return Window(state["through_date"], f"incremental, sales dated after {state['through_date']}")


def last_state(spark: SparkSession, cfg: Config, scenario: str) -> dict | None:
    ref = tables.table_ref(cfg, STATE)
    if not tables.exists(spark, ref):
        return None
    rows = tables.read(spark, ref).where(F.col("scenario") == scenario).collect()
    return rows[0].asDict() if rows else None


def history_stats(
    spark: SparkSession, cfg: Config, window: Window, scenario: str
) -> tuple[int, dt.date | None, dt.date | None]:
    """Rows, first and last day of the history an incremental night keeps (dated on or before its watermark)."""
    if window.full:
        return 0, None, None
    row = (
        history(spark, cfg, scenario, window.since)
        .agg(F.count("*").alias("n"), F.min("date").alias("first"), F.max("date").alias("last"))
        .first()
    )
    return row["n"], row["first"], row["last"]


def history(spark: SparkSession, cfg: Config, scenario: str, through: dt.date) -> DataFrame:
    """The scenario's validated sales rows dated up to `through`, with the sales input's columns."""
    names = [n for n in contract(HISTORY).names if n != "scenario"]
    df = tables.read(spark, tables.table_ref(cfg, HISTORY))
    return df.where((F.col("scenario") == scenario) & (F.col("date") <= F.lit(through))).select(*names)


def earlier_quarantine(
    spark: SparkSession, cfg: Config, run_date: dt.date, scenario: str
) -> DataFrame | None:
    """(source, payload, reason_code) of the scenario's quarantine rows of earlier run_dates (None: no table)."""
    ref = tables.table_ref(cfg, "quarantine")
    if not tables.exists(spark, ref):
        return None
    return (
        tables.read(spark, ref)
        .where((F.col("scenario") == scenario) & (F.col("run_date") < F.lit(run_date)))
        .select("source", "payload", "reason_code")
        .distinct()
    )


def commit(ctx, accepted: DataFrame, window: Window, basis_now: str) -> None:
    """Merge the night's accepted sales rows into the history (one commit replacing the scenario's rows dated
    after the window start: rerunning a night is idempotent), then move the watermark to the cutoff."""
    spark, cfg, scenario = ctx.spark, ctx.cfg, check_identifier(ctx.scenario, "scenario", table=True)
    # Lists a prepare built from history rows this commit replaces must not seed a later night: forgotten first.
    forget_prepared(spark, cfg, scenario, window.since)
    rows = accepted.select("*", F.lit(scenario).alias("scenario"))
    ref = io.create_table(rows, cfg, HISTORY, partition_by=("scenario",))
    where = f"scenario = '{scenario}'" + (
        "" if window.full else f" AND date > DATE'{window.since.isoformat()}'"
    )
    tables.save(rows.write.format("delta").mode("overwrite").option("replaceWhere", where), ref)
    version, written = io.last_commit(spark, ref)
    ctx.record.table_versions[HISTORY] = version
    state = spark.createDataFrame(
        [
            {
                "scenario": scenario,
                "run_date": ctx.run_date,
                "since_date": window.since,
                "through_date": ctx.cutoff,
                "basis": basis_now,
                "run_id": ctx.run_id,
                "updated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            }
        ],
        struct_type(contract(STATE)),
    )
    state_ref = io.create_table(state, cfg, STATE)
    tables.save(
        state.write.format("delta").mode("overwrite").option("replaceWhere", f"scenario = '{scenario}'"),
        state_ref,
    )
    log.info("  merged %d sales rows into %s (%s)", written, HISTORY, window.why)


# Incremental prepare (skuplan.stages.prepare): the series lists a prepare committed seed the next night's, which
# appends the new days instead of aggregating the whole history again. `prepare_state` says which lists (Delta
# versions of series_arrays and series_stats) hold the current history up to which day.


@dataclass(frozen=True)
class PrepareBase:
    """Last night's lists (series_arrays rows without category, plus last_sale_day) and the day they reach."""

    lists: DataFrame
    through: dt.date


def night_since(spark: SparkSession, cfg: Config, scenario: str, run_id: str) -> tuple[bool, dt.date | None]:
    """(merged, since) of this run's validate: whether it merged the history, and after which day (None: all)."""
    state = last_state(spark, cfg, scenario)
    if state is None or state["run_id"] != run_id:
        return False, None
    return True, state["since_date"]


def prepare_base(
    spark: SparkSession, cfg: Config, scenario: str, since: dt.date, window_days: int
) -> tuple[PrepareBase | None, str]:
    """The lists a night that merged sales dated after `since` starts from, or None and why it prepares in full."""
    ref = tables.table_ref(cfg, PREPARED)
    rows = (
        tables.read(spark, ref).where(F.col("scenario") == scenario).collect()
        if tables.exists(spark, ref)
        else []
    )
    if not rows:
        return None, "no prepared lists of this history yet"
    state = rows[0]
    if state["through_date"] != since:
        return (
            None,
            f"the last prepared lists reach {state['through_date']}, tonight's new sales start after {since}",
        )
    if state["window_days"] != window_days:
        return None, f"the list window changed ({state['window_days']} -> {window_days} days)"
    run_date = since + dt.timedelta(days=1)
    for name, version in (
        ("series_arrays", state["arrays_version"]),
        ("series_stats", state["stats_version"]),
    ):
        rewrite = later_rewrite(spark, tables.table_ref(cfg, name), version, run_date, scenario)
        if rewrite is not None:
            return (
                None,
                f"{name} of {run_date} was rewritten after run {state['run_id']} (version {rewrite['version']})",
            )
    keys = ["item_id", "region_id"]
    part = (F.col("run_date") == F.lit(run_date)) & (F.col("scenario") == scenario)
    arrays = tables.read(spark, tables.table_ref(cfg, "series_arrays"), state["arrays_version"]).where(part)
    stats = tables.read(spark, tables.table_ref(cfg, "series_stats"), state["stats_version"]).where(part)
    last_sale = stats.select(*keys, F.unix_date("last_sale_date").alias("last_sale_day"))
    lists = arrays.drop("category", "run_date", "scenario").join(F.broadcast(last_sale), keys, "left")
    return PrepareBase(lists, since), f"lists of run {state['run_id']} (through {since}) plus the new days"


def record_prepared(ctx, versions: dict[str, int], window_days: int) -> None:
    """After prepare committed series_arrays and series_stats (`versions`) from the current history: they seed the
    next night."""
    scenario = check_identifier(ctx.scenario, "scenario", table=True)
    row = {
        "scenario": scenario,
        "through_date": ctx.cutoff,
        "window_days": window_days,
        "arrays_version": versions["series_arrays"],
        "stats_version": versions["series_stats"],
        "run_id": ctx.run_id,
        "updated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    state = ctx.spark.createDataFrame([row], struct_type(contract(PREPARED)))
    ref = io.create_table(state, ctx.cfg, PREPARED)
    tables.save(
        state.write.format("delta").mode("overwrite").option("replaceWhere", f"scenario = '{scenario}'"), ref
    )


def forget_prepared(spark: SparkSession, cfg: Config, scenario: str, since: dt.date | None) -> None:
    """Drop the scenario's prepare_state row if its lists reach past `since` (every row: None), the day after which
    the history is about to be replaced."""
    ref = tables.table_ref(cfg, PREPARED)
    if not tables.exists(spark, ref):
        return
    where = F.col("scenario") == scenario
    if since is not None:
        where = where & (F.col("through_date") > F.lit(since))
    if not tables.read(spark, ref).where(where).isEmpty():  # a normal night keeps the row: no commit then
        tables.delta_table(spark, ref).delete(where)
