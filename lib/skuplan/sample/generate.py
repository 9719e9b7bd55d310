"""generate_sample: every table of the sample for one SampleSpec, written under one folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from skuplan.sample.demand import build_calendar, draw_item_profiles
from skuplan.sample.events import brand_factor, draw_events, events_table
from skuplan.sample.master import dc_stock_table, inventory_table, items_table, lanes_table
from skuplan.sample.sales import write_sales
from skuplan.sample.spec import (
    CATEGORIES,
    DIRT_STREAM,
    PROFILES_STREAM,
    REGIONS_STREAM,
    SALES_STREAM,
    TABLES,
    SampleSpec,
)

DEFAULT_SPEC = SampleSpec()  # the demo's sample


def generate_sample(out_dir: str | Path, spec: SampleSpec = DEFAULT_SPEC) -> dict[str, Path]:
    """Write every sample table under out_dir (one folder each, replaced if present); return the folders."""
    out = Path(out_dir)
    folders = {name: out / name for name in TABLES}
    for folder in folders.values():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    cal = build_calendar(spec.start, spec.end)
    items, category, lead = items_table(spec)
    prof = draw_item_profiles(
        np.random.default_rng([spec.seed, PROFILES_STREAM]),
        cal.n_days,
        items.column("unit_cost").to_numpy(),
        category,
        len(CATEGORIES),
    )
    region_mult = np.random.default_rng([spec.seed, REGIONS_STREAM]).lognormal(0.0, 0.35, spec.n_regions)
    events = draw_events(spec)
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
        brand_factor=brand_factor(events, spec, cal.n_days),
        sales_stream=SALES_STREAM,
        dirt_stream=DIRT_STREAM,
    )
    small_tables = {
        "items": items,
        "inventory": inventory_table(spec, recent, lead),
        "dc_stock": dc_stock_table(spec, recent),
        "lanes": lanes_table(spec, recent),
        "events": events_table(events, spec),
    }
    for name, table in small_tables.items():
        pq.write_table(table, folders[name] / f"{name}.parquet", compression="snappy")
    return folders
