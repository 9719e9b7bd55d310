"""Sample master and position tables: items, inventory, dc_stock and lanes.

The position tables are sized against each series' recent demand (returned by the sales writer), so a
planner's worklist has both stock-outs and overstock.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from skuplan.sample.spec import (
    CATEGORIES,
    DC_STREAM,
    INVENTORY_STREAM,
    ITEMS_STREAM,
    LANES_STREAM,
    SampleSpec,
    dc_ids,
    item_ids,
    region_ids,
)


def items_table(spec: SampleSpec) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Item master, plus the category index and lead times the other tables are derived from."""
    rng = np.random.default_rng([spec.seed, ITEMS_STREAM])
    n = spec.n_items
    category = rng.integers(0, len(CATEGORIES), n)
    lead = np.round(rng.uniform(3.0, 21.0, n), 1)
    pack = rng.choice([1, 1, 1, 6, 12, 24], n)
    table = pa.table(
        {
            "item_id": pa.array(item_ids(n)),
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


def inventory_table(spec: SampleSpec, recent: np.ndarray, lead: np.ndarray) -> pa.Table:
    rng = np.random.default_rng([spec.seed, INVENTORY_STREAM])
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
            "item_id": pa.array(np.repeat(item_ids(spec.n_items), spec.n_regions).tolist()),
            "region_id": pa.array(region_ids(spec.n_regions) * spec.n_items),
            "as_of_date": pa.array([spec.end] * n, type=pa.date32()),
            "on_hand": on_hand,
            "on_order": on_order,
            "backorders": backorders,
        }
    )


def dc_stock_table(spec: SampleSpec, recent: np.ndarray) -> pa.Table:
    rng = np.random.default_rng([spec.seed, DC_STREAM])
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
            "item_id": pa.array(np.repeat(item_ids(n), spec.n_dcs).tolist()),
            "dc_id": pa.array(dc_ids(spec.n_dcs) * n),
            "available": per_dc.ravel().astype(np.float64),
        }
    )


def lanes_table(spec: SampleSpec, recent: np.ndarray) -> pa.Table:
    """Every DC x region lane. capacity is units per weekly allocation run; NaN means unbounded."""
    rng = np.random.default_rng([spec.seed, LANES_STREAM])
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
            "dc_id": pa.array(np.repeat(dc_ids(spec.n_dcs), spec.n_regions).tolist()),
            "region_id": pa.array(region_ids(spec.n_regions) * spec.n_dcs),
            "unit_cost": np.round(0.2 + 0.0025 * dist, 3),
            "lead_time_days": np.round(1.0 + dist / 300.0, 1),
            "capacity": capacity,
        }
    )
