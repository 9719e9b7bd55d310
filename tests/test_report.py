"""The HTML report: rendered from tiny hand-made Delta tables, checked as text and in headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import types as T

from skuplan import io
from skuplan.config import load_config
from skuplan.contracts import contract
from skuplan.report import write_report
from skuplan.schemas import RUNS, struct_type

RUN_DATE = dt.date(2026, 1, 1)
OLD_RUN = dt.date(2025, 12, 25)
CHROMIUM = Path("/usr/bin/chromium")
BLUE_RGB = (0x2F, 0x6D, 0xB5)  # skuplan.report.BLUE: bars and forecast lines

SERIES = [("SKU001", "R01", 40.0), ("SKU001", "R02", 25.0), ("SKU002", "R01", 12.0), ("SKU003", "R02", 3.0)]
QUANTILES = (0.05, 0.5, 0.95)


def _part(table: str, *names: str):
    """The contract of the named columns: the fixtures write part of each table on purpose."""
    full = contract(table, quantiles=QUANTILES) if table == "forecasts" else contract(table)
    return full.subset(names)


def _schema(table: str, *names: str) -> T.StructType:
    return struct_type(_part(table, *names), all_nullable=True)


def _write(spark, cfg, name, rows, schema, run_date=RUN_DATE):
    io.write_partition(spark.createDataFrame(rows, schema), cfg, name, run_date,
                       contract=_part(name, *schema.fieldNames()))


def _sales(in_root: Path) -> None:
    days = pd.date_range(RUN_DATE - dt.timedelta(days=120), RUN_DATE - dt.timedelta(days=1), freq="D")
    frames = [
        pd.DataFrame(
            {
                "item_id": item,
                "region_id": region,
                "date": days.date,
                "units": [level * (1.0 + 0.3 * ((d.dayofweek in (5, 6)) - 0.3)) for d in days],
            }
        )
        for item, region, level in SERIES
    ]
    (in_root / "sales").mkdir(parents=True)
    pd.concat(frames).to_parquet(in_root / "sales" / "part-0.parquet", index=False)


def _forecasts(spark, cfg, with_quantiles=True):
    rows = []
    for item, region, level in SERIES:
        for h in range(14):
            yhat = level * (1.0 + 0.01 * h)
            rows.append(
                (item, region, RUN_DATE + dt.timedelta(days=h), yhat, 0.6 * yhat, yhat, 1.5 * yhat, "sba")
            )
    fields = ["item_id", "region_id", "date", "yhat", "q05", "q50", "q95", "model"]
    if not with_quantiles:
        rows = [(r[0], r[1], r[2], r[3], r[7]) for r in rows]
        fields = [f for f in fields if f not in ("q05", "q50", "q95")]
    _write(spark, cfg, "forecasts", rows, _schema("forecasts", *fields))
    # An older run_date with a huge series: must not leak into this run's page.
    _write(
        spark,
        cfg,
        "forecasts",
        [("SKU999", "R09", OLD_RUN, 1e6, 1e6, 1e6, 1e6, "x")]
        if with_quantiles
        else [("SKU999", "R09", OLD_RUN, 1e6, "x")],
        _schema("forecasts", *fields),
        run_date=OLD_RUN,
    )


@pytest.fixture(scope="module")
def full_env(spark, tmp_path_factory, repo_root):
    base = tmp_path_factory.mktemp("report_full")
    cfg = load_config(
        repo_root / "conf",
        environ={},
        overrides={
            "inputs": {"root": str(base / "in")},
            "outputs": {"root": str(base / "out"), "max_files_per_partition": 1},
        },
    )
    _sales(base / "in")
    _forecasts(spark, cfg)
    _write(
        spark,
        cfg,
        "forecast_status",
        [
            ("SKU001", "R01", "sba", "ok", "", 120, "smooth"),
            ("SKU001", "R02", "sba", "ok", "", 120, "smooth"),
            ("SKU002", "R01", "sba", "fallback", "short", 20, "intermittent"),
            ("SKU003", "R02", "sba", "ok", "", 120, "lumpy"),
        ],
        _schema("forecast_status", "item_id", "region_id", "model", "status", "message", "n_obs", "demand_class"),
    )
    # Selected model: smooth WAPEs 0.2 and 0.4 (mean 30.0%); the rejected model's 0.9 must be ignored.
    metrics = []
    for (item, region), wape in {
        ("SKU001", "R01"): 0.2,
        ("SKU001", "R02"): 0.4,
        ("SKU002", "R01"): 0.5,
        ("SKU003", "R02"): float("nan"),
    }.items():
        for fold in (0, 1):
            metrics.append((item, region, "sba", fold, wape, True))
            metrics.append((item, region, "ma", fold, 0.9, False))
    _write(
        spark,
        cfg,
        "forecast_metrics",
        metrics,
        _schema("forecast_metrics", "item_id", "region_id", "model", "fold", "wape", "selected"),
    )
    _write(
        spark,
        cfg,
        "inventory_policy",
        [
            ("SKU001", "R01", 40.0, 30.0, "A", "X"),
            ("SKU001", "R02", 25.0, 20.0, "A", "Y"),
            ("SKU002", "R01", 12.0, 9.0, "B", "Z"),
            ("SKU003", "R02", 3.0, 4.0, "C", "Z"),
        ],
        _schema("inventory_policy", "item_id", "region_id", "mean_daily_demand", "safety_stock", "abc", "xyz"),
    )
    _write(
        spark,
        cfg,
        "replenishment",
        [("SKU001", "R01", 100.0, 240.0, "below_rop"), ("SKU002", "R01", 50.0, 0.0, "ok")],
        _schema("replenishment", "item_id", "region_id", "inventory_position", "order_qty", "reason"),
    )
    _write(
        spark,
        cfg,
        "alerts",
        [
            ("SKU001", "R01", "stockout_risk", "high", 1.0, 2.0),
            ("SKU001", "R02", "stockout_risk", "high", 1.0, 2.0),
            ("SKU002", "R01", "stockout_risk", "medium", 1.0, 2.0),
            ("SKU003", "R02", "excess", "low", 90.0, 60.0),
        ],
        _schema("alerts", "item_id", "region_id", "alert_type", "severity", "value", "threshold"),
    )
    _write(
        spark,
        cfg,
        "kpis",
        [
            ("SKU001", "R01", 12.0, 10.0, 0.97, 1000.0),
            ("SKU001", "R02", 10.0, 20.0, 0.93, 500.0),
            ("SKU002", "R01", 4.0, float("inf"), 0.9, 250.0),
        ],
        _schema("kpis", "item_id", "region_id", "turnover", "days_of_supply", "projected_fill_rate",
                "inventory_value"),
    )
    # R01: 30 allocated, 10 short -> 75.0%; R02: 50 allocated, none short -> 100.0%.
    _write(
        spark,
        cfg,
        "allocation",
        [
            ("SKU001", "DC1", "R01", 20.0, 2.0, 0.0, "optimal", ""),
            ("SKU002", "DC2", "R01", 10.0, 1.5, 10.0, "optimal", ""),
            ("SKU001", "DC1", "R02", 50.0, 1.0, 0.0, "optimal", ""),
        ],
        _schema("allocation", *contract("allocation").names),
    )
    _write(
        spark,
        cfg,
        "policy_backtest",
        [
            ("SKU001", "R01", 0.97, 0.95, "AX", "smooth"),
            ("SKU001", "R02", 0.91, 0.95, "AY", "smooth"),
            ("SKU002", "R01", 0.88, 0.90, "BZ", "intermittent"),
        ],
        _schema("policy_backtest", "item_id", "region_id", "fill_rate", "service_level", "segment", "demand_class"),
    )
    _write(
        spark,
        cfg,
        "quarantine",
        [("sales", "{}", "negative_units", "units < 0")],
        _schema("quarantine", "source", "payload", "reason_code", "reason"),
    )
    now = dt.datetime(2026, 1, 1, 3, 0)
    manifest = [
        {
            "run_id": "old-failed",
            "run_date": RUN_DATE,
            "config_hash": "h",
            "stage": "validate",
            "rows_in": 10,
            "rows_out": 9,
            "rows_quarantined": 1,
            "seconds": 99.0,
            "status": "failed",
            "detail": "",
            "table_versions": {},
            "finished_at": now - dt.timedelta(hours=1),
        },
        *[
            {
                "run_id": "latest-ok",
                "run_date": RUN_DATE,
                "config_hash": "h",
                "stage": stage,
                "rows_in": 100,
                "rows_out": 90,
                "rows_quarantined": 1 if stage == "validate" else None,
                "seconds": secs,
                "status": "ok",
                "detail": "",
                "table_versions": {},
                "finished_at": now,
            }
            for stage, secs in (
                ("validate", 4.0),
                ("prepare", 2.0),
                ("forecast", 12.5),
                ("policy", 3.0),
                ("allocate", 1.5),
            )
        ],
    ]
    io.append_manifest(spark, cfg, manifest, RUNS)
    return cfg, base


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def full_page(spark, full_env) -> tuple[Path, str]:
    # Rendered once for the tests that only read the default page.
    cfg, base = full_env
    out = base / "report" / "report.html"
    return out, _render(spark, cfg, out)


def _render(spark, cfg, out: Path, **kwargs) -> str:
    path = write_report(spark, cfg, RUN_DATE, out, **kwargs)
    assert path == out and out.is_file()
    return out.read_text(encoding="utf-8")


def test_report_has_every_section_with_the_expected_numbers(full_page):
    path, page = full_page
    assert path.stat().st_mode & 0o044, "the page must be readable by others (e.g. a web server)"
    tags = _parse(page)
    ids = {a.get("id") for t, a in tags.tags if t == "section"}
    assert ids == {"kpis", "forecast", "accuracy", "service", "alerts", "allocation", "stages"}
    assert "Skipped:" not in page, re.findall(r"Skipped:[^<]*", page)
    # One forecast chart per series (4 < top_n) with its band, plus bar charts for the other sections.
    assert sum(1 for t, _ in tags.tags if t == "polygon") == len(SERIES)
    assert sum(1 for t, _ in tags.tags if t == "svg") >= len(SERIES) + 5
    assert "75.0%" in page and "100.0%" in page  # allocation fill ratio per region
    assert "30.0%" in page  # mean WAPE of the smooth class, selected model only
    assert "SKU999" not in page  # another run_date's partition
    assert "latest-ok" in page and "old-failed" not in page  # the latest run of the date
    assert "Rows quarantined" in page


def test_report_is_self_contained(full_page):
    _, page = full_page
    tags = _parse(page)
    assert not [t for t, _ in tags.tags if t in ("script", "link", "img", "iframe", "object")]
    refs = [a.get(k) for _, a in tags.tags for k in ("src", "href") if a.get(k)]
    assert all(r.startswith("#") for r in refs), refs  # only in-page anchors
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_top_n_picks_the_largest_series(spark, full_env):
    cfg, base = full_env
    page = _render(spark, cfg, base / "report" / "top2.html", top_n=2, history_days=30)
    assert sum(1 for t, _ in _parse(page).tags if t == "polygon") == 2
    assert "SKU001 · R01" in page and "SKU001 · R02" in page and "SKU003 · R02" not in page


def test_absent_tables_and_columns_become_notes(spark, tmp_path, repo_root):
    cfg = load_config(
        repo_root / "conf",
        environ={},
        overrides={
            "inputs": {"root": str(tmp_path / "no_inputs")},
            "outputs": {"root": str(tmp_path / "out")},
        },
    )
    _forecasts(spark, cfg, with_quantiles=False)
    page = _render(spark, cfg, tmp_path / "partial.html")
    tags = _parse(page)
    assert {a.get("id") for t, a in tags.tags if t == "section"} >= {"forecast", "service", "allocation"}
    assert "table policy_backtest not found" in page
    assert "table allocation not found" in page
    assert "bands left out" in page
    assert "actuals left out: input sales:" in page  # the InputError's own message, path and fix
    assert sum(1 for t, _ in tags.tags if t == "polyline") == len(SERIES)  # forecasts still drawn
    assert sum(1 for t, _ in tags.tags if t == "polygon") == 0


def test_invalid_arguments_are_rejected(spark, full_env):
    cfg, base = full_env
    with pytest.raises(ValueError, match="top_n must be >= 1"):
        write_report(spark, cfg, RUN_DATE, base / "x.html", top_n=0)


# ------------------------------------------------------------------------------------------ in a browser


def _png_rgb(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of a PNG: Pillow when installed, else a small zlib decoder."""
    try:
        from PIL import Image
    except ImportError:
        return _png_rgb_pure(path)
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        return rgb.width, rgb.height, list(rgb.getdata())


