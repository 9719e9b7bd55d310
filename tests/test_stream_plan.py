"""The stream's plan in force comes from the latest complete nightly run through the runs manifest: the golden run's
inventory_policy gives the reorder points and its staged_inventory the opening stock (issue 18). The stream tests
write those tables by hand; this one reads a real nightly run's tables."""

from __future__ import annotations

from pyspark.sql import functions as F

from golden.outputs import RUN_DATE, golden_config
from skuplan import io
from skuplan.stream.tables import latest_complete_plan


def _rows(df, cols):
    return sorted(tuple(r) for r in df.select(*cols).collect())


def test_plan_in_force_is_the_complete_golden_run(spark, golden_run):
    cfg = golden_config(*golden_run)
    plan = latest_complete_plan(spark, cfg)
    assert plan.run_date == RUN_DATE

    policy = io.read_table(spark, cfg, "inventory_policy", RUN_DATE)
    expected = policy.where((F.col("status") == "ok") & F.col("reorder_point").isNotNull())
    assert expected.count() > 0
    assert _rows(plan.policy, ["item_id", "region_id", "reorder_point", "order_qty"]) == _rows(
        expected, ["item_id", "region_id", "reorder_point", "order_qty_policy"]
    )
    # Opening stock: the snapshot validate accepted, one row per key (the golden sample has one row per key).
    snapshot = io.read_table(spark, cfg, "staged_inventory", RUN_DATE)
    assert _rows(plan.opening, ["item_id", "region_id", "opening_on_hand"]) == _rows(
        snapshot, ["item_id", "region_id", F.col("on_hand").cast("double")]
    )
