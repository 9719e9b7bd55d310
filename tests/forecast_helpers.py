"""Tiny synthetic series for the forecast tests (plain pandas, no Spark)."""

import numpy as np
import pandas as pd

from skuplan.series.batch import SeriesBatch

CUTOFF = pd.Timestamp("2024-03-31")


def to_batch(frame: pd.DataFrame, cutoff=CUTOFF) -> SeriesBatch:
    """The SeriesBatch forecast_batch takes, from a long frame of series_frame rows, up to `cutoff`."""
    return SeriesBatch.from_long(frame, cutoff)


def series_frame(item: str, units, region: str = "r1", cutoff=CUTOFF, promo=None, price=10.0, stockout=None):
    units = np.asarray(units, dtype=float)
    dates = pd.date_range(end=cutoff, periods=len(units), freq="D")
    df = pd.DataFrame(
        {
            "item_id": item,
            "region_id": region,
            "date": dates,
            "units": units,
            "promo": np.zeros(len(units)) if promo is None else np.asarray(promo, dtype=float),
            "price": np.full(len(units), price, dtype=float),
        }
    )
    if stockout is not None:
        df["stockout"] = np.asarray(stockout, dtype=bool)
    return df


def noisy_batch(n: int = 6, days: int = 150, seed: int = 0) -> pd.DataFrame:
    """A few realistic-ish series: weekly pattern, level, negative-binomial noise, some intermittent."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        t = np.arange(days)
        level = [8.0, 0.3, 25.0, 2.0, 0.1, 12.0][i % 6]
        mu = level * (1 + 0.3 * np.sin(2 * np.pi * t / 7))
        y = rng.negative_binomial(3, 3 / (3 + mu)).astype(float)
        parts.append(series_frame(f"item{i:02d}", y, region=f"r{i % 2}"))
    return pd.concat(parts, ignore_index=True)
