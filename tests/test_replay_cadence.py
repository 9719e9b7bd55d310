"""Which nights replay the policy and which carry the last replay forward (inventory.replay.every_days), on real
policy_backtest Delta tables written by the pipeline's own writer into a temp output root."""

from __future__ import annotations

import datetime as dt

import pytest

from golden.outputs import golden_config
from skuplan import io
from skuplan.contracts import contract
from skuplan.inventory.config import replay_basis
from skuplan.run_context import RunContext
from skuplan.schemas import struct_type
from skuplan.stages.replay_cadence import carried_replay

D1 = dt.date(2026, 3, 1)


def _day(n: int) -> dt.date:
    return D1 + dt.timedelta(days=n - 1)


def _with(cfg, every_days: int = 7, **inventory):
    replay = cfg.inventory.replay.model_copy(update={"every_days": every_days})
    inv = cfg.inventory.model_copy(update={"replay": replay, **inventory})
    return cfg.model_copy(update={"inventory": inv})


def _write(spark, cfg, night: int, replayed: int, basis: str, demand: float, scenario: str = io.BASE_SCENARIO):
    """Night `night`'s policy_backtest partition: two series whose figures came from night `replayed`'s replay."""
    names = [c.name for c in contract("policy_backtest").columns]
    rows = []
    for item in ("A", "B"):
        row = dict.fromkeys(names)
        row.update(item_id=item, region_id="R1", policy="sQ", demand=demand, replay_run_date=_day(replayed),
                   replay_basis=basis)  # fmt: skip
        rows.append(row)
    df = spark.createDataFrame(rows, struct_type(contract("policy_backtest"), all_nullable=True))
    io.write_partition(df, cfg, "policy_backtest", _day(night), scenario=scenario)


@pytest.fixture(scope="module")
def cfg(spark, tmp_path_factory):
    """Nights 1 (a replay) and 5 (night 1's carried forward) in base; night 3 of scenario other; night 4 of an old
    basis."""
    root = tmp_path_factory.mktemp("cadence")
    cfg = _with(golden_config(root / "in", root / "out"))
    basis = replay_basis(cfg.inventory, cfg.forecast.max_history_days)
    _write(spark, cfg, night=1, replayed=1, basis=basis, demand=10.0)
    _write(spark, cfg, night=5, replayed=1, basis=basis, demand=10.0)
    _write(spark, cfg, night=3, replayed=3, basis=basis, demand=30.0, scenario="other")
    _write(spark, cfg, night=6, replayed=6, basis="0123456789abcdef", demand=60.0)
    return cfg


def _carry(spark, cfg, night: int, **kw):
    return carried_replay(RunContext(spark, cfg, _day(night), **kw))


def test_a_night_within_the_cadence_carries_the_last_replay_forward(spark, cfg):
    # Night 7: the replay of night 1 is 6 days old (< 7); the latest night holding it under this basis is 5 (night
    # 6 was written under other settings and is passed over).
    rows, why = _carry(spark, cfg, 7)
    assert why == f"replay of {_day(1)} carried forward from {_day(5)} (inventory.replay.every_days = 7)"
    got = sorted((r["item_id"], r["demand"], r["replay_run_date"]) for r in rows.collect())
    assert got == [("A", 10.0, _day(1)), ("B", 10.0, _day(1))]
    assert rows.columns == [c.name for c in contract("policy_backtest").columns]


def test_a_replay_every_days_old_is_due_again(spark, cfg):
    # Night 8: night 1's replay is 7 days old; nights 2..7 hold no fresher one under this basis.
    rows, why = _carry(spark, cfg, 8)
    assert rows is None and why == "replayed (no replay under these settings in the 6 nights before)"


def test_changed_settings_force_a_replay(spark, cfg):
    rows, _ = _carry(spark, _with(cfg, z_max=1.0), 2)
    assert rows is None
    # Night 7 under the basis night 6 was written with would carry night 6; under tonight's it carries night 5.
    rows, _ = _carry(spark, cfg, 7)
    assert {r["demand"] for r in rows.collect()} == {10.0}


def test_every_night_full_refresh_and_other_scenarios_replay(spark, cfg):
    assert _carry(spark, _with(cfg, every_days=1), 2) == (None, "replayed (inventory.replay.every_days = 1)")
    assert _carry(spark, cfg, 2, full_refresh=True) == (None, "replayed (--full-refresh)")
    # Scenario other replayed on night 3: its night 4 carries that, base rows are not its own.
    rows, _ = _carry(spark, cfg, 4, scenario="other")
    assert [r["demand"] for r in rows.collect()] == [30.0, 30.0]
    assert _carry(spark, cfg, 2, scenario="third")[0] is None


def test_a_night_never_carries_its_own_or_a_later_partition(spark, cfg):
    # Night 1 rerun: only nights before it count, and there are none.
    assert _carry(spark, cfg, 1)[0] is None
