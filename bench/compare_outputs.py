"""Compare the Delta outputs of two runs table by table: are they the same, content and schema?

    .venv/bin/python bench/compare_outputs.py /work/baseline_demo_out output/delta
    .venv/bin/python bench/compare_outputs.py BEFORE_ROOT AFTER_ROOT --run-date 2026-01-01

Every Delta table under either root is compared for one run_date with the rules of the golden test
(tests/golden/outputs.py, tests/test_golden_outputs.py): the set of tables, each schema (names, types,
nullability, order), row counts, strings / integers / dates / booleans exactly, doubles within rtol 1e-6 and
atol 1e-9 (rows matched after a canonical sort), and `runs` (run ids, timestamps) by schema only. Prints one
line per table, "identical" or the first difference, and exits 1 when any table differs (0 otherwise).

Needs only pyspark and the Delta JARs (.cache/jars from `make setup`), not skuplan itself, so it can compare
the outputs of any two versions of the code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from golden.outputs import (  # noqa: E402
    FLOAT_ATOL,
    FLOAT_RTOL,
    RUN_DATE,
    SCHEMA_ONLY,
    compare_rows,
    compare_schema,
    list_tables,
    table_rows,
    table_schema,
)


def delta_session(jars_dir: Path):
    """local[2] with Delta from the cached JARs; the same local settings the tests use."""
    from pyspark.sql import SparkSession

    jars = sorted(glob.glob(str(jars_dir / "*.jar")))
    if not jars:
        raise SystemExit(f"no Delta JARs in {jars_dir}: run `make setup` or pass --jars-dir")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master("local[2]").appName("compare_outputs")
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="compare_outputs_"))
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )


def compare_one(spark, table: str, before: Path, after: Path, run_date: dt.date) -> str:
    """'identical', 'identical within ...' or the first difference (before is the expected side)."""
    problem = compare_schema(table, table_schema(spark, after, table), table_schema(spark, before, table))
    if problem:
        return problem
    if table in SCHEMA_ONLY:
        return "identical (schema only: run ids, timestamps and seconds differ by nature)"
    columns, want = table_rows(spark, before, table, run_date)
    got_columns, got = table_rows(spark, after, table, run_date)
    if got_columns != columns:
        return f"table {table}: columns {got_columns}, expected {columns}"
    if got == want:
        return f"identical ({len(got)} rows)"
    types = {name: kind for name, kind, _ in table_schema(spark, before, table)}
    problem = compare_rows(table, columns, [types[c] for c in columns], got, want)
    return problem or f"identical ({len(got)} rows; doubles within rtol={FLOAT_RTOL}, atol={FLOAT_ATOL})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="outputs root of the reference run (expected)")
    parser.add_argument("after", type=Path, help="outputs root of the run to check")
    parser.add_argument("--run-date", type=dt.date.fromisoformat, default=RUN_DATE,
                        help=f"run_date partition to compare (default {RUN_DATE})")
    parser.add_argument("--jars-dir", type=Path, default=REPO / ".cache" / "jars", help="Delta JARs folder")
    args = parser.parse_args(argv)

    spark = delta_session(args.jars_dir)
    spark.sparkContext.setLogLevel("ERROR")
    tables_before, tables_after = set(list_tables(args.before)), set(list_tables(args.after))
    if not tables_before and not tables_after:
        print(f"no Delta tables under {args.before} or {args.after}", file=sys.stderr)
        return 1
    differ = 0
    try:
        for table in sorted(tables_before | tables_after):
            if table not in tables_after:
                line = f"missing in {args.after}"
            elif table not in tables_before:
                line = f"not in {args.before} (new table)"
            else:
                line = compare_one(spark, table, args.before, args.after, args.run_date)
            ok = line.startswith("identical")
            differ += not ok
            print(f"{table:<18} {line}", flush=True)
    finally:
        spark.stop()
    print(f"{len(tables_before | tables_after) - differ} identical, {differ} different "
          f"(run_date {args.run_date}, {args.before} vs {args.after})")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
