"""Screening of poison series and the forecasts of series no model should (or could) fit.

Kinds, checked in this order (status / model / forecast):
  nodata  no finite unit on or before the cutoff (all NaN, censored or absent): failed / zero / 0
  bad     inf, negative or > max_units units: those days become missing; failed / seasonal_naive on the rest
  zero    no demand at all: fallback / zero / 0
  cold    fewer than min_history_days observed days: fallback / mean / the mean of its last RECENT_DAYS (7)
          observed days (new items ramp up: a longer mean lags) times the batch's launch growth g(age)
          (launch_growth, >= 1), shrunk toward its (category, region) profile when history has a `category`
          column: yhat = w * own + (1 - w) * profile, w = n / (n + PRIOR_DAYS), profile = mean recent
          (28-day) level of the batch's established series of the same category and region (own when none).
          Why: new items were under-forecast (docs/decisions.md, 2026-11-30 "Cold-start forecasts").
  ok      everything else goes to the models.
Stockout (censored) and NaN days are masked to NaN in `panel.y` here, once, for every model downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skuplan.forecast.baselines import _nanmean0, seasonal_naive_matrix
from skuplan.forecast.panel import Panel

PRIOR_DAYS = 7.0
RECENT_DAYS = 7
MIN_LAUNCHES = 20  # launched series needed to learn the batch's launch growth; fewer -> no growth factor
# Growth is only ever upward: below 1 it mostly learns that an intermittent series' first day is a sale by
# definition, and deepens the under-forecast of young items.
GROWTH_CLIP = (1.0, 5.0)


@dataclass
class Screen:
    kind: np.ndarray  # (N,) object: ok | nodata | bad | zero | cold
    message: np.ndarray  # (N,) object
    n_obs: np.ndarray  # (N,) observed (finite, uncensored) days


def screen(panel: Panel, cfg) -> Screen:
    y = panel.y
    n = panel.n_series
    bad_inf, bad_neg = np.isinf(y), y < 0
    with np.errstate(invalid="ignore"):
        bad_big = np.isfinite(y) & (y > cfg.max_units)
    bad = bad_inf | bad_neg | bad_big
    panel.y = np.where(bad | panel.censored, np.nan, y)
    obs = np.isfinite(panel.y)
    n_obs = obs.sum(0)
    total = np.where(obs, panel.y, 0.0).sum(0)
    kind = np.full(n, "ok", dtype=object)
    msg = np.full(n, "", dtype=object)
    cold = n_obs < cfg.min_history_days
    kind[cold] = "cold"
    msg[cold] = [
        f"cold start: {k} observed days < min_history_days={cfg.min_history_days}" for k in n_obs[cold]
    ]
    zero = total <= 0
    kind[zero] = "zero"
    msg[zero] = "no demand in history: zero forecast"
    nbad = bad.sum(0)
    for j in np.flatnonzero(nbad):
        kind[j] = "bad"
        parts = [
            f"{c} {label}"
            for c, label in (
                (int(bad_inf[:, j].sum()), "inf"),
                (int(bad_neg[:, j].sum()), "negative"),
                (int(bad_big[:, j].sum()), f"> max_units={cfg.max_units:g}"),
            )
            if c
        ]
        msg[j] = f"units contain {', '.join(parts)} values; treated as missing, seasonal-naive fallback"
    nodata = n_obs == 0
    kind[nodata] = "nodata"
    msg[nodata] = "no finite units on or before the cutoff (all NaN, censored or absent): zero forecast"
    return Screen(kind, msg, n_obs)


def launch_growth(panel: Panel, established: np.ndarray, ages: np.ndarray, h: int) -> np.ndarray:
    """Growth g(a) per entry of `ages`: how much the next h days of a series launched a days ago sell over its
    last min(a, RECENT_DAYS) days, learned from the batch's established series that started inside the panel
    and have a + h days of history: sum over them of future mean / sum of past mean (volume-weighted, so one
    noisy small series cannot swing it). 1 where fewer than MIN_LAUNCHES such series exist (nothing to learn)."""
    T = panel.n_hist
    s = panel.start[established]
    launched = established[s > 0]
    s = panel.start[launched]
    y = panel.y[:T, launched]
    ok = np.isfinite(y)
    csum = np.vstack([np.zeros((1, len(launched))), np.cumsum(np.where(ok, y, 0.0), 0)])
    ccnt = np.vstack([np.zeros((1, len(launched))), np.cumsum(ok, 0)])
    cols = np.arange(len(launched))
    out = np.ones(len(ages))
    for a in np.unique(ages):
        use = s + a + h <= T
        if use.sum() < MIN_LAUNCHES or a < 1:
            continue
        c, s0, k = cols[use], s[use], min(int(a), RECENT_DAYS)

        def mean(lo, hi, c=c):
            return (csum[hi, c] - csum[lo, c]) / np.maximum(ccnt[hi, c] - ccnt[lo, c], 1)

        past, future = mean(s0 + a - k, s0 + a).sum(), mean(s0 + a, s0 + a + h).sum()
        if past > 0:
            out[ages == a] = np.clip(future / past, *GROWTH_CLIP)
    return out


def cold_start(panel: Panel, idx: np.ndarray, established: np.ndarray, h: int) -> np.ndarray:
    """(h, len(idx)) flat forecasts for cold-start series (see module docstring)."""
    y = panel.y[:, idx]
    n = np.isfinite(y).sum(0)
    # Mean of the last RECENT_DAYS observed days: rank observed days from the end, keep the first ones.
    from_end = np.cumsum(np.isfinite(y[::-1]), axis=0)[::-1]
    own = _nanmean0(np.where(from_end <= RECENT_DAYS, y, np.nan))
    own = own * launch_growth(panel, established, panel.n_hist - panel.start[idx], h)
    if "category" not in panel.keys.columns or len(established) == 0:
        return np.repeat(own[None, :], h, axis=0)
    recent = _nanmean0(panel.y[-28:, established])
    grp = ["category", "region_id"]
    prof = panel.keys.iloc[established][grp].assign(level=recent).groupby(grp, dropna=False)["level"].mean()
    look = pd.MultiIndex.from_frame(panel.keys.iloc[idx][grp])
    profile = prof.reindex(look).to_numpy()
    w = n / (n + PRIOR_DAYS)
    level = np.where(np.isfinite(profile), w * own + (1 - w) * np.nan_to_num(profile), own)
    return np.repeat(level[None, :], h, axis=0)


def naive_fallback(panel: Panel, idx: np.ndarray, h: int, season: int) -> np.ndarray:
    return seasonal_naive_matrix(panel.y[:, idx], panel.start[idx], h, season)
