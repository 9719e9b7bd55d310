"""DC -> region stock allocation by linear programming (pure numpy/scipy; Spark glue lives in spark.py)."""

from skuplan.allocation.config import AllocationConfig
from skuplan.allocation.lp import OUTPUT_COLUMNS, solve_allocation
from skuplan.allocation.summary import SUMMARY_COLUMNS, allocation_summary

__all__ = [
    "OUTPUT_COLUMNS",
    "SUMMARY_COLUMNS",
    "AllocationConfig",
    "allocation_summary",
    "solve_allocation",
]
