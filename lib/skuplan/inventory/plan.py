"""plan_policy: safety stock, reorder point, order-up-to level and lot size for a batch of series.

Pure pandas/numpy; the Spark glue calls it on one pandas batch (many item x region series) at a time.
Rows with unusable inputs are not dropped: they come back with status "invalid", a message and NaN levels.

Two level models (cfg.level_model):
- "discrete" (default, issue 14): exact integer levels from the distributions of lead-time demand and
  undershoot, phased on the daily forecast from the run date (plan_discrete, levels, discrete, phasing). The
  expected CSL and fill rate it reports are those the replay's conventions give (see inventory.discrete).
- "normal" (the textbook baseline): sigma_P = sqrt(P sd^2 + d^2 sL^2) over the protection interval P (L for
  sQ, L + R for RS) on one mean daily demand d; with a forecast-error profile (err_sigma_1d, err_sum_exponent)
  P sd^2 is the measured variance of P-day error sums, (sigma_1 P^gamma)^2; SS = z sigma_P with
  z = Phi^-1(alpha) (CSL) or G(z) = (1 - beta) Q / sigma_P (fill rate), clamped to [z_min, z_max];
  s = d P + undershoot + SS (cfg.undershoot: renewal moments or none). Empirical methods (intermittent/lumpy):
  quantile (CSL) or exact fill-rate level of bootstrap / negative-binomial demand over L + r (the NB fitted on
  the mean and variance; z_min only raises the level afterwards).

Steps of plan_policy: _read_inputs (validate) -> _sigma -> resolve_policy -> _lot_sizes -> levels (discrete:
plan_discrete.discrete_plan_levels; normal: plan_normal.normal_levels then empirical_levels) -> _plan_frame. History is
an (n, days) block, one row per stats row (history_rows cuts it from a SeriesBatch).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from skuplan.contracts import contract
from skuplan.input_rules import check_values
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.lot_sizing import (
    eoq,
    ordering_cost_dominates,
    review_floor,
    round_order_qty,
    wagner_whitin_first_lots,
)
from skuplan.inventory.phasing import forecast_paths
from skuplan.inventory.plan_discrete import discrete_plan_levels
from skuplan.inventory.plan_normal import Levels, empirical_levels, normal_levels
from skuplan.inventory.policies import resolve_policy
from skuplan.inventory.safety_stock import sigma_daily_at
from skuplan.inventory.sanity import moq_ignored, moq_in_force
from skuplan.series.batch import SeriesBatch

REQUIRED = [
    "item_id", "region_id", "mean_daily_demand", "unit_cost", "holding_rate", "order_cost",
    "lead_time_days", "service_level",
]  # fmt: skip
OPTIONAL = {
    "sigma_daily": np.nan, "sigma_demand_daily": np.nan, "err_sigma_1d": np.nan, "err_sum_exponent": np.nan,
    "demand_class": None, "segment": None,
    "lead_time_std_days": 0.0, "service_type": None, "moq": 1.0, "pack_size": 1.0,
}  # fmt: skip

# Output contract (column meanings in skuplan.contract_tables): levels refer to the inventory position.
PLAN_COLUMNS = contract("inventory_plan").names


def history_rows(batch: SeriesBatch, keys: pd.DataFrame, days: int) -> np.ndarray:
    """plan_policy's history: (len(keys), days) units of the last `days` days up to the batch's cutoff, row i
    for keys.iloc[i] (item_id, region_id), oldest day first; NaN before a series' start, where the grid is
    shorter, and on every day of a key the batch does not hold."""
    block = batch.last_days(days)
    columns = batch.positions(keys)
    found = columns >= 0
    out = np.full((days, len(keys)), np.nan)
    out[:, found] = block[:, columns[found]]
    # (series, days) in C order: numpy's sums over a row then run in the same order whatever the source layout.
    return np.ascontiguousarray(out.T)


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _with_optional(stats: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in stats.columns]
    if missing:
        raise ValueError(f"plan_policy: stats is missing column(s) {missing}; required: {REQUIRED}")
    df = stats.reset_index(drop=True).copy()
    for col, default in OPTIONAL.items():
        if col not in df.columns:
            df[col] = default
    return df


def _problems(checks: list[tuple[np.ndarray, str]], n: int) -> np.ndarray:
    """'; '-joined texts of the checks each row fails ('' when none); string work only on failing inp."""
    msg = np.full(n, "", dtype=object)
    for mask, text in checks:
        idx = np.flatnonzero(mask)
        if idx.size:
            cur = msg[idx]
            msg[idx] = np.where(cur == "", text, cur + "; " + text)
    return msg


@dataclass(frozen=True)
class _Inputs:
    """plan_policy's validated inputs, one array entry per row of `df` (stats with OPTIONAL defaults)."""

    df: pd.DataFrame
    d: np.ndarray  # mean daily demand as given
    # d, 0 on invalid rows: keeps NaN out of the vector math (invalid rows are blanked at the end)
    d0: np.ndarray
    lt: np.ndarray
    lt_sd: np.ndarray
    cost: np.ndarray
    rate: np.ndarray
    k: np.ndarray  # order cost
    h_year: np.ndarray  # holding cost per unit and year
    moq: np.ndarray
    pack: np.ndarray
    segment: pd.Series  # object, None where missing
    alpha: np.ndarray  # service level: segment override, else item, else config default
    stype: np.ndarray  # service type
    valid: np.ndarray
    invalid_msg: np.ndarray

    @property
    def n(self) -> int:
        return len(self.df)


