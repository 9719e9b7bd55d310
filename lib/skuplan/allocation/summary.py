"""Per-region KPIs of an allocation for the run manifest / kpis table."""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["region_id", "requirement", "allocated", "shortage", "fill_ratio", "cost"]


def allocation_summary(alloc: pd.DataFrame, requirements: pd.DataFrame) -> pd.DataFrame:
    """Per region: requirement, allocated units, shortage, fill_ratio = allocated / requirement, lane cost.

    shortage is requirement - allocated, so requirement of items whose LP failed (status rows without a
    region) counts as shortage too; fill_ratio is 1.0 for a region with zero requirement.
    """
    req = requirements.groupby("region_id", sort=True)["requirement"].sum()
    shipped = alloc[alloc["units"] > 0]
    allocated = shipped.groupby("region_id")["units"].sum()
    cost = (shipped["units"] * shipped["unit_cost"]).groupby(shipped["region_id"]).sum()
    regions = req.index.union(allocated.index)
    out = pd.DataFrame({"region_id": regions})
    out["requirement"] = req.reindex(regions, fill_value=0.0).to_numpy(dtype=float)
    out["allocated"] = allocated.reindex(regions, fill_value=0.0).to_numpy(dtype=float)
    out["shortage"] = np.maximum(out["requirement"] - out["allocated"], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = out["allocated"] / out["requirement"]
    out["fill_ratio"] = np.where(out["requirement"] > 0, fill, 1.0)
    out["cost"] = cost.reindex(regions, fill_value=0.0).to_numpy(dtype=float)
    return out[SUMMARY_COLUMNS]


def allocation_violations(
    alloc: pd.DataFrame, requirements: pd.DataFrame, supply: pd.DataFrame, tol: float = 1e-6
) -> list[str]:
    """Broken identities of an allocation (empty list = consistent); cheap enough to run on every output.

    Per (item, region): sum(units) + sum(shortage_units) == requirement; per (item, dc): sum(units) <= available;
    no negative units, no null status.
    """
    problems = []
    got = alloc.groupby(["item_id", "region_id"])[["units", "shortage_units"]].sum().sum(axis=1)
    want = requirements.set_index(["item_id", "region_id"])["requirement"]
    want = want[want > 0]
    diff = (
        got.reindex(want.index.union(got.index), fill_value=0.0)
        - want.reindex(want.index.union(got.index), fill_value=0.0)
    ).abs()
    if (diff > tol).any():
        problems.append(f"units + shortage != requirement for {diff[diff > tol].head(3).to_dict()}")
    shipped = alloc[alloc["dc_id"].notna()].groupby(["item_id", "dc_id"])["units"].sum()
    stock = supply.set_index(["item_id", "dc_id"])["available"].reindex(shipped.index, fill_value=0.0)
    over = shipped - stock
    if (over > tol).any():
        problems.append(f"units > available for {over[over > tol].head(3).to_dict()}")
    if (alloc[["units", "shortage_units"]] < -tol).any().any():
        problems.append("negative units or shortage_units")
    if alloc["lp_status"].isna().any() or alloc["message"].isna().any():
        problems.append("null lp_status or message")
    return problems
