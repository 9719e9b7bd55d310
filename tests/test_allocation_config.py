"""AllocationConfig: defaults and validation messages that name the key and the allowed values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skuplan.allocation import AllocationConfig


def test_defaults_match_contract():
    cfg = AllocationConfig()
    assert (cfg.horizon_days, cfg.partition_key, cfg.default_shortage_penalty) == (14, "category", 100.0)
    assert (cfg.region_priority, cfg.min_fill_ratio, cfg.integer, cfg.holding_cost) == ({}, None, False, 0.0)
    assert (cfg.rebalancing, cfg.time_limit_s, cfg.tie_break, cfg.lane_capacity_scope) == (
        False,
        60.0,
        1e-6,
        "item",
    )


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        (
            {"horizon": 7},
            ["unknown allocation key(s) 'horizon' (did you mean 'horizon_days'?)", "allowed keys:"],
        ),
        ({"min_fill_ratio": 1.5}, ["min_fill_ratio must be null or in [0, 1], got 1.5"]),
        ({"lane_capacity_scope": "dc"}, ["lane_capacity_scope", "'item' or 'partition'"]),
        (
            {"region_priority": {"R1": -1.0}},
            ["region_priority multipliers must be finite and > 0", "'R1': -1.0"],
        ),
        ({"time_limit_s": 0}, ["time_limit_s", "greater than 0"]),
        ({"horizon_days": 0}, ["horizon_days", "greater than or equal to 1"]),
        ({"default_shortage_penalty": float("inf")}, ["default_shortage_penalty must be finite"]),
        ({"tie_break": 0.5}, ["tie_break", "less than or equal to 0.001"]),
    ],
)
def test_bad_values_name_key_and_allowed_values(kwargs, fragments):
    with pytest.raises(ValidationError) as exc:
        AllocationConfig(**kwargs)
    for fragment in fragments:
        assert fragment in str(exc.value)


def test_from_yaml_like_dict():
    cfg = AllocationConfig.model_validate(
        {"horizon_days": 7, "region_priority": {"north": 2}, "integer": True}
    )
    assert cfg.region_priority == {"north": 2.0} and cfg.integer
