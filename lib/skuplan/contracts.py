"""Table contracts: every column of every table skuplan reads or writes (name, type, nullable, comment).

The single source of the table shapes, without Spark: the Spark StructTypes (skuplan.schemas), the Arrow schemas
the pandas UDFs return, the Delta table and column comments (skuplan.io) and the pure modules' column lists all
derive from here. `conform` / `to_arrow` turn a pandas frame into exactly a contract's columns and raise, naming
the table and the column, when one is missing or unexpected. The declarations themselves are in
skuplan.contract_tables.

`nullable` is the declared meaning. Delta stores every output column as nullable and the pandas UDF glue declares
its outputs all-nullable to Spark (see skuplan.schemas.struct_type); for inputs, non-nullable means required in
the file (a null value is quarantined) and nullable means optional (OPTIONAL_DEFAULTS fills it when absent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from skuplan.contract_tables import (
    FEATURE_COLUMNS,
    FRAME_CONTRACTS,
    INPUT_CONTRACTS,
    METRIC_COLUMNS,
    OUTPUT_CONTRACTS,
    RUN_DATE_COMMENT,
    STAGED_CONTRACTS,
    STAGED_INPUTS,
    TableSpec,
)

__all__ = [
    "FEATURE_COLUMNS", "FRAMES", "INPUTS", "KEYS", "METRIC_COLUMNS", "NAN_MEANS_NULL", "OPTIONAL_DEFAULTS",
    "OUTPUTS", "STAGED", "STAGED_INPUTS", "TYPES", "Column", "Contract", "arrow_schema", "check_columns",
    "column_comments", "conform", "contract", "contract_for", "pandas_dtype", "quantile_column", "quantile_levels",
    "table_comment", "to_arrow", "union",
]  # fmt: skip

TYPES = ("string", "double", "long", "int", "bool", "date", "timestamp",
         "array<int>", "array<double>", "array<bool>")  # fmt: skip
_ARROW = {
    "string": pa.string(), "double": pa.float64(), "long": pa.int64(), "int": pa.int32(), "bool": pa.bool_(),
    "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"), "array<int>": pa.list_(pa.int32()),
    "array<double>": pa.list_(pa.float64()), "array<bool>": pa.list_(pa.bool_()),
}  # fmt: skip
# What the pure modules hold in a frame before conversion ("string" = Python str in an object column; a date is a
# midnight timestamp).
_PANDAS = {
    "string": "string", "double": "float64", "long": "int64", "int": "int32", "bool": "bool",
    "date": "datetime64[ns]", "timestamp": "datetime64[ns]", "array<int>": "object", "array<double>": "object",
    "array<bool>": "object",
}  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    comment: str = ""

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {TYPES}")


@dataclass(frozen=True)
class Contract:
    """The columns of one table or frame, in order. partitioned: the writer adds run_date (Delta partition)."""

    table: str
    columns: tuple[Column, ...]
    comment: str = ""
    partitioned: bool = True

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise ValueError(f"table {self.table}: no column {name!r} in its contract (columns: {self.names})")

    def subset(self, names: Iterable[str]) -> Contract:
        """The named columns only, in the order given (e.g. a test writing part of a table)."""
        return Contract(self.table, tuple(self.column(n) for n in names), self.comment, self.partitioned)


def _build(spec: TableSpec) -> Contract:
    return Contract(spec.table, tuple(Column(*c) for c in spec.columns), spec.comment, spec.partitioned)


# Every Delta table skuplan writes: the plan's outputs, the runs manifest and the staged tables.
_WRITTEN: dict[str, TableSpec] = {**OUTPUT_CONTRACTS, **STAGED_CONTRACTS}
OUTPUTS: tuple[str, ...] = tuple(_WRITTEN)
STAGED: tuple[str, ...] = tuple(STAGED_CONTRACTS)
INPUTS: tuple[str, ...] = tuple(INPUT_CONTRACTS)
FRAMES: tuple[str, ...] = tuple(FRAME_CONTRACTS)
_STATIC = {name: _build(spec) for name, spec in {**INPUT_CONTRACTS, **_WRITTEN, **FRAME_CONTRACTS}.items()}
_QUANTILE_TABLES = {"forecasts"}


def contract(table: str, *, quantiles: Sequence[float] | None = None) -> Contract:
    """The contract of an output table, an input table or an intermediate frame.

    forecasts has one double column per forecast quantile (quantile_column names them), so it needs the
    configured `quantiles`; no other table takes them.
    """
    if table in _QUANTILE_TABLES:
        if quantiles is None:
            raise ValueError(f"table {table}: its quantile columns depend on forecast.quantiles; pass quantiles=")
        return _with_quantiles(_STATIC[table], quantiles)
    if quantiles is not None:
        raise ValueError(f"table {table}: has no quantile columns; quantiles= applies to forecasts only")
    if table not in _STATIC:
        raise ValueError(f"no contract for table {table!r}; known: {sorted([*_STATIC, *_QUANTILE_TABLES])}")
    return _STATIC[table]


def contract_for(table: str, columns: Iterable[str]) -> Contract:
    """The contract a frame with these columns is written against: forecasts takes its quantile levels from the
    frame's quantile columns (the writer does not know the run's forecast config)."""
    return contract(table, quantiles=quantile_levels(columns) if table in _QUANTILE_TABLES else None)


def _with_quantiles(base: Contract, quantiles: Sequence[float]) -> Contract:
    """The quantile columns go right after yhat."""
    cols = list(base.columns)
    at = base.names.index("yhat") + 1
    q_cols = [Column(quantile_column(q), "double", True, f"forecast quantile {q:g} of units for the day")
              for q in quantiles]  # fmt: skip
    return Contract(base.table, tuple(cols[:at] + q_cols + cols[at:]), base.comment, base.partitioned)


def union(table: str, contracts: Iterable[Contract]) -> Contract:
    """One frame holding the rows of several (a stacked UDF result): every column once, all nullable."""
    cols: dict[str, Column] = {}
    for c in contracts:
        for col in c.columns:
            seen = cols.setdefault(col.name, Column(col.name, col.type, True, col.comment))
            if seen.type != col.type:
                raise ValueError(f"table {table}: column {col.name!r} is {seen.type} in one part, {col.type} in "
                                 f"{c.table}")  # fmt: skip
    return Contract(table, tuple(cols.values()), partitioned=False)


def quantile_column(q: float) -> str:
    """0.05 -> "q05", 0.5 -> "q50", 0.95 -> "q95", 0.975 -> "q97_5" (percent, "_" for the decimal point)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q}")
    pct = round(q * 100, 6)
    whole = int(pct)
    frac = f"{pct - whole:.6f}"[2:].rstrip("0")
    return f"q{whole:02d}" + (f"_{frac}" if frac else "")


