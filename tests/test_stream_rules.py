"""The stream's pure rules (skuplan.stream.rules): event effects, crossings, alerts and the batch recomputation,
checked against positions and crossings worked out by hand. No Spark."""

from __future__ import annotations

import pandas as pd
import pytest

from skuplan.config import ConfigError, load_config
from skuplan.stream.rules import apply_events, recompute, signed_delta


def _events(rows):
    df = pd.DataFrame(rows, columns=["event_id", "item_id", "region_id", "event_time", "kind", "qty"])
    df["event_time"] = pd.to_datetime(df["event_time"])
    return df.assign(delta=signed_delta(df["kind"], df["qty"]))


def test_signed_delta_follows_the_kind():
    ev = _events(
        [
            ("1", "A", "R", "2026-01-01", k, q)
            for k, q in (("sale", 3), ("return", 2), ("receipt", 5), ("adjustment", -4))
        ]
    )
    assert ev["delta"].tolist() == [-3.0, 2.0, 5.0, -4.0]


def test_one_signal_per_crossing_rearmed_only_by_a_rise_above_the_point():
    # Stock 10 -> 6 -> 4 (crosses s=5) -> 3 (still below: no signal) -> 23 (receipt re-arms) -> 5 (at s: signal).
    ev = _events(
        [
            ("e1", "A", "R", "2026-01-01 08:00", "adjustment", 10),
            ("e2", "A", "R", "2026-01-01 09:00", "sale", 4),
            ("e3", "A", "R", "2026-01-01 10:00", "sale", 2),
            ("e4", "A", "R", "2026-01-01 10:30", "sale", 1),
            ("e5", "A", "R", "2026-01-01 11:00", "receipt", 20),
            ("e6", "A", "R", "2026-01-01 12:00", "sale", 18),
        ]
    )
    out = apply_events(ev.iloc[::-1], 0.0, 5.0)  # arrival order within a batch does not matter
    assert out["on_hand"].tolist() == [10.0, 6.0, 4.0, 3.0, 23.0, 5.0]
    assert out.loc[out["signal"], "event_id"].tolist() == ["e3", "e6"]
    assert not out["alert"].any()


def test_start_stock_and_ties_and_negative_alert():
    # Starting at 7 with s=8: already below, the first sale must not signal; two events at the same time are
    # ordered by event_id; only the step from >= 0 to < 0 alerts (0 -> -1), not -1 -> -2.
    ev = _events(
        [
            ("b", "A", "R", "2026-01-01 09:00", "sale", 7),
            ("a", "A", "R", "2026-01-01 09:00", "sale", 0),
            ("c", "A", "R", "2026-01-01 10:00", "sale", 1),
            ("d", "A", "R", "2026-01-01 11:00", "sale", 1),
        ]
    )
    out = apply_events(ev, 7.0, 8.0)
    assert out["event_id"].tolist() == ["a", "b", "c", "d"]
    assert out["on_hand"].tolist() == [7.0, 0.0, -1.0, -2.0]
    assert not out["signal"].any()
    assert out.loc[out["alert"], "event_id"].tolist() == ["c"]
    assert not apply_events(ev, 20.0, None)["signal"].any()  # no policy: no signal


def test_recompute_sums_per_key_and_flags_from_zero():
    ev = _events(
        [
            ("1", "A", "R", "2026-01-01 08:00", "adjustment", 3),
            ("2", "A", "R", "2026-01-01 09:00", "sale", 2),  # 3 -> 1 crosses s=2
            ("3", "B", "R", "2026-01-01 09:00", "sale", 1),  # 0 -> -1 alerts
        ]
    )
    positions, flagged = recompute(
        ev, pd.DataFrame({"item_id": ["A"], "region_id": ["R"], "reorder_point": [2.0]})
    )
    assert positions.to_dict("records") == [
        {"item_id": "A", "region_id": "R", "on_hand": 1.0, "events_applied": 2},
        {"item_id": "B", "region_id": "R", "on_hand": -1.0, "events_applied": 1},
    ]
    assert flagged[["event_id", "signal", "alert"]].values.tolist() == [
        ["2", True, False],
        ["3", False, True],
    ]


def test_stream_config_rejects_unsafe_values(repo_root):
    base = {"stream": {"kafka": {"options": {"sasl.jaas.config": "x"}}}}
    with pytest.raises(ConfigError, match="stream.kafka.options.*secret store"):
        load_config(repo_root / "conf", environ={}, overrides=base)
    with pytest.raises(ConfigError, match="bootstrap_servers"):
        load_config(
            repo_root / "conf", environ={}, overrides={"stream": {"kafka": {"bootstrap_servers": "a b"}}}
        )
    with pytest.raises(ConfigError, match="path traversal"):
        load_config(repo_root / "conf", environ={}, overrides={"stream": {"checkpoint": "../x"}})
    cfg = load_config(repo_root / "conf", environ={"SKUPLAN__STREAM__SOURCE": "kafka"})
    assert cfg.stream.source == "kafka" and cfg.stream.kafka.topic == "inventory-events"


def test_dedup_retention_and_positions_write_are_checked(repo_root):
    cfg = load_config(repo_root / "conf", environ={})
    assert cfg.stream.dedup_retention_minutes == 60 and cfg.stream.positions_write == "auto"
    assert cfg.stream.overwrite_max_mb == 64.0
    with pytest.raises(ConfigError, match="dedup_retention_minutes"):
        load_config(repo_root / "conf", environ={"SKUPLAN__STREAM__DEDUP_RETENTION_MINUTES": "0"})
    with pytest.raises(ConfigError, match="positions_write"):
        load_config(repo_root / "conf", environ={"SKUPLAN__STREAM__POSITIONS_WRITE": "upsert"})
