"""Run guards (issue 13 #3, #6 and the dry run): an empty sales export, sales that stop days before the run date
and an old inventory count are stopped (or warned about) at validate, before any plan table of the run_date is
replaced; `run --dry-run` makes the same checks and writes nothing.

A previous plan of 2026-01-01 (one forecasts row, written as the forecast stage writes it) stands in for an
earlier run; every case edits a copy of a clean tiny sample with pandas, as a user would, runs `skuplan.cli.main`
on that output root and checks that the plan stays as it was and that no other plan table appears.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from skuplan.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from skuplan.config import QualityConfig, load_config
from skuplan.contracts import contract
from skuplan.input_guards import TableCheck, judge_inputs
from skuplan.io import write_partition
from skuplan.pipeline import FAIL_AFTER_ENV
from skuplan.sample import SampleSpec, generate_sample
from skuplan.schemas import struct_type

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RUN_DATE = dt.date(2026, 1, 1)
PLAN_TABLES = ("data_flags", "forecasts", "forecast_status", "forecast_metrics", "inventory_policy", "replenishment",
               "alerts", "kpis", "segments", "policy_backtest", "allocation")


def _rewrite(folder: Path, table: str, edit) -> None:
    """Replace one input by what pandas makes of it: read, edit, `to_parquet` (one file, as a user exports)."""
    df = pd.read_parquet(folder / table)
    shutil.rmtree(folder / table)
    (folder / table).mkdir()
    edit(df).to_parquet(folder / table / f"{table}.parquet", index=False)


def _before(days: int):
    return lambda df: df[pd.to_datetime(df["date"]) <= pd.Timestamp(RUN_DATE - dt.timedelta(days=days))]


def _as_of(days: int):
    return lambda df: df.assign(as_of_date=RUN_DATE - dt.timedelta(days=days))


def _all_returns(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(units=-df["units"].abs() - 1)


def _stale_with_returns(df: pd.DataFrame) -> pd.DataFrame:
    stale = _before(10)(df)  # last day 2025-12-22: 9 days missing before the cutoff 2025-12-31
    return pd.concat([stale, stale.head(3).assign(units=-1.0)], ignore_index=True)


CASES = {  # folder -> {table: edit}
    "empty": {"sales": lambda df: df.iloc[0:0]},
    "stale": {"sales": _stale_with_returns, "inventory": _as_of(11)},  # both past their fail limit
    "late_a_little": {"sales": _before(3), "inventory": _as_of(3)},  # past the warn limits only
    "all_returns": {"sales": _all_returns},
}


PREVIOUS = ("SKU00001", "R01", RUN_DATE, 5.0, 1.0, 5.0, 9.0, "previous run")


@pytest.fixture(scope="module")
def planned(spark, tmp_path_factory):
    """(base folder, Delta versions of every table) once the previous plan of RUN_DATE is in place."""
    base = tmp_path_factory.mktemp("run_guards")
    generate_sample(base / "in", SampleSpec(n_items=2, n_regions=1, start=dt.date(2025, 10, 1), dirty_rows=False))
    for name, edits in CASES.items():
        shutil.copytree(base / "in", base / name)
        for table, edit in edits.items():
            _rewrite(base / name, table, edit)
    cfg = load_config(REPO / "conf", environ={}, overrides={"outputs": {"root": str(base / "out")}})
    c = contract("forecasts", quantiles=cfg.forecast.quantiles)
    write_partition(spark.createDataFrame([PREVIOUS], struct_type(c, all_nullable=True)), cfg, "forecasts", RUN_DATE)
    return base, _versions(base / "out")


def _run(monkeypatch, base: Path, inputs: str, *args: str, **env: str) -> int:
    monkeypatch.setenv("SKUPLAN__INPUTS__ROOT", str(base / inputs))
    monkeypatch.setenv("SKUPLAN__OUTPUTS__ROOT", str(base / env.pop("out", "out")))
    monkeypatch.setenv("SKUPLAN__OUTPUTS__MAX_FILES_PER_PARTITION", "1")
    monkeypatch.setenv("SKUPLAN__FORECAST__HORIZON_DAYS", "14")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return main(["run", "--conf", str(REPO / "conf"), "--run-date", RUN_DATE.isoformat(), *args])


def _versions(out: Path) -> dict[str, int]:
    """Latest Delta version of every table under out, from the log files (no Spark)."""
    return {p.name: max(int(f.stem) for f in (p / "_delta_log").glob("*.json")) for p in out.iterdir()
            if (p / "_delta_log").is_dir()}


def _last_run(spark, base: Path) -> list:
    runs = spark.read.format("delta").load(str(base / "out" / "runs"))
    last = runs.orderBy(F.desc("finished_at")).first().run_id
    return runs.where(F.col("run_id") == last).collect()


def _assert_plans_kept(spark, base: Path, before: dict[str, int]) -> None:
    """No plan table rewritten or created since `before`, and the previous forecasts still read back."""
    after = _versions(base / "out")
    assert {t: after.get(t) for t in PLAN_TABLES} == {t: before.get(t) for t in PLAN_TABLES}
    rows = spark.read.format("delta").load(str(base / "out" / "forecasts")).drop("run_date").collect()
    assert [tuple(r) for r in rows] == [(*PREVIOUS, "base")]  # written as the base scenario's plan


def test_empty_sales_export_fails_at_validate_and_keeps_the_plans(spark, planned, monkeypatch, capsys):
    base, before = planned
    code = _run(monkeypatch, base, "empty")
    err = capsys.readouterr().err
    assert code == EXIT_FAILED, err
    assert "input sales: no rows in" in err and "no plan table was replaced" in err
    assert "quality.empty_sales: keep_previous" in err
    [row] = _last_run(spark, base)
    assert row.stage == "validate" and row.status == "failed" and "no rows in" in row.detail
    _assert_plans_kept(spark, base, before)


def test_keep_previous_night_ends_ok_after_validate_writing_nothing(spark, planned, monkeypatch, capsys):
    base, _ = planned
    before = _versions(base / "out")
    code = _run(monkeypatch, base, "empty", SKUPLAN__QUALITY__EMPTY_SALES="keep_previous")
    assert code == EXIT_OK, capsys.readouterr().err
    assert "kept the previous plans" in capsys.readouterr().out
    [row] = _last_run(spark, base)
    assert (row.stage, row.status, json.loads(row.table_versions)) == ("validate", "ok", {})
    assert "kept the previous plans: input sales: no rows in" in row.detail
    assert "quality.empty_sales is keep_previous" in row.detail
    assert _versions(base / "out") == {**before, "runs": before["runs"] + 1}  # only the manifest grew
    # Nothing was committed that a resumed run could reuse.
    code = _run(monkeypatch, base, "empty", "--from-stage", "forecast", SKUPLAN__QUALITY__EMPTY_SALES="keep_previous")
    assert code == EXIT_FAILED
    assert "committed no table" in capsys.readouterr().err


def test_sales_ending_ten_days_before_the_run_date_and_an_old_count_fail(spark, planned, monkeypatch, capsys):
    base, before = planned
    code = _run(monkeypatch, base, "stale")
    err = capsys.readouterr().err
    assert code == EXIT_FAILED, err
    assert "input sales: the last accepted sale is on 2025-12-22, 9 days before the history cutoff 2025-12-31" in err
    assert "quality.sales_lag_fail_days=3" in err and "--run-date 2025-12-23" in err
    assert "input inventory: as_of_date 2025-12-21 is 11 days before run_date 2026-01-01" in err
    assert "quality.inventory_age_fail_days=7" in err and "current inventory snapshot" in err
    [row] = _last_run(spark, base)
    assert row.stage == "validate" and row.status == "failed"
    assert "2025-12-22" in row.detail and "2025-12-21" in row.detail
    _assert_plans_kept(spark, base, before)


def test_a_short_gap_and_an_older_count_warn_in_log_and_manifest(spark, planned, monkeypatch, capsys, caplog):
    base, before = planned
    # Stop right after validate has committed: the warnings are validate's, the rest of the run is not needed.
    code = _run(monkeypatch, base, "late_a_little", **{FAIL_AFTER_ENV: "validate"})
    assert code == EXIT_FAILED and "failure injected after stage validate" in capsys.readouterr().err
    validate = [r for r in _last_run(spark, base) if r.stage == "validate"][0]
    assert validate.status == "ok"
    assert "warning: input sales: the last accepted sale is on 2025-12-29, 2 days before" in validate.detail
    assert "warning: input inventory: as_of_date 2025-12-29 is 3 days before run_date" in validate.detail
    assert "quality.max_sales_lag_days=1" in validate.detail and "quality.max_inventory_age_days=1" in validate.detail
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("max_sales_lag_days" in m for m in warned) and any("max_inventory_age_days" in m for m in warned)
    _assert_plans_kept(spark, base, before)


def test_dry_run_summarises_each_input_and_exits_2_on_stale_inputs(planned, monkeypatch, capsys):
    base, _ = planned
    code = _run(monkeypatch, base, "stale", "--dry-run", out="dry_out")
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    assert "input sales     ok" in out and "3 quarantined; top reasons: NEGATIVE_UNITS 3" in out
    assert "input events    ok" in out and "would fail at validate" in out and "would run stages" not in out
    assert "the run would fail at validate: input sales: the last accepted sale is on 2025-12-22" in err
    assert "input inventory: as_of_date 2025-12-21" in err
    assert not (base / "dry_out").exists()


def test_dry_run_of_a_good_input_reports_freshness(planned, monkeypatch, capsys):
    base, _ = planned
    code = _run(monkeypatch, base, "in", "--dry-run", out="dry_out")
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "0 quarantined" in out and "last sale 2025-12-31 (0 days before the cutoff 2025-12-31)" in out
    assert "inventory as of 2025-12-31 (oldest 1 days before run_date)" in out and "would run stages" in out
    assert not (base / "dry_out").exists()


@pytest.mark.parametrize(("folder", "env", "words"), [
    ("empty", {}, "input sales: no rows in"),
    ("empty", {"SKUPLAN__QUALITY__EMPTY_SALES": "keep_previous"}, None),
    ("all_returns", {}, "quarantined, above quality.max_quarantine_ratio=0.05"),  # and none accepted
])
def test_dry_run_fails_where_the_run_would(planned, monkeypatch, capsys, folder, env, words):
    base, _ = planned
    code = _run(monkeypatch, base, folder, "--dry-run", out="dry_out", **env)
    out, err = capsys.readouterr()
    if words is None:  # a legal night without sales: the run would end after validate, status ok
        assert code == EXIT_OK and "would end after validate with status ok: kept the previous plans" in out
    else:
        assert code == EXIT_BAD_INPUT and words in err
    if folder == "all_returns":
        assert "input sales: none of the" in err and "was accepted" in err
    assert not (base / "dry_out").exists()


def test_a_fail_limit_below_the_warn_limit_is_a_config_error(monkeypatch, tmp_path, capsys):
    code = _run(monkeypatch, tmp_path, "in", "--dry-run", SKUPLAN__QUALITY__SALES_LAG_FAIL_DAYS="0")
    assert code == EXIT_BAD_INPUT
    assert "quality.sales_lag_fail_days (0) must be >= quality.max_sales_lag_days (1)" in capsys.readouterr().err


def test_judge_inputs_limits_and_notes():
    sales = TableCheck("sales", 10, 10, 0, dt.date(2025, 1, 1), dt.date(2025, 12, 20))
    never = judge_inputs(QualityConfig(sales_lag_fail_days=None), RUN_DATE, {"sales": sales}, "s")
    assert not never.problems and "max_sales_lag_days=1" in never.warnings[0]
    uncounted = TableCheck("inventory", 2, 2, 0)
    later = TableCheck("inventory", 2, 2, 0, RUN_DATE, RUN_DATE + dt.timedelta(days=3))
    v = judge_inputs(QualityConfig(), RUN_DATE, {"sales": sales, "inventory": uncounted}, "s")
    assert "no as_of_date" in v.notes[-1] and "sales_lag_fail_days=3" in v.problems[0]
    v = judge_inputs(QualityConfig(), RUN_DATE, {"inventory": later}, "s")  # no sales table at all
    assert "no rows in s" in v.problems[0] and "after run_date" in v.warnings[0]
