"""One static HTML page summarising a run: KPI cards and inline SVG charts, readable offline.

Spark does the reading and the aggregation; only small results reach the driver (per-segment aggregates, the
top-N series by forecast volume, one row per stage), never a whole series table. The charts are plain SVG
strings built here, so the page has no script, no font or stylesheet to fetch, and a Content-Security-Policy
that forbids the browser any network request.

Tables and columns are read defensively: while the pipeline's outputs evolve, a chart whose table or
columns are absent is replaced by a note saying what is missing, and the rest of the page still renders.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from skuplan import io
from skuplan.config import Config

log = logging.getLogger("skuplan.report")

__all__ = ["write_report"]

# Colours picked to stay distinguishable for the common colour-vision deficiencies.
BLUE, BAND, INK, GREY, ORANGE, GREEN = "#2f6db5", "#b9d3ee", "#2b2b2b", "#9a9a9a", "#e07b1f", "#3b8f4f"
SEVERITY_COLOURS = {
    "critical": "#8e1b10",
    "high": "#c0392b",
    "medium": "#e6842a",
    "low": "#f2c14e",
    "info": "#8c9aa6",
}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"


# ---------------------------------------------------------------------------------------------- formatting


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.1f}M"
    if ax >= 1e4:
        return f"{x / 1e3:.1f}k"
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1 or ax == 0:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _pct(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}%"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# --------------------------------------------------------------------------------------------- SVG charts


def _nice_ticks(hi: float, n: int = 4) -> list[float]:
    """0 and round steps up to >= hi (1, 2, 2.5 or 5 times a power of ten)."""
    if not _finite(hi) or hi <= 0:
        return [0.0, 1.0]
    raw = hi / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    # viewBox + max-width: the chart scales down on a narrow window instead of overflowing.
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_esc(title)}" style="max-width:100%;height:auto;{FONT}">'
        f"<title>{_esc(title)}</title>{''.join(body)}</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 11,
    fill: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
        f'font-weight="{weight}">{_esc(text)}</text>'
    )


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    fmt: Callable[[float | None], str] = _num,
    max_value: float | None = None,
    targets: Sequence[float | None] | None = None,
    colour: str = BLUE,
    width: int = 560,
) -> str:
    """Horizontal bars, one per label, value printed at the bar's end; optional target tick per bar."""
    label_w, value_w, bar_h, gap, top = 150, 64, 18, 8, 8
    plot_w = width - label_w - value_w
    finite = [v for v in values if _finite(v)] + [t for t in targets or [] if _finite(t)]
    vmax = max_value if max_value is not None else max(finite, default=0.0)
    vmax = vmax if vmax and vmax > 0 else 1.0
    height = top + len(labels) * (bar_h + gap) + 22
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        w = plot_w * max(0.0, min(value, vmax)) / vmax if _finite(value) else 0.0
        body.append(_text(label_w - 6, y + bar_h * 0.72, label, anchor="end"))
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}" rx="2">'
            f"<title>{_esc(label)}: {_esc(fmt(value))}</title></rect>"
        )
        target = targets[i] if targets else None
        tx = label_w + plot_w * min(target, vmax) / vmax if _finite(target) else None
        # The value goes past the target tick too, so the two never overprint.
        body.append(_text(max(label_w + w, (tx or 0.0) + 2) + 4, y + bar_h * 0.72, fmt(value)))
        if tx is not None:
            body.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + bar_h + 3}" stroke="{ORANGE}" '
                f'stroke-width="3"><title>target {_esc(fmt(target))}</title></line>'
            )
    axis_y = top + len(labels) * (bar_h + gap)
    body.append(f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="{GREY}"/>')
    body.append(_text(label_w, axis_y + 14, fmt(0.0), size=10, fill=GREY))
    body.append(_text(label_w + plot_w, axis_y + 14, fmt(vmax), anchor="end", size=10, fill=GREY))
    return _svg(width, height, title, body)


def stacked_hbar_chart(
    labels: Sequence[str],
    stacks: Sequence[dict[str, float]],
    order: Sequence[str],
    colours: dict[str, str],
    *,
    title: str,
    width: int = 560,
) -> str:
    """Horizontal bars split into coloured parts (e.g. alert counts by severity), with a legend."""
    label_w, value_w, bar_h, gap, top = 150, 56, 18, 8, 26
    plot_w = width - label_w - value_w
    vmax = max((sum(s.values()) for s in stacks), default=0.0) or 1.0
    height = top + len(labels) * (bar_h + gap) + 8
    body, lx = [], label_w
    for key in order:
        if any(key in s for s in stacks):
            body.append(f'<rect x="{lx}" y="4" width="10" height="10" fill="{colours.get(key, GREY)}"/>')
            body.append(_text(lx + 14, 13, key, size=10))
            lx += 24 + 7 * len(key)
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        y, x = top + i * (bar_h + gap), float(label_w)
        body.append(_text(label_w - 6, y + bar_h * 0.72, label, anchor="end"))
        for key in order:
            count = stack.get(key, 0.0)
            if count <= 0:
                continue
            w = plot_w * count / vmax
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colours.get(key, GREY)}"><title>{_esc(label)} {_esc(key)}: '
                f"{count:,.0f}</title></rect>"
            )
            x += w
        body.append(_text(x + 4, y + bar_h * 0.72, f"{sum(stack.values()):,.0f}"))
    return _svg(width, height, title, body)


