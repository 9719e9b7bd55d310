"""Daily history in long form -> dense (series x day) matrices aligned to a key frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["item_id", "region_id"]


def history_matrix(history: pd.DataFrame | None, keys: pd.DataFrame, window_days: int):
    """(matrix (n, window_days), end date) of units over the last `window_days` days of `history`.

    Row i belongs to keys.iloc[i]; a day with no row is NaN (series not yet alive or not in history).
    The window ends at the latest date in `history` (the cut-off), the same for every series.
    """
    n = len(keys)
    mat = np.full((n, window_days), np.nan)
    if history is None or history.empty or n == 0:
        return mat, None
    h = history[["item_id", "region_id", "date", "units"]]
    dates = pd.to_datetime(h["date"])
    end = dates.max()
    col = (dates - end).dt.days.to_numpy() + window_days - 1
    row_of = pd.Series(np.arange(n), index=pd.MultiIndex.from_frame(keys[KEYS].astype(str)))
    rows = row_of.reindex(pd.MultiIndex.from_frame(h[KEYS].astype(str))).to_numpy()
    ok = (col >= 0) & ~np.isnan(rows)
    mat[rows[ok].astype(int), col[ok]] = h["units"].to_numpy(dtype=float)[ok]
    return mat, end.date()


def right_align(mat: np.ndarray):
    """Move each row's valid (non-NaN) values to the right end, keeping their order; returns (mat, n_valid)."""
    valid = ~np.isnan(mat)
    order = np.argsort(valid, axis=1, kind="stable")  # NaN (False) first, valid days keep date order
    return np.take_along_axis(mat, order, axis=1), valid.sum(axis=1)