def _read_inputs(stats: pd.DataFrame, cfg: InventoryConfig) -> _Inputs:
    df = _with_optional(stats)
    d = _num(df, "mean_daily_demand")
    lt = _num(df, "lead_time_days")
    lt_sd = np.nan_to_num(_num(df, "lead_time_std_days"), nan=0.0)
    cost, rate, k = _num(df, "unit_cost"), _num(df, "holding_rate"), _num(df, "order_cost")
    moq, pack = np.nan_to_num(_num(df, "moq"), nan=1.0), np.nan_to_num(_num(df, "pack_size"), nan=1.0)
    seg = df["segment"].astype(object).where(df["segment"].notna(), None)
    level = seg.map(cfg.segment_service_levels).astype(float)
    alpha = level.fillna(pd.to_numeric(df["service_level"], errors="coerce")).fillna(
        cfg.default_service_level
    )
    alpha = alpha.to_numpy(dtype=float)
    stype = df["service_type"].fillna(cfg.default_service_type).astype(str).to_numpy(dtype=object)
    h_year = cost * rate
    # The item columns are checked by validate's own rules (skuplan.input_rules), on the values planned with (after
    # the defaults above): a row validate accepted is never invalid here for an input value.
    item_values = {
        "lead_time_days": lt,
        "lead_time_std_days": lt_sd,
        "service_level": alpha,
        "service_type": stype,
        "unit_cost": cost,
        "holding_rate": rate,
        "order_cost": k,
        "moq": moq,
        "pack_size": pack,
    }
    invalid_msg = _problems(
        [(~(d >= 0), "mean_daily_demand must be a number >= 0"), *check_values("items", item_values)], len(df)
    )
    valid = invalid_msg == ""
    return _Inputs(df, d, np.where(valid, d, 0.0), lt, lt_sd, cost, rate, k, h_year, moq, pack, seg, alpha, stype,
                 valid, invalid_msg)  # fmt: skip


def _history_window(history: np.ndarray | None, n: int, days: int) -> np.ndarray:
    """The last `days` days of `history` as a C-ordered (n, <= days) float array; (n, 0) without history."""
    if history is None:
        return np.empty((n, 0))
    hist = np.asarray(history, dtype=float)
    if hist.ndim != 2 or hist.shape[0] != n:
        raise ValueError(f"plan_policy: history must be (inp of stats, days) = ({n}, days), got {hist.shape}")
    return np.ascontiguousarray(hist[:, -days:])


def _window_mean(hist: np.ndarray) -> np.ndarray:
    """Mean day of each row's history window (NaN without history)."""
    n_valid = np.isfinite(hist).sum(axis=1)
    return np.where(n_valid > 0, np.nansum(hist, axis=1) / np.maximum(n_valid, 1), np.nan)


