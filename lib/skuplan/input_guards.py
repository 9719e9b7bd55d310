"""Run guards judged at validate once every input is split: the empty-input rule and the freshness rule.

Spark-free: validate counts the rows and finds the date range of each input in the pass it makes anyway; these
functions only compare those facts with `quality.*` and say what to do. Both rules exist because the series
batch reads an absent day as zero sales (docs/architecture.md): an empty export, or one that stops days before
the run date, would otherwise be planned as a collapse in demand, and stock counted long ago as today's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from skuplan.config import QualityConfig

# The day each row of an input describes, over which validate takes the accepted rows' first and last day.
DAY_COLUMNS = {"sales": "date", "inventory": "as_of_date"}


@dataclass(frozen=True)
class TableCheck:
    """One input as validate found it: rows in = accepted + quarantined, and the first and last day of its
    DAY_COLUMNS column over the accepted rows (None: no such column, or no accepted row with a day)."""

    table: str
    rows_in: int
    accepted: int
    quarantined: int
    first_day: dt.date | None = None
    last_day: dt.date | None = None


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)  # fail the run at validate
    warnings: list[str] = field(default_factory=list)  # logged and in the manifest detail; the run goes on
    notes: list[str] = field(default_factory=list)  # freshness facts for the manifest detail
    keep_previous: str = ""  # why the run ends after validate writing nothing (quality.empty_sales: keep_previous)


def judge_inputs(q: QualityConfig, run_date: dt.date, tables: dict[str, TableCheck], sales_at: str) -> Verdict:
    """The empty-input and freshness verdict for one run; `sales_at` is where the sales were read (for messages)."""
    verdict = Verdict()
    sales = tables.get("sales")
    if sales is None or sales.accepted == 0:
        _empty_sales(q, run_date, sales, sales_at, verdict)
    elif sales.last_day is not None:
        _sales_lag(q, run_date, sales.last_day, verdict)
    inventory = tables.get("inventory")
    if inventory is not None and inventory.accepted:
        _inventory_age(q, run_date, inventory, verdict)
    return verdict


def _empty_sales(q: QualityConfig, run_date: dt.date, sales: TableCheck | None, sales_at: str, v: Verdict) -> None:
    if sales is None or sales.rows_in == 0:
        what = f"input sales: no rows in {sales_at}"
    else:
        what = (f"input sales: none of the {sales.rows_in} rows in {sales_at} was accepted "
                "(all quarantined: see the quarantine table)")
    if q.empty_sales == "keep_previous":
        v.keep_previous = (f"kept the previous plans: {what}, and quality.empty_sales is keep_previous; "
                           f"no table of run_date {run_date} was written")
        return
    v.problems.append(f"{what}, so there is nothing to plan run_date {run_date} from and no plan table was "
                      "replaced; fix the sales export (inputs.sales.path), or set quality.empty_sales: keep_previous "
                      "if a night without sales is legal")


def _sales_lag(q: QualityConfig, run_date: dt.date, last_sale: dt.date, v: Verdict) -> None:
    # History ends the day before the run date: a lag of 0 is an export complete up to the cutoff.
    cutoff = run_date - dt.timedelta(days=1)
    lag = (cutoff - last_sale).days
    v.notes.append(f"last sale {last_sale} ({lag} days before the cutoff {cutoff})")
    said = (f"input sales: the last accepted sale is on {last_sale}, {lag} days before the history cutoff "
            f"{cutoff} (run_date {run_date} - 1 day)")
    if q.sales_lag_fail_days is not None and lag > q.sales_lag_fail_days:
        v.problems.append(f"{said}, above quality.sales_lag_fail_days={q.sales_lag_fail_days}: the missing days "
                          f"would be planned as zero sales; load them into the sales export, run for --run-date "
                          f"{last_sale + dt.timedelta(days=1)}, or raise quality.sales_lag_fail_days")
    elif lag > q.max_sales_lag_days:
        v.warnings.append(f"{said}, above quality.max_sales_lag_days={q.max_sales_lag_days}: those days count as "
                          "zero sales; is the export late?")


def _inventory_age(q: QualityConfig, run_date: dt.date, inv: TableCheck, v: Verdict) -> None:
    if inv.first_day is None:
        v.notes.append("inventory has no as_of_date: its age is not checked")
        return
    # The oldest count decides: one stale region orders against stock that may be long gone.
    oldest, newest = inv.first_day, inv.last_day or inv.first_day
    age = (run_date - oldest).days
    span = str(oldest) if oldest == newest else f"{oldest}..{newest}"
    v.notes.append(f"inventory as of {span} (oldest {age} days before run_date)")
    said = f"input inventory: as_of_date {oldest} is {age} days before run_date {run_date}"
    if q.inventory_age_fail_days is not None and age > q.inventory_age_fail_days:
        v.problems.append(f"{said}, above quality.inventory_age_fail_days={q.inventory_age_fail_days}: orders "
                          "would be computed from stale stock; export a current inventory snapshot "
                          "(inputs.inventory.path) or raise quality.inventory_age_fail_days")
    elif age > q.max_inventory_age_days:
        v.warnings.append(f"{said}, above quality.max_inventory_age_days={q.max_inventory_age_days}: on_hand and "
                          "on_order may have changed since; export a current snapshot")
    if newest > run_date:
        v.warnings.append(f"input inventory: as_of_date {newest} is after run_date {run_date}: the stock was counted "
                          "later than the day planned for (a rerun of an old date?), and orders use that later stock")
