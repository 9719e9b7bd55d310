"""One module per stage of the nightly run: `run(ctx, inputs) -> {name: DataFrame}` (thin Spark glue around
the stage's package) and `finish(ctx, rec, frames)` (the manifest summary, after the outputs are committed).
The order and what each stage reads and writes are declared once, in skuplan.pipeline.STAGES."""
