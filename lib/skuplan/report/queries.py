"""The report's Spark side: reads the run's Delta tables and returns small, plain Python results.

Only aggregates reach the driver (per-segment figures, the top-N series by forecast volume, one row per
stage), never a whole series table. Tables and columns are read defensively: while the pipeline's outputs
evolve, a query whose table or columns are absent returns the reason as a string instead of data, and
page.py prints it as a note while the other sections still render.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io, tables
from skuplan.complete_runs import CompleteRun, IncompleteRun, read_plan, require_complete
from skuplan.config import Config
from skuplan.pipeline import STAGE_NAMES
from skuplan.quality import typed_input

log = logging.getLogger("skuplan.report")

# One output row as a plain dict (Row.asDict()), so page.py never touches a Spark object.
Record = dict[str, Any]


class Tables:
    """Lazy, defensive access to the run's tables: None (and a reason) when a table is absent.

    Raises IncompleteRun (skuplan.complete_runs) when the runs manifest says run_date is not complete: a page
    drawn from a failed run's mix of new and old tables would look like a plan. Without any manifest (tables
    written by hand) the page is drawn, and its stages section says the manifest has no run."""

    def __init__(self, spark: SparkSession, cfg: Config, run_date: dt.date, scenario: str = io.BASE_SCENARIO):
        self.spark, self.cfg, self.run_date, self.scenario = spark, cfg, run_date, scenario
        self.complete: CompleteRun | None = require_complete(spark, cfg, run_date, scenario)
        self._cache: dict[str, DataFrame | None] = {}
        self.missing: dict[str, str] = {}

    def get(self, name: str, *, partitioned: bool = True) -> DataFrame | None:
        if name not in self._cache:
            self._cache[name] = self._load(name, partitioned)
        return self._cache[name]

    def _load(self, name: str, partitioned: bool) -> DataFrame | None:
        ref = tables.table_ref(self.cfg, name)
        try:
            if not tables.exists(self.spark, ref):
                self.missing[name] = f"table {name} not found at {ref}"
                return None
            if partitioned and self.complete is not None:
                df = read_plan(self.spark, self.cfg, name, self.run_date, complete=self.complete)
            elif partitioned:
                df = io.read_table(self.spark, self.cfg, name, self.run_date, scenario=self.scenario)
            else:
                df = io.read_table(self.spark, self.cfg, name)
        except IncompleteRun:  # a table rewritten since the complete run: the page must not be drawn
            raise
        except Exception as exc:  # reported on the page and in the log; the other sections still render
            log.warning("report: cannot read %s: %s", name, exc)
            self.missing[name] = f"table {name} unreadable ({type(exc).__name__})"
            return None
        return df

    def latest_run(self) -> tuple[DataFrame, str] | str:
        """The manifest rows of the run_date's latest run and its run_id (computed once per page)."""
        if not hasattr(self, "_latest"):
            runs = self.need("runs", ["run_id", "stage", "seconds", "status"], partitioned=False)
            if not isinstance(runs, str):
                runs = runs.where(F.col("run_date") == F.lit(self.run_date).cast("date"))
                if "scenario" in runs.columns:
                    runs = runs.where(F.coalesce(F.col("scenario"), F.lit(io.BASE_SCENARIO)) == self.scenario)
                order = (
                    F.col("finished_at").desc() if "finished_at" in runs.columns else F.col("run_id").desc()
                )
                latest = runs.orderBy(order).select("run_id").limit(1).collect()
                runs = (
                    (runs.where(F.col("run_id") == latest[0][0]), latest[0][0])
                    if latest
                    else f"runs manifest has no run for {self.run_date}"
                )
            self._latest = runs
        return self._latest

    def need(self, name: str, columns: Sequence[str], *, partitioned: bool = True) -> DataFrame | str:
        """The table if it has every column, else the reason it cannot be charted (for the page note)."""
        df = self.get(name, partitioned=partitioned)
        if df is None:
            return self.missing[name]
        absent = [c for c in columns if c not in df.columns]
        if absent:
            return f"table {name} has no column {', '.join(absent)}"
        return df


def _finite_col(name: str) -> Column:
    c = F.col(name).cast("double")
    return F.when(c.isNotNull() & ~F.isnan(c) & (F.abs(c) < F.lit(float("inf"))), c)


def _records(df: DataFrame) -> list[Record]:
    return [r.asDict() for r in df.collect()]


# ------------------------------------------------------------------------------------------- key figures


