"""Typed configuration of the inventory-policy package (pure pydantic, no Spark).

Every model forbids unknown keys, so a typo in YAML fails loudly with the dotted key; Literal fields list
their allowed values in pydantic's message, range checks below name the key and the range.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skuplan.inventory.simopt_config import SimOptConfig

PolicyName = Literal["sQ", "RS", "sS"]
POLICIES: tuple[str, ...] = ("sQ", "RS", "sS")
DEMAND_CLASSES: tuple[str, ...] = ("smooth", "erratic", "intermittent", "lumpy")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _cutoff_pair(value: tuple[float, float], key: str, upper: float | None) -> tuple[float, float]:
    lo, hi = value
    top = "" if upper is None else f" <= {upper}"
    if not (0 < lo < hi and (upper is None or hi <= upper)):
        raise ValueError(f"{key} must satisfy 0 < first < second{top}, got {value!r}")
    return value


class AlertThresholds(_Strict):
    """When each alert type fires (see alerts.py for the exact rules)."""

    # overstock: on hand above this multiple of the policy maximum (order_up_to).
    overstock_factor: float = Field(1.0, gt=0, description="on_hand > factor * order_up_to, > 0")
    # overstock_days: days of supply (on hand / forecast daily demand) above this.
    max_days_of_supply: float = Field(90.0, gt=0)
    # dead_stock: stock on hand and no sale for at least this many days.
    dead_stock_days: int = Field(90, ge=1)
    # severity "high" when the ratio value/threshold crosses this (stockout: cover below half the gap).
    high_severity_ratio: float = Field(0.5, gt=0, lt=1)
    # Master-data sanity (legal but implausible values; issue 13). moq_exceeds_demand: the MOQ covers more than
    # this many days of forecast demand (moq / d, d > 0). A year: slow movers with a one-case MOQ stay below it.
    moq_max_days_of_demand: float = Field(365.0, gt=0)
    # Beyond this many days of demand the MOQ is taken for a data error (47 years of stock is no purchase anyone
    # means) and orders leave it out, the alert then high; between the two limits the MOQ is applied and only
    # flagged. null: always applied. See docs/decisions.md (2026-11-30, absurd master data).
    moq_ignore_days_of_demand: float | None = Field(3650.0, gt=0)
    # long_lead_time: lead_time_days above this (the lead time is used as given: it is a fact, not a choice).
    max_lead_time_days: float = Field(180.0, gt=0)

    @model_validator(mode="after")
    def _moq_limits(self) -> AlertThresholds:
        ignore = self.moq_ignore_days_of_demand
        if ignore is not None and ignore < self.moq_max_days_of_demand:
            raise ValueError(
                "alerts.moq_ignore_days_of_demand must be >= alerts.moq_max_days_of_demand (or null), got "
                f"{ignore} < {self.moq_max_days_of_demand}"
            )
        return self


class ReplayConfig(_Strict):
    """Hold-out replay: policy fitted on history before the last `holdout_days`, replayed on them."""

    # The nightly run replays every series with enough history and writes policy_backtest.
    enabled: bool = True
    # Replay every this many nights; the nights between carry the last replay's rows forward (replay_run_date
    # says whose they are): the hold-out moves by a day a night, and the replay is the policy stage's dearest
    # part (skuplan.stages.replay_cadence). 1 = every night.
    every_days: int = Field(7, ge=1, le=366)
    holdout_days: int = Field(182, ge=7, le=3660)
    # Demand class, segment, sigma (forecast error) and bootstrap use this many days before an origin.
    fit_window_days: int = Field(182, ge=14)
    # The replay's stand-in forecast: trailing mean over this many days (sparse: intermittent/lumpy).
    forecast_window_days: int = Field(28, ge=1)
    forecast_window_days_sparse: int = Field(91, ge=1)
    # Re-fit the policy every this many days during the hold-out, as the nightly job re-plans (weekly: a plan
    # held through a seasonal half-year misses by ~10 pp, issue 14); 0 = never.
    replan_every_days: int = Field(7, ge=0)
    # Days at the start of the hold-out that are simulated but not scored (lets the warm start settle).
    warmup_days: int = Field(0, ge=0)
    # Initial on hand (no pipeline): "auto" = reorder_point + Q/2 for sQ (mid-cycle), order_up_to for RS/sS.
    initial_stock: Literal["auto", "order_up_to", "rop_plus_half_q"] = "auto"
    # Penalty per unit short (lost or backordered), added to the replay cost; 0 = cost is holding + ordering.
    shortage_cost_per_unit: float = Field(0.0, ge=0)


class LotSizingConfig(_Strict):
    """Wagner-Whitin replaces EOQ where ordering cost dominates and a forecast path is given."""

    method: Literal["eoq", "wagner_whitin", "auto"] = "auto"
    period_days: int = Field(7, ge=1, le=366, description="bucket size of the Wagner-Whitin horizon")
    # "Ordering cost dominates" = the EOQ covers at least this many periods of demand: lots then span
    # several buckets and the timing of lumps in the forecast matters, which is what WW optimises.
    min_eoq_cover_periods: float = Field(2.0, gt=0)


class KMeansConfig(_Strict):
    k_min: int = Field(2, ge=2)
    k_max: int = Field(6, ge=2, le=50)
    n_init: int = Field(4, ge=1, le=50)
    max_iter: int = Field(100, ge=1)
    # Silhouette is O(n^2): scored on a seeded sample of at most this many series.
    silhouette_sample: int = Field(2000, ge=10)

    @model_validator(mode="after")
    def _order(self) -> KMeansConfig:
        if self.k_max < self.k_min:
            raise ValueError(
                f"kmeans.k_max must be >= kmeans.k_min, got k_min={self.k_min}, k_max={self.k_max}"
            )
        return self


class InventoryConfig(_Strict):
    # Review period R of the periodic policies (RS, sS): their protection interval is L + R.
    review_period_days: float = Field(7, gt=0, le=365)
    # The batch runs daily, so a "continuous" (s, Q) policy is in fact reviewed every day.
    continuous_review_days: float = Field(1, gt=0, le=365)
    policy: Literal["sQ", "RS", "sS", "auto"] = "sQ"
    # policy="auto": by segment (ABC x XYZ) first, then by demand class when the segment is missing.
    # A/B stable items: continuous (s,Q) keeps the least safety stock on the valuable items; C: periodic
    # (R,S) bundles orders and costs little attention; Z (erratic/lumpy): (s,S) orders up to S, which
    # absorbs the big drops below s that a fixed Q would not cover.
    auto_policy: dict[str, PolicyName] = {
        "AX": "sQ", "AY": "sQ", "AZ": "sS",
        "BX": "sQ", "BY": "sQ", "BZ": "sS",
        "CX": "RS", "CY": "RS", "CZ": "sS",
    }  # fmt: skip
    auto_policy_by_class: dict[str, PolicyName] = {
        "smooth": "sQ", "erratic": "sS", "intermittent": "sS", "lumpy": "sS",
    }  # fmt: skip
    sigma_source: Literal["forecast_error", "demand"] = "forecast_error"
    shortage_mode: Literal["backorder", "lost_sales"] = "backorder"
    # Reorder-point policies reviewed every r days see the position fall *below* s by an undershoot;
    # "renewal" adds its mean and variance (renewal theory) to the lead-time demand, "none" = textbook.
    undershoot: Literal["renewal", "none"] = "renewal"
    # How the levels are computed. "discrete": exact integer levels from the distributions of lead-time demand
    # and undershoot (skuplan.inventory.levels), phased on the daily forecast; "normal": the textbook normal
    # approximation on one mean daily demand (with `undershoot` and the empirical methods below), kept as the
    # baseline the policy bench compares against.
    level_model: Literal["discrete", "normal"] = "discrete"
    # Intermittent/lumpy series: empirical lead-time demand instead of the normal approximation.
    empirical_classes: list[str] = ["intermittent", "lumpy"]
    empirical_method: Literal["bootstrap", "negbin", "normal"] = "bootstrap"
    bootstrap_samples: int = Field(1000, ge=100, le=100_000)
    bootstrap_window_days: int = Field(365, ge=28)
    # Fewer non-zero days than this in the window: too little to resample, fall back to negbin.
    bootstrap_min_nonzero: int = Field(5, ge=1)
    # Exact discrete levels: the history's law weighs n / (n + this) against the moment-fitted negative binomial,
    # n = days of demand in the window (a handful of lumps under-states the tail; 0 = history only).
    bootstrap_prior_nonzero: int = Field(20, ge=0)
    # The same for (R, S) rows. Their moment fit is the profile's L + R moments; blended in, it put stock where it
    # buys little service (lumpy RS fill rate: ~7 % more cost than the textbook RS at the same service, bench). The
    # history's law alone meets the target within ~1 pp there (docs/decisions.md, sixth pass).
    bootstrap_prior_nonzero_rs: int = Field(0, ge=0)
    # Resampled history is rescaled to the forecast mean (shape from history, level from the forecast).
    bootstrap_rescale: bool = True
    z_max: float = Field(5.0, gt=0, le=10, description="safety factor cap for near-1 service levels")
    # Lowest safety factor. 0 clamps safety stock at 0: with a large lot a low fill-rate target is met
    # with z < 0 and the policy then over-delivers (money in stock, issue 14). The default -10 is no floor
    # in practice: s drops below the mean lead-time demand where the fill-rate target allows it (it plans a
    # stockout at the end of most cycles, and delivers the fill rate asked for).
    z_min: float = Field(-10.0, ge=-10, le=0)
    default_service_level: float = Field(0.95, gt=0, lt=1)
    default_service_type: Literal["csl", "fill_rate"] = "csl"
    abc_cutoffs: tuple[float, float] = (0.8, 0.95)
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0)
    # XYZ uses the CV of demand aggregated to buckets of this many days (daily CV is mostly noise).
    xyz_bucket_days: int = Field(7, ge=1, le=366)
    segment_service_levels: dict[str, float] = {}
    days_per_year: float = Field(365.0, gt=0)
    lot_sizing: LotSizingConfig = LotSizingConfig()
    kmeans: KMeansConfig = KMeansConfig()
    alerts: AlertThresholds = AlertThresholds()
    replay: ReplayConfig = ReplayConfig()
    # Simulation-optimised levels searched in the replay (skuplan.inventory.simopt), beside the analytic ones.
    simopt: SimOptConfig = SimOptConfig()
    seed: int = 42

    @field_validator("abc_cutoffs")
    @classmethod
    def _abc(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _cutoff_pair(v, "abc_cutoffs", 1.0)

    @field_validator("xyz_cutoffs")
    @classmethod
    def _xyz(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _cutoff_pair(v, "xyz_cutoffs", None)

    @field_validator("segment_service_levels")
    @classmethod
    def _levels(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not 0 < x < 1}
        if bad:
            raise ValueError(f"segment_service_levels values must be in (0, 1), got {bad}")
        return v

    @field_validator("auto_policy_by_class")
    @classmethod
    def _classes(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DEMAND_CLASSES))
        if unknown:
            raise ValueError(f"auto_policy_by_class keys must be among {list(DEMAND_CLASSES)}, got {unknown}")
        return v

    @field_validator("empirical_classes")
    @classmethod
    def _emp(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(DEMAND_CLASSES))
        if unknown:
            raise ValueError(f"empirical_classes must be among {list(DEMAND_CLASSES)}, got {unknown}")
        return v


def replay_basis(cfg: InventoryConfig, history_days: int) -> str:
    """Hash of what the replay reads from the config (policy_backtest.replay_basis): the inventory settings and
    the days of history it gets. Not the paths: a nightly export may land in a new folder, and the tables move
    with the output root (skuplan.stages.replay_cadence)."""
    blob = json.dumps({"inventory": cfg.model_dump(mode="json"), "history_days": history_days}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