@dataclass
class SeriesPlot:
    title: str
    history: list[tuple[dt.date, float]]
    forecast: list[
        tuple[dt.date, float | None, float | None, float | None, float | None]
    ]  # yhat, q05, q50, q95


def forecast_chart(plot: SeriesPlot, run_date: dt.date, *, width: int = 420, height: int = 190) -> str:
    """Actuals (dark line), forecast (blue) with its q05-q95 band and q50 (dashed); a rule at run_date."""
    left, right, top, bottom = 44, 10, 22, 24
    days = [d for d, _ in plot.history] + [row[0] for row in plot.forecast]
    if not days:
        return _svg(width, 40, plot.title, [_text(4, 24, f"{plot.title}: no data")])
    d0, d1 = min(days), max(days)
    span = max((d1 - d0).days, 1)
    ys = [u for _, u in plot.history if _finite(u)]
    ys += [v for row in plot.forecast for v in row[1:] if _finite(v)]
    ticks = _nice_ticks(max(ys, default=1.0))
    ymax = ticks[-1]
    pw, ph = width - left - right, height - top - bottom

    def px(d: dt.date) -> float:
        return left + pw * (d - d0).days / span

    def py(v: float) -> float:
        return top + ph * (1 - v / ymax)

    body = [_text(left, 14, plot.title, weight="600", size=12)]
    for t in ticks:
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e6e6e6"/>'
        )
        body.append(_text(left - 4, py(t) + 4, _num(t), anchor="end", size=10, fill=GREY))
    band = [(d, lo, hi) for d, _, lo, _, hi in plot.forecast if _finite(lo) and _finite(hi)]
    if band:
        pts = [f"{px(d):.1f},{py(hi):.1f}" for d, _, hi in band]
        pts += [f"{px(d):.1f},{py(lo):.1f}" for d, lo, _ in reversed(band)]
        body.append(
            f'<polygon points="{" ".join(pts)}" fill="{BAND}" stroke="none"><title>q05-q95</title></polygon>'
        )

    def line(points: list[tuple[dt.date, float | None]], colour: str, extra: str = "") -> None:
        pts = [f"{px(d):.1f},{py(v):.1f}" for d, v in points if _finite(v)]
        if len(pts) > 1:
            body.append(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="1.6" '
                f"{extra}/>"
            )

    line(plot.history, INK)
    line([(row[0], row[3]) for row in plot.forecast], BLUE, 'stroke-dasharray="4 3" stroke-opacity="0.8"')
    line([(row[0], row[1]) for row in plot.forecast], BLUE)
    if d0 <= run_date <= d1:
        x = px(run_date)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="{GREY}" '
            f'stroke-dasharray="2 2"/>'
        )
    body.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{GREY}"/>')
    body.append(_text(left, height - 6, d0.isoformat(), size=10, fill=GREY))
    body.append(_text(left + pw, height - 6, d1.isoformat(), anchor="end", size=10, fill=GREY))
    if d0 < run_date < d1:
        # Labelled at the top of its rule: on the axis it would collide with the end date of a short horizon.
        body.append(
            _text(px(run_date) - 4, top + 10, f"run {run_date.isoformat()}", anchor="end", size=10, fill=GREY)
        )
    return _svg(width, height, plot.title, body)


