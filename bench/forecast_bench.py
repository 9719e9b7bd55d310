"""Forecast bench on Spark local mode: the fast default vs Prophet vs plain pandas, and 28-day holdout WAPE.

    .venv/bin/python bench/forecast_bench.py                    # 2,000 series x 2 years, ~4 min on 2 cores
    .venv/bin/python bench/forecast_bench.py --series 100000    # the scale run (tens of minutes)
    .venv/bin/python bench/forecast_bench.py --conf spark.sql.execution.arrow.maxRecordsPerBatch=1000000

One run, one local[2] session (skuplan.spark.build_session), everything through the production glue
skuplan.stages.forecast.run (the forecast stage's entry point):
  (a) default model "auto" (and "regression") on all series, buckets of --series-per-bucket;
  (b) Prophet, one series per group, on a seeded random subset, extrapolated per series;
  (c) the same default on plain pandas: forecast_batch over the same buckets, one after the other on one core.
Timings are best-of-`--repeat` after one untimed cold run (Python worker start-up, imports, JVM JIT), which is
reported too. Each Spark run is materialized by one count on the persisted output and the Python rows Spark
received are checked against the output rows, so each bucket's UDF ran exactly once.

Accuracy: the last 28 days of history are withheld (cutoff = last day - 28); forecasts are scored against them
(WAPE = sum |yhat - actual| / sum actual), the default and Prophet on the same series. Then the same comparison on
real data: UCI Online Retail (Chen, Sain & Guo 2012, UCI Machine Learning Repository dataset 352, CC BY 4.0),
StockCode x Country x day.

Data: lib/skuplan/sample/ (negative-binomial demand, intermittent / new / discontinued items, promos, price
steps, 618 / double 11, brand days), prepared by the pipeline's own aggregate_channels and series_arrays.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.engine import forecast_batch
from skuplan.sample import SampleSpec, generate_sample
from skuplan.series.batch import SeriesBatch

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2025, 6, 30)
DAYS = 730  # two years of daily history
HOLDOUT = 28
CORES = 2  # local[2]
KEYS = ["item_id", "region_id"]
SAMPLE_CODE = REPO / "lib" / "skuplan" / "sample"  # the generator package: its code is part of the cache key
UCI_PATH = "/work/shared/data/uci_online_retail/online_retail.parquet"
# Credit required by the data's license (CC BY 4.0); printed with every UCI result.
UCI_CREDIT = (
    'UCI Online Retail: Daqing Chen, Sai Liang Sain, Kun Guo (2012), "Online Retail", '
    "UCI Machine Learning Repository, dataset 352, CC BY 4.0"
)


# ---------------------------------------------------------------------------------------------- CPU accounting
def cpu_snapshot() -> dict[str, float]:
    """CPU seconds of this driver process, the JVM and the Python workers (children included).

    The machine is shared, so wall time also measures other people's load; CPU time shows what Spark itself spent.
    """
    try:
        import psutil
    except ImportError:  # optional: only the CPU breakdown is lost
        return {}
    me = psutil.Process()
    t = me.cpu_times()
    out = {"driver": t.user + t.system}
    for p in me.children(recursive=True):
        try:
            c = p.cpu_times()
            kind = "jvm" if "java" in p.name() else "py_workers"
            out[kind] = out.get(kind, 0.0) + c.user + c.system + c.children_user + c.children_system
        except psutil.Error:  # a worker that just exited
            continue
    return out


def cpu_delta(a: dict, b: dict) -> dict[str, float]:
    return {
        k: max(b.get(k, 0.0) - a.get(k, 0.0), 0.0)
        for k in ("jvm", "py_workers", "driver")
        if k in a or k in b
    }


# ---------------------------------------------------------------------------------------------- Spark helpers
def python_udf_metrics(df) -> dict[str, int]:
    """SQL metrics of the pandas-UDF node in the cached plan behind `df` (rows received, boot/init/total ms).

    Walks Spark's physical plan through py4j (internal API): returns {} if its shape ever changes.
    """
    try:
        stack = [df._jdf.queryExecution().executedPlan()]
        while stack:
            node = stack.pop()
            cls = node.getClass().getSimpleName()
            if "InPandas" in cls or "InArrow" in cls:
                it, out = node.metrics().iterator(), {}
                while it.hasNext():
                    kv = it.next()
                    out[kv._1()] = int(kv._2().value())
                return out
            kids = [node.children().apply(i) for i in range(node.children().size())]
            if cls == "AdaptiveSparkPlanExec":
                kids.append(node.executedPlan())
            elif cls.endswith("QueryStageExec"):
                kids.append(node.plan())
            elif cls == "InMemoryTableScanExec":
                kids.append(node.relation().cacheBuilder().cachedPlan())
            stack.extend(kids)
    except Exception:  # noqa: BLE001 - diagnostics only
        return {}
    return {}


@dataclass
class SparkRun:
    label: str
    n_series: int
    walls: list[float] = field(default_factory=list)
    cpus: list[dict] = field(default_factory=list)
    cold_wall: float | None = None
    udfs: list[dict] = field(default_factory=list)
    array_walls: list[float] = field(default_factory=list)  # prepare's series_arrays build, per timed run
    forecasts: pd.DataFrame | None = None
    status: pd.DataFrame | None = None

    @property
    def best(self) -> int:
        return int(np.argmin(self.walls))

    @property
    def wall(self) -> float:
        return self.walls[self.best]

    @property
    def cpu(self) -> dict:
        return self.cpus[self.best]

    @property
    def udf(self) -> dict:
        return self.udfs[self.best]


def spark_forecast(spark, make_input, cfg, cutoff, events_df, spb, run: SparkRun, cold: bool) -> None:
    """One timed call of the forecast stage's entry point, materialized by a count on the persisted wide output."""
    from skuplan.config import Config, SparkConfig
    from skuplan.run_context import RunContext
    from skuplan.stages import forecast

    # Persisted and counted: the stage starts from cached history and arrays, as in the pipeline.
    df, arrays, n_series, t_arrays = make_input()
    before, t = cpu_snapshot(), time.perf_counter()
    ctx = RunContext(spark, Config(forecast=cfg, spark=SparkConfig(series_per_bucket=spb)), cutoff + dt.timedelta(days=1))
    ctx.n_series = n_series
    out = forecast.run(ctx, {"series_arrays": arrays, **({"staged_events": events_df} if events_df is not None else {})})
    outs = SimpleNamespace(forecasts=out["forecasts"], status=out["forecast_status"], metrics=out["forecast_metrics"])
    n_fc = outs.forecasts.count()  # builds the whole persisted wide frame: every bucket's UDF runs here
    wall = time.perf_counter() - t
    cpu = cpu_delta(before, cpu_snapshot())
    n_st, n_me = outs.status.count(), outs.metrics.count()  # served from the cache
    udf = python_udf_metrics(outs.forecasts)
    if udf and udf.get("pythonNumRowsReceived") != n_fc + n_st + n_me:
        raise RuntimeError(
            f"{run.label}: the UDF ran more than once ({udf} vs {n_fc + n_st + n_me} output rows)"
        )
    if n_st != run.n_series or n_fc != run.n_series * cfg.horizon_days:
        raise RuntimeError(f"{run.label}: {n_st} status / {n_fc} forecast rows for {run.n_series} series")
    if cold:
        run.cold_wall = wall
    else:
        run.array_walls.append(t_arrays)
        run.walls.append(wall)
        run.cpus.append(cpu)
        run.udfs.append(udf)
    if run.forecasts is None:
        run.forecasts = outs.forecasts.toPandas()
        run.status = outs.status.toPandas()
    # The next run must recompute: Spark would otherwise serve an identical plan from this cache.
    spark.catalog.clearCache()


