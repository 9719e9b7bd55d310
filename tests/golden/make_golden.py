"""Write the golden outputs (tests/golden/*.csv, schemas.json, inputs.json) from the skuplan on the Python path.

Run it with the code the golden files must describe, e.g. the pre-redesign commit checked out as a worktree:

    git worktree add /work/baseline 6ee97fc
    PYTHONPATH=/work/baseline/lib .venv/bin/python tests/golden/make_golden.py

PYTHONPATH goes before the venv's editable install of lib/, and local Spark's Python workers inherit it; the
script prints where the driver and a worker imported skuplan from (use --expect-lib to make that a check).
The run, the dump format and the comparison rules are in tests/golden/outputs.py; the test reading the files is
tests/test_golden_outputs.py. Not a test itself (pytest collects test_*.py only).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from golden.outputs import (  # noqa: E402
    GOLDEN_DIR,
    INPUTS_FILE,
    REPO,
    RUN_DATE,
    SAMPLE_SPEC,
    dump_outputs,
    inputs_fingerprint,
    run_golden_pipeline,
)


def build_test_session(warehouse: Path):
    """The session tests/conftest.py builds: local[2], 2 shuffle partitions, Delta JARs from .cache/jars."""
    from skuplan.config import SparkConfig
    from skuplan.spark import build_session

    return build_session(
        SparkConfig(master="local[2]", shuffle_partitions=2, jars_dir=str(REPO / ".cache" / "jars")),
        extra_conf={"spark.sql.warehouse.dir": str(warehouse), "spark.driver.memory": "4g"},
    )


def _worker_skuplan_file(spark) -> str:
    def where(_):
        import skuplan

        yield skuplan.__file__

    return spark.sparkContext.parallelize([0], 1).mapPartitions(where).collect()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=GOLDEN_DIR, help=f"golden folder (default {GOLDEN_DIR})")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the sample inputs and Delta outputs go (default: a temp folder, removed)")
    parser.add_argument("--expect-lib", type=Path, default=None,
                        help="fail unless the driver and the workers import skuplan from under this folder")
    args = parser.parse_args(argv)

    import skuplan

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="skuplan_golden_"))
    workdir.mkdir(parents=True, exist_ok=True)
    spark = build_test_session(workdir / "warehouse")
    try:
        driver, worker = skuplan.__file__, _worker_skuplan_file(spark)
        print(f"skuplan imported from {driver} (driver), {worker} (worker)")
        if args.expect_lib is not None:
            lib = str(args.expect_lib.resolve())
            wrong = [f for f in (driver, worker) if not str(Path(f).resolve()).startswith(lib + "/")]
            if wrong:
                print(f"error: skuplan not imported from {lib}: {wrong}", file=sys.stderr)
                return 1
        out_root = run_golden_pipeline(spark, workdir)
        counts = dump_outputs(spark, out_root, args.out, RUN_DATE)
        fingerprint = {"sample_spec": {k: str(v) for k, v in SAMPLE_SPEC.items()},
                       "tables": inputs_fingerprint(workdir / "in")}
        (args.out / INPUTS_FILE).write_text(json.dumps(fingerprint, indent=1) + "\n", encoding="utf-8")
    finally:
        spark.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for table, rows in sorted(counts.items()):
        size = (args.out / f"{table}.csv").stat().st_size
        print(f"  {table:<18} {rows:>6} rows {size:>9} bytes")
    print(f"golden files for run_date {RUN_DATE} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
