"""Scale benchmark: the whole nightly job at growing series counts, each in a fresh process, then the next
night incremental.

    .venv/bin/python bench/scale_bench.py --series 10000 100000 [--keep] [--conf-file overlay.yaml ...]

For each size: generate the sample (n_items = series / 4 regions, 2 years daily), run `skuplan run` in a
subprocess (fresh JVM, so memory figures are its own) for RUN_DATE (a full run: no sales history yet), sample
the peak resident memory of the driver (the Python process plus its JVM child; in local mode the JVM also hosts
the executors), and read the per-stage seconds from the `runs` manifest. Then add one day of sales (the last
day's rows again, a day later) and run the next run_date into the same outputs: the incremental night validates
only that day and merges it into the sales history; forecast and policy still read the whole history. The cost
slope between consecutive sizes is log(t2 / t1) / log(n2 / n1) of the full runs: 1.0 is linear. --conf-file
overlays (repeatable) are merged over conf/ before the bench's inputs/outputs roots, in both nights (e.g. an
overlay setting forecast.class_candidates, to compare auto with and without global_gbm). Last line:
    series=<n> total_s=<full run> incremental_s=<one new day> series_per_s=<r> driver_rss_mb=<m> slope=<s>
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_DATE = dt.date(2026, 1, 1)


def _tree_rss_peak(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Poll the process tree's summed VmHWM (peak RSS per process) until stopped."""

    def children(p: int) -> list[int]:
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            return []
        return kids + [g for k in kids for g in children(k)]

    def hwm(p: int) -> float:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return float(line.split()[1]) / 1024.0
        except OSError:
            pass
        return 0.0

    per_proc: dict[int, float] = {}
    while not stop.is_set():
        # the driver = the Python process and its direct JVM child (Python workers are excluded)
        procs = [pid] + [c for c in children(pid)[:1]]
        for p in procs:
            per_proc[p] = max(per_proc.get(p, 0.0), hwm(p))
        peak[0] = sum(per_proc.values())
        time.sleep(0.5)


def add_one_day(sales_dir: Path) -> int:
    """Append the sales of RUN_DATE (the day after the sample's last): the last day's rows, dated a day later."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    table = ds.dataset(str(sales_dir), format="parquet").to_table()
    last = RUN_DATE - dt.timedelta(days=1)
    day = table.filter(pc.equal(table["date"], pa.scalar(last)))
    day = day.set_column(
        day.schema.get_field_index("date"), "date", pa.array([RUN_DATE] * day.num_rows, pa.date32())
    )
    pq.write_table(day, sales_dir / "part-99999.parquet")
    return day.num_rows


def run_size(n_series: int, work: Path, overlays: tuple[Path, ...] = (), full_only: bool = False) -> dict:
    from skuplan.sample import SampleSpec, generate_sample

    n_items = max(1, n_series // 4)
    data, out = work / f"in_{n_series}", work / f"out_{n_series}"
    t0 = time.perf_counter()
    generate_sample(data, SampleSpec(n_items=n_items, n_regions=4, start=dt.date(2024, 1, 1)))
    gen_s = time.perf_counter() - t0
    conf = work / f"conf_{n_series}.yaml"
    conf.write_text(json.dumps({"inputs": {"root": str(data)}, "outputs": {"root": str(out)}}))
    confs = (*overlays, conf)  # the bench's roots last: an overlay cannot send the outputs elsewhere
    full = _night(confs, out, RUN_DATE, n_series)
    if full_only:
        night = {"seconds": float("nan"), "rss_mb": float("nan"), "stages": {}}
        new_rows = 0
    else:
        new_rows = add_one_day(data / "sales")
        night = _night(confs, out, RUN_DATE + dt.timedelta(days=1), n_series)
    return {
        "series": n_series,
        "n_items": n_items,
        "gen_s": gen_s,
        "new_rows": new_rows,
        "total_s": full["seconds"],
        "rss_mb": full["rss_mb"],
        "stages": full["stages"],
        "incremental_s": night["seconds"],
        "incremental_rss_mb": night["rss_mb"],
        "incremental_stages": night["stages"],
    }


def _night(confs: tuple[Path, ...], out: Path, run_date: dt.date, n_series: int) -> dict:
    files = [arg for conf in confs for arg in ("--conf-file", str(conf))]
    cmd = [sys.executable, "-m", "skuplan.cli", "run", "--conf", str(REPO / "conf"), *files,
           "--run-date", run_date.isoformat()]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stop, peak = threading.Event(), [0.0]
    watcher = threading.Thread(target=_tree_rss_peak, args=(proc.pid, stop, peak), daemon=True)
    watcher.start()
    log, _ = proc.communicate()
    total = time.perf_counter() - t0
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"run {run_date} at {n_series} series failed:\n{log[-4000:]}")
    return {"seconds": total, "rss_mb": peak[0], "stages": _stage_seconds(out, run_date)}


def _stage_seconds(out: Path, run_date: dt.date) -> dict[str, float]:
    import pyarrow.dataset as ds

    # the runs manifest is a Delta table (append-only, never compacted here): its data files hold every run's rows
    table = ds.dataset(str(out / "runs"), format="parquet").to_table().to_pandas()
    table = table[table["run_date"] == run_date]
    return {r.stage: round(float(r.seconds), 1) for r in table.itertuples()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", action="store_true", help="keep the generated data and outputs")
    parser.add_argument(
        "--conf-file",
        action="append",
        default=[],
        type=Path,
        metavar="YAML",
        help="config overlay merged over conf/ in every run (repeatable)",
    )
    parser.add_argument(
        "--full-only", action="store_true", help="skip the incremental night (e.g. comparing forecast candidates)"
    )
    args = parser.parse_args()
    for overlay in args.conf_file:
        if not overlay.is_file():
            parser.error(f"--conf-file {overlay}: no such file")
    work = Path(tempfile.mkdtemp(prefix="skuplan_scale_"))
    results = []
    try:
        for n in sorted(args.series):
            res = run_size(n, work, tuple(p.resolve() for p in args.conf_file), args.full_only)
            results.append(res)
            print(
                f"series={n:>7} total_s={res['total_s']:8.1f} series_per_s={n / res['total_s']:8.1f} "
                f"driver_rss_mb={res['rss_mb']:7.0f} (sample generation {res['gen_s']:.1f}s, not counted)",
                flush=True,
            )
            print("    stages: " + ", ".join(f"{k}={v}s" for k, v in res["stages"].items()), flush=True)
            print(
                f"    next night, {res['new_rows']} new sales rows: incremental_s={res['incremental_s']:.1f} "
                f"({res['incremental_s'] / res['total_s']:.0%} of the full run), driver_rss_mb="
                f"{res['incremental_rss_mb']:.0f}; stages: "
                + ", ".join(f"{k}={v}s" for k, v in res["incremental_stages"].items()),
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    slopes = [
        math.log(b["total_s"] / a["total_s"]) / math.log(b["series"] / a["series"])
        for a, b in zip(results, results[1:], strict=False)
    ]
    for (a, b), s in zip(zip(results, results[1:], strict=False), slopes, strict=True):
        print(
            f"slope {a['series']}->{b['series']}: {s:.2f} (1.0 = linear; fixed start-up cost pulls it below 1)"
        )
    last = results[-1]
    slope = slopes[-1] if slopes else float("nan")
    print(
        f"series={last['series']} total_s={last['total_s']:.1f} incremental_s={last['incremental_s']:.1f} "
        f"series_per_s={last['series'] / last['total_s']:.1f} driver_rss_mb={last['rss_mb']:.0f} slope={slope:.2f}"
    )


if __name__ == "__main__":
    main()
