"""Storage: input readers (parquet / delta / csv) and idempotent Delta writers. The only module doing I/O, with
skuplan.ingest, which it calls to read CSV layouts and Parquet footers as the user meant."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.config import Config, validate_path
from skuplan.contracts import (
    OPTIONAL_DEFAULTS,
    Contract,
    check_columns,
    column_comments,
    contract_for,
    table_comment,
)
from skuplan.schemas import INPUT_COLUMNS

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Which source types can be cast to each target type without losing meaning.
_CASTABLE = {
    T.StringType: (T.StringType, T.NumericType, T.BooleanType),
    T.DoubleType: (T.NumericType, T.StringType, T.BooleanType),
    T.DateType: (T.DateType, T.TimestampType, T.TimestampNTZType, T.StringType),
    T.BooleanType: (T.BooleanType, T.NumericType, T.StringType),
}


class InputError(ValueError):
    """A file- or schema-level input problem: the run stops; the message names file, column and fix."""


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _check_exists(table: str, path: str) -> None:
    local = path.removeprefix("file://")
    if not _is_local(path):
        return
    if not os.path.exists(local):
        raise InputError(
            f"input {table}: {local} not found; set inputs.{table}.path (or inputs.root) in conf, "
            "or run `skuplan generate-sample --out <folder>`"
        )
    files = [local] if os.path.isfile(local) else [
        os.path.join(d, f) for d, _, fs in os.walk(local) for f in fs if not f.startswith((".", "_"))
    ]
    if not files or all(os.path.getsize(f) == 0 for f in files):
        raise InputError(f"input {table}: {local} is empty (no data files or only zero-byte files); re-export it")


def read_input(spark: SparkSession, cfg: Config, table: str) -> DataFrame | None:
    """Raw input with the contract's columns, uncast (quality casts and quarantines)."""
    spec = getattr(cfg.inputs, table)
    path = cfg.inputs.location(table)
    if not spec.required and _is_local(path) and not os.path.exists(path.removeprefix("file://")):
        return None
    _check_exists(table, path)
    from skuplan import ingest  # here, not at the top: ingest imports InputError from this module

    try:
        if spec.format == "csv":  # as text, in the configured layout (inputs.<table>.sep, encoding, ...)
            df = ingest.read_csv(spark, path, spec)
        elif spec.format == "parquet":  # timestamps of any unit and zone as the day meant (skuplan.input_formats)
            df = ingest.read_parquet(spark, path, table)
        else:
            df = spark.read.format(spec.format).load(path)
        df.schema  # noqa: B018 - forces the footer/log read so format errors surface here
    except InputError:  # already names the file and the fix
        raise
    except Exception as exc:  # re-raised with the file and the fix; nothing is swallowed
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise InputError(
            f"input {table}: cannot read {path} as {spec.format} ({type(exc).__name__}: {first_line}); "
            f"check inputs.{table}.format and that the files are not corrupt"
        ) from exc
    return conform_columns(df, table, path)


def conform_columns(df: DataFrame, table: str, path: str = "<dataframe>") -> DataFrame:
    """Check required columns and castable types; add absent optional columns with their defaults."""
    present = {f.name.strip().lower(): f for f in df.schema.fields}
    cols: list[Column] = []
    for name, target, required in INPUT_COLUMNS[table]:
        field = present.get(name)
        if field is None:
            if required:
                raise InputError(
                    f"input {table}: column '{name}' missing in {path} (found: {sorted(present)}); "
                    f"add it or rename the matching column to '{name}'"
                )
            default = OPTIONAL_DEFAULTS.get((table, name))
            cols.append(F.lit(default).cast(target).alias(name))
            continue
        allowed = _CASTABLE[type(target)]
        # pandas writes an empty frame's text and date columns as parquet's null type (Spark reads int): a file
        # without rows has no value to misread, and must reach validate's empty-input rule (checked only here).
        if not isinstance(field.dataType, allowed) and not df.isEmpty():
            raise InputError(
                f"input {table}: column '{name}' in {path} has type {field.dataType.simpleString()}, "
                f"expected {target.simpleString()} (or text that parses as one); fix the export"
            )
        cols.append(F.col(f"`{field.name}`").alias(name))
    return df.select(*cols)


def check_output_root(cfg: Config) -> None:
    """Before any stage runs (and in --dry-run): a local outputs.root must be a folder, or creatable and writable.
    Otherwise the first Delta commit fails after validate with a JVM error that names neither key nor path.
    Paths with a scheme (s3a://, abfss://, dbfs:/) are left to the cluster: no cheap check is reliable there."""
    root = cfg.outputs.root
    if re.match(r"^[a-z][a-z0-9+.-]*:", root, re.IGNORECASE) and not root.startswith("file:"):
        return
    local = os.path.abspath(re.sub(r"^file://", "", root))
    existing = local
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)  # the nearest existing folder: where the root would be created
    fix = "point outputs.root (or SKUPLAN__OUTPUTS__ROOT) at a folder, which is created if absent"
    if not os.path.isdir(existing):
        what = "is a file" if existing == local else f"lies under {existing}, which is a file"
        raise InputError(f"outputs.root {root} {what}, not a folder: {fix}, or move the file away")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"outputs.root {root}: {existing} is not writable by this user: {fix} that is writable, "
                         "or change the folder's permissions")


