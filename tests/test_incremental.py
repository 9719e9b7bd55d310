"""Incremental nights and what-if scenarios, on a second night after the golden run (one more day of sales).

Two runs of the pipeline for run_date 2026-01-02, into a copy of the golden run's outputs, on a copy of its inputs
with one day (2026-01-01) added, two rows of it bad:
- the base night, incremental: the golden run (2026-01-01) left a sales history through 2025-12-31;
- scenario `low_z` (inventory.z_max 1.0), whose first night is a full refresh: it validates every row again.
Everything upstream of the policy (validate, prepare, forecast) does not read the inventory config, so those tables
must be identical between the incremental night and the full refresh; the policy tables show the scenario.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from golden.outputs import golden_config
from skuplan import io
from skuplan.complete_runs import IncompleteRun, read_plan, require_complete
from skuplan.pipeline import run_pipeline

pytestmark = pytest.mark.slow

NIGHT2, NEW_DAY = dt.date(2026, 1, 2), dt.date(2026, 1, 1)
SCENARIO = "low_z"
UNKNOWN = "SKU_NOT_IN_ITEMS"
# Tables the inventory config cannot change: the incremental night and the full refresh must write the same rows.
UPSTREAM = (
    "staged_items",
    "staged_inventory",
    "staged_dc_stock",
    "staged_lanes",
    "staged_events",
    "data_flags",
    "series_stats",
    "series_arrays",
    "forecasts",
    "forecast_status",
    "forecast_metrics",
)


def _add_day(sales_dir) -> list[dict]:
    """Copy 2025-12-31's clean rows to 2026-01-01 (channel `<channel>_web`, so no key meets an old row's), plus a return
    (negative units) and a sale of an unknown item; returns the two bad rows."""
    table = pq.read_table(sales_dir / "part-00000.parquet")
    last = table.filter(
        pc.and_(
            pc.equal(table["date"], pa.scalar(NEW_DAY - dt.timedelta(days=1))),
            pc.greater_equal(table["units"], 0.0),
        )
    )
    last = last.filter(pc.and_(pc.invert(pc.is_nan(last["units"])), pc.starts_with(last["item_id"], "SKU0")))
    rows = [dict(r, date=NEW_DAY, channel=f"{r['channel']}_web") for r in last.to_pylist() if r["region_id"]]
    bad = [dict(rows[0], units=-3.0, channel="web_return"), dict(rows[1], item_id=UNKNOWN)]
    pq.write_table(pa.Table.from_pylist(rows + bad, schema=table.schema), sales_dir / "part-09999.parquet")
    return bad


@pytest.fixture(scope="module")
def nights(spark, golden_run, tmp_path_factory):
    in_root, out_root = golden_run
    work = tmp_path_factory.mktemp("incremental")
    shutil.copytree(in_root, work / "in")
    shutil.copytree(out_root, work / "out")
    bad = _add_day(work / "in" / "sales")
    cfg = golden_config(work / "in", work / "out")
    # One day of the tiny sample is ~12 rows, 2 of them bad: above the default 5% limit, which judges the night's
    # rows. The limit does not decide acceptance, so the night stays incremental.
    cfg = cfg.model_copy(update={"quality": cfg.quality.model_copy(update={"max_quarantine_ratio": 0.25})})
    base = run_pipeline(spark, cfg, NIGHT2)
    scn_cfg = cfg.model_copy(update={"inventory": cfg.inventory.model_copy(update={"z_max": 1.0})})
    scenario = run_pipeline(spark, scn_cfg, NIGHT2, scenario=SCENARIO)
    return cfg, bad, base, scenario


def _rows(spark, cfg, table, run_date, scenario):
    return io.read_table(spark, cfg, table, run_date, scenario=scenario).drop("run_date", "scenario")


def test_incremental_night_equals_full_refresh(spark, nights):
    cfg, _, base, scenario = nights
    assert "incremental, sales dated after 2025-12-31" in base.stages[0].detail
    assert "full refresh (no sales history of scenario low_z yet)" in scenario.stages[0].detail
    # prepare: the base night appended the new day to the lists the golden run committed, the refresh rebuilt them
    assert "lists incremental" in base.stages[1].detail and "lists full" in scenario.stages[1].detail
    state = {r["scenario"]: r for r in io.read_table(spark, cfg, "prepare_state").collect()}
    assert {s: (r["through_date"], r["run_id"]) for s, r in state.items()} == {
        "base": (NEW_DAY, base.run_id),
        SCENARIO: (NEW_DAY, scenario.run_id),
    }
    for table in UPSTREAM:
        inc, full = _rows(spark, cfg, table, NIGHT2, "base"), _rows(spark, cfg, table, NIGHT2, SCENARIO)
        assert inc.count() == full.count() > 0 or table == "data_flags", table
        assert inc.exceptAll(full).isEmpty() and full.exceptAll(inc).isEmpty(), f"{table} differs"
    history = io.read_table(spark, cfg, "sales_history")
    inc, full = (history.where(F.col("scenario") == s).drop("scenario") for s in ("base", SCENARIO))
    assert inc.exceptAll(full).isEmpty() and full.exceptAll(inc).isEmpty()
    # The history holds the new day: the clean rows added, not the two bad ones.
    new_day = inc.where(F.col("date") == F.lit(NEW_DAY))
    assert (
        new_day.where(F.col("units") < 0).isEmpty() and new_day.where(F.col("item_id") == UNKNOWN).isEmpty()
    )
    assert new_day.where(F.col("channel").endswith("_web")).count() > 0


def test_second_night_quarantines_only_its_new_bad_rows(spark, nights):
    cfg, bad, _, _ = nights
    night1 = _rows(spark, cfg, "quarantine", dt.date(2026, 1, 1), "base")
    night2 = _rows(spark, cfg, "quarantine", NIGHT2, "base").collect()
    got = sorted(
        (r["reason_code"], json.loads(r["payload"])["item_id"], float(json.loads(r["payload"])["units"]))
        for r in night2
    )
    assert got == sorted(
        [("NEGATIVE_UNITS", bad[0]["item_id"], -3.0), ("UNKNOWN_ITEM", UNKNOWN, bad[1]["units"])]
    )
    # The full refresh of the same data quarantines the rest again (future-dated rows, the golden dirty rows):
    # the incremental night wrote exactly what the refresh found and night 1 had not.
    full = _rows(spark, cfg, "quarantine", NIGHT2, SCENARIO).select("source", "payload", "reason_code")
    keys = night1.select("source", "payload", "reason_code")
    expected = full.join(keys, ["source", "payload", "reason_code"], "left_anti")
    got_df = spark.createDataFrame(night2).select("source", "payload", "reason_code")
    assert expected.exceptAll(got_df).isEmpty() and got_df.exceptAll(expected).isEmpty()
    assert full.count() > len(night2)


def test_scenario_and_base_coexist(spark, nights):
    cfg, _, _, _ = nights
    base = read_plan(spark, cfg, "inventory_policy", NIGHT2).toPandas().set_index(["item_id", "region_id"])
    low = (
        read_plan(spark, cfg, "inventory_policy", NIGHT2, scenario=SCENARIO)
        .toPandas()
        .set_index(["item_id", "region_id"])
    )
    assert set(base.index) == set(low.index) and len(base) == 10
    both = base.join(low, rsuffix="_low").dropna(subset=["z", "z_low"])
    assert len(both) > 0
    # The overlay caps the safety factor at 1.0: series whose base z was at most 1 keep their plan; the others are
    # capped (z <= 1, flagged) and hold less safety stock.
    low_z = both["z"] <= 1.0
    assert low_z.any() and (~low_z).any()
    assert (both.loc[low_z, "z_low"] == both.loc[low_z, "z"]).all()
    assert (both.loc[low_z, "safety_stock_low"] == both.loc[low_z, "safety_stock"]).all()
    assert (both["safety_stock_low"] <= both["safety_stock"] + 1e-9).all()
    capped = both.loc[
        ~low_z & (both["service_type"] == "csl")
    ]  # a fill-rate target's z is not the CSL factor
    assert len(capped) > 0 and capped["z_capped_low"].all() and (capped["z_low"] <= 1.0 + 1e-12).all()
    assert (capped["safety_stock_low"] < capped["safety_stock"]).all()
    # Each scenario is judged complete on its own manifest rows; one that never ran is not.
    assert require_complete(spark, cfg, NIGHT2, SCENARIO).scenario == SCENARIO
    with pytest.raises(IncompleteRun, match="scenario other"):
        require_complete(spark, cfg, NIGHT2, "other")


def test_base_night_carries_the_replay_and_the_scenario_replays(spark, nights):
    """Weekly replays (inventory.replay.every_days 7): the base night's settings are the golden run's, so it hands
    on that night's replay unchanged; the scenario's inventory settings differ, so it replays on its own night."""
    cfg, _, base, scenario = nights
    night1 = _rows(spark, cfg, "policy_backtest", NEW_DAY, "base")
    carried = _rows(spark, cfg, "policy_backtest", NIGHT2, "base")
    assert carried.count() == night1.count() > 0
    assert carried.exceptAll(night1).isEmpty() and night1.exceptAll(carried).isEmpty()
    assert {r[0] for r in carried.select("replay_run_date").distinct().collect()} == {NEW_DAY}
    assert f"replay (of {NEW_DAY}, carried forward) of " in base.stages[3].detail
    replayed = _rows(spark, cfg, "policy_backtest", NIGHT2, SCENARIO)
    assert {r[0] for r in replayed.select("replay_run_date").distinct().collect()} == {NIGHT2}
    assert scenario.stages[3].detail.startswith("replay of ")


def test_report_compares_scenario_with_base(spark, nights):
    from skuplan.report import queries as q
    from skuplan.report import scenarios

    cfg, _, _, _ = nights
    rows = {
        r.key: r
        for r in scenarios.compare(q.Tables(spark, cfg, NIGHT2), q.Tables(spark, cfg, NIGHT2, SCENARIO))
    }
    for scenario, side in (("base", "base"), (SCENARIO, "scenario")):
        orders = read_plan(spark, cfg, "replenishment", NIGHT2, scenario=scenario).toPandas()
        policy = read_plan(spark, cfg, "inventory_policy", NIGHT2, scenario=scenario).toPandas()
        forecasts = read_plan(spark, cfg, "forecasts", NIGHT2, scenario=scenario).toPandas()
        assert getattr(rows["order_units"], side) == pytest.approx(orders["order_qty"].sum())
        assert getattr(rows["order_lines"], side) == (orders["order_qty"] > 0).sum()
        assert getattr(rows["safety_stock_value"], side) == pytest.approx(
            (policy["safety_stock"] * policy["unit_cost"]).sum()
        )
        assert getattr(rows["forecast_units"], side) == pytest.approx(forecasts["yhat"].sum())
    assert rows["forecast_units"].change == pytest.approx(0.0, abs=1e-6)  # the overlay leaves the forecast
    assert rows["safety_stock_value"].change < 0
    html = scenarios.scenario_section(list(rows.values()), SCENARIO).body
    assert SCENARIO in html and "safety stock value" in html


def test_merged_lists_equal_lists_of_the_whole_history(spark):
    """Tonight's lists from last night's plus the new days equal the lists of the whole history: a day leaves the
    7-day window, a series gets no new day, a series is new tonight; last_sale_day is the whole history's."""
    from skuplan.schemas import DAILY_SERIES
    from skuplan.series.prepared import full_lists, merged_lists

    d = dt.date(2024, 1, 1)
    rows = [
        ("A", "R1", d, 4.0, 0.0, 2.0, False),
        ("A", "R1", d + dt.timedelta(days=5), 0.0, 1.0, None, True),
        ("A", "R1", d + dt.timedelta(days=8), 3.0, 0.0, 2.5, False),  # tonight
        ("B", "R1", d + dt.timedelta(days=2), 6.0, 0.0, 1.0, False),  # no new day, its sale leaves the window
        ("C", "R2", d + dt.timedelta(days=8), 0.0, 0.0, 1.0, False),  # first row tonight, never sold
    ]
    daily = spark.createDataFrame(rows, DAILY_SERIES)
    last_night, tonight = d + dt.timedelta(days=7), d + dt.timedelta(days=9)
    previous = full_lists(daily.where(F.col("date") <= F.lit(last_night)), last_night, 7)
    merged = merged_lists(previous, daily.where(F.col("date") > F.lit(last_night)), tonight, 7)
    full = full_lists(daily, tonight, 7)
    assert merged.schema == full.schema
    assert merged.exceptAll(full).isEmpty() and full.exceptAll(merged).isEmpty()
    got = {r["item_id"]: r for r in merged.collect()}
    epoch = lambda day: (day - dt.date(1970, 1, 1)).days  # noqa: E731
    # the window is days 3..9 after Jan 1 (Jan 4 to Jan 10): A keeps its Jan 6 row, B's Jan 3 sale is gone
    assert got["A"]["day"] == [epoch(d + dt.timedelta(days=5)), epoch(d + dt.timedelta(days=8))]
    assert got["A"]["units"] == [0.0, 3.0] and got["A"]["price"] == [None, 2.5]
    assert got["B"]["day"] == [] and got["B"]["last_sale_day"] == epoch(d + dt.timedelta(days=2))
    assert got["C"]["first_day"] == epoch(d + dt.timedelta(days=8)) and got["C"]["last_sale_day"] is None
