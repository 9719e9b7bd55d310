"""Embedded, seeded sample data set: sales plus the master and position tables the planner needs.

No Spark: numpy / pyarrow only, so the demo data can be produced anywhere and is byte-for-byte identical
for a given SampleSpec. Demand simulation lives in sample_demand, the sales writer in sample_sales.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skuplan.sample_demand import DOUBLE_11_SPIKE, SIX_18_SPIKE, build_calendar, draw_item_profiles
from skuplan.sample_sales import UNKNOWN_ITEM_ID, write_sales

__all__ = ["SampleSpec", "TABLES", "generate_sample"]

TABLES = ("sales", "items", "inventory", "dc_stock", "lanes", "events")
CATEGORIES = ("grocery", "beauty", "electronics", "home", "apparel", "toys")
SALES_FORMATS = ("parquet", "csv")

# One independent random stream per concern: adding a draw to one table never changes another table.
_ITEMS, _PROFILES, _REGIONS, _SALES, _DIRT, _EVENTS, _INVENTORY, _DC, _LANES = range(1, 10)


def _check_int(name: str, value: object, lo: int, hi: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        bound = f">= {lo}" if value < lo else f"<= {hi}"
        raise ValueError(f"{name} must be {bound}, got {value}; allowed range is [{lo}, {hi}]{why}")


@dataclass(frozen=True)
class SampleSpec:
    n_items: int = 40
    n_regions: int = 4
    n_dcs: int = 2
    start: dt.date = dt.date(2023, 7, 1)
    end: dt.date = dt.date(2025, 12, 31)  # last sales day; the demo run_date is end + 1 day
    seed: int = 7
    sales_format: str = "parquet"  # "parquet" or "csv"
    dirty_rows: bool = True

    def __post_init__(self) -> None:
        _check_int(
            "n_items",
            self.n_items,
            1,
            99_998,
            f" ({UNKNOWN_ITEM_ID} is reserved for the unknown-item dirty row)",
        )
        _check_int("n_regions", self.n_regions, 1, 99, " (ids are R01..R99)")
        _check_int("n_dcs", self.n_dcs, 1, 9, " (ids are DC1..DC9)")
        _check_int("seed", self.seed, 0, 2**63 - 1)
        for name in ("start", "end"):
            value = getattr(self, name)
            # datetime is a date subclass, but a time of day would silently shift the calendar.
            if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                raise ValueError(f"{name} must be a datetime.date, got {type(value).__name__}")
        if self.end <= self.start:
            raise ValueError(f"end must be after start ({self.start}), got {self.end}")
        if self.sales_format not in SALES_FORMATS:
            raise ValueError(
                f"sales_format must be one of {', '.join(map(repr, SALES_FORMATS))}, got {self.sales_format!r}"
            )
        if not isinstance(self.dirty_rows, bool):
            raise ValueError(f"dirty_rows must be a bool, got {type(self.dirty_rows).__name__}")


def _item_ids(n_items: int) -> list[str]:
    return [f"SKU{i:05d}" for i in range(1, n_items + 1)]


def _region_ids(n_regions: int) -> list[str]:
    return [f"R{j:02d}" for j in range(1, n_regions + 1)]


def _items_table(spec: SampleSpec) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Item master, plus the category index and lead times the other tables are derived from."""
    rng = np.random.default_rng([spec.seed, _ITEMS])
    n = spec.n_items
    category = rng.integers(0, len(CATEGORIES), n)
    lead = np.round(rng.uniform(3.0, 21.0, n), 1)
    pack = rng.choice([1, 1, 1, 6, 12, 24], n)
    table = pa.table(
        {
            "item_id": pa.array(_item_ids(n)),
            "category": pa.array(CATEGORIES).take(pa.array(category)),
            "unit_cost": np.round(rng.lognormal(np.log(12.0), 0.8, n), 2),
            "holding_rate": np.round(rng.uniform(0.15, 0.35, n), 3),
            "order_cost": np.round(rng.uniform(25.0, 250.0, n), 2),
            "lead_time_days": lead,
            "lead_time_std_days": np.round(lead * rng.uniform(0.0, 0.3, n), 2),
            "service_level": rng.choice([0.90, 0.92, 0.95, 0.97, 0.98, 0.99], n),
            "service_type": pa.array(np.where(rng.random(n) < 0.2, "fill_rate", "csl").tolist()),
            # Suppliers quote the minimum order in whole cases.
            "moq": (pack * rng.choice([1, 1, 2, 4, 10], n)).astype(np.int64),
            "pack_size": pack.astype(np.int64),
        }
    )
    return table, category, lead


