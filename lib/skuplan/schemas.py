"""Table contracts: the typed columns of every input, and the schemas of the tables skuplan writes.

Inputs are described column by column so that ingest can read CSV as text, cast each column with
`try_cast`, and send a row whose value does not parse to quarantine instead of failing the run.
"""

from __future__ import annotations

from pyspark.sql import types as T

# (column, spark type, required). Optional columns are filled with a default when absent.
INPUT_COLUMNS: dict[str, list[tuple[str, T.DataType, bool]]] = {
    "sales": [
        ("item_id", T.StringType(), True),
        ("region_id", T.StringType(), True),
        ("date", T.DateType(), True),
        ("units", T.DoubleType(), True),
        ("channel", T.StringType(), False),
        ("price", T.DoubleType(), False),
        ("promo", T.DoubleType(), False),
        # 1 = the shelf was empty that day: the sales are censored, not low demand.
        ("stockout", T.BooleanType(), False),
    ],
    "items": [
        ("item_id", T.StringType(), True),
        ("category", T.StringType(), False),
        ("unit_cost", T.DoubleType(), True),
        ("holding_rate", T.DoubleType(), True),
        ("order_cost", T.DoubleType(), True),
        ("lead_time_days", T.DoubleType(), True),
        ("lead_time_std_days", T.DoubleType(), True),
        ("service_level", T.DoubleType(), True),
        ("service_type", T.StringType(), False),
        ("moq", T.DoubleType(), False),
        ("pack_size", T.DoubleType(), False),
    ],
    "inventory": [
        ("item_id", T.StringType(), True),
        ("region_id", T.StringType(), True),
        ("as_of_date", T.DateType(), False),
        ("on_hand", T.DoubleType(), True),
        ("on_order", T.DoubleType(), False),
        ("backorders", T.DoubleType(), False),
    ],
    "dc_stock": [
        ("item_id", T.StringType(), True),
        ("dc_id", T.StringType(), True),
        ("available", T.DoubleType(), True),
    ],
    "lanes": [
        ("dc_id", T.StringType(), True),
        ("region_id", T.StringType(), True),
        ("unit_cost", T.DoubleType(), True),
        ("lead_time_days", T.DoubleType(), False),
        ("capacity", T.DoubleType(), False),
    ],
    "events": [
        ("date", T.DateType(), True),
        ("event_name", T.StringType(), True),
        ("region_id", T.StringType(), False),
        ("uplift_hint", T.DoubleType(), False),
    ],
}

# Values used when an optional column is absent from the file.
OPTIONAL_DEFAULTS = {
    ("sales", "channel"): "all",
    ("sales", "promo"): 0.0,
    ("sales", "stockout"): False,
    ("items", "category"): "uncategorized",
    ("items", "service_type"): "csl",
    ("items", "moq"): 1.0,
    ("items", "pack_size"): 1.0,
    ("inventory", "on_order"): 0.0,
    ("inventory", "backorders"): 0.0,
}

# Optional numbers where NaN in the file means "not given" (e.g. NaN lane capacity = unbounded).
NAN_MEANS_NULL = {("sales", "price"), ("lanes", "capacity"), ("events", "uplift_hint")}

# Natural keys: duplicates on these are quarantined.
KEYS = {
    "sales": ["item_id", "region_id", "date", "channel"],
    "items": ["item_id"],
    "inventory": ["item_id", "region_id"],
    "dc_stock": ["item_id", "dc_id"],
    "lanes": ["dc_id", "region_id"],
    "events": ["date", "event_name", "region_id"],
}


def input_schema(table: str) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, not required) for name, dtype, required in INPUT_COLUMNS[table]])


QUARANTINE = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("payload", T.StringType(), True),
        T.StructField("reason_code", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("run_date", T.DateType(), False),
    ]
)

DAILY_SERIES = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("region_id", T.StringType(), False),
        T.StructField("date", T.DateType(), False),
        T.StructField("units", T.DoubleType(), False),
        T.StructField("promo", T.DoubleType(), False),
        T.StructField("price", T.DoubleType(), True),
        T.StructField("stockout", T.BooleanType(), False),
    ]
)