# ------------------------------------------------------------------------------------------------ reading


class _Tables:
    """Lazy, defensive access to the run's tables: None (and a reason) when a table is absent."""

    def __init__(self, spark: SparkSession, cfg: Config, run_date: dt.date):
        self.spark, self.cfg, self.run_date = spark, cfg, run_date
        self._cache: dict[str, DataFrame | None] = {}
        self.missing: dict[str, str] = {}

    def get(self, name: str, *, partitioned: bool = True) -> DataFrame | None:
        if name not in self._cache:
            self._cache[name] = self._load(name, partitioned)
        return self._cache[name]

    def _load(self, name: str, partitioned: bool) -> DataFrame | None:
        from delta.tables import DeltaTable

        path = io.table_path(self.cfg, name)
        try:
            if not DeltaTable.isDeltaTable(self.spark, path):
                self.missing[name] = f"table {name} not found at {path}"
                return None
            df = io.read_table(self.spark, self.cfg, name, self.run_date if partitioned else None)
        except Exception as exc:  # reported on the page and in the log; the other sections still render
            log.warning("report: cannot read %s: %s", name, exc)
            self.missing[name] = f"table {name} unreadable ({type(exc).__name__})"
            return None
        return df

    def latest_run(self) -> tuple[DataFrame, str] | str:
        """The manifest rows of the run_date's latest run and its run_id (computed once per page)."""
        if not hasattr(self, "_latest"):
            runs = self.need("runs", ["run_id", "stage", "seconds", "status"], partitioned=False)
            if not isinstance(runs, str):
                runs = runs.where(F.col("run_date") == F.lit(self.run_date).cast("date"))
                order = (
                    F.col("finished_at").desc() if "finished_at" in runs.columns else F.col("run_id").desc()
                )
                latest = runs.orderBy(order).select("run_id").limit(1).collect()
                runs = (
                    (runs.where(F.col("run_id") == latest[0][0]), latest[0][0])
                    if latest
                    else f"runs manifest has no run for {self.run_date}"
                )
            self._latest = runs
        return self._latest

    def need(self, name: str, columns: Sequence[str], *, partitioned: bool = True) -> DataFrame | str:
        """The table if it has every column, else the reason it cannot be charted (for the page note)."""
        df = self.get(name, partitioned=partitioned)
        if df is None:
            return self.missing[name]
        absent = [c for c in columns if c not in df.columns]
        if absent:
            return f"table {name} has no column {', '.join(absent)}"
        return df


def _finite_col(name: str):
    c = F.col(name).cast("double")
    return F.when(c.isNotNull() & ~F.isnan(c) & (F.abs(c) < F.lit(float("inf"))), c)


# ----------------------------------------------------------------------------------------------- sections


@dataclass
class _Section:
    anchor: str
    title: str
    body: str


