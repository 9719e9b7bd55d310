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
        extra_conf={"spark.sql.warehouse.dir": str(warehouse), "spark.driver.memory": "2g"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
