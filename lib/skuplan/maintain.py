"""`skuplan maintain`: keep the Delta tables small and their history bounded, between nightly runs.

Per table that exists: rewrite it if an earlier version partitioned it otherwise (skuplan.table_upgrade), bring
its columns, properties and CHECK constraints up to skuplan.table_setup (tables created before
them), OPTIMIZE (compact the small files a night leaves, the runs manifest's one file per run among them), then
VACUUM with maintenance.file_retention_days. Run it from its own job or task, not during a run: OPTIMIZE commits
concurrently with the run's writes would conflict on the same partitions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from skuplan import table_setup, table_upgrade, tables
from skuplan.config import Config, ConfigError
from skuplan.contracts import OUTPUTS

log = logging.getLogger("skuplan")


@dataclass
class TableMaintenance:
    table: str
    files_before: int
    files_after: int
    properties_set: int  # properties changed on the table (0 when already as configured)
    constraints_added: list[str]
    vacuum_retention_hours: int
    rewritten: bool = False  # repartitioned as this version writes it (an earlier version's layout)


def known_tables() -> tuple[str, ...]:
    """Every table skuplan writes (the contracts' outputs, staged tables and runs manifest)."""
    return OUTPUTS


def maintain(spark: SparkSession, cfg: Config, names: list[str] | None = None) -> list[TableMaintenance]:
    """Maintain the named tables (default: every skuplan table that exists); a name skuplan does not write is a
    ConfigError naming it."""
    unknown = sorted(set(names or ()) - set(known_tables()))
    if unknown:
        raise ConfigError(
            f"--tables: {', '.join(unknown)} not skuplan tables; use some of {', '.join(known_tables())}"
        )
    done = []
    for name in names or known_tables():
        ref = tables.table_ref(cfg, name)
        if tables.exists(spark, ref):
            done.append(_maintain_one(spark, cfg, ref))
    return done


def _file_count(spark: SparkSession, ref: tables.TableRef) -> int:
    return int(tables.delta_table(spark, ref).detail().select("numFiles").first()[0])


def _maintain_one(spark: SparkSession, cfg: Config, ref: tables.TableRef) -> TableMaintenance:
    before = _file_count(spark, ref)
    rewritten = False
    for state in table_upgrade.inspect(spark, cfg, [ref.name]):
        rewritten = table_upgrade.relayout(spark, state)  # adds the missing columns too
        if not rewritten:
            table_upgrade.add_columns(spark, state)
    table = tables.delta_table(spark, ref)
    current = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {ref.sql}").collect()}
    wanted = table_setup.properties(ref.name, cfg.maintenance)
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    if changed:  # one commit for all of them
        listed = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(changed.items()))
        spark.sql(f"ALTER TABLE {ref.sql} SET TBLPROPERTIES ({listed})")
    columns = table.toDF().columns
    added = []
    for check in table_setup.missing_constraints(ref.name, columns, current):
        # Delta checks every existing row first: a table holding an impossible value fails here, naming it.
        try:
            spark.sql(f"ALTER TABLE {ref.sql} ADD CONSTRAINT {check.name} CHECK ({check.expression})")
        except Exception as exc:
            raise RuntimeError(
                f"table {ref.name}: cannot add CHECK constraint {check.name} ({check.expression}): "
                f"existing rows break it ({str(exc).splitlines()[0][:300]}); fix or delete them, "
                "then run skuplan maintain again"
            ) from exc
        added.append(check.name)
    table.optimize().executeCompaction()
    hours = cfg.maintenance.vacuum_retention_hours
    table.vacuum(float(hours))
    after = _file_count(spark, ref)
    log.info(
        "maintained %-18s files %d -> %d, %d properties set, constraints added: %s",
        ref.name,
        before,
        after,
        len(changed),
        ", ".join(added) or "none",
    )
    return TableMaintenance(ref.name, before, after, len(changed), added, hours, rewritten)
