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


def builder_at(builder, ref: TableRef):
    """A DeltaTableBuilder pointed at the table: a catalog name, or a location."""
    return builder.tableName(ref.qualified) if ref.qualified else builder.location(ref.path)
