"""Accuracy of the fast engine (model "auto" vs plain "regression") on real and generated data; pandas only.

    .venv/bin/python bench/accuracy_eval.py                 # UCI top-200 + 1,000 generated series, ~1 min
    .venv/bin/python bench/accuracy_eval.py --series 2000 --skip-uci

Prints holdout WAPE / bias / 90% interval coverage of auto vs regression, per demand class, the backtest
coverage of the selected models, the model mix, cold-start accuracy and engine timings (series/s, 1 core).

Data:
  * UCI Online Retail: Daqing Chen, Sai Liang Sain, Kun Guo (2012), UCI ML Repository dataset 352, CC BY 4.0.
    StockCode x Country x day, top 200 series by training volume (bench/forecast_bench.uci_series), the last
    28 days withheld.
  * Generator (lib/skuplan/sample/, seeded): items x 4 regions x 730 days, channels aggregated as the pipeline
    does (series.aggregate_channels, here in pandas) and gap-filled by SeriesBatch.from_long as the pipeline's
    SeriesBatch.from_arrow does, the item's category joined (the cold-start profile uses it), the last 28 days
    withheld.
  * Cold start: the generator's new items (first sale in the last 200 days) seen at several earlier cut-offs,
    each while they have < min_history_days days of history; scored on the 28 days after that cut-off.
WAPE = sum |yhat - y| / sum y; bias = sum (yhat - y) / sum y; coverage90 = share of days in [q05, q95].
Timings: SeriesBatch.from_long + forecast_batch (the Spark path builds its batch in the UDF too).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_bench import UCI_CREDIT, UCI_PATH, cached_sample, uci_series  # noqa: E402
from skuplan.forecast.config import ForecastConfig  # noqa: E402
from skuplan.forecast.engine import forecast_batch  # noqa: E402
from skuplan.series.batch import SeriesBatch  # noqa: E402

KEYS = ["item_id", "region_id"]
HOLDOUT = 28


# ---------------------------------------------------------------------------------------------- data
def generator_data(n_series: int, seed: int, out: Path):
    """(daily, events): the generated sample aggregated per item x region x day (all days, no gap fill)."""
    root = cached_sample(n_series, seed, out)
    sales = pd.read_parquet(root / "sales")
    sales["date"] = pd.to_datetime(sales["date"]).astype("datetime64[ns]")
    sales["rev"] = sales["price"] * sales["units"]
    daily = sales.groupby([*KEYS, "date"], as_index=False).agg(
        units=("units", "sum"), promo=("promo", "max"), rev=("rev", "sum")
    )
    daily["price"] = daily["rev"] / daily["units"].where(daily["units"] > 0)
    daily["units"] = daily["units"].clip(lower=0.0).astype(float)
    daily["promo"] = daily["promo"].astype(float)
    items = pd.read_parquet(root / "items", columns=["item_id", "category"])
    daily = daily.drop(columns="rev").merge(items, on="item_id", how="left")
    events = pd.read_parquet(root / "events")
    events["date"] = pd.to_datetime(events["date"]).astype("datetime64[ns]")
    return daily, events


def history(daily: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The rows up to the cutoff: the series that have sold by then (SeriesBatch.from_long fills their gaps)."""
    return daily[daily["date"] <= cutoff].reset_index(drop=True)


def actuals_after(daily: pd.DataFrame, cutoff: pd.Timestamp, keys: pd.DataFrame) -> pd.DataFrame:
    """Units of the HOLDOUT days after the cutoff for every key, 0 where no sale was recorded."""
    days = pd.date_range(cutoff + pd.Timedelta(days=1), periods=HOLDOUT)
    grid = keys[KEYS].merge(pd.DataFrame({"date": days}), how="cross")
    out = grid.merge(daily[[*KEYS, "date", "units"]], on=[*KEYS, "date"], how="left")
    out["units"] = out["units"].fillna(0.0)
    return out


# ---------------------------------------------------------------------------------------------- scoring
def joined(res, actual: pd.DataFrame) -> pd.DataFrame:
    f = res.forecasts.merge(actual, on=[*KEYS, "date"], how="left")
    f["units"] = f["units"].fillna(0.0)
    return f.merge(res.status[[*KEYS, "demand_class", "status"]], on=KEYS)


def scores(j: pd.DataFrame) -> dict[str, float]:
    y, f = j["units"].to_numpy(), j["yhat"].to_numpy()
    s = max(y.sum(), 1e-9)
    return {
        "wape": float(np.abs(f - y).sum() / s),
        "bias": float((f - y).sum() / s),
        "cov90": float(((y >= j["q05"] - 1e-9) & (y <= j["q95"] + 1e-9)).mean()),
        "n": int(j.groupby(KEYS).ngroups),
    }


def backtest_coverage(res) -> float:
    m = res.metrics
    return float(m.loc[m["selected"], "coverage"].mean())


def fmt(s: dict) -> str:
    return f"WAPE {s['wape']:.3f}  bias {s['bias']:+.3f}  cov90 {s['cov90']:.3f}  ({s['n']} series)"


