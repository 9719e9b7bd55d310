"""Calling one stage's real entry point (skuplan.stages.<name>.run) on frames a test builds."""

from __future__ import annotations

import datetime as dt

from skuplan.config import Config, SparkConfig
from skuplan.run_context import RunContext


def stage_context(spark, cutoff: dt.date, n_series: int = 0, series_per_bucket: int = 1000, **sections) -> RunContext:
    """A run context for run_date = cutoff + 1 with the given config sections (e.g. forecast=ForecastConfig())."""
    cfg = Config(spark=SparkConfig(series_per_bucket=series_per_bucket, jars_dir=None), **sections)
    ctx = RunContext(spark, cfg, cutoff + dt.timedelta(days=1))
    ctx.n_series = n_series
    return ctx


def run_forecast(spark, arrays_df, cfg, cutoff: dt.date, n_series: int, events_df=None, series_per_bucket=1000):
    """stages.forecast.run on one-row-per-series arrays: the three output frames, as the pipeline gets them."""
    from skuplan.stages import forecast

    ctx = stage_context(spark, cutoff, n_series, series_per_bucket, forecast=cfg)
    inputs = {"series_arrays": arrays_df, **({"staged_events": events_df} if events_df is not None else {})}
    out = forecast.run(ctx, inputs)
    return out["forecasts"], out["forecast_status"], out["forecast_metrics"]
