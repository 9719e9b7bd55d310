"""The input value rules (skuplan.input_rules): validate and the inventory policy judge input values alike, and
the issue-13 cases (#1, #2, #5, #8, #10) end with a reason that names the column, the rule and the fix.

Real Spark on small inline frames through validate_table / io.read_input; every test checks rows in = accepted +
quarantined where rows are split."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from inventory_helpers import one_series
from skuplan.cli import EXIT_BAD_INPUT, main
from skuplan.config import QualityConfig, load_config
from skuplan.input_rules import VALUE_RULES, ValueRule, rules_for
from skuplan.inventory import InventoryConfig, plan_policy
from skuplan.io import InputError, conform_columns, read_input
from skuplan.quality import ITEM_QUARANTINED, ratio_problem, validate_table
from skuplan.series.spark import aggregate_channels
from skuplan.stages.validate import check_without_writing

RUN_DATE = dt.date(2024, 3, 1)
ITEM = dict(unit_cost=2.0, holding_rate=0.2, order_cost=50.0, lead_time_days=7.0, lead_time_std_days=1.0,
            service_level=0.95, service_type="csl", moq=1.0, pack_size=1.0)  # fmt: skip
# A valid row per input table, and the column made unique per case (so no case is another's duplicate).
BASE = {
    "items": ({"item_id": "A", **ITEM}, "item_id"),
    "sales": (dict(item_id="A", region_id="R", date="2024-01-10", units=1.0, price=2.0, promo=0.0), "region_id"),
    "inventory": (dict(item_id="A", region_id="R", on_hand=1.0, on_order=0.0, backorders=0.0), "region_id"),
    "dc_stock": (dict(item_id="A", dc_id="D", available=1.0), "dc_id"),
    "lanes": (dict(dc_id="D", region_id="R", unit_cost=1.0, lead_time_days=1.0, capacity=10.0), "region_id"),
    "plans": (dict(item_id="A", region_id="R", date="2026-01-10", price=2.0, promo=1.0), "region_id"),
}


def _frame(spark, table: str, rows: list[dict]):
    """The rows as a typed input frame (str -> string, else double), through the reader's column check."""
    cols = list(rows[0])
    ddl = ", ".join(f"{c} {'string' if isinstance(rows[0][c], str) else 'double'}" for c in cols)
    return conform_columns(spark.createDataFrame([tuple(r[c] for c in cols) for r in rows], ddl), table)


def _split(spark, table: str, rows: list[dict], **kw):
    """validate_table on the rows: ({unique key: (code, reason)} of quarantined rows, accepted keys, result).

    Read from the marked rows, which accepted and quarantine rows are cut from: one Spark job, not two."""
    key = BASE[table][1]
    result = validate_table(_frame(spark, table, rows), table, RUN_DATE, QualityConfig(), **kw)
    marked = result.marked.collect()
    bad = {r[key]: (r.reason_code, r.reason) for r in marked if r.reason_code is not None}
    good = [r[key] for r in marked if r.reason_code is None]
    assert len(marked) == len(rows) == len(bad) + len(good)  # rows in = accepted + quarantined
    return bad, good, result


def _breaking(rule: ValueRule) -> list[tuple[object, str]]:
    """(value, expected code) for values that break the rule: each excluded bound, beyond each bound, and a
    percentage for a share."""
    if rule.allowed:
        return [("weird", rule.code)]
    out = []
    if rule.low is not None:
        if rule.low_open:
            out.append((rule.low, rule.bound_code or rule.code))
        out.append((rule.low - 1.0, rule.code))
    if rule.high is not None:
        out.append((rule.high if rule.high_open else rule.high + 1.0, rule.code))
    if rule.share:
        out.append((95.0, rule.code))
    return out


def _legal(rule: ValueRule) -> list[object]:
    """Values on the edge of the rule that it allows (the included bounds, just inside an excluded one)."""
    if rule.allowed:
        return list(rule.allowed)
    out = []
    if rule.low is not None:
        out.append(rule.low + 0.5 if rule.low_open else rule.low)
    if rule.high is not None and not rule.high_open:
        out.append(rule.high)
    return out


def _cases(table: str) -> list[tuple[str, ValueRule, object, str | None]]:
    """(unique key, rule, value, expected code or None for accepted) for every rule of the table."""
    cases = []
    for i, rule in enumerate(rules_for(table)):
        cases += [(f"bad{i}_{j}", rule, v, code) for j, (v, code) in enumerate(_breaking(rule))]
        cases += [(f"ok{i}_{j}", rule, v, None) for j, v in enumerate(_legal(rule))]
    return cases


