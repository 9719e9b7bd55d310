"""Tables written by an earlier skuplan, brought up to this version's contracts before a run writes anything.
The batch run checks its tables, the stream job its own (skuplan.stream.tables.ensure_tables).

A new version may add columns to a table (policy_backtest's replay_run_date) or, once so far, a partition column
(scenario). Delta refuses a write whose columns the table lacks. So a run over the output folder of an earlier
version failed at its first commit, after validate had merged the night's sales into the history: `make demo` on
an output/ of an earlier version. The checks run before the first stage:
- a column the table lacks is added (ALTER TABLE ADD COLUMNS, with its comment; rows already written read null);
- a table partitioned otherwise, or holding a column of another type, stops the run before anything is written.
  The error names the table and the fix. For a missing partition column with a value known for the old rows,
  the fix is `skuplan maintain`, which rewrites the table in one commit (scenario = base: before what-if runs
  every row was the base plan).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from skuplan import tables
from skuplan.config import Config, ConfigError
from skuplan.contracts import OUTPUTS, Column, column_comments, contract
from skuplan.io import BASE_SCENARIO, PARTITION_COLUMNS, SCENARIO_COMMENT
from skuplan.schemas import spark_type
from skuplan.stream.tables import STREAM_TABLES

log = logging.getLogger("skuplan")

# The stream job's tables are its own (skuplan.stream.tables): it checks them itself, the batch run the others.
BATCH_TABLES = tuple(name for name in OUTPUTS if name not in STREAM_TABLES)
# Partitioning of the tables created outside io.write_partition (skuplan.incremental).
OTHER_PARTITIONING = {"sales_history": ("scenario",)}
# The value an old row gets for a partition column added since: what every row written before it meant.
ADDED_PARTITION_VALUES = {"scenario": (BASE_SCENARIO, SCENARIO_COMMENT)}


class TableLayoutError(ConfigError):
    """An existing table this version cannot write into as it is."""


@dataclass
class TableState:
    ref: tables.TableRef
    missing: list[Column]  # contract columns the table lacks (not partition columns)
    wrong_type: list[str]  # "column: table type, contract type"
    partitions: tuple[str, ...]  # the table's
    wanted_partitions: tuple[str, ...]  # this version's

    @property
    def relayout(self) -> bool:
        return self.partitions != self.wanted_partitions


def wanted_columns(name: str, cfg: Config) -> tuple[list[Column], tuple[str, ...]]:
    """(columns, partition columns) this version writes to table `name` (forecasts: the configured quantiles)."""
    c = contract(name, quantiles=cfg.forecast.quantiles if name == "forecasts" else None)
    parts = PARTITION_COLUMNS if c.partitioned else OTHER_PARTITIONING.get(name, ())
    return [col for col in c.columns if col.name not in parts], tuple(parts)


def inspect(spark: SparkSession, cfg: Config, names=BATCH_TABLES) -> list[TableState]:
    """What differs, per existing table of `names`, between the table and this version's contract."""
    out = []
    for name in names:
        ref = tables.table_ref(cfg, name)
        if not tables.exists(spark, ref):
            continue
        columns, parts = wanted_columns(name, cfg)
        # by type name: an array's containsNull is not part of the contract
        have = {f.name: f.dataType.simpleString() for f in tables.read(spark, ref).schema.fields}
        # DESCRIBE DETAIL costs ~0.5 s a table (4 s the first): asked only when a partition column is not even a
        # column, which is how every earlier layout looks (skuplan always created a column's table partitioned by it)
        found_parts = parts if set(parts) <= set(have) else _partition_columns(spark, ref)
        missing = [c for c in columns if c.name not in have]
        wrong = [f"{c.name}: {have[c.name]} in the table, {spark_type(c.type).simpleString()} written"
                 for c in columns if c.name in have and have[c.name] != spark_type(c.type).simpleString()]  # fmt: skip
        out.append(TableState(ref, missing, wrong, found_parts, parts))
    return out


def _partition_columns(spark: SparkSession, ref: tables.TableRef) -> tuple[str, ...]:
    return tuple(tables.delta_table(spark, ref).detail().select("partitionColumns").first()[0])


def prepare_tables(spark: SparkSession, cfg: Config, names=BATCH_TABLES) -> list[str]:
    """Before a run's first stage (the stream job: before its first batch, names=STREAM_TABLES): stop on a table
    this version cannot write (TableLayoutError, nothing changed), else add the columns existing tables lack.
    Returns "table.column" per column added."""
    states = inspect(spark, cfg, names)
    problems = problem_text(states)
    if problems:
        raise TableLayoutError(problems)
    added = []
    for s in states:
        add_columns(spark, s)
        added += [f"{s.ref.name}.{c.name}" for c in s.missing]
    return added


