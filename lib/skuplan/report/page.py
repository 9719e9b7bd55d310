"""The report's HTML: one section per query result in queries.py, the CSS and the page around them.

No Spark here: every function takes the plain Python results of a query (or the reason it has none, as a
string, which becomes a note on the page) and returns markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skuplan.report.svg import (
    BAND,
    BLUE,
    FONT,
    GREEN,
    INK,
    ORANGE,
    SEVERITY_COLOURS,
    SEVERITY_ORDER,
    SeriesPlot,
    esc,
    fmt_num,
    fmt_pct,
    forecast_chart,
    hbar_chart,
    stacked_hbar_chart,
)

if TYPE_CHECKING:
    from skuplan.report.intraday import Intraday
    from skuplan.report.queries import KeyFigures, Record, StageRows, TopSeries, WapeGroup


@dataclass
class Section:
    anchor: str
    title: str
    body: str


def _note(text: str, *, partial: bool = False) -> str:
    """A section (or, partial=True, part of one) that could not be drawn, and why."""
    return f'<p class="note">{"Note" if partial else "Skipped"}: {esc(text)}.</p>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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


# ----------------------------------------------------------------------------------------------- sections


def key_figures_section(k: KeyFigures) -> Section:
    cards: list[tuple[str, str, str]] = []  # (label, value, detail)
    notes: list[str] = []
    if isinstance(k.latest_run, str):
        notes.append(k.latest_run)
    else:
        run = k.latest_run
        where = f"not ok: {', '.join(run.not_ok)} · " if run.not_ok else ""
        status = "failed" if run.not_ok else "ok"
        cards.append(("Latest run", status, f"{where}{run.run_id} · {run.stages} stages · {run.seconds:.0f}s"))
    if isinstance(k.status_counts, str):
        notes.append(k.status_counts)
    else:
        total = sum(k.status_counts.values())
        detail = " · ".join(f"{s} {n:,}" for s, n in sorted(k.status_counts.items()))
        cards.append(("Series forecast", f"{total:,}", detail))
    if k.quarantined is not None:
        cards.append(("Rows quarantined", f"{k.quarantined:,}", "rejected input rows, with reasons"))
    if isinstance(k.stock, str):
        notes.append(k.stock)
    else:
        cards.append(("Inventory value", fmt_num(k.stock["value"]), "on hand, at unit cost"))
        cards.append(("Days of supply", fmt_num(k.stock["dos"]), "median over series"))
        cards.append(("Projected fill rate", fmt_pct(k.stock["fill"]), "mean over series"))
    if isinstance(k.orders, str):
        notes.append(k.orders)
    else:
        units = fmt_num(k.orders["units"] or 0.0)
        cards.append(("Orders proposed", f"{k.orders['n'] or 0:,}", f"{units} units"))
    if k.alerts is not None:
        cards.append(("Alerts", f"{k.alerts:,}", "see alerts by type"))

    html_cards = "".join(
        f'<div class="card"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
        f'<div class="detail">{esc(detail)}</div></div>'
        for label, value, detail in cards
    )
    body = f'<div class="cards">{html_cards}</div>' + "".join(_note(n) for n in notes)
    return Section("kpis", "Key figures", body)


def forecast_section(top: TopSeries | str, run_date: dt.date, top_n: int, history_days: int) -> Section:
    title = f"Forecast vs actual, top {top_n} series by forecast volume"
    if isinstance(top, str):
        return Section("forecast", title, _note(top))
    if not top.series:
        return Section("forecast", title, _note(f"forecasts has no rows for {run_date}"))
    charts = []
    for s in top.series:
        plot = SeriesPlot(
            title=f"{s.item_id} · {s.region_id} (forecast {fmt_num(s.volume)} units)",
            history=s.history,
            forecast=s.forecast,
        )
        charts.append(f"<figure>{forecast_chart(plot, run_date)}</figure>")
    legend = (
        f'<p class="legend"><span style="color:{INK}">━ actual (last {history_days} days)</span> '
        f'<span style="color:{BLUE}">━ forecast yhat</span> <span style="color:{BLUE}">┅ q50</span> '
        f'<span class="swatch" style="background:{BAND}"></span> q05–q95 band · dotted rule: run date</p>'
    )
    notes = "".join(_note(n, partial=True) for n in top.notes)
    return Section("forecast", title, legend + f'<div class="grid">{"".join(charts)}</div>' + notes)


def accuracy_section(groups: list[WapeGroup] | str) -> Section:
    title = "Forecast accuracy (backtest WAPE, lower is better)"
    if isinstance(groups, str):
        return Section("accuracy", title, _note(groups))
    parts = []
    for group in groups:
        label, rows = group.label, group.rows
        if isinstance(rows, str) or not rows:
            why = rows or f"no backtested series joined {group.table}"
            parts.append(f"<h3>By {label}</h3>" + _note(why))
            continue
        chart = hbar_chart(
            [f"{r['g']} ({r['n']})" for r in rows],
            [r["mean"] for r in rows],
            title=f"Mean WAPE by {label}",
            fmt=fmt_pct,
        )
        table_html = _table(
            [label, "series", "mean WAPE", "median WAPE"],
            [[r["g"], f"{r['n']:,}", fmt_pct(r["mean"]), fmt_pct(r["median"])] for r in rows],
        )
        parts.append(f'<h3>By {label}</h3><div class="pair">{chart}{table_html}</div>')
    return Section("accuracy", title, "".join(parts))


def service_section(rows: list[Record] | str, run_date: dt.date) -> Section:
    title = "Service level: achieved vs target (policy backtest)"
    if isinstance(rows, str):
        return Section("service", title, _note(rows + " (the policy backtest is optional)"))
    if not rows:
        return Section("service", title, _note(f"policy_backtest has no rows for {run_date}"))
    chart = hbar_chart(
        [f"{r['g']} ({r['n']})" for r in rows],
        [r["achieved"] for r in rows],
        targets=[r["target"] for r in rows],
        title="Achieved service by segment",
        fmt=fmt_pct,
        max_value=1.0,
        colour=GREEN,
    )
    table_html = _table(
        ["segment", "series", "achieved", "target", "series meeting target"],
        [
            [r["g"], f"{r['n']:,}", fmt_pct(r["achieved"]), fmt_pct(r["target"]), fmt_pct(r["met"])]
            for r in rows
        ],
    )
    legend = (
        '<p class="legend">bar: mean achieved service (fill rate; CSL for series with a CSL target) · '
        f'<span style="color:{ORANGE}">┃</span> mean target</p>'
    )
    return Section("service", title, legend + f'<div class="pair">{chart}{table_html}</div>')


def alerts_section(by_type: dict[str, dict[str, float]] | str) -> Section:
    title = "Alerts by type"
    if isinstance(by_type, str):
        return Section("alerts", title, _note(by_type))
    if not by_type:
        return Section("alerts", title, '<p class="note">No alerts for this run.</p>')
    # Most alerts first; severities in their usual order, any unknown ones after them.
    types = sorted(by_type, key=lambda k: (-sum(by_type[k].values()), k))
    order = [s for s in SEVERITY_ORDER if any(s in v for v in by_type.values())]
    order += sorted({s for v in by_type.values() for s in v} - set(order))
    chart = stacked_hbar_chart(
        types, [by_type[k] for k in types], order, SEVERITY_COLOURS, title="Alerts by type"
    )
    return Section("alerts", title, chart)


def allocation_section(rows: list[Record] | str, run_date: dt.date) -> Section:
    title = "Allocation: fill ratio per region"
    if isinstance(rows, str):
        return Section("allocation", title, _note(rows))
    if not rows:
        return Section("allocation", title, _note(f"allocation has no rows for {run_date}"))

    def ratio(r: Record) -> float | None:
        total = (r["units"] or 0.0) + (r["short"] or 0.0)
        return (r["units"] or 0.0) / total if total > 0 else None

    chart = hbar_chart(
        [r["region_id"] for r in rows],
        [ratio(r) for r in rows],
        title="Fill ratio per region",
        fmt=fmt_pct,
        max_value=1.0,
    )
    table_html = _table(
        ["region", "units allocated", "shortage units", "fill ratio", "transport cost", "rows not optimal"],
        [
            [
                r["region_id"],
                fmt_num(r["units"]),
                fmt_num(r["short"]),
                fmt_pct(ratio(r)),
                fmt_num(r["cost"]),
                f"{r['not_optimal']:,}",
            ]
            for r in rows
        ],
    )
    note = '<p class="legend">fill ratio = allocated / (allocated + shortage) units</p>'
    return Section("allocation", title, note + f'<div class="pair">{chart}{table_html}</div>')


def stages_section(stages: StageRows | str) -> Section:
    title = "Run stages"
    if isinstance(stages, str):
        return Section("stages", title, _note(stages))
    chart = hbar_chart(
        [r["stage"] for r in stages.rows],
        [r["seconds"] for r in stages.rows],
        title="Seconds per stage",
        fmt=lambda v: "–" if v is None else f"{v:.1f}s",
    )
    table_html = _table(stages.columns, [[_cell(r[c]) for c in stages.columns] for r in stages.rows])
    return Section("stages", f"{title} ({stages.run_id})", f'<div class="pair">{chart}{table_html}</div>')


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


def render(run_date: dt.date, outputs_root: str, config_hash: str, sections: list[Section]) -> str:
    """The whole HTML document around the sections, with a nav bar linking to each."""
    nav = "".join(
        f'<a href="#{s.anchor}">{esc(s.title.split(":")[0].split("(")[0].strip())}</a>' for s in sections
    )
    body = "".join(f'<section id="{s.anchor}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    # The CSP lets the page use only what it carries inline: it works offline and cannot leak a request.
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skuplan report {run_date.isoformat()}</title><style>{_CSS}</style></head>
<body><header><h1>skuplan · planning report for {run_date.isoformat()}</h1>
<p>outputs {esc(outputs_root)} · config {config_hash} · generated {generated}</p></header>
<nav>{nav}</nav><main>{body}</main>
<footer>Static page: inline SVG, no scripts, no network. Regenerate with <code>skuplan report</code>.</footer>
</body></html>
"""


def intraday_section(figures: Intraday | str | None) -> Section | None:
    """Signals per hour of the run date and the positions at or below their reorder point now (skuplan stream);
    None (no section) when no stream writes to this output."""
    if figures is None:
        return None
    title = "Intraday: reorder signals and positions below the reorder point"
    if isinstance(figures, str):
        return Section("intraday", title, _note(figures))
    through = figures.complete_through.isoformat(sep=" ") if figures.complete_through else "–"
    head = (
        f"<p>{figures.positions:,} positions kept by the stream, complete through {esc(through)} (event time); "
        f"{figures.below_count:,} at or below their reorder point now.</p>"
    )
    if figures.signals_per_hour:
        labels, counts = zip(*figures.signals_per_hour, strict=True)
        chart = hbar_chart(labels, [float(c) for c in counts], title="Reorder signals per hour (event time)")
    else:
        chart = _note("no reorder signal with an event time on the run date", partial=True)
    cells = ("item_id", "region_id", "on_hand", "reorder_point", "order_qty_policy")
    rows = [[_cell(r[c]) for c in cells] for r in figures.below]
    table = _table(["item", "region", "on hand", "reorder point", "order qty"], rows) if rows else ""
    return Section("intraday", title, head + chart + table)
