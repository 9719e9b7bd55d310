"""Tables by catalog name (outputs.catalog / outputs.schema): written, replaced, read, judged complete and merged
as `catalog.schema.table` in the test session's own catalog (spark_catalog, Delta's catalog), never as paths."""

from __future__ import annotations

import datetime as dt

import pytest

from skuplan import incremental, io, tables
from skuplan.complete_runs import read_plan, require_complete
from skuplan.config import ConfigError, load_config
from skuplan.pipeline import STAGES
from skuplan.resume import later_rewrite
from skuplan.run_context import RunContext, StageRecord
from skuplan.schemas import RUNS

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
SCHEMA = "skuplan_names_test"


def _config(repo_root, tmp_path, **outputs):
    return load_config(
        repo_root / "conf", overrides={"outputs": {"root": str(tmp_path / "unused"), **outputs}}, environ={}
    )


def test_names_from_config_are_checked(repo_root, tmp_path):
    for bad in ("a;b", "x`y", "s.t", " s", "s\n"):
        with pytest.raises(ConfigError, match="outputs.schema must be a catalog or schema name"):
            _config(repo_root, tmp_path, schema=bad)
    with pytest.raises(ConfigError, match="outputs.catalog is set without outputs.schema"):
        _config(repo_root, tmp_path, catalog="main")
    cfg = _config(repo_root, tmp_path, catalog="main", schema="plan-dev_jane")
    ref = tables.table_ref(cfg, "forecasts")
    assert (ref.qualified, ref.path, ref.sql) == (
        "main.plan-dev_jane.forecasts",
        None,
        "`main`.`plan-dev_jane`.`forecasts`",
    )


def _quarantine(spark, reasons: list[str]):
    return spark.createDataFrame(
        [("sales", f'{{"n": {i}}}', code, f"reason {code}") for i, code in enumerate(reasons)],
        "source string, payload string, reason_code string, reason string",
    )


def test_tables_by_name_in_the_session_catalog(spark, repo_root, tmp_path):
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS spark_catalog.{SCHEMA} LOCATION '{tmp_path / 'schema'}'")
    try:
        cfg = _config(repo_root, tmp_path, catalog="spark_catalog", schema=SCHEMA)
        ref = tables.table_ref(cfg, "quarantine")
        v1, _ = io.write_partition(_quarantine(spark, ["A", "B"]), cfg, "quarantine", D1)
        io.write_partition(_quarantine(spark, ["C"]), cfg, "quarantine", D2)
        io.write_partition(_quarantine(spark, ["W"]), cfg, "quarantine", D1, scenario="what_if")
        v4, rows = io.write_partition(_quarantine(spark, ["D"]), cfg, "quarantine", D1)  # a rerun replaces D1
        assert rows == 1 and v4 == v1 + 3
        assert spark.catalog.tableExists(f"spark_catalog.{SCHEMA}.quarantine")
        assert not (tmp_path / "unused").exists()  # outputs.root is not used for named tables
        detail = spark.sql(f"DESCRIBE DETAIL {ref.sql}").first()
        assert detail["partitionColumns"] == ["run_date", "scenario"]
        assert detail["location"].rstrip("/").endswith(f"{tmp_path.name}/schema/quarantine")

        def codes(run_date, scenario="base"):
            df = io.read_table(spark, cfg, "quarantine", run_date, scenario=scenario)
            return sorted(r["reason_code"] for r in df.collect())

        assert (codes(D1), codes(D2), codes(D1, "what_if")) == (["D"], ["C"], ["W"])
        # The rerun rewrote D1 of base after v1; the what-if write and D2 did not touch D1 of base after v4.
        assert later_rewrite(spark, ref, v1, D1)["version"] == v4
        assert (
            later_rewrite(spark, ref, v4, D1) is None
            and later_rewrite(spark, ref, v1 + 2, D1, "what_if") is None
        )

        # A manifest by name makes D1 complete; read_plan then reads the named table.
        now = dt.datetime(2026, 1, 1, 3, 0)
        manifest = [
            {
                "run_id": "r1",
                "run_date": D1,
                "config_hash": cfg.fingerprint(),
                "stage": s.name,
                "rows_in": 0,
                "rows_out": 0,
                "rows_quarantined": None,
                "seconds": 1.0,
                "status": "ok",
                "detail": "",
                "table_versions": {"quarantine": v4} if s.name == "validate" else {},
                "finished_at": now,
                "scenario": "base",
            }
            for s in STAGES
        ]
        io.append_manifest(spark, cfg, manifest, RUNS)
        assert require_complete(spark, cfg, D1) is not None
        assert [r["reason_code"] for r in read_plan(spark, cfg, "quarantine", D1).collect()] == ["D"]
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{SCHEMA} CASCADE")


def test_sales_history_merge_by_name(spark, repo_root, tmp_path):
    """The incremental history by name: a full night, then a night merging only rows after the watermark."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS spark_catalog.{SCHEMA}_h LOCATION '{tmp_path / 'h'}'")
    try:
        cfg = _config(repo_root, tmp_path, schema=f"{SCHEMA}_h")  # no catalog: the session's current one
        cols = (
            "item_id string, region_id string, date date, units double, channel string, price double, "
            "promo double, stockout boolean"
        )

        def sales(*days):
            return spark.createDataFrame(
                [("I1", "R1", d, 1.0 + i, "store", None, 0.0, False) for i, d in enumerate(days)], cols
            )

        night1 = RunContext(spark, cfg, D1)
        night1.record = StageRecord("validate")
        window = incremental.plan_window(spark, cfg, D1, "base", "b1", full_refresh=False)
        assert window.full
        incremental.commit(night1, sales(dt.date(2025, 12, 30), dt.date(2025, 12, 31)), window, "b1")
        night2 = RunContext(spark, cfg, D2)
        night2.record = StageRecord("validate")
        window = incremental.plan_window(spark, cfg, D2, "base", "b1", full_refresh=False)
        assert window.since == dt.date(2025, 12, 31)
        incremental.commit(night2, sales(D1), window, "b1")
        history = incremental.history(spark, cfg, "base", D1).orderBy("date").collect()
        assert [(r["date"], r["units"]) for r in history] == [
            (dt.date(2025, 12, 30), 1.0),
            (dt.date(2025, 12, 31), 2.0),
            (D1, 1.0),
        ]
        # A rerun of night 2 validates the same window; a changed basis or --full-refresh starts over.
        assert incremental.plan_window(spark, cfg, D2, "base", "b1", False).since == dt.date(2025, 12, 31)
        assert incremental.plan_window(spark, cfg, D2 + dt.timedelta(days=1), "base", "b2", False).full
        assert incremental.plan_window(spark, cfg, D2 + dt.timedelta(days=1), "base", "b1", True).full
        assert spark.catalog.tableExists(f"{SCHEMA}_h.sales_history")
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{SCHEMA}_h CASCADE")
