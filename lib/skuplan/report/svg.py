"""Inline SVG charts and the number formats they print: plain strings, no Spark, no plotting library.

The page embeds these strings as they are, so a chart needs no script, font or stylesheet to fetch.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def fmt_num(x: float | None) -> str:
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


def fmt_pct(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}%"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def is_finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# --------------------------------------------------------------------------------------------- primitives


def _nice_ticks(hi: float, n: int = 4) -> list[float]:
    """0 and round steps up to >= hi (1, 2, 2.5 or 5 times a power of ten)."""
    if not is_finite(hi) or hi <= 0:
        return [0.0, 1.0]
    raw = hi / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    # viewBox + max-width: the chart scales down on a narrow window instead of overflowing.
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(title)}" style="max-width:100%;height:auto;{FONT}">'
        f"<title>{esc(title)}</title>{''.join(body)}</svg>"
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
        f'font-weight="{weight}">{esc(text)}</text>'
    )


# ------------------------------------------------------------------------------------------------- charts


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    fmt: Callable[[float | None], str] = fmt_num,
    max_value: float | None = None,
    targets: Sequence[float | None] | None = None,
    colour: str = BLUE,
    width: int = 560,
) -> str:
    """Horizontal bars, one per label, value printed at the bar's end; optional target tick per bar."""
    label_w, value_w, bar_h, gap, top = 150, 64, 18, 8, 8
    plot_w = width - label_w - value_w
    finite = [v for v in values if is_finite(v)] + [t for t in targets or [] if is_finite(t)]
    vmax = max_value if max_value is not None else max(finite, default=0.0)
    vmax = vmax if vmax and vmax > 0 else 1.0
    height = top + len(labels) * (bar_h + gap) + 22
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        w = plot_w * max(0.0, min(value, vmax)) / vmax if is_finite(value) else 0.0
        body.append(_text(label_w - 6, y + bar_h * 0.72, label, anchor="end"))
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}" rx="2">'
            f"<title>{esc(label)}: {esc(fmt(value))}</title></rect>"
        )
        target = targets[i] if targets else None
        tx = label_w + plot_w * min(target, vmax) / vmax if is_finite(target) else None
        # The value goes past the target tick too, so the two never overprint.
        body.append(_text(max(label_w + w, (tx or 0.0) + 2) + 4, y + bar_h * 0.72, fmt(value)))
        if tx is not None:
            body.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + bar_h + 3}" stroke="{ORANGE}" '
                f'stroke-width="3"><title>target {esc(fmt(target))}</title></line>'
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
                f'fill="{colours.get(key, GREY)}"><title>{esc(label)} {esc(key)}: '
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
    ys = [u for _, u in plot.history if is_finite(u)]
    ys += [v for row in plot.forecast for v in row[1:] if is_finite(v)]
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
        body.append(_text(left - 4, py(t) + 4, fmt_num(t), anchor="end", size=10, fill=GREY))
    band = [(d, lo, hi) for d, _, lo, _, hi in plot.forecast if is_finite(lo) and is_finite(hi)]
    if band:
        pts = [f"{px(d):.1f},{py(hi):.1f}" for d, _, hi in band]
        pts += [f"{px(d):.1f},{py(lo):.1f}" for d, lo, _ in reversed(band)]
        body.append(
            f'<polygon points="{" ".join(pts)}" fill="{BAND}" stroke="none"><title>q05-q95</title></polygon>'
        )

    def line(points: list[tuple[dt.date, float | None]], colour: str, extra: str = "") -> None:
        pts = [f"{px(d):.1f},{py(v):.1f}" for d, v in points if is_finite(v)]
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
