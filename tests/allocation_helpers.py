"""Invariant checker for allocation outputs (plain pandas): the tests and bench/allocation_bench.py run it on
every allocation they produce."""

import pandas as pd


def allocation_violations(
    alloc: pd.DataFrame, requirements: pd.DataFrame, supply: pd.DataFrame, tol: float = 1e-6
) -> list[str]:
    """Broken identities of an allocation (empty list = consistent).

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