@dataclass(frozen=True)
class _Sigma:
    """Per-row sigma of the daily forecast error, its source, and the demand sigma."""

    daily: np.ndarray  # sigma_d of the preferred source (profile inp: evaluated per interval by at())
    source: np.ndarray  # forecast_error_profile | forecast_error | demand | poisson
    demand: np.ndarray  # sigma of daily demand: input, else from history (NaN when neither)
    s1: np.ndarray  # profile level: the larger of err_sigma_1d and the input sigma_daily
    gamma: np.ndarray  # profile exponent

    def at(self, days):
        """Per-day sigma for an interval of `days`: P * at(P)^2 is the error variance of P-day sums."""
        profile = self.source == "forecast_error_profile"
        return np.where(profile, sigma_daily_at(self.s1, self.gamma, days), self.daily)


def _sigma(inp: _Inputs, cfg: InventoryConfig, hist: np.ndarray) -> _Sigma:
    """sigma_d per row and its source, in the order cfg.sigma_source prefers.

    Forecast error: the profile of P-day sums first (measured at the horizon that matters), then the input
    sigma_daily. Profile inp keep sigma_1 and the exponent; _Sigma.at evaluates them at each interval P.
    """
    df = inp.df
    s1, gamma = _num(df, "err_sigma_1d"), _num(df, "err_sum_exponent")
    prof = np.where(np.isfinite(gamma), s1, np.nan)
    fe = _num(df, "sigma_daily")
    dem = _num(df, "sigma_demand_daily")
    need = np.flatnonzero(~np.isfinite(dem))  # demand sigma from history only where none was given
    if need.size and hist.shape[1] > 1:
        with warnings.catch_warnings():  # all-NaN inp (no history) are expected and give NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            dem[need] = np.nanstd(hist[need], axis=1, ddof=1)
    order = [("forecast_error_profile", prof), ("forecast_error", fe), ("demand", dem)]
    if cfg.sigma_source == "demand":
        order = order[2:] + order[:2]
    sig = np.sqrt(np.maximum(inp.d0, 0.0))
    src = np.full(inp.n, "poisson", dtype=object)
    for name, val in reversed(order):  # the preferred source is applied last, so it wins
        ok = np.isfinite(val) & (val >= 0)
        sig, src = np.where(ok, val, sig), np.where(ok, name, src)
    # The profile's 1-day level rests on one series' few backtest folds and comes out too small when those
    # weeks were calm; the input sigma_daily (nightly: the conformal band, pooled per demand class) estimates
    # the same 1-day error more robustly. The larger of the two sets the level, the profile's exponent its
    # growth over P (docs/decisions.md, 2026-11-30).
    s1 = np.where(np.isfinite(fe), np.fmax(fe, s1), s1)
    return _Sigma(sig, src, dem, s1, gamma)


@dataclass(frozen=True)
class _Lots:
    eoq: np.ndarray  # unrounded EOQ
    kind: np.ndarray  # eoq | wagner_whitin | review_demand
    q_order: np.ndarray  # the policy's lot, rounded to MOQ and pack size; 0 without demand
    # the MOQ in force (sanity.moq_in_force): the input, or 1 where it is taken for a data error
    moq: np.ndarray


def _lot_sizes(inp: _Inputs, cfg: InventoryConfig, policy: np.ndarray, review: np.ndarray,
               forecast: pd.DataFrame | None) -> _Lots:  # fmt: skip
    """EOQ, or the first Wagner-Whitin lot of the forecast where ordering cost dominates; at least one review's
    demand (lot_sizing.review_floor: order_cost 0 gives EOQ 0, and a 0 lot would never reorder)."""
    d0, k, h_year = inp.d0, inp.k, inp.h_year
    q_eoq = eoq(d0 * cfg.days_per_year, k, h_year)
    lot_raw, lot_kind = q_eoq, np.full(inp.n, "eoq", dtype=object)
    ls = cfg.lot_sizing
    if ls.method != "eoq" and forecast is not None:
        want = (policy != "RS") & inp.valid & (d0 > 0)
        if ls.method == "auto":
            want &= ordering_cost_dominates(q_eoq, d0, ls.period_days, ls.min_eoq_cover_periods)
        if want.any():
            ww = np.full(inp.n, np.nan)
            ww[want] = wagner_whitin_first_lots(
                forecast, inp.df.loc[want, ["item_id", "region_id"]], k[want], h_year[want] / cfg.days_per_year,
                ls.period_days,
            )  # fmt: skip
            use = want & np.isfinite(ww) & (ww > 0)
            lot_raw, lot_kind = np.where(use, ww, lot_raw), np.where(use, "wagner_whitin", lot_kind)
    lot_raw, raised = review_floor(lot_raw, d0, review)
    lot_kind = np.where(raised, "review_demand", lot_kind)
    moq = moq_in_force(inp.moq, d0, cfg.alerts)
    q_order = np.where(d0 > 0, round_order_qty(np.nan_to_num(lot_raw), moq, inp.pack), 0.0)
    return _Lots(q_eoq, lot_kind, q_order, moq)


