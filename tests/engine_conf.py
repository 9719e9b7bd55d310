"""The suite's Spark engine settings, shared by its session (conftest.spark) and the processes tests start."""

from __future__ import annotations

# Engine settings of the suite only (skuplan's own sessions keep Spark's): on the suite's tiny frames, compiling
# generated code (Janino, once per distinct plan) and adaptive execution's extra jobs (one per shuffle stage) cost
# more than the rows. A golden run: 490 -> 319 Spark jobs, CPU 153 -> 116 s cold, 86 -> 63 s warm. Results are the
# same by definition (golden files unchanged); the runs in subprocesses (CLI, spark-submit) keep Spark's defaults,
# and test_reliability compares such a run with this session's, table by table.
TEST_ENGINE_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}


def engine_submit_args() -> str:
    """TEST_ENGINE_CONF as PYSPARK_SUBMIT_ARGS, for a process that starts its own session and whose outputs no test
    compares (the notebook). skuplan's local defaults still win there: adaptive execution stays on."""
    return " ".join(f"--conf {key}={value}" for key, value in TEST_ENGINE_CONF.items()) + " pyspark-shell"
