"""Accuracy of the nightly forecast path against per-series anchors, side by side on the same cut (issue 15).

    .venv/bin/python bench/accuracy_bench.py                  # ~6-9 min on 2 busy cores
    .venv/bin/python bench/accuracy_bench.py --series 100 --uci-series 100 --prophet-sample 10   # quick look

Sets (each split at one cut-off; the horizon after it is withheld and scored):
  uci              UCI Online Retail, StockCode x Country x day, top --uci-series series by volume, 28 days
                   (Daqing Chen, Sai Liang Sain, Kun Guo (2012), UCI ML Repository dataset 352, CC BY 4.0).
  smooth_yearly    generator profile (lib/skuplan/sample/profiles.py): 2.5 years, yearly cycle, 90 days.
  m5_intermittent  generator profile: sparse sales with price steps and discounts, 28 days.
  promo_heavy      generator profile: promotions on ~40% of days lifting sales 2.5-5x, 28 days, no plan given.
  promo_planned    the same series with the horizon's promo flags and prices given as planned (`future`).
Contenders, all on the same series and days:
  auto             the nightly path: daily rows -> series_arrays -> forecast_bucket UDF (applyInArrow) on
                   Spark local[2], model "auto" (the default config, horizon set per set).
  ets, sba, snaive statsforecast AutoETS(season 7), CrostonSBA, SeasonalNaive(7), one model per series, on
                   the last 730 days of history (what the engine's own slow models see).
  prophet          per-series Prophet through the same Spark UDF (one series per group) on a seeded sample of
                   --prophet-sample series per set (Prophet costs ~0.3-1 s a series); auto is compared with it
                   on that sample only.
WAPE = sum |yhat - y| / sum y. cover90 = share of (series, day) with q05 <= y <= q95 (auto's band), per set and
per demand class. ratio = wape_auto / wape_anchor on the anchor's series; a set's ratio is its worst one.
Global models (global_gbm, lstm if the `deep` extra is installed): each also alone (model=<name>, every series)
on the same Spark path: WAPE, cover90 (its conformal q05-q95 band), Spark wall seconds per 1,000 series (the set's
whole job: a fit at every backtest cut-off and Spark's per-job cost, which dominates at 300 series), and the train
CPU seconds per 1,000 series of one fit + forecast in this process (one partition, one core). The last line gets
gbm_vs_ets_uci / gbm_vs_ets_m5 = global_gbm WAPE / AutoETS WAPE (< 1: global_gbm wins).
speed_ratio = auto series/s end to end on Spark (from the cached daily rows to the counted outputs) on a
--speed-series run (promo_heavy profile, 4 buckets; 0 = over the sets, whose Spark per-job cost dominates at
300 series) / Prophet series/s on the same path (the sets' samples).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_bench import CORES, REPO, UCI_CREDIT, UCI_PATH, to_spark, uci_series  # noqa: E402
from skuplan.forecast.config import ForecastConfig  # noqa: E402
from skuplan.sample.profiles import profile_data  # noqa: E402

KEYS = ["item_id", "region_id"]
ANCHORS = ("ets", "sba", "snaive", "prophet")
ANCHOR_HISTORY_DAYS = 730


def extra_models() -> list[str]:
    """Registry models run as extra columns through the same Spark path (model=<name>) on every set.

    H4 (global models): add "global_gbm" and "lstm" here; the table and the summary pick them up.
    lstm needs the `deep` extra (autograd); without it its column is left out rather than failing the bench."""
    import importlib.util

    return ["global_gbm"] + (["lstm"] if importlib.util.find_spec("autograd") else [])


# ---------------------------------------------------------------------------------------------- data
def load_sets(args) -> dict[str, dict]:
    """label -> history, actual, plan (or None), cutoff, horizon."""
    sets = {}
    if not args.skip_uci and Path(UCI_PATH).exists():
        hist, actual, cutoff, _ = uci_series(args.uci_series, args.uci_min_days)
        sets["uci"] = {"history": hist, "actual": actual, "plan": None, "cutoff": cutoff, "horizon": 28}
    for name in ("smooth_yearly", "m5_intermittent", "promo_heavy"):
        d = profile_data(name, args.series, args.seed)
        sets[name] = {"history": d.history, "actual": d.actual, "plan": None, "cutoff": d.cutoff,
                      "horizon": d.horizon}  # fmt: skip
        if name == "promo_heavy":
            sets["promo_planned"] = {**sets[name], "plan": d.plan}
    return sets


# ---------------------------------------------------------------------------------------------- Spark path
def spark_forecast(spark, hist: pd.DataFrame, cfg: ForecastConfig, cutoff, plan, spb: int):
    """The nightly path on `hist`: (forecasts, status, seconds, n_series); timing from cached daily rows."""
    from skuplan.forecast import spark as glue
    from skuplan.series.spark import series_arrays

    daily = to_spark(spark, hist).persist()
    daily.count()
    t = time.perf_counter()
    arrays = series_arrays(daily, cutoff.date(), cfg.max_history_days).persist()
    n = arrays.count()
    schemas = glue.output_schemas(cfg)
    wide = glue.wide_schema(schemas)
    udf = glue.forecast_bucket(cfg, cutoff.date(), None, wide, future=plan)
    out = glue.bucketed(arrays, cfg, n, spb).applyInArrow(udf, schema=wide).persist()
    out.count()
    seconds = time.perf_counter() - t
    outs = glue.split_outputs(out, schemas)
    fc, st = outs.forecasts.toPandas(), outs.status.toPandas()
    fc["date"] = pd.to_datetime(fc["date"])
    spark.catalog.clearCache()
    return fc, st, seconds, n


def train_seconds(name: str, hist: pd.DataFrame, cutoff, plan, h: int) -> float:
    """CPU seconds per 1,000 series of one fit + forecast of model `name` on the whole set (one partition, one
    core, in this process: no Spark, no backtest), as the UDF runs it once per partition and backtest cut-off."""
    from skuplan.forecast.models import build
    from skuplan.forecast.panel import build_panel
    from skuplan.series.batch import SeriesBatch

    cfg = ForecastConfig(model=name, horizon_days=h)
    panel = build_panel(SeriesBatch.from_long(hist, cutoff, cfg.max_history_days), h, plan)
    model = build(name, cfg)
    t = time.process_time()
    model.fit_predict(panel.view(panel.n_hist, h), cfg.quantiles)
    return (time.process_time() - t) / panel.n_series * 1000


# ---------------------------------------------------------------------------------------------- anchors
def statsforecast_anchors(hist: pd.DataFrame, h: int) -> pd.DataFrame:
    """item_id, region_id, date, ets, sba, snaive: per-series statsforecast fits on the daily history."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, CrostonSBA, SeasonalNaive

    # The last ANCHOR_HISTORY_DAYS days, as the engine's own slow models see (slow_model_max_history_days).
    hist = hist[hist["date"] > hist["date"].max() - pd.Timedelta(days=ANCHOR_HISTORY_DAYS)]
    df = hist.assign(unique_id=hist["item_id"] + "|" + hist["region_id"], ds=hist["date"], y=hist["units"])
    sf = StatsForecast(
        models=[
            AutoETS(season_length=7, alias="ets"),
            CrostonSBA(alias="sba"),
            SeasonalNaive(7, alias="snaive"),
        ],
        freq="D",
        n_jobs=1,
    )
    fc = sf.forecast(df=df[["unique_id", "ds", "y"]], h=h).reset_index()
    ids = fc["unique_id"].str.split("|", n=1, expand=True)
    return fc.assign(item_id=ids[0], region_id=ids[1], date=fc["ds"])[[*KEYS, "date", "ets", "sba", "snaive"]]