_QUANTILE_NAME = re.compile(r"q(\d{2,})(?:_(\d+))?")


def quantile_levels(columns: Iterable[str]) -> list[float]:
    """The quantiles whose columns (quantile_column names) are among `columns`, in column order."""
    levels = []
    for name in columns:
        m = _QUANTILE_NAME.fullmatch(name)
        if m:
            q = float(f"{m.group(1)}.{m.group(2) or 0}") / 100
            if 0.0 < q < 1.0 and quantile_column(q) == name:
                levels.append(q)
    return levels


def table_comment(table: str) -> str:
    """The Delta table comment; the table name itself for a table without a contract."""
    spec = _WRITTEN.get(table)
    return spec.comment if spec else table


def column_comments(table: str, columns: Iterable[str]) -> dict[str, str]:
    """Delta column comments of an output table, for the given columns that its contract declares."""
    columns = list(columns)
    if table not in _WRITTEN:  # the writer refuses such a table; only the partition column would be described
        return {"run_date": RUN_DATE_COMMENT} if "run_date" in columns else {}
    known = {c.name: c.comment for c in contract_for(table, columns).columns}
    known.setdefault("run_date", RUN_DATE_COMMENT)
    return {c: known[c] for c in columns if known.get(c)}


def pandas_dtype(column: Column) -> str:
    return _PANDAS[column.type]


def arrow_schema(c: Contract, *, all_nullable: bool = False) -> pa.Schema:
    return pa.schema([pa.field(col.name, _ARROW[col.type], all_nullable or col.nullable) for col in c.columns])


def check_columns(c: Contract, columns: Iterable[str], *, drop: Iterable[str] = ()) -> None:
    """Raise ValueError naming the table and the column if `columns` lack one of the contract's or hold one it
    does not declare. drop: columns the caller knowingly leaves out (they may be present or not)."""
    present, wanted, dropped = list(columns), set(c.names), set(drop)
    missing = [n for n in c.names if n not in present]
    unexpected = [n for n in present if n not in wanted and n not in dropped]
    if missing:
        raise ValueError(f"table {c.table}: column {missing[0]!r} missing (all missing: {missing})")
    if unexpected:
        raise ValueError(f"table {c.table}: unexpected column {unexpected[0]!r} (all unexpected: {unexpected}); "
                         "add it to the contract in skuplan.contract_tables or drop it explicitly")  # fmt: skip


def conform(frame: pd.DataFrame, c: Contract, *, drop: Iterable[str] = ()) -> pd.DataFrame:
    """Exactly the contract's columns, in order, converted for Arrow: doubles numeric with +-inf as NaN (Delta and
    Arrow friendly), dates as datetime.date, ints and longs as nullable integers; strings, bools and lists as they
    are.

    A frame with no columns and no rows is the empty result (what a batch without series returns)."""
    if frame.shape == (0, 0):
        frame = pd.DataFrame({n: pd.Series(dtype=object) for n in c.names})
    check_columns(c, frame.columns, drop=drop)
    out = frame[c.names].copy()
    for col in c.columns:
        out[col.name] = _convert(out[col.name], col, c.table)
    return out


def _convert(values: pd.Series, col: Column, table: str) -> pd.Series:
    try:
        if col.type == "double":
            return pd.to_numeric(values).astype(float).replace([np.inf, -np.inf], np.nan)
        if col.type == "date":
            return pd.to_datetime(values).dt.date
        if col.type in ("int", "long"):
            return pd.to_numeric(values).astype("Int32" if col.type == "int" else "Int64")
        if col.type == "timestamp":
            return pd.to_datetime(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"table {table}: column {col.name!r} does not convert to {col.type} ({exc})") from exc
    return values


def to_arrow(frame: pd.DataFrame, c: Contract, *, drop: Iterable[str] = (), all_nullable: bool = False) -> pa.Table:
    return pa.Table.from_pandas(conform(frame, c, drop=drop), schema=arrow_schema(c, all_nullable=all_nullable),
                                preserve_index=False)  # fmt: skip


# Input rules that are not column types. Values used when an optional column is absent from the file:
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
    "plans": ["item_id", "region_id", "date"],
}
