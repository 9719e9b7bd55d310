"""Output tables written by an earlier skuplan: a run stops before writing anything on a layout it cannot write,
`skuplan maintain` rewrites it, and columns added since are added to the tables (real Delta tables)."""

from __future__ import annotations

import datetime as dt

import pytest

from skuplan.config import Config, ForecastConfig, OutputsConfig

OLD_NIGHT = dt.date(2025, 12, 31)
RUN_DATE = dt.date(2026, 1, 1)
RUNS_BEFORE_SCENARIOS = (
    "run_id string, run_date date, config_hash string, stage string, rows_in long, rows_out long, "
    "rows_quarantined long, seconds double, status string, detail string, table_versions string, "
    "finished_at timestamp"
)


def _old_quarantine(spark, cfg, payload_type: str = "string"):
    """The quarantine table as skuplan wrote it before what-if scenarios: partitioned by run_date only."""
    from pyspark.sql import functions as F

    from skuplan import tables

    payloads = ("row 1", "row 2") if payload_type == "string" else (1, 2)
    rows = [("sales", payloads[0], "bad_date", "date does not parse"),
            ("sales", payloads[1], "negative_units", "units < 0")]  # fmt: skip
    df = spark.createDataFrame(rows, f"source string, payload {payload_type}, reason_code string, reason string")
    path = tables.table_ref(cfg, "quarantine").path
    df.select("*", F.lit(OLD_NIGHT).alias("run_date")).write.format("delta").partitionBy("run_date").save(path)
    return path


def _old_runs(spark, cfg):
    from skuplan import tables

    row = [("r1", OLD_NIGHT, "h", "validate", 2, 0, 2, 1.5, "ok", "", "{}", dt.datetime(2025, 12, 31, 2, 0))]
    spark.createDataFrame(row, RUNS_BEFORE_SCENARIOS).write.format("delta").save(tables.table_ref(cfg, "runs").path)


def _partitions(spark, cfg, name):
    from skuplan import tables

    return tables.delta_table(spark, tables.table_ref(cfg, name)).detail().select("partitionColumns").first()[0]


def test_a_run_stops_on_an_earlier_layout_before_writing_and_maintain_rewrites_it(spark, tmp_path):
    from skuplan import io, maintain, tables
    from skuplan.pipeline import run_pipeline
    from skuplan.schemas import RUNS
    from skuplan.table_upgrade import TableLayoutError, prepare_tables

    cfg = Config(outputs=OutputsConfig(root=str(tmp_path / "out")))
    _old_quarantine(spark, cfg)
    _old_runs(spark, cfg)

    with pytest.raises(TableLayoutError) as err:
        run_pipeline(spark, cfg, RUN_DATE)
    text = str(err.value)
    assert "1 table(s)" in text and "(quarantine)" in text and "partitioned by (run_date)" in text
    assert "(run_date, scenario)" in text and "`skuplan maintain`" in text
    # Nothing was written: no sales history, and the runs table still lacks the column a run would add.
    assert not tables.exists(spark, tables.table_ref(cfg, "sales_history"))
    assert "scenario" not in tables.read(spark, tables.table_ref(cfg, "runs")).columns

    (done,) = maintain.maintain(spark, cfg, ["quarantine"])
    assert done.rewritten
    assert _partitions(spark, cfg, "quarantine") == ["run_date", "scenario"]
    ref = tables.table_ref(cfg, "quarantine")
    rows = sorted((r.payload, r.run_date, r.scenario) for r in tables.read(spark, ref).collect())
    assert rows == [("row 1", OLD_NIGHT, "base"), ("row 2", OLD_NIGHT, "base")]
    field = tables.read(spark, ref).schema["scenario"]
    assert field.metadata.get("comment") == io.SCENARIO_COMMENT
    assert tables.read(spark, ref, version=0).count() == 2  # the old layout stays readable by version

    assert prepare_tables(spark, cfg) == ["runs.scenario"]
    runs = tables.read(spark, tables.table_ref(cfg, "runs"))
    assert runs.schema["scenario"].metadata.get("comment")  # the contract's comment came with the column
    assert [r.scenario for r in runs.collect()] == [None]  # a row written before scenarios: null, not invented

    # The writes of this version now go through.
    quarantine = spark.createDataFrame([("sales", "row 3", "bad_date", "x", RUN_DATE)],
                                       "source string, payload string, reason_code string, reason string, run_date date")  # fmt: skip
    io.write_partition(quarantine, cfg, "quarantine", RUN_DATE)
    manifest_row = {"run_id": "r2", "run_date": RUN_DATE, "config_hash": "h", "stage": "validate", "rows_in": 1,
                    "rows_out": 0, "rows_quarantined": 1, "seconds": 1.0, "status": "ok", "detail": "",
                    "table_versions": {}, "finished_at": dt.datetime(2026, 1, 1, 2, 0), "scenario": "base"}  # fmt: skip
    io.append_manifest(spark, cfg, [manifest_row], RUNS)
    assert tables.read(spark, ref).count() == 3
    assert sorted(r.run_id for r in tables.read(spark, tables.table_ref(cfg, "runs")).collect()) == ["r1", "r2"]
    assert prepare_tables(spark, cfg) == []  # nothing left to do


