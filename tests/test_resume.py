"""`run --from-stage`: a resumed run reuses what the earlier stages committed for the same run_date, checked
against the runs manifest, and ends with exactly the tables a full run writes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from golden.outputs import RUN_DATE, golden_config
from skuplan import io
from skuplan.pipeline import STAGES, RunFailed, UnknownStage, run_pipeline

TABLES = ("forecasts", "forecast_status", "inventory_policy", "replenishment", "alerts", "kpis", "segments",
          "policy_backtest", "allocation")

pytestmark = pytest.mark.slow


def test_every_stage_reads_only_what_an_earlier_stage_writes_or_passes():
    made: set[str] = set()
    for stage in STAGES:
        assert set(stage.reads) <= made, (stage.name, set(stage.reads) - made)
        made |= {*stage.writes, *stage.passes}


def _snapshot(spark, cfg):
    return {name: sorted((tuple(r) for r in io.read_table(spark, cfg, name, RUN_DATE).drop("run_date").collect()),
                         key=repr) for name in TABLES}


@pytest.fixture(scope="module")
def full_run(spark, golden_run):
    """The golden sample's whole run (conftest.golden_run; compared with the golden files first when the whole
    suite runs), its config and its plan tables."""
    _, out_root = golden_run
    cfg = golden_config(golden_run[0], out_root)
    return cfg, _snapshot(spark, cfg)


def test_resume_from_policy_rewrites_the_same_tables(spark, full_run):
    cfg, reference = full_run
    summary = run_pipeline(spark, cfg, RUN_DATE, from_stage="policy")
    assert [r.stage for r in summary.stages] == ["policy", "allocate"]
    assert summary.stages[0].detail.startswith("resumed: reused validate of run ")
    assert _snapshot(spark, cfg) == reference
    runs = io.read_table(spark, cfg, "runs").where(F.col("run_id") == summary.run_id)
    assert {r.stage for r in runs.collect()} == {"policy", "allocate"}


def test_a_changed_config_is_refused(spark, full_run):
    cfg, _ = full_run
    changed = cfg.model_copy(update={"inventory": cfg.inventory.model_copy(update={"default_service_level": 0.9})})
    with pytest.raises(RunFailed, match=r"config changed since run .* committed validate"):
        run_pipeline(spark, changed, RUN_DATE, from_stage="forecast")


def test_stages_after_an_in_memory_hand_over_cannot_be_resumed(spark, full_run):
    cfg, _ = full_run
    with pytest.raises(RunFailed, match="sales is handed on in memory by validate"):
        run_pipeline(spark, cfg, RUN_DATE, from_stage="prepare")
    with pytest.raises(UnknownStage, match="use one of validate, prepare, forecast, policy, allocate"):
        run_pipeline(spark, cfg, RUN_DATE, from_stage="plan")


def test_no_committed_run_for_the_date(spark, full_run):
    cfg, _ = full_run
    with pytest.raises(RunFailed, match="no successful validate stage for run_date 2026-02-01"):
        run_pipeline(spark, cfg, dt.date(2026, 2, 1), from_stage="forecast")


def test_a_table_rewritten_since_the_manifest_is_named(spark, full_run, tmp_path):
    """Rewrites the golden run's series_stats, then puts the run's outputs back byte for byte: test_incremental
    copies them, whichever module runs first on the worker (a copy elsewhere would change the config's hash)."""
    cfg, _ = full_run
    out_root = Path(cfg.outputs.root)
    shutil.copytree(out_root, tmp_path / "saved")
    try:
        stats = io.read_table(spark, cfg, "series_stats", RUN_DATE).drop("run_date")
        io.write_partition(stats.limit(1), cfg, "series_stats", RUN_DATE, exact=True)  # someone rewrote it
        with pytest.raises(RunFailed, match=r"table series_stats differs from what run .* committed"):
            run_pipeline(spark, cfg, RUN_DATE, from_stage="forecast")
    finally:
        shutil.rmtree(out_root)
        shutil.copytree(tmp_path / "saved", out_root)