def table_path(cfg: Config, name: str) -> str:
    if not _TABLE_NAME.fullmatch(name):  # fullmatch: "$" alone would let a trailing newline through
        raise ValueError(f"table name {name!r} must match {_TABLE_NAME.pattern}")
    path = validate_path(f"{cfg.outputs.root.rstrip('/')}/{name}", f"outputs.root/{name}")
    # Delta's table builder reads a bare relative path as a table name: make local paths absolute.
    return path if "://" in path else os.path.abspath(path)


def write_partition(df: DataFrame, cfg: Config, name: str, run_date: dt.date, comment: str = "",
                    exact: bool = False, contract: Contract | None = None) -> tuple[int, int]:
    """Atomically replace the run_date partition of table `name`; returns (Delta version, rows written).
    Doubles are rounded to CANONICAL_DECIMALS unless `exact` (tables a later stage computes from).

    The frame's columns must be those of the table's contract (a ValueError names the table and the column);
    `contract` replaces it, e.g. a test writing part of a table. replaceWhere makes a rerun of the same run_date
    replace its rows (no duplicates) in one commit, leaving other run_dates untouched. Rows are hash-partitioned
    by key so few files are written.
    """
    path = table_path(cfg, name)
    _check_contract(df, name, contract)
    _create_if_absent(df, path, name, partitioned=True)
    keys = [c for c in ("item_id", "region_id") if c in df.columns] or df.columns[:1]
    out = (df if exact else canonical_precision(df)).withColumn("run_date", F.lit(run_date).cast("date")).repartition(
        cfg.outputs.max_files_per_partition, *keys
    )
    writer = (
        out.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"run_date = DATE'{run_date.isoformat()}'")
        .partitionBy("run_date")
    )
    if comment:
        writer = writer.option("userMetadata", comment)
    writer.save(path)
    return last_commit(df.sparkSession, path)


def _check_contract(df: DataFrame, name: str, given: Contract | None) -> None:
    """Before anything is written: a column the frame lacks or one no contract declares would otherwise reach
    Delta (or be missing from it) silently. Column order and types are the frame's: what is written stays so."""
    if given is not None and given.table != name:
        raise ValueError(f"table {name}: the contract given is {given.table}'s")
    c = given or contract_for(name, df.columns)  # a table without a contract raises here, naming it
    # The writer sets run_date itself (the partition): a frame may carry it or not, whatever its contract lists.
    check_columns(c.subset(n for n in c.names if n != "run_date"), df.columns, drop=["run_date"])


# Doubles are stored rounded to this many decimals. numpy's SIMD kernels may differ in the last bit
# between processes (buffer alignment), which would make a rerun's output differ from the first run's
# by 1e-16; a canonical precision far below any planning unit makes reruns byte-identical.
CANONICAL_DECIMALS = 9


def canonical_precision(df: DataFrame) -> DataFrame:
    return df.select(
        *[
            F.round(F.col(f.name), CANONICAL_DECIMALS).alias(f.name) if isinstance(f.dataType, T.DoubleType) else F.col(f.name)
            for f in df.schema.fields
        ]
    )


def _create_if_absent(df: DataFrame, path: str, name: str, partitioned: bool) -> None:
    """First write of a table: create it with table and column comments (later writes keep them)."""
    spark = df.sparkSession
    if DeltaTable.isDeltaTable(spark, path):
        return
    comments = column_comments(name, [*df.columns, "run_date"])
    # Every column is created nullable, whatever the contract declares: the tables have always been written so,
    # and tightening a column would make Delta reject the next write of an older frame.
    fields = [
        T.StructField(f.name, f.dataType, True, {"comment": comments[f.name]} if f.name in comments else {})
        for f in df.schema.fields
        if not (partitioned and f.name == "run_date")
    ]
    builder = DeltaTable.createIfNotExists(spark).location(path).comment(table_comment(name))
    builder = builder.addColumns(T.StructType(fields))
    if partitioned:
        comment = comments["run_date"]
        builder = builder.addColumn("run_date", "DATE", comment=comment).partitionedBy("run_date")
    builder.execute()


def last_commit(spark: SparkSession, path: str) -> tuple[int, int]:
    """Version and rows written of the table's latest commit, from the Delta log (no data scan)."""
    row = DeltaTable.forPath(spark, path).history(1).select("version", "operationMetrics").first()
    return int(row["version"]), int((row["operationMetrics"] or {}).get("numOutputRows", 0))


def read_table(spark: SparkSession, cfg: Config, name: str, run_date: dt.date | None = None,
               version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    df = reader.load(table_path(cfg, name))
    if run_date is not None:
        df = df.where(F.col("run_date") == F.lit(run_date).cast("date"))
    return df


def read_plan(spark: SparkSession, cfg: Config, name: str, run_date: dt.date) -> DataFrame:
    """Like read_table for one run_date, but only when that run_date is complete in the runs manifest: raises
    skuplan.complete_runs.IncompleteRun (run_date, failed run and stage, the fix) when a run failed or stopped
    after rewriting some of its tables. The way for readers (report, notebook) to get a plan, never a mix."""
    # Imported here: complete_runs imports the pipeline, which imports this module.
    from skuplan import complete_runs

    return complete_runs.read_plan(spark, cfg, name, run_date)


def append_manifest(spark: SparkSession, cfg: Config, rows: list[dict], schema: T.StructType) -> None:
    """The runs manifest is an audit log: append-only, one row per stage per run."""
    records = [{**r, "table_versions": json.dumps(r.get("table_versions") or {}, sort_keys=True)} for r in rows]
    df = spark.createDataFrame(records, schema)
    path = table_path(cfg, "runs")
    _create_if_absent(df, path, "runs", partitioned=False)
    df.coalesce(1).write.format("delta").mode("append").save(path)