def _note(text: str, *, partial: bool = False) -> str:
    """A section (or, partial=True, part of one) that could not be drawn, and why."""
    return f'<p class="note">{"Note" if partial else "Skipped"}: {_esc(text)}.</p>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_cards(t: _Tables) -> _Section:
    cards: list[tuple[str, str, str]] = []  # (label, value, detail)
    notes: list[str] = []

    latest = t.latest_run()
    if isinstance(latest, str):
        notes.append(latest)
    else:
        runs, run_id = latest
        agg = runs.agg(
            F.sum("seconds").alias("s"),
            F.count("*").alias("n"),
            F.sort_array(F.collect_set(F.when(F.col("status") != "ok", F.col("stage")))).alias("bad"),
        ).first()
        status = "ok" if not agg["bad"] else "failed"
        where = f"not ok: {', '.join(agg['bad'])} · " if agg["bad"] else ""
        cards.append(("Latest run", status, f"{where}{run_id} · {agg['n']} stages · {agg['s']:.0f}s"))

    status = t.need("forecast_status", ["status"])
    if isinstance(status, str):
        notes.append(status)
    else:
        counts = {r["status"]: r["count"] for r in status.groupBy("status").count().collect()}
        total = sum(counts.values())
        detail = " · ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        cards.append(("Series forecast", f"{total:,}", detail))

    quarantine = t.get("quarantine")
    if quarantine is not None:
        cards.append(("Rows quarantined", f"{quarantine.count():,}", "rejected input rows, with reasons"))

    kpis = t.need("kpis", ["inventory_value", "days_of_supply", "projected_fill_rate"])
    if isinstance(kpis, str):
        notes.append(kpis)
    else:
        k = kpis.agg(
            F.sum(_finite_col("inventory_value")).alias("value"),
            F.percentile_approx(_finite_col("days_of_supply"), 0.5).alias("dos"),
            F.avg(_finite_col("projected_fill_rate")).alias("fill"),
        ).first()
        cards.append(("Inventory value", _num(k["value"]), "on hand, at unit cost"))
        cards.append(("Days of supply", _num(k["dos"]), "median over series"))
        cards.append(("Projected fill rate", _pct(k["fill"]), "mean over series"))

    repl = t.need("replenishment", ["order_qty"])
    if isinstance(repl, str):
        notes.append(repl)
    else:
        r = repl.agg(
            F.sum(F.when(F.col("order_qty") > 0, 1).otherwise(0)).alias("n"),
            F.sum("order_qty").alias("units"),
        ).first()
        cards.append(("Orders proposed", f"{r['n'] or 0:,}", f"{_num(r['units'] or 0.0)} units"))

    alerts = t.get("alerts")
    if alerts is not None:
        cards.append(("Alerts", f"{alerts.count():,}", "see alerts by type"))

    html_cards = "".join(
        f'<div class="card"><div class="label">{_esc(label)}</div><div class="value">{_esc(value)}</div>'
        f'<div class="detail">{_esc(detail)}</div></div>'
        for label, value, detail in cards
    )
    body = f'<div class="cards">{html_cards}</div>' + "".join(_note(n) for n in notes)
    return _Section("kpis", "Key figures", body)


def _top_series(fc: DataFrame, top_n: int) -> DataFrame:
    return (
        fc.groupBy("item_id", "region_id")
        .agg(F.sum("yhat").alias("volume"))
        .orderBy(F.desc("volume"), "item_id", "region_id")
        .limit(top_n)
    )


def _actuals(t: _Tables, top_df: DataFrame, start: dt.date, end: dt.date) -> tuple[DataFrame | None, str]:
    """Daily units of the top series over [start, end) from the sales input, or None and why not."""
    try:
        sales = io.read_input(t.spark, t.cfg, "sales")
    except io.InputError as exc:  # its message names the path and the fix
        return None, f"actuals left out: {exc}"
    except Exception as exc:  # the input may be unreadable since the run; the forecast still charts
        log.warning("report: cannot read the sales input: %s", exc)
        return None, f"actuals left out: sales input not readable ({type(exc).__name__})"
    if sales is None:
        return None, "actuals left out: sales input not found"
    # try_cast: CSV inputs arrive as text and may hold the dirty rows that validation quarantined.
    day = F.col("date").try_cast("date")
    units = F.col("units").try_cast("double")
    daily = (
        sales.select("item_id", "region_id", day.alias("date"), units.alias("units"))
        .where(F.col("date").between(F.lit(start), F.lit(end - dt.timedelta(days=1))) & (F.col("units") >= 0))
        .join(F.broadcast(top_df.select("item_id", "region_id")), ["item_id", "region_id"], how="inner")
        .groupBy("item_id", "region_id", "date")
        .agg(F.sum("units").alias("units"))
    )
    return daily, ""