def _plan_frame(inp: _Inputs, cfg: InventoryConfig, sigma: _Sigma, policy: np.ndarray, review: np.ndarray,
                lots: _Lots, lv: Levels) -> pd.DataFrame:  # fmt: skip
    """The PLAN_COLUMNS frame: levels, lots, expected service and cost; invalid inp blanked."""
    d0, k, valid = inp.d0, inp.k, inp.valid
    no_level, bound = _beyond_sane_bound(inp, cfg, lv)
    is_rs = policy == "RS"
    big_r = cfg.review_period_days
    order_qty_policy = np.where(is_rs, round_order_qty(d0 * big_r, lots.moq, inp.pack), lots.q_order)
    with np.errstate(divide="ignore", invalid="ignore"):
        orders_per_day = np.where(
            is_rs, np.where(d0 > 0, 1.0 / big_r, 0.0), np.where(lv.q_cycle > 0, d0 / lv.q_cycle, 0.0)
        )
    # stock on hand is never negative, though SS may be (z_min < 0: a fill-rate target met below the mean)
    cost_day = inp.h_year / cfg.days_per_year * np.maximum(lv.ss + lv.q_cycle / 2.0, 0.0) + k * orders_per_day
    notes = _problems(
        [
            (valid & (sigma.source == "poisson") & (d0 > 0), "no sigma given: Poisson sqrt(d) used"),
            (lv.z_capped & ~no_level, f"service level needs z > z_max={cfg.z_max}: capped"),
            (
                no_level,
                f"no level: the demand law gave a safety stock beyond {sane_ss_factor(cfg)} x (d L + E[U] + lot + "
                "sigma_ltd); levels left blank, check the forecast and its error profile",
            ),
            (
                valid & (lots.kind == "review_demand"),
                "lot raised to one review's demand (EOQ smaller: order_cost 0 or tiny)",
            ),
            (
                valid & moq_ignored(inp.moq, d0, cfg.alerts),
                "moq not applied: more than "
                f"alerts.moq_ignore_days_of_demand={cfg.alerts.moq_ignore_days_of_demand} days of demand",
            ),
        ],
        inp.n,
    )
    out = pd.DataFrame(
        {
            "item_id": inp.df["item_id"].to_numpy(), "region_id": inp.df["region_id"].to_numpy(),
            "status": np.where(valid, np.where(no_level, "no_level", "ok"), "invalid"),
            "message": np.where(valid, notes, inp.invalid_msg),
            "policy": policy, "method": lv.method, "demand_class": inp.df["demand_class"].to_numpy(),
            "segment": inp.segment.to_numpy(), "mean_daily_demand": inp.d,
            "sigma_daily": sigma.at(lv.prot_days), "sigma_source": sigma.source,
            "err_sigma_1d": np.where(np.isfinite(sigma.gamma), sigma.s1, np.nan),
            "err_sum_exponent": np.where(np.isfinite(sigma.s1), sigma.gamma, np.nan),
            "lead_time_days": inp.lt, "lead_time_std_days": inp.lt_sd, "review_days": review,
            "protection_days": lv.prot_days, "undershoot": lv.u_mean, "sigma_ltd": lv.sig_lt,
            "sigma_protection": lv.sig_prot, "service_level": inp.alpha, "service_type": inp.stype, "z": lv.z,
            "z_capped": lv.z_capped, "safety_stock": lv.ss, "reorder_point": lv.lvl,
            "order_up_to": np.where(is_rs, lv.lvl, lv.lvl + lots.q_order), "eoq": lots.eoq,
            "lot_sizing": lots.kind, "order_qty_policy": order_qty_policy, "cycle_qty": lv.q_cycle,
            "expected_csl": lv.exp_csl, "expected_fill_rate": lv.exp_fill, "expected_cost_per_day": cost_day,
            "unit_cost": inp.cost, "holding_rate": inp.rate, "order_cost": k, "moq": inp.moq,
            "pack_size": inp.pack,
        }
    )  # fmt: skip
    numeric_levels = [
        "sigma_ltd", "sigma_protection", "z", "safety_stock", "reorder_point", "order_up_to", "eoq",
        "order_qty_policy", "cycle_qty", "expected_csl", "expected_fill_rate", "expected_cost_per_day", "undershoot",
    ]  # fmt: skip
    out.loc[~valid | no_level, numeric_levels] = np.nan
    out.loc[valid & (d0 == 0), ["expected_csl", "expected_fill_rate"]] = np.nan  # no demand: undefined
    out.loc[~valid, "method"] = "none"
    return out[list(PLAN_COLUMNS)]