RUNS = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("run_date", T.DateType(), False),
        T.StructField("config_hash", T.StringType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("rows_in", T.LongType(), True),
        T.StructField("rows_out", T.LongType(), True),
        T.StructField("rows_quarantined", T.LongType(), True),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("detail", T.StringType(), True),
        T.StructField("table_versions", T.StringType(), True),
        T.StructField("finished_at", T.TimestampType(), False),
    ]
)

_PANDAS_TO_SPARK = {
    "str": T.StringType(),
    "string": T.StringType(),
    "float": T.DoubleType(),
    "float64": T.DoubleType(),
    "int": T.LongType(),
    "int64": T.LongType(),
    "int32": T.IntegerType(),
    "bool": T.BooleanType(),
    "datetime64[ns]": T.DateType(),
    "date": T.DateType(),
}


def struct_from_columns(columns: list[tuple[str, str]]) -> T.StructType:
    """Spark schema from a pure module's (column, pandas dtype) contract."""
    fields = []
    for name, dtype in columns:
        if dtype not in _PANDAS_TO_SPARK:
            raise ValueError(f"column {name!r}: dtype {dtype!r} has no Spark mapping; use one of {sorted(_PANDAS_TO_SPARK)}")
        fields.append(T.StructField(name, _PANDAS_TO_SPARK[dtype], True))
    return T.StructType(fields)

# Table and column comments stored in the Delta metadata when a table is first created, so that a
# catalogue browser or `DESCRIBE TABLE` explains the outputs without this repository at hand.
TABLE_COMMENTS = {
    "quarantine": "Input rows rejected by validation, one per row, with the rule that rejected it",
    "data_flags": "Sales flagged (not dropped) as extreme outliers against the series' median day",
    "forecasts": "Daily forecast per item x region for the horizon after the run date, with quantiles",
    "forecast_status": "One row per series: chosen model, ok/fallback/failed and why",
    "forecast_metrics": "Rolling-origin backtest metrics per series, model and fold",
    "inventory_policy": "Safety stock, reorder point, order-up-to and lot size per item x region",
    "replenishment": "Order recommendation per item x region from today's inventory position",
    "alerts": "Exceptions on today's inventory against the policy",
    "kpis": "Inventory KPIs per item x region: value, days of supply, turnover, projected service",
    "segments": "ABC x XYZ segments and k-means clusters with their features",
    "policy_backtest": "Replay of held-out demand through the policy: achieved service and cost per series",
    "allocation": "DC stock allocated to regions by linear programming, with shortages and solver status",
    "runs": "Run manifest: one row per stage per run, with row counts, seconds and Delta versions",
}
COLUMN_COMMENTS = {
    "item_id": "item (SKU) key",
    "region_id": "region key",
    "dc_id": "distribution centre key (null on a shortage row)",
    "date": "calendar day",
    "run_date": "planning date of the run that wrote the row; history ends the day before",
    "yhat": "point forecast of units for the day",
    "model": "forecast model that produced the row",
    "status": "ok, fallback or failed",
    "message": "why (empty when nothing to say)",
    "reason_code": "machine-readable rejection rule",
    "reason": "human-readable rejection reason",
    "payload": "the rejected input row as JSON (contract columns only)",
    "units": "units",
    "shortage_units": "requirement that no DC could cover",
    "lp_status": "solver outcome for the item's LP block (optimal, no_lane, infeasible, time_limit, ...)",
    "safety_stock": "units held against demand and lead-time uncertainty",
    "reorder_point": "order when the inventory position is at or below this",
    "order_up_to": "order-up-to level S",
    "order_qty": "units to order today (0 = no order, see reason)",
    "alert_type": "kind of exception",
    "severity": "low, medium or high",
    "err_sigma_1d": "forecast-error profile: sigma_1 of sigma(h) = sigma_1 * h^err_sum_exponent, the RMSE of the "
    "chosen model's backtest errors summed over h days (null: no backtest)",
    "err_sum_exponent": "forecast-error profile exponent gamma: 0.5 = independent days, 1 = level error shared by "
    "every day of the interval",
    "sigma_source": "where the plan's sigma came from: forecast_error_profile, forecast_error, demand or poisson",
}
