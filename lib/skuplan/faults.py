"""Fault injection for reliability tests: make a task fail on its first attempt only.

Set SKUPLAN_FAIL_ONCE_DIR to a folder shared by driver and workers (local mode). The first task of a
stage to call `maybe_fail_once(stage, key)` for a key leaves a marker file there and raises; Spark
retries the task (local[N,F] or spark.task.maxFailures) and the retry, seeing the marker, goes on.
Unset (the default, and always in production), it does nothing.
"""

from __future__ import annotations

import hashlib
import os

FAIL_ONCE_ENV = "SKUPLAN_FAIL_ONCE_DIR"


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection hook."""


def maybe_fail_once(stage: str, key: object = None) -> None:
    folder = os.environ.get(FAIL_ONCE_ENV)
    if not folder:
        return
    # Keyed by the Spark partition when inside a task: a task may handle several groups, and it must
    # fail only on its first attempt, not once per group (which would exhaust the retries).
    from pyspark import TaskContext

    ctx = TaskContext.get()
    if ctx is not None:
        key = f"p{ctx.partitionId()}"
    # Hashed: a key such as a category name may hold characters a file name cannot.
    marker = os.path.join(folder, f"{stage}-{hashlib.sha1(str(key).encode()).hexdigest()[:16]}")
    try:
        # O_EXCL: exactly one attempt creates the marker, even with concurrent tasks.
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    raise InjectedFault(f"injected failure in {stage} for {key} (first attempt; {FAIL_ONCE_ENV} is set)")