# (date, event_name, region index or None for all regions, uplift_hint, uplift actually simulated)
Event = tuple[dt.date, str, int | None, float | None, float]


def _events(spec: SampleSpec) -> list[Event]:
    """(date, name, region index or None, uplift_hint, true uplift) up to a year past spec.end."""
    horizon = spec.end + dt.timedelta(days=365)
    out: list[Event] = []
    for year in range(spec.start.year, horizon.year + 1):
        for month, mday, name, hint in ((6, 18, "618", SIX_18_SPIKE), (11, 11, "double_11", DOUBLE_11_SPIKE)):
            out.append((dt.date(year, month, mday), name, None, hint, hint))
        # Keyed by year so a brand day does not move when the date range changes.
        rng = np.random.default_rng([spec.seed, _EVENTS, year])
        day = dt.date(year, int(rng.choice([3, 4, 5, 8, 9, 10])), int(rng.integers(1, 29)))
        uplift, region = float(rng.uniform(1.3, 1.9)), int(rng.integers(0, spec.n_regions))
        # Every other year the brand day is chain-wide and unannounced in size: the model must learn it.
        if year % 2 == 0:
            out.append((day, "brand_day", None, None, uplift))
        else:
            out.append((day, "brand_day", region, round(uplift, 2), uplift))
    return sorted(
        (e for e in out if spec.start <= e[0] <= horizon),
        key=lambda e: (e[0], e[1], -1 if e[2] is None else e[2]),
    )


def _events_table(events: list[Event], spec: SampleSpec) -> pa.Table:
    regions = _region_ids(spec.n_regions)
    return pa.table(
        {
            "date": pa.array([e[0] for e in events], type=pa.date32()),
            "event_name": pa.array([e[1] for e in events], type=pa.string()),
            "region_id": pa.array(
                [None if e[2] is None else regions[e[2]] for e in events], type=pa.string()
            ),
            "uplift_hint": pa.array([e[3] for e in events], type=pa.float64()),
        }
    )


def _brand_factor(events: list[Event], spec: SampleSpec, n_days: int) -> np.ndarray:
    factor = np.ones((spec.n_regions, n_days))
    for day, name, region, _, uplift in events:
        if name == "brand_day" and spec.start <= day <= spec.end:
            rows = slice(None) if region is None else region
            factor[rows, (day - spec.start).days] *= uplift
    return factor


def _inventory_table(spec: SampleSpec, recent: np.ndarray, lead: np.ndarray) -> pa.Table:
    rng = np.random.default_rng([spec.seed, _INVENTORY])
    n = recent.size
    item = np.arange(n) // spec.n_regions
    u = rng.random(n)
    # A planner's worklist needs both ends: ~20% nearly out of stock, ~20% with months of cover.
    cover = np.where(
        u < 0.2,
        rng.uniform(0.0, 4.0, n),
        np.where(u < 0.8, rng.uniform(7.0, 35.0, n), rng.uniform(60.0, 180.0, n)),
    )
    stockout = u < 0.08
    on_hand = np.where(stockout, 0.0, np.round(recent * cover))
    # Series without recent sales (dead or lumpy) still hold some leftover stock.
    on_hand = np.where(recent == 0, rng.integers(0, 15, n), on_hand).astype(np.float64)
    backorders = np.where(stockout, np.round(recent * rng.uniform(1.0, 5.0, n)), 0.0)
    on_order = np.where(rng.random(n) < 0.5, np.round(recent * lead[item] * rng.uniform(0.5, 1.5, n)), 0.0)
    return pa.table(
        {
            "item_id": pa.array(np.repeat(_item_ids(spec.n_items), spec.n_regions).tolist()),
            "region_id": pa.array(_region_ids(spec.n_regions) * spec.n_items),
            "as_of_date": pa.array([spec.end] * n, type=pa.date32()),
            "on_hand": on_hand,
            "on_order": on_order,
            "backorders": backorders,
        }
    )