def problem_text(states: list[TableState]) -> str:
    """What stops a run, "" if nothing: the tables `skuplan maintain` can rewrite in one sentence, each other one in
    its own."""
    fixable = [s.ref.name for s in states if s.relayout and not s.wrong_type and _fixable(s)]
    parts = [_problem(s) for s in states if (s.relayout or s.wrong_type) and s.ref.name not in fixable]
    if fixable:
        first = next(s for s in states if s.ref.name == fixable[0])
        parts.insert(0, f"{len(fixable)} table(s) under {_location(first)} are partitioned by "
                        f"({', '.join(first.partitions) or 'nothing'}) as an earlier skuplan wrote them ({', '.join(fixable)}); "
                        f"this version partitions them by ({', '.join(first.wanted_partitions)}): run `skuplan maintain` "
                        "once, which rewrites each in one commit, or set outputs.root to a new folder")  # fmt: skip
    return "; ".join(parts)


def _location(s: TableState) -> str:
    """Where the table's folder or schema is, for a message."""
    return str(s.ref).rsplit("/", 1)[0] if s.ref.path else str(s.ref).rsplit(".", 1)[0]


def _fixable(s: TableState) -> bool:
    """Only partition columns added since, with a value known for the old rows."""
    wanted, found = set(s.wanted_partitions), set(s.partitions)
    return wanted - found <= set(ADDED_PARTITION_VALUES) and found <= wanted


def describe(states: list[TableState]) -> tuple[str, list[str]]:
    """(what stops a run, the columns a run would add) for `skuplan run --dry-run`."""
    return problem_text(states), [f"{s.ref.name}.{c.name}" for s in states for c in s.missing]


def _problem(s: TableState) -> str:
    where = f"table {s.ref.name} ({s.ref})"
    if s.wrong_type:
        return (f"{where} has {'; '.join(s.wrong_type)}: this version cannot write it; move the table away or set "
                "outputs.root to a new folder")  # fmt: skip
    fix = (f"run `skuplan maintain --tables {s.ref.name}` once: it rewrites the table partitioned by "
           f"({', '.join(s.wanted_partitions)}) in one commit" if _fixable(s)
           else "move the table away or set outputs.root to a new folder")  # fmt: skip
    return (f"{where} is partitioned by ({', '.join(s.partitions) or 'nothing'}), this version writes it "
            f"partitioned by ({', '.join(s.wanted_partitions)}): {fix}")  # fmt: skip


def add_columns(spark: SparkSession, s: TableState) -> None:
    """The contract columns the table lacks, in one commit, nullable, with their comments."""
    if not s.missing:
        return
    comments = column_comments(s.ref.name, [c.name for c in s.missing])
    listed = ", ".join(f"`{c.name}` {spark_type(c.type).simpleString()} COMMENT {tables.sql_text(comments.get(c.name, ''))}"
                       for c in s.missing)  # fmt: skip
    spark.sql(f"ALTER TABLE {s.ref.sql} ADD COLUMNS ({listed})")
    log.info("table %s: added column(s) %s (written by an earlier skuplan; existing rows read null)",
             s.ref.name, ", ".join(c.name for c in s.missing))  # fmt: skip


def relayout(spark: SparkSession, s: TableState) -> bool:
    """`skuplan maintain`: rewrite a table partitioned as an earlier version did (one overwrite commit; its history
    stays readable by version), old rows getting ADDED_PARTITION_VALUES. False when nothing was to do; a
    TableLayoutError when the old rows' value of a new partition column is unknown."""
    if not s.relayout:
        return False
    new = [c for c in s.wanted_partitions if c not in s.partitions]
    if not _fixable(s):
        raise TableLayoutError(_problem(s))
    add_columns(spark, s)
    df = tables.read(spark, s.ref)
    for name in new:
        value, comment = ADDED_PARTITION_VALUES[name]
        df = df.withColumn(name, F.lit(value).alias(name, metadata={"comment": comment}))
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    tables.save(writer.partitionBy(*s.wanted_partitions), s.ref)
    log.info("table %s: rewritten partitioned by (%s), old rows %s", s.ref.name, ", ".join(s.wanted_partitions),
             ", ".join(f"{c} = {ADDED_PARTITION_VALUES[c][0]}" for c in new))  # fmt: skip
    return True