def _forecast_section(t: _Tables, top_n: int, history_days: int) -> _Section:
    title = f"Forecast vs actual, top {top_n} series by forecast volume"
    fc = t.need("forecasts", ["item_id", "region_id", "date", "yhat"])
    if isinstance(fc, str):
        return _Section("forecast", title, _note(fc))
    top_df = _top_series(fc, top_n).cache()
    quantiles = [q if q in fc.columns else None for q in ("q05", "q50", "q95")]
    cols = [
        F.col(q) if q else F.lit(None).cast("double").alias(f"missing_{i}") for i, q in enumerate(quantiles)
    ]
    rows = (
        fc.join(F.broadcast(top_df), ["item_id", "region_id"], how="inner")
        .select("item_id", "region_id", "date", "yhat", *cols)
        .orderBy("date")
        .collect()
    )
    order = sorted(
        ((r["item_id"], r["region_id"], r["volume"]) for r in top_df.collect()), key=lambda x: -x[2]
    )
    notes = [] if all(quantiles) else ["forecasts has no q05/q50/q95 columns: bands left out"]
    actual_rows = []
    daily, why = _actuals(t, top_df, t.run_date - dt.timedelta(days=history_days), t.run_date)
    if daily is None:
        notes.append(why)
    else:
        actual_rows = daily.orderBy("date").collect()
    top_df.unpersist()

    charts = []
    for item, region, volume in order:
        key = (item, region)
        plot = SeriesPlot(
            title=f"{item} · {region} (forecast {_num(volume)} units)",
            history=[(r["date"], r["units"]) for r in actual_rows if (r["item_id"], r["region_id"]) == key],
            forecast=[
                (r["date"], r["yhat"], r[4], r[5], r[6])
                for r in rows
                if (r["item_id"], r["region_id"]) == key
            ],
        )
        charts.append(f"<figure>{forecast_chart(plot, t.run_date)}</figure>")
    legend = (
        f'<p class="legend"><span style="color:{INK}">━ actual (last {history_days} days)</span> '
        f'<span style="color:{BLUE}">━ forecast yhat</span> <span style="color:{BLUE}">┅ q50</span> '
        f'<span class="swatch" style="background:{BAND}"></span> q05–q95 band · dotted rule: run date</p>'
    )
    body = (
        legend + f'<div class="grid">{"".join(charts)}</div>' + "".join(_note(n, partial=True) for n in notes)
    )
    if not charts:
        body = _note(f"forecasts has no rows for {t.run_date}")
    return _Section("forecast", title, body)


def _series_wape(t: _Tables) -> DataFrame | str:
    """Mean backtest WAPE per series of the model the run selected (finite values only)."""
    fm = t.need("forecast_metrics", ["item_id", "region_id", "wape"])
    if isinstance(fm, str):
        return fm
    if "selected" in fm.columns:
        fm = fm.where(F.col("selected"))
    return (
        fm.select("item_id", "region_id", _finite_col("wape").alias("wape"))
        .groupBy("item_id", "region_id")
        .agg(F.avg("wape").alias("wape"))
        .where(F.col("wape").isNotNull())
    )


