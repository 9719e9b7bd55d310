"""Bad-input corpus: each kind of bad input has one asserted outcome.

File- or schema-level problems stop the run with an InputError naming the file, the column and the fix;
row-level problems become quarantine rows with a reason code, and rows in = accepted + quarantined.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import types as T

from skuplan.config import ConfigError, QualityConfig, load_config
from skuplan.io import InputError, conform_columns, read_input
from skuplan.quality import outlier_flags, quarantined_items, validate_table

RUN_DATE = dt.date(2024, 3, 1)
SALES_TEXT = T.StructType([T.StructField(c, T.StringType()) for c in ("item_id", "region_id", "date", "units")])
GOOD = ("A", "R1", "2024-01-10", "5")


@pytest.fixture(scope="module")
def items_df(spark):
    return spark.createDataFrame([("A",), ("B",)], "item_id string")


def _one_sales_row(spark, items_df, row, cfg=None):
    """Validate GOOD plus `row`; return (reason codes of quarantined rows, accepted rows)."""
    raw = conform_columns(spark.createDataFrame([GOOD, row], SALES_TEXT), "sales")
    result = validate_table(raw, "sales", RUN_DATE, cfg or QualityConfig(), known_items_df=items_df)
    codes = [r.reason_code for r in result.quarantine.collect()]
    accepted = result.accepted.collect()
    assert len(codes) + len(accepted) == 2  # nothing lost, nothing doubled
    return codes, accepted


ROW_CASES = [
    ("null item", (None, "R1", "2024-01-11", "1"), "NULL_KEY"),
    ("empty region", ("A", "", "2024-01-11", "1"), "NULL_KEY"),
    ("blank region", ("A", "   ", "2024-01-11", "1"), "NULL_KEY"),
    ("zero-width id", ("A\u200b", "R1", "2024-01-11", "1"), "BAD_ID_CHARS"),
    ("no-break space id", ("A\u00a0B", "R1", "2024-01-11", "1"), "BAD_ID_CHARS"),
    ("NaN units", ("A", "R1", "2024-01-11", "NaN"), "BAD_UNITS"),
    ("infinite units", ("A", "R1", "2024-01-11", "Infinity"), "BAD_UNITS"),
    ("non-numeric units", ("A", "R1", "2024-01-11", "12 pcs"), "BAD_UNITS"),
    ("missing units", ("A", "R1", "2024-01-11", None), "MISSING_UNITS"),
    ("negative units", ("A", "R1", "2024-01-11", "-2"), "NEGATIVE_UNITS"),
    ("unparseable date", ("A", "R1", "2024-13-45", "1"), "BAD_DATE"),
    ("mixed-format date", ("A", "R1", "01/11/2024", "1"), "BAD_DATE"),
    ("compact date", ("A", "R1", "20240111", "1"), "BAD_DATE"),
    ("decimal comma, inputs.sales.decimal unset", ("A", "R1", "2024-01-11", "1,5"), "BAD_UNITS"),
    ("undecodable bytes in an id (wrong encoding)", ("Caf\ufffd", "R1", "2024-01-11", "1"), "BAD_ENCODING"),
    ("out-of-range date", ("A", "R1", "1900-01-01", "1"), "DATE_OUT_OF_RANGE"),
    ("date after run date", ("A", "R1", "2024-03-05", "1"), "DATE_AFTER_RUN_DATE"),
    ("date on run date", ("A", "R1", "2024-03-01", "1"), "DATE_AFTER_RUN_DATE"),
    ("unknown item", ("Z9", "R1", "2024-01-11", "1"), "UNKNOWN_ITEM"),
    ("exact duplicate", GOOD, "EXACT_DUPLICATE"),
    ("conflicting duplicate", ("A", "R1", "2024-01-10", "6"), "CONFLICTING_DUPLICATE"),
]


@pytest.mark.parametrize("row,code", [(r, c) for _, r, c in ROW_CASES], ids=[n for n, _, _ in ROW_CASES])
def test_row_level_kinds_are_quarantined(spark, items_df, row, code):
    codes, _ = _one_sales_row(spark, items_df, row)
    if code == "CONFLICTING_DUPLICATE":
        assert codes == [code, code]  # neither version can be trusted
    else:
        assert codes == [code]


# A spreadsheet CSV read with sep ';', decimal ',' and date_format dd/MM/yyyy (skuplan.ingest puts the layout on the
# columns); the good row is 10/01/2024 with 5,5 units.
LAYOUT_CASES = [
    ("thousands dot beside the decimal comma", ("A", "R1", "11/01/2024", "1.234,5"), "BAD_UNITS"),
    ("decimal point under decimal comma", ("A", "R1", "11/01/2024", "1.5"), "BAD_UNITS"),
    ("ISO date under dd/MM/yyyy", ("A", "R1", "2024-01-11", "1"), "BAD_DATE"),
    ("impossible day", ("A", "R1", "30/02/2024", "1"), "BAD_DATE"),
    ("day-first date after the run date", ("A", "R1", "05/03/2024", "1"), "DATE_AFTER_RUN_DATE"),
]


@pytest.mark.parametrize("row,code", [(r, c) for _, r, c in LAYOUT_CASES], ids=[n for n, _, _ in LAYOUT_CASES])
def test_row_level_kinds_under_a_csv_layout(spark, items_df, row, code):
    from pyspark.sql import functions as F

    from skuplan.input_formats import TEXT_DATE_FORMAT, TEXT_DECIMAL

    layout = {TEXT_DECIMAL: ",", TEXT_DATE_FORMAT: "dd/MM/yyyy"}
    raw = spark.createDataFrame([("A", "R1", "10/01/2024", "5,5"), row], SALES_TEXT)
    raw = conform_columns(raw.select(*[F.col(c).alias(c, metadata=layout) for c in raw.columns]), "sales")
    result = validate_table(raw, "sales", RUN_DATE, QualityConfig(), known_items_df=items_df)
    accepted, codes = result.accepted.collect(), [r.reason_code for r in result.quarantine.collect()]
    assert codes == [code] and len(accepted) == 1  # rows in = accepted + quarantined
    assert (accepted[0].date, accepted[0].units) == (dt.date(2024, 1, 10), 5.5)


def test_returns_netted_when_configured(spark, items_df):
    codes, accepted = _one_sales_row(spark, items_df, ("A", "R1", "2024-01-10", "-2"), QualityConfig(returns="net"))
    assert codes == []
    assert sorted(r.units for r in accepted) == [-2.0, 5.0]


def test_padded_ids_are_normalised(spark, items_df):
    codes, accepted = _one_sales_row(spark, items_df, ("  B ", " R1", "2024-01-11", " 3 "))
    assert codes == []
    assert ("B", "R1", 3.0) in [(r.item_id, r.region_id, r.units) for r in accepted]


def test_timezone_shifted_text_keeps_the_written_day(spark, items_df):
    # 23:30 in New York is already the next day in UTC; the sale belongs to the store's day.
    _, accepted = _one_sales_row(spark, items_df, ("B", "R1", "2024-01-05T23:30:00-05:00", "1"))
    assert dt.date(2024, 1, 5) in [r.date for r in accepted if r.item_id == "B"]


def test_timestamp_column_uses_business_timezone(spark, items_df):
    schema = "item_id string, region_id string, date timestamp, units double"
    # 2024-01-05 18:00 UTC is 2024-01-06 02:00 in Shanghai
    df = spark.createDataFrame([("A", "R1", dt.datetime(2024, 1, 5, 18, 0), 1.0)], schema)
    result = validate_table(conform_columns(df, "sales"), "sales", RUN_DATE,
                            QualityConfig(business_timezone="Asia/Shanghai"), items_df)
    assert [r.date for r in result.accepted.collect()] == [dt.date(2024, 1, 6)]


def _items_row(spark, **over):
    base = dict(item_id="A", unit_cost=2.0, holding_rate=0.2, order_cost=50.0, lead_time_days=7.0,
                lead_time_std_days=1.0, service_level=0.95)
    base.update(over)
    cols = ", ".join(f"{k} {'string' if isinstance(v, str) else 'double'}" for k, v in base.items())
    df = conform_columns(spark.createDataFrame([tuple(base.values())], cols), "items")
    return [r.reason_code for r in validate_table(df, "items", RUN_DATE, QualityConfig()).quarantine.collect()]


@pytest.mark.parametrize(
    "over,code",
    [
        ({"lead_time_days": -3.0}, "NEGATIVE_LEAD_TIME"),
        ({"lead_time_std_days": -0.5}, "NEGATIVE_LEAD_TIME"),
        ({"service_level": 1.0}, "BAD_SERVICE_LEVEL"),
        ({"service_level": 0.0}, "BAD_SERVICE_LEVEL"),
        ({"service_level": 95.0}, "BAD_SERVICE_LEVEL"),
        ({"unit_cost": -1.0}, "NEGATIVE_COST"),
        # issue 13: 0 passed validate and the policy then marked the series invalid (#8); order_cost 0 and moq 0
        # are legal (#1: no fixed cost per order; no minimum).
        ({"unit_cost": 0.0}, "ZERO_COST"),
        ({"holding_rate": 0.0}, "ZERO_COST"),
        ({"order_cost": -1.0}, "NEGATIVE_COST"),
        ({"order_cost": 0.0}, None),
        ({"moq": 0.0}, None),
        ({"pack_size": 0.0}, "BAD_PACK"),
        ({"service_type": "service"}, "BAD_SERVICE_TYPE"),
    ],
    ids=["negative lead time", "negative lead time std", "service level 1", "service level 0",
         "service level as percent", "negative cost", "zero unit cost", "zero holding rate", "negative order cost",
         "zero order cost", "zero moq", "zero pack size", "unknown service type"],
)
def test_item_master_kinds(spark, over, code):
    assert _items_row(spark, **over) == ([code] if code else [])


def test_negative_dc_stock_quarantined(spark, items_df):
    df = conform_columns(spark.createDataFrame([("A", "DC1", -5.0), ("A", "DC2", 5.0)],
                                               "item_id string, dc_id string, available double"), "dc_stock")
    result = validate_table(df, "dc_stock", RUN_DATE, QualityConfig(), items_df)
    assert [r.reason_code for r in result.quarantine.collect()] == ["NEGATIVE_STOCK"]


def test_inventory_rows_for_unknown_items_quarantined(spark, items_df):
    df = conform_columns(spark.createDataFrame([("A", "R1", 3.0), ("Q", "R1", 4.0)],
                                               "item_id string, region_id string, on_hand double"), "inventory")
    result = validate_table(df, "inventory", RUN_DATE, QualityConfig(), items_df)
    assert [json.loads(r.payload)["item_id"] for r in result.quarantine.collect()] == ["Q"]
    assert [r.reason_code for r in result.quarantine.collect()] == ["UNKNOWN_ITEM"]


def test_rows_of_a_quarantined_item_blame_its_items_row(spark):
    # issue 13 #10: not "item_id not in the items table", which sent the user looking in the wrong file.
    items = conform_columns(spark.createDataFrame([("A", 0.95), ("B", 95.0)], "item_id string, service_level double")
                            .selectExpr("*", "2.0 as unit_cost", "0.2 as holding_rate", "50.0 as order_cost",
                                        "7.0 as lead_time_days", "1.0 as lead_time_std_days"), "items")
    checked = validate_table(items, "items", RUN_DATE, QualityConfig())
    df = conform_columns(spark.createDataFrame([("A", "DC1", 5.0), ("B", "DC1", 5.0), ("C", "DC1", 5.0)],
                                               "item_id string, dc_id string, available double"), "dc_stock")
    result = validate_table(df, "dc_stock", RUN_DATE, QualityConfig(), checked.accepted,
                            quarantined_items_df=quarantined_items(checked.quarantine))
    got = {json.loads(r.payload)["item_id"]: (r.reason_code, r.reason) for r in result.quarantine.collect()}
    assert {k: code for k, (code, _) in got.items()} == {"B": "ITEM_QUARANTINED", "C": "UNKNOWN_ITEM"}
    assert "(BAD_SERVICE_LEVEL: service_level must be in (0, 1); 95 looks like a percentage: write 0.95)" in got["B"][1]
    assert result.accepted.count() + len(got) == 3


def test_extreme_outlier_flagged_not_dropped(spark):
    rows = [("A", "R1", dt.date(2024, 1, d), 10.0) for d in range(1, 11)] + [("A", "R1", dt.date(2024, 1, 11), 900.0)]
    sales = spark.createDataFrame(rows, "item_id string, region_id string, date date, units double")
    flags = outlier_flags(sales, factor=50.0).collect()
    # median non-zero day = 10, threshold 500: only the 900 is flagged
    assert [(r.date, r.value, r.threshold) for r in flags] == [(dt.date(2024, 1, 11), 900.0, 500.0)]


# ---- file- and schema-level problems: the run stops with a message naming file, column and fix ----


def _cfg(tmp_path, repo_root, fmt="parquet"):
    return load_config(repo_root / "conf", environ={},
                       overrides={"inputs": {"root": str(tmp_path), "sales": {"path": "sales", "format": fmt}}})


def test_missing_file(spark, tmp_path, repo_root):
    with pytest.raises(InputError, match=r"input sales: .*sales not found; set inputs.sales.path"):
        read_input(spark, _cfg(tmp_path, repo_root), "sales")


def test_zero_byte_file(spark, tmp_path, repo_root):
    (tmp_path / "sales").mkdir()
    (tmp_path / "sales" / "part-0.csv").write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        read_input(spark, _cfg(tmp_path, repo_root, "csv"), "sales")


def test_unreadable_format(spark, tmp_path, repo_root):
    (tmp_path / "sales").mkdir()
    (tmp_path / "sales" / "part-0.parquet").write_text("item_id,region_id\nA,R1\n")
    with pytest.raises(InputError, match="cannot read .* as parquet.*check inputs.sales.format"):
        read_input(spark, _cfg(tmp_path, repo_root), "sales")


def test_missing_column_in_csv(spark, tmp_path, repo_root):
    (tmp_path / "sales").mkdir()
    (tmp_path / "sales" / "s.csv").write_text("item_id,region_id,day,units\nA,R1,2024-01-01,3\n")
    with pytest.raises(InputError, match=r"column 'date' missing in .*sales.*found: \['day'"):
        read_input(spark, _cfg(tmp_path, repo_root, "csv"), "sales")


def test_lanes_without_lead_time_column(spark, tmp_path, repo_root):
    # issue 13 #5: the column is required (no safe default), so the run stops at read, before any stage writes.
    (tmp_path / "lanes").mkdir()
    (tmp_path / "lanes" / "l.csv").write_text("dc_id,region_id,unit_cost\nDC1,R1,0.5\n")
    cfg = load_config(repo_root / "conf", environ={},
                      overrides={"inputs": {"root": str(tmp_path), "lanes": {"path": "lanes", "format": "csv"}}})
    with pytest.raises(InputError, match=r"input lanes: column 'lead_time_days' missing in .*lanes.*add it"):
        read_input(spark, cfg, "lanes")


def test_wrong_column_type(spark, tmp_path, repo_root):
    df = spark.createDataFrame([("A", "R1", dt.date(2024, 1, 1), True)], "item_id string, region_id string, date date, units boolean")
    df = df.selectExpr("item_id", "region_id", "date", "array(units) as units")
    df.write.parquet(str(tmp_path / "sales"))
    with pytest.raises(InputError, match="column 'units' .* has type array<boolean>, expected double"):
        read_input(spark, _cfg(tmp_path, repo_root), "sales")


def test_path_traversal_rejected(repo_root):
    with pytest.raises(ConfigError, match=r"inputs.root.*'\.\.'"):
        load_config(repo_root / "conf", environ={}, overrides={"inputs": {"root": "data/../../etc"}})


def test_unknown_config_key_named(repo_root):
    with pytest.raises(ConfigError, match="config key quality.retunrs"):
        load_config(repo_root / "conf", environ={}, overrides={"quality": {"retunrs": "net"}})
