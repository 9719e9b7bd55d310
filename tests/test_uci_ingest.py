"""Real messy input: UCI Online Retail invoice lines through validation.

Data: UCI Machine Learning Repository, "Online Retail" (Chen, Sain & Guo, 2012), CC BY 4.0, read from
../shared/data/uci_online_retail/. Invoice lines are mapped to the sales contract (StockCode -> item_id,
Country -> region_id, InvoiceNo -> channel so that lines of different invoices are distinct rows).
The expected counts are computed independently with pandas from the same file.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from skuplan.config import QualityConfig
from skuplan.io import conform_columns
from skuplan.quality import validate_table

UCI = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci_online_retail" / "online_retail.parquet"
PRODUCT_CODE = r"^\d{5}[A-Za-z]*$"  # gift products; POST, DOT, M, BANK CHARGES, ... are not
RUN_DATE = dt.date(2011, 12, 10)
# The first three months (~120k lines) hold every kind of problem and keep the test quick.
LAST_DAY = dt.datetime(2011, 3, 1)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not UCI.exists(), reason=f"UCI Online Retail not found at {UCI}"),
]


@pytest.fixture(scope="module")
def expected():
    df = pd.read_parquet(UCI)
    df = df[df["InvoiceDate"] < LAST_DAY]
    df["day"] = df["InvoiceDate"].dt.date
    negative = df["Quantity"] < 0
    product = df["StockCode"].str.match(PRODUCT_CODE)
    valid = df[~negative & product]
    keys = ["StockCode", "Country", "day", "InvoiceNo"]
    variants = valid.groupby(keys)[["Quantity", "UnitPrice"]].transform(lambda s: s.nunique())
    conflicting = (variants["Quantity"] > 1) | (variants["UnitPrice"] > 1)
    exact_extra = valid[~conflicting].duplicated(keys, keep="first")
    return {
        "rows": len(df),
        "NEGATIVE_UNITS": int(negative.sum()),
        # negative prices ("Adjust bad debt" lines) are caught by their own rule first
        "NEGATIVE_PRICE": int((~negative & (df["UnitPrice"] < 0)).sum()),
        "UNKNOWN_ITEM": int((~negative & (df["UnitPrice"] >= 0) & ~product).sum()),
        "CONFLICTING_DUPLICATE": int(conflicting.sum()),
        "EXACT_DUPLICATE": int(exact_extra.sum()),
    }


@pytest.fixture(scope="module")
def validated(spark):
    raw = spark.read.parquet(str(UCI)).where(F.col("InvoiceDate") < F.lit(LAST_DAY))
    sales = conform_columns(
        raw.select(
            F.col("StockCode").alias("item_id"),
            F.col("Country").alias("region_id"),
            F.col("InvoiceDate").alias("date"),
            F.col("Quantity").alias("units"),
            F.col("InvoiceNo").alias("channel"),
            F.col("UnitPrice").alias("price"),
        ),
        "sales",
        str(UCI),
    )
    items = raw.select(F.col("StockCode").alias("item_id")).where(F.col("item_id").rlike(PRODUCT_CODE)).distinct()
    # The shop is in the UK: timestamps are London wall-clock times.
    result = validate_table(sales, "sales", RUN_DATE, QualityConfig(business_timezone="UTC"), items)
    marked = result.marked.persist()
    counts = {r["reason_code"]: r["count"] for r in marked.groupBy("reason_code").count().collect()}
    return result, counts


def test_every_line_accounted_for(validated, expected):
    _, counts = validated
    assert sum(counts.values()) == expected["rows"]


@pytest.mark.parametrize("code", ["NEGATIVE_UNITS", "NEGATIVE_PRICE", "UNKNOWN_ITEM", "CONFLICTING_DUPLICATE", "EXACT_DUPLICATE"])
def test_reason_counts_match_independent_pandas_count(validated, expected, code):
    _, counts = validated
    assert counts.get(code, 0) == expected[code]
    if code != "NEGATIVE_PRICE":  # the bad-debt lines with negative prices come later in the year
        assert expected[code] > 0  # the real file does contain each kind


def test_quarantine_payload_has_no_customer_identifiers(validated):
    result, _ = validated
    payload = json.loads(result.quarantine.first().payload)
    assert set(payload) == {"item_id", "region_id", "date", "units", "channel", "price", "promo", "stockout"}
    assert "CustomerID" not in result.quarantine.first().payload
