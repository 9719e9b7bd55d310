"""SparkSession with Delta Lake configured. Never called at import time."""

from __future__ import annotations

import glob
import os
import sys

from pyspark.sql import SparkSession

from skuplan.config import SparkConfig

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# Local-mode defaults that keep small runs quick and reproducible; cluster settings win over them.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # The SQL status store keeps every query's plan description even with the UI off; 1,000 of them
    # (the default) held ~300 MB of a 4 GB heap after two runs.
    "spark.sql.ui.retainedExecutions": "50",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Delta rebuilds table state with this many partitions; the default (50) dominates small runs.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.properties.defaults.autoOptimize.optimizeWrite": "false",
    "spark.sql.adaptive.enabled": "true",
    # Tasks of a parallel file listing (VACUUM's among them); the default (10,000) made a VACUUM of a tiny table
    # take ~20 s of task overhead. In local mode the cores bound the listing's concurrency anyway.
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
    # Checkpointed frames (the per-series lists: ~2 GB raw at 100k series x 2 years) are stored serialized;
    # compressed, they take a fraction of the memory and disk.
    "spark.rdd.compress": "true",
    "spark.driver.memory": "4g",
}


def delta_jars(jars_dir: str | None) -> list[str]:
    """The cached Delta JARs (see scripts/fetch_jars.sh); empty when the cluster provides Delta."""
    jars_dir = os.environ.get("SKUPLAN_JARS_DIR", jars_dir or "")
    if not jars_dir:
        return []
    jars = sorted(glob.glob(os.path.join(jars_dir, "*.jar")))
    if not jars:
        raise RuntimeError(
            f"no Delta JARs in {jars_dir!r}: run `make setup` (fetches them once), "
            "or set spark.jars_dir to null when the cluster already provides Delta"
        )
    return [os.path.abspath(j) for j in jars]


def _submitted_local_defaults(cfg: SparkConfig) -> dict[str, str]:
    """spark-submit --master local[N]: the same local defaults as `skuplan run` (without them Delta rebuilt
    table state with 50 partitions and shuffles used 200, which made a tiny run several times slower). The
    driver heap is spark-submit's own --driver-memory. A cluster master keeps the cluster's settings."""
    from pyspark import SparkConf

    if not SparkConf().get("spark.master", "").startswith("local"):
        return {}
    defaults = {k: v for k, v in LOCAL_DEFAULTS.items() if k != "spark.driver.memory"}
    return {**defaults, "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions)}


# SQL settings of LOCAL_DEFAULTS that a running session still accepts.
_RUNTIME_SQL = ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled",
                "spark.databricks.delta.snapshotPartitions", "spark.sql.adaptive.enabled",
                "spark.sql.sources.parallelPartitionDiscovery.parallelism")


def _set_local_runtime_defaults(spark: SparkSession, cfg: SparkConfig, explicit: dict[str, str]) -> None:
    """spark-submit --master local[N]: before the context exists, Python's SparkConf cannot see the master, so
    _submitted_local_defaults may find none and a tiny run shuffled into 200 partitions (a 4-item submit took
    minutes). Once the session is up its master is known: set the runtime SQL defaults then, never over a
    setting given in config."""
    if not spark.sparkContext.master.startswith("local"):
        return
    wanted = {key: LOCAL_DEFAULTS[key] for key in _RUNTIME_SQL}
    wanted["spark.sql.shuffle.partitions"] = str(cfg.shuffle_partitions)
    for key, value in wanted.items():
        if key not in explicit:
            spark.conf.set(key, value)


def build_session(cfg: SparkConfig, extra_conf: dict[str, str] | None = None) -> SparkSession:
    """Reuse the active session (spark-submit, Databricks) or start a local one with Delta."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        # Launched by spark-submit or on Databricks: master and cluster settings come from there;
        # only Delta (if its JARs are not already provided) and the app's own settings are added.
        builder = SparkSession.builder.appName(cfg.app_name)
        for key, value in {**_submitted_local_defaults(cfg), **DELTA_CONF, **cfg.conf, **(extra_conf or {})}.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        _set_local_runtime_defaults(spark, cfg, {**cfg.conf, **(extra_conf or {})})
        return spark
    if cfg.master.startswith("local"):
        # Local workers must run the driver's interpreter (the venv holding skuplan), not the first
        # `python3` on the PATH. On a cluster PYSPARK_PYTHON comes from the deployment.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(cfg.app_name).master(cfg.master)
    settings = {**LOCAL_DEFAULTS, **DELTA_CONF, "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions)}
    jars = delta_jars(cfg.jars_dir)
    if jars:
        settings["spark.jars"] = ",".join(jars)
    settings.update(cfg.conf)
    settings.update(extra_conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
