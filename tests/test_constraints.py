"""Constraints and maintenance of the Delta tables: NOT NULL keys, CHECK constraints, table properties
(skuplan.table_setup) and `skuplan maintain` (skuplan.maintain), on tiny real Delta tables."""

from __future__ import annotations

import datetime as dt

import pytest

from skuplan import table_setup
from skuplan.config import Config, OutputsConfig
from skuplan.contracts import contract
from skuplan.ops_config import MaintenanceConfig

RUN_DATE = dt.date(2026, 1, 1)


def test_declared_checks_keys_and_properties():
    columns = ["item_id", "region_id", "date", "yhat", "q05", "q50", "q95", "model"]
    found = {c.name: c.expression for c in table_setup.checks("forecasts", columns)}
    assert set(found) == {
        "forecasts_yhat_nonnegative",
        "forecasts_q05_nonnegative",
        "forecasts_q05_le_q50",
        "forecasts_q50_le_q95",
    }
    assert found["forecasts_q50_le_q95"] == "q50 IS NULL OR q95 IS NULL OR q50 <= q95"
    # Levels sort as numbers, not as text: q97_5 sits between q95 and q99.
    levels = {c.name for c in table_setup.checks("forecasts", ["yhat", "q99", "q97_5", "q95"])}
    assert {"forecasts_q95_le_q97_5", "forecasts_q97_5_le_q99"} <= levels
    assert table_setup.nullable("forecasts", "item_id") is False
    assert table_setup.nullable("forecasts", "yhat") is True
    # A shortage row has no DC: its contract says dc_id is nullable, so it is not made NOT NULL.
    assert table_setup.nullable("allocation", "dc_id") is True
    assert table_setup.nullable("runs", "run_id") is False
    retention = MaintenanceConfig(log_retention_days=45, file_retention_days=10, auto_compact=False)
    props = table_setup.creation_properties("runs", contract("runs").names, retention)
    assert props["delta.logRetentionDuration"] == "interval 45 days"
    assert props["delta.deletedFileRetentionDuration"] == "interval 10 days"
    assert props["delta.autoOptimize.autoCompact"] == "true"  # the manifest always: one small file per run
    assert props["delta.constraints.runs_status_known"] == "status IN ('ok', 'failed')"
    assert "delta.autoOptimize.autoCompact" not in table_setup.properties("kpis", retention)
    with pytest.raises(ValueError, match="file_retention_days"):
        Config.model_validate({"maintenance": {"file_retention_days": 1}})


def _frame(spark, rows):
    return spark.createDataFrame(rows, "item_id string, region_id string, order_qty double")


def test_a_check_violation_fails_the_write_naming_table_and_constraint(spark, tmp_path):
    from skuplan import io

    cfg = Config(outputs=OutputsConfig(root=str(tmp_path)))
    part = contract("replenishment").subset(["item_id", "region_id", "order_qty"])
    version, _ = io.write_partition(
        _frame(spark, [("i1", "r1", 5.0)]), cfg, "replenishment", RUN_DATE, contract=part
    )
    with pytest.raises(
        table_setup.ConstraintViolation,
        # Delta prints the expression as it parsed it, parenthesised.
        match=r"table replenishment: CHECK constraint replenishment_order_qty_nonnegative "
        r"\(\(order_qty IS NULL\) OR \(order_qty >= 0\)\) violated by a row with "
        r"order_qty : -2\.0",
    ):
        io.write_partition(
            _frame(spark, [("i1", "r1", 3.0), ("i2", "r1", -2.0)]),
            cfg,
            "replenishment",
            RUN_DATE,
            contract=part,
        )
    with pytest.raises(table_setup.ConstraintViolation, match=r"table replenishment: NOT NULL .* item_id"):
        io.write_partition(_frame(spark, [(None, "r1", 1.0)]), cfg, "replenishment", RUN_DATE, contract=part)
    # Nothing of the failed writes was committed: the partition still holds the first write.
    assert io.last_commit(spark, io.tables.table_ref(cfg, "replenishment"))[0] == version
    rows = io.read_table(spark, cfg, "replenishment", RUN_DATE).select("item_id", "order_qty").collect()
    assert [(r.item_id, r.order_qty) for r in rows] == [("i1", 5.0)]


def test_maintain_adds_missing_constraints_compacts_and_vacuums(spark, tmp_path):
    from pyspark.sql import functions as F

    from skuplan import io, maintain

    cfg = Config(
        outputs=OutputsConfig(root=str(tmp_path)), maintenance=MaintenanceConfig(file_retention_days=10)
    )
    path = io.tables.table_ref(cfg, "allocation").path
    # A table written before constraints existed: plain appends, two files in one partition, no properties.
    for units in (1.0, 2.0):
        (
            spark.createDataFrame(
                [("i1", "r1", units, 0.0)],
                "item_id string, region_id string, units double, shortage_units double",
            )
            .select("*", F.lit(RUN_DATE).alias("run_date"), F.lit("base").alias("scenario"))
            .coalesce(1)
            .write.format("delta")
            .mode("append")
            .partitionBy("run_date", "scenario")
            .save(path)
        )

    (done,) = maintain.maintain(spark, cfg, ["allocation", "kpis"])  # kpis does not exist: skipped

    assert done.table == "allocation" and (done.files_before, done.files_after) == (2, 1)
    assert done.vacuum_retention_hours == 240
    assert done.constraints_added == ["allocation_units_nonnegative", "allocation_shortage_units_nonnegative"]
    table = io.tables.delta_table(spark, io.tables.table_ref(cfg, "allocation"))
    assert table.toDF().agg(F.sum("units")).first()[0] == 3.0  # compaction kept every row
    props = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES delta.`{path}`").collect()}
    assert props["delta.logRetentionDuration"] == "interval 30 days"
    assert props["delta.deletedFileRetentionDuration"] == "interval 10 days"
    # VACUUM ran after the property was set: it kept files for the configured 10 days.
    vacuum = table.history().where("operation = 'VACUUM START'").first()
    assert int(vacuum.operationParameters["defaultRetentionMillis"]) == 10 * 24 * 3600 * 1000


@pytest.mark.slow
def test_the_golden_run_writes_its_tables_with_the_constraints(spark, golden_run):
    # The real outputs pass every constraint (the run committed them) and carry them for the next writes.
    _, out_root = golden_run

    def props(table: str) -> dict[str, str]:
        rows = spark.sql(f"SHOW TBLPROPERTIES delta.`{out_root / table}`").collect()
        return {r.key: r.value for r in rows}

    assert {"delta.constraints.forecasts_q05_le_q50", "delta.constraints.forecasts_q50_le_q95"} <= set(
        props("forecasts")
    )
    assert "delta.constraints.replenishment_order_qty_nonnegative" in props("replenishment")
    assert props("runs")["delta.autoOptimize.autoCompact"] == "true"  # no small file per run left unchecked
    nullable = {
        f.name: f.nullable for f in spark.read.format("delta").load(str(out_root / "forecasts")).schema
    }
    assert (nullable["item_id"], nullable["region_id"], nullable["date"], nullable["yhat"]) == (
        False,
        False,
        False,
        True,
    )