# ---------------------------------------------------------------------------------------------- data
def cached_sample(n_series: int, seed: int, out: Path) -> Path:
    """Folder of the generated sample (n_series / 4 items x 4 regions, DAYS days to END), generated once per
    spec and generator code (others edit the generator too)."""
    n_items = max(1, n_series // 4)
    spec = SampleSpec(
        n_items=n_items,
        n_regions=4,
        start=END - dt.timedelta(days=DAYS - 1),
        end=END,
        dirty_rows=False,
        seed=seed,
    )
    root = out / f"sample_{n_items}x4_s{seed}"
    marker = root / "spec.json"
    code = hashlib.sha1(
        b"".join(p.read_bytes() for p in sorted(SAMPLE_CODE.glob("*.py")))
    ).hexdigest()
    key = json.dumps({**{k: str(v) for k, v in spec.__dict__.items()}, "code": code}, sort_keys=True)
    if not marker.exists() or marker.read_text() != key:
        generate_sample(root, spec)
        marker.write_text(key)
    return root


def synthetic(spark, out: Path, n_series: int, spb: int, seed: int):
    """Generate (cached by spec), prepare with the pipeline's functions, write the training history by bucket."""
    from pyspark.sql import functions as F

    from skuplan.schemas import OPTIONAL_DEFAULTS
    from skuplan.series.spark import aggregate_channels, with_bucket

    n_items = max(1, n_series // 4)
    root = cached_sample(n_series, seed, out)
    cutoff = END - dt.timedelta(days=HOLDOUT)
    sales = spark.read.parquet(str(root / "sales"))
    for (table, col), default in OPTIONAL_DEFAULTS.items():  # as ingest does for optional columns
        if table == "sales" and col not in sales.columns:
            sales = sales.withColumn(col, F.lit(default))
    daily = aggregate_channels(sales).persist()
    train = daily.where(F.col("date") <= F.lit(cutoff))
    n_train = train.select(*KEYS).distinct().count()
    n_buckets = max(1, math.ceil(n_train / spb))  # exactly as the forecast stage computes it
    # Rewritten on every run: it depends on the prepare code (aggregate_channels) as well.
    train_path = out / f"train_{n_items}x4_s{seed}"
    with_bucket(train, n_buckets).write.mode("overwrite").partitionBy("bucket").parquet(str(train_path))
    actual = daily.where(F.col("date") > F.lit(cutoff)).select(*KEYS, "date", "units").toPandas()
    actual["date"] = pd.to_datetime(actual["date"])
    daily.unpersist()
    events = pd.read_parquet(root / "events")
    events["date"] = pd.to_datetime(events["date"])
    events_df = spark.read.parquet(str(root / "events")).select(
        F.col("date").cast("date"), "event_name", "region_id", F.col("uplift_hint").cast("double")
    )
    return train_path, n_train, n_buckets, cutoff, actual, events, events_df


def cached_input(spark, train_path: Path, shuffle_partitions: int, cutoff, keys: pd.DataFrame | None = None):
    """The training history as the pipeline's prepare stage hands it over: the daily rows, cached and
    hash-spread by series, and the one-row-per-series arrays built from them, cached (series.series_arrays).
    Returns (daily rows, arrays, n_series, seconds to build the arrays)."""
    from pyspark.sql import functions as F

    from skuplan.series.spark import series_arrays

    def make():
        df = spark.read.parquet(str(train_path)).drop("bucket")
        if keys is not None:
            df = df.join(F.broadcast(spark.createDataFrame(keys)), KEYS)
        df = df.repartition(shuffle_partitions, *KEYS, "date").persist()
        df.count()
        t = time.perf_counter()
        arrays = series_arrays(df, cutoff, ForecastConfig().max_history_days).persist()
        n = arrays.count()
        return df, arrays, n, time.perf_counter() - t

    return make


def uci_series(n_top: int, min_days: int):
    """StockCode x Country x day from UCI Online Retail (see UCI_CREDIT), gap-filled, top series by volume.

    Cleaning: cancellation invoices ('C...') dropped; negative quantities are returns and are dropped (not netted);
    non-product StockCodes (POST, DOT, M, C2, D, S, BANK CHARGES, AMAZONFEE, CRUK, PADS, DCGS..., gift_...)
    dropped by keeping codes that start with 5 digits; lines with price <= 0 (adjustments) dropped.
    """
    raw = pd.read_parquet(UCI_PATH)
    invoice = raw["InvoiceNo"].astype(str)
    code = raw["StockCode"].astype(str).str.strip()
    keep = (
        ~invoice.str.startswith("C")
        & code.str.match(r"^\d{5}")
        & (raw["Quantity"] > 0)
        & (raw["UnitPrice"] > 0)
    )
    d = raw.loc[keep].assign(item_id=code[keep].str.upper(), region_id=raw.loc[keep, "Country"].astype(str))
    d["date"] = d["InvoiceDate"].dt.normalize().astype("datetime64[ns]")
    d["revenue"] = d["Quantity"] * d["UnitPrice"]
    daily = d.groupby([*KEYS, "date"], as_index=False).agg(
        units=("Quantity", "sum"), revenue=("revenue", "sum")
    )
    daily["units"] = daily["units"].astype(float)
    # Units-weighted mean price of the day, as aggregate_channels computes it.
    daily["price"] = daily["revenue"] / daily["units"]
    last = daily["date"].max()
    cutoff = last - pd.Timedelta(days=HOLDOUT)
    train = daily[daily["date"] <= cutoff]
    span = train.groupby(KEYS).agg(first=("date", "min"), volume=("units", "sum")).reset_index()
    # Enough history: the first sale at least min_days before the cutoff; volume over the training period only.
    span = span[(cutoff - span["first"]).dt.days + 1 >= min_days]
    top = span.nlargest(n_top, "volume")[[*KEYS, "first"]]
    # Gap-fill every day from the first sale to the last day of the data (no sale = 0 units, price unknown).
    grid = top.merge(pd.DataFrame({"date": pd.date_range(top["first"].min(), last)}), how="cross")
    grid = grid[grid["date"] >= grid["first"]].drop(columns="first")
    full = grid.merge(daily[[*KEYS, "date", "units", "price"]], on=[*KEYS, "date"], how="left")
    full["units"] = full["units"].fillna(0.0)
    full["promo"] = 0.0
    hist = full[full["date"] <= cutoff].reset_index(drop=True)
    actual = full[full["date"] > cutoff][[*KEYS, "date", "units"]].reset_index(drop=True)
    n_lines = {"raw": len(raw), "kept": int(keep.sum()), "returns": int((raw["Quantity"] <= 0).sum())}
    return hist, actual, cutoff, n_lines


def to_spark(spark, hist: pd.DataFrame):
    """A pandas history as a DAILY_SERIES frame; absent optional columns (e.g. stockout) take ingest's defaults."""
    from skuplan.schemas import DAILY_SERIES, OPTIONAL_DEFAULTS

    hist = hist.assign(date=hist["date"].dt.date)
    for f in DAILY_SERIES.fields:
        if f.name not in hist:
            hist[f.name] = OPTIONAL_DEFAULTS.get(("sales", f.name))
    rows = hist[[f.name for f in DAILY_SERIES.fields]]
    rows = rows.astype(object).where(rows.notna(), None)
    return spark.createDataFrame(rows.values.tolist(), DAILY_SERIES)


# ---------------------------------------------------------------------------------------------- scoring
def score(
    forecasts: pd.DataFrame, actual: pd.DataFrame, keys: pd.DataFrame | None = None
) -> dict[str, float]:
    f = forecasts.assign(date=pd.to_datetime(forecasts["date"]))
    if keys is not None:
        f = f.merge(keys[KEYS], on=KEYS)
    j = f.merge(actual[[*KEYS, "date", "units"]], on=[*KEYS, "date"], how="left")
    j["units"] = j["units"].fillna(0.0)  # no sale recorded on a forecast day = zero demand
    out = {"wape": float((j["yhat"] - j["units"]).abs().sum() / max(j["units"].sum(), 1e-9))}
    if {"q05", "q95"} <= set(j.columns):
        out["coverage90"] = float(((j["units"] >= j["q05"]) & (j["units"] <= j["q95"])).mean())
    out["n_series"] = int(f.groupby(KEYS).ngroups)
    return out


# ---------------------------------------------------------------------------------------------- plain pandas
def pandas_bucket(train_path: Path, b: int) -> pd.DataFrame | None:
    """Bucket b exactly as the forecast stage builds it (same hash, same count), typed as the UDF hands it over."""
    part = train_path / f"bucket={b}"
    if not part.exists():
        return None
    h = pq.read_table(part).to_pandas(date_as_object=False)
    h["date"] = h["date"].astype("datetime64[ns]")
    return h


def pandas_forecast(train_path: Path, n_buckets: int, cfg, cutoff, events, repeat: int):
    """forecast_batch over the same buckets one after the other on one core: best-of-`repeat` CPU and wall time
    of the forecast_batch calls only (reading a bucket is not timed), bucket sizes and the forecasts."""
    cutoff = pd.Timestamp(cutoff)
    first = pandas_bucket(
        train_path, next(b for b in range(n_buckets) if (train_path / f"bucket={b}").exists())
    )
    warm = SeriesBatch.from_long(first.head(5000), cutoff, cfg.max_history_days)
    forecast_batch(warm, cfg, events=events)  # first-call imports, untimed
    best, frames, sizes = (math.inf, math.inf), [], []
    for r in range(repeat):
        cpu = wall = 0.0
        for b in range(n_buckets):
            h = pandas_bucket(train_path, b)
            if h is None:
                continue
            c0, w0 = time.process_time(), time.perf_counter()
            # The pivot to gap-free blocks is timed with the engine: the Spark path pays it in the UDF too.
            res = forecast_batch(SeriesBatch.from_long(h, cutoff, cfg.max_history_days), cfg, events=events)
            cpu, wall = cpu + time.process_time() - c0, wall + time.perf_counter() - w0
            if r == 0:
                frames.append(res.forecasts)
                sizes.append(len(res.status))
        best = min(best, (cpu, wall))
    return best[0], best[1], pd.concat(frames, ignore_index=True), sizes


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=2000, help="number of series (items x 4 regions)")
    ap.add_argument("--series-per-bucket", type=int, default=1000, help="SparkConfig.series_per_bucket")
    ap.add_argument("--prophet", type=int, default=40, help="Prophet subset size (seeded random)")
    ap.add_argument("--uci-series", type=int, default=200, help="top UCI series by volume")
    ap.add_argument("--uci-min-days", type=int, default=180, help="minimum UCI history before the cutoff")
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (best is reported)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shuffle-partitions", type=int, default=8, help="SparkConfig.shuffle_partitions")
    ap.add_argument("--skip-uci", action="store_true")
    ap.add_argument("--conf", action="append", default=[], help="extra Spark conf key=value (repeatable)")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "skuplan_forecast_bench"))
    args = ap.parse_args()
    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()

    from skuplan.config import SparkConfig
    from skuplan.spark import build_session

    warehouse = tempfile.mkdtemp(prefix="warehouse_", dir=out)
    extra = {"spark.sql.warehouse.dir": warehouse, **dict(c.split("=", 1) for c in args.conf)}
    spark = build_session(
        SparkConfig(
            master=f"local[{CORES}]",
            shuffle_partitions=args.shuffle_partitions,
            jars_dir=str(REPO / ".cache" / "jars"),
        ),
        extra_conf=extra,
    )
    conf = spark.conf
    confs = {
        k: conf.get(k, d)
        for k, d in (
            ("spark.python.worker.reuse", "true"),
            ("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"),
            ("spark.sql.adaptive.enabled", "true"),
            ("spark.sql.shuffle.partitions", "200"),
        )
    }

    # ---- data
    train_path, n, n_buckets, cutoff, actual, events, events_df = synthetic(
        spark, out, args.series, args.series_per_bucket, args.seed
    )
    t_data = time.perf_counter() - t_start
    make_all = cached_input(spark, train_path, args.shuffle_partitions, cutoff)
    rows = make_all()[0].count()
    spark.catalog.clearCache()

    # ---- (a) fast default through the glue, then "regression"
    default = SparkRun("auto", n)
    regression = SparkRun("regression", n)
    cfg_auto, cfg_reg = ForecastConfig(), ForecastConfig(model="regression")
    spark_forecast(spark, make_all, cfg_auto, cutoff, events_df, args.series_per_bucket, default, cold=True)
    for _ in range(args.repeat):
        spark_forecast(
            spark, make_all, cfg_auto, cutoff, events_df, args.series_per_bucket, default, cold=False
        )
    for _ in range(args.repeat):
        spark_forecast(
            spark, make_all, cfg_reg, cutoff, events_df, args.series_per_bucket, regression, cold=False
        )

    # ---- (c) the same default on plain pandas, same buckets, one core
    pd_cpu, pd_wall, pd_fc, sizes = pandas_forecast(
        train_path, n_buckets, cfg_auto, cutoff, events, args.repeat
    )
    pd_cpu_reg, _, _, _ = pandas_forecast(train_path, n_buckets, cfg_reg, cutoff, events, 1)
    same = default.forecasts.assign(date=pd.to_datetime(default.forecasts["date"])).merge(
        pd_fc, on=[*KEYS, "date"], suffixes=("_spark", "_pandas")
    )
    max_diff = float((same["yhat_spark"] - same["yhat_pandas"]).abs().max())

    # ---- (b) Prophet per series on a seeded random subset of established series (>= 1 year of history)
    st = default.status
    established = st[st["n_obs"] >= 365][KEYS].sort_values(KEYS).reset_index(drop=True)
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(established), min(args.prophet, len(established)), replace=False)
    subset = established.iloc[np.sort(pick)].reset_index(drop=True)
    rest = established.drop(index=pick)
    warm_keys = rest.iloc[rng.choice(len(rest), min(CORES * 2, len(rest)), replace=False)]
    cfg_prophet = ForecastConfig(model="prophet")
    prophet = SparkRun("prophet", len(subset))
    warm = SparkRun("prophet warm-up", len(warm_keys))
    # Untimed: loads prophet / cmdstanpy into the Python workers, as the cold run did for the default.
    spark_forecast(
        spark,
        cached_input(spark, train_path, args.shuffle_partitions, cutoff, warm_keys),
        cfg_prophet,
        cutoff,
        events_df,
        args.series_per_bucket,
        warm,
        cold=True,
    )
    spark_forecast(
        spark,
        cached_input(spark, train_path, args.shuffle_partitions, cutoff, subset),
        cfg_prophet,
        cutoff,
        events_df,
        args.series_per_bucket,
        prophet,
        cold=False,
    )

    # ---- accuracy on the 28-day holdout
    acc = {
        "default_all": score(default.forecasts, actual),
        "regression_all": score(regression.forecasts, actual),
        "default_subset": score(default.forecasts, actual, subset),
        "regression_subset": score(regression.forecasts, actual, subset),
        "prophet_subset": score(prophet.forecasts, actual, subset),
    }

    # ---- the same comparison on real data (UCI Online Retail, CC BY 4.0)
    uci = None
    if not args.skip_uci and Path(UCI_PATH).exists():
        hist, uci_actual, uci_cutoff, lines = uci_series(args.uci_series, args.uci_min_days)
        n_uci = hist.groupby(KEYS).ngroups
        uci_df = to_spark(spark, hist)

        def uci_input():
            from skuplan.series.spark import series_arrays

            df = uci_df.persist()
            df.count()
            arrays = series_arrays(df, uci_cutoff.date(), cfg_auto.max_history_days).persist()
            return df, arrays, arrays.count(), 0.0

        uci_runs = {}
        for label, cfg in (("auto", cfg_auto), ("regression", cfg_reg), ("prophet", cfg_prophet)):
            run = SparkRun(f"uci {label}", n_uci)
            spark_forecast(
                spark, uci_input, cfg, uci_cutoff.date(), None, args.series_per_bucket, run, cold=False
            )
            uci_runs[label] = run
        uci = {
            "n": n_uci,
            "cutoff": uci_cutoff.date(),
            "lines": lines,
            "default": score(uci_runs["auto"].forecasts, uci_actual),
            "regression": score(uci_runs["regression"].forecasts, uci_actual),
            "prophet": score(uci_runs["prophet"].forecasts, uci_actual),
            "mix": uci_runs["auto"].status["model"].value_counts(normalize=True),
            "wall_default": uci_runs["auto"].wall,
            "wall_prophet": uci_runs["prophet"].wall,
            "max_day": float(uci_actual["units"].max()),
            "holdout_units": float(uci_actual["units"].sum()),
        }
    spark.stop()
    shutil.rmtree(warehouse, ignore_errors=True)

    # ---- report
    x = n / default.wall
    y = len(subset) / prophet.wall
    overhead = (default.wall * CORES - pd_cpu) / pd_cpu * 100
    spark_cpu = sum(default.cpu.values())
    overhead_cpu = (spark_cpu - pd_cpu) / pd_cpu * 100 if spark_cpu else float("nan")
    reg_overhead = (regression.wall * CORES - pd_cpu_reg) / pd_cpu_reg * 100
    wall_total = time.perf_counter() - t_start

    def cpu_txt(c: dict) -> str:
        return ", ".join(f"{k} {v:.2f}" for k, v in c.items()) if c else "n/a (psutil missing)"

    lines = [
        "",
        f"forecast bench: Spark local[{CORES}], {n:,} series x {DAYS} days (synthetic), cutoff {cutoff}, "
        f"{HOLDOUT}-day holdout",
        f"{'history rows':44s} {rows:,} ({rows / n:.0f} days per series on average)",
        f"{'buckets':44s} {n_buckets} (series_per_bucket={args.series_per_bucket}; sizes "
        f"{min(sizes)}..{max(sizes)}), shuffle partitions {args.shuffle_partitions}",
        f"{'Spark conf':44s} " + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in confs.items()),
        f"{'load average at start / end (2 cores)':44s} {load0[0]:.1f} / {os.getloadavg()[0]:.1f}",
        "",
        f"{'(a) Spark default model=auto, cold run':44s} {default.cold_wall:7.2f} s wall (worker start, imports, JIT)",
        f"{'(a) Spark default model=auto, best of ' + str(args.repeat):44s} {default.wall:7.2f} s wall  "
        f"{x:9,.0f} series/s   cpu: {cpu_txt(default.cpu)}",
        f"{'(a) Spark model=regression, best of ' + str(args.repeat):44s} {regression.wall:7.2f} s wall  "
        f"{n / regression.wall:9,.0f} series/s   cpu: {cpu_txt(regression.cpu)}",
        f"{'    pandas UDF node (best auto run)':44s} "
        + (
            f"{default.udf.get('pythonDataSent', 0) / 1e6:.0f} MB to Python, "
            f"{default.udf.get('pythonDataReceived', 0) / 1e6:.0f} MB back, "
            f"{default.udf.get('pythonProcessingTime', 0) / 1e3:.2f} s in Python summed over tasks"
            if default.udf
            else "n/a"
        ),
        f"{'    Spark CPU beyond the engine':44s} JVM {default.cpu.get('jvm', float('nan')):.2f} s "
        "(scan, series count, shuffle, sort, Arrow, cache) + Python workers "
        f"{default.cpu.get('py_workers', float('nan')) - pd_cpu:+.2f} s over pandas (Arrow <-> pandas, glue)",
        f"{'    UDF runs per bucket':44s} "
        + (
            "1 (Python rows received == output rows, checked on every run)"
            if default.udf
            else "not checked (Spark plan metrics unavailable)"
        ),
        f"{'(b) Spark Prophet, per-series groups':44s} {prophet.wall:7.2f} s wall  {y:9,.2f} series/s   "
        f"on {len(subset)} random series, extrapolated per series: {n:,} series ~ {n / y / 60:,.1f} min",
        f"{'    prepare: series arrays build (not above)':44s} {default.array_walls[default.best]:7.2f} s wall "
        f"(done once per run in prepare for forecast and policy; "
        f"overhead with it: {((default.wall + default.array_walls[default.best]) * CORES - pd_cpu) / pd_cpu * 100:.0f}%)",
        f"{'(c) pandas forecast_batch auto, 1 core':44s} {pd_cpu:7.2f} s cpu ({pd_wall:.2f} s wall), "
        f"same {len(sizes)} buckets in sequence; / {CORES} cores = {pd_cpu / CORES:.2f} s ideal Spark wall",
        f"{'(c) pandas forecast_batch regression':44s} {pd_cpu_reg:7.2f} s cpu",
        f"{'    Spark vs pandas forecasts, max |dyhat|':44s} {max_diff:.2e} (the glue adds nothing)",
        "",
        f"{'spark_overhead_pct (auto)':44s} {overhead:7.1f} %  = (spark_wall x {CORES} cores - pandas_cpu) / pandas_cpu",
        f"{'    regression':44s} {reg_overhead:7.1f} %",
        f"{'    same on CPU time, load-independent':44s} {overhead_cpu:7.1f} %  = (JVM + workers + driver cpu - "
        "pandas_cpu) / pandas_cpu",
        f"{'ratio default / Prophet throughput':44s} {x / y:9,.0f} x",
        "",
        f"synthetic holdout ({HOLDOUT} days after {cutoff}; WAPE = sum|yhat - y| / sum y):",
    ]
    for k, v in acc.items():
        cov = f", 90% interval coverage {v['coverage90']:.3f}" if "coverage90" in v else ""
        lines.append(f"    {k:40s} WAPE {v['wape']:.3f} on {v['n_series']:,} series{cov}")
    if uci is not None:
        lines += [
            "",
            f"real data: {UCI_CREDIT}",
            f"    StockCode x Country x day; {uci['lines']['kept']:,} of {uci['lines']['raw']:,} invoice lines kept "
            f"(cancellations, {uci['lines']['returns']:,} return / negative-quantity lines and non-product codes "
            "dropped)",
            f"    top {uci['n']} series by training volume with >= {args.uci_min_days} days of history, "
            f"gap-filled with 0, holdout {HOLDOUT} days after {uci['cutoff']}",
            f"    {'default (auto)':40s} WAPE {uci['default']['wape']:.3f}  ({uci['wall_default']:.1f} s), "
            "models chosen: " + ", ".join(f"{m} {v:.0%}" for m, v in uci["mix"].items()),
            f"    {'regression':40s} WAPE {uci['regression']['wape']:.3f}",
            f"    {'prophet':40s} WAPE {uci['prophet']['wape']:.3f}  ({uci['wall_prophet']:.1f} s)",
            f"    largest single day in the holdout: {uci['max_day']:,.0f} units of {uci['holdout_units']:,.0f} "
            "(one-off wholesale orders weigh on both models' WAPE alike)",
        ]
    lines += [
        "",
        f"wall time: {wall_total:.0f} s total ({t_data:.0f} s data generation and preparation)",
        "last line: default = model auto on Spark; prophet = per-series groups on Spark; wape_* = synthetic holdout "
        "on the Prophet subset (same series for both)",
        f"series_per_s_default={x:.1f} series_per_s_prophet={y:.3f} ratio={x / y:.1f} "
        f"spark_overhead_pct={overhead:.1f} wape_default={acc['default_subset']['wape']:.4f} "
        f"wape_prophet={acc['prophet_subset']['wape']:.4f}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
