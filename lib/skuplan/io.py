"""Storage: input readers (parquet / delta / csv) and idempotent Delta writers. The only module doing I/O, with
skuplan.ingest, which it calls to read CSV layouts and Parquet footers as the user meant."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan import table_setup, tables
from skuplan.config import Config, check_identifier
from skuplan.contracts import (
    OPTIONAL_DEFAULTS,
    Contract,
    check_columns,
    column_comments,
    contract_for,
    table_comment,
)
from skuplan.ops_config import MaintenanceConfig
from skuplan.schemas import INPUT_COLUMNS

# Every run_date-partitioned table is also partitioned by scenario: the base run writes "base", a what-if run
# (`skuplan run --scenario NAME`) its name, so both coexist for one run_date.
BASE_SCENARIO = "base"
PARTITION_COLUMNS = ("run_date", "scenario")
SCENARIO_COMMENT = "what-if scenario of the run: base for the nightly plan, else the name given to --scenario"

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
    if cfg.outputs.schema_:  # tables by name: the catalog places them, outputs.root is not used
        return
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
    """The Delta folder of table `name` under outputs.root (path mode; tables.table_ref resolves both modes)."""
    return tables.table_ref(cfg.model_copy(update={"outputs": cfg.outputs.model_copy(update={"schema_": None})}),
                            name).path


def write_partition(df: DataFrame, cfg: Config, name: str, run_date: dt.date, comment: str = "",
                    exact: bool = False, contract: Contract | None = None,
                    scenario: str = BASE_SCENARIO) -> tuple[int, int]:
    """Atomically replace the (run_date, scenario) partition of table `name`; returns (Delta version, rows
    written). Doubles are rounded to CANONICAL_DECIMALS unless `exact` (tables a later stage computes from).

    The frame's columns must be those of the table's contract (a ValueError names the table and the column);
    `contract` replaces it, e.g. a test writing part of a table. replaceWhere makes a rerun of the same run_date
    and scenario replace its rows (no duplicates) in one commit, leaving other run_dates and scenarios untouched.
    Rows are hash-partitioned by key so few files are written.
    """
    ref = tables.table_ref(cfg, name)
    _check_contract(df, name, contract)
    _create_if_absent(df, ref, name, partitioned=True, retention=cfg.maintenance)
    keys = [c for c in ("item_id", "region_id") if c in df.columns] or df.columns[:1]
    out = (df if exact else canonical_precision(df)).drop(*PARTITION_COLUMNS).select(
        "*", F.lit(run_date).cast("date").alias("run_date"), F.lit(scenario).alias("scenario"),
    ).repartition(cfg.outputs.max_files_per_partition, *keys)
    writer = (
        out.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", partition_predicate(run_date, scenario))
    )
    if comment:
        writer = writer.option("userMetadata", comment)
    _save_checked(writer, ref)
    return last_commit(df.sparkSession, ref)


def partition_predicate(run_date: dt.date, scenario: str = BASE_SCENARIO) -> str:
    """The SQL predicate of one run's partition (the scenario name is checked where it enters: CLI and config)."""
    check_identifier(scenario, "--scenario", table=True)
    return f"run_date = DATE'{run_date.isoformat()}' AND scenario = '{scenario}'"


def _check_contract(df: DataFrame, name: str, given: Contract | None) -> None:
    """Before anything is written: a column the frame lacks or one no contract declares would otherwise reach
    Delta (or be missing from it) silently. Column order and types are the frame's: what is written stays so."""
    if given is not None and given.table != name:
        raise ValueError(f"table {name}: the contract given is {given.table}'s")
    c = given or contract_for(name, df.columns)  # a table without a contract raises here, naming it
    # The writer sets the partition columns itself: a frame may carry them or not, whatever its contract lists.
    check_columns(c.subset(n for n in c.names if n not in PARTITION_COLUMNS), df.columns, drop=PARTITION_COLUMNS)


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


def _save_checked(writer, ref: tables.TableRef) -> None:
    """tables.save; a write that breaks a CHECK or NOT NULL constraint raises table_setup.ConstraintViolation
    (table, constraint, expression, offending values) instead of Delta's wrapped error."""
    try:
        tables.save(writer, ref)
    except Exception as exc:
        violation = table_setup.explain_violation(ref.name, exc)
        if violation is None:
            raise
        raise violation from exc