def _dc_stock_table(spec: SampleSpec, recent: np.ndarray) -> pa.Table:
    rng = np.random.default_rng([spec.seed, _DC])
    n = spec.n_items
    daily = recent.reshape(n, spec.n_regions).sum(axis=1)
    scarce = rng.random(n) < 0.15
    cover = np.where(scarce, rng.uniform(0.0, 5.0, n), rng.uniform(14.0, 42.0, n))
    total = np.where(daily == 0, rng.integers(0, 50, n), np.round(daily * cover)).astype(np.int64)
    weights = rng.dirichlet(np.full(spec.n_dcs, 2.0), n)
    # Sequential binomials split each item's stock across DCs in whole units that add up exactly.
    per_dc = np.zeros((n, spec.n_dcs), dtype=np.int64)
    remaining = total.copy()
    for k in range(spec.n_dcs - 1):
        share = weights[:, k] / np.maximum(weights[:, k:].sum(axis=1), 1e-12)
        per_dc[:, k] = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
        remaining -= per_dc[:, k]
    per_dc[:, -1] = remaining
    return pa.table(
        {
            "item_id": pa.array(np.repeat(_item_ids(n), spec.n_dcs).tolist()),
            "dc_id": pa.array([f"DC{k}" for k in range(1, spec.n_dcs + 1)] * n),
            "available": per_dc.ravel().astype(np.float64),
        }
    )


def _lanes_table(spec: SampleSpec, recent: np.ndarray) -> pa.Table:
    """Every DC x region lane. capacity is units per weekly allocation run; NaN means unbounded."""
    rng = np.random.default_rng([spec.seed, _LANES])
    dc_xy, region_xy = rng.uniform(0, 1000, (spec.n_dcs, 2)), rng.uniform(0, 1000, (spec.n_regions, 2))
    dist = np.linalg.norm(dc_xy[:, None, :] - region_xy[None, :, :], axis=2).ravel()
    n_lanes = dist.size
    region = np.tile(np.arange(spec.n_regions), spec.n_dcs)
    weekly_demand = 7.0 * recent.reshape(spec.n_items, spec.n_regions).sum(axis=0)
    capacity = np.full(n_lanes, np.nan)
    bounded = rng.choice(n_lanes, n_lanes // 4, replace=False)
    capacity[bounded] = np.maximum(
        10.0, np.round(weekly_demand[region[bounded]] * rng.uniform(0.3, 0.8, bounded.size))
    )
    return pa.table(
        {
            "dc_id": pa.array(
                np.repeat([f"DC{k}" for k in range(1, spec.n_dcs + 1)], spec.n_regions).tolist()
            ),
            "region_id": pa.array(_region_ids(spec.n_regions) * spec.n_dcs),
            "unit_cost": np.round(0.2 + 0.0025 * dist, 3),
            "lead_time_days": np.round(1.0 + dist / 300.0, 1),
            "capacity": capacity,
        }
    )


def generate_sample(out_dir: str | Path, spec: SampleSpec = SampleSpec()) -> dict[str, Path]:
    """Write every sample table under out_dir (one folder each, replaced if present); return the folders."""
    out = Path(out_dir)
    folders = {name: out / name for name in TABLES}
    for folder in folders.values():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    cal = build_calendar(spec.start, spec.end)
    items, category, lead = _items_table(spec)
    prof = draw_item_profiles(
        np.random.default_rng([spec.seed, _PROFILES]),
        cal.n_days,
        items.column("unit_cost").to_numpy(),
        category,
        len(CATEGORIES),
    )
    region_mult = np.random.default_rng([spec.seed, _REGIONS]).lognormal(0.0, 0.35, spec.n_regions)
    events = _events(spec)
    recent = write_sales(
        folders["sales"],
        seed=spec.seed,
        n_items=spec.n_items,
        n_regions=spec.n_regions,
        end=spec.end,
        sales_format=spec.sales_format,
        dirty_rows=spec.dirty_rows,
        cal=cal,
        prof=prof,
        region_mult=region_mult,
        brand_factor=_brand_factor(events, spec, cal.n_days),
        sales_stream=_SALES,
        dirt_stream=_DIRT,
    )
    small_tables = {
        "items": items,
        "inventory": _inventory_table(spec, recent, lead),
        "dc_stock": _dc_stock_table(spec, recent),
        "lanes": _lanes_table(spec, recent),
        "events": _events_table(events, spec),
    }
    for name, table in small_tables.items():
        pq.write_table(table, folders[name] / f"{name}.parquet", compression="snappy")
    return folders
