"""The three output frames: their column contract (for the Spark schema) and their assembly in canonical order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skuplan.contracts import METRIC_COLUMNS, Contract, contract, pandas_dtype
from skuplan.forecast import backtest as bt
from skuplan.forecast.base import quantile_column
from skuplan.forecast.config import ForecastConfig
from skuplan.forecast.quantiles import finalize
from skuplan.forecast.scoring import Ctx

METRIC_COLS = list(METRIC_COLUMNS)
# The engine's three frames and the tables they are written to.
OUTPUT_TABLES = {"forecasts": "forecasts", "status": "forecast_status", "metrics": "forecast_metrics"}


def output_contracts(cfg: ForecastConfig) -> dict[str, Contract]:
    """The contract of each frame (skuplan.contracts), keyed by frame kind; forecasts carries cfg.quantiles."""
    return {kind: contract(table, quantiles=cfg.quantiles if table == "forecasts" else None)
            for kind, table in OUTPUT_TABLES.items()}  # fmt: skip


def output_columns(cfg: ForecastConfig) -> dict[str, list[tuple[str, str]]]:
    """(column, pandas dtype) of each frame, in order, from the contracts.

    "string" columns hold Python str (object dtype); "datetime64[ns]" holds midnight timestamps (a Spark date).
    """
    return {kind: [(col.name, pandas_dtype(col)) for col in c.columns] for kind, c in output_contracts(cfg).items()}


def _frame(cfg, kind: str, data: dict) -> pd.DataFrame:
    cols = output_columns(cfg)[kind]
    df = pd.DataFrame({c: data[c] for c, _ in cols})
    return df.astype({c: (object if t == "string" else t) for c, t in cols})


def metrics_frame(ctx: Ctx, names, runs, member, choice) -> pd.DataFrame:
    panel, cfg, levels, A = ctx.panel, ctx.cfg, ctx.levels, ctx.A
    ends, elig = ctx.ends, ctx.eligible
    parts = []
    for k_fold, end in enumerate(ends):
        if end <= 0:
            continue
        mae, mse = bt.naive_scale(panel.y[:end], cfg.season_length)
        for k, m in enumerate(names):
            run = runs[m]
            f = run.fold_yhat[k_fold]
            rows = np.flatnonzero(
                member[k] & elig[k_fold] & np.isfinite(A[k_fold]).any(0) & np.isfinite(f).any(0)
            )
            if len(rows) == 0:
                continue
            _, qk = finalize(f[:, rows], run.fold_q[k_fold][:, rows])
            met = bt.fold_metrics(A[k_fold][:, rows], f[:, rows], qk, levels, mae[rows], mse[rows])
            part = {c: met[c] for c in METRIC_COLS}
            part.update(sid=rows, model=m, fold=k_fold, selected=choice[rows] == k)
            parts.append(pd.DataFrame(part))
    if not parts:
        return _frame(cfg, "metrics", {c: [] for c, _ in output_columns(cfg)["metrics"]})
    df = pd.concat(parts, ignore_index=True)
    df["item_id"] = panel.keys["item_id"].to_numpy()[df["sid"]]
    df["region_id"] = panel.keys["region_id"].to_numpy()[df["sid"]]
    df = df.sort_values(["sid", "model", "fold"], kind="mergesort")  # sid order == (item_id, region_id) order
    return _frame(cfg, "metrics", df.reset_index(drop=True))


def forecasts_frame(panel, cfg, yhat, q, model) -> pd.DataFrame:
    H, N, T = cfg.horizon_days, panel.n_series, panel.n_hist
    data = {
        "item_id": np.repeat(panel.keys["item_id"].to_numpy(), H),
        "region_id": np.repeat(panel.keys["region_id"].to_numpy(), H),
        "date": np.tile(panel.dates[T : T + H].to_numpy(), N),
        "yhat": yhat.T.ravel(),
        "model": np.repeat(model, H),
    }
    for j, lv in enumerate(cfg.quantiles):
        data[quantile_column(lv)] = q[:, :, j].T.ravel()
    return _frame(cfg, "forecasts", data)


def status_frame(panel, cfg, model, status, message, scr, dclass, profile=None) -> pd.DataFrame:
    """profile: error_profile.ErrorProfile of the chosen models (NaN columns when not given)."""
    nan = np.full(panel.n_series, np.nan)
    data = {
        "item_id": panel.keys["item_id"].to_numpy(),
        "region_id": panel.keys["region_id"].to_numpy(),
        "model": model,
        "status": status,
        "message": message,
        "n_obs": scr.n_obs.astype(np.int64),
        "demand_class": dclass,
        # sigma of the forecast error summed over h days = err_sigma_1d * h ** err_sum_exponent
        "err_sigma_1d": nan if profile is None else profile.sigma_1d,
        "err_sum_exponent": nan if profile is None else profile.exponent,
    }
    return _frame(cfg, "status", data)
