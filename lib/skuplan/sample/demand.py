"""Demand simulation for the embedded sample: calendar, per-item demand profiles and one chunk of series.

Pure numpy. Every draw comes from a Generator handed in by the caller, so the caller decides how sub-seeds
are derived and the output stays reproducible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# Festival spike on the day itself, for an item of average sensitivity. The events table publishes these
# as uplift_hint so that a forecaster reading the hint is told roughly the truth.
DOUBLE_11_SPIKE = 4.5
SIX_18_SPIKE = 2.4

# Item kinds: the mix a planner sees in a real catalogue.
SMOOTH, INTERMITTENT, NEW, DISCONTINUED = 0, 1, 2, 3

N_CHANNELS = 3
# Share of single-channel series selling in web / store / marketplace.
_SINGLE_CHANNEL_P = np.array([0.35, 0.5, 0.15])
_MULTI_CHANNEL_SHARE = 0.3


@dataclass(frozen=True)
class Calendar:
    epoch_days: np.ndarray  # int32 days since 1970-01-01, one per sales day
    dow: np.ndarray  # 0 = Monday
    year_phase: np.ndarray  # 2*pi*day_of_year/365.25, drives the Fourier terms
    festival_excess: np.ndarray  # uplift above 1 from double_11 and 618 for an item of sensitivity 1

    @property
    def n_days(self) -> int:
        return int(self.epoch_days.size)


def build_calendar(start: dt.date, end: dt.date) -> Calendar:
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    epoch = days.astype(np.int64).astype(np.int32)
    month_start = days.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    mday = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    doy = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)

    excess = np.zeros(days.size)
    nov, jun = month == 11, month == 6
    # Double 11: pre-sales ramp from Nov 1, the spike on the day, a short hangover of late deliveries.
    excess[nov & (mday <= 10)] = 0.06 * mday[nov & (mday <= 10)]
    excess[nov & (mday == 11)] = DOUBLE_11_SPIKE - 1
    excess[nov & (mday == 12)] = 0.5
    excess[nov & (mday == 13)] = 0.2
    # 618: a smaller and longer ramp from Jun 1.
    excess[jun & (mday <= 17)] = 0.02 * mday[jun & (mday <= 17)]
    excess[jun & (mday == 18)] = SIX_18_SPIKE - 1
    excess[jun & (mday == 19)] = 0.2
    return Calendar(
        epoch, ((epoch.astype(np.int64) + 3) % 7).astype(np.int8), 2 * np.pi * doy / 365.25, excess
    )


@dataclass(frozen=True)
class ItemProfiles:
    """Per-item demand and price parameters (arrays of length n_items)."""

    kind: np.ndarray
    base: np.ndarray  # mean units/day before region and shape factors (smooth items)
    trend: np.ndarray  # relative change per year
    weekend: np.ndarray  # Saturday/Sunday multiplier
    fourier: np.ndarray  # (n_items, 4): sin1, cos1, sin2, cos2 log-amplitudes
    festival_sensitivity: np.ndarray
    dispersion: np.ndarray  # negative-binomial size parameter; smaller = noisier
    promo_rate: np.ndarray  # promo windows per year
    occurrence: np.ndarray  # daily probability of a sale (intermittent items)
    size_mean: np.ndarray  # mean units per sale (intermittent items)
    launch_day: np.ndarray  # index of the first possible sales day
    stop_day: np.ndarray  # index of the first day without sales
    list_price: np.ndarray
    price_step: np.ndarray  # relative list-price change at price_step_day
    price_step_day: np.ndarray


def _assign_kinds(rng: np.random.Generator, n_items: int) -> np.ndarray:
    kind = np.full(n_items, SMOOTH, dtype=np.int8)
    # Below five items a mix would leave no smooth item to learn from.
    if n_items < 5:
        return kind
    n_int, n_new = max(1, round(0.2 * n_items)), max(1, round(0.1 * n_items))
    n_disc = max(1, round(0.03 * n_items))
    order = rng.permutation(n_items)
    kind[order[:n_int]] = INTERMITTENT
    kind[order[n_int : n_int + n_new]] = NEW
    kind[order[n_int + n_new : n_int + n_new + n_disc]] = DISCONTINUED
    return kind


def draw_item_profiles(
    rng: np.random.Generator, n_days: int, unit_cost: np.ndarray, category: np.ndarray, n_categories: int
) -> ItemProfiles:
    n = unit_cost.size
    kind = _assign_kinds(rng, n)
    intermittent = kind == INTERMITTENT
    # Seasonality is mostly a category trait (coats in winter, fans in summer) with item-level wobble.
    category_fourier = rng.normal(0.0, [0.25, 0.25, 0.08, 0.08], size=(n_categories, 4))
    fourier = category_fourier[category] + rng.normal(0.0, 0.05, size=(n, 4))
    launch = np.where(kind == NEW, np.maximum(0, n_days - rng.integers(90, 181, n)), 0)
    stop = np.where(kind == DISCONTINUED, np.maximum(1, n_days - rng.integers(60, 241, n)), n_days + 10**6)
    has_step = rng.random(n) < 0.3
    return ItemProfiles(
        kind=kind,
        base=np.maximum(0.5, rng.lognormal(np.log(6.0), 0.9, n)),
        trend=rng.normal(0.0, 0.25, n),
        weekend=rng.uniform(1.15, 1.6, n),
        fourier=fourier,
        festival_sensitivity=rng.uniform(0.7, 1.3, n),
        dispersion=rng.uniform(2.0, 12.0, n),
        promo_rate=np.where(intermittent, rng.uniform(0.0, 2.0, n), rng.uniform(3.0, 8.0, n)),
        occurrence=rng.uniform(0.03, 0.15, n),
        size_mean=np.maximum(1.5, rng.lognormal(np.log(4.0), 0.5, n)),
        launch_day=launch,
        stop_day=stop,
        list_price=np.round(unit_cost * rng.uniform(1.4, 2.4, n), 2),
        price_step=np.where(has_step, rng.uniform(0.03, 0.08, n), 0.0),
        price_step_day=rng.integers(0, n_days, n),
    )


@dataclass(frozen=True)
class ChunkDemand:
    units: np.ndarray  # int64 (n_series, n_days, N_CHANNELS)
    price: np.ndarray  # float64 (n_series, n_days): shelf price before channel adjustment
    promo: np.ndarray  # bool (n_series, n_days)


def _promo_windows(
    rng: np.random.Generator, rate_per_year: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random 3-10 day promo windows per series as (active, uplift, discount) day matrices."""
    n_ser = rate_per_year.size
    counts = rng.poisson(rate_per_year * n_days / 365.25)
    owner = np.repeat(np.arange(n_ser), counts)
    start = rng.integers(0, n_days, owner.size)
    stop = np.minimum(start + rng.integers(3, 11, owner.size), n_days)
    log_lift = np.log(rng.uniform(1.3, 2.5, owner.size))
    cut = rng.uniform(0.1, 0.3, owner.size)
    # Difference arrays turn thousands of windows into three cumsums instead of a Python loop.
    diff = np.zeros((3, n_ser, n_days + 1))
    for layer, value in enumerate((np.ones(owner.size), log_lift, cut)):
        np.add.at(diff[layer], (owner, start), value)
        np.add.at(diff[layer], (owner, stop), -value)
    active_n, lift, discount = np.cumsum(diff, axis=2)[:, :, :n_days]
    active = active_n > 0.5
    # Overlapping windows stack, but no retailer runs a 5x promo: cap the combined effect.
    uplift = np.where(active, np.exp(np.minimum(lift, np.log(2.5))), 1.0)
    return active, uplift, np.where(active, np.clip(discount, 0.0, 0.4), 0.0)


