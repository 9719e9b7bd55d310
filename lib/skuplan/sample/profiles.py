"""Demand profiles for accuracy benchmarks: one long daily frame per profile, seeded, pure numpy/pandas.

Each profile mimics a kind of real retail set the forecaster must win on (issue 15):
  smooth_yearly     store x item daily sales over 2.5 years: weekly pattern, a yearly cycle, slow trends,
                    negative-binomial noise; forecast 90 days ahead.
  m5_intermittent   M5-like: sparse daily sales (a sale on 10-60% of days), small baskets, weekly pattern,
                    list-price steps and short discounts that move demand (price elasticity); 28 days ahead.
  promo_heavy       grocery-like: promotion windows on ~40% of days lifting sales 2.5-5x; 28 days ahead.
                    `plan` holds the promo flags of the horizon as a planner would have given them.
Frames: item_id, region_id, date, units, price, promo (the pipeline's daily series columns).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

PROFILES = ("smooth_yearly", "m5_intermittent", "promo_heavy")
HORIZON = {"smooth_yearly": 90, "m5_intermittent": 28, "promo_heavy": 28}
DAYS = {"smooth_yearly": 900, "m5_intermittent": 760, "promo_heavy": 760}
END = pd.Timestamp("2025-06-30")


class ProfileData(NamedTuple):
    history: pd.DataFrame  # rows up to and including the cutoff
    actual: pd.DataFrame  # item_id, region_id, date, units of the horizon days after the cutoff
    plan: pd.DataFrame  # item_id, region_id, date, promo, price of the horizon days (the planned values)
    cutoff: pd.Timestamp
    horizon: int


def _weekly(rng, n, days, amp):
    pattern = np.exp(rng.normal(0.0, amp, (n, 7)))
    pattern /= pattern.mean(1, keepdims=True)
    return pattern[:, (np.arange(days) + END.dayofweek - days + 1) % 7]


def _yearly(rng, n, days, amp):
    doy = 2 * np.pi * (np.arange(days) - days + 1 + END.dayofyear) / 365.25
    a = rng.normal(0.0, amp, (n, 4))
    return np.exp(a[:, :1] * np.sin(doy) + a[:, 1:2] * np.cos(doy) + 0.3 * a[:, 2:3] * np.sin(2 * doy)
                  + 0.3 * a[:, 3:] * np.cos(2 * doy))  # fmt: skip


def _windows(rng, n, days, per_year, min_len, max_len):
    """(n, days) bool: random promo windows, `per_year` of them a year per series."""
    on = np.zeros((n, days), dtype=bool)
    counts = rng.poisson(per_year * days / 365.25, n)
    for i, c in enumerate(counts):
        for s, ln in zip(rng.integers(0, days, c), rng.integers(min_len, max_len + 1, c), strict=True):
            on[i, s : s + ln] = True
    return on


def _smooth_yearly(rng, n, days):
    level = rng.lognormal(np.log(12.0), 0.8, n)[:, None]
    trend = 1.0 + rng.normal(0.0, 0.15, n)[:, None] * (np.arange(days) - days) / 365.25
    mu = level * np.maximum(trend, 0.2) * _weekly(rng, n, days, 0.15) * _yearly(rng, n, days, 0.35)
    k = rng.uniform(5.0, 30.0, n)[:, None]
    units = rng.negative_binomial(k, k / (k + mu))
    price = np.repeat(rng.uniform(2.0, 20.0, n)[:, None], days, 1)
    return units, price, np.zeros((n, days))


def _m5_intermittent(rng, n, days):
    list_price = rng.uniform(1.0, 15.0, n)[:, None]
    step = np.where(rng.random((n, 1)) < 0.5, rng.uniform(-0.1, 0.15, (n, 1)), 0.0)
    step_day = rng.integers(0, days, (n, 1))
    discount = _windows(rng, n, days, 4.0, 7, 14)
    price = list_price * (1 + step * (np.arange(days) >= step_day)) * np.where(discount, 0.8, 1.0)
    elasticity = rng.uniform(1.0, 2.5, n)[:, None]
    rel = (price / list_price) ** -elasticity
    occ = rng.uniform(0.1, 0.6, n)[:, None] * _weekly(rng, n, days, 0.2) * _yearly(rng, n, days, 0.15)
    sale = rng.random((n, days)) < np.clip(occ * rel, 0.0, 0.95)
    size = 1 + rng.poisson(rng.uniform(0.1, 1.5, n)[:, None], (n, days))
    return np.where(sale, size, 0), price, np.zeros((n, days))


def _promo_heavy(rng, n, days):
    promo = _windows(rng, n, days, 24.0, 4, 10)  # ~40% of days
    lift = rng.uniform(2.5, 5.0, n)[:, None]
    level = rng.lognormal(np.log(6.0), 0.7, n)[:, None]
    mu = level * _weekly(rng, n, days, 0.15) * np.where(promo, lift, 1.0)
    k = rng.uniform(3.0, 15.0, n)[:, None]
    units = rng.negative_binomial(k, k / (k + mu))
    price = rng.uniform(1.0, 10.0, n)[:, None] * np.where(promo, 0.75, 1.0)
    return units, price, promo.astype(float)


def profile_data(name: str, n_series: int, seed: int = 0) -> ProfileData:
    """The profile's series (n_series of them, one region), split at cutoff = END - horizon."""
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {name!r}")
    rng = np.random.default_rng([seed, PROFILES.index(name)])
    days, h = DAYS[name], HORIZON[name]
    units, price, promo = {"smooth_yearly": _smooth_yearly, "m5_intermittent": _m5_intermittent,
                           "promo_heavy": _promo_heavy}[name](rng, n_series, days)  # fmt: skip
    dates = pd.date_range(end=END, periods=days, freq="D")
    frame = pd.DataFrame({
        "item_id": np.repeat([f"{name[:2].upper()}{i:05d}" for i in range(n_series)], days),
        "region_id": "R01",
        "date": np.tile(dates, n_series),
        "units": units.ravel().astype(float),
        "price": np.round(price.ravel(), 2),
        "promo": promo.ravel(),
    })  # fmt: skip
    cutoff = END - pd.Timedelta(days=h)
    after = frame["date"] > cutoff
    return ProfileData(
        frame[~after].reset_index(drop=True),
        frame.loc[after, ["item_id", "region_id", "date", "units"]].reset_index(drop=True),
        frame.loc[after, ["item_id", "region_id", "date", "promo", "price"]].reset_index(drop=True),
        cutoff,
        h,
    )
