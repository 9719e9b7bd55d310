"""Typed configuration of the DC -> region allocation LP (pure pydantic, no Spark)."""

from __future__ import annotations

import difflib
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AllocationConfig(BaseModel):
    """Allocation settings; every bad value fails with a message naming the key and the allowed range."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_days: int = Field(14, ge=1, description="lanes with lead_time_days > horizon_days are not used")
    partition_key: str = Field("category", min_length=1, description="requirements column grouping items")
    default_shortage_penalty: float = Field(100.0, gt=0, description="cost per unit short, before priority")
    region_priority: dict[str, float] = Field(default_factory=dict, description="region_id -> multiplier > 0")
    min_fill_ratio: float | None = Field(
        None,
        description="soft floor: shortage below ratio * requirement costs a large extra penalty per unit",
    )
    integer: bool = False
    holding_cost: float = Field(0.0, ge=0, description="cost per unit left unallocated at a DC")
    rebalancing: bool = False
    transfer_cost: float = Field(1.0, ge=0, description="extra cost per unit moved region -> region")
    transfer_lead_time_days: int = Field(1, ge=0, description="added to the lane lead time of a transfer")
    lane_capacity_scope: Literal["item", "partition"] = Field(
        "item", description="lanes.capacity bounds each item's flow, or the partition's total flow"
    )
    time_limit_s: float = Field(60.0, gt=0, description="solver budget for one solve_allocation call")
    tie_break: float = Field(
        1e-6, ge=0, le=1e-3, description="scale of the fixed per-lane cost that makes the optimum unique"
    )
    # Tuning knobs (see bench/allocation_bench.py for the figures behind the defaults).
    batch_vars: int = Field(10_000, ge=1, description="target LP variables per block-diagonal solver call")
    presolve: bool = False  # our pruning leaves HiGHS presolve little to do: ~30% slower with it (bench)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # pydantic's "Extra inputs are not permitted" does not say what *is* permitted; a typo should.
        if isinstance(data, dict):
            allowed = sorted(cls.model_fields)
            unknown = sorted(k for k in data if k not in cls.model_fields)
            if unknown:
                hints = [
                    f"{k!r} (did you mean {m[0]!r}?)"
                    if (m := difflib.get_close_matches(str(k), allowed, 1))
                    else repr(k)
                    for k in unknown
                ]
                raise ValueError(
                    f"unknown allocation key(s) {', '.join(hints)}; allowed keys: {', '.join(allowed)}"
                )
        return data

    @field_validator("min_fill_ratio")
    @classmethod
    def _ratio_in_unit_interval(cls, v: float | None) -> float | None:
        if v is not None and not (0.0 <= v <= 1.0):
            raise ValueError(f"min_fill_ratio must be null or in [0, 1], got {v}")
        return v

    @field_validator("region_priority")
    @classmethod
    def _positive_priorities(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: p for k, p in v.items() if not (math.isfinite(p) and p > 0)}
        if bad:
            raise ValueError(f"region_priority multipliers must be finite and > 0, got {bad}")
        return v

    @field_validator("default_shortage_penalty", "holding_cost", "transfer_cost", "time_limit_s")
    @classmethod
    def _finite(cls, v: float, info: Any) -> float:
        if not math.isfinite(v):
            raise ValueError(f"{info.field_name} must be finite, got {v}")
        return v