def _channel_weights(rng: np.random.Generator, n_ser: int) -> np.ndarray:
    single = rng.choice(N_CHANNELS, size=n_ser, p=_SINGLE_CHANNEL_P)
    weights = np.eye(N_CHANNELS)[single]
    # An exact count rather than a coin per series, so even a dozen series include multi-channel ones.
    multi = np.zeros(n_ser, dtype=bool)
    multi[rng.permutation(n_ser)[: max(1, round(_MULTI_CHANNEL_SHARE * n_ser))]] = True
    mixed = rng.dirichlet(np.full(N_CHANNELS, 2.0), n_ser)
    # Some multi-channel series skip one channel, e.g. no marketplace listing.
    dropped = rng.integers(0, N_CHANNELS, n_ser)
    two_only = rng.random(n_ser) < 0.4
    mixed[two_only, dropped[two_only]] = 0.0
    mixed /= mixed.sum(axis=1, keepdims=True)
    weights[multi] = mixed[multi]
    return weights


def _split_channels(rng: np.random.Generator, units: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # Sequential binomials split each day's total exactly, so channel rows always add back to demand.
    first = rng.binomial(units, weights[:, 0:1])
    rest = units - first
    tail = weights[:, 1:].sum(axis=1)
    p_second = np.divide(weights[:, 1], tail, out=np.zeros_like(tail), where=tail > 0)
    second = rng.binomial(rest, np.clip(p_second, 0.0, 1.0)[:, None])
    return np.stack([first, second, rest - second], axis=-1)


def simulate_chunk(
    rng: np.random.Generator,
    cal: Calendar,
    prof: ItemProfiles,
    region_mult: np.ndarray,
    brand_factor: np.ndarray,
    series: np.ndarray,
) -> ChunkDemand:
    """Daily units per channel, shelf price and promo flag for consecutive series (item-major order)."""
    n_regions = region_mult.size
    item, region = series // n_regions, series % n_regions
    n_ser, n_days = series.size, cal.n_days
    t = np.arange(n_days)

    years_from_mid = (t - (n_days - 1) / 2) / 365.25
    slope = prof.trend[item] + rng.normal(0.0, 0.05, n_ser)
    shape = np.maximum(0.15, 1.0 + slope[:, None] * years_from_mid)
    weekly = np.ones((n_ser, 7))
    weekly[:, 4] = 1.0 + 0.3 * (prof.weekend[item] - 1.0)
    weekly[:, 5:] = prof.weekend[item][:, None]
    shape *= weekly[:, cal.dow]
    f, ph = prof.fourier[item], cal.year_phase
    shape *= np.exp(
        f[:, 0:1] * np.sin(ph)
        + f[:, 1:2] * np.cos(ph)
        + f[:, 2:3] * np.sin(2 * ph)
        + f[:, 3:4] * np.cos(2 * ph)
    )
    shape *= 1.0 + prof.festival_sensitivity[item][:, None] * cal.festival_excess
    shape *= brand_factor[region]
    promo, uplift, discount = _promo_windows(rng, prof.promo_rate[item], n_days)
    shape *= uplift
    since_launch = np.maximum(t - prof.launch_day[item][:, None], 0)
    ramp = np.where(prof.kind[item] == NEW, 20.0, 1e-9)[:, None]
    shape *= (t >= prof.launch_day[item][:, None]) * (1.0 - np.exp(-(since_launch + 1) / ramp))
    # Discontinued items fade out over a month rather than stopping dead.
    shape *= np.clip((prof.stop_day[item][:, None] - t) / 30.0, 0.0, 1.0)

    level = prof.base[item] * region_mult[region] * rng.lognormal(0.0, 0.25, n_ser)
    mu = level[:, None] * shape
    k = prof.dispersion[item][:, None]
    units = rng.negative_binomial(k, k / (k + mu))
    lumpy = np.flatnonzero(prof.kind[item] == INTERMITTENT)
    if lumpy.size:
        li = item[lumpy]
        occurs_p = prof.occurrence[li] * np.sqrt(region_mult[region[lumpy]])
        occurs = rng.random((lumpy.size, n_days)) < np.clip(occurs_p[:, None] * shape[lumpy], 0.0, 0.9)
        size_n = 0.7  # low negative-binomial size: mostly small orders with the odd bulk buy
        sizes = 1 + rng.negative_binomial(
            size_n, (size_n / (size_n + prof.size_mean[li] - 1.0))[:, None], (lumpy.size, n_days)
        )
        units[lumpy] = np.where(occurs, sizes, 0)

    price_level = prof.list_price[item] * rng.uniform(0.97, 1.03, n_ser)
    stepped = 1.0 + prof.price_step[item][:, None] * (t >= prof.price_step_day[item][:, None])
    price = price_level[:, None] * stepped * (1.0 - discount)
    split = _split_channels(rng, units, _channel_weights(rng, n_ser))
    return ChunkDemand(split, price, promo)
