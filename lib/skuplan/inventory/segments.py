"""Segmentation: ABC (value), XYZ (variability), demand class (ADI/CV^2) and k-means clusters.

ABC is a global computation (cumulative share over *all* series); abc_class() takes that share so Spark
can compute it with one window (see its docstring) and classify per batch with the same code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.contracts import FEATURE_COLUMNS
from skuplan.inventory.config import InventoryConfig, KMeansConfig
from skuplan.series.batch import KEYS, SeriesBatch

FEATURES = list(FEATURE_COLUMNS)


def abc_class(cum_share_before, cutoffs=(0.8, 0.95)) -> np.ndarray:
    """A/B/C from the share of total annual value held by the series ranked *above* this one.

    "Before" (exclusive) so the series that crosses a cut-off joins the higher class: the top series is
    always A even when it alone exceeds 80%. Spark: sum(value) over Window.orderBy(value desc, item_id,
    region_id).rowsBetween(unboundedPreceding, -1), divided by the grand total (0 for the first row).
    """
    share = np.asarray(cum_share_before, dtype=float)
    a, b = cutoffs
    return np.where(share < a, "A", np.where(share < b, "B", "C"))


def cum_share_before(value) -> np.ndarray:
    """Exclusive cumulative value share in descending value order (ties: input order); total 0 -> all 0."""
    v = np.nan_to_num(np.asarray(value, dtype=float), nan=0.0)
    order = np.argsort(-v, kind="stable")
    total = v.sum()
    before = np.empty_like(v)
    before[order] = np.concatenate([[0.0], np.cumsum(v[order])[:-1]]) / total if total > 0 else 0.0
    return before


def xyz_class(cv, cutoffs=(0.5, 1.0)) -> np.ndarray:
    """X if CV <= first cut-off, Y if <= second, else Z (NaN/inf CV, i.e. no demand, is Z)."""
    cv = np.asarray(cv, dtype=float)
    x, y = cutoffs
    return np.where(cv <= x, "X", np.where(cv <= y, "Y", "Z"))


def demand_class(adi, cv2, adi_cut: float = 1.32, cv2_cut: float = 0.49) -> np.ndarray:
    """Syntetos-Boylan classes from ADI (days per non-zero demand) and CV^2 of non-zero sizes."""
    adi, cv2 = np.asarray(adi, dtype=float), np.asarray(cv2, dtype=float)
    sparse, variable = adi > adi_cut, cv2 > cv2_cut
    return np.where(
        sparse, np.where(variable, "lumpy", "intermittent"), np.where(variable, "erratic", "smooth")
    )


def abc_xyz(df: pd.DataFrame, cfg: InventoryConfig) -> pd.DataFrame:
    """Adds annual_value, cum_share_before, abc, xyz, segment to a frame of series.

    df: item_id, region_id, mean_daily_demand, unit_cost and xyz_cv (CV of bucketed demand, e.g. from
    segment_features). One call must see every series for ABC to be global (or pass a precomputed
    cum_share_before column, which is then used as is).
    """
    out = df.copy()
    out["annual_value"] = (
        out["mean_daily_demand"].astype(float) * cfg.days_per_year * out["unit_cost"].astype(float)
    )
    if "cum_share_before" not in out:
        out["cum_share_before"] = cum_share_before(out["annual_value"])
    out["abc"] = abc_class(out["cum_share_before"], cfg.abc_cutoffs)
    out["xyz"] = xyz_class(out["xyz_cv"], cfg.xyz_cutoffs)
    out["segment"] = out["abc"] + out["xyz"]
    return out


def segment_features(batch: SeriesBatch, window_days: int = 364, bucket_days: int = 7) -> pd.DataFrame:
    """Per series of `batch` over the last `window_days` days up to its cutoff, counted from the series'
    first sale in that window (features_from_array); negative units count as 0.

    Columns of features_from_array, plus item_id, region_id (the batch's order: sorted).
    """
    x = np.clip(batch.last_days(window_days).T, 0, None)
    # (series, days) in C order, as features_from_array's row sums expect (same summation order every call).
    features = features_from_array(np.ascontiguousarray(x), bucket_days)
    return pd.concat([batch.keys[KEYS].reset_index(drop=True), features], axis=1)


def since_first_sale(x: np.ndarray) -> np.ndarray:
    """(n, days) bool: the day is on or after the row's first day with units > 0 (NaN is no sale).

    Days before an item's first sale are not zero demand: the item was not on sale yet. Counting them
    would class a new item with two steady months as intermittent / Z (issue 14)."""
    return np.maximum.accumulate(np.nan_to_num(np.asarray(x, dtype=float)) > 0, axis=1)


def _tail_blocks(x: np.ndarray, n_active: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Totals of whole `size`-day blocks counted back from the last day, (n, blocks) oldest first, and
    which of them lie entirely on or after the row's first sale."""
    n, width = x.shape
    n_b = max(width // size, 1)
    b_len = min(size, width)
    blocks = x[:, width - n_b * b_len :].reshape(n, n_b, b_len)
    from_end = np.arange(n_b)[::-1]  # 0 = the most recent block
    return blocks, from_end[None, :] < (n_active // b_len)[:, None]


def _masked_mean_std(v: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row mean, sample std (ddof 1; 0 with one value) and count of v where ok."""
    cnt = ok.sum(axis=1)
    mean = np.where(ok, v, 0.0).sum(axis=1) / np.maximum(cnt, 1)
    ss = np.where(ok, (v - mean[:, None]) ** 2, 0.0).sum(axis=1)
    return mean, np.sqrt(ss / np.maximum(cnt - 1, 1)), cnt


def features_from_array(x: np.ndarray, bucket_days: int = 7) -> pd.DataFrame:
    """Features of daily arrays (n, days), most recent last, from each row's first sale on (since_first_sale;
    NaN after it counts as 0). A row without a sale has volume 0 and infinite ADI / XYZ CV.

    volume: mean units/day; cv: std/mean of daily units; adi: days per non-zero day; cv2: squared CV of
    non-zero sizes; trend: OLS slope of bucket totals per bucket, divided by the mean bucket total;
    seasonal_strength: 1 - Var(remainder) / Var(detrended), weekly pattern, detrended by week means
    (Hyndman & Athanasopoulos' F_S); xyz_cv: CV of `bucket_days` totals (for XYZ) over the whole buckets
    since the first sale; with fewer than two of them, the daily CV / sqrt(bucket_days) (independent days);
    demand_class (SBC). Trend and seasonality use whole buckets / weeks since the first sale.
    """
    x = np.nan_to_num(np.asarray(x, dtype=float))
    n, width = x.shape
    active = since_first_sale(x)
    n_act = active.sum(axis=1)
    mean, std, _ = _masked_mean_std(x, active)
    nz = (x > 0).sum(axis=1)
    cnt = np.maximum(nz, 1)
    nz_mean = np.where(x > 0, x, 0.0).sum(axis=1) / cnt
    nz_var = np.where(x > 0, (x - nz_mean[:, None]) ** 2, 0.0).sum(axis=1) / cnt
    blocks, b_ok = _tail_blocks(x, n_act, bucket_days)
    buckets = blocks.sum(axis=2)
    b_mean, b_std, n_b = _masked_mean_std(buckets, b_ok)
    t = np.where(b_ok, np.cumsum(b_ok, axis=1) - 1.0 - (n_b[:, None] - 1) / 2.0, 0.0)
    slope = (buckets * t).sum(axis=1) / np.maximum((t * t).sum(axis=1), 1e-12)
    weeks, w_ok = _tail_blocks(x, n_act, 7)
    detr = np.where(w_ok[:, :, None], weeks - weeks.mean(axis=2, keepdims=True), 0.0)
    n_w = np.maximum(w_ok.sum(axis=1), 1)[:, None]
    remainder = np.where(w_ok[:, :, None], detr - detr.sum(axis=1, keepdims=True) / n_w[:, :, None], 0.0)
    cells = n_w * weeks.shape[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean > 0, std / mean, np.nan)
        adi = np.where(nz > 0, n_act / cnt, np.inf)
        cv2 = np.where(nz > 0, nz_var / nz_mean**2, 0.0)
        trend = np.where((b_mean > 0) & (n_b > 1), slope / b_mean, 0.0)
        iid_cv = np.where(mean > 0, cv / np.sqrt(min(bucket_days, width)), np.inf)
        xyz_cv = np.where(n_b >= 2, np.where(b_mean > 0, b_std / b_mean, np.inf), iid_cv)
        var_d = (detr**2).reshape(n, -1).sum(axis=1) / cells[:, 0]
        var_r = (remainder**2).reshape(n, -1).sum(axis=1) / cells[:, 0]
        seas = np.where(var_d > 0, np.clip(1.0 - var_r / var_d, 0, 1), 0.0)
    return pd.DataFrame(
        {"volume": mean, "cv": cv, "adi": adi, "cv2": cv2, "trend": trend, "seasonal_strength": seas,
         "xyz_cv": xyz_cv, "demand_class": demand_class(adi, cv2)}
    )  # fmt: skip


def _kmeans_once(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int):
    n = len(x)
    centers = [x[rng.integers(n)]]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):  # k-means++: next centre drawn with probability proportional to D(x)^2
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        centers.append(x[rng.choice(n, p=p)])
        d2 = np.minimum(d2, ((x - centers[-1]) ** 2).sum(axis=1))
    c = np.array(centers)
    labels = np.full(n, -1)
    for _ in range(max_iter):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):  # k is small; an empty cluster keeps its old centre
            if (labels == j).any():
                c[j] = x[labels == j].mean(axis=0)
    inertia = ((x - c[labels]) ** 2).sum()
    return labels, c, inertia


def kmeans(x: np.ndarray, k: int, seed: int = 42, n_init: int = 4, max_iter: int = 100):
    """Lloyd's k-means with k-means++ starts; best of n_init by inertia. Returns (labels, centres, inertia)."""
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        res = _kmeans_once(x, k, rng, max_iter)
        if best is None or res[2] < best[2]:
            best = res
    return best


def silhouette(x: np.ndarray, labels: np.ndarray, sample: int = 2000, seed: int = 42) -> float:
    """Mean silhouette (b - a) / max(a, b) on a seeded sample; singletons score 0 (Rousseeuw 1987)."""
    rng = np.random.default_rng(seed)
    idx = (
        rng.choice(len(x), size=min(sample, len(x)), replace=False) if len(x) > sample else np.arange(len(x))
    )
    xs, ls = x[idx], labels[idx]
    dist = np.sqrt(((xs[:, None, :] - xs[None, :, :]) ** 2).sum(axis=2))
    ks = np.unique(ls)
    if len(ks) < 2:
        return float("nan")
    mean_to = np.stack([dist[:, ls == j].sum(axis=1) for j in ks], axis=1)
    size = np.array([(ls == j).sum() for j in ks])
    own = np.searchsorted(ks, ls)
    own_size = size[own]
    a = np.where(own_size > 1, mean_to[np.arange(len(ls)), own] / np.maximum(own_size - 1, 1), 0.0)
    other = mean_to / size
    other[np.arange(len(ls)), own] = np.inf
    b = other.min(axis=1)
    s = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
    return float(s.mean())


def standardize(features: pd.DataFrame, cols=FEATURES) -> np.ndarray:
    """log1p on volume and ADI (heavy right tails), then z-scores; constant or non-finite columns -> 0."""
    x = features[list(cols)].to_numpy(dtype=float).copy()
    for j, name in enumerate(cols):
        if name in ("volume", "adi"):
            x[:, j] = np.log1p(np.clip(x[:, j], 0, 1e12))
    x = np.where(np.isfinite(x), x, np.nan)
    mu, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    z = np.where(sd > 0, (x - mu) / np.where(sd > 0, sd, 1.0), 0.0)
    return np.nan_to_num(z, nan=0.0)


def kmeans_segments(
    features: pd.DataFrame, k_range: tuple[int, int] = (2, 6), seed: int = 42, cfg: KMeansConfig | None = None
) -> pd.DataFrame:
    """Clusters on standardized FEATURES with k chosen by the best silhouette in k_range (inclusive).

    Returns item_id, region_id, cluster (0 = highest centroid volume), cluster_label ("hot" when the
    cluster's standardized volume centroid is above the batch mean, else "cold"), k, silhouette.
    """
    cfg = cfg or KMeansConfig(k_min=k_range[0], k_max=k_range[1])
    out = features[KEYS].reset_index(drop=True).copy()
    if out.empty:
        return out.assign(
            cluster=pd.Series(dtype=int), cluster_label=pd.Series(dtype=object), k=0, silhouette=np.nan
        )
    x = standardize(features)
    n = len(x)
    best = (np.zeros(n, dtype=int), np.zeros((1, x.shape[1])), float("nan"), 1)
    for k in range(k_range[0], min(k_range[1], n - 1) + 1):
        labels, centers, _ = kmeans(x, k, seed, cfg.n_init, cfg.max_iter)
        score = silhouette(x, labels, cfg.silhouette_sample, seed)
        if np.isfinite(score) and (np.isnan(best[2]) or score > best[2]):
            best = (labels, centers, score, k)
    labels, centers, score, k = best
    vol = centers[:, FEATURES.index("volume")]
    rank = np.empty(len(vol), dtype=int)
    rank[np.argsort(-vol, kind="stable")] = np.arange(len(vol))
    out["cluster"] = rank[labels]
    out["cluster_label"] = np.where(vol[labels] > 0, "hot", "cold")
    out["k"] = k
    out["silhouette"] = score
    return out
