"""Calendar and event features shared by the regression and Prophet: weekday, yearly Fourier, shopping festivals.

双十一 (Singles' Day, Nov 11) and 618 (Jun 18) are modelled as the day itself plus a linear pre-sale ramp
(rising to 1 the day before), because e-commerce pre-sales lift demand for ~10-17 days before the peak and
then collapse; one dummy alone would smear that into the weekly pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FESTIVALS = {"double_11": (11, 11, 10), "618": (6, 18, 17)}  # name -> (month, day, pre-sale ramp days)


def festival_features(dates: pd.DatetimeIndex) -> tuple[np.ndarray, list[str]]:
    cols, names = [], []
    month, day = dates.month.to_numpy(), dates.day.to_numpy()
    for name, (m, d, ramp) in FESTIVALS.items():
        cols.append(((month == m) & (day == d)).astype(float))
        before = d - day  # days until the festival within its month (pre-sales start in the same month)
        cols.append(
            np.where((month == m) & (before >= 1) & (before <= ramp), (ramp + 1 - before) / ramp, 0.0)
        )
        names += [name, f"{name}_ramp"]
    return np.column_stack(cols), names


def holiday_feature(dates: pd.DatetimeIndex, country: str | None) -> np.ndarray | None:
    """1 on the country's public holidays (holidays package, shipped with Prophet); None when not configured."""
    if not country:
        return None
    import holidays  # lazy: only when a country is configured

    days = holidays.country_holidays(country, years=range(dates.min().year, dates.max().year + 1))
    hd = pd.DatetimeIndex(pd.to_datetime(list(days.keys())))
    return dates.isin(hd).astype(float)


def base_design(dates: pd.DatetimeIndex, t_end: int, cfg) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Shared design matrix (len(dates) x p) and the ridge-penalty mask; trend knots use only days < t_end.

    Columns: intercept (not penalized), trend, hinge terms at `n_changepoints` knots spread over the first
    `changepoint_range` of the training window, 7 weekday dummies (penalized, so no baseline day is needed),
    yearly Fourier pairs, festival day + ramp, optional public holidays.
    """
    t = np.arange(len(dates), dtype=float)
    span = max(t_end - 1, 1)
    tt = t / span  # 0..1 over the training window, > 1 in the horizon
    cols = [np.ones_like(tt), tt]
    names = ["intercept", "trend"]
    for j, k in enumerate(np.linspace(0, cfg.changepoint_range, cfg.n_changepoints + 2)[1:-1]):
        cols.append(np.maximum(tt - k, 0.0))
        names.append(f"hinge{j}")
    wd = dates.dayofweek.to_numpy()
    for d in range(7):
        cols.append((wd == d).astype(float))
        names.append(f"wd{d}")
    doy = 2 * np.pi * dates.dayofyear.to_numpy() / 365.25
    for k in range(1, cfg.fourier_order + 1):
        cols += [np.sin(k * doy), np.cos(k * doy)]
        names += [f"sin{k}", f"cos{k}"]
    fest, fest_names = festival_features(dates)
    cols += list(fest.T)
    names += fest_names
    hol = holiday_feature(dates, cfg.holidays_country)
    if hol is not None:
        cols.append(hol)
        names.append("holiday")
    X = np.column_stack(cols)
    pen = np.array([n != "intercept" for n in names])
    return X, pen, names


@dataclass
class EventColumns:
    """Events table as dummies: shared columns (all regions) and per-series columns (regional events)."""

    shared: np.ndarray  # (T, ks)
    shared_prior: np.ndarray  # (ks,) log uplift hint (0 when none)
    series: np.ndarray  # (T, n, kr)
    series_prior: np.ndarray  # (kr,)
    names: list[str]


def event_columns(events: pd.DataFrame | None, dates: pd.DatetimeIndex, regions: np.ndarray) -> EventColumns:
    n = len(regions)
    empty = EventColumns(
        np.zeros((len(dates), 0)), np.zeros(0), np.zeros((len(dates), n, 0)), np.zeros(0), []
    )
    if events is None or len(events) == 0:
        return empty
    for col in ("date", "event_name"):
        if col not in events.columns:
            raise ValueError(
                f"events is missing column {col!r}; expected date, event_name, region_id, uplift_hint"
            )
    ev = events.copy()
    ev["date"] = pd.to_datetime(ev["date"]).dt.normalize()
    ev["region_id"] = ev["region_id"] if "region_id" in ev.columns else None
    hint = pd.to_numeric(ev["uplift_hint"], errors="coerce") if "uplift_hint" in ev.columns else np.nan
    ev["prior"] = np.log(np.where(np.asarray(hint, dtype=float) > 0, hint, 1.0))
    ev = ev[ev["date"].isin(dates)]
    if ev.empty:
        return empty
    ti = dates.get_indexer(ev["date"])
    is_shared = ev["region_id"].isna().to_numpy()
    shared_names = sorted(ev.loc[is_shared, "event_name"].astype(str).unique())
    series_names = sorted(ev.loc[~is_shared, "event_name"].astype(str).unique())
    shared = np.zeros((len(dates), len(shared_names)))
    series = np.zeros((len(dates), n, len(series_names)))
    sp, rp = np.zeros(len(shared_names)), np.zeros(len(series_names))
    region_idx = pd.Series(np.arange(n)).groupby(np.asarray(regions, dtype=str)).apply(list).to_dict()
    for (name, reg, prior), t, sh in zip(
        ev[["event_name", "region_id", "prior"]].itertuples(index=False, name=None),
        ti,
        is_shared,
        strict=True,
    ):
        if sh:
            j = shared_names.index(str(name))
            shared[t, j], sp[j] = 1.0, prior
        else:
            j = series_names.index(str(name))
            series[t, region_idx.get(str(reg), []), j] = 1.0
            rp[j] = prior
    names = [f"event:{s}" for s in shared_names] + [f"event@region:{s}" for s in series_names]
    return EventColumns(shared, sp, series, rp, names)
