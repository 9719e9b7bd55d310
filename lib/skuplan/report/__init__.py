"""One static HTML page summarising a run: KPI cards and inline SVG charts, readable offline.

- queries.py: the Spark side; reads the run's Delta tables, returns small plain results or why it cannot
- svg.py: the charts as SVG strings (no Spark), so the page needs no script, font or stylesheet to fetch
- page.py: the sections, the CSS and the page (no Spark), with a Content-Security-Policy that forbids the
  browser any network request

Importing this package or svg.py does not import pyspark: queries.py is loaded only when a report is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from skuplan.report import page

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from skuplan.config import Config

log = logging.getLogger("skuplan.report")

__all__ = ["write_report"]


def write_report(
    spark: SparkSession,
    cfg: Config,
    run_date: dt.date,
    out_path: str | Path,
    *,
    top_n: int = 6,
    history_days: int = 90,
    scenario: str | None = None,
) -> Path:
    """Render the run_date report to one self-contained HTML file; returns its path.

    Every section is an aggregate computed by Spark (top_n series for the forecast charts, with
    history_days of actuals from the sales input); missing tables or columns become notes on the page.
    A run_date that is not complete in the runs manifest (a run failed or stopped after writing some tables)
    raises skuplan.complete_runs.IncompleteRun, naming the run, the stage and the fix: no page is written.
    scenario: also compare that what-if run of the run_date with the base plan (skuplan.report.scenarios).
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if history_days < 0:
        raise ValueError(f"history_days must be >= 0, got {history_days}")
    # Imported here, not at the top: importing skuplan.report.svg runs this file and must not load pyspark.
    from skuplan.report import intraday
    from skuplan.report import queries as q

    tables = q.Tables(spark, cfg, run_date)
    builders = [
        lambda t: page.key_figures_section(q.key_figures(t)),
        lambda t: page.forecast_section(q.top_series(t, top_n, history_days), run_date, top_n, history_days),
        lambda t: page.accuracy_section(q.wape_by_group(t)),
        lambda t: page.service_section(q.service_by_segment(t), run_date),
        lambda t: page.alerts_section(q.alert_counts(t)),
        lambda t: page.allocation_section(q.allocation_by_region(t), run_date),
        lambda t: page.intraday_section(intraday.intraday(t)),
        lambda t: page.stages_section(q.stage_rows(t)),
    ]
    if scenario is not None:
        from skuplan.report import scenarios

        other = q.Tables(spark, cfg, run_date, scenario)  # IncompleteRun unless that scenario's run is complete
        builders.insert(1, lambda t: scenarios.scenario_section(scenarios.compare(t, other), scenario))
    sections = []
    for build in builders:
        started = time.perf_counter()
        section = build(tables)
        if section is None:  # a section for a feature this output does not use (intraday without a stream)
            continue
        sections.append(section)
        log.debug("report section %s: %.1fs", section.anchor, time.perf_counter() - started)
    text = page.render(run_date, str(cfg.outputs.root), cfg.fingerprint(), sections)
    out = _write_atomic(Path(out_path), text)
    log.info("report for %s written to %s (%d bytes)", run_date, out, len(text.encode()))
    return out


def _write_atomic(out: Path, text: str) -> Path:
    """Write then rename: a reader (or a web server) never sees a half-written page."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp creates 0600; a report is for people (or a web server) to open. Not os.umask(): it is
        # process-wide and the JVM's threads create files at the same time.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
