"""One night on exports written the way users write them (issue 13, per case at the CLI): sales from pandas
`to_parquet` (datetime64[ns] with a Europe/Berlin zone, one series dense with zero-unit priced days), items from a
spreadsheet (`;`, decimal comma, cp1252) holding the master-data cases, events as `dd/MM/yyyy` text, one
inventory row missing. One `skuplan run` through `skuplan.cli.main`; each test checks one case's outcome in the
tables it wrote. A second, dry run reads the same events without `date_format` and must say which option to set.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from skuplan.cli import EXIT_BAD_INPUT, EXIT_OK, main
from skuplan.sample import SampleSpec, generate_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RUN_DATE = dt.date(2026, 1, 1)
DENSE, ZERO_UNIT_COST, PERCENT_SERVICE, ZERO_ORDER_COST, HUGE_MOQ, NO_INVENTORY = (
    "SKU00008", "SKU00001", "SKU00002", "SKU00005", "SKU00003", "SKU00006")  # all sell in the sample


def _sales_from_pandas(folder: Path) -> pd.DataFrame:
    """Sales as pandas writes them: midnight in Berlin as a zoned nanosecond timestamp, and DENSE given a row on
    every day, units 0 and the shelf price on days it did not sell (a dense retail export)."""
    sales = pd.read_parquet(folder / "sales")
    sales["date"] = pd.to_datetime(sales["date"])
    dense = sales[sales["item_id"] == DENSE]
    every_day = pd.date_range(sales["date"].min(), sales["date"].max(), freq="D")
    missing = every_day.difference(dense["date"])
    zero_days = pd.DataFrame({"item_id": DENSE, "region_id": "R01", "date": missing, "units": 0.0,
                              "channel": dense["channel"].iloc[0], "price": float(dense["price"].iloc[0]), "promo": 0})
    sales = pd.concat([sales, zero_days], ignore_index=True)
    sales["date"] = sales["date"].dt.tz_localize("Europe/Berlin").astype("datetime64[ns, Europe/Berlin]")
    shutil.rmtree(folder / "sales")
    (folder / "sales").mkdir()
    sales.to_parquet(folder / "sales" / "sales.parquet", index=False)
    return sales


def _items_from_a_spreadsheet(folder: Path) -> None:
    items = pd.read_parquet(folder / "items").set_index("item_id")
    items.loc[ZERO_UNIT_COST, "unit_cost"] = 0.0
    items.loc[PERCENT_SERVICE, "service_level"] = 95.0
    items.loc[ZERO_ORDER_COST, "order_cost"] = 0.0
    items.loc[HUGE_MOQ, ["moq", "pack_size"]] = (100_000, 1)
    shutil.rmtree(folder / "items")
    (folder / "items").mkdir()
    items.reset_index().to_csv(folder / "items" / "items.csv", sep=";", decimal=",", index=False, encoding="cp1252")


def _events_as_text(folder: Path) -> None:
    events = pd.read_parquet(folder / "events")
    events["date"] = pd.to_datetime(events["date"]).dt.strftime("%d/%m/%Y")
    shutil.rmtree(folder / "events")
    (folder / "events").mkdir()
    events.to_csv(folder / "events" / "events.csv", index=False)


def _overlay(path: Path, inputs: Path, out: Path, events_date_format: bool = True) -> Path:
    date_format = ", date_format: dd/MM/yyyy" if events_date_format else ""
    path.write_text(f"""
inputs:
  root: "{inputs}"
  items: {{path: items, format: csv, sep: ";", decimal: ",", encoding: cp1252}}
  events: {{path: events, format: csv{date_format}}}
