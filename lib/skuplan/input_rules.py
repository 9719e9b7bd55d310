"""Value rules of the input columns: the one declaration of which values an input column may hold.

Spark-free, next to the column contracts (skuplan.contract_tables): validate (skuplan.quality) turns every rule
into a quarantine condition with the rule's reason code and reason, and the inventory policy
(skuplan.inventory.plan) checks the values it plans with against the same rules (`check_values`). So a row that
validate accepts is never `invalid` in the policy for an input-value reason: both read this list.

Null is never a rule violation here: a missing required value is quarantined by its own rule (MISSING_<COLUMN>,
from the contract's nullability), and an optional one takes its documented default. Rules that depend on the run
(sales dated on or after the run date) or on config (returns: quarantine or net) stay in skuplan.quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.contract_tables import INPUT_CONTRACTS

__all__ = ["VALUE_RULES", "ValueRule", "check_values", "percent_hint", "rules_for"]


@dataclass(frozen=True)
class ValueRule:
    """Legal values of one input column: a numeric range (bounds inclusive unless *_open) or a set of words.

    code: the quarantine reason code. bound_code: the code when the value sits on an excluded bound (0 for a
    column that must be > 0), so that a code like NEGATIVE_COST keeps meaning "below zero". share: the column
    is a fraction, and a value in (1, 100] is most likely a percentage, which the reason then says.
    fix: what to write instead, in the user's words.
    """

    table: str
    column: str
    code: str
    fix: str
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    allowed: tuple[str, ...] = ()
    bound_code: str | None = None
    share: bool = False

    @property
    def requirement(self) -> str:
        """The rule in words: 'unit_cost must be > 0', 'service_level must be in (0, 1)'."""
        if self.allowed:
            return f"{self.column} must be one of {', '.join(self.allowed)}"
        if self.low is not None and self.high is not None:
            lo, hi = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{self.column} must be in {lo}{self.low:g}, {self.high:g}{hi}"
        if self.low is not None:
            return f"{self.column} must be {'>' if self.low_open else '>='} {self.low:g}"
        return f"{self.column} must be {'<' if self.high_open else '<='} {self.high:g}"

    @property
    def reason(self) -> str:
        """The quarantine reason: column, rule and fix."""
        return f"{self.requirement}: {self.fix}"

    def reason_for(self, value: float | str | None) -> str:
        """The reason validate gives a row holding `value`: with a percentage hint for a share in (1, 100]."""
        if self.share and isinstance(value, float | int) and 1 < value <= 100:
            return f"{self.requirement}; {percent_hint(float(value))}"
        return self.reason

    def violated(self, values) -> np.ndarray:
        """True where a value breaks the rule; null / NaN never does (see the module docstring)."""
        if self.allowed:
            s = pd.Series(np.asarray(values, dtype=object))
            return (s.notna() & ~s.isin(self.allowed)).to_numpy(dtype=bool)
        v = np.asarray(values, dtype=float)
        bad = np.zeros(v.shape, dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN compares False: not a violation
            if self.low is not None:
                bad |= (v <= self.low) if self.low_open else (v < self.low)
            if self.high is not None:
                bad |= (v >= self.high) if self.high_open else (v > self.high)
        return bad


def percent_hint(value: float) -> str:
    """'95 looks like a percentage: write 0.95' (quality builds the same words in Spark: shortest decimal
    spelling, a trailing '.0' dropped)."""
    shown = repr(float(value)).removesuffix(".0")
    return f"{shown} looks like a percentage: write {round(value / 100.0, 6)!r}"


# Order matters within a table: a row breaking several rules is quarantined with the first one's code.
VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("sales", "promo", "NEGATIVE_PROMO", "write the promotion intensity as a fraction (0 = none, "
              "1 = full), or leave it empty for 0", low=0.0, high=1.0, share=True),
    ValueRule("sales", "price", "NEGATIVE_PRICE", "write the selling price per unit, or leave it empty when "
              "unknown", low=0.0),
    ValueRule("items", "service_level", "BAD_SERVICE_LEVEL", "write the target as a fraction, e.g. 0.95 for "
              "95%", low=0.0, low_open=True, high=1.0, high_open=True, share=True),
    ValueRule("items", "service_type", "BAD_SERVICE_TYPE", "write csl (cycle service level) or fill_rate, or "
              "leave it empty for inventory.default_service_type", allowed=("csl", "fill_rate")),
    ValueRule("items", "lead_time_days", "NEGATIVE_LEAD_TIME", "write the days from order to receipt (0 for "
              "same day)", low=0.0),
    ValueRule("items", "lead_time_std_days", "NEGATIVE_LEAD_TIME", "write the standard deviation of the lead "
              "time in days (0 when it never varies)", low=0.0),
    # The holding cost per unit and year is unit_cost * holding_rate: EOQ and the cost of safety stock divide
    # by it, so either one at 0 leaves the policy without a cost of holding stock.
    ValueRule("items", "unit_cost", "NEGATIVE_COST", "write the item's purchase cost per unit (the holding cost "
              "is unit_cost * holding_rate)", low=0.0, low_open=True, bound_code="ZERO_COST"),
    ValueRule("items", "holding_rate", "NEGATIVE_COST", "write the yearly holding cost as a share of unit_cost, "
              "e.g. 0.25", low=0.0, low_open=True, bound_code="ZERO_COST"),
    # 0 is legal: no fixed cost per order. EOQ is then 0, and lot sizing still orders a lot of at least one
    # review's demand (inventory.plan._lot_sizes), never 0.
    ValueRule("items", "order_cost", "NEGATIVE_COST", "write the fixed cost per order (0 when ordering costs "
              "nothing)", low=0.0),
    ValueRule("items", "moq", "BAD_PACK", "write the minimum order quantity in units (0 or empty: no minimum)",
              low=0.0),
    ValueRule("items", "pack_size", "BAD_PACK", "write the units per pack (orders are whole packs), or leave "
              "it empty for 1", low=0.0, low_open=True),
    # Negative on_hand is not a rule: impossible stock the planner must see as an alert, not lose.
    ValueRule("inventory", "on_order", "NEGATIVE_QUANTITY", "write the units ordered and not yet received "
              "(0 or empty when none)", low=0.0),
    ValueRule("inventory", "backorders", "NEGATIVE_QUANTITY", "write the units owed to customers (0 or empty "
              "when none)", low=0.0),
    ValueRule("dc_stock", "available", "NEGATIVE_STOCK", "write the units the DC can allocate (0 when none)",
              low=0.0),
    ValueRule("lanes", "unit_cost", "NEGATIVE_COST", "write the transport cost per unit on the lane", low=0.0),
    ValueRule("lanes", "lead_time_days", "NEGATIVE_LEAD_TIME", "write the transit days of the lane", low=0.0),
    ValueRule("lanes", "capacity", "NEGATIVE_CAPACITY", "write the units the lane can carry per run (empty: "
              "unbounded)", low=0.0),
    ValueRule("plans", "price", "BAD_PLANNED_PRICE", "write the planned selling price per unit (> 0), or leave "
              "it empty when the price is not planned", low=0.0, low_open=True),
    ValueRule("plans", "promo", "BAD_PLANNED_PROMO", "write 1 for a planned promotion, 0 for none (or the "
              "intensity as a fraction), or leave it empty when not planned", low=0.0, high=1.0, share=True),
)


def _check_declarations() -> None:
    """At import: a rule on a column the contract lacks (a typo, a renamed column) would never fire."""
    for r in VALUE_RULES:
        types = {c[0]: c[1] for c in INPUT_CONTRACTS[r.table].columns}
        want = "string" if r.allowed else "double"
        if types.get(r.column) != want:
            raise ValueError(f"input rule {r.code}: {r.table}.{r.column} is not a {want} column of the contract")


_check_declarations()


def rules_for(table: str) -> tuple[ValueRule, ...]:
    return tuple(r for r in VALUE_RULES if r.table == table)


def check_values(table: str, values: Mapping[str, object]) -> list[tuple[np.ndarray, str]]:
    """(mask, text) per rule of `table` on the given columns, plus a 'missing' check for each given column the
    contract requires: what a consumer that did not go through validate (e.g. plan_policy) must refuse."""
    required = {c[0] for c in INPUT_CONTRACTS[table].columns if not c[2]}
    checks: list[tuple[np.ndarray, str]] = []
    for name in values:
        if name in required:
            checks.append((pd.isna(pd.Series(np.asarray(values[name], dtype=object))).to_numpy(dtype=bool),
                           f"{name} is missing (required in the {table} table)"))  # fmt: skip
    checks += [(r.violated(values[r.column]), r.requirement) for r in rules_for(table) if r.column in values]
    return checks
