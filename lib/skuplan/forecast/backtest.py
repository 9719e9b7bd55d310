"""Rolling-origin backtests: fold cut-offs, actuals, accuracy metrics and per-series model selection.

Fold k (0 = oldest) trains on history days [0, end_k) and is scored on [end_k, end_k + horizon), with
end_k = T - horizon - step * (folds - 1 - k): the last fold ends on the cutoff. No leakage by construction:
the engine fits the model on `panel.view(end_k, ...)`, a slice that holds no day >= end_k (promo/price/events
for the scored days are passed as known-in-advance regressors, as they are for the real forecast).
A series takes part in a fold only when it has >= min_history_days days before end_k.

Selection ("class_shrunk", the default): 3 folds x 28 days are a noisy score for one series, so each series
takes the model that did best over its whole demand class (pooled errors: many series, little noise) unless
its own best model beats that winner clearly: by `margin` in total AND in every fold both were scored
(docs/decisions.md, 2026-11-30 "Model selection shrunk to the demand class").
"""

from __future__ import annotations

import numpy as np

from skuplan.forecast.models import REGISTRY
from skuplan.forecast.panel import Panel


def fold_ends(n_hist: int, folds: int, horizon: int, step: int) -> list[int]:
    return [n_hist - horizon - step * (folds - 1 - k) for k in range(folds)]


def actuals(panel: Panel, folds: int, horizon: int, step: int) -> np.ndarray:
    """(folds, steps, N) actual units of each fold's scored days; NaN if censored, missing or before start."""
    out = np.full((folds, horizon, panel.n_series), np.nan)
    for k, end in enumerate(fold_ends(panel.n_hist, folds, horizon, step)):
        if end >= 0:
            out[k] = panel.y[end : end + horizon]
    return out


def naive_scale(y: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """In-sample seasonal-naive MAE and MSE per column of y (t, n): the MASE and RMSSE denominators."""
    if len(y) <= season:
        nan = np.full(y.shape[1], np.nan)
        return nan, nan
    d = y[season:] - y[:-season]
    ok = np.isfinite(d)
    cnt = np.maximum(ok.sum(0), 1)
    mae = np.where(ok, np.abs(d), 0.0).sum(0) / cnt
    mse = np.where(ok, d * d, 0.0).sum(0) / cnt
    bad = ok.sum(0) == 0
    return np.where(bad, np.nan, mae), np.where(bad, np.nan, mse)


def fold_metrics(a, f, q, levels, mae_scale, mse_scale) -> dict[str, np.ndarray]:
    """Metrics per series from actuals a (steps, n), forecasts f (steps, n), quantiles q (steps, n, nq)."""
    valid = np.isfinite(a) & np.isfinite(f)
    cnt = valid.sum(0)
    e = np.where(valid, f - a, 0.0)
    sa = np.where(valid, a, 0.0).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wape = np.where(sa > 0, np.abs(e).sum(0) / sa, np.nan)
        bias = np.where(sa > 0, e.sum(0) / sa, np.nan)
        mase = np.where(mae_scale > 0, np.abs(e).sum(0) / np.maximum(cnt, 1) / mae_scale, np.nan)
        rmsse = np.where(mse_scale > 0, np.sqrt((e * e).sum(0) / np.maximum(cnt, 1) / mse_scale), np.nan)
        lv = np.asarray(levels)[None, None, :]
        diff = a[..., None] - q
        loss = np.where(valid[..., None], np.maximum(lv * diff, (lv - 1) * diff), 0.0)
        pinball = loss.sum((0, 2)) / np.maximum(cnt, 1) / len(levels)
        inside = (a >= q[..., 0] - 1e-9) & (a <= q[..., -1] + 1e-9)
        coverage = np.where(valid, inside, False).sum(0) / np.maximum(cnt, 1)
        if len(levels) < 2:
            coverage = np.full_like(coverage, np.nan, dtype=float)
    return {
        "wape": wape,
        "mase": mase,
        "rmsse": rmsse,
        "bias": bias,
        "pinball": pinball,
        "coverage": coverage,
        "abs_error": np.abs(e).sum(0),
        "n": cnt,
    }


def select(abs_error: np.ndarray, names: list[str]) -> np.ndarray:
    """Index of the best model per series by total backtest absolute error (== WAPE: same actuals for all
    candidates of a series); ties within 1e-9 relative go to the simpler model. abs_error: (models, n), NaN =
    not scored. Series with no scores get -1."""
    # Models outside the registry (the "combo" built from the others) rank after every registry model.
    cx = np.array([REGISTRY[m].complexity if m in REGISTRY else len(REGISTRY) for m in names], dtype=float)
    err = np.where(np.isfinite(abs_error), abs_error, np.inf)
    best = err.min(0)
    tied = err <= best * (1 + 1e-9) + 1e-12
    choice = np.argmin(np.where(tied, cx[:, None], np.inf), axis=0)
    return np.where(np.isfinite(best), choice, -1)


def fold_errors(R: np.ndarray, scored: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """(folds, n) total absolute error per fold from residuals R (folds, steps, n): NaN where the series was not
    scored in the fold, inf where the model failed in it."""
    err = np.nansum(np.abs(R), axis=1)
    return np.where(failed, np.inf, np.where(scored, err, np.nan))


def select_shrunk(fold_err: np.ndarray, groups: np.ndarray, names: list[str], margin: float) -> np.ndarray:
    """Model index per series: the best model of its group unless its own best is clearly better.

    fold_err: (models, folds, n) absolute error per fold, NaN = not scored (not a candidate, fold not taken part
    in), inf = failed. Group winner: least total error summed over the group's series that every candidate of
    the group scored (a fair comparison); ties to the simpler model. A series keeps its own best (`select`)
    only when that beats the winner's total by more than `margin` (relative) and is no worse in any fold both
    scored; a series the winner could not score keeps its own best too. Series with no scores get -1.
    """
    total = np.where((~np.isnan(fold_err)).any(1), np.nansum(fold_err, 1), np.nan)  # inf if failed in a fold
    choice = select(total, names)
    cols_all = np.arange(total.shape[1])
    for g in np.unique(groups):
        cols = cols_all[(groups == g) & (choice >= 0)]
        cand = (~np.isnan(total[:, cols])).any(1)  # the group's candidates: scored (or failed) somewhere
        full = np.isfinite(total[np.ix_(cand, cols)]).all(0)
        if not full.any():
            continue
        pooled = np.where(cand, total[:, cols[full]].sum(1), np.nan)
        win = int(select(pooled[:, None], names)[0])
        own = choice[cols]
        s_own, s_win = total[own, cols], total[win, cols]
        e_own, e_win = fold_err[own, :, cols], fold_err[win, :, cols]  # (n, folds)
        both = np.isfinite(e_own) & np.isfinite(e_win)
        every_fold = np.where(both, e_own <= e_win, True).all(1)
        keep = ~np.isfinite(s_win) | ((s_own < (1.0 - margin) * s_win) & every_fold)
        choice[cols] = np.where(keep, own, win)
    return choice
