"""Score each candidate model's fits on the backtest folds, and pick one model per series.

`context` holds what every model is scored against (the folds' actuals, residual scales, zero shares);
`score` turns one model's final forecast and fold forecasts (fitted by the engine) into a `Run`: residuals,
backtest errors and quantiles, native or else tail-calibrated conformal ones from its residuals (see
quantiles.TailCalibration). `select`: "class_shrunk" = the demand class's best model unless the series' own
best beats it clearly (backtest.select_shrunk); "per_series" = lowest total backtest absolute error, ties to
the simpler model (backtest.select).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skuplan.forecast import backtest as bt
from skuplan.forecast.base import Forecast, quantile_column
from skuplan.forecast.baselines import _nanmean0
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.quantiles import TailCalibration, conformal_offsets, poisson_quantiles, zero_fraction


class Ctx(NamedTuple):
    panel: object
    cfg: ForecastConfig
    levels: np.ndarray
    dclass: np.ndarray  # (N,) demand class: groups for the tail calibration
    A: np.ndarray  # (folds, steps, N) backtest actuals
    scale: np.ndarray  # (N,) residual scale for conformal pooling
    level: np.ndarray  # (N,) mean demand
    p0: np.ndarray  # (N,) recent zero share before the cutoff
    p0_folds: np.ndarray  # (folds, N) recent zero share before each fold's cut-off
    ends: list[int]  # each fold's cut-off (first scored day)
    eligible: np.ndarray  # (folds, N) the series has min_history_days before the fold's cut-off


def context(panel, cfg, levels, dclass) -> Ctx:
    B, S = cfg.backtest, cfg.backtest_horizon
    A = bt.actuals(panel, B.folds, S, cfg.backtest_step)
    mae_all, _ = bt.naive_scale(panel.y, cfg.season_length)
    level = _nanmean0(panel.y)
    # Residual scale for conformal pooling: the MASE denominator, floored for flat series.
    scale = np.maximum(np.nan_to_num(mae_all, nan=0.0), np.maximum(0.1 * level, 1e-3))
    ends = bt.fold_ends(panel.n_hist, B.folds, S, cfg.backtest_step)
    p0_folds = np.stack([zero_fraction(panel.y[: max(e, 0)]) for e in ends])
    e = np.array(ends)[:, None]
    eligible = (e > 0) & ((e - panel.start[None, :]) >= cfg.min_history_days)
    return Ctx(panel, cfg, levels, dclass, A, scale, level, zero_fraction(panel.y), p0_folds, ends, eligible)


class Run(NamedTuple):
    yhat: np.ndarray  # (H, N) final forecast, NaN where not run or failed
    q: np.ndarray  # (H, N, nq) quantiles: native, else calibrated conformal
    R: np.ndarray  # (folds, steps, N) backtest residuals actual - forecast (NaN = not scored / final failed)
    fold_yhat: np.ndarray  # (folds, steps, N)
    fold_q: np.ndarray | None  # (folds, steps, N, nq); conformal ones from the other folds (leave-one-out)
    score: np.ndarray  # (N,) total backtest absolute error; NaN = no fold; inf = failed in a fold
    errors: dict[int, str]
    fold_err: np.ndarray  # (folds, N) backtest absolute error per fold; NaN = not scored; inf = failed


def _spread(fc: Forecast, cols, shape, levels, native) -> tuple[np.ndarray, np.ndarray | None]:
    """A model's forecasts of the series `cols` into full-width arrays: yhat (h, N), native quantiles (h, N, nq)
    (the point forecast where a model gives no quantile), None for a model without native ones."""
    yhat = np.full(shape, np.nan)
    yhat[:, cols] = fc.values["yhat"]
    if not native:
        return yhat, None
    q = np.full((*shape, len(levels)), np.nan)
    for j, lv in enumerate(levels):
        q[:, cols, j] = fc.values.get(quantile_column(lv), fc.values["yhat"])
    return yhat, q


def score(ctx: Ctx, m: str, cols, final: Forecast, folds: dict | None, native: bool) -> Run:
    """Run of model `m` on the series `cols`: `final` is its forecast from the cutoff, `folds` maps a fold to
    (its series, their forecast), None when the model was not backtested."""
    panel, cfg, levels, A = ctx.panel, ctx.cfg, ctx.levels, ctx.A
    N, H, B, S = panel.n_series, cfg.horizon_days, cfg.backtest, cfg.backtest_horizon
    yhat, q = _spread(final, cols, (H, N), levels, native)
    q = np.full((H, N, len(levels)), np.nan) if q is None else q
    errors = {int(i): f"{m}: {e}" for i, e in zip(cols, final.errors, strict=True) if e}
    if folds is None:
        nan = np.full((B.folds, S, N), np.nan)
        return Run(yhat, q, nan, nan, None, np.full(N, np.nan), errors, nan[:, 0])
    fold_yhat = np.full((B.folds, S, N), np.nan)
    fold_q = np.full((B.folds, S, N, len(levels)), np.nan) if native else None
    fold_errors: dict[int, str] = {}  # the last fold's message wins; the final fit's wins over all
    for k, (sel, fc) in folds.items():
        fold_yhat[k], qk = _spread(fc, sel, (S, N), levels, native)
        if native:
            fold_q[k] = qk
        fold_errors.update({int(i): e for i, e in zip(sel, fc.errors, strict=True) if e})
    errors.update({i: f"{m} (backtest): {e}" for i, e in fold_errors.items() if i not in errors})
    R = A - fold_yhat
    in_cols = np.zeros(N, dtype=bool)
    in_cols[cols] = True
    elig = ctx.eligible & in_cols[None, :]  # (folds, N): the series took part in the fold
    scored = elig & np.isfinite(A).any(1)
    failed_k = elig & ~np.isfinite(fold_yhat).all(1)  # (folds, N)
    failed = failed_k.any(0)
    fold_err = bt.fold_errors(R, scored, failed_k)
    total = np.nansum(np.where(scored[:, None, :], np.abs(R), np.nan), axis=(0, 1))
    run_score = np.where(failed, np.inf, np.where(scored.any(0), total, np.nan))
    # Residuals feed the batch's conformal pools: a series whose final fit failed must not sway its neighbours.
    R = np.where(np.isfinite(yhat).all(0)[None, None, :], R, np.nan)
    if not native:
        q, fold_q = _conformal(ctx, yhat, R, fold_yhat)
    return Run(yhat, q, R, fold_yhat, fold_q, run_score, errors, fold_err)


COMBO = "combo"


def combine(ctx: Ctx, names, runs, member):
    """The "combo" candidate: per series, the mean of its `combine_top` best backtested candidates weighted by
    1 / backtest absolute error. Fold k's combination takes its weights from the other folds only, so its
    backtest score is honest. Returns (Run, member row (N,)) or None when no series has two scored models."""
    top = ctx.cfg.combine_top
    scored = [m for m in names if np.isfinite(runs[m].score).any()]
    if top < 2 or len(scored) < 2:
        return None
    Y = np.stack([runs[m].yhat for m in scored])  # (M, H, N)
    FY = np.stack([runs[m].fold_yhat for m in scored])  # (M, folds, S, N)
    ok = np.stack([member[names.index(m)] & np.isfinite(runs[m].yhat).all(0) for m in scored])
    E = np.stack([runs[m].fold_err for m in scored])  # (M, folds, N); NaN not scored, inf failed

    def weights(err):  # err (M, N) total error -> (M, N) weights of the top models, 0 elsewhere
        e = np.where(ok & np.isfinite(err), err, np.inf)
        rank = np.argsort(np.argsort(e, axis=0, kind="stable"), axis=0, kind="stable")
        w = np.where((rank < top) & np.isfinite(e), 1.0 / np.maximum(e, 1e-9), 0.0)
        return w / np.maximum(w.sum(0), 1e-300)

    def total(Ek):
        return np.where(np.isnan(Ek).all(1), np.nan, np.nansum(Ek, axis=1))

    w_all = weights(total(E))
    cols = np.flatnonzero((w_all > 0).sum(0) >= 2)
    if len(cols) == 0:
        return None
    final = Forecast(
        {"yhat": np.einsum("mhn,mn->hn", np.nan_to_num(Y[..., cols]), w_all[:, cols])}, [None] * len(cols)
    )
    folds = {}
    for k in range(FY.shape[1]):
        sel = cols[ctx.eligible[k, cols]]
        if len(sel) == 0:
            continue
        wk = weights(total(np.delete(E, k, axis=1)) if E.shape[1] > 1 else total(E))[:, sel]
        fk = np.einsum("mhn,mn->hn", np.nan_to_num(FY[:, k][..., sel]), wk)
        folds[k] = (sel, Forecast({"yhat": np.where(wk.sum(0) > 0, fk, np.nan)}, [None] * len(sel)))
    row = np.zeros(ctx.panel.n_series, dtype=bool)
    row[cols] = True
    return score(ctx, COMBO, cols, final, folds, native=False), row


def _conformal(ctx: Ctx, yhat, R, fold_yhat) -> tuple[np.ndarray, np.ndarray]:
    """Tail-calibrated conformal quantiles of the final forecast and (leave-one-fold-out) of each fold's."""
    B, S = ctx.cfg.backtest, ctx.cfg.backtest_horizon
    cal = TailCalibration(ctx.levels, ctx.cfg.conformal_min_residuals)
    cal.fit(R, fold_yhat, ctx.A, ctx.scale, ctx.dclass, ctx.p0_folds)
    q = cal.quantiles(yhat, cal.offsets(R, ctx.scale, ctx.cfg.horizon_days), ctx.p0)
    fold_q = np.stack(
        [
            cal.quantiles(fold_yhat[k], cal.offsets(R, ctx.scale, S, k), ctx.p0_folds[k])
            for k in range(B.folds)
        ]
    )
    return q, fold_q