@dataclass
class RunTotals:
    run_id: str
    stages: int
    seconds: float
    not_ok: list[str]  # stages whose status is not ok, sorted


@dataclass
class KeyFigures:
    """One field per card; a str is why the card is left out. None: no card and no note."""

    latest_run: RunTotals | str
    status_counts: dict[str, int] | str
    quarantined: int | None
    stock: Record | str  # value (sum), dos (median), fill (mean)
    orders: Record | str  # n (orders > 0), units
    alerts: int | None


def _run_totals(t: Tables) -> RunTotals | str:
    latest = t.latest_run()
    if isinstance(latest, str):
        return latest
    runs, run_id = latest
    agg = runs.agg(
        F.sum("seconds").alias("s"),
        F.count("*").alias("n"),
        F.sort_array(F.collect_set(F.when(F.col("status") != "ok", F.col("stage")))).alias("bad"),
    ).first()
    return RunTotals(run_id, agg["n"], agg["s"], list(agg["bad"] or []))


def _stock_figures(t: Tables) -> Record | str:
    kpis = t.need("kpis", ["inventory_value", "days_of_supply", "projected_fill_rate"])
    if isinstance(kpis, str):
        return kpis
    return kpis.agg(
        F.sum(_finite_col("inventory_value")).alias("value"),
        F.percentile_approx(_finite_col("days_of_supply"), 0.5).alias("dos"),
        F.avg(_finite_col("projected_fill_rate")).alias("fill"),
    ).first().asDict()


def _order_figures(t: Tables) -> Record | str:
    repl = t.need("replenishment", ["order_qty"])
    if isinstance(repl, str):
        return repl
    return repl.agg(
        F.sum(F.when(F.col("order_qty") > 0, 1).otherwise(0)).alias("n"),
        F.sum("order_qty").alias("units"),
    ).first().asDict()


def key_figures(t: Tables) -> KeyFigures:
    status = t.need("forecast_status", ["status"])
    if not isinstance(status, str):
        status = {r["status"]: r["count"] for r in status.groupBy("status").count().collect()}
    quarantine, alerts = t.get("quarantine"), t.get("alerts")
    return KeyFigures(
        latest_run=_run_totals(t),
        status_counts=status,
        quarantined=None if quarantine is None else quarantine.count(),
        stock=_stock_figures(t),
        orders=_order_figures(t),
        alerts=None if alerts is None else alerts.count(),
    )


# ----------------------------------------------------------------------------------------------- forecast


@dataclass
class SeriesRows:
    item_id: str
    region_id: str
    volume: float
    history: list[tuple[dt.date, float]] = field(default_factory=list)
    forecast: list[tuple[dt.date, float | None, float | None, float | None, float | None]] = field(
        default_factory=list
    )  # yhat, q05, q50, q95


@dataclass
class TopSeries:
    series: list[SeriesRows]  # largest forecast volume first
    notes: list[str]  # parts left out (bands, actuals) and why


def _top_series(fc: DataFrame, top_n: int) -> DataFrame:
    return (
        fc.groupBy("item_id", "region_id")
        .agg(F.sum("yhat").alias("volume"))
        .orderBy(F.desc("volume"), "item_id", "region_id")
        .limit(top_n)
    )


def _actuals(t: Tables, top_df: DataFrame, start: dt.date, end: dt.date) -> tuple[DataFrame | None, str]:
    """Daily units of the top series over [start, end) from the sales input, or None and why not."""
    try:
        sales = io.read_input(t.spark, t.cfg, "sales")
    except io.InputError as exc:  # its message names the path and the fix
        return None, f"actuals left out: {exc}"
    except Exception as exc:  # the input may be unreadable since the run; the forecast still charts
        log.warning("report: cannot read the sales input: %s", exc)
        return None, f"actuals left out: sales input not readable ({type(exc).__name__})"
    if sales is None:
        return None, "actuals left out: sales input not found"
    # Typed as validate types them (CSV layout, calendar-day rule); a dirty row validation quarantined is null here.
    daily = (
        typed_input(sales, "sales", t.cfg.quality).select("item_id", "region_id", "date", "units")
        .where(F.col("date").between(F.lit(start), F.lit(end - dt.timedelta(days=1))) & (F.col("units") >= 0))
        .join(F.broadcast(top_df.select("item_id", "region_id")), ["item_id", "region_id"], how="inner")
        .groupBy("item_id", "region_id", "date")
        .agg(F.sum("units").alias("units"))
    )
    return daily, ""


