"""Inventory-policy bench: hold-out replay on generated series, achieved service minus target.

    .venv/bin/python bench/policy_bench.py [--items 150] [--regions 4] [--seed 7] [--holdout 182]
        [--replan 7] [--fit-window 364] [--forecast engine|trailing] [--z-min 0] [--data sample|synthetic]

Data: skuplan.sample.generate_sample (trend, weekly and yearly seasonality, promos, festivals, lumpy items;
series launched inside the fit window or dead before the hold-out are left out), or with --data synthetic
(or if skuplan.sample is missing) seeded stationary smooth and lumpy series. The policy (InventoryConfig
defaults, policy=auto) is re-fitted every --replan days from the history revealed so far, as the nightly
job does. Its demand input comes from the real forecast engine refitted at every origin with the promo
plan and the events calendar (--forecast engine; sigma = the engine's forecast-error profile of P-day
sums from its backtest residuals, err_sigma_1d * P^err_sum_exponent in forecast_status, exactly what the
nightly run passes to plan_policy), or from the replay's trailing mean (--forecast trailing). Every series is replayed twice: once with a fill-rate target and once with a CSL target (both
at the item's service level), so each metric is measured on all series. Gaps are means over series of
(achieved - target) in percentage points; the class is the demand class at the first plan. Last line:
    fill_rate_gap_smooth_pp=<x> fill_rate_gap_lumpy_pp=<y> csl_gap_pp=<z>
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from skuplan.inventory.config import InventoryConfig, ReplayConfig  # noqa: E402
from skuplan.inventory.replay import protection_horizon, replay_holdout, rolling_stats  # noqa: E402
from skuplan.inventory.segments import abc_xyz  # noqa: E402
from skuplan.series.batch import SeriesBatch  # noqa: E402

ITEM_COLS = [
    "item_id", "unit_cost", "holding_rate", "order_cost", "lead_time_days", "lead_time_std_days",
    "service_level", "service_type", "moq", "pack_size",
]  # fmt: skip


def sample_data(n_items: int, n_regions: int, seed: int, kind: str):
    """(daily history with promo/price, items, events or None, source): generate_sample, or synthetic
    series when asked for or when skuplan.sample is unavailable."""
    if kind == "synthetic":
        return (*synthetic(n_items * n_regions, seed), None, "synthetic stationary smooth + lumpy")
    try:
        from skuplan.sample import SampleSpec, generate_sample
    except ImportError:
        return (*synthetic(n_items * n_regions, seed), None, "synthetic (skuplan.sample not importable)")
    with tempfile.TemporaryDirectory() as tmp:
        spec = SampleSpec(n_items=n_items, n_regions=n_regions, seed=seed, dirty_rows=False)
        folders = generate_sample(tmp, spec)
        sales = pd.read_parquet(folders["sales"])
        items = pd.read_parquet(folders["items"])
        events = pd.read_parquet(folders["events"])
    sales["date"] = pd.to_datetime(sales["date"])
    sales["units"] = sales["units"].clip(lower=0)
    daily = sales.groupby(["item_id", "region_id", "date"], as_index=False).agg(
        units=("units", "sum"), promo=("promo", "max"), price=("price", "mean")
    )
    # One calendar for every series, from the sample's first day (a series launched later has zero sales
    # before its launch); prices carried over the gaps, as the engine's planned future frame needs them.
    days = pd.date_range(daily["date"].min(), daily["date"].max(), freq="D")
    keys = daily[["item_id", "region_id"]].drop_duplicates()
    grid = keys.merge(pd.DataFrame({"date": days}), how="cross")
    hist = grid.merge(daily, on=["item_id", "region_id", "date"], how="left")
    hist = hist.fillna({"units": 0.0, "promo": 0.0})
    hist["price"] = hist.groupby(["item_id", "region_id"])["price"].ffill()
    hist["price"] = hist.groupby(["item_id", "region_id"])["price"].bfill()
    return hist, items[ITEM_COLS], events, "skuplan.sample.generate_sample"


class EngineStats:
    """plan_policy input from the real forecast engine (skuplan.forecast.engine.forecast_batch), refit at
    every plan origin with the promo/price plan and the events calendar known in advance.

    d = mean forecast over the series' protection interval P. sigma: the nightly path, i.e. the engine's
    forecast_status profile columns (err_sigma_1d, err_sum_exponent: sigma of P-day forecast-error sums of
    the chosen model's backtest) with the quantile-band 1-day sigma as sigma_daily fallback (as
    inventory.spark.forecast_summary); plan_policy evaluates the profile at each row's P. Demand class,
    ABC/XYZ and demand sigma come from replay.rolling_stats.
    """

    def __init__(
        self, hist: pd.DataFrame, events: pd.DataFrame | None, cfg: InventoryConfig, horizon: int = 42,
        folds: int | None = None,
    ):
        from skuplan.forecast.config import BacktestConfig, ForecastConfig
        from skuplan.forecast.engine import forecast_batch

        fcfg = ForecastConfig(horizon_days=horizon)
        if folds is not None:  # more folds: the error profile sees more of the year (festivals, seasons)
            fcfg = fcfg.model_copy(update={"backtest": BacktestConfig(**{**fcfg.backtest.model_dump(), "folds": folds})})
        self.forecast_batch, self.batch_of, self.fcfg = forecast_batch, SeriesBatch.from_long, fcfg
        self.hist = hist.sort_values(["item_id", "region_id", "date"]).reset_index(drop=True)
        self.dates = pd.DatetimeIndex(sorted(self.hist["date"].unique()))
        self.events, self.cfg, self.horizon = events, cfg, horizon
        self.cache: dict[int, tuple[np.ndarray, pd.DataFrame]] = {}

    def forecast(self, col: int, keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Forecast (n, horizon) for calendar columns col .. col + horizon - 1 from data before col, and per
        series the band sigma and the error-profile columns, rows in the order of keys."""
        if col not in self.cache:
            cutoff = self.dates[col - 1]
            h = self.hist
            past = h[h["date"] <= cutoff]
            fut = h[(h["date"] > cutoff) & (h["date"] <= cutoff + pd.Timedelta(days=self.horizon))]
            fut = fut[["item_id", "region_id", "date", "promo", "price"]]
            res = self.forecast_batch(self.batch_of(past, cutoff), self.fcfg, self.events, fut)
            fc = res.forecasts.pivot_table(index=["item_id", "region_id"], columns="date", values="yhat")
            idx = pd.MultiIndex.from_frame(keys[["item_id", "region_id"]])
            self.cache[col] = (fc.reindex(idx).to_numpy(dtype=float), self._sigmas(res).reindex(idx))
        return self.cache[col]

    def _sigmas(self, res) -> pd.DataFrame:
        """forecast_summary's band sigma (pandas twin of the Spark aggregate) + the status profile columns."""
        from scipy.stats import norm

        from skuplan.forecast.base import quantile_column

        lo, hi = min(self.fcfg.quantiles), max(self.fcfg.quantiles)
        f = res.forecasts
        band = (f[quantile_column(hi)] - f[quantile_column(lo)]) / float(norm.ppf(hi) - norm.ppf(lo))
        out = f.assign(sigma_daily=band).groupby(["item_id", "region_id"])[["sigma_daily"]].mean()
        prof = res.status.set_index(["item_id", "region_id"])[["err_sigma_1d", "err_sum_exponent"]]
        return out.join(prof, how="outer")

    def __call__(self, day: int, past: np.ndarray, base: pd.DataFrame) -> pd.DataFrame:
        cfg = self.cfg
        stats = rolling_stats(past, base, cfg)
        col = past.shape[1]
        p = np.minimum(protection_horizon(stats, cfg), self.horizon)
        rows = np.arange(len(stats))
        yhat, sig = self.forecast(col, base)
        stats["mean_daily_demand"] = np.cumsum(np.nan_to_num(yhat), axis=1)[rows, p - 1] / p
        for c in ("sigma_daily", "err_sigma_1d", "err_sum_exponent"):
            stats[c] = sig[c].to_numpy(dtype=float)
        derived = ["annual_value", "cum_share_before", "abc", "xyz", "segment"]
        return abc_xyz(stats.drop(columns=derived), cfg)


