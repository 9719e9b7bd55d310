"""What every Delta table skuplan creates carries besides its columns: NOT NULL on its keys, CHECK constraints on
the values a plan can never hold, and table properties (log and file retention, auto-compaction).

Declared here as data, without Spark. skuplan.io applies them when it creates a table (`nullable`,
`creation_properties`: part of the create commit, no extra one); `skuplan maintain` adds what a table created
before them lacks (`missing_constraints`, skuplan.maintain). A write that breaks a constraint fails in Delta; the
constraint names start with the table's name, and `explain_violation` turns Delta's error into one line naming
the table, the constraint, its expression and the offending values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from skuplan.contracts import OUTPUTS, contract, quantile_levels

# Key columns: NOT NULL wherever a table's contract declares them non-nullable (a null key row could never be
# matched, merged or reported; Delta rejects the write instead).
KEY_COLUMNS = frozenset({"item_id", "region_id", "date", "dc_id", "run_id", "stage", "source", "reason_code"})


@dataclass(frozen=True)
class Check:
    name: str  # starts with the table's name, so Delta's own message already names the table
    column: str  # the column it reads (a table without that column does not get it)
    expression: str  # Spark SQL; a NULL result counts as a violation in Delta, so nullable columns say so


def _at_least_zero(table: str, column: str) -> Check:
    return Check(f"{table}_{column}_nonnegative", column, f"{column} IS NULL OR {column} >= 0")


def _share(table: str, column: str) -> Check:
    return Check(f"{table}_{column}_share", column, f"{column} IS NULL OR ({column} >= 0 AND {column} <= 1)")


# The quantile columns of forecasts depend on forecast.quantiles: see _quantile_checks.
_CHECKS: dict[str, tuple[Check, ...]] = {
    "forecasts": (_at_least_zero("forecasts", "yhat"),),
    "replenishment": (_at_least_zero("replenishment", "order_qty"),),
    "allocation": (_at_least_zero("allocation", "units"), _at_least_zero("allocation", "shortage_units")),
    "kpis": (_at_least_zero("kpis", "inventory_value"),),
    "inventory_policy": (_at_least_zero("inventory_policy", "eoq"),
                         _at_least_zero("inventory_policy", "order_qty_policy"),
                         Check("inventory_policy_service_level_range", "service_level",
                               "service_level IS NULL OR (service_level > 0 AND service_level < 1)")),
    "policy_backtest": (_at_least_zero("policy_backtest", "served"), _share("policy_backtest", "fill_rate"),
                        _share("policy_backtest", "csl")),
    "forecast_metrics": (_at_least_zero("forecast_metrics", "wape"), _at_least_zero("forecast_metrics", "pinball"),
                         _share("forecast_metrics", "coverage")),
    "runs": (_at_least_zero("runs", "seconds"), Check("runs_status_known", "status", "status IN ('ok', 'failed')")),
}  # fmt: skip


def _quantile_checks(table: str, columns: Iterable[str]) -> tuple[Check, ...]:
    """q05 >= 0 and q05 <= q50 <= q95 (whatever levels the frame carries): quantiles of a demand never cross."""
    names = [c for c in columns if re.fullmatch(r"q\d\d(_\d+)?", c)]
    if not names:
        return ()
    ordered = [name for _, name in sorted(zip(quantile_levels(names), names, strict=True))]
    found = [_at_least_zero(table, ordered[0])]
    for low, high in zip(ordered, ordered[1:], strict=False):
        found.append(
            Check(f"{table}_{low}_le_{high}", high, f"{low} IS NULL OR {high} IS NULL OR {low} <= {high}")
        )
    return tuple(found)


def checks(table: str, columns: Iterable[str]) -> tuple[Check, ...]:
    """The CHECK constraints of `table` whose columns the table has."""
    columns = list(columns)
    found = [c for c in _CHECKS.get(table, ()) if c.column in columns]
    if table == "forecasts":
        found.extend(_quantile_checks(table, columns))
    return tuple(found)


def nullable(table: str, column: str) -> bool:
    """False for a key column the table's contract declares non-nullable: created NOT NULL."""
    if column not in KEY_COLUMNS or table not in OUTPUTS:
        return True
    spec = contract(table, quantiles=[0.5]) if table == "forecasts" else contract(table)
    names = spec.names
    return column not in names or spec.column(column).nullable


def properties(table: str, retention) -> dict[str, str]:
    """Table properties from config (`retention`: skuplan.config.MaintenanceConfig). Auto-compaction is on for the
    runs manifest always (one small file per run otherwise) and for the other tables as configured; runtimes
    without it (Delta before 3.1) keep the property and ignore it."""
    props = {
        "delta.logRetentionDuration": f"interval {retention.log_retention_days} days",
        "delta.deletedFileRetentionDuration": f"interval {retention.file_retention_days} days",
    }
    if table == "runs" or retention.auto_compact:
        props["delta.autoOptimize.autoCompact"] = "true"
    return props


def creation_properties(table: str, columns: Iterable[str], retention) -> dict[str, str]:
    """Everything a new table gets in its create commit: the properties, and the CHECK constraints as the
    `delta.constraints.<name>` entries Delta keeps them in (an empty new table has no row to check)."""
    found = checks(table, columns)
    return {**properties(table, retention), **{f"delta.constraints.{c.name}": c.expression for c in found}}


def missing_constraints(table: str, columns: Iterable[str], existing: dict[str, str]) -> list[Check]:
    """Checks a table created before them lacks (`existing`: its table properties)."""
    return [c for c in checks(table, columns) if f"delta.constraints.{c.name.lower()}" not in existing]


class ConstraintViolation(RuntimeError):
    """A write broke a table's CHECK or NOT NULL constraint: nothing of it was committed."""


_CHECK_VIOLATION = re.compile(r"CHECK constraint (\S+) \((.*?)\) violated by row with values:\s*(.*)", re.S)
_NULL_VIOLATION = re.compile(r"NOT NULL constraint violated for column: (\S+)")


def explain_violation(table: str, exc: BaseException) -> ConstraintViolation | None:
    """The error to raise instead of Delta's when `exc` is a constraint violation, else None."""
    text = str(exc)
    found = _CHECK_VIOLATION.search(text)
    if found:
        name, expression, values = found.groups()
        shown = "; ".join(line.strip(" -") for line in values.strip().splitlines()[:5] if line.strip())
        return ConstraintViolation(
            f"table {table}: CHECK constraint {name} ({expression}) violated by a row with {shown}; nothing was "
            "written: the stage computed an impossible value, report it with the run's inputs"
        )
    found = _NULL_VIOLATION.search(text)
    if found:
        return ConstraintViolation(
            f"table {table}: NOT NULL constraint on column {found.group(1).rstrip('.')} violated; nothing was "
            "written: a row without its key reached the writer"
        )
    return None