# plan_policy still computes the levels of invalid rows before blanking them: sqrt of a negative lead time.
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_every_rule_is_quarantined_by_validate_and_invalid_in_the_policy(spark):
    """The agreement: a value breaking a rule is quarantined with the rule's code and reason (the percentage hint
    included) and the policy marks it invalid naming the rule; a legal edge value passes both."""
    assert {r.table for r in VALUE_RULES} == set(BASE)
    for table, (base, key) in BASE.items():
        cases = _cases(table)
        bad, good, _ = _split(spark, table, [{**base, key: k, rule.column: v} for k, rule, v, _ in cases])
        for k, rule, v, code in cases:
            if code is None:
                assert k in good, f"{table}.{rule.column}={v!r} is legal but was quarantined: {bad.get(k)}"
            else:
                assert bad.get(k) == (code, rule.reason_for(v)), f"{table}.{rule.column}={v!r}"
    # The policy plans from the items columns: the same cases, judged by plan_policy.
    cases = _cases("items")
    stats = pd.concat([one_series(item_id=k, **{**ITEM, rule.column: v}) for k, rule, v, _ in cases],
                      ignore_index=True)  # fmt: skip
    plan = plan_policy(stats, InventoryConfig()).set_index("item_id")
    for k, rule, v, code in cases:
        status, message = plan.loc[k, ["status", "message"]]
        if code is None:
            assert status == "ok", f"items.{rule.column}={v!r} accepted by validate, invalid in the policy: {message}"
        else:
            assert status == "invalid" and rule.requirement in message, f"items.{rule.column}={v!r}: {message}"


def test_zero_unit_cost_or_holding_rate_is_quarantined_not_planned_as_invalid(spark):
    """#8: 0 passed validate and the policy then ordered nothing; now validate stops it with the fix."""
    rows = [{"item_id": "ok", **ITEM}, {"item_id": "uc0", **ITEM, "unit_cost": 0.0},
            {"item_id": "hr0", **ITEM, "holding_rate": 0.0}, {"item_id": "uc-", **ITEM, "unit_cost": -1.0}]
    bad, good, _ = _split(spark, "items", rows)
    assert good == ["ok"]
    assert {k: code for k, (code, _) in bad.items()} == {"uc0": "ZERO_COST", "hr0": "ZERO_COST", "uc-": "NEGATIVE_COST"}
    assert bad["uc0"][1].startswith("unit_cost must be > 0: write the item's purchase cost")
    assert "holding_rate must be > 0" in bad["hr0"][1] and "share of unit_cost" in bad["hr0"][1]


def test_order_cost_zero_is_legal_and_negative_is_not(spark):
    """#1 (validate side): the rules say order_cost >= 0, 0 meaning no fixed cost per order; the policy agrees."""
    rows = [{"item_id": "k0", **ITEM, "order_cost": 0.0}, {"item_id": "k-", **ITEM, "order_cost": -5.0}]
    bad, good, _ = _split(spark, "items", rows)
    assert good == ["k0"]
    assert bad["k-"] == ("NEGATIVE_COST", "order_cost must be >= 0: write the fixed cost per order (0 when "
                                          "ordering costs nothing)")
    plan = plan_policy(one_series(**{**ITEM, "order_cost": 0.0}), InventoryConfig())
    assert list(plan["status"]) == ["ok"]


def _write_inputs(root, repo_root, tables: dict[str, pd.DataFrame]):
    """Each table as root/<table>/part-0.parquet (the default inputs.<table>.path); the config reading them."""
    for name, frame in tables.items():
        (root / name).mkdir(parents=True)
        frame.to_parquet(root / name / "part-0.parquet")
    return load_config(repo_root / "conf", environ={}, overrides={"inputs": {"root": str(root)}})


