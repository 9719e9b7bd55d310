"""InventoryConfig validation: unknown keys and bad values fail with the key and what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skuplan.inventory import InventoryConfig


@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        ({"policy": "minmax"}, ["policy", "'sQ'", "'RS'", "'sS'", "'auto'"]),
        ({"shortage_mode": "lost"}, ["shortage_mode", "'backorder'", "'lost_sales'"]),
        ({"abc_cutoffs": (0.95, 0.8)}, ["abc_cutoffs", "0 < first < second <= 1"]),
        ({"segment_service_levels": {"AX": 1.2}}, ["segment_service_levels", "(0, 1)", "AX"]),
        (
            {"auto_policy_by_class": {"smooth": "sQ", "slow": "RS"}},
            ["auto_policy_by_class", "slow", "smooth"],
        ),
        ({"replay": {"holdout": 30}}, ["replay.holdout", "Extra inputs are not permitted"]),
        ({"kmeans": {"k_min": 5, "k_max": 3}}, ["k_max must be >= kmeans.k_min"]),
        ({"alerts": {"overstock_factor": 0}}, ["alerts.overstock_factor", "greater than 0"]),
    ],
)
def test_bad_values_name_key_and_allowed(kwargs, needles):
    with pytest.raises(ValidationError) as err:
        InventoryConfig(**kwargs)
    text = str(err.value)
    for needle in needles:
        assert needle in text


def test_defaults_are_consistent():
    cfg = InventoryConfig()
    assert cfg.policy == "sQ" and cfg.review_period_days == 7 and cfg.abc_cutoffs == (0.8, 0.95)
    assert set(cfg.auto_policy.values()) <= {"sQ", "RS", "sS"}
    assert InventoryConfig.model_validate(cfg.model_dump()) == cfg