def _png_rgb_pure(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    # Enough of PNG for a browser screenshot: 8-bit RGB or RGBA, not interlaced, the five row filters.
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG layout {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, pixels, i = bytearray(stride), [], 0
    for _ in range(height):
        kind, row = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = row[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                row[x] = (row[x] + a) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + b) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        pixels.extend(tuple(row[x : x + 3]) for x in range(0, stride, bpp))
        prev = row
    return width, height, pixels


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ]
    return subprocess.run(
        [str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)
def test_report_renders_in_headless_chromium(full_page, tmp_path):
    page_path, _ = full_page
    svg_in_file = page_path.read_text().count("<svg")

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page_path.as_uri())
    assert shot.is_file(), f"no screenshot (exit {run.returncode}): {run.stderr[-2000:]}"
    dom = _chromium(tmp_path, "--dump-dom", page_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]

    # The browser built every chart: the serialized DOM has as many <svg> elements as the file.
    assert dom.stdout.count("<svg") == svg_in_file > 0
    # No script errors and no blocked request (a CSP violation is reported as a console error).
    for log in (run.stderr, dom.stderr):
        bad = [line for line in log.splitlines() if re.search(r"CONSOLE|Uncaught|Refused to", line)]
        assert not bad, bad

    width, height, pixels = _png_rgb(shot)
    assert (width, height) == (1280, 2400)
    grey = [(r * 299 + g * 587 + b * 114) // 1000 for r, g, b in pixels]
    mean = sum(grey) / len(grey)
    variance = sum((v - mean) ** 2 for v in grey) / len(grey)
    assert variance > 200, f"screenshot looks blank (grey variance {variance:.0f})"
    blue = sum(1 for p in pixels if all(abs(c - t) <= 12 for c, t in zip(p, BLUE_RGB, strict=True)))
    assert blue > 2000, f"only {blue} pixels in the chart colour: the SVG charts did not render"
    page_path.with_suffix(".png").write_bytes(shot.read_bytes())  # kept beside the page for a human look


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_console_check_catches_a_script_error(tmp_path):
    # Negative control: the stderr check above would see an error if the page had one.
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>throw new Error('boom')</script></body></html>")
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert any("Uncaught" in line for line in run.stderr.splitlines()), run.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium for a PNG to decode")
def test_pure_png_decoder_matches_pillow(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    page = tmp_path / "p.html"
    page.write_text('<html><body style="background:linear-gradient(#fff,#2f6db5)"><h1>x</h1></body></html>')
    shot = tmp_path / "p.png"
    _chromium(tmp_path, "--window-size=200,120", f"--screenshot={shot}", page.as_uri())
    with pil.open(shot) as img:
        expected = list(img.convert("RGB").getdata())
    assert _png_rgb_pure(shot) == (200, 120, expected)