def _accuracy_section(t: _Tables) -> _Section:
    title = "Forecast accuracy (backtest WAPE, lower is better)"
    wape = _series_wape(t)
    if isinstance(wape, str):
        return _Section("accuracy", title, _note(wape))
    parts = []
    group_sources = [
        ("demand class", "forecast_status", ["demand_class"], F.col("demand_class")),
        ("segment", "inventory_policy", ["abc", "xyz"], F.concat_ws("", "abc", "xyz")),
    ]
    for label, table, columns, key in group_sources:
        other = t.need(table, ["item_id", "region_id", *columns])
        if isinstance(other, str) and table == "inventory_policy":
            # A policy table written with a ready-made segment column is as good as abc + xyz.
            alt = t.need(table, ["item_id", "region_id", "segment"])
            other, key = (alt, F.col("segment")) if not isinstance(alt, str) else (other, key)
        if isinstance(other, str):
            parts.append(f"<h3>By {label}</h3>" + _note(other))
            continue
        keyed = other.select(
            "item_id", "region_id", F.coalesce(key.cast("string"), F.lit("unknown")).alias("g")
        )
        rows = (
            wape.join(keyed, ["item_id", "region_id"], how="inner")
            .groupBy("g")
            .agg(
                F.avg("wape").alias("mean"),
                F.percentile_approx("wape", 0.5).alias("median"),
                F.count("*").alias("n"),
            )
            .orderBy("g")
            .collect()
        )
        if not rows:
            parts.append(f"<h3>By {label}</h3>" + _note(f"no backtested series joined {table}"))
            continue
        chart = hbar_chart(
            [f"{r['g']} ({r['n']})" for r in rows],
            [r["mean"] for r in rows],
            title=f"Mean WAPE by {label}",
            fmt=_pct,
        )
        table_html = _table(
            [label, "series", "mean WAPE", "median WAPE"],
            [[r["g"], f"{r['n']:,}", _pct(r["mean"]), _pct(r["median"])] for r in rows],
        )
        parts.append(f'<h3>By {label}</h3><div class="pair">{chart}{table_html}</div>')
    return _Section("accuracy", title, "".join(parts))


def _service_columns(columns: Sequence[str]):
    """(achieved, target) column expressions of a policy backtest, or a reason they cannot be formed.

    Accepts the simple contract (achieved_fill_rate, target) and the replay's richer one (fill_rate and
    csl achieved, service_level the target, service_type saying which of the two the target is about).
    """
    cols = set(columns)
    if "achieved_fill_rate" in cols:
        achieved = _finite_col("achieved_fill_rate")
    elif "fill_rate" in cols:
        achieved = _finite_col("fill_rate")
        if {"service_type", "csl"} <= cols:
            # A CSL target is met or missed on cycles without stockout, not on units served.
            achieved = F.when(F.lower(F.col("service_type")) == "csl", _finite_col("csl")).otherwise(achieved)
    else:
        return "table policy_backtest has no column achieved_fill_rate (or fill_rate)"
    target_name = "target" if "target" in cols else "service_level" if "service_level" in cols else None
    if target_name is None:
        return "table policy_backtest has no column target (or service_level)"
    return achieved, _finite_col(target_name)


def _service_section(t: _Tables) -> _Section:
    title = "Service level: achieved vs target (policy backtest)"
    bt = t.need("policy_backtest", ["item_id"])
    exprs = bt if isinstance(bt, str) else _service_columns(bt.columns)
    if isinstance(exprs, str):
        return _Section("service", title, _note(exprs + " (the policy backtest is optional)"))
    achieved, target = exprs
    seg = F.col("segment").cast("string") if "segment" in bt.columns else F.lit("all")
    rows = (
        bt.select(F.coalesce(seg, F.lit("unknown")).alias("g"), achieved.alias("a"), target.alias("t"))
        .groupBy("g")
        .agg(
            F.avg("a").alias("achieved"),
            F.avg("t").alias("target"),
            F.count("*").alias("n"),
            # Only series with both numbers count (a series without demand in the backtest has no rate).
            F.avg(
                F.when(
                    F.col("a").isNotNull() & F.col("t").isNotNull(), (F.col("a") >= F.col("t")).cast("double")
                )
            ).alias("met"),
        )
        .orderBy("g")
        .collect()
    )
    if not rows:
        return _Section("service", title, _note(f"policy_backtest has no rows for {t.run_date}"))
    chart = hbar_chart(
        [f"{r['g']} ({r['n']})" for r in rows],
        [r["achieved"] for r in rows],
        targets=[r["target"] for r in rows],
        title="Achieved service by segment",
        fmt=_pct,
        max_value=1.0,
        colour=GREEN,
    )
    table_html = _table(
        ["segment", "series", "achieved", "target", "series meeting target"],
        [[r["g"], f"{r['n']:,}", _pct(r["achieved"]), _pct(r["target"]), _pct(r["met"])] for r in rows],
    )
    legend = (
        '<p class="legend">bar: mean achieved service (fill rate; CSL for series with a CSL target) · '
        f'<span style="color:{ORANGE}">┃</span> mean target</p>'
    )
    return _Section("service", title, legend + f'<div class="pair">{chart}{table_html}</div>')