def _create_if_absent(df: DataFrame, ref: tables.TableRef, name: str, partitioned: bool,
                      partition_by: tuple[str, ...] = (), retention=None) -> None:
    """First write of a table: create it with table and column comments (later writes keep them). partitioned:
    the writer adds run_date and scenario as partition columns; else partition_by names columns of the frame."""
    spark = df.sparkSession
    if tables.exists(spark, ref):
        return
    comments = column_comments(name, [*df.columns, *PARTITION_COLUMNS])
    # Key columns are NOT NULL where the contract declares them so (table_setup.nullable); the others are
    # nullable whatever the contract says, as the tables have always been written. Delta checks NOT NULL on the
    # rows written, so a frame whose schema says nullable still writes (tests/test_constraints.py).
    fields = [
        T.StructField(f.name, f.dataType, table_setup.nullable(name, f.name),
                      {"comment": comments[f.name]} if f.name in comments else {})
        for f in df.schema.fields
        if not (partitioned and f.name in PARTITION_COLUMNS)
    ]
    if partitioned:
        fields += [T.StructField("run_date", T.DateType(), True, {"comment": comments["run_date"]}),
                   T.StructField("scenario", T.StringType(), True, {"comment": SCENARIO_COMMENT})]
    # Retention, auto-compaction and the CHECK constraints, in the create commit (retention: config.maintenance).
    properties = table_setup.creation_properties(name, df.columns, retention or MaintenanceConfig())
    tables.create(spark, ref, T.StructType(fields), PARTITION_COLUMNS if partitioned else partition_by,
                  table_comment(name), properties)


def create_table(df: DataFrame, cfg: Config, name: str, partition_by: tuple[str, ...] = ()) -> tables.TableRef:
    """Create table `name` (contract checked, comments set) unless it exists, for a writer with its own write
    mode (the sales history and its state); returns its reference."""
    ref = tables.table_ref(cfg, name)
    check_columns(contract_for(name, df.columns), df.columns)
    _create_if_absent(df, ref, name, partitioned=False, partition_by=partition_by, retention=cfg.maintenance)
    return ref


def last_commit(spark: SparkSession, ref: tables.TableRef) -> tuple[int, int]:
    """Version and rows written of the table's latest write, from the Delta log (no data scan). Auto compaction
    (delta.autoOptimize.autoCompact) may commit an OPTIMIZE right after a write: that is not the write."""
    # Collected, then picked here: filtering and sorting the 5 rows in Spark was one more job per write.
    history = tables.delta_table(spark, ref).history(5).select("version", "operation", "operationMetrics").collect()
    row = max((r for r in history if r["operation"] != "OPTIMIZE"), key=lambda r: r["version"])
    return int(row["version"]), int((row["operationMetrics"] or {}).get("numOutputRows", 0))


def read_table(spark: SparkSession, cfg: Config, name: str, run_date: dt.date | None = None,
               version: int | None = None, scenario: str | None = None) -> DataFrame:
    """Rows of table `name` (a run_date's, a scenario's when given), at a Delta version (latest when None)."""
    df = tables.read(spark, tables.table_ref(cfg, name), version)
    if run_date is not None:
        df = df.where(F.col("run_date") == F.lit(run_date).cast("date"))
    if scenario is not None:
        df = df.where(F.col("scenario") == F.lit(scenario))
    return df


def read_plan(spark: SparkSession, cfg: Config, name: str, run_date: dt.date,
              scenario: str = BASE_SCENARIO) -> DataFrame:
    """Like read_table for one run_date and scenario, but only when that run is complete in the runs manifest:
    raises skuplan.complete_runs.IncompleteRun (run_date, failed run and stage, the fix) when a run failed or
    stopped after rewriting some of its tables. The way for readers (report, notebook) to get a plan, never a mix."""
    # Imported here: complete_runs imports the pipeline, which imports this module.
    from skuplan import complete_runs

    return complete_runs.read_plan(spark, cfg, name, run_date, scenario=scenario)


def append_manifest(spark: SparkSession, cfg: Config, rows: list[dict], schema: T.StructType) -> None:
    """The runs manifest is an audit log: append-only, one row per stage per run."""
    records = [{**r, "table_versions": json.dumps(r.get("table_versions") or {}, sort_keys=True)} for r in rows]
    df = spark.createDataFrame(records, schema)
    ref = tables.table_ref(cfg, "runs")
    _create_if_absent(df, ref, "runs", partitioned=False, retention=cfg.maintenance)
    _save_checked(df.coalesce(1).write.format("delta").mode("append"), ref)
