"""Table contracts: strict conform, the schemas derived from them, and the Delta comments they give."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from skuplan.contracts import (
    FRAMES,
    INPUTS,
    OUTPUTS,
    STAGED,
    STAGED_INPUTS,
    Column,
    Contract,
    arrow_schema,
    check_columns,
    column_comments,
    conform,
    contract,
    quantile_column,
    quantile_levels,
    table_comment,
    to_arrow,
    union,
)
from skuplan.schemas import DAILY_SERIES, QUARANTINE, RUNS, spark_type, struct_type

QUANTILES = (0.05, 0.5, 0.95)
GOLDEN_SCHEMAS = Path(__file__).parent / "golden" / "schemas.json"


def _contract(table: str):
    return contract(table, quantiles=QUANTILES) if table == "forecasts" else contract(table)


def _alerts_frame(**extra) -> pd.DataFrame:
    base = {"item_id": ["A"], "region_id": ["R1"], "alert_type": ["overstock"], "severity": ["low"],
            "value": [3.0], "threshold": [1.0], "message": [""]}  # fmt: skip
    return pd.DataFrame({**base, **extra})


def test_missing_column_is_an_error_naming_table_and_column():
    frame = _alerts_frame().drop(columns="threshold")
    with pytest.raises(ValueError, match=r"table alerts: column 'threshold' missing"):
        conform(frame, contract("alerts"))


def test_unexpected_column_is_an_error_naming_table_and_column():
    with pytest.raises(ValueError, match=r"table alerts: unexpected column 'score'"):
        conform(_alerts_frame(score=[1.0]), contract("alerts"))
    # Named on purpose, it is dropped; the order is the contract's.
    out = conform(_alerts_frame(score=[1.0])[["score", *contract("alerts").names[::-1]]], contract("alerts"),
                  drop=["score"])  # fmt: skip
    assert list(out.columns) == contract("alerts").names


def test_a_string_in_a_double_column_is_an_error_not_nan():
    with pytest.raises(ValueError, match=r"table alerts: column 'value' does not convert to double"):
        conform(_alerts_frame(value=["high"]), contract("alerts"))


def test_inf_becomes_nan_and_types_follow_the_contract():
    frame = pd.DataFrame({
        "item_id": ["A", "B"], "region_id": ["R1", "R1"], "on_hand": [5, 0], "inventory_value": [1.0, 0.0],
        "days_of_supply": [np.inf, -np.inf], "turnover": [np.nan, 2.0], "policy_turnover": [1.0, 1.0],
        "projected_fill_rate": [0.9, 0.9], "projected_csl": [0.8, 0.8],
    })  # fmt: skip
    out = conform(frame, contract("kpis"))
    assert out["days_of_supply"].isna().all() and out["on_hand"].dtype == float
    table = to_arrow(frame, contract("kpis"), all_nullable=True)
    assert table.column("days_of_supply").null_count == 2
    seg = conform(pd.DataFrame({c: [] for c in contract("segments").names}).assign(cluster=pd.Series([], dtype=float)),
                  contract("segments"))  # fmt: skip
    assert str(seg["cluster"].dtype) == "Int32"


def test_an_empty_result_gets_the_contract_columns():
    table = to_arrow(pd.DataFrame(), contract("replenishment"), all_nullable=True)
    assert table.num_rows == 0 and table.column_names == contract("replenishment").names
    assert table.schema.field("expected_arrival_date").type == pa.date32()


def test_quantile_columns_follow_the_config():
    c = contract("forecasts", quantiles=(0.1, 0.5, 0.975))
    assert c.names == ["item_id", "region_id", "date", "yhat", "q10", "q50", "q97_5", "model"]
    assert quantile_levels(c.names) == [0.1, 0.5, 0.975]
    assert [quantile_column(q) for q in quantile_levels(["q05", "q95", "qx", "q5"])] == ["q05", "q95"]
    with pytest.raises(ValueError, match="forecasts"):
        contract("forecasts")
    with pytest.raises(ValueError, match="kpis"):
        contract("kpis", quantiles=QUANTILES)
    with pytest.raises(ValueError, match="no contract"):
        contract("nope")


def test_union_rejects_a_column_typed_two_ways():
    both = union("x", [contract("alerts"), contract("kpis")])
    assert both.names[:7] == contract("alerts").names and all(col.nullable for col in both.columns)
    text_date = Contract("y", (Column("date", "string"),))
    with pytest.raises(ValueError, match="table x: column 'date' is date in one part, string in y"):
        union("x", [contract("data_flags"), text_date])


def test_check_columns_reports_every_missing_column():
    with pytest.raises(ValueError, match=r"all missing: \['dc_id', 'units'"):
        check_columns(contract("allocation"), ["item_id", "region_id"])


def test_spark_schemas_are_the_ones_written_before_the_contracts():
    S, D, L = T.StringType(), T.DoubleType(), T.LongType()
    allocation = [("item_id", S, False), ("dc_id", S, True), ("region_id", S, False), ("units", D, False),
                  ("unit_cost", D, True), ("shortage_units", D, False), ("lp_status", S, False),
                  ("message", S, True)]  # fmt: skip
    quarantine = [("source", S, False), ("payload", S, True), ("reason_code", S, False), ("reason", S, False),
                  ("run_date", T.DateType(), False)]  # fmt: skip
    runs = [("run_id", S, False), ("run_date", T.DateType(), False), ("config_hash", S, False), ("stage", S, False),
            ("rows_in", L, True), ("rows_out", L, True), ("rows_quarantined", L, True), ("seconds", D, False),
            ("status", S, False), ("detail", S, True), ("table_versions", S, True),
            ("finished_at", T.TimestampType(), False), ("scenario", S, True)]  # fmt: skip
    metrics = [("item_id", S), ("region_id", S), ("model", S), ("fold", L), *[(m, D) for m in
               ("wape", "mase", "rmsse", "bias", "pinball", "coverage")], ("selected", T.BooleanType())]  # fmt: skip

    def struct(fields):
        return T.StructType([T.StructField(*f) for f in fields])

    assert struct_type(contract("allocation")) == struct(allocation)
    assert struct(quarantine) == QUARANTINE
    assert struct(runs) == RUNS
    assert struct_type(contract("forecast_metrics"), all_nullable=True) == struct([(*f, True) for f in metrics])
    assert DAILY_SERIES.fieldNames() == ["item_id", "region_id", "date", "units", "promo", "price", "stockout"]


@pytest.mark.skipif(not GOLDEN_SCHEMAS.exists(), reason="no golden schemas")
def test_output_contracts_match_the_delta_tables_written_before_the_contracts():
    """Every output table as Delta stores it: contract columns (+ the run_date and scenario partition columns),
    NOT NULL exactly on the key columns the contract declares non-nullable (table_setup.nullable)."""
    from skuplan.io import PARTITION_COLUMNS
    from skuplan.table_setup import nullable

    golden = json.loads(GOLDEN_SCHEMAS.read_text())
    assert set(golden) <= set(OUTPUTS)
    for table, want in golden.items():
        c = _contract(table)
        names = c.names + [p for p in PARTITION_COLUMNS if c.partitioned and p not in c.names]
        types = {"run_date": "date", "scenario": "string",
                 **{col.name: spark_type(col.type).simpleString() for col in c.columns}}  # fmt: skip
        assert [[n, types[n], nullable(table, n)] for n in names] == want, table


def test_arrow_schemas_agree_with_spark_for_every_contract():
    for table in (*OUTPUTS, *FRAMES, *INPUTS):
        c = _contract(table)
        for all_nullable in (False, True):
            spark_side = to_arrow_schema(struct_type(c, all_nullable=all_nullable), timezone="UTC")
            assert to_arrow(pd.DataFrame(), c, all_nullable=all_nullable).schema == spark_side, table


def test_every_output_column_has_a_comment():
    for table in OUTPUTS:
        c = _contract(table)
        assert table_comment(table) != table
        assert set(column_comments(table, [*c.names, "run_date"])) == {*c.names, "run_date"}, table
    assert column_comments("not_a_table", ["item_id"]) == {} and table_comment("not_a_table") == "not_a_table"


def test_delta_comments_land_on_the_table(spark, tmp_path, repo_root):
    from skuplan.config import load_config
    from skuplan.io import write_partition

    cfg = load_config(repo_root / "conf", environ={}, overrides={"outputs": {"root": str(tmp_path)}})
    rows = [("A", "R1", dt.date(2026, 1, 1), 1.0, 0.5, 2.0, "sba")]
    c = contract("forecasts", quantiles=(0.1, 0.9))
    write_partition(spark.createDataFrame(rows, struct_type(c, all_nullable=True)), cfg, "forecasts", dt.date(2026, 1, 1))
    desc = {r.col_name: r.comment for r in spark.sql(f"DESCRIBE TABLE delta.`{tmp_path / 'forecasts'}`").collect()}
    assert desc["q10"] == "forecast quantile 0.1 of units for the day"
    assert desc["model"] == c.column("model").comment and desc["run_date"].startswith("planning date")
    schema = spark.read.format("delta").load(str(tmp_path / "forecasts")).schema
    # NOT NULL on the keys the contract declares non-nullable (table_setup.KEY_COLUMNS), nullable everywhere else.
    assert {f.name for f in schema.fields if not f.nullable} == {"item_id", "region_id", "date"}


def test_data_flags_frame_matches_its_contract(spark):
    from skuplan.quality import outlier_flags

    days = [dt.date(2026, 1, d) for d in range(1, 8)]
    rows = [("A", "R1", d, 100.0 if d.day == 7 else 1.0, 0.0, None, False) for d in days]
    flags = outlier_flags(spark.createDataFrame(rows, DAILY_SERIES), factor=5.0)
    c = contract("data_flags")
    assert [(f.name, f.dataType) for f in flags.schema.fields] == [(f.name, f.dataType) for f in struct_type(c)]
    assert flags.count() == 1


def test_every_table_the_pipeline_writes_has_a_contract():
    from skuplan import incremental
    from skuplan.pipeline import STAGED_TABLES, STAGES

    # validate also merges the sales history and its watermark itself (skuplan.incremental.commit), and prepare
    # records which lists the next night starts from (incremental.record_prepared).
    incremental_tables = {incremental.HISTORY, incremental.STATE, incremental.PREPARED}
    written = [table for stage in STAGES for table in stage.writes] + sorted(incremental_tables)
    assert set(written) <= set(OUTPUTS), set(written) - set(OUTPUTS)
    for table in written:
        assert _contract(table).names, table
    assert set(STAGED) == STAGED_TABLES | incremental_tables


def test_staged_inputs_have_their_inputs_columns():
    """Derived, not copied: an input column added to its contract is a staged column too."""
    assert set(STAGED_INPUTS) == set(INPUTS) - {"sales"}
    for table, staged in STAGED_INPUTS.items():
        assert contract(staged).columns == contract(table).columns, staged
        assert table_comment(staged).startswith(contract(table).comment)


def test_list_columns_map_to_spark_and_arrow_lists():
    c = contract("series_arrays")
    assert struct_type(c)["day"].dataType == T.ArrayType(T.IntegerType())
    assert struct_type(c)["stockout"].dataType == T.ArrayType(T.BooleanType())
    assert arrow_schema(c).field("units").type == pa.list_(pa.float64())
    lists = pd.DataFrame({"item_id": ["A"], "region_id": ["R1"], "first_day": [20000], "day": [[20000, 20002]],
                          "units": [[1.0, 2.0]], "promo": [[0.0, 0.0]], "price": [[None, 3.5]],
                          "stockout": [[False, True]], "category": ["c"]})  # fmt: skip
    assert to_arrow(lists, c).column("price").to_pylist() == [[None, 3.5]]
    with pytest.raises(ValueError, match="array<float>"):
        Column("x", "array<float>")


def test_a_write_with_a_missing_or_an_extra_column_is_refused(spark, tmp_path, repo_root):
    from pyspark.sql import functions as F

    from skuplan.config import load_config
    from skuplan.io import write_partition

    cfg = load_config(repo_root / "conf", environ={}, overrides={"outputs": {"root": str(tmp_path)}})
    day = dt.date(2026, 1, 1)
    c = contract("alerts")
    alerts = spark.createDataFrame([("A", "R1", "overstock", "low", 3.0, 1.0, "")], struct_type(c, all_nullable=True))
    with pytest.raises(ValueError, match=r"table alerts: column 'threshold' missing"):
        write_partition(alerts.drop("threshold"), cfg, "alerts", day)
    with pytest.raises(ValueError, match=r"table alerts: unexpected column 'score'"):
        write_partition(alerts.withColumn("score", F.lit(1.0)), cfg, "alerts", day)
    with pytest.raises(ValueError, match=r"no contract for table 'alerts_v2'"):
        write_partition(alerts, cfg, "alerts_v2", day)
    with pytest.raises(ValueError, match=r"table kpis: the contract given is alerts'"):
        write_partition(alerts, cfg, "kpis", day, contract=c)
    # forecasts: the quantile levels are the frame's q-columns, the other columns the contract's.
    fc = spark.createDataFrame([("A", "R1", day, 1.0, 0.5, 2.0)], "item_id string, region_id string, date date, "
                               "yhat double, q10 double, q90 double")  # fmt: skip
    with pytest.raises(ValueError, match=r"table forecasts: column 'model' missing"):
        write_partition(fc, cfg, "forecasts", day)
    assert not any(tmp_path.iterdir())  # refused before any table was created
    # The contract's columns pass in the frame's order (what is written keeps it), run_date or not.
    write_partition(alerts.select(*c.names[::-1]).withColumn("run_date", F.lit(day)), cfg, "alerts", day)
    written = spark.read.format("delta").load(str(tmp_path / "alerts")).columns
    assert written == [*c.names[::-1], "run_date", "scenario"]  # the writer adds the partition columns


def test_contracts_and_the_pure_modules_import_no_spark():
    code = ("import sys, skuplan.contracts, skuplan.inventory, skuplan.allocation, skuplan.forecast.frames; "
            "sys.exit(any(m.split('.')[0] == 'pyspark' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
