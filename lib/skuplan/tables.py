"""Where an output table lives: a catalog name (`catalog.schema.table`, as Unity Catalog addresses tables) when
`outputs.schema` is set, else a Delta folder under `outputs.root`. Every reader and writer resolves a table here,
so the two modes differ in this module only.

Names from config are checked by one function, `check_identifier`; paths by `skuplan.config.validate_path`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
from pyspark.sql import types as T

from skuplan.config import Config, check_identifier, validate_path


@dataclass(frozen=True)
class TableRef:
    """One output table: `qualified` (catalog.schema.table, unquoted) in name mode, else `path`."""

    name: str
    path: str | None = None
    qualified: str | None = None

    @property
    def sql(self) -> str:
        """The table as SQL text: `cat`.`sch`.`tbl`, or delta.`/abs/path`."""
        if self.qualified:
            return ".".join(f"`{part}`" for part in self.qualified.split("."))
        return f"delta.`{self.path}`"

    def __str__(self) -> str:
        return self.qualified or self.path or self.name


def table_ref(cfg: Config, name: str) -> TableRef:
    check_identifier(name, "table name", table=True)
    out = cfg.outputs
    if out.schema_:
        parts = [p for p in (out.catalog, out.schema_, name) if p]
        return TableRef(name, qualified=".".join(parts))
    path = validate_path(f"{out.root.rstrip('/')}/{name}", f"outputs.root/{name}")
    # Delta's table builder reads a bare relative path as a table name: make local paths absolute.
    return TableRef(name, path=path if "://" in path else os.path.abspath(path))


def exists(spark: SparkSession, ref: TableRef) -> bool:
    if ref.qualified:
        return spark.catalog.tableExists(ref.qualified)
    return DeltaTable.isDeltaTable(spark, ref.path)


def delta_table(spark: SparkSession, ref: TableRef) -> DeltaTable:
    return DeltaTable.forName(spark, ref.qualified) if ref.qualified else DeltaTable.forPath(spark, ref.path)


def read(spark: SparkSession, ref: TableRef, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.table(ref.qualified) if ref.qualified else reader.load(ref.path)


def save(writer: DataFrameWriter, ref: TableRef) -> None:
    """A Delta write (mode and options set by the caller) to an existing table."""
    if ref.qualified:
        writer.saveAsTable(ref.qualified)
    else:
        writer.save(ref.path)


def create(
    spark: SparkSession,
    ref: TableRef,
    schema: T.StructType,
    partition_by: tuple[str, ...],
    comment: str,
    properties: dict[str, str],
) -> None:
    """Create the Delta table unless it exists, in one commit: columns (with their comments and NOT NULL), partition
    columns, table comment and properties. A name goes through SQL: Delta's table builder takes two-part names
    only, and Unity Catalog names have three."""
    if ref.path:
        builder = DeltaTable.createIfNotExists(spark).location(ref.path).comment(comment).addColumns(schema)
        if partition_by:
            builder = builder.partitionedBy(*partition_by)
        for key, value in properties.items():
            builder = builder.property(key, value)
        builder.execute()
        return
    columns = spark._jvm.org.apache.spark.sql.types.DataType.fromJson(schema.json()).toDDL()
    parts = f" PARTITIONED BY ({', '.join(f'`{c}`' for c in partition_by)})" if partition_by else ""
    props = ", ".join(f"{sql_text(k)} = {sql_text(v)}" for k, v in properties.items())
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {ref.sql} ({columns}) USING DELTA{parts} COMMENT {sql_text(comment)}"
        + (f" TBLPROPERTIES ({props})" if props else "")
    )


def sql_text(value: str) -> str:
    """A SQL string literal (the comments and properties come from the code's contracts, quoted all the same)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
