"""Validate allocation inputs and encode them as sorted integer codes (the canonical form of the LP).

Every id is replaced by its rank among the sorted unique ids, so the model built from the codes does not
depend on the order of the input rows: permuted inputs give the identical LP and the identical answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.allocation.config import AllocationConfig


@dataclass(frozen=True)
class Encoded:
    items: np.ndarray  # sorted unique ids; codes index into these
    dcs: np.ndarray
    regions: np.ndarray
    # requirement rows with requirement > 0, sorted by (partition, item, region)
    r_item: np.ndarray
    r_region: np.ndarray
    r_part: np.ndarray
    r_qty: np.ndarray
    r_pen: np.ndarray
    # supply rows with available > 0, sorted by key = item * n_dcs + dc
    s_key: np.ndarray
    s_avail: np.ndarray
    # usable lanes (within horizon, capacity NaN or > 0), sorted by (dc, region)
    l_dc: np.ndarray
    l_region: np.ndarray
    l_cost: np.ndarray
    l_lead: np.ndarray
    l_cap: np.ndarray  # NaN = unbounded
    region_has_lane: np.ndarray  # any lane row at all (for no_lane messages)
    dc_cap: np.ndarray | None  # (n_parts, n_dcs) outbound capacity, NaN = unbounded
    n_parts: int


def _check(df: pd.DataFrame, name: str, cols: list[str], numeric: dict[str, str]) -> None:
    """Fail fast with the table, column and example rows; numeric maps column -> '>=0' | 'finite' | 'cap'."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; it has {list(df.columns)}")
    for col, rule in numeric.items():
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(v) & df[col].notna().to_numpy() if rule == "cap" else ~np.isfinite(v)
        if rule in (">=0", "cap"):
            bad |= v < 0
        if bad.any():
            allowed = {">=0": "finite and >= 0", "finite": "finite", "cap": "NaN (unbounded) or >= 0"}[rule]
            raise ValueError(
                f"{name}.{col} must be {allowed}; bad rows: {df.loc[bad].head(3).to_dict('records')}"
            )
    keys = [c for c in cols if c not in numeric]
    null = df[keys].isna().any(axis=1).to_numpy()
    if null.any():
        raise ValueError(f"{name} has null ids in {keys}: {df.loc[null, keys].head(3).to_dict('records')}")
    dup = df.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        raise ValueError(
            f"{name} has duplicate {keys} rows (aggregate them first): "
            f"{df.loc[dup, keys].head(3).to_dict('records')}"
        )


def _codes(values: pd.Series, uniq: np.ndarray) -> np.ndarray:
    return pd.Index(uniq).get_indexer(values.to_numpy()).astype(np.int64)


def _sorted_unique(*cols: pd.Series) -> np.ndarray:
    vals = pd.unique(pd.concat([c.dropna() for c in cols], ignore_index=True))
    try:
        return np.sort(np.asarray(vals))
    except TypeError as exc:  # e.g. a mix of int and str ids cannot be ordered canonically
        raise ValueError(f"ids must be of one comparable type: {exc}") from None


def encode(
    requirements: pd.DataFrame,
    supply: pd.DataFrame,
    lanes: pd.DataFrame,
    cfg: AllocationConfig,
    dc_capacity: pd.DataFrame | None,
) -> Encoded:
    _check_inputs(requirements, supply, lanes)
    items = _sorted_unique(requirements["item_id"])
    regions = _sorted_unique(requirements["region_id"], lanes["region_id"])
    dcs = _sorted_unique(supply["dc_id"], lanes["dc_id"])
    req = _requirement_rows(requirements, cfg, items, regions)
    s_key, s_avail = _supply_rows(supply, items, dcs)
    lane = _lane_rows(lanes, cfg, dcs, regions)
    dc_cap = None
    if dc_capacity is not None and len(dc_capacity):
        dc_cap = _dc_capacity(dc_capacity, dcs, cfg.partition_key, req.part_uniq, req.n_parts)
    return Encoded(
        items=items,
        dcs=dcs,
        regions=regions,
        r_item=req.item,
        r_region=req.region,
        r_part=req.part,
        r_qty=req.qty,
        r_pen=req.pen,
        s_key=s_key,
        s_avail=s_avail,
        l_dc=lane["dc"],
        l_region=lane["region"],
        l_cost=lane["cost"],
        l_lead=lane["lead"],
        l_cap=lane["cap"],
        region_has_lane=lane["region_has_lane"],
        dc_cap=dc_cap,
        n_parts=req.n_parts,
    )


def _check_inputs(requirements: pd.DataFrame, supply: pd.DataFrame, lanes: pd.DataFrame) -> None:
    _check(requirements, "requirements", ["item_id", "region_id", "requirement"], {"requirement": ">=0"})
    _check(supply, "supply", ["item_id", "dc_id", "available"], {"available": ">=0"})
    # lead_time_days is required and >= 0 as in the lanes input contract and rules (skuplan.input_rules): validate
    # stops a file without it at read and quarantines bad values, so this only guards direct callers.
    lane_rules = {"unit_cost": "finite", "lead_time_days": ">=0"} | (
        {"capacity": "cap"} if "capacity" in lanes else {}
    )
    _check(lanes, "lanes", ["dc_id", "region_id", *lane_rules], lane_rules)
    if "shortage_penalty" in requirements:
        pen = pd.to_numeric(requirements["shortage_penalty"], errors="coerce")
        if (pen <= 0).any() or np.isinf(pen).any():
            raise ValueError(
                "requirements.shortage_penalty must be NaN (use default_shortage_penalty) or > 0"
            )


