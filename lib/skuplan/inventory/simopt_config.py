"""Configuration of the simulation-optimised policy (inventory.simopt); pure pydantic, imported by config.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SimOptConfig(BaseModel):
    """Search per group of series (cfg `group_by`) for the levels of least cost at the target service.

    Levels are the analytic plan's, moved by one shift of the reorder level (in units of each series'
    sigma_protection) and one lot multiplier per group; both are searched on seeded bootstrap demand paths.
    """

    model_config = ConfigDict(extra="forbid")

    # Run the search in the replay (and so in the nightly policy_backtest, reported beside the analytic policy).
    enabled: bool = False
    # Which levels the replay scores as the policy in use: the analytic ones, the searched ones, or per group
    # the searched ones only where they win in the replay (closer to target, or as close and cheaper).
    use: Literal["analytic", "simopt", "auto"] = "auto"
    group_by: list[Literal["segment", "demand_class", "policy", "service_type"]] = [
        "segment", "demand_class", "policy", "service_type",
    ]  # fmt: skip
    # Bootstrap paths per series: `paths` to search on, `holdout_paths` (other draws) for the reported figure.
    paths: int = Field(6, ge=1, le=200)
    holdout_paths: int = Field(4, ge=1, le=200)
    horizon_days: int = Field(182, ge=28, le=1830)
    # Days of each path simulated but not scored (the integer warm start is already stationary for sQ).
    warmup_days: int = Field(14, ge=0)
    # Days of history the paths resample, counted back from the plan's origin (days before the first sale
    # are left out).
    history_days: int = Field(182, ge=28)
    # The forecast level error of the plan is redrawn every this many days (the job re-plans weekly).
    level_block_days: int = Field(7, ge=1)
    lot_multipliers: list[float] = [0.5, 0.75, 1.0, 1.5, 2.0]
    shift_range: tuple[float, float] = (-4.0, 4.0)
    bisection_steps: int = Field(12, ge=4, le=40)
    # "Wins": |achieved - target| within this many pp and cheaper than the analytic levels, or closer to target.
    tolerance_pp: float = Field(1.0, gt=0, le=20)
    seed: int = 7

    @field_validator("lot_multipliers")
    @classmethod
    def _lots(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < m <= 20 for m in v):
            raise ValueError(
                f"simopt.lot_multipliers must be a non-empty list of numbers in (0, 20], got {v}"
            )
        return sorted(set(v))

    @model_validator(mode="after")
    def _range(self) -> SimOptConfig:
        lo, hi = self.shift_range
        if not lo < hi:
            raise ValueError(f"simopt.shift_range must satisfy first < second, got {self.shift_range}")
        if self.warmup_days >= self.horizon_days:
            raise ValueError("simopt.warmup_days must be < simopt.horizon_days")
        return self
