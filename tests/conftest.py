"""One local Spark session with Delta for the whole test run (created lazily, never at import)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from skuplan.config import SparkConfig
    from skuplan.spark import build_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = build_session(
        SparkConfig(master="local[2]", shuffle_partitions=2, jars_dir=str(REPO / ".cache" / "jars")),
        extra_conf={"spark.sql.warehouse.dir": str(warehouse), "spark.driver.memory": "4g"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True, scope="module")
def _release_spark_cache():
    """Drop cached frames after each test module: stages cache intermediate frames (validation's narrow frame,
    forecast and policy outputs) that the callers in tests do not release, and the session's 2 GB heap is
    shared by the whole run. Starts no Spark session of its own."""
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.catalog.clearCache()