@dataclass(frozen=True)
class _Requirements:
    """Requirement rows with requirement > 0 as codes, sorted by (partition, item, region)."""

    item: np.ndarray
    region: np.ndarray
    part: np.ndarray
    qty: np.ndarray
    pen: np.ndarray
    part_uniq: pd.Index | None  # sorted partition values (None without a partition column)
    n_parts: int


def _requirement_rows(
    requirements: pd.DataFrame, cfg: AllocationConfig, items: np.ndarray, regions: np.ndarray
) -> _Requirements:
    req = requirements[requirements["requirement"].to_numpy(dtype=float) > 0]
    r_item, r_region = _codes(req["item_id"], items), _codes(req["region_id"], regions)
    r_qty = req["requirement"].to_numpy(dtype=float)
    # Penalty = (row penalty or default) x region priority multiplier.
    base = (
        pd.to_numeric(req["shortage_penalty"], errors="coerce").fillna(cfg.default_shortage_penalty)
        if "shortage_penalty" in req
        else pd.Series(cfg.default_shortage_penalty, index=req.index)
    )
    prio = cfg.region_priority
    mult = np.array([prio.get(r, prio.get(str(r), 1.0)) for r in regions], dtype=float)
    r_pen = base.to_numpy(dtype=float) * mult[r_region]
    r_part, part_uniq = _partition_codes(req, cfg.partition_key, r_item, items)
    n_parts = int(r_part.max()) + 1 if len(r_part) else 0
    order = np.lexsort((r_region, r_item, r_part))
    return _Requirements(
        r_item[order], r_region[order], r_part[order], r_qty[order], r_pen[order], part_uniq, n_parts
    )


def _partition_codes(
    req: pd.DataFrame, part_col: str, r_item: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, pd.Index | None]:
    """Canonical partition codes: rank of the sorted partition value, so permutations cannot renumber them.
    Without a partition column the whole call is one partition."""
    if part_col not in req.columns:
        return np.zeros(len(req), np.int64), None
    codes, part_uniq = pd.factorize(req[part_col], sort=True, use_na_sentinel=False)
    r_part = codes.astype(np.int64)
    per_item = pd.Series(r_part).groupby(r_item).nunique()
    if (per_item > 1).any():
        bad = items[per_item.index[per_item > 1].to_numpy()[:3]]
        raise ValueError(
            f"items {list(bad)} appear in more than one {part_col!r} partition; "
            f"every item must belong to exactly one partition"
        )
    return r_part, part_uniq


def _supply_rows(supply: pd.DataFrame, items: np.ndarray, dcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key = item * n_dcs + dc, available) of supply rows with available > 0, sorted by key."""
    sup = supply[supply["available"].to_numpy(dtype=float) > 0]
    s_key = _codes(sup["item_id"], items) * len(dcs) + _codes(sup["dc_id"], dcs)
    keep = s_key >= 0  # supply of items nobody requires is irrelevant
    s_order = np.argsort(s_key[keep], kind="stable")
    return s_key[keep][s_order], sup["available"].to_numpy(dtype=float)[keep][s_order]


def _lane_rows(
    lanes: pd.DataFrame, cfg: AllocationConfig, dcs: np.ndarray, regions: np.ndarray
) -> dict[str, np.ndarray]:
    """Usable lanes (within the horizon, capacity NaN or > 0) sorted by (dc, region), and which regions have
    any lane row at all."""
    cap = lanes["capacity"].to_numpy(dtype=float) if "capacity" in lanes else np.full(len(lanes), np.nan)
    l_dc_all, l_rg_all = _codes(lanes["dc_id"], dcs), _codes(lanes["region_id"], regions)
    lead = lanes["lead_time_days"].to_numpy(dtype=float)
    ok = (lead <= cfg.horizon_days) & ~(cap <= 0)
    lo = np.lexsort((l_rg_all[ok], l_dc_all[ok]))
    cost = lanes["unit_cost"].to_numpy(dtype=float)
    return {
        "dc": l_dc_all[ok][lo],
        "region": l_rg_all[ok][lo],
        "cost": cost[ok][lo],
        "lead": lead[ok][lo],
        "cap": cap[ok][lo],
        "region_has_lane": np.bincount(l_rg_all, minlength=len(regions)) > 0,
    }


def _dc_capacity(
    dc_capacity: pd.DataFrame, dcs: np.ndarray, part_col: str, part_uniq: pd.Index | None, n_parts: int
) -> np.ndarray:
    """(n_parts, n_dcs) matrix; a frame without the partition column gives every partition the same cap."""
    per_part = part_col in dc_capacity.columns and part_uniq is not None
    keys = ["dc_id", part_col] if per_part else ["dc_id"]
    _check(dc_capacity, "dc_capacity", [*keys, "capacity"], {"capacity": "cap"})
    out = np.full((n_parts, len(dcs)), np.nan)
    d = _codes(dc_capacity["dc_id"], dcs)
    v = dc_capacity["capacity"].to_numpy(dtype=float)
    if not per_part:
        out[:, d[d >= 0]] = v[d >= 0]
        return out
    p = pd.Index(part_uniq).get_indexer(dc_capacity[part_col].to_numpy())
    hit = (d >= 0) & (p >= 0)
    out[p[hit], d[hit]] = v[hit]
    return out