def _alerts_section(t: _Tables) -> _Section:
    title = "Alerts by type"
    alerts = t.need("alerts", ["alert_type"])
    if isinstance(alerts, str):
        return _Section("alerts", title, _note(alerts))
    sev = F.lower(F.col("severity").cast("string")) if "severity" in alerts.columns else F.lit("info")
    rows = (
        alerts.select(
            F.col("alert_type").cast("string").alias("type"), F.coalesce(sev, F.lit("info")).alias("sev")
        )
        .groupBy("type", "sev")
        .count()
        .collect()
    )
    if not rows:
        return _Section("alerts", title, '<p class="note">No alerts for this run.</p>')
    by_type: dict[str, dict[str, float]] = {}
    for r in rows:
        by_type.setdefault(r["type"], {})[r["sev"]] = float(r["count"])
    types = sorted(by_type, key=lambda k: (-sum(by_type[k].values()), k))
    order = [s for s in SEVERITY_ORDER if any(s in v for v in by_type.values())]
    order += sorted({s for v in by_type.values() for s in v} - set(order))
    chart = stacked_hbar_chart(
        types, [by_type[k] for k in types], order, SEVERITY_COLOURS, title="Alerts by type"
    )
    return _Section("alerts", title, chart)


def _allocation_section(t: _Tables) -> _Section:
    title = "Allocation: fill ratio per region"
    alloc = t.need("allocation", ["region_id", "units", "shortage_units"])
    if isinstance(alloc, str):
        return _Section("allocation", title, _note(alloc))
    cost = (
        (F.col("units") * F.col("unit_cost")) if "unit_cost" in alloc.columns else F.lit(None).cast("double")
    )
    failed = (F.col("lp_status") != "optimal") if "lp_status" in alloc.columns else F.lit(False)
    rows = (
        alloc.groupBy("region_id")
        .agg(
            F.sum("units").alias("units"),
            F.sum("shortage_units").alias("short"),
            F.sum(cost).alias("cost"),
            F.sum(F.when(failed, 1).otherwise(0)).alias("not_optimal"),
        )
        .orderBy("region_id")
        .collect()
    )
    if not rows:
        return _Section("allocation", title, _note(f"allocation has no rows for {t.run_date}"))

    def ratio(r) -> float | None:
        total = (r["units"] or 0.0) + (r["short"] or 0.0)
        return (r["units"] or 0.0) / total if total > 0 else None

    chart = hbar_chart(
        [r["region_id"] for r in rows],
        [ratio(r) for r in rows],
        title="Fill ratio per region",
        fmt=_pct,
        max_value=1.0,
    )
    table_html = _table(
        ["region", "units allocated", "shortage units", "fill ratio", "transport cost", "rows not optimal"],
        [
            [
                r["region_id"],
                _num(r["units"]),
                _num(r["short"]),
                _pct(ratio(r)),
                _num(r["cost"]),
                f"{r['not_optimal']:,}",
            ]
            for r in rows
        ],
    )
    note = '<p class="legend">fill ratio = allocated / (allocated + shortage) units</p>'
    return _Section("allocation", title, note + f'<div class="pair">{chart}{table_html}</div>')


def _stages_section(t: _Tables) -> _Section:
    title = "Run stages"
    latest = t.latest_run()
    if isinstance(latest, str):
        return _Section("stages", title, _note(latest))
    runs, run_id = latest
    cols = [
        c
        for c in ("stage", "seconds", "status", "rows_in", "rows_out", "rows_quarantined")
        if c in runs.columns
    ]
    # The manifest has no stage order column: known stages in pipeline order, any new ones after them.
    known = ("ingest", "validate", "prepare", "forecast", "policy", "plan", "allocate")
    stages = sorted(
        runs.select(*cols).collect(),
        key=lambda r: (known.index(r["stage"]) if r["stage"] in known else len(known), r["stage"]),
    )
    chart = hbar_chart(
        [r["stage"] for r in stages],
        [r["seconds"] for r in stages],
        title="Seconds per stage",
        fmt=lambda v: "–" if v is None else f"{v:.1f}s",
    )
    table_html = _table(cols, [[_cell(r[c]) for c in cols] for r in stages])
    return _Section("stages", f"{title} ({run_id})", f'<div class="pair">{chart}{table_html}</div>')


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# ------------------------------------------------------------------------------------------------- page

