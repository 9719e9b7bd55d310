"""Spark side of the table contracts (skuplan.contracts): StructTypes and the typed input columns.

Inputs are described column by column so that ingest can read CSV as text, cast each column with
`try_cast`, and send a row whose value does not parse to quarantine instead of failing the run.
"""

from __future__ import annotations

from pyspark.sql import types as T

from skuplan.contracts import INPUTS, KEYS, NAN_MEANS_NULL, OPTIONAL_DEFAULTS, Contract, contract

__all__ = [
    "DAILY_SERIES", "INPUT_COLUMNS", "KEYS", "NAN_MEANS_NULL", "OPTIONAL_DEFAULTS", "QUARANTINE", "RUNS",
    "spark_type", "struct_type",
]  # fmt: skip

_SPARK_TYPES = {
    "string": T.StringType(), "double": T.DoubleType(), "long": T.LongType(), "int": T.IntegerType(),
    "bool": T.BooleanType(), "date": T.DateType(), "timestamp": T.TimestampType(),
    "array<int>": T.ArrayType(T.IntegerType()), "array<double>": T.ArrayType(T.DoubleType()),
    "array<bool>": T.ArrayType(T.BooleanType()),
}  # fmt: skip


def spark_type(type_name: str) -> T.DataType:
    return _SPARK_TYPES[type_name]


def struct_type(c: Contract, *, all_nullable: bool = False) -> T.StructType:
    """The contract as a Spark schema. all_nullable: what the pandas UDF glue declares, because Spark trusts a
    non-null field without checking it and the pure modules may leave any value empty."""
    return T.StructType([T.StructField(col.name, spark_type(col.type), all_nullable or col.nullable)
                         for col in c.columns])  # fmt: skip


# (column, spark type, required) per input table; an optional column absent from the file gets its
# OPTIONAL_DEFAULTS value (KEYS, NAN_MEANS_NULL and OPTIONAL_DEFAULTS are re-exported from skuplan.contracts).
INPUT_COLUMNS: dict[str, list[tuple[str, T.DataType, bool]]] = {
    table: [(col.name, spark_type(col.type), not col.nullable) for col in contract(table).columns] for table in INPUTS
}

QUARANTINE = struct_type(contract("quarantine"))
DAILY_SERIES = struct_type(contract("daily_series"))
RUNS = struct_type(contract("runs"))
