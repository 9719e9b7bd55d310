"""Validation: each bad row kind lands in quarantine with its code; rows in = accepted + quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import types as T

from skuplan.config import QualityConfig
from skuplan.io import InputError, conform_columns
from skuplan.quality import validate_table

RUN_DATE = dt.date(2024, 2, 1)
TEXT = T.StructType([T.StructField(c, T.StringType()) for c in ("item_id", "region_id", "date", "units", "channel")])


@pytest.fixture(scope="module")
def items_df(spark):
    return spark.createDataFrame([("A",), ("B",)], "item_id string")


def _sales(spark, rows):
    return conform_columns(spark.createDataFrame(rows, TEXT), "sales")


def _codes(result):
    return sorted((str(json.loads(r.payload)["units"]), r.reason_code) for r in result.quarantine.collect())


def test_each_bad_row_gets_its_reason(spark, items_df):
    rows = [
        ("A", "R1", "2024-01-01", "5", "web"),  # good
        ("A", "R1", "2024-01-02", "3", "web"),  # good
        (None, "R1", "2024-01-01", "1", "web"),  # null key
        ("A", "  ", "2024-01-01", "2", "web"),  # empty key after trim
        ("A", "R1", "2024-13-45", "3", "web"),  # unparseable date
        ("A", "R1", "2024-01-03", "n/a", "web"),  # non-numeric units
        ("A", "R1", "2024-01-04", "NaN", "web"),  # NaN units
        ("A", "R1", "2024-01-05", "-4", "web"),  # return
        ("A", "R1", "2024-02-01", "6", "web"),  # on the run date: not history
        ("Z", "R1", "2024-01-01", "7", "web"),  # unknown item
        ("B", "R1", "2024-01-01", "8", "web"),  # exact duplicate pair: one kept
        ("B", "R1", "2024-01-01", "8", "web"),
        ("B", "R2", "2024-01-01", "9", "web"),  # conflicting pair: both out
        ("B", "R2", "2024-01-01", "10", "web"),
    ]
    result = validate_table(_sales(spark, rows), "sales", RUN_DATE, QualityConfig(), known_items_df=items_df)
    assert _codes(result) == sorted(
        [
            ("1", "NULL_KEY"),
            ("2", "NULL_KEY"),
            ("3", "BAD_DATE"),
            ("n/a", "BAD_UNITS"),
            ("NaN", "BAD_UNITS"),
            ("-4", "NEGATIVE_UNITS"),
            ("6", "DATE_AFTER_RUN_DATE"),
            ("7", "UNKNOWN_ITEM"),
            # duplicates parsed cleanly: their payload shows the parsed values
            ("8.0", "EXACT_DUPLICATE"),
            ("9.0", "CONFLICTING_DUPLICATE"),
            ("10.0", "CONFLICTING_DUPLICATE"),
        ]
    )
    accepted = sorted((r.item_id, r.region_id, str(r.date), r.units) for r in result.accepted.collect())
    assert accepted == [("A", "R1", "2024-01-01", 5.0), ("A", "R1", "2024-01-02", 3.0), ("B", "R1", "2024-01-01", 8.0)]
    assert result.accepted.count() + result.quarantine.count() == len(rows)


def test_returns_can_be_netted(spark, items_df):
    rows = [("A", "R1", "2024-01-05", "-4", "web"), ("A", "R1", "2024-01-05", "10", "store")]
    result = validate_table(_sales(spark, rows), "sales", RUN_DATE, QualityConfig(returns="net"), items_df)
    assert sorted(r.units for r in result.accepted.collect()) == [-4.0, 10.0]
    assert result.quarantine.count() == 0


def test_ids_are_trimmed(spark, items_df):
    result = validate_table(_sales(spark, [(" A ", "R1 ", "2024-01-05", "1", "web")]), "sales", RUN_DATE,
                            QualityConfig(), items_df)
    assert [(r.item_id, r.region_id) for r in result.accepted.collect()] == [("A", "R1")]


def test_item_master_rules(spark):
    cols = "item_id string, unit_cost double, holding_rate double, order_cost double, lead_time_days double, " \
           "lead_time_std_days double, service_level double"
    rows = [
        ("A", 2.0, 0.2, 50.0, 7.0, 1.0, 0.95),
        ("B", 2.0, 0.2, 50.0, 7.0, 1.0, 1.0),  # service level must be < 1
        ("C", 2.0, 0.2, 50.0, -1.0, 1.0, 0.95),  # negative lead time
    ]
    df = conform_columns(spark.createDataFrame(rows, cols), "items")
    result = validate_table(df, "items", RUN_DATE, QualityConfig())
    got = sorted((json.loads(r.payload)["item_id"], r.reason_code) for r in result.quarantine.collect())
    assert got == [("B", "BAD_SERVICE_LEVEL"), ("C", "NEGATIVE_LEAD_TIME")]
    assert [r.item_id for r in result.accepted.collect()] == ["A"]


def test_missing_required_column_names_column_and_fix(spark):
    df = spark.createDataFrame([("A", "R1", "2024-01-01")], "item_id string, region_id string, date string")
    with pytest.raises(InputError, match="column 'units' missing.*rename"):
        conform_columns(df, "sales", "sales.csv")


def test_wrong_type_names_column(spark):
    df = spark.createDataFrame([("A", "R1", dt.date(2024, 1, 1), dt.date(2024, 1, 1))],
                               "item_id string, region_id string, date date, units date")
    with pytest.raises(InputError, match="column 'units'.*type date, expected double"):
        conform_columns(df, "sales", "sales.parquet")
