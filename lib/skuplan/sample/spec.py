"""What a sample is: the SampleSpec, the table names, the id formats and the random streams.

Every draw in the generator comes from np.random.default_rng([spec.seed, stream, ...]), one stream per
concern, so adding a draw to one table never changes another table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

TABLES = ("sales", "items", "inventory", "dc_stock", "lanes", "events")
CATEGORIES = ("grocery", "beauty", "electronics", "home", "apparel", "toys")
SALES_FORMATS = ("parquet", "csv")
# Reserved: the item id of the "unknown item" dirty sales row, never in the item master.
UNKNOWN_ITEM_ID = "SKU99999"

# Random stream per concern (the second element of every seed sequence).
ITEMS_STREAM, PROFILES_STREAM, REGIONS_STREAM, SALES_STREAM, DIRT_STREAM = 1, 2, 3, 4, 5
EVENTS_STREAM, INVENTORY_STREAM, DC_STREAM, LANES_STREAM = 6, 7, 8, 9


def item_ids(n_items: int) -> list[str]:
    return [f"SKU{i:05d}" for i in range(1, n_items + 1)]


def region_ids(n_regions: int) -> list[str]:
    return [f"R{j:02d}" for j in range(1, n_regions + 1)]


def dc_ids(n_dcs: int) -> list[str]:
    return [f"DC{k}" for k in range(1, n_dcs + 1)]


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