def top_series(t: Tables, top_n: int, history_days: int) -> TopSeries | str:
    """The top_n series by forecast volume: their forecast rows and history_days of actuals, by date."""
    fc = t.need("forecasts", ["item_id", "region_id", "date", "yhat"])
    if isinstance(fc, str):
        return fc
    top_df = _top_series(fc, top_n).cache()
    quantiles = [q if q in fc.columns else None for q in ("q05", "q50", "q95")]
    cols = [
        F.col(q) if q else F.lit(None).cast("double").alias(f"missing_{i}") for i, q in enumerate(quantiles)
    ]
    rows = (
        fc.join(F.broadcast(top_df), ["item_id", "region_id"], how="inner")
        .select("item_id", "region_id", "date", "yhat", *cols)
        .orderBy("date")
        .collect()
    )
    series = [SeriesRows(r["item_id"], r["region_id"], r["volume"]) for r in top_df.collect()]
    series.sort(key=lambda s: -s.volume)
    by_key = {(s.item_id, s.region_id): s for s in series}
    for r in rows:
        if (s := by_key.get((r["item_id"], r["region_id"]))) is not None:
            s.forecast.append((r["date"], r["yhat"], r[4], r[5], r[6]))
    notes = [] if all(quantiles) else ["forecasts has no q05/q50/q95 columns: bands left out"]
    daily, why = _actuals(t, top_df, t.run_date - dt.timedelta(days=history_days), t.run_date)
    if daily is None:
        notes.append(why)
    else:
        for r in daily.orderBy("date").collect():
            if (s := by_key.get((r["item_id"], r["region_id"]))) is not None:
                s.history.append((r["date"], r["units"]))
    top_df.unpersist()
    return TopSeries(series, notes)


# ----------------------------------------------------------------------------------------------- accuracy


@dataclass
class WapeGroup:
    label: str  # what the series are grouped by, e.g. "demand class"
    table: str  # the table the group key comes from
    rows: list[Record] | str  # g, mean, median, n per group; or why the grouping is left out


def _series_wape(t: Tables) -> DataFrame | str:
    """Mean backtest WAPE per series of the model the run selected (finite values only)."""
    fm = t.need("forecast_metrics", ["item_id", "region_id", "wape"])
    if isinstance(fm, str):
        return fm
    if "selected" in fm.columns:
        fm = fm.where(F.col("selected"))
    return (
        fm.select("item_id", "region_id", _finite_col("wape").alias("wape"))
        .groupBy("item_id", "region_id")
        .agg(F.avg("wape").alias("wape"))
        .where(F.col("wape").isNotNull())
    )


def wape_by_group(t: Tables) -> list[WapeGroup] | str:
    """Backtest WAPE per demand class and per ABC-XYZ segment."""
    wape = _series_wape(t)
    if isinstance(wape, str):
        return wape
    groups = []
    group_sources = [
        ("demand class", "forecast_status", ["demand_class"], F.col("demand_class")),
        ("segment", "inventory_policy", ["abc", "xyz"], F.concat_ws("", "abc", "xyz")),
    ]
    for label, table, columns, key in group_sources:
        other = t.need(table, ["item_id", "region_id", *columns])
        if isinstance(other, str) and table == "inventory_policy":
            # A policy table written with a ready-made segment column is as good as abc + xyz.
            alt = t.need(table, ["item_id", "region_id", "segment"])
            other, key = (alt, F.col("segment")) if not isinstance(alt, str) else (other, key)
        if isinstance(other, str):
            groups.append(WapeGroup(label, table, other))
            continue
        keyed = other.select(
            "item_id", "region_id", F.coalesce(key.cast("string"), F.lit("unknown")).alias("g")
        )
        rows = (
            wape.join(keyed, ["item_id", "region_id"], how="inner")
            .groupBy("g")
            .agg(
                F.avg("wape").alias("mean"),
                F.percentile_approx("wape", 0.5).alias("median"),
                F.count("*").alias("n"),
            )
            .orderBy("g")
        )
        groups.append(WapeGroup(label, table, _records(rows)))
    return groups


# ------------------------------------------------------------------------------------------------ service


