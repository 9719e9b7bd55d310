"""Embedded, seeded sample data set: sales plus the master and position tables the planner needs.

No Spark: numpy / pyarrow only, so the demo data can be produced anywhere and is byte-for-byte identical
for a given SampleSpec.

- spec.py: SampleSpec, table names, id formats, one random stream per concern
- demand.py: calendar, per-item demand profiles, one chunk of simulated series
- sales.py: sales rows from the simulated demand, injected dirty rows, chunked part files
- events.py: festivals and brand days (events table and their demand factor)
- master.py: items, inventory, dc_stock, lanes
- generate.py: generate_sample, which writes them all
"""

from skuplan.sample.generate import generate_sample
from skuplan.sample.sales import SALES_SCHEMA
from skuplan.sample.spec import TABLES, UNKNOWN_ITEM_ID, SampleSpec

__all__ = ["SALES_SCHEMA", "TABLES", "UNKNOWN_ITEM_ID", "SampleSpec", "generate_sample"]