outputs: {{root: "{out}", max_files_per_partition: 1}}
quality: {{max_quarantine_ratio: 0.4}}
forecast: {{horizon_days: 14}}
""")
    return path


@pytest.fixture(scope="module")
def night(spark, tmp_path_factory):
    """(exit code, stderr, sales as pandas wrote them, output root) of one run on the exports above."""
    base = tmp_path_factory.mktemp("real_export_night")
    inputs = base / "in"
    generate_sample(inputs, SampleSpec(n_items=8, n_regions=1, start=dt.date(2025, 10, 1), dirty_rows=False))
    sales = _sales_from_pandas(inputs)
    _items_from_a_spreadsheet(inputs)
    _events_as_text(inputs)
    inventory = pd.read_parquet(inputs / "inventory")
    inventory[inventory["item_id"] != NO_INVENTORY].to_parquet(inputs / "inventory" / "part-0.parquet")
    for stale in (inputs / "inventory").glob("*.parquet"):
        if stale.name != "part-0.parquet":
            stale.unlink()
    overlay = _overlay(base / "night.yaml", inputs, base / "out")
    code = main(["run", "--conf", str(REPO / "conf"), "--conf-file", str(overlay), "--run-date", RUN_DATE.isoformat()])
    return code, base, sales


def _table(spark, night, name):
    return spark.read.format("delta").load(str(night[1] / "out" / name)).where(F.col("run_date") == RUN_DATE)


def test_the_night_ends_ok_and_reconciles_every_row(spark, night):
    code, base, sales = night
    assert code == EXIT_OK
    run = spark.read.format("delta").load(str(base / "out" / "runs")).where(F.col("stage") == "validate").first()
    assert run.status == "ok"
    assert f"sales: {len(sales)} in = " in run.detail  # every pandas row read, then accepted or quarantined


def test_zoned_nanosecond_dates_are_the_days_written(spark, night):
    """Midnight in Berlin is 23:00 UTC the day before: read as the writer's day, not shifted (no BAD_DATE, the
    history ends on the last day written, and its units add up per day as pandas wrote them)."""
    _, _, sales = night
    quarantine = _table(spark, night, "quarantine").where(F.col("source") == "sales")
    assert quarantine.where(F.col("reason_code") == "BAD_DATE").count() == 0
    arrays = _table(spark, night, "series_arrays").where(F.col("item_id") == DENSE).first()
    dense = sales[sales["item_id"] == DENSE]
    last_day = dt.date(1970, 1, 1) + dt.timedelta(days=max(arrays.day))
    assert last_day == dense["date"].max().date() == RUN_DATE - dt.timedelta(days=1)
    by_day = dict(zip(arrays.day, arrays.units, strict=True))
    epoch = pd.Timestamp("1970-01-01")
    written = dense.groupby(dense["date"].dt.tz_localize(None))["units"].sum()
    assert {(d - epoch).days: u for d, u in written.items() if (d - epoch).days in by_day} == by_day


def test_dense_zero_unit_priced_days_do_not_crash_prepare(spark, night):
    forecasts = _table(spark, night, "forecasts").where(F.col("item_id") == DENSE)
    assert forecasts.count() == 14
    status = _table(spark, night, "forecast_status").where(F.col("item_id") == DENSE).first()
    assert status.status == "ok"


@pytest.mark.parametrize("item, field, words", [
    (ZERO_UNIT_COST, "unit_cost", ["unit_cost"]),
    (PERCENT_SERVICE, "service_level", ["service_level", "percentage"]),
])
def test_a_bad_items_row_is_quarantined_there_and_plans_nothing(spark, night, item, field, words):
    """validate and the policy agree: the items row is quarantined with a reason naming the field (and the
    percentage hint for 95), its sales rows are blamed on that row (ITEM_QUARANTINED), no plan row uses it."""
    quarantine = _table(spark, night, "quarantine")
    items_q = quarantine.where((F.col("source") == "items") & F.col("payload").contains(item)).collect()
    assert len(items_q) == 1 and all(w in items_q[0].reason for w in words)
    sales_q = quarantine.where((F.col("source") == "sales") & F.col("payload").contains(item))
    assert {r.reason_code for r in sales_q.collect()} == {"ITEM_QUARANTINED"}
    for table in ("forecasts", "inventory_policy", "replenishment"):
        assert _table(spark, night, table).where(F.col("item_id") == item).count() == 0


def test_zero_order_cost_still_orders(spark, night):
    """K = 0: lot-for-lot with a floor of one review's demand, never a lot of 0 (issue 13 #1)."""
    policy = _table(spark, night, "inventory_policy").where(F.col("item_id") == ZERO_ORDER_COST).first()
    assert policy.order_qty_policy > 0 and policy.lot_sizing == "review_demand"


def test_absurd_moq_and_missing_inventory_raise_alerts(spark, night):
    alerts = {(r.item_id, r.alert_type) for r in _table(spark, night, "alerts").collect()}
    assert (HUGE_MOQ, "moq_exceeds_demand") in alerts
    assert (NO_INVENTORY, "no_inventory_row") in alerts
    replenishment = _table(spark, night, "replenishment").where(F.col("item_id") == NO_INVENTORY).first()
    assert replenishment.reason_code == "no_inventory_row"


def test_day_first_dates_without_date_format_name_the_option(night, capsys):
    """The same events without `date_format`: every row is BAD_DATE, the dry run exits 2, and the message gives
    the reason (which names inputs.events.date_format), not only the ratio."""
    _, base, _ = night
    overlay = _overlay(base / "no_format.yaml", base / "in", base / "dry_out", events_date_format=False)
    capsys.readouterr()
    code = main(["run", "--conf", str(REPO / "conf"), "--conf-file", str(overlay), "--run-date",
                 RUN_DATE.isoformat(), "--dry-run"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "BAD_DATE" in err and "inputs.events.date_format" in err
