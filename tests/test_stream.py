"""`skuplan stream` on real Spark Structured Streaming and real Delta tables (file source, two micro-batches).

The stream runs in a subprocess that kills itself with SIGKILL in the middle of its second micro-batch (after the
reorder signal is committed, before the positions MERGE), then restarts here from the same checkpoint. The result
must equal the batch recomputation over all events (skuplan.stream.rules.recompute, from the opening stock of the
nightly snapshot) and the values worked out by hand in EXPECTED: nothing doubled, nothing lost, a redelivered
event dropped by the query's deduplication state, bad events quarantined with their reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from skuplan.stream.rules import recompute, signed_delta

T0 = dt.datetime(2026, 1, 1)
GOOD_1 = [  # batch 0; A opens at 10 from the nightly snapshot (OPENING), B has no snapshot row: 0
    ("a2", "A", "R1", "09:00", "sale", 4),  # A: 10 - 4 = 6
    ("a3", "A", "R1", "10:00", "sale", 2),  # 4 <= s=5: signal
    ("b1", "B", "R1", "09:30", "sale", 3),  # B: -3: alert (B has no policy: no signal)
]
BAD_1 = [  # reason_code, event
    (
        "unknown_kind",
        {
            "event_id": "q1",
            "item_id": "A",
            "region_id": "R1",
            "event_time": "2026-01-01T09:00:00Z",
            "kind": "teleport",
            "qty": 1,
        },
    ),
    (
        "non_numeric_qty",
        {
            "event_id": "q2",
            "item_id": "A",
            "region_id": "R1",
            "event_time": "2026-01-01T09:00:00Z",
            "kind": "sale",
            "qty": "ten",
        },
    ),
    (
        "missing_key",
        {"event_id": "q3", "item_id": "A", "event_time": "2026-01-01T09:00:00Z", "kind": "sale", "qty": 1},
    ),
    (
        "bad_event_time",
        {
            "event_id": "q4",
            "item_id": "A",
            "region_id": "R1",
            "event_time": "yesterday",
            "kind": "sale",
            "qty": 1,
        },
    ),
    (
        "negative_qty",
        {
            "event_id": "q5",
            "item_id": "A",
            "region_id": "R1",
            "event_time": "2026-01-01T09:00:00Z",
            "kind": "sale",
            "qty": -2,
        },
    ),
]
GOOD_2 = [  # batch 1
    ("a2", "A", "R1", "09:00", "sale", 4),  # redelivered: dropped
    ("a4", "A", "R1", "11:00", "receipt", 20),  # 24
    ("a5", "A", "R1", "12:00", "sale", 19),  # 5 <= 5: second crossing, signal
    ("a6", "A", "R1", "12:30", "sale", 1),  # 4: still below, no signal
    ("b2", "B", "R1", "08:30", "return", 1),  # late (complete_through was 09:00): applied, B -2
    ("b3", "B", "R1", "13:00", "receipt", 5),  # 3
]
# on_hand, events, late, opening_on_hand, opening_run_date
EXPECTED_POSITIONS = {
    ("A", "R1"): (4.0, 5, 0, 10.0, dt.date(2026, 1, 1)),
    ("B", "R1"): (3.0, 3, 1, 0.0, None),
}
OPENING = {
    ("A", "R1"): 10.0
}  # staged_inventory of the latest base run (older and what-if rows must be ignored)
EXPECTED_SIGNALS = {"a3": 4.0, "a5": 5.0}  # event_id -> on_hand after it
LATENESS_MINUTES = 60


def _event(e):
    event_id, item, region, hhmm, kind, qty = e
    return {
        "event_id": event_id,
        "item_id": item,
        "region_id": region,
        "event_time": f"2026-01-01T{hhmm}:00Z",
        "kind": kind,
        "qty": qty,
    }


def _write_events(folder):
    folder.mkdir(parents=True)
    lines_1 = [json.dumps(_event(e)) for e in GOOD_1] + [json.dumps(b) for _, b in BAD_1] + ["{not json"]
    (folder / "part-0.json").write_text("\n".join(lines_1) + "\n")
    (folder / "part-1.json").write_text("\n".join(json.dumps(_event(e)) for e in GOOD_2) + "\n")
    os.utime(folder / "part-0.json", (1_700_000_000, 1_700_000_000))  # the file source orders files by mtime
    os.utime(folder / "part-1.json", (1_700_000_100, 1_700_000_100))


def _write_policy(spark, out_root):
    rows = [
        ("A", "R1", "ok", 5.0, 20.0, dt.date(2026, 1, 1), "base"),
        ("A", "R1", "ok", 50.0, 1.0, dt.date(2025, 12, 31), "base"),
        ("A", "R1", "ok", 90.0, 1.0, dt.date(2026, 1, 1), "what_if"),  # a scenario is not the plan in force
    ]
    schema = (
        "item_id string, region_id string, status string, reorder_point double, order_qty_policy double, "
        "run_date date, scenario string"
    )
    spark.createDataFrame(rows, schema).write.format("delta").partitionBy("run_date").save(
        str(out_root / "inventory_policy")
    )


def _write_snapshot(spark, out_root):
    rows = [
        ("A", "R1", 10.0, dt.date(2026, 1, 1), "base"),
        ("A", "R1", 99.0, dt.date(2025, 12, 31), "base"),
        ("A", "R1", 77.0, dt.date(2026, 1, 1), "what_if"),
    ]
    schema = "item_id string, region_id string, on_hand double, run_date date, scenario string"
    spark.createDataFrame(rows, schema).write.format("delta").partitionBy("run_date").save(
        str(out_root / "staged_inventory")
    )


def _env(root):
    return {
        **os.environ,
        "SKUPLAN__INPUTS__ROOT": str(root / "in"),
        "SKUPLAN__OUTPUTS__ROOT": str(root / "out"),
        "SKUPLAN__STREAM__MAX_FILES_PER_BATCH": "1",
        "SKUPLAN__SPARK__SHUFFLE_PARTITIONS": "2",
        "SKUPLAN__STREAM__ALLOWED_LATENESS_MINUTES": str(LATENESS_MINUTES),
    }


def _recomputed():
    rows = [_event(e) for e in GOOD_1 + GOOD_2]
    events = pd.DataFrame(rows).drop_duplicates("event_id")
    events["event_time"] = pd.to_datetime(events["event_time"]).dt.tz_localize(None)
    events["delta"] = signed_delta(events["kind"], events["qty"])
    policy = pd.DataFrame({"item_id": ["A"], "region_id": ["R1"], "reorder_point": [5.0]})
    opening = pd.DataFrame([{"item_id": i, "region_id": r, "on_hand": v} for (i, r), v in OPENING.items()])
    return recompute(events, policy, opening)


@pytest.mark.slow
def test_kill_mid_batch_and_restart_equals_the_batch_recomputation(spark, tmp_path, repo_root):
    from skuplan.config import load_config
    from skuplan.stream.batch import KILL_ENV
    from skuplan.stream.job import start_stream

    _write_events(tmp_path / "in" / "stream_events")
    _write_policy(spark, tmp_path / "out")
    _write_snapshot(spark, tmp_path / "out")
    env = {**_env(tmp_path), KILL_ENV: "1:after_signals", "SKUPLAN__STREAM__POSITIONS_WRITE": "merge"}
    killed = subprocess.run(
        [sys.executable, "-m", "skuplan.cli", "stream", "--conf", str(repo_root / "conf"), "--available-now"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    def table(name):
        return spark.read.format("delta").load(str(tmp_path / "out" / name)).toPandas()

    # The kill left batch 1 half written: its signal (a5) committed, the positions not merged yet.
    assert set(table("reorder_signals")["event_id"]) == {"a3", "a5"}
    assert table("inventory_position").set_index("item_id")["batch_id"].to_dict() == {"A": 0, "B": 0}

    # The restart writes the positions by overwrite (the killed run merged them): both ways, one answer.
    cfg = load_config(
        repo_root / "conf", environ={**_env(tmp_path), "SKUPLAN__STREAM__POSITIONS_WRITE": "overwrite"}
    )
    assert cfg.stream.positions_write == "overwrite"
    query = start_stream(spark, cfg, available_now=True)
    query.awaitTermination()
    assert query.exception() is None

    positions, flagged = _recomputed()
    got = table("inventory_position").sort_values(["item_id", "region_id"]).reset_index(drop=True)
    assert got[["item_id", "region_id", "on_hand", "events_applied"]].to_dict("records") == positions.to_dict(
        "records"
    )
    assert {
        (r.item_id, r.region_id): (
            r.on_hand,
            r.events_applied,
            r.late_events,
            r.opening_on_hand,
            None if pd.isna(r.opening_run_date) else r.opening_run_date,
        )
        for r in got.itertuples()
    } == EXPECTED_POSITIONS
    # Both rows were last updated by batch 1, whose latest event was 13:00.
    assert set(got["complete_through"]) == {
        pd.Timestamp("2026-01-01 13:00") - pd.Timedelta(minutes=LATENESS_MINUTES)
    }

    signals = table("reorder_signals")
    assert sorted(signals["event_id"]) == sorted(flagged.loc[flagged["signal"], "event_id"]) == ["a3", "a5"]
    assert dict(zip(signals["event_id"], signals["on_hand"], strict=True)) == EXPECTED_SIGNALS
    # The policy of the latest run_date (s=5, Q=20), not the older one (s=50).
    assert set(signals["order_qty"]) == {20.0} and set(signals["policy_run_date"]) == {dt.date(2026, 1, 1)}
    assert signals["signal_id"].is_unique

    alerts = table("stream_alerts")
    assert alerts["event_id"].tolist() == flagged.loc[flagged["alert"], "event_id"].tolist() == ["b1"]

    quarantine = table("stream_quarantine")
    assert sorted(quarantine["reason_code"]) == sorted([code for code, _ in BAD_1] + ["malformed"])
    assert quarantine["reason"].str.len().min() > 10 and quarantine["payload"].notna().all()
    assert quarantine.loc[quarantine["reason_code"] == "non_numeric_qty", "payload"].str.contains("ten").all()

    # The report's intraday section: signals per hour of event time (a3 at 10:00, a5 at 12:00) and the one
    # position at or below its reorder point now (A: 4 <= 5; B has no policy).
    from skuplan.report import write_report

    page = write_report(spark, cfg, dt.date(2026, 1, 1), tmp_path / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="intraday">') :].split("</section>")[0]
    assert "2 positions kept by the stream" in section and "1 at or below their reorder point now" in section
    assert "10:00" in section and "12:00" in section and "11:00" not in section
    assert "<td>A</td><td>R1</td><td>4.0</td><td>5.0</td><td>20.0</td>" in section


@pytest.mark.slow
@pytest.mark.parametrize(("max_mb", "operation"), [("64", "WRITE"), ("0", "MERGE")])
def test_auto_positions_write_overwrites_a_small_table_and_merges_above_the_limit(
    spark, tmp_path, repo_root, max_mb, operation
):
    """positions_write auto (the default): the test's table of two positions (a few KB) is under 64 MB, so every
    batch rewrites it (a Delta WRITE); with the limit at 0 MB every batch MERGEs. The positions are the same."""
    from skuplan.config import load_config
    from skuplan.stream.job import start_stream

    _write_events(tmp_path / "in" / "stream_events")
    _write_policy(spark, tmp_path / "out")
    _write_snapshot(spark, tmp_path / "out")
    cfg = load_config(repo_root / "conf", environ={**_env(tmp_path), "SKUPLAN__STREAM__OVERWRITE_MAX_MB": max_mb})
    assert cfg.stream.positions_write == "auto"
    query = start_stream(spark, cfg, available_now=True)
    query.awaitTermination()
    assert query.exception() is None
    path = str(tmp_path / "out" / "inventory_position")
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").toPandas()
    # Version 0 created the empty table; auto-compaction (maintenance.auto_compact) may add an OPTIMIZE.
    writes = history.loc[(history["version"] > 0) & (history["operation"] != "OPTIMIZE"), "operation"]
    assert len(writes) == 2 and set(writes) == {operation}  # one write per micro-batch
    positions, _ = _recomputed()
    got = spark.read.format("delta").load(path).toPandas().sort_values(["item_id", "region_id"])
    assert got[["item_id", "region_id", "on_hand", "events_applied"]].to_dict("records") == positions.to_dict(
        "records"
    )