def select(names, runs, member, cand, N, ctx: Ctx | None = None):
    """Chosen model index per series (-1 = none succeeded) and a message listing candidate failures.

    With ctx and ctx.cfg.selection == "class_shrunk", series are shrunk to their demand class's winner
    (backtest.select_shrunk); without ctx, plain per-series selection."""
    choice = np.full(N, -1)
    messages = np.full(N, "", dtype=object)
    if not names:
        return choice, messages
    score = np.stack([runs[m].score for m in names])  # (M, N)
    final_ok = np.stack([np.isfinite(runs[m].yhat).all(0) for m in names]) & member
    score = np.where(final_ok, score, np.nan)
    if ctx is not None and ctx.cfg.selection == "class_shrunk":
        fold_err = np.where(final_ok[:, None, :], np.stack([runs[m].fold_err for m in names]), np.nan)
        best = bt.select_shrunk(fold_err, ctx.dclass, names, ctx.cfg.selection_margin)
    else:
        best = bt.select(np.where(np.isfinite(score), score, np.nan), names)
    choice[:] = best
    for i in np.flatnonzero((best < 0) & member.any(0)):  # no backtest score: first candidate that ran
        for m in cand[i]:
            if final_ok[names.index(m), i]:
                choice[i] = names.index(m)
                break
    for m in names:
        for i, e in runs[m].errors.items():
            messages[i] = f"{messages[i]}; {e}" if messages[i] else e
    return choice, messages


# Fallback forecasts (cold starts, poison series) are less certain than the backtested models whose scaled
# residuals they borrow: widen their intervals (docs/decisions.md, 2026-11-30 "Wider fallback intervals").
FALLBACK_WIDEN = 1.25


def fallback_quantiles(yhat, R_sel, scale, fall_scale, levels, H):
    """Pooled conformal offsets (the batch's residuals of the chosen models, normalized by their series'
    scale) times each fallback series' scale, widened by FALLBACK_WIDEN; Poisson quantiles when the batch has
    no residuals at all."""
    if not np.isfinite(R_sel).any():
        return poisson_quantiles(yhat, levels)
    n = yhat.shape[1]
    R = np.concatenate([R_sel, np.full(R_sel.shape[:2] + (n,), np.nan)], axis=2)
    off = conformal_offsets(R, np.concatenate([scale, fall_scale]), levels, H, np.inf)[:, -n:]
    return yhat[..., None] + FALLBACK_WIDEN * off
