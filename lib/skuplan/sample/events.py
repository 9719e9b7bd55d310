"""Sample events: the two festivals every year plus one brand day a year, and the brand days' demand factor."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from skuplan.sample.demand import DOUBLE_11_SPIKE, SIX_18_SPIKE
from skuplan.sample.spec import EVENTS_STREAM, SampleSpec, region_ids

# (date, event_name, region index or None for all regions, uplift_hint, uplift actually simulated)
Event = tuple[dt.date, str, int | None, float | None, float]


def draw_events(spec: SampleSpec) -> list[Event]:
    """(date, name, region index or None, uplift_hint, true uplift) up to a year past spec.end."""
    horizon = spec.end + dt.timedelta(days=365)
    out: list[Event] = []
    for year in range(spec.start.year, horizon.year + 1):
        for month, mday, name, hint in ((6, 18, "618", SIX_18_SPIKE), (11, 11, "double_11", DOUBLE_11_SPIKE)):
            out.append((dt.date(year, month, mday), name, None, hint, hint))
        # Keyed by year so a brand day does not move when the date range changes.
        rng = np.random.default_rng([spec.seed, EVENTS_STREAM, year])
        day = dt.date(year, int(rng.choice([3, 4, 5, 8, 9, 10])), int(rng.integers(1, 29)))
        uplift, region = float(rng.uniform(1.3, 1.9)), int(rng.integers(0, spec.n_regions))
        # Every other year the brand day is chain-wide and unannounced in size: the model must learn it.
        if year % 2 == 0:
            out.append((day, "brand_day", None, None, uplift))
        else:
            out.append((day, "brand_day", region, round(uplift, 2), uplift))
    return sorted(
        (e for e in out if spec.start <= e[0] <= horizon),
        key=lambda e: (e[0], e[1], -1 if e[2] is None else e[2]),
    )


def events_table(events: list[Event], spec: SampleSpec) -> pa.Table:
    regions = region_ids(spec.n_regions)
    return pa.table(
        {
            "date": pa.array([e[0] for e in events], type=pa.date32()),
            "event_name": pa.array([e[1] for e in events], type=pa.string()),
            "region_id": pa.array(
                [None if e[2] is None else regions[e[2]] for e in events], type=pa.string()
            ),
            "uplift_hint": pa.array([e[3] for e in events], type=pa.float64()),
        }
    )


def brand_factor(events: list[Event], spec: SampleSpec, n_days: int) -> np.ndarray:
    """(n_regions, n_days) demand multiplier of the brand days inside the sales range."""
    factor = np.ones((spec.n_regions, n_days))
    for day, name, region, _, uplift in events:
        if name == "brand_day" and spec.start <= day <= spec.end:
            rows = slice(None) if region is None else region
            factor[rows, (day - spec.start).days] *= uplift
    return factor
