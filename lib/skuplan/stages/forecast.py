"""forecast: every series forecast in buckets on the executors (skuplan.forecast.spark), three tables out."""

from __future__ import annotations

from pyspark.sql import DataFrame

from skuplan import plans
from skuplan.forecast import spark as glue
from skuplan.progress import stage_progress
from skuplan.run_context import RunContext, StageRecord

OUTPUTS = {"forecasts": "forecasts", "status": "forecast_status", "metrics": "forecast_metrics"}


def run(ctx: RunContext, inputs: dict[str, DataFrame]) -> dict[str, DataFrame]:
    """Every series of `series_arrays` (ctx.n_series rows) forecast by forecast_batch, one call per bucket."""
    cfg = ctx.cfg.forecast
    schemas = glue.output_schemas(cfg)
    # The optional plans input: planned promo / price as known future regressors, planned events in the calendar.
    staged_plans = inputs.get("staged_plans")
    events = plans.with_plan_events(glue.events_frame(inputs.get("staged_events")), staged_plans, ctx.cutoff,
                                    cfg.horizon_days)
    udf = glue.forecast_bucket(cfg, ctx.cutoff, events, glue.wide_schema(schemas),
                               future=plans.future_frame(staged_plans, ctx.cutoff, cfg.horizon_days))
    grouped = glue.bucketed(inputs["series_arrays"], cfg, ctx.n_series, ctx.cfg.spark.series_per_bucket)
    # Persisted: the three outputs are filters of one UDF result, which must run once.
    outs = glue.split_outputs(ctx.keep(grouped.applyInArrow(udf, schema=glue.wide_schema(schemas))), schemas)
    return {table: getattr(outs, kind) for kind, table in OUTPUTS.items()}


def progress(ctx: RunContext):
    """The forecast UDF runs while its outputs are written: progress lines for that time."""
    return stage_progress(ctx.spark, "forecast", ctx.n_series)


def finish(ctx: RunContext, rec: StageRecord, frames: dict[str, DataFrame]) -> None:
    rec.rows_in = ctx.series_days
    rec.rows_out = ctx.table_rows["forecasts"]
    counts = {r["status"]: r["count"] for r in frames["forecast_status"].groupBy("status").count().collect()}
    rec.detail = f"series by status: {dict(sorted(counts.items()))}"
