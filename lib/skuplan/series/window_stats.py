"""Series statistics and outlier flags from the per-series day lists (series.spark.series_arrays rows), in numpy.

Prepare computes both from the lists, on a full night and on an incremental one alike: an incremental night
builds tonight's lists from last night's and the new days (series.incremental), so the statistics and flags are
those of a full prepare on the same history by construction (same lists in, same function). No Spark import.

Inputs are flat: `offsets` (N + 1, Arrow list offsets) cut `day` (epoch days, ascending per series) and `units`
into the N series' lists; `first_day` / `last_sale_day` are the whole history's (not only the listed days').
"""

from __future__ import annotations

import numpy as np

STATS_WINDOW_DAYS = 365  # series_stats' window: a year of daily demand (classification, ABC, EOQ)


def _segment_sums(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Per-series sums of values (segment id per value), accumulated in list order: deterministic."""
    return np.bincount(seg, weights=values, minlength=n) if len(values) else np.zeros(n)


def window_stats(
    first_day: np.ndarray,
    offsets: np.ndarray,
    day: np.ndarray,
    units: np.ndarray,
    cutoff_day: int,
    window_days: int = STATS_WINDOW_DAYS,
) -> dict[str, np.ndarray]:
    """series_stats' numeric columns (see contract series_stats) of N series whose first_day (whole history) is
    set and <= cutoff_day.

    Every day from first_day to the cutoff counts, absent days as zero sales; mean, std, ADI and annual units
    over the last `window_days` of them (fewer for a younger series); CV² of the non-zero days' units.
    """
    n_series = len(first_day)
    seg = np.repeat(np.arange(n_series), np.diff(offsets))
    inside = (day >= cutoff_day - window_days + 1) & (day <= cutoff_day)
    seg_in, u_in = seg[inside], units[inside].astype(float)
    total = _segment_sums(u_in, seg_in, n_series)
    squares = _segment_sums(u_in * u_in, seg_in, n_series)
    nonzero = u_in > 0
    k = np.bincount(seg_in[nonzero], minlength=n_series).astype(float)
    nz_sum = _segment_sums(u_in[nonzero], seg_in[nonzero], n_series)
    with np.errstate(invalid="ignore", divide="ignore"):
        nz_mean = np.where(k > 0, nz_sum / k, np.nan)
        # Two passes (mean, then squared deviations): no cancellation for large, steady sales.
        dev = u_in[nonzero] - nz_mean[seg_in[nonzero]]
        nz_std = np.where(
            k > 0, np.sqrt(_segment_sums(dev * dev, seg_in[nonzero], n_series) / np.maximum(k, 1)), 0.0
        )
        n_obs = (cutoff_day - first_day + 1).astype(np.int64)
        n = np.minimum(n_obs, window_days).astype(float)
        variance = np.maximum((squares - total * total / n) / (n - 1), 0.0)
        std = np.where(n > 1, np.sqrt(variance), 0.0)
        cv2 = np.where(nz_mean > 0, (nz_std / np.where(nz_mean > 0, nz_mean, 1.0)) ** 2, 0.0)
    return {
        "n_obs": n_obs,
        "mean_daily": total / n,
        "std_daily": std,
        "adi": n / np.maximum(k, 1.0),
        "cv2": cv2,
        "annual_units": total * 365.0 / n,
    }


def outlier_days(
    offsets: np.ndarray, day: np.ndarray, units: np.ndarray, factor: float, min_nonzero: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(series index, day, units, threshold) of the listed days whose units exceed `factor` x the series' median
    non-zero day, for series with at least `min_nonzero` non-zero days. The median is the lower one (the
    ceil(k / 2)-th smallest of k), the value Spark's percentile_approx(0.5) gives for these counts."""
    n_series = len(offsets) - 1
    seg = np.repeat(np.arange(n_series), np.diff(offsets))
    nonzero = units > 0
    seg_nz, u_nz = seg[nonzero], units[nonzero].astype(float)
    k = np.bincount(seg_nz, minlength=n_series)
    order = np.lexsort((u_nz, seg_nz))  # by series, then units
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    has = k > 0
    median = np.full(n_series, np.nan)
    median[has] = u_nz[order][starts[has] + (k[has] + 1) // 2 - 1]
    threshold = median * factor
    flagged = nonzero & (k[seg] >= min_nonzero) & (units > threshold[seg])
    return seg[flagged], day[flagged], units[flagged].astype(float), threshold[seg[flagged]]