def _service_columns(columns: Sequence[str]) -> tuple[Column, Column] | str:
    """(achieved, target) column expressions of a policy backtest, or a reason they cannot be formed.

    Accepts the simple contract (achieved_fill_rate, target) and the replay's richer one (fill_rate and
    csl achieved, service_level the target, service_type saying which of the two the target is about).
    """
    cols = set(columns)
    if "achieved_fill_rate" in cols:
        achieved = _finite_col("achieved_fill_rate")
    elif "fill_rate" in cols:
        achieved = _finite_col("fill_rate")
        if {"service_type", "csl"} <= cols:
            # A CSL target is met or missed on cycles without stockout, not on units served.
            achieved = F.when(F.lower(F.col("service_type")) == "csl", _finite_col("csl")).otherwise(achieved)
    else:
        return "table policy_backtest has no column achieved_fill_rate (or fill_rate)"
    target_name = "target" if "target" in cols else "service_level" if "service_level" in cols else None
    if target_name is None:
        return "table policy_backtest has no column target (or service_level)"
    return achieved, _finite_col(target_name)


def service_by_segment(t: Tables) -> list[Record] | str:
    """Policy backtest per segment: g, achieved, target, n, met (share of series meeting the target)."""
    bt = t.need("policy_backtest", ["item_id"])
    exprs = bt if isinstance(bt, str) else _service_columns(bt.columns)
    if isinstance(exprs, str):
        return exprs
    achieved, target = exprs
    seg = F.col("segment").cast("string") if "segment" in bt.columns else F.lit("all")
    rows = (
        bt.select(F.coalesce(seg, F.lit("unknown")).alias("g"), achieved.alias("a"), target.alias("t"))
        .groupBy("g")
        .agg(
            F.avg("a").alias("achieved"),
            F.avg("t").alias("target"),
            F.count("*").alias("n"),
            # Only series with both numbers count (a series without demand in the backtest has no rate).
            F.avg(
                F.when(
                    F.col("a").isNotNull() & F.col("t").isNotNull(), (F.col("a") >= F.col("t")).cast("double")
                )
            ).alias("met"),
        )
        .orderBy("g")
    )
    return _records(rows)


# ----------------------------------------------------------------------------------- alerts, allocation


def alert_counts(t: Tables) -> dict[str, dict[str, float]] | str:
    """Alert count per alert type and severity (lower case; info when the table has no severity)."""
    alerts = t.need("alerts", ["alert_type"])
    if isinstance(alerts, str):
        return alerts
    sev = F.lower(F.col("severity").cast("string")) if "severity" in alerts.columns else F.lit("info")
    rows = (
        alerts.select(
            F.col("alert_type").cast("string").alias("type"), F.coalesce(sev, F.lit("info")).alias("sev")
        )
        .groupBy("type", "sev")
        .count()
        .collect()
    )
    by_type: dict[str, dict[str, float]] = {}
    for r in rows:
        by_type.setdefault(r["type"], {})[r["sev"]] = float(r["count"])
    return by_type


def allocation_by_region(t: Tables) -> list[Record] | str:
    """Per region: units allocated, short (shortage units), cost, not_optimal (rows the LP did not solve)."""
    alloc = t.need("allocation", ["region_id", "units", "shortage_units"])
    if isinstance(alloc, str):
        return alloc
    cost = (
        (F.col("units") * F.col("unit_cost")) if "unit_cost" in alloc.columns else F.lit(None).cast("double")
    )
    failed = (F.col("lp_status") != "optimal") if "lp_status" in alloc.columns else F.lit(False)
    rows = (
        alloc.groupBy("region_id")
        .agg(
            F.sum("units").alias("units"),
            F.sum("shortage_units").alias("short"),
            F.sum(cost).alias("cost"),
            F.sum(F.when(failed, 1).otherwise(0)).alias("not_optimal"),
        )
        .orderBy("region_id")
    )
    return _records(rows)


# ------------------------------------------------------------------------------------------------- stages


@dataclass
class StageRows:
    run_id: str
    columns: list[str]  # the manifest columns the page shows, those present in the table
    rows: list[Record]  # in pipeline order


def stage_rows(t: Tables) -> StageRows | str:
    """The latest run's manifest rows, one per stage, in pipeline order."""
    latest = t.latest_run()
    if isinstance(latest, str):
        return latest
    runs, run_id = latest
    cols = [
        c
        for c in ("stage", "seconds", "status", "rows_in", "rows_out", "rows_quarantined")
        if c in runs.columns
    ]
    # The manifest has no stage order column: known stages in pipeline order, any others after them.
    rows = sorted(
        _records(runs.select(*cols)),
        key=lambda r: (
            STAGE_NAMES.index(r["stage"]) if r["stage"] in STAGE_NAMES else len(STAGE_NAMES),
            r["stage"],
        ),
    )
    return StageRows(run_id, cols, rows)