def test_a_column_of_another_type_stops_the_run_naming_it(spark, tmp_path):
    from skuplan.table_upgrade import TableLayoutError, prepare_tables

    cfg = Config(outputs=OutputsConfig(root=str(tmp_path / "out")))
    _old_quarantine(spark, cfg, payload_type="bigint")
    with pytest.raises(TableLayoutError, match=r"payload: bigint in the table, string written.*new folder"):
        prepare_tables(spark, cfg)


def test_a_quantile_added_to_the_config_adds_its_forecast_column(spark, tmp_path):
    """forecast.quantiles decides the forecasts table's columns: a fourth quantile used to fail the first write of
    the night after the config change."""
    from skuplan import io, tables
    from skuplan.table_upgrade import prepare_tables

    root = str(tmp_path / "out")
    three = Config(outputs=OutputsConfig(root=root))
    columns = "item_id string, region_id string, date date, yhat double, {q} model string"
    row = ("i1", "r1", RUN_DATE, 5.0)
    io.write_partition(spark.createDataFrame([(*row, 2.0, 5.0, 9.0, "ets")],
                                             columns.format(q="q05 double, q50 double, q95 double,")),
                       three, "forecasts", OLD_NIGHT)  # fmt: skip
    four = Config(outputs=OutputsConfig(root=root), forecast=ForecastConfig(quantiles=[0.05, 0.5, 0.9, 0.95]))
    assert prepare_tables(spark, four) == ["forecasts.q90"]
    io.write_partition(spark.createDataFrame([(*row, 2.0, 5.0, 8.0, 9.0, "ets")],
                                             columns.format(q="q05 double, q50 double, q90 double, q95 double,")),
                       four, "forecasts", RUN_DATE)  # fmt: skip
    got = {r.run_date: r.q90 for r in tables.read(spark, tables.table_ref(four, "forecasts")).collect()}
    assert got == {OLD_NIGHT: None, RUN_DATE: 8.0}


def test_the_stream_job_brings_its_own_tables_up_before_its_first_batch(spark, tmp_path):
    """inventory_position as a stream of an earlier version wrote it, without the opening columns: the stream job's
    table set-up adds them (with their comments, old rows null); another type stops it naming the column."""
    from pyspark.sql.types import StructType

    from skuplan import tables
    from skuplan.contracts import contract
    from skuplan.schemas import struct_type
    from skuplan.stream.tables import ensure_tables
    from skuplan.table_upgrade import TableLayoutError

    cfg = Config(outputs=OutputsConfig(root=str(tmp_path / "out")))
    ref = tables.table_ref(cfg, "inventory_position")
    old = struct_type(contract("inventory_position"), all_nullable=True)
    old_fields = [f for f in old.fields if f.name not in ("opening_on_hand", "opening_run_date")]
    row = ("i1", "r1", 7.0, 3, 0, None, None, 4, 9.0)
    spark.createDataFrame([row], StructType(old_fields)).write.format("delta").save(ref.path)

    refs = ensure_tables(spark, cfg)
    assert set(refs) == {"inventory_position", "reorder_signals", "stream_alerts", "stream_quarantine"}
    got = tables.read(spark, ref)
    assert got.columns[-2:] == ["opening_on_hand", "opening_run_date"]
    assert got.schema["opening_on_hand"].metadata.get("comment", "").startswith("stock the position started from")
    assert [(r.on_hand, r.opening_on_hand, r.opening_run_date) for r in got.collect()] == [(7.0, None, None)]
    assert tables.exists(spark, tables.table_ref(cfg, "reorder_signals"))  # the absent ones are created

    bad = tables.table_ref(cfg, "stream_alerts")
    spark.createDataFrame([], "alert_id string, item_id string, region_id string, alert_type string, event_id string, "
                              "event_time timestamp, on_hand string, batch_id long, raised_at timestamp"
                          ).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(bad.path)  # fmt: skip
    with pytest.raises(TableLayoutError, match=r"stream_alerts.*on_hand: string in the table, double written"):
        ensure_tables(spark, cfg)
