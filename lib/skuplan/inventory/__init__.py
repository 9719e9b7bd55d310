"""Inventory policy (pure numpy/pandas, no Spark): safety stock, reorder points, lot sizes, segmentation,
alerts, KPIs and a hold-out replay simulation. The Spark glue lives in skuplan.inventory.spark."""

from skuplan.inventory.alerts import ALERT_COLUMNS, alerts
from skuplan.inventory.config import AlertThresholds, InventoryConfig, ReplayConfig
from skuplan.inventory.kpis import KPI_COLUMNS, kpis
from skuplan.inventory.lot_sizing import eoq, round_order_qty, wagner_whitin
from skuplan.inventory.plan import PLAN_COLUMNS, plan_policy
from skuplan.inventory.policies import REPLENISHMENT_COLUMNS, replenishment
from skuplan.inventory.replay import replay_holdout, simulate
from skuplan.inventory.safety_stock import normal_loss, sigma_ltd, z_for_csl, z_for_fill_rate
from skuplan.inventory.segments import abc_class, abc_xyz, kmeans_segments, segment_features, xyz_class

__all__ = [
    "ALERT_COLUMNS",
    "KPI_COLUMNS",
    "PLAN_COLUMNS",
    "REPLENISHMENT_COLUMNS",
    "AlertThresholds",
    "InventoryConfig",
    "ReplayConfig",
    "abc_class",
    "abc_xyz",
    "alerts",
    "eoq",
    "kmeans_segments",
    "kpis",
    "normal_loss",
    "plan_policy",
    "replay_holdout",
    "replenishment",
    "round_order_qty",
    "segment_features",
    "sigma_ltd",
    "simulate",
    "wagner_whitin",
    "xyz_class",
    "z_for_csl",
    "z_for_fill_rate",
]
