"""The intraday stream's rules, Spark-free: what an event does to a position, which events are bad, and when a
position crosses its reorder point (a reorder signal) or goes below zero (an alert).

The Spark glue (skuplan.stream.batch) computes the same rules with window functions over each micro-batch (no
Python worker in the stream's path); the tests and the bench run these functions on whole event logs to recompute
what the stream must have written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["item_id", "region_id"]
# Sign of an event's qty on on-hand stock. A sale takes units out; a return and a receipt put them back; an
# adjustment (a count, a write-off) carries its own sign.
KIND_SIGN = {"sale": -1.0, "return": 1.0, "receipt": 1.0, "adjustment": 1.0}
KINDS = tuple(KIND_SIGN)
# Kinds whose qty must be >= 0 (its direction is the kind's); adjustment qty may be negative.
UNSIGNED_KINDS = ("sale", "return", "receipt")
REQUIRED_FIELDS = ("event_id", "item_id", "region_id", "event_time", "kind", "qty")

# reason_code -> reason, in the order they are checked (a bad event gets the first that applies).
REASONS = {
    "malformed": "the message is not a JSON object with the event fields; fix the producer's serializer",
    "missing_key": "a required field (event_id, item_id, region_id, event_time, kind, qty) is missing or blank",
    "bad_event_time": "event_time does not parse as a timestamp (ISO 8601, e.g. 2026-01-01T10:15:00Z)",
    "unknown_kind": f"kind is not one of {', '.join(KINDS)}",
    "non_numeric_qty": "qty is not a finite number",
    "negative_qty": f"qty < 0 for a {'/'.join(UNSIGNED_KINDS)} (the kind gives the direction; use adjustment)",
}

APPLIED_COLUMNS = [*KEYS, "event_id", "event_time", "delta", "on_hand", "signal", "alert"]


def signed_delta(kind: pd.Series, qty: pd.Series) -> pd.Series:
    """Change of on-hand stock per event."""
    return kind.map(KIND_SIGN).astype("float64") * qty.astype("float64")


def apply_events(events: pd.DataFrame, start_on_hand: float, reorder_point: float | None) -> pd.DataFrame:
    """Apply one item x region's new events, in event order, to its on-hand stock.

    events: event_id, event_time, delta (signed, see signed_delta) and the keys. Returns one row per event with
    the stock after it and two flags:
    - signal: the event took stock from above the reorder point to at or below it. One per crossing: staying below
      signals nothing, and only a rise above the point re-arms it. No reorder point (no policy): never.
    - alert: the event took stock from >= 0 to below 0 (stock the system believes it does not have was sold).
    Ties in event_time are broken by event_id, so the result does not depend on arrival order within a batch.
    """
    ordered = events.sort_values(["event_time", "event_id"], kind="mergesort")
    after = start_on_hand + ordered["delta"].to_numpy(dtype="float64").cumsum()
    before = np.concatenate([[start_on_hand], after[:-1]])
    if reorder_point is None or np.isnan(reorder_point):
        signal = np.zeros(len(after), dtype=bool)
    else:
        signal = (before > reorder_point) & (after <= reorder_point)
    out = ordered.assign(on_hand=after, signal=signal, alert=(before >= 0) & (after < 0))
    return out[APPLIED_COLUMNS].reset_index(drop=True)


def recompute(
    events: pd.DataFrame, policy: pd.DataFrame, opening: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch answer over a whole, deduplicated event log: (positions with on_hand and events_applied per key,
    and the events that signal or alert). `policy`: keys and reorder_point; `opening`: keys and on_hand of the
    nightly inventory snapshot each key starts from (a key without a row starts from 0). This is what the stream
    must equal after any number of micro-batches, kills and restarts, when events arrive in event-time order."""
    rop = {(r.item_id, r.region_id): r.reorder_point for r in policy.itertuples()}
    start = {} if opening is None else {(r.item_id, r.region_id): r.on_hand for r in opening.itertuples()}
    applied = [
        apply_events(group, float(start.get(key, 0.0)), rop.get(key))
        for key, group in events.groupby(KEYS, sort=True)
    ]
    if not applied:
        empty = pd.DataFrame(columns=[*KEYS, "on_hand", "events_applied"])
        return empty, pd.DataFrame(columns=APPLIED_COLUMNS)
    flat = pd.concat(applied, ignore_index=True)
    positions = flat.groupby(KEYS, sort=True).agg(
        on_hand=("on_hand", "last"), events_applied=("delta", "size")
    )
    flagged = flat[flat["signal"] | flat["alert"]]
    return positions.reset_index(), flagged.reset_index(drop=True)
