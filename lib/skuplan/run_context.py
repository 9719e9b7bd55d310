"""RunContext: what every stage of one run shares (session, config, dates) and what the run holds on to
(cached frames, checkpoints) until it releases them. Stages take a context and a dict of named frames."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
import uuid
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from skuplan import io
from skuplan.config import Config

log = logging.getLogger("skuplan")


class RunFailed(RuntimeError):
    """The run stopped for a reason the message states (data, reconciliation or resume problem)."""


@dataclass
class StageRecord:
    """One row of the runs manifest."""

    stage: str
    seconds: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    status: str = "ok"
    detail: str = ""
    table_versions: dict[str, int] = field(default_factory=dict)


class RunContext:
    def __init__(self, spark: SparkSession, cfg: Config, run_date: dt.date, scenario: str = io.BASE_SCENARIO,
                 full_refresh: bool = False):
        self.spark, self.cfg, self.run_date = spark, cfg, run_date
        # The run's partition of every table is (run_date, scenario); full_refresh: validate every sales row
        # again and rebuild the sales history (skuplan.incremental).
        self.scenario, self.full_refresh = scenario, full_refresh
        self.cutoff = run_date - dt.timedelta(days=1)
        self.run_id = f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
        self.records: list[StageRecord] = []
        self.table_rows: dict[str, int] = {}
        # Facts one stage learns and a later one reports (set by prepare, or read back on a resume).
        self.n_series = 0
        self.series_days = 0
        self.accepted_rows: dict[str, int] = {}
        self.record: StageRecord | None = None  # the manifest row of the stage running now
        # Problems the running stage found that fail the run once its outputs are committed (so that, e.g.,
        # the quarantine table can be inspected after a too-dirty input).
        self.problems: list[str] = []
        # Set by a stage when the run ends after it with status ok (validate on a legal night without sales:
        # the later stages would plan from nothing and replace the previous plans).
        self.stop_reason = ""
        self.resumed_from = ""  # what a resumed run reused, for the first stage's manifest row
        self._persisted: list[DataFrame] = []
        self._checkpoints: list[DataFrame] = []

    def write(self, rec: StageRecord, name: str, df: DataFrame, exact: bool = False) -> DataFrame:
        """Replace the run_date partition of table `name` and return the committed rows (run_date dropped).

        exact: keep doubles as computed (staged inputs of later stages); outputs are rounded to a canonical
        precision (io.canonical_precision)."""
        start = time.perf_counter()
        version, rows = io.write_partition(df, self.cfg, name, self.run_date, exact=exact, scenario=self.scenario)
        log.info("  wrote %-18s %10d rows in %6.1fs", name, rows, time.perf_counter() - start)
        rec.table_versions[name] = version
        self.table_rows[name] = rows
        return self.read(name, version)

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """This run's rows (run_date, scenario) of a committed table, at a Delta version (latest when None)."""
        return (io.read_table(self.spark, self.cfg, name, self.run_date, version=version, scenario=self.scenario)
                .drop(*io.PARTITION_COLUMNS))

    def keep(self, df: DataFrame) -> DataFrame:
        """Persist df until the stage after prepare starts (see unpersist) or the run ends."""
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._persisted.append(df)
        return df

    def hold(self, frames) -> None:
        """Frames a stage function persisted itself, released with the run's cache."""
        self._persisted.extend(frames)

    def checkpoint(self, df: DataFrame) -> DataFrame:
        """Materialize df now and cut its lineage, so later plans start from the stored rows instead of
        re-analyzing the whole validation plan. Local checkpoints are not replicated: a lost executor fails
        the run, and rerunning it is safe (writes are idempotent)."""
        df = df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        self._checkpoints.append(df)
        return df

    def unpersist(self) -> None:
        """Drop the cached frames (not the checkpoints), e.g. the sales rows once prepare has aggregated them."""
        for df in self._persisted:
            df.unpersist()
        self._persisted = []

    def release(self) -> None:
        self.unpersist()
        for df in self._checkpoints:
            df._jdf.queryExecution().analyzed().rdd().unpersist(False)
        self._checkpoints = []
        # Python-side reference cycles keep JVM plans alive until the cycle collector runs; a session that
        # runs the pipeline again (tests, notebooks) would otherwise carry each run's plans in the heap.
        gc.collect()
