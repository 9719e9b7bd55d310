"""The report's scenario comparison: one what-if run (`skuplan run --scenario NAME`) against the base plan of the
same run_date, on the figures a planner decides by: forecast units, orders, inventory value and service.

`scenario_figures` reads both runs' tables (each only if its run is complete, through queries.Tables) and returns
plain numbers; `comparison_rows` (no Spark) pairs them; `scenario_section` draws the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import functions as F

from skuplan.report.page import Section, _note, _table

# (key, label); the order of the comparison table.
FIGURES = (
    ("forecast_units", "forecast units over the horizon (sum of yhat)"),
    ("order_lines", "order lines (order_qty > 0)"),
    ("order_units", "units ordered"),
    ("order_value", "value ordered (order_qty x unit_cost)"),
    ("safety_stock_value", "safety stock value (safety_stock x unit_cost)"),
    ("replay_on_hand_value", "average on-hand value in the replay (avg_on_hand x unit_cost)"),
    ("replay_fill_rate", "replay fill rate (served / demand)"),
    ("replay_csl", "replay cycle service level (1 - stockout cycles / cycles)"),
)


@dataclass(frozen=True)
class ComparisonRow:
    key: str
    label: str
    base: float | None
    scenario: float | None

    @property
    def change(self) -> float | None:
        return None if self.base is None or self.scenario is None else self.scenario - self.base

    @property
    def change_pct(self) -> float | None:
        return None if self.change is None or not self.base else self.change / abs(self.base)


def scenario_figures(t) -> dict[str, float | None] | str:
    """The figures of one run (a queries.Tables of its run_date and scenario), or why they cannot be computed."""
    need = {
        "forecasts": ["yhat"],
        "replenishment": ["order_qty"],
        "inventory_policy": ["safety_stock", "unit_cost"],
        "policy_backtest": ["demand", "served", "cycles", "stockout_cycles", "avg_on_hand"],
    }
    frames = {}
    for name, cols in need.items():
        df = t.need(name, ["item_id", "region_id", *cols])
        if isinstance(df, str):
            return df
        frames[name] = df
    cost = frames["inventory_policy"].select("item_id", "region_id", "unit_cost")
    orders = (
        frames["replenishment"]
        .join(cost, ["item_id", "region_id"], "left")
        .agg(
            F.count(F.when(F.col("order_qty") > 0, 1)).alias("order_lines"),
            F.sum("order_qty").alias("order_units"),
            F.sum(F.col("order_qty") * F.col("unit_cost")).alias("order_value"),
        )
        .first()
    )
    replay = (
        frames["policy_backtest"]
        .join(cost, ["item_id", "region_id"], "left")
        .agg(
            F.sum(F.col("avg_on_hand") * F.col("unit_cost")).alias("on_hand_value"),
            (F.sum("served") / F.sum("demand")).alias("fill_rate"),
            (1 - F.sum("stockout_cycles") / F.sum("cycles")).alias("csl"),
        )
        .first()
    )
    return {
        "forecast_units": frames["forecasts"].agg(F.sum("yhat")).first()[0],
        "order_lines": orders["order_lines"],
        "order_units": orders["order_units"],
        "order_value": orders["order_value"],
        "safety_stock_value": frames["inventory_policy"]
        .agg(F.sum(F.col("safety_stock") * F.col("unit_cost")))
        .first()[0],
        "replay_on_hand_value": replay["on_hand_value"],
        "replay_fill_rate": replay["fill_rate"],
        "replay_csl": replay["csl"],
    }


def comparison_rows(base: dict[str, float | None], scenario: dict[str, float | None]) -> list[ComparisonRow]:
    return [ComparisonRow(key, label, _num(base.get(key)), _num(scenario.get(key))) for key, label in FIGURES]


def compare(base_tables, scenario_tables) -> list[ComparisonRow] | str:
    """The comparison of two runs' queries.Tables, or why it cannot be made (a table or column missing)."""
    base, other = scenario_figures(base_tables), scenario_figures(scenario_tables)
    for figures, which in ((base, "base"), (other, "scenario")):
        if isinstance(figures, str):
            return f"{which}: {figures}"
    return comparison_rows(base, other)


def _num(value) -> float | None:
    return None if value is None else float(value)


def scenario_section(rows: list[ComparisonRow] | str, scenario: str) -> Section:
    title = f"Scenario {scenario} vs base"
    if isinstance(rows, str):
        return Section("scenario", title, _note(rows))

    def fmt(v: float | None, key: str) -> str:
        if v is None:
            return "–"
        return f"{v:.3f}" if key.startswith("replay_f") or key == "replay_csl" else f"{v:,.1f}"

    body = _table(
        ["figure", "base", scenario, "change", "change %"],
        [
            [
                r.label,
                fmt(r.base, r.key),
                fmt(r.scenario, r.key),
                fmt(r.change, r.key),
                "–" if r.change_pct is None else f"{r.change_pct:+.1%}",
            ]
            for r in rows
        ],
    )
    return Section(
        "scenario",
        title,
        "<p>Both runs of this run_date, each read only if complete; the same "
        "tables, rows of the two scenarios.</p>" + body,
    )