def timed(hist, cfg, cutoff, events=None, repeat=1):
    best, res = np.inf, None
    for _ in range(repeat):
        t = time.process_time()
        res = forecast_batch(SeriesBatch.from_long(hist, cutoff), cfg, events=events)
        best = min(best, time.process_time() - t)
    return res, best


def compare(label: str, hist, actual, cutoff, events, repeat: int) -> dict:
    cfg_auto, cfg_reg = ForecastConfig(), ForecastConfig(model="regression")
    timed(hist.head(2000), cfg_auto, cutoff, events)  # first-call imports, untimed
    auto, t_auto = timed(hist, cfg_auto, cutoff, events, repeat)
    reg, t_reg = timed(hist, cfg_reg, cutoff, events, repeat)
    ja, jr = joined(auto, actual), joined(reg, actual)
    n = len(auto.status)
    sa, sr = scores(ja), scores(jr)
    print(f"\n{label}: {n} series, cutoff {cutoff.date()}, {HOLDOUT}-day holdout")
    print(f"    {'auto':28s} {fmt(sa)}   {n / t_auto:,.0f} series/s (cpu {t_auto:.2f} s)")
    print(f"    {'regression':28s} {fmt(sr)}   {n / t_reg:,.0f} series/s (cpu {t_reg:.2f} s)")
    print(f"    {'auto backtest cov90 (selected)':28s} {backtest_coverage(auto):.3f}")
    for c, g in ja.groupby("demand_class"):
        gr = jr[jr["demand_class"] == c]
        print(f"    class {c:22s} auto {fmt(scores(g))} | regression WAPE {scores(gr)['wape']:.3f}")
    mix = auto.status["model"].value_counts(normalize=True)
    print("    models chosen by auto: " + ", ".join(f"{m} {v:.0%}" for m, v in mix.items()))
    return {"auto": sa, "regression": sr, "bt_cov": backtest_coverage(auto), "sps": n / t_auto}


def cold_start_eval(daily, events, cfg, category: bool = True) -> dict:
    """New items at several cut-offs while they have < min_history_days days: holdout bias / WAPE / coverage.

    category=False drops the item category (no category x region profile to shrink toward)."""
    first = daily.groupby(KEYS)["date"].min()
    end = daily["date"].max()
    new = first[first >= end - pd.Timedelta(days=200)]
    parts = []
    for back in range(196, 84, -14):  # cut-offs every 2 weeks over the launch window of new items
        cutoff = end - pd.Timedelta(days=back)
        age = (cutoff - new).dt.days + 1
        cold = age[(age >= 1) & (age < cfg.min_history_days)].reset_index()[KEYS]
        if cold.empty:
            continue
        hist = history(daily, cutoff)
        if not category:
            hist = hist.drop(columns="category")
        res = forecast_batch(SeriesBatch.from_long(hist, cutoff), cfg, events=events)
        st = res.status.merge(cold, on=KEYS)
        st = st[st["model"] == "mean"]
        j = joined(res, actuals_after(daily, cutoff, st)).merge(st[KEYS], on=KEYS)
        parts.append(j)
    j = pd.concat(parts, ignore_index=True)
    s = scores(j)
    s["n"] = len(j) // HOLDOUT  # series x cut-off pairs
    return s


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=1000, help="generated series (items x 4 regions)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--uci-series", type=int, default=200)
    ap.add_argument("--uci-min-days", type=int, default=180)
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (best CPU time is reported)")
    ap.add_argument("--skip-uci", action="store_true")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "skuplan_accuracy_eval"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    uci = {"auto": {"wape": np.nan}, "regression": {"wape": np.nan}}
    if not args.skip_uci and Path(UCI_PATH).exists():
        hist, actual, cutoff, _ = uci_series(args.uci_series, args.uci_min_days)
        print(f"real data: {UCI_CREDIT}")
        uci = compare(f"UCI Online Retail top {args.uci_series}", hist, actual, cutoff, None, args.repeat)

    daily, events = generator_data(args.series, args.seed, out)
    cutoff = daily["date"].max() - pd.Timedelta(days=HOLDOUT)
    hist = history(daily, cutoff)
    actual = actuals_after(daily, cutoff, hist[KEYS].drop_duplicates())
    gen = compare(f"generator sample (seed {args.seed})", hist, actual, cutoff, events, args.repeat)

    cold = cold_start_eval(daily, events, ForecastConfig())
    print(
        f"\ncold start (generator new items, < min_history_days at the cut-off): {fmt(cold)} series x cut-offs"
    )
    nocat = cold_start_eval(daily, events, ForecastConfig(), category=False)
    print(f"cold start without item categories (no profile): {fmt(nocat)} series x cut-offs")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    print(
        f"wape_auto_uci={uci['auto']['wape']:.4f} wape_regression_uci={uci['regression']['wape']:.4f} "
        f"wape_auto_sample={gen['auto']['wape']:.4f} coverage90_sample={gen['bt_cov']:.4f} "
        f"cold_bias_sample={cold['bias']:.4f}"
    )


if __name__ == "__main__":
    main()
