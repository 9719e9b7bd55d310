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