def test_rows_of_a_quarantined_item_blame_the_items_row(spark, tmp_path, repo_root):
    """#10 through the validate stage (what a run and --dry-run call): with 10 items and one bad items row, its
    sales / inventory / dc_stock rows are ITEM_QUARANTINED, and only the items table breaks the 5% limit (before:
    sales 2 of 20 = 10%, inventory 1 of 2 failed the run as if those files were bad)."""
    items = pd.DataFrame([{"item_id": f"I{i}", **ITEM} for i in range(10)])
    items.loc[3, "service_level"] = 95.0  # a percentage where a fraction belongs
    tables = {
        "items": items,
        "sales": pd.DataFrame([{"item_id": f"I{i}", "region_id": f"R{r}", "date": "2024-01-10", "units": 1.0}
                               for i in range(10) for r in range(2)]),  # fmt: skip
        "inventory": pd.DataFrame({"item_id": ["I0", "I3"], "region_id": "R0", "on_hand": 5.0}),
        "dc_stock": pd.DataFrame({"item_id": ["I0", "I3"], "dc_id": "D1", "available": 5.0}),
        "lanes": pd.DataFrame({"dc_id": ["D1"], "region_id": ["R0"], "unit_cost": [1.0], "lead_time_days": [1.0]}),
    }
    cfg = _write_inputs(tmp_path, repo_root, tables)
    checked, reasons = check_without_writing(spark, cfg, dt.date(2024, 1, 11))
    for name, frame in tables.items():  # rows in = accepted + quarantined
        assert checked.tables[name].rows_in == len(frame) == checked.tables[name].accepted + checked.tables[
            name].quarantined  # fmt: skip
    assert reasons == {"items": [("BAD_SERVICE_LEVEL", 1)], "sales": [(ITEM_QUARANTINED, 2)],
                       "inventory": [(ITEM_QUARANTINED, 1)], "dc_stock": [(ITEM_QUARANTINED, 1)]}  # fmt: skip
    assert len(checked.problems) == 1 and checked.problems[0].startswith("input items: 1 of 10 rows (10.0%)")
    # The same count with an own bad row: that one is judged against the rows judged on their own.
    said = ratio_problem("sales", 21, 3, 2, 0.05)
    assert "1 of 19 rows (5.3%) quarantined (besides 2 rows of items quarantined in the items table)" in said


def test_lanes_without_lead_time_stop_at_read_and_dry_run(spark, tmp_path, repo_root, capsys, monkeypatch):
    """#5: lanes.lead_time_days is required (no default: allocation drops lanes slower than its horizon), so a
    file without it fails at read, naming file, column and fix: `run --dry-run` exits 2 before any stage could
    write. An empty value is quarantined."""
    tables = {
        "items": pd.DataFrame([{"item_id": "I0", **ITEM}]),
        "sales": pd.DataFrame({"item_id": ["I0"], "region_id": "R0", "date": "2024-01-10", "units": 1.0}),
        "inventory": pd.DataFrame({"item_id": ["I0"], "region_id": "R0", "on_hand": 5.0}),
        "dc_stock": pd.DataFrame({"item_id": ["I0"], "dc_id": "D1", "available": 5.0}),
        "lanes": pd.DataFrame({"dc_id": ["D1"], "region_id": ["R0"], "unit_cost": [1.0]}),
    }
    cfg = _write_inputs(tmp_path / "in", repo_root, tables)
    with pytest.raises(InputError, match=r"input lanes: column 'lead_time_days' missing in .*lanes.*add it"):
        read_input(spark, cfg, "lanes")
    monkeypatch.setenv("SKUPLAN__INPUTS__ROOT", str(tmp_path / "in"))
    monkeypatch.setenv("SKUPLAN__OUTPUTS__ROOT", str(tmp_path / "out"))
    code = main(["run", "--conf", str(repo_root / "conf"), "--run-date", "2024-01-11", "--dry-run"])
    assert code == EXIT_BAD_INPUT
    assert "column 'lead_time_days' missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    rows = [{**BASE["lanes"][0], "region_id": "R1"}, {**BASE["lanes"][0], "region_id": "R2", "lead_time_days": None}]
    bad, good, _ = _split(spark, "lanes", rows)
    assert good == ["R1"] and bad["R2"][0] == "MISSING_LEAD_TIME_DAYS"


def test_dense_export_zero_unit_days_keep_a_price(spark):
    """#2: a dense export lists every day, units 0 with the shelf price; ANSI mode raised DIVIDE_BY_ZERO in the
    units-weighted price. A zero-unit day now takes the plain mean of its channels' prices (null when none)."""
    rows = [
        ("A", "R1", "2024-01-01", "0", "web", "10"), ("A", "R1", "2024-01-01", "0", "store", "12"),
        ("A", "R1", "2024-01-02", "3", "web", "10"), ("A", "R1", "2024-01-02", "0", "store", "12"),
        ("A", "R1", "2024-01-03", "0", "web", None), ("A", "R1", "2024-01-03", "0", "store", None),
        ("A", "R1", "2024-01-04", "1", "web", "10"), ("A", "R1", "2024-01-04", "3", "store", "14"),
    ]  # fmt: skip
    raw = spark.createDataFrame(rows, "item_id string, region_id string, date string, units string, "
                                      "channel string, price string")  # fmt: skip
    result = validate_table(conform_columns(raw, "sales"), "sales", RUN_DATE, QualityConfig())
    assert result.accepted.count() == len(rows) and result.quarantine.count() == 0
    daily = {str(r.date): (r.units, r.price) for r in aggregate_channels(result.accepted).collect()}
    assert daily == {"2024-01-01": (0.0, 11.0), "2024-01-02": (3.0, 10.0), "2024-01-03": (0.0, None),
                     "2024-01-04": (4.0, 13.0)}  # fmt: skip