def synthetic(n_series: int, seed: int, n_days: int = 730) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stationary smooth (gamma daily demand) and lumpy (rare negative-binomial lumps) series."""
    rng = np.random.default_rng(seed)
    lumpy = np.arange(n_series) % 3 == 0
    mean = rng.lognormal(np.log(20), 0.8, n_series)
    cv = rng.uniform(0.2, 0.6, n_series)
    smooth = rng.gamma(1 / cv[:, None] ** 2, (mean * cv**2)[:, None], (n_series, n_days))
    occurs = rng.random((n_series, n_days)) < rng.uniform(0.05, 0.3, n_series)[:, None]
    size = 1 + rng.negative_binomial(
        0.8, 0.8 / (0.8 + rng.uniform(2, 10, n_series)[:, None]), (n_series, n_days)
    )
    units = np.where(lumpy[:, None], occurs * size, np.round(smooth))
    ids = [f"S{i:05d}" for i in range(n_series)]
    dates = pd.date_range("2024-01-01", periods=n_days, freq="D")
    hist = pd.DataFrame(
        {
            "item_id": np.repeat(ids, n_days),
            "region_id": "R01",
            "date": np.tile(dates, n_series),
            "units": units.ravel(),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ids, "unit_cost": rng.lognormal(np.log(12), 0.8, n_series), "holding_rate": 0.25,
            "order_cost": rng.uniform(25, 250, n_series), "lead_time_days": rng.integers(3, 15, n_series) * 1.0,
            "lead_time_std_days": rng.uniform(0, 2, n_series), "service_type": "csl",
            "service_level": rng.choice([0.9, 0.95, 0.98], n_series), "moq": 1.0,
            "pack_size": rng.choice([1.0, 6.0, 12.0], n_series),
        }
    )  # fmt: skip
    return hist, items


def in_scope(hist: pd.DataFrame, holdout: int, fit: int) -> pd.DataFrame:
    """Drop series a steady-state policy is not meant for: launched inside the fit window (cold start) or
    without a sale in the 60 days before the hold-out (dead or discontinued)."""
    cut = hist["date"].max() - pd.Timedelta(days=holdout)
    sold = hist[hist["units"] > 0].groupby(["item_id", "region_id"])["date"].agg(["min", "max"])
    ok = sold[(sold["min"] <= cut - pd.Timedelta(days=fit)) & (sold["max"] > cut - pd.Timedelta(days=60))]
    return hist.merge(ok.reset_index()[["item_id", "region_id"]], on=["item_id", "region_id"], how="inner")


def gap(metrics: pd.DataFrame, col: str, classes: list[str] | None = None, floor: str | None = None):
    """Mean over series of (achieved - target) in pp and the number of series with a finite value.

    floor: a column of model-expected service; the target then becomes max(target, expected), i.e. what
    the policy commits to when SS = 0 already over-delivers (stricter than the bare target, never looser).
    """
    m = metrics if classes is None else metrics[metrics["demand_class"].isin(classes)]
    target = m["service_level"] if floor is None else np.maximum(m["service_level"], m[floor].fillna(0.0))
    g = 100 * (m[col] - target)
    g = g[np.isfinite(g)]
    return (float(g.mean()) if len(g) else float("nan")), int(len(g))


def gap_by_ss(res, col: str, classes: list[str]) -> str:
    """Gap over series whose first plan needs safety stock (SS > 0: the target binds) and over those whose
    lot alone over-delivers (SS clamped at 0, z_min = 0): the latter over-deliver by design."""
    m = res.metrics.merge(res.plan[["item_id", "region_id", "safety_stock"]], on=["item_id", "region_id"])
    needs = m["safety_stock"] > 0
    a, n_a = gap(m[needs], col, classes)
    b, n_b = gap(m[~needs], col, classes)
    return f"SS > 0 {a:+.2f} (n={n_a}), SS clamped at 0 {b:+.2f} (n={n_b})"


def breakdown(res, col: str, expected: str) -> pd.DataFrame:
    """Per class x policy: gap to target over all series, over series whose target needs safety stock
    (SS > 0 in the first plan; with SS = 0 the lot alone over-delivers, by design), and to the model."""
    m = res.metrics.merge(res.plan[["item_id", "region_id", "safety_stock"]], on=["item_id", "region_id"])
    m = m.assign(
        gap=100 * (m[col] - m["service_level"]),
        gap_needs_ss=np.where(m["safety_stock"] > 0, 100 * (m[col] - m["service_level"]), np.nan),
        gap_to_model=100 * (m[col] - m[expected]),
    )
    g = m.groupby(["demand_class", "policy"])
    return g.agg(
        n=("gap", "count"), gap_pp=("gap", "mean"), n_needs_ss=("gap_needs_ss", "count"),
        gap_needs_ss_pp=("gap_needs_ss", "mean"), gap_to_model_pp=("gap_to_model", "mean"),
    ).round(2)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--holdout", type=int, default=182)
    ap.add_argument("--replan", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--fit-window", type=int, default=364,
        help="days of history (and of forecast errors) behind each plan; a year covers every festival once",
    )  # fmt: skip
    ap.add_argument("--policy", default="auto", choices=["auto", "sQ", "RS", "sS"])
    ap.add_argument("--data", default="sample", choices=["sample", "synthetic"])
    ap.add_argument("--z-min", type=float, default=0.0, help="InventoryConfig.z_min (0 = clamp SS at 0)")
    ap.add_argument(
        "--forecast", default="engine", choices=["engine", "trailing"],
        help="engine: skuplan.forecast.engine refit at every plan origin; trailing: the replay's trailing mean",
    )  # fmt: skip
    ap.add_argument(
        "--backtest-folds", type=int, default=None,
        help="forecast backtest folds (default: ForecastConfig's); they set how much history the error profile sees",
    )  # fmt: skip
    args = ap.parse_args()
    t0 = time.perf_counter()
    hist, items, events, source = sample_data(args.items, args.regions, args.seed, args.data)
    replay = ReplayConfig(
        holdout_days=args.holdout, replan_every_days=args.replan, fit_window_days=args.fit_window
    )
    cfg = InventoryConfig(policy=args.policy, replay=replay, z_min=args.z_min)
    n_all = hist.groupby(["item_id", "region_id"]).ngroups
    hist = in_scope(hist, args.holdout, cfg.replay.fit_window_days)
    print(f"data: {source}; {hist.groupby(['item_id', 'region_id']).ngroups} of {n_all} series in scope")
    stats_at = EngineStats(hist, events, cfg, folds=args.backtest_folds) if args.forecast == "engine" and "promo" in hist else None
    print(
        f"forecast: {'skuplan.forecast engine, refit per origin' if stats_at else 'trailing mean (replay default)'}"
    )
    if stats_at:
        b = stats_at.fcfg.backtest
        print(f"forecast backtest: {b.folds} folds x {b.horizon_days}d, step {b.step_days}d (error profile window)")
    print(
        f"policy={args.policy} holdout={args.holdout}d replan every {args.replan}d"
        f" fit window {args.fit_window}d shortage={cfg.shortage_mode} z_min={cfg.z_min}"
    )
    results = {}
    daily = hist[["item_id", "region_id", "date", "units"]]
    batch = SeriesBatch.from_long(daily, daily["date"].max())
    for target, col, expected in (
        ("fill_rate", "fill_rate", "expected_fill_rate"),
        ("csl", "csl", "expected_csl"),
    ):
        res = replay_holdout(batch, items.assign(service_type=target), cfg, stats_at)
        results[target] = res
        print(f"\n== every series with a {target} target (item service level); pooled by demand class")
        print(res.by_class[["demand_class", "n_series", "fill_rate", "csl", "ready_rate", "total_cost"]].round(4)
              .to_string(index=False))  # fmt: skip
        print(f"-- {col} gaps in pp by class x policy")
        print(breakdown(res, col, expected).to_string())
    fr, csl = results["fill_rate"].metrics, results["csl"].metrics
    smooth, n_s = gap(fr, "fill_rate", ["smooth"])
    lumpy, n_l = gap(fr, "fill_rate", ["lumpy"])
    csl_all, n_c = gap(csl, "csl")
    others = ", ".join(f"{c} {gap(fr, 'fill_rate', [c])[0]:+.2f}" for c in ("erratic", "intermittent"))
    print(
        f"\nfill-rate gap pp vs target: smooth {smooth:+.2f} (n={n_s}), lumpy {lumpy:+.2f} (n={n_l}), {others}"
    )
    committed = ", ".join(
        f"{c} {gap(fr, 'fill_rate', [c], 'expected_fill_rate')[0]:+.2f}"
        for c in ("smooth", "lumpy", "erratic", "intermittent")
    )
    print(f"fill-rate gap pp vs max(target, model-expected at SS=0): {committed}")
    print(f"smooth fill-rate gap pp split (the headline is all series): {gap_by_ss(results['fill_rate'], 'fill_rate', ['smooth'])}")
    per_class = ", ".join(
        f"{c} {gap(csl, 'csl', [c])[0]:+.2f}" for c in ("smooth", "erratic", "intermittent", "lumpy")
    )
    print(f"csl gap pp vs target: all {csl_all:+.2f} (n={n_c}); {per_class}")
    print(f"seconds: {time.perf_counter() - t0:.1f}")
    print(f"fill_rate_gap_smooth_pp={smooth:.2f} fill_rate_gap_lumpy_pp={lumpy:.2f} csl_gap_pp={csl_all:.2f}")


if __name__ == "__main__":
    main()
