"""`skuplan stream`: its arguments and its run (the top-level CLI hands over here; no Spark import at load)."""

from __future__ import annotations

import argparse

EXAMPLE = (
    "example: skuplan stream --available-now   (events under inputs.root/stream_events, Delta under outputs.root)\n"
    "         skuplan stream --conf-file kafka.yaml   (stream.source: kafka; runs until stopped)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conf", default="conf", help="config folder holding base/ and local/ (default: conf)")
    p.add_argument("--conf-file", action="append", default=[], help="extra YAML merged last (repeatable)")
    p.add_argument(
        "--available-now",
        action="store_true",
        help="process the events the source holds now, then stop (a scheduled job); default: run until stopped",
    )
    p.add_argument(
        "--timeout-seconds",
        type=float,
        default=None,
        help="stop a continuous stream after this many seconds (default: run until stopped or killed)",
    )


def run(args: argparse.Namespace, cfg, spark) -> int:
    """Start the stream and wait; a failed micro-batch raises (the CLI prints its root cause, exit 1)."""
    from skuplan.stream.job import checkpoint_location, start_stream

    query = start_stream(spark, cfg, available_now=args.available_now)
    print(f"skuplan stream {query.id}: source {cfg.stream.source}, checkpoint {checkpoint_location(cfg)}")
    timed = args.timeout_seconds is not None and not args.available_now
    if timed and not query.awaitTermination(args.timeout_seconds):
        query.stop()
    query.awaitTermination()  # re-raises the batch's exception when the query failed
    progress = query.lastProgress or {}
    print(f"skuplan stream stopped; last batch {progress.get('batchId', 'none')}")
    return 0
