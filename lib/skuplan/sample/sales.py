"""Sales table of the embedded sample: rows from simulated demand, injected dirty rows, chunked writing.

Series are processed SERIES_PER_PART at a time and each chunk becomes one part file, so memory depends on the
chunk size and the number of days, never on the number of series.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from skuplan.sample.demand import Calendar, ChunkDemand, ItemProfiles, simulate_chunk
from skuplan.sample.spec import UNKNOWN_ITEM_ID, item_ids, region_ids

SERIES_PER_PART = 500
CHANNELS = ("web", "store", "marketplace")
# Online channels undercut the shelf price a little.
_CHANNEL_PRICE = np.array([0.97, 1.0, 0.94])
BAD_UNITS_TEXT = "n/a"
BAD_DATE_TEXT = "2024-13-45"
DIRTY_KINDS = (
    "null_item",
    "empty_region",
    "negative_units",
    "nan_units",
    "exact_duplicate",
    "conflicting_duplicate",
    "unknown_item",
    "future_date",
)
CSV_DIRTY_KINDS = ("units_not_a_number", "bad_date")
DIRTY_SHARE = 0.0005
# The first part always carries this many of each kind, so tiny samples still exercise every rule.
MIN_DIRTY_PER_KIND = 3
# Window for the "recent demand" the inventory and DC tables are sized against.
RECENT_DAYS = 56

SALES_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("region_id", pa.string()),
        ("date", pa.date32()),
        ("units", pa.float64()),
        ("channel", pa.string()),
        ("price", pa.float64()),
        ("promo", pa.int8()),
    ]
)

Rows = dict[str, np.ndarray]


def _rows_from_demand(
    demand: ChunkDemand, series: np.ndarray, n_regions: int, epoch_days: np.ndarray
) -> Rows:
    # nonzero walks the array in C order, which is the canonical (series, date, channel) row order.
    s, t, c = np.nonzero(demand.units)
    glob = series[s]
    return {
        "item": (glob // n_regions).astype(np.int32),
        "region": (glob % n_regions).astype(np.int32),
        "day": epoch_days[t],
        "units": demand.units[s, t, c].astype(np.float64),
        "channel": c.astype(np.int8),
        "price": np.round(demand.price[s, t] * _CHANNEL_PRICE[c], 2),
        "promo": demand.promo[s, t].astype(np.int8),
        "bad_units": np.zeros(s.size, dtype=bool),
        "bad_date": np.zeros(s.size, dtype=bool),
    }


def _inject_dirt(
    rng: np.random.Generator,
    rows: Rows,
    first_part: bool,
    kinds: tuple[str, ...],
    n_items: int,
    n_regions: int,
    end_epoch: int,
) -> Rows:
    """Insert corrupted copies of random rows, each right after the row it was copied from.

    Copies rather than in-place edits keep the clean demand intact: dropping the dirty rows gives back
    exactly what was simulated, which makes the quality stage testable against the truth.
    """
    n = rows["units"].size
    per_kind = round(n * DIRTY_SHARE / len(kinds))
    if first_part:
        per_kind = max(per_kind, MIN_DIRTY_PER_KIND)
    if n == 0 or per_kind == 0:
        return rows
    src = rng.integers(0, n, per_kind * len(kinds))
    dirty = {name: col[src].copy() for name, col in rows.items()}
    kind = np.repeat(np.array(kinds), per_kind)
    for name in kinds:
        m = kind == name
        if name == "null_item":
            dirty["item"][m] = -1
        elif name == "empty_region":
            dirty["region"][m] = n_regions  # index of the "" label
        elif name == "negative_units":
            dirty["units"][m] = -np.maximum(dirty["units"][m], 1.0)
        elif name == "nan_units":
            dirty["units"][m] = np.nan
        elif name == "conflicting_duplicate":
            dirty["units"][m] += rng.integers(1, 6, m.sum())
        elif name == "unknown_item":
            dirty["item"][m] = n_items  # index of UNKNOWN_ITEM_ID
        elif name == "future_date":
            dirty["day"][m] = end_epoch + rng.integers(1, 31, m.sum())
        elif name == "units_not_a_number":
            dirty["bad_units"][m] = True
        elif name == "bad_date":
            dirty["bad_date"][m] = True
    order = np.argsort(np.concatenate([2 * np.arange(n), 2 * src + 1]), kind="stable")
    return {name: np.concatenate([rows[name], dirty[name]])[order] for name in rows}


def _arrow_columns(rows: Rows, item_labels: pa.Array, region_labels: pa.Array) -> dict[str, pa.Array]:
    item = rows["item"]
    return {
        "item_id": item_labels.take(pa.array(item, mask=item < 0)),
        "region_id": region_labels.take(pa.array(rows["region"])),
        "date": pa.array(rows["day"], type=pa.date32()),
        "units": pa.array(rows["units"]),
        "channel": pa.array(CHANNELS).take(pa.array(rows["channel"])),
        "price": pa.array(rows["price"]),
        "promo": pa.array(rows["promo"]),
    }


def _write_part(path_stem: Path, rows: Rows, cols: dict[str, pa.Array], sales_format: str) -> None:
    if sales_format == "parquet":
        pq.write_table(pa.table(cols, schema=SALES_SCHEMA), f"{path_stem}.parquet", compression="snappy")
        return
    units = cols["units"]
    units_text = pc.if_else(pc.is_nan(units), "NaN", pc.cast(units, pa.string()))
    text = {
        "item_id": cols["item_id"],
        "region_id": cols["region_id"],
        "date": pc.if_else(pa.array(rows["bad_date"]), BAD_DATE_TEXT, pc.cast(cols["date"], pa.string())),
        "units": pc.if_else(pa.array(rows["bad_units"]), BAD_UNITS_TEXT, units_text),
        "channel": cols["channel"],
        "price": pc.cast(cols["price"], pa.string()),
        "promo": pc.cast(cols["promo"], pa.string()),
    }
    # Arrow quotes every string and leaves nulls unquoted, so Spark reads a null item_id as null and an
    # empty region_id as "" - the two dirty kinds stay distinguishable in text.
    pacsv.write_csv(pa.table(text), f"{path_stem}.csv")


def write_sales(
    folder: Path,
    *,
    seed: int,
    n_items: int,
    n_regions: int,
    end: dt.date,
    sales_format: str,
    dirty_rows: bool,
    cal: Calendar,
    prof: ItemProfiles,
    region_mult: np.ndarray,
    brand_factor: np.ndarray,
    sales_stream: int,
    dirt_stream: int,
) -> np.ndarray:
    """Write sales part files; return each series' mean daily units over the last RECENT_DAYS (clean)."""
    n_series = n_items * n_regions
    item_labels = pa.array(item_ids(n_items) + [UNKNOWN_ITEM_ID])
    region_labels = pa.array(region_ids(n_regions) + [""])
    kinds = DIRTY_KINDS + (CSV_DIRTY_KINDS if sales_format == "csv" else ())
    end_epoch = int(np.datetime64(end, "D").astype(np.int64))
    window = min(RECENT_DAYS, cal.n_days)
    recent = np.zeros(n_series)
    for part, first in enumerate(range(0, n_series, SERIES_PER_PART)):
        series = np.arange(first, min(first + SERIES_PER_PART, n_series))
        # Keyed by part number so a chunk's draws never depend on how many chunks came before.
        demand = simulate_chunk(
            np.random.default_rng([seed, sales_stream, part]), cal, prof, region_mult, brand_factor, series
        )
        recent[series] = demand.units[:, -window:, :].sum(axis=(1, 2)) / window
        rows = _rows_from_demand(demand, series, n_regions, cal.epoch_days)
        del demand
        if dirty_rows:
            dirt_rng = np.random.default_rng([seed, dirt_stream, part])
            rows = _inject_dirt(dirt_rng, rows, part == 0, kinds, n_items, n_regions, end_epoch)
        cols = _arrow_columns(rows, item_labels, region_labels)
        _write_part(folder / f"part-{part:05d}", rows, cols, sales_format)
    return recent