# ---------------------------------------------------------------------------------------------- scoring
def joined(actual: pd.DataFrame, fc: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    j = fc[[*KEYS, "date", *cols]].merge(actual[[*KEYS, "date", "units"]], on=[*KEYS, "date"], how="left")
    j["units"] = j["units"].fillna(0.0)
    return j


def wape(j: pd.DataFrame, col: str) -> float:
    return float((j[col] - j["units"]).abs().sum() / max(j["units"].sum(), 1e-9))


def cover90(j: pd.DataFrame) -> float:
    return float(((j["units"] >= j["q05"] - 1e-9) & (j["units"] <= j["q95"] + 1e-9)).mean())


def evaluate_set(spark, label: str, s: dict, args, timing: dict) -> dict:
    h, cutoff, hist = s["horizon"], s["cutoff"], s["history"]
    cfg = ForecastConfig(horizon_days=h)
    fc, st, sec, n = spark_forecast(spark, hist, cfg, cutoff, s["plan"], args.series_per_bucket)
    timing["auto_s"] += sec
    timing["auto_n"] += n
    j = joined(s["actual"], fc, ["yhat", "q05", "q95"]).merge(st[[*KEYS, "demand_class", "model"]], on=KEYS)
    t = time.perf_counter()
    anchors = statsforecast_anchors(hist, h)
    timing["statsforecast_s"] += time.perf_counter() - t
    j = j.merge(anchors, on=[*KEYS, "date"], how="left")
    row = {"set": label, "n": n, "h": h, "auto": wape(j, "yhat"), "cover90": cover90(j)}
    for a in ("ets", "sba", "snaive"):
        row[a] = wape(j, a)
    row["auto_s1k"] = sec / n * 1000
    for m in extra_models():
        fm, _, msec, mn = spark_forecast(spark, hist, ForecastConfig(model=m, horizon_days=h), cutoff,
                                         s["plan"], args.series_per_bucket)  # fmt: skip
        jm = joined(s["actual"], fm, ["yhat", "q05", "q95"])
        row[m], row[f"{m}_cover90"], row[f"{m}_s1k"] = wape(jm, "yhat"), cover90(jm), msec / mn * 1000
        row[f"{m}_train1k"] = train_seconds(m, hist, cutoff, s["plan"], h)
    # Prophet on a seeded sample of series, through the same UDF (one series per group).
    keys = st[KEYS].sample(n=min(args.prophet_sample, len(st)), random_state=args.seed)
    pcfg = ForecastConfig(model="prophet", horizon_days=h, prophet_uncertainty_samples=50)
    sub = hist.merge(keys, on=KEYS)
    plan = None if s["plan"] is None else s["plan"].merge(keys, on=KEYS)
    fp, _, psec, pn = spark_forecast(spark, sub, pcfg, cutoff, plan, 1)
    timing["prophet_s"] += psec
    timing["prophet_n"] += pn
    jp = j.merge(keys, on=KEYS).merge(fp[[*KEYS, "date", "yhat"]].rename(columns={"yhat": "prophet"}),
                                      on=[*KEYS, "date"])  # fmt: skip
    row["prophet"], row["auto_on_prophet_sample"] = wape(jp, "prophet"), wape(jp, "yhat")
    ratios = {a: row["auto"] / max(row[a], 1e-12) for a in ("ets", "sba", "snaive")}
    ratios["prophet"] = row["auto_on_prophet_sample"] / max(row["prophet"], 1e-12)
    row["ratio"], row["best_anchor"] = max(ratios.values()), max(ratios, key=ratios.get)
    row["classes"] = {c: (g.groupby(KEYS).ngroups, cover90(g)) for c, g in j.groupby("demand_class")}
    row["mix"] = st["model"].value_counts(normalize=True).round(2).to_dict()
    return row


def print_table(rows: list[dict]) -> None:
    cols = ["auto", *extra_models(), "ets", "sba", "snaive", "prophet"]
    print("\nWAPE on the withheld horizon (prophet: on its sample; auto there in brackets)")
    print(f"{'set':16s} {'series':>6s} {'h':>3s} " + " ".join(f"{c:>8s}" for c in cols) + "  ratio  cover90")
    for r in rows:
        vals = (
            " ".join(f"{r[c]:8.3f}" for c in cols[:-1])
            + f" {r['prophet']:8.3f} ({r['auto_on_prophet_sample']:.3f})"
        )
        print(f"{r['set']:16s} {r['n']:6d} {r['h']:3d} {vals} {r['ratio']:6.3f} {r['cover90']:7.3f}")
    print_global_table(rows)
    for r in rows:
        cls = ", ".join(f"{c} {n} series {cv:.3f}" for c, (n, cv) in r["classes"].items())
        print(f"  {r['set']:16s} cover90 by class: {cls}")
        print(f"  {'':16s} auto's models: {r['mix']}")


def print_global_table(rows: list[dict]) -> None:
    """The global models alone (model=<name> on every series) against per-series AutoETS: WAPE, cover90 and
    seconds per 1,000 series on the Spark path (local[2] wall, training at every backtest cut-off included)."""
    models = ["auto", *extra_models()]
    print(
        "\nGlobal models alone: WAPE (cover90) [Spark wall s per 1,000 series | one fit's train CPU s per 1,000"
        " series]; m/ets = WAPE / AutoETS WAPE"
    )
    for r in rows:
        cells = []
        for m in models:
            cover = r["cover90"] if m == "auto" else r[f"{m}_cover90"]
            train = "" if m == "auto" else f" | {r[f'{m}_train1k']:.2f}"
            cells.append(f"{m} {r[m]:.3f} ({cover:.3f}) [{r[f'{m}_s1k']:.1f}{train}]")
        vs = " ".join(f"{m}/ets {r[m] / max(r['ets'], 1e-12):.3f}" for m in models[1:])
        print(f"  {r['set']:16s} " + "  ".join(cells) + f"  ets {r['ets']:.3f}  {vs}")


def gbm_summary(rows: list[dict]) -> str:
    """Fields appended to the last line: global_gbm's WAPE over AutoETS's on UCI and the M5-like profile."""
    if "global_gbm" not in extra_models():
        return ""
    tags = {"uci": "uci", "m5_intermittent": "m5"}
    return "".join(
        f" gbm_vs_ets_{tags[r['set']]}={r['global_gbm'] / max(r['ets'], 1e-12):.3f}"
        for r in rows
        if r["set"] in tags
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=300, help="series per generator profile")
    ap.add_argument("--uci-series", type=int, default=300)
    ap.add_argument("--uci-min-days", type=int, default=180)
    ap.add_argument("--prophet-sample", type=int, default=20, help="series per set forecast by Prophet")
    ap.add_argument("--series-per-bucket", type=int, default=150, help="2+ buckets a set: both cores busy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-uci", action="store_true")
    ap.add_argument(
        "--speed-series", type=int, default=4000, help="series of the auto speed run (0: the sets)"
    )
    args = ap.parse_args()
    t0 = time.perf_counter()

    from skuplan.config import SparkConfig
    from skuplan.spark import build_session

    spark = build_session(SparkConfig(master=f"local[{CORES}]", jars_dir=str(REPO / ".cache" / "jars")))
    spark.sparkContext.setLogLevel("ERROR")
    sets = load_sets(args)
    if "uci" in sets:
        print(f"real data: {UCI_CREDIT}")
    # Untimed warm-up: Python worker start-up and imports, so the first set is not charged for them.
    warm = next(iter(sets.values()))
    spark_forecast(spark, warm["history"].head(2000), ForecastConfig(horizon_days=warm["horizon"]),
                   warm["cutoff"], None, 500)  # fmt: skip
    timing = dict.fromkeys(["auto_s", "auto_n", "prophet_s", "prophet_n", "statsforecast_s"], 0.0)
    rows = []
    for label, s in sets.items():
        rows.append(evaluate_set(spark, label, s, args, timing))
        r = rows[-1]
        print(f"{label}: auto {r['auto']:.3f} vs best anchor ratio {r['ratio']:.3f} ({r['best_anchor']}), "
              f"cover90 {r['cover90']:.3f}  [{time.perf_counter() - t0:.0f} s]", flush=True)  # fmt: skip
    print_table(rows)
    if args.speed_series:  # throughput at a production-like bucket size: the sets are too small to amortize
        d = profile_data("promo_heavy", args.speed_series, args.seed + 1)  # Spark's per-job cost
        cfg = ForecastConfig(horizon_days=d.horizon)
        _, _, sec, n = spark_forecast(spark, d.history, cfg, d.cutoff, None, args.speed_series // 4)
        print(f"speed run: auto {n} series in {sec:.1f} s ({n / sec:.1f} series/s)")
        timing["auto_s"], timing["auto_n"] = sec, n
    auto_sps = timing["auto_n"] / timing["auto_s"]
    prophet_sps = timing["prophet_n"] / timing["prophet_s"]
    print(f"\nauto {timing['auto_n']:.0f} series in {timing['auto_s']:.1f} s ({auto_sps:.1f} series/s); prophet "
          f"{timing['prophet_n']:.0f} series in {timing['prophet_s']:.1f} s ({prophet_sps:.2f} series/s); "
          f"statsforecast anchors {timing['statsforecast_s']:.0f} s (1 core); wall {time.perf_counter() - t0:.0f} s")  # fmt: skip
    covers = [r["cover90"] for r in rows]
    print(
        f"worst_wape_ratio={max(r['ratio'] for r in rows):.3f} cover90_min={min(covers):.3f} "
        f"cover90_max={max(covers):.3f} speed_ratio={auto_sps / prophet_sps:.0f}" + gbm_summary(rows)
    )


if __name__ == "__main__":
    main()
