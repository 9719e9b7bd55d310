"""Progress lines for long stages: done/total, rate and ETA, read from Spark's status tracker.

The forecast stage is one Spark job whose tasks each forecast a bucket of series, so the share of
finished tasks in the job's largest stage is the share of series done. A daemon thread logs it every
`interval_s` seconds while the stage runs; nothing is sent to the executors.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from pyspark.sql import SparkSession

log = logging.getLogger("skuplan")


def _task_progress(spark: SparkSession) -> tuple[int, int] | None:
    tracker = spark.sparkContext.statusTracker()
    best = None
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None and (best is None or info.numTasks > best[1]):
            best = (info.numCompletedTasks, info.numTasks)
    return best


@contextmanager
def stage_progress(spark: SparkSession, label: str, total_units: int, unit: str = "series", interval_s: float = 10.0):
    stop = threading.Event()
    start = time.perf_counter()

    def report() -> None:
        while not stop.wait(interval_s):
            progress = _task_progress(spark)
            if not progress or not progress[1]:
                continue
            done_tasks, tasks = progress
            done = int(total_units * done_tasks / tasks)
            elapsed = time.perf_counter() - start
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (total_units - done) / rate if rate > 0 else float("nan")
            log.info("%s: %d/%d %s (%d/%d tasks), %.1f %s/s, ETA %.0fs", label, done, total_units, unit,
                     done_tasks, tasks, rate, unit, eta)

    thread = threading.Thread(target=report, name=f"progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)
