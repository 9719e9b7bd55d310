"""forecast_batch: a SeriesBatch in, forecasts + status + backtest metrics out. Pure pandas/numpy, no Spark.

Flow: panel (the batch's blocks + the horizon's regressors) -> screen poison / cold-start series -> classify
demand -> for each candidate model: fit and forecast from every backtest fold's cut-off and from the cutoff,
all its series at once -> the "combo" candidate (inverse-error weighted mean of a series' best models,
scoring.combine) -> per-series selection by backtest error -> quantiles (native, else conformal from backtest
residuals) -> three frames in canonical order.
One series can never fail the batch: model errors become a fallback forecast and a status row with the message.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
import pandas as pd

from skuplan.forecast import fallback as fb
from skuplan.forecast import frames
from skuplan.forecast.base import quantile_column
from skuplan.forecast.classify import demand_class
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.error_profile import error_profile
from skuplan.forecast.frames import output_columns
from skuplan.forecast.models import REGISTRY, build
from skuplan.forecast.panel import build_panel
from skuplan.forecast.quantiles import finalize
from skuplan.forecast.scoring import COMBO, Ctx, combine, context, fallback_quantiles, score, select
from skuplan.series.batch import SeriesBatch

__all__ = ["ForecastResult", "forecast_batch", "output_columns", "quantile_column"]


class ForecastResult(NamedTuple):
    # item_id, region_id, date, yhat, one column per quantile (quantile_column(q)), model
    forecasts: pd.DataFrame
    # item_id, region_id, model, status ('ok' | 'fallback' | 'failed'), message, n_obs, demand_class,
    # err_sigma_1d, err_sum_exponent (forecast-error profile, see error_profile)
    status: pd.DataFrame
    # item_id, region_id, model, fold, wape, mase, rmsse, bias, pinball, coverage, selected
    metrics: pd.DataFrame


def forecast_batch(
    batch: SeriesBatch,
    cfg: ForecastConfig,
    events: pd.DataFrame | None = None,
    future: pd.DataFrame | None = None,
) -> ForecastResult:
    """Forecast every series of `batch` for the horizon_days after its cutoff day.

    events: date, event_name, [region_id], [uplift_hint]; future: item_id, region_id, date, [promo], [price]
    planned for the horizon. A malformed frame raises where it is built (SeriesBatch.from_long).
    """
    levels = np.asarray(cfg.quantiles, dtype=float)
    H, S = cfg.horizon_days, cfg.backtest_horizon
    with _blas_threads(cfg.blas_threads):
        panel = build_panel(batch, H, future, events)
        scr = fb.screen(panel, cfg)  # from here on, bad and stocked-out days are NaN in panel.y
        dclass = np.where(scr.kind == "ok", demand_class(panel.y), "unknown").astype(object)
        ctx = context(panel, cfg, levels, dclass)
        names, member, cand = _candidates(cfg, scr.kind, dclass)
        runs = {}  # model name -> its forecasts, backtest residuals and quantiles (scoring.Run)
        for name, cols in zip(names, map(np.flatnonzero, member), strict=True):  # cols: its candidate series
            model = build(name, cfg)  # base.BatchModel: fit_predict fits + forecasts a view's series
            if REGISTRY[name].cold_start(cfg):  # a global model may forecast the cold starts too (issue 16)
                cols = np.union1d(cols, np.flatnonzero(scr.kind == "cold"))
            final = model.fit_predict(panel.view(panel.n_hist, H, cols), levels)
            folds = None  # fold -> (its series, their forecast); None: not backtested (a slow model)
            if cfg.backtest_slow_models or not REGISTRY[name].slow:
                folds = {}
                for k, end in enumerate(ctx.ends):  # rolling origins, oldest first; no day >= end in the view
                    sel = cols[ctx.eligible[k, cols]]
                    if len(sel):
                        folds[k] = (sel, model.fit_predict(panel.view(end, S, sel), levels))
            runs[name] = score(ctx, name, cols, final, folds, model.native_quantiles)
        combo = combine(ctx, names, runs, member)  # the weighted combination competes as one more candidate
        if combo is not None:
            runs[COMBO] = combo[0]
            names, member = [*names, COMBO], np.vstack([member, combo[1]])
        choice, messages = select(names, runs, member, cand, panel.n_series, ctx)
        return _assemble(ctx, scr, names, member, runs, choice, messages)


@contextlib.contextmanager
def _blas_threads(n: int | None):
    """Cap BLAS threads: Spark already runs one Python worker per core, and a multi-threaded BLAS in each
    oversubscribes the cores (docs/decisions.md, 2026-11-30 "One BLAS thread per forecast worker").
    threadpoolctl ships with statsforecast; without it the cap is skipped."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    if n is None:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _candidates(cfg: ForecastConfig, kind: np.ndarray, dclass: np.ndarray):
    """Models to run, in registry order (so the loop and the output are canonical), which series each one
    runs on (models, N), and each screened-in series' candidate list in order of preference."""
    cand = {i: cfg.candidates_for(dclass[i]) for i in np.flatnonzero(kind == "ok")}
    names = [m for m in REGISTRY if any(m in c for c in cand.values())]
    member = np.zeros((len(names), len(kind)), dtype=bool)
    for i, c in cand.items():
        member[[names.index(m) for m in c], i] = True
    return names, member, cand


