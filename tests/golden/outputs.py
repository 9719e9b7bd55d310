"""Golden outputs of the whole pipeline: the run, the dump and the comparison rules, shared by
tests/golden/make_golden.py (writes the golden files), tests/test_golden_outputs.py (checks the current code
against them) and bench/compare_outputs.py (compares two output roots).

The golden run: the seeded sample (SAMPLE_SPEC), the default config from conf/ with only the input/output roots
and one file per partition overridden, run_date RUN_DATE. Every Delta table under outputs.root is dumped:

- ``<table>.csv``: the run_date partition, columns in table order without run_date, a header row, rows sorted by
  all columns as strings (``canonical_text``: floats with repr, dates ISO, null as ``\\N``);
- ``schemas.json``: ``{table: [[name, simpleString type, nullable], ...]}`` from the Delta table schema (run_date
  included); ``runs`` (the manifest: run ids, timestamps, seconds) is stored as a schema only;
- ``inputs.json``: row count and content hash of each sample input table, so that a failure can tell a changed
  sample generator from a changed pipeline.

Comparison rules: the set of tables, each schema (names, types, nullability, order) and each row count exactly;
strings, integers, dates and booleans exactly; doubles with FLOAT_RTOL / FLOAT_ATOL (why: see below).

No pyspark import at module level: the helpers that need Spark receive a session.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import decimal
import hashlib
import importlib
import json
import math
import pkgutil
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent
RUN_DATE = dt.date(2026, 1, 1)

# The sample the golden files were made from. Every SampleSpec field is pinned (not only the four that differ
# from the defaults), so a change of a default in the generator cannot silently change the golden run's inputs.
SAMPLE_SPEC = {
    "n_items": 5,
    "n_regions": 2,
    "n_dcs": 2,
    "start": dt.date(2024, 1, 1),
    "end": dt.date(2025, 12, 31),
    "seed": 7,
    "sales_format": "parquet",
    "dirty_rows": True,
}
REQUIRED_SPEC_FIELDS = ("n_items", "n_regions", "n_dcs", "start")
INPUT_TABLES = ("sales", "items", "inventory", "dc_stock", "lanes", "events")

# Schema only: tables whose content is not reproducible (runs: run ids, wall-clock timestamps, seconds) or has no
# run_date partition to select (the incremental sales history and its watermark; tests/test_incremental.py
# checks their content).
SCHEMA_ONLY = frozenset({"runs", "sales_history", "history_state", "prepare_state"})
PARTITION_COLUMN = "run_date"

# Doubles are compared with a tolerance, not exactly. The outputs are already rounded to 9 decimals when written
# (skuplan.io.CANONICAL_DECIMALS), which makes reruns on one machine byte-identical, but the golden files may be
# produced on another CPU (or another numpy / BLAS / SIMD code path): a last-bit difference before the rounding
# can still flip the 9th decimal, and an iterative solver (statsforecast's optimisers, HiGHS) can take a
# different path and agree only to ~1e-7 relative. rtol 1e-6 absorbs that; atol 1e-9 is one unit of the stored
# rounding, for values that should be zero. Any real change of behaviour moves values by far more.
FLOAT_RTOL = 1e-6
FLOAT_ATOL = 1e-9

NULL = "\\N"  # null in the CSV files (an empty field would be ambiguous with the empty string)
FLOAT_TYPES = frozenset({"double", "float"})
SCHEMAS_FILE = "schemas.json"
INPUTS_FILE = "inputs.json"


# --------------------------------------------------------------------------------------------- the golden run


def _sample_api():
    """SampleSpec and generate_sample, wherever skuplan.sample keeps them (a module now; maybe a package later
    with the same public names re-exported, or only in one of its submodules)."""
    module = importlib.import_module("skuplan.sample")
    if hasattr(module, "SampleSpec") and hasattr(module, "generate_sample"):
        return module.SampleSpec, module.generate_sample
    found = {}
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix="skuplan.sample."):
        sub = importlib.import_module(info.name)
        for name in ("SampleSpec", "generate_sample"):
            if name not in found and hasattr(sub, name):
                found[name] = getattr(sub, name)
    missing = {"SampleSpec", "generate_sample"} - set(found)
    if missing:
        raise ImportError(f"skuplan.sample provides no {sorted(missing)} (looked in the package and its submodules)")
    return found["SampleSpec"], found["generate_sample"]


def sample_spec():
    spec_cls, _ = _sample_api()
    names = {f.name for f in dataclasses.fields(spec_cls)}
    missing = [f for f in REQUIRED_SPEC_FIELDS if f not in names]
    if missing:
        raise AssertionError(f"SampleSpec has no field(s) {missing}; the golden sample cannot be described")
    return spec_cls(**{k: v for k, v in SAMPLE_SPEC.items() if k in names})


def generate_inputs(in_root: Path) -> None:
    _, generate = _sample_api()
    generate(in_root, sample_spec())


def golden_config(in_root: Path, out_root: Path, repo: Path = REPO):
    from skuplan.config import load_config

    return load_config(
        repo / "conf",
        overrides={
            "inputs": {"root": str(in_root)},
            "outputs": {"root": str(out_root), "max_files_per_partition": 1},
        },
        environ={},
    )


def run_golden_pipeline(spark, workdir: Path, repo: Path = REPO) -> Path:
    """Generate the sample under workdir/in, run the whole pipeline into workdir/out; return the outputs root."""
    from skuplan.pipeline import run_pipeline

    in_root, out_root = Path(workdir) / "in", Path(workdir) / "out"
    generate_inputs(in_root)
    run_pipeline(spark, golden_config(in_root, out_root, repo), RUN_DATE)
    return out_root


# ------------------------------------------------------------------------------------------ canonical values


def canonical_text(value) -> str:
    """One value as the text stored in the golden CSV files and used to sort rows."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    # arrays, maps, structs (none in the outputs today): canonical JSON, compared as text
    return json.dumps(_jsonable(value), sort_keys=True)


