"""forecast_batch: many series in, forecasts + status + backtest metrics out. Pure pandas/numpy, no Spark.

Flow: validate -> pivot (panel) -> screen poison / cold-start series -> classify demand -> for each candidate
model: rolling-origin backtest + final fit over all its series at once -> per-series selection by backtest
error -> quantiles (native, else conformal from backtest residuals) -> three frames in canonical order.
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
from skuplan.forecast.models import REGISTRY
from skuplan.forecast.panel import build_panel, validate_history
from skuplan.forecast.quantiles import finalize
from skuplan.forecast.runner import context, fallback_quantiles, run_model, select

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
    history: pd.DataFrame,
    cfg: ForecastConfig,
    cutoff: pd.Timestamp,
    events: pd.DataFrame | None = None,
    future: pd.DataFrame | None = None,
) -> ForecastResult:
    """Forecast every (item_id, region_id) series of `history` for cutoff+1 .. cutoff+horizon_days.

    Raises ValueError only for a malformed frame (missing column, wrong dtype, duplicate rows).
    """
    validate_history(history)
    with _blas_threads(cfg.blas_threads):
        return _forecast(history, cfg, pd.Timestamp(cutoff).normalize(), events, future)


@contextlib.contextmanager
def _blas_threads(n: int | None):
    """Cap BLAS threads: Spark already runs one Python worker per core, and a multi-threaded BLAS in each
    oversubscribes the cores (measured 5x slower on a loaded 2-core machine). threadpoolctl ships with
    statsforecast; without it the cap is skipped."""
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


def _forecast(history, cfg, cutoff, events, future) -> ForecastResult:
    levels = np.asarray(cfg.quantiles, dtype=float)
    H, B = cfg.horizon_days, cfg.backtest
    panel = build_panel(history, cutoff, H, future, events)
    N = panel.n_series
    scr = fb.screen(panel, cfg)
    ok = scr.kind == "ok"
    est = np.flatnonzero(ok)
    dclass = np.where(ok, demand_class(panel.y), "unknown").astype(object)

    # Candidates per series; models in registry order so the loop (and the output) is canonical.
    cand = {i: cfg.candidates_for(dclass[i]) for i in est}
    names = [m for m in REGISTRY if any(m in c for c in cand.values())]
    member = np.zeros((len(names), N), dtype=bool)
    for i, c in cand.items():
        member[[names.index(m) for m in c], i] = True

    ctx = context(panel, cfg, levels, dclass)
    runs = {m: run_model(ctx, m, np.flatnonzero(member[k])) for k, m in enumerate(names)}
    choice, messages = select(names, runs, member, cand, N, ctx)
    scale, level = ctx.scale, ctx.level

    # Assemble the forecasts of established series from their chosen model.
    yhat = np.zeros((H, N))
    q = np.zeros((H, N, len(levels)))
    model = np.full(N, "", dtype=object)
    status = np.where(np.isin(scr.kind, ["nodata", "bad"]), "failed", "fallback").astype(object)
    message = scr.message.copy()
    R_sel = np.full((B.folds, B.horizon_days, N), np.nan)
    for k, m in enumerate(names):
        idx = np.flatnonzero(choice == k)
        if len(idx) == 0:
            continue
        run = runs[m]
        yhat[:, idx] = run.yhat[:, idx]
        R_sel[..., idx] = run.R[..., idx]
        q[:, idx] = run.q[:, idx]
        model[idx], status[idx], message[idx] = m, "ok", messages[idx]

    # Fallbacks: series no model could forecast, poison and cold-start series.
    failed = ok & (choice < 0)
    status[failed], message[failed] = "failed", messages[failed]
    naive = np.flatnonzero(failed | (scr.kind == "bad"))
    yhat[:, naive], model[naive] = fb.naive_fallback(panel, naive, H, cfg.season_length), "seasonal_naive"
    cold = np.flatnonzero(scr.kind == "cold")
    yhat[:, cold], model[cold] = fb.cold_start(panel, cold, np.flatnonzero(choice >= 0), H), "mean"
    zero = np.isin(scr.kind, ["zero", "nodata"])
    model[zero] = "zero"
    fall = np.concatenate([naive, cold])
    if len(fall):
        # Cold starts have too little history for a scale of their own: the batch's typical scale/level
        # ratio times their forecast level.
        sel = choice >= 0
        ratio = float(np.median(scale[sel] / np.maximum(level[sel], 1e-9))) if sel.any() else 1.0
        fall_scale = scale[fall].copy()
        fall_scale[len(naive) :] = np.maximum(ratio * yhat[:, cold].mean(0), 1e-3)
        qf = fallback_quantiles(yhat[:, fall], R_sel, scale, fall_scale, levels, H)
        q[:, fall] = np.where(ctx.p0[fall][None, :, None] >= levels, 0.0, qf)
    yhat, q = finalize(yhat, q)
    yhat[:, zero], q[:, zero] = 0.0, 0.0

    metrics = frames.metrics_frame(ctx, names, runs, member, choice)
    # sigma of forecast-error sums over h days, for the inventory's protection interval (see error_profile).
    profile = error_profile(np.where(status == "ok", R_sel, np.nan), scale, dclass)
    return ForecastResult(
        frames.forecasts_frame(panel, cfg, yhat, q, model),
        frames.status_frame(panel, cfg, model, status, message, scr, dclass, profile),
        metrics,
    )
