"""Command line: `skuplan run`, `skuplan demo`, `skuplan generate-sample`, `skuplan report`, `skuplan maintain`
(skuplan.cli_ops: it and the global options --version, --log-level, --log-format).

Exit codes: 0 ok, 1 the run failed, 2 bad configuration or input (or no pyspark/Delta to run on).

pyspark and delta-spark are the `local` extra, not core dependencies (a Spark cluster brings its own), so
this module imports neither at import time: `skuplan --help` and `skuplan generate-sample` work without them,
and the Spark commands say what to install when they are missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import logging
import sys
import time
from pathlib import Path

from skuplan import cli_ops
from skuplan.stream import cli as stream_cli

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# Sub-commands that run Spark (and read or write Delta); generate-sample is pure Python.
SPARK_COMMANDS = frozenset({"run", "demo", "report", "maintain", "stream"})
# Distribution name -> module it provides.
_SPARK_MODULES = {"pyspark": "pyspark", "delta-spark": "delta"}

EXAMPLES = {
    "run": "example: skuplan run --conf conf --run-date 2026-01-01",
    "demo": "example: skuplan demo --run-date 2026-01-01   (writes sample_data/ and output/)",
    "generate-sample": "example: skuplan generate-sample --out sample_data --items 40 --regions 4",
    "report": "example: skuplan report --run-date 2026-01-01 --out output/report.html",
    "maintain": cli_ops.MAINTAIN_EXAMPLE,
    "stream": stream_cli.EXAMPLE,
}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--run-date must be YYYY-MM-DD, got {text!r}") from None


def _scenario(text: str) -> str:
    from skuplan.config import check_identifier

    try:
        return check_identifier(text, "--scenario", table=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skuplan",
        description="Demand forecasting and inventory planning for SKU x region series on Spark + Delta Lake.",
        epilog="Exit codes: 0 ok, 1 run failed, 2 bad config or input. Run `skuplan <command> --help` for more.",
    )
    cli_ops.add_global_options(parser)  # --version, --log-level, --log-format
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    run = add("run", "Run the nightly job for one run date: every stage, each writing its Delta tables.")
    demo = add("demo", "Generate the embedded sample, then run the whole job on it with conf/ (local mode).")
    for p in (run, demo):
        p.add_argument("--conf", default="conf", help="config folder holding base/ and local/ (default: conf)")
        p.add_argument("--conf-file", action="append", default=[], help="extra YAML merged last (repeatable)")
        p.add_argument("--run-date", type=_date, required=p is run, default=dt.date(2026, 1, 1),
                       help="planning date YYYY-MM-DD; history ends the day before")
    run.add_argument("--from-stage", metavar="STAGE",
                     help="resume: reuse what the earlier stages committed for this run date (same config) and "
                          "run from STAGE on (e.g. forecast); `--dry-run` lists the stages")
    run.add_argument("--full-refresh", action="store_true",
                     help="validate every sales row again and rebuild the sales history (default: an incremental "
                          "night validates only the rows dated after the last night's cutoff)")
    run.add_argument("--scenario", type=_scenario, default="base", metavar="NAME",
                     help="what-if run: write the same tables with scenario=NAME beside the base plan (give its "
                          "changes with --conf-file overlay.yaml); default: base")
    run.add_argument("--dry-run", action="store_true",
                     help="check config and run validate's checks on the inputs (reconciliation, quarantine ratio, "
                          "empty sales, freshness) without writing anything; exit 2 if the run would fail there")
    demo.add_argument("--sample-dir", default="sample_data", help="where the sample is written (default: sample_data)")
    demo.add_argument("--items", type=int, default=40, help="items in the sample (default 40)")
    demo.add_argument("--regions", type=int, default=4, help="regions in the sample (default 4)")

    rep = add("report", "Write a static HTML planning report (KPIs, forecasts, accuracy, service, alerts, allocation).")
    rep.add_argument("--conf", default="conf", help="config folder holding base/ and local/ (default: conf)")
    rep.add_argument("--conf-file", action="append", default=[], help="extra YAML merged last (repeatable)")
    rep.add_argument("--run-date", type=_date, required=True, help="the run to report on, YYYY-MM-DD")
    rep.add_argument("--out", default="output/report.html", help="HTML file to write (default: output/report.html)")
    rep.add_argument("--scenario", type=_scenario, metavar="NAME",
                     help="also compare the what-if run NAME of this run date with the base plan")

    cli_ops.add_maintain_command(add("maintain", "Compact and vacuum the Delta tables (OPTIMIZE, VACUUM with "
                                     "maintenance.file_retention_days); add constraints older tables lack."))
    stream_cli.add_arguments(add("stream", "Keep inventory_position current from order and receipt events "
                                 "(files, Delta or Kafka) and signal reorder-point crossings, exactly once."))
    gen = add("generate-sample", "Write the seeded sample data set (sales, items, inventory, dc_stock, lanes, events).")
    gen.add_argument("--out", default="sample_data", help="output folder (default: sample_data)")
    gen.add_argument("--items", type=int, default=40)
    gen.add_argument("--regions", type=int, default=4)
    gen.add_argument("--dcs", type=int, default=2)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="format of the sales table")
    gen.add_argument("--clean", action="store_true", help="leave out the deliberately dirty rows")
    return parser


def _generate(out: str, items: int, regions: int, dcs: int = 2, seed: int = 7, fmt: str = "parquet",
              dirty: bool = True) -> dict[str, Path]:
    from skuplan.sample import SampleSpec, generate_sample

    spec = SampleSpec(n_items=items, n_regions=regions, n_dcs=dcs, seed=seed, sales_format=fmt, dirty_rows=dirty)
    return generate_sample(out, spec)


def _session(args: argparse.Namespace, overrides: dict | None = None):
    from skuplan.config import load_config
    from skuplan.spark import build_session

    cfg = load_config(args.conf, args.conf_file, overrides=overrides)
    return cfg, build_session(cfg.spark)


def _print_summary(summary, started: float) -> None:
    print(f"\nskuplan run {summary.run_id} for run_date {summary.run_date} finished in "
          f"{time.perf_counter() - started:.1f}s")
    for rec in summary.stages:
        print(f"  {rec.stage:<9} {rec.seconds:6.1f}s  {rec.detail}")
    print(f"Delta tables under {Path(summary.output_root).resolve()} (partition run_date={summary.run_date}):")
    for name, rows in sorted(summary.table_rows.items()):
        print(f"  {name:<18} {rows:>9} rows")


def _report(args: argparse.Namespace) -> int:
    from skuplan.config import load_config
    from skuplan.report import write_report
    from skuplan.spark import build_session

    cfg = load_config(args.conf, args.conf_file)
    path = write_report(build_session(cfg.spark), cfg, args.run_date, Path(args.out), scenario=args.scenario)
    print(f"report written to {Path(path).resolve()}")
    return EXIT_OK


def _dry_run(spark, cfg, run_date: dt.date) -> int:
    """Validate's own checks (skuplan.stages.validate.check) on the configured inputs, nothing written; exit 2
    when the run would fail at validate."""
    from skuplan import table_upgrade
    from skuplan.config import INPUT_TABLES
    from skuplan.io import check_output_root
    from skuplan.pipeline import STAGE_NAMES, RunFailed
    from skuplan.stages.validate import check_without_writing

    print(f"config ok (hash {cfg.fingerprint()}); run_date {run_date}, history up to {run_date - dt.timedelta(days=1)}")
    check_output_root(cfg)  # InputError: the same check run_pipeline makes before its first stage
    layout_problem, columns = table_upgrade.describe(table_upgrade.inspect(spark, cfg))
    if layout_problem:
        print(f"skuplan: error: {layout_problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if columns:
        print(f"  outputs of an earlier version: a run adds column(s) {', '.join(columns)}")
    try:
        checked, reasons = check_without_writing(spark, cfg, run_date)  # InputError names file, column and fix
    except RunFailed as exc:  # a reconciliation failure
        print(f"skuplan: error: the run would fail at validate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for table in INPUT_TABLES:
        counts = checked.tables.get(table)
        print(f"  input {table:<9} {'absent (optional)' if counts is None else 'ok'}: {cfg.inputs.location(table)}")
        if counts is not None:
            top = ", ".join(f"{code} {n}" for code, n in reasons.get(table, []))
            print(f"    {counts.rows_in} rows in = {counts.accepted} accepted + {counts.quarantined} quarantined"
                  + (f"; top reasons: {top}" if top else ""))
    for line in (*checked.verdict.notes, *(f"warning: {w}" for w in checked.verdict.warnings)):
        print(f"  {line}")
    if checked.problems:
        print("would fail at validate (no plan table replaced):\n" + "\n".join(f"  {p}" for p in checked.problems))
        print(f"skuplan: error: the run would fail at validate: {'; '.join(checked.problems)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if checked.verdict.keep_previous:
        print(f"would end after validate with status ok: {checked.verdict.keep_previous}")
        return EXIT_OK
    print(f"would run stages {' -> '.join(STAGE_NAMES)}; forecast model {cfg.forecast.model}, "
          f"horizon {cfg.forecast.horizon_days} days; Delta output under {cfg.outputs.root}")
    return EXIT_OK


def missing_spark_modules() -> list[str]:
    """Distributions of the `local` extra whose module cannot be imported here (looked up, not imported)."""
    return [dist for dist, module in _SPARK_MODULES.items() if importlib.util.find_spec(module) is None]


def spark_missing_message(command: str, missing: list[str]) -> str:
    return (
        f"skuplan {command} needs {' and '.join(missing)}, not installed "
        "in this Python: install skuplan[local] or run on a cluster that provides pyspark and Delta Lake "
        "(pip install 'skuplan[local]'; in a clone of the repository, `make setup`)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli_ops.configure_logging(args)  # flags or text at INFO until the config (logging section) is read
    from skuplan.config import ConfigError
    from skuplan.errors import root_cause
    from skuplan.safe_values import UnsafeValue, check_output_folder, validate_path

    what = args.command if args.command in ("report", "maintain") else "run"

    bad_input: tuple[type[Exception], ...] = (ConfigError, UnsafeValue)
    failed: tuple[type[Exception], ...] = ()  # an empty tuple catches nothing
    if args.command in SPARK_COMMANDS:
        # Checked before anything runs (demo would otherwise write its sample first).
        missing = missing_spark_modules()
        if missing:
            print(f"skuplan: error: {spark_missing_message(args.command, missing)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        from skuplan.complete_runs import IncompleteRun
        from skuplan.io import InputError
        from skuplan.pipeline import RunFailed, UnknownStage

        bad_input, failed = (ConfigError, UnsafeValue, InputError, UnknownStage), (RunFailed, IncompleteRun)

    try:
        # Output folders are checked before anything is written or replaced (generate_sample rmtree's table folders).
        if args.command in ("generate-sample", "demo"):
            from skuplan.sample.spec import TABLES

            check_output_folder(*((args.out, "--out") if args.command == "generate-sample"
                                  else (args.sample_dir, "--sample-dir")), TABLES)
        elif args.command == "report":
            validate_path(args.out, "--out")
        if args.command == "generate-sample":
            paths = _generate(args.out, args.items, args.regions, args.dcs, args.seed, args.format, not args.clean)
            print("\n".join(f"{name}: {path}" for name, path in paths.items()))
            return EXIT_OK
        if args.command == "report":
            return _report(args)
        if args.command == "maintain":
            return cli_ops.run_maintain(args)
        if args.command == "stream":
            cfg, spark = _session(args)
            cli_ops.configure_logging(args, cfg)
            return stream_cli.run(args, cfg, spark)
        overrides = None
        if args.command == "demo":
            _generate(args.sample_dir, args.items, args.regions)
            overrides = {"inputs": {"root": args.sample_dir}}
        cfg, spark = _session(args, overrides)
        cli_ops.configure_logging(args, cfg)
        cli_ops.check_tracking(cfg)  # tracking.enabled: true without mlflow stops here, before any stage
        if getattr(args, "dry_run", False):
            return _dry_run(spark, cfg, args.run_date)
        from skuplan.pipeline import run_pipeline

        started = time.perf_counter()
        summary = run_pipeline(spark, cfg, args.run_date, from_stage=getattr(args, "from_stage", None),
                               scenario=getattr(args, "scenario", "base"),
                               full_refresh=getattr(args, "full_refresh", False))
        _print_summary(summary, started)
        cli_ops.track_run(spark, cfg, summary, getattr(args, "scenario", "base"))  # MLflow, when tracking is on
        return EXIT_OK
    except bad_input as exc:
        print(f"skuplan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except failed as exc:  # our own messages: already the cause and the fix
        print(f"skuplan: {what} failed: {exc}{_stage_note(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        # One line for the operator: the root cause (a worker's `XxxError: ...`, the innermost Java cause) and the
        # stage; the wrapper's hundreds of lines go to the log only.
        logging.getLogger("skuplan").exception("%s failed", what)
        print(f"skuplan: {what} failed: {root_cause(exc)}{_stage_note(exc)}; full traceback in the log",
              file=sys.stderr)
        return EXIT_FAILED


def _stage_note(exc: BaseException) -> str:
    from skuplan.errors import failed_stage

    stage = failed_stage(exc)
    return f" (stage {stage})" if stage else ""


def entry_point() -> None:
    """The installed `skuplan` command ([project.scripts]) and the bundle's python_wheel_task. A wheel task calls
    this function and ignores what it returns, so a failed run must raise: SystemExit with main's exit code
    (none on success, which a wheel task counts as success)."""
    code = main()
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    sys.exit(main())