# Plain concatenation, not an f-string: CSS is made of braces.
_CSS = (
    "body{margin:0;background:#f6f7f9;color:#2b2b2b;"
    + FONT
    + ";font-size:14px}"
    + """
header{background:#1f3b5a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85}
nav{padding:8px 28px;background:#e9edf2} nav a{margin-right:14px;color:#1f3b5a}
main{padding:8px 28px 40px} section{background:#fff;border-radius:8px;padding:14px 18px;margin:16px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)} h2{font-size:17px;margin:4px 0 10px} h3{font-size:14px;margin:12px 0 6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.card{border:1px solid #dfe3e8;border-radius:8px;padding:10px 12px;background:#fbfcfd}
.card .label{font-size:12px;color:#5b6570;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:26px;font-weight:650;margin:4px 0} .card .detail{font-size:12px;color:#5b6570}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:8px} figure{margin:0}
.pair{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
table{border-collapse:collapse;font-size:13px} th,td{border-bottom:1px solid #e3e6ea;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f1f3f6}
.note{color:#8a5a00;background:#fff6e0;border-left:3px solid #e0a800;padding:6px 10px;margin:8px 0}
.legend{font-size:12px;color:#5b6570} .legend span{margin-right:10px}
.swatch{display:inline-block;width:14px;height:10px;vertical-align:middle;margin-right:2px}
footer{color:#8a939c;font-size:12px;padding:0 28px 24px}
"""
)


def _page(run_date: dt.date, cfg: Config, sections: list[_Section]) -> str:
    nav = "".join(
        f'<a href="#{s.anchor}">{_esc(s.title.split(":")[0].split("(")[0].strip())}</a>' for s in sections
    )
    body = "".join(f'<section id="{s.anchor}"><h2>{_esc(s.title)}</h2>{s.body}</section>' for s in sections)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    # The CSP lets the page use only what it carries inline: it works offline and cannot leak a request.
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skuplan report {run_date.isoformat()}</title><style>{_CSS}</style></head>
<body><header><h1>skuplan · planning report for {run_date.isoformat()}</h1>
<p>outputs {_esc(cfg.outputs.root)} · config {cfg.fingerprint()} · generated {generated}</p></header>
<nav>{nav}</nav><main>{body}</main>
<footer>Static page: inline SVG, no scripts, no network. Regenerate with <code>skuplan report</code>.</footer>
</body></html>
"""


def write_report(
    spark: SparkSession,
    cfg: Config,
    run_date: dt.date,
    out_path: str | Path,
    *,
    top_n: int = 6,
    history_days: int = 90,
) -> Path:
    """Render the run_date report to one self-contained HTML file; returns its path.

    Every section is an aggregate computed by Spark (top_n series for the forecast charts, with
    history_days of actuals from the sales input); missing tables or columns become notes on the page.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if history_days < 0:
        raise ValueError(f"history_days must be >= 0, got {history_days}")
    tables = _Tables(spark, cfg, run_date)
    builders = [
        _kpi_cards,
        lambda t: _forecast_section(t, top_n, history_days),
        _accuracy_section,
        _service_section,
        _alerts_section,
        _allocation_section,
        _stages_section,
    ]
    sections = []
    for build in builders:
        started = time.perf_counter()
        sections.append(build(tables))
        log.debug("report section %s: %.1fs", sections[-1].anchor, time.perf_counter() - started)
    page = _page(run_date, cfg, sections)

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader (or a web server) never sees a half-written page.
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        # mkstemp creates 0600; a report is for people (or a web server) to open. Not os.umask(): it is
        # process-wide and the JVM's threads create files at the same time.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("report for %s written to %s (%d bytes)", run_date, out, len(page.encode()))
    return out
