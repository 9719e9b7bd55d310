"""One local Spark session with Delta for the whole test run (created lazily, never at import)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Modules that read the session's `golden_run`: under pytest-xdist they share one worker, so the golden pipeline
# runs once per suite, not once per worker.
GOLDEN_RUN_MODULES = {
    "test_golden_outputs", "test_resume", "test_constraints", "test_incremental", "test_tracking", "test_stream_plan"
}

# Groups that run whole jobs (pipeline runs, spark-submit, a notebook kernel), dearest first (durations of a full
# suite): queued before the others so that the two workers end together. Only the order of work depends on it.
LONG_GROUPS = (
    "golden_run", "test_reliability", "test_deploy", "test_bad_inputs", "test_errors_and_complete_runs",
    "test_cli", "test_notebook", "test_stream", "test_pipeline_e2e", "test_run_guards", "test_real_export_night",
)


def _xdist_group(nodeid: str) -> str:
    """A test's xdist group: its module's name, or golden_run for the golden-run modules."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return "golden_run" if module in GOLDEN_RUN_MODULES else module


def pytest_collection_modifyitems(config, items):
    """One xdist group per test module (`--dist loadgroup` then keeps a module's tests, and so its module-scoped
    pipeline runs, on one worker), and one group for the golden-run modules. Without xdist the marks are inert."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_xdist_group(item.nodeid)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` with the groups above. xdist (3.8) groups by an `@group` suffix it appends to each node
    id through `Item._nodeid`, which pytest 9.2 no longer reads (node ids live in `Item._id`): the ids stayed
    bare, every test was its own group, and the tests of one module were spread over both workers, each worker
    running the module's fixtures (and golden_run) again. The scheduler here takes the group from the node id's
    module, with or without the suffix."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return _xdist_group(nodeid)

        def _assign_work_unit(self, node) -> None:
            # Longest first: xdist queues groups by their number of tests, which put one-test modules that run a
            # whole job (the notebook) last, where one worker runs them alone.
            if not self._ordered:
                for group in reversed(LONG_GROUPS):
                    if group in self.workqueue:
                        self.workqueue.move_to_end(group, last=False)
                self._ordered = True
            super()._assign_work_unit(node)

    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from engine_conf import TEST_ENGINE_CONF
    from skuplan.config import SparkConfig
    from skuplan.spark import build_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = build_session(
        SparkConfig(master="local[2]", shuffle_partitions=2, jars_dir=str(REPO / ".cache" / "jars")),
        extra_conf={"spark.sql.warehouse.dir": str(warehouse), "spark.driver.memory": "4g", **TEST_ENGINE_CONF},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def golden_run(spark, tmp_path_factory):
    """(inputs root, outputs root) of one whole run of the current code on the golden sample (tests/golden/):
    compared with the golden files by test_golden_outputs.py, then resumed by test_resume.py."""
    from golden.outputs import run_golden_pipeline

    workdir = tmp_path_factory.mktemp("golden_run")
    out_root = run_golden_pipeline(spark, workdir, REPO)
    return workdir / "in", out_root


@pytest.fixture(autouse=True, scope="session")
def _no_mlflow_tracking_in_cli_runs():
    """`skuplan run` logs each run to MLflow with its HTML report (seconds per run) when mlflow is installed: off
    for the CLI runs of the suite; tests/test_tracking.py logs the golden run itself. Config hashes are unchanged
    (tracking is not part of Config.fingerprint)."""
    import os

    os.environ.setdefault("SKUPLAN__TRACKING__ENABLED", "false")


@pytest.fixture(autouse=True, scope="module")
def _release_spark_memory():
    """Free what one test module left in the shared session's heap: cached frames and checkpointed RDDs that
    stage functions called directly by tests do not release, Delta's cache of table snapshots (one per test
    table), and Python-side cycles that keep JVM plans alive. Starts no Spark session of its own."""
    yield
    import gc

    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        return
    active.catalog.clearCache()
    for rdd in list(active.sparkContext._jsc.getPersistentRDDs().values()):
        rdd.unpersist(False)
    active.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    gc.collect()