def _jsonable(value):
    if hasattr(value, "asDict"):
        return {k: _jsonable(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {canonical_text(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return canonical_text(value)


def sort_rows(rows: Iterable[Sequence[str]]) -> list[list[str]]:
    """The golden files' order: by all columns as strings, left to right."""
    return sorted(list(r) for r in rows)


def _tolerant_key(types: Sequence[str]):
    """Order for comparing: non-double columns as strings first, then doubles rounded to 6 significant digits,
    then everything as strings. Two sides that differ only within the float tolerance sort the same way (a
    plain string sort could swap two rows that agree on every other column when one double moved by 1e-12)."""
    exact = [i for i, t in enumerate(types) if t not in FLOAT_TYPES]
    floats = [i for i, t in enumerate(types) if t in FLOAT_TYPES]

    def coarse(text: str) -> str:
        if text == NULL:
            return text
        x = float(text)
        return repr(x) if not math.isfinite(x) else f"{x:.6g}"

    return lambda row: ([row[i] for i in exact], [coarse(row[i]) for i in floats], list(row))


# ----------------------------------------------------------------------------------------------- Spark side


def list_tables(out_root: Path) -> list[str]:
    """Names of the Delta tables directly under an outputs root."""
    root = Path(out_root)
    return sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir()) if root.is_dir() else []


def table_schema(spark, out_root: Path, table: str) -> list[list]:
    df = spark.read.format("delta").load(str(Path(out_root) / table))
    return [[f.name, f.dataType.simpleString(), bool(f.nullable)] for f in df.schema.fields]


def table_rows(spark, out_root: Path, table: str, run_date: dt.date = RUN_DATE) -> tuple[list[str], list[list[str]]]:
    """(columns without run_date, rows of the run_date partition as canonical text, in the golden order)."""
    from pyspark.sql import functions as F

    df = spark.read.format("delta").load(str(Path(out_root) / table))
    if PARTITION_COLUMN not in df.columns:
        raise AssertionError(f"table {table}: no {PARTITION_COLUMN} column, cannot select the run's partition")
    df = df.where(F.col(PARTITION_COLUMN) == F.lit(run_date.isoformat()).cast("date")).drop(PARTITION_COLUMN)
    return list(df.columns), sort_rows([canonical_text(v) for v in r] for r in df.collect())


# ---------------------------------------------------------------------------------------------- golden files


def write_table_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def read_table_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        columns = next(reader)
        return columns, [list(r) for r in reader]


def inputs_fingerprint(in_root: Path) -> dict[str, dict]:
    """Row count and a hash of the sorted canonical rows of each sample input (independent of file layout)."""
    import pyarrow.dataset as ds

    out = {}
    for name in INPUT_TABLES:
        folder = Path(in_root) / name
        if not folder.exists():
            continue
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        fmt = "csv" if files and all(f.endswith(".csv") for f in files) else "parquet"
        table = ds.dataset(files, format=fmt).to_table()
        cols = sorted(table.column_names)
        rows = sort_rows([canonical_text(r[c]) for c in cols] for r in table.to_pylist())
        digest = hashlib.sha256(json.dumps([cols, rows]).encode()).hexdigest()
        out[name] = {"rows": len(rows), "columns": cols, "sha256": digest}
    return out


def dump_outputs(spark, out_root: Path, golden_dir: Path, run_date: dt.date = RUN_DATE) -> dict[str, int]:
    """Write <table>.csv for every partitioned table and schemas.json for all; return rows per table."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    tables = list_tables(out_root)
    if not tables:
        raise AssertionError(f"no Delta tables under {out_root}")
    for stale in golden_dir.glob("*.csv"):
        stale.unlink()
    schemas, counts = {}, {}
    for table in tables:
        schemas[table] = table_schema(spark, out_root, table)
        if table in SCHEMA_ONLY:
            continue
        columns, rows = table_rows(spark, out_root, table, run_date)
        write_table_csv(golden_dir / f"{table}.csv", columns, rows)
        counts[table] = len(rows)
    (golden_dir / SCHEMAS_FILE).write_text(json.dumps(schemas, indent=1) + "\n", encoding="utf-8")
    return counts


def load_golden_schemas(golden_dir: Path = GOLDEN_DIR) -> dict[str, list[list]]:
    return json.loads((golden_dir / SCHEMAS_FILE).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- comparison


def _same_float(got: str, want: str) -> bool:
    if got == want:
        return True
    if NULL in (got, want):
        return False
    a, b = float(got), float(want)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= FLOAT_ATOL + FLOAT_RTOL * abs(b)


def compare_schema(table: str, got: list[list], want: list[list]) -> str | None:
    """None when identical (names, types, nullability, order), else a message naming the first difference."""
    got, want = [list(f) for f in got], [list(f) for f in want]
    if got == want:
        return None
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            return (f"table {table}: schema differs at column {i}: got {g} (name, type, nullable), expected {w}\n"
                    f"  got      {got}\n  expected {want}")
    extra = got[len(want):] or want[len(got):]
    side = "extra" if len(got) > len(want) else "missing"
    return f"table {table}: schema has {side} column(s) {extra} (got {len(got)} columns, expected {len(want)})"


def compare_rows(table: str, columns: Sequence[str], types: Sequence[str], got: Sequence[Sequence[str]],
                 want: Sequence[Sequence[str]]) -> str | None:
    """None when the rows match (doubles within tolerance), else a message naming table, column and first row
    that differs. Both sides are canonical text with the columns in the same order."""
    if len(got) != len(want):
        return f"table {table}: {len(got)} rows, expected {len(want)}"
    key = _tolerant_key(types)
    got, want = sorted(got, key=key), sorted(want, key=key)
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        for i, (column, kind) in enumerate(zip(columns, types, strict=True)):
            same = _same_float(g[i], w[i]) if kind in FLOAT_TYPES else g[i] == w[i]
            if not same:
                shown = dict(zip(columns, w, strict=True))
                return (f"table {table}: column {column!r} ({kind}) differs in row {n} (sorted order): "
                        f"got {g[i]!r}, expected {w[i]!r}"
                        + (f" (rtol={FLOAT_RTOL}, atol={FLOAT_ATOL})" if kind in FLOAT_TYPES else "")
                        + f"\n  expected row: {shown}\n  got row:      {dict(zip(columns, g, strict=True))}")
    return None


def compare_table(spark, table: str, out_root: Path, want_schema: list[list],
                  want_rows: tuple[list[str], list[list[str]]] | None, run_date: dt.date = RUN_DATE,
                  added_columns: dict[str, str] | None = None) -> str | None:
    """Schema, then (unless schema-only) row count and values of one table against the expected ones.
    added_columns: columns added after the golden files were made, each with the one value (as canonical text)
    every row of the run must hold in it; checked, then left out of the comparison."""
    added = {k: v for k, v in (added_columns or {}).items()
             if k not in {name for name, _, _ in want_schema}}
    got_schema = table_schema(spark, out_root, table)
    present = {name for name, _, _ in got_schema}
    missing = sorted(set(added) - present)
    if missing:
        return f"table {table}: added column(s) {missing} absent"
    got_schema = [f for f in got_schema if f[0] not in added]
    problem = compare_schema(table, got_schema, want_schema)
    if problem or want_rows is None:
        return problem
    columns, got_rows = table_rows(spark, out_root, table, run_date)
    for name, value in added.items():
        at = columns.index(name)
        wrong = sorted({r[at] for r in got_rows} - {value})
        if wrong:
            return f"table {table}: added column {name} holds {wrong}, expected only {value!r}"
    keep = [i for i, c in enumerate(columns) if c not in added]
    columns, got_rows = [columns[i] for i in keep], [[r[i] for i in keep] for r in got_rows]
    want_columns, want = want_rows
    if columns != want_columns:  # cannot happen when the schemas matched, but the CSV header is checked too
        return f"table {table}: columns {columns}, expected {want_columns}"
    types = {name: kind for name, kind, _ in got_schema}
    return compare_rows(table, columns, [types[c] for c in columns], got_rows, want)


def compare_table_sets(got: Iterable[str], want: Iterable[str]) -> str | None:
    got, want = set(got), set(want)
    if got == want:
        return None
    return (f"output tables differ: missing {sorted(want - got) or 'none'}, "
            f"unexpected {sorted(got - want) or 'none'}")