def sane_ss_factor(cfg: InventoryConfig) -> float:
    """How many plan scales (d L + E[U] + lot + sigma_ltd) a safety stock may reach: 2 (|z| + 1) with |z| the
    widest safety factor allowed. The discrete levels stay within their law's mean + z sd, whose mean moves by at
    most E[D_L + U] and whose sd by at most that plus the undershoot's spread (_level_error_terms at t = 1)."""
    return 2.0 * (max(cfg.z_max, -cfg.z_min) + 1.0)


def _beyond_sane_bound(inp: _Inputs, cfg: InventoryConfig, lv: Levels) -> tuple[np.ndarray, np.ndarray]:
    """(rows whose level is not finite or whose |safety stock| is beyond the sane bound, the bound in units).

    A guard, not a model: no law the plan fits should get there, so a row that does is reported (status
    no_level, levels blank; alerts raise no_policy_level) rather than ordering a silent absurd number."""
    scale = np.nan_to_num(inp.d0 * lv.prot_days) + np.nan_to_num(lv.u_mean) + np.nan_to_num(lv.q_cycle)
    bound = sane_ss_factor(cfg) * (scale + np.nan_to_num(lv.sig_lt) + 1.0)
    active = inp.valid & (inp.d0 > 0)
    return active & ~(np.isfinite(lv.lvl) & (np.abs(lv.ss) <= bound)), bound


def plan_policy(
    stats: pd.DataFrame,
    cfg: InventoryConfig,
    history: np.ndarray | None = None,
    forecast: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per series of `stats` with the columns of PLAN_COLUMNS (in that order).

    stats: REQUIRED columns plus any of OPTIONAL. history: (n, days) daily units, row i for stats row i,
    oldest day first and the cutoff last, NaN where there is no data (before the series' start); its last
    cfg.bootstrap_window_days days feed the bootstrap and the demand sigma of rows without one
    (history_rows cuts it from a SeriesBatch; None: no history). forecast: item_id, region_id, date, yhat
    (daily, each series' first date = the run date): the discrete levels sum it over the protection interval
    (rows without one use mean_daily_demand per day), and Wagner-Whitin lots where cfg.lot_sizing allows it.
    """
    inp = _read_inputs(stats, cfg)
    hist = _history_window(history, inp.n, cfg.bootstrap_window_days)
    sigma = _sigma(inp, cfg, hist)
    policy = resolve_policy(inp.segment.to_numpy(), inp.df["demand_class"].to_numpy(), cfg)
    review = np.where(policy == "sQ", cfg.continuous_review_days, cfg.review_period_days)
    lots = _lot_sizes(inp, cfg, policy, review, forecast)
    if cfg.level_model == "normal":
        levels = normal_levels(inp, cfg, sigma, policy, review, lots.q_order, _window_mean(hist))
        empirical_levels(levels, inp, cfg, sigma, hist, review)
    else:
        paths = forecast_paths(forecast, inp.df[["item_id", "region_id"]])
        fields, q_order = discrete_plan_levels(inp, cfg, sigma, policy, review, lots, hist, paths)
        levels, lots = Levels(**fields), replace(lots, q_order=q_order)
    return _plan_frame(inp, cfg, sigma, policy, review, lots, levels)
