"""Delta writer: replaceWhere per run_date, few files, comments kept in the table metadata."""

from __future__ import annotations

import datetime as dt
import os

from skuplan.config import load_config
from skuplan.io import read_table, write_partition

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)


def test_partition_replaced_not_appended_and_comments_kept(spark, tmp_path, repo_root):
    cfg = load_config(repo_root / "conf", environ={},
                      overrides={"outputs": {"root": str(tmp_path), "max_files_per_partition": 2}})
    rows = [(f"I{i:03d}", "R1", D1, float(i), "sba") for i in range(50)]
    df = spark.createDataFrame(rows, "item_id string, region_id string, date date, yhat double, model string")
    v0, n0 = write_partition(df, cfg, "forecasts", D1)
    write_partition(df.limit(10), cfg, "forecasts", D2)
    v2, n2 = write_partition(df.limit(5), cfg, "forecasts", D1)  # rerun of D1 with other content
    assert (n0, n2) == (50, 5) and v2 > v0
    assert read_table(spark, cfg, "forecasts", D1).count() == 5
    assert read_table(spark, cfg, "forecasts", D2).count() == 10
    part = tmp_path / "forecasts" / "run_date=2026-01-01"
    assert len([f for f in os.listdir(part) if f.endswith(".parquet")]) <= 2 * 2  # two commits of D1, at most 2 files each
    desc = {r.col_name: r.comment for r in spark.sql(f"DESCRIBE TABLE delta.`{tmp_path / 'forecasts'}`").collect()}
    assert desc["yhat"] == "point forecast of units for the day"
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{tmp_path / 'forecasts'}`").first()
    assert detail.description.startswith("Daily forecast per item x region")


def test_relative_output_root_works(spark, tmp_path, repo_root, monkeypatch):
    # The demo's conf uses a relative root (output/delta); Delta's builder would read it as a table name.
    cfg = load_config(repo_root / "conf", environ={}, overrides={"outputs": {"root": "out/delta"}})
    monkeypatch.chdir(tmp_path)
    df = spark.createDataFrame([("I1", "R1", D1, 1.0, "sba")],
                               "item_id string, region_id string, date date, yhat double, model string")
    assert write_partition(df, cfg, "forecasts", D1)[1] == 1
    assert (tmp_path / "out" / "delta" / "forecasts" / "_delta_log").is_dir()