def _assemble(ctx: Ctx, scr: fb.Screen, names, member, runs, choice, messages) -> ForecastResult:
    """The chosen models' forecasts, the fallbacks (series no model could forecast, poison and cold-start
    series, zero ones), their quantiles, and the three frames."""
    panel, cfg, levels = ctx.panel, ctx.cfg, ctx.levels
    H, B, N, S = cfg.horizon_days, cfg.backtest, panel.n_series, cfg.backtest_horizon
    yhat = np.zeros((H, N))
    q = np.zeros((H, N, len(levels)))
    model = np.full(N, "", dtype=object)
    status = np.where(np.isin(scr.kind, ["nodata", "bad"]), "failed", "fallback").astype(object)
    message = scr.message.copy()
    R_sel = np.full((B.folds, S, N), np.nan)
    for k, m in enumerate(names):
        idx = np.flatnonzero(choice == k)
        if len(idx) == 0:
            continue
        run = runs[m]
        yhat[:, idx] = run.yhat[:, idx]
        R_sel[..., idx] = run.R[..., idx]
        q[:, idx] = run.q[:, idx]
        model[idx], status[idx], message[idx] = m, "ok", messages[idx]

    ok = scr.kind == "ok"
    failed = ok & (choice < 0)
    status[failed], message[failed] = "failed", messages[failed]
    naive = np.flatnonzero(failed | (scr.kind == "bad"))
    yhat[:, naive], model[naive] = fb.naive_fallback(panel, naive, H, cfg.season_length), "seasonal_naive"
    cold = np.flatnonzero(scr.kind == "cold")
    yhat[:, cold], model[cold] = fb.cold_start(panel, cold, np.flatnonzero(choice >= 0), H), "mean"
    global_models = [m for m in names if m in REGISTRY and REGISTRY[m].cold_start(cfg)]
    for m in global_models:  # a global model's forecast where it gave one
        got = runs[m].yhat[:, cold]
        use = np.isfinite(got).all(0) & (model[cold] == "mean")
        yhat[:, cold[use]], model[cold[use]] = got[:, use], m
    zero = np.isin(scr.kind, ["zero", "nodata"])
    model[zero] = "zero"
    fall = np.concatenate([naive, cold])
    if len(fall):
        # Cold starts have too little history for a scale of their own: the batch's typical scale/level
        # ratio times their forecast level.
        sel = choice >= 0
        ratio = float(np.median(ctx.scale[sel] / np.maximum(ctx.level[sel], 1e-9))) if sel.any() else 1.0
        fall_scale = ctx.scale[fall].copy()
        fall_scale[len(naive) :] = np.maximum(ratio * yhat[:, cold].mean(0), 1e-3)
        qf = fallback_quantiles(yhat[:, fall], R_sel, ctx.scale, fall_scale, levels, H)
        q[:, fall] = np.where(ctx.p0[fall][None, :, None] >= levels, 0.0, qf)
    yhat, q = finalize(yhat, q)
    yhat[:, zero], q[:, zero] = 0.0, 0.0

    metrics = frames.metrics_frame(ctx, names, runs, member, choice)
    # sigma of forecast-error sums over h days, for the inventory's protection interval (see error_profile).
    profile = error_profile(np.where(status == "ok", R_sel, np.nan), ctx.scale, ctx.dclass)
    return ForecastResult(
        frames.forecasts_frame(panel, cfg, yhat, q, model),
        frames.status_frame(panel, cfg, model, status, message, scr, ctx.dclass, profile),
        metrics,
    )
