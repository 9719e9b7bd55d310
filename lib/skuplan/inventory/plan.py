"""plan_policy: safety stock, reorder point, order-up-to level and lot size for a batch of series.

Pure pandas/numpy; the Spark glue calls it on one pandas batch (many item x region series) at a time.
Rows with unusable inputs are not dropped: they come back with status "invalid", a message and NaN levels.

Normal method (smooth/erratic): sigma_P = sqrt(P sd^2 + d^2 sL^2) over the protection interval P (L for
sQ, L + R for RS); with a forecast-error profile (err_sigma_1d, err_sum_exponent from the forecast engine)
P sd^2 is replaced by the measured variance of P-day forecast-error sums, (sigma_1 P^gamma)^2; SS = z sigma_P with z = Phi^-1(alpha) (CSL) or G(z) = (1 - beta) Q / sigma_P (fill
rate), clamped to [0, z_max]; s = d P + undershoot + SS. With the daily batch a reorder-point policy sees
the position jump below s; cfg.undershoot="renewal" adds that drop (mean to s, variance to sigma_P), which
the replay showed is needed to hit the targets; "none" gives the textbook numbers. Empirical methods
(intermittent/lumpy): s = quantile (CSL) or exact fill-rate level of bootstrap / negative-binomial demand
over L + r, with SS = s - d (L + r) >= 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import ndtr

from skuplan.inventory import empirical as emp
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.history import history_matrix, right_align
from skuplan.inventory.lot_sizing import (
    eoq,
    ordering_cost_dominates,
    round_order_qty,
    wagner_whitin_first_lots,
)
from skuplan.inventory.policies import resolve_policy
from skuplan.inventory.safety_stock import (
    fill_rate_normal,
    sigma_daily_at,
    sigma_ltd,
    undershoot_after_order_up_to,
    undershoot_moments,
    z_for_csl,
    z_for_fill_rate,
)

REQUIRED = [
    "item_id", "region_id", "mean_daily_demand", "unit_cost", "holding_rate", "order_cost",
    "lead_time_days", "service_level",
]  # fmt: skip
OPTIONAL = {
    "sigma_daily": np.nan, "sigma_demand_daily": np.nan, "err_sigma_1d": np.nan, "err_sum_exponent": np.nan,
    "demand_class": None, "segment": None,
    "lead_time_std_days": 0.0, "service_type": None, "moq": 1.0, "pack_size": 1.0,
}  # fmt: skip

# Output contract: column -> meaning. Units are item units unless stated; levels refer to the inventory
# position (on hand + on order - backorders).
PLAN_COLUMNS: dict[str, str] = {
    "item_id": "item key",
    "region_id": "region key",
    "status": "ok | invalid (inputs unusable, levels NaN; see message)",
    "message": "why a row is invalid, and notes (sigma fallback, z capped); empty when nothing to say",
    "policy": "sQ (reorder point s, fixed lot Q) | RS (review every R, order up to S) | sS (review every R, "
    "order up to S when position <= s)",
    "method": "normal | bootstrap | negbin: how the protection-interval demand distribution was modelled",
    "demand_class": "smooth | erratic | intermittent | lumpy (input, passed through)",
    "segment": "ABC x XYZ segment (input, passed through)",
    "mean_daily_demand": "d: forecast mean demand per day",
    "sigma_daily": "sigma_d actually used, per day: with the forecast-error profile sigma_1 P^gamma / sqrt(P) "
    "at the row's protection_days (so P sigma_d^2 is the variance of P-day error sums), else the input sigma",
    "sigma_source": "forecast_error_profile (sigma of P-day forecast-error sums from the engine's backtest: "
    "err_sigma_1d * P^err_sum_exponent) | forecast_error (input sigma_daily, variance scaled by P) | demand | "
    "poisson (sqrt(d), when no sigma is available)",
    "err_sigma_1d": "sigma_1 of the forecast-error profile (input from forecast_status, passed through; NaN = none)",
    "err_sum_exponent": "gamma of the profile: sigma of the P-day error sum = err_sigma_1d * P^gamma (0.5 = "
    "independent days, 1 = level error shared by all days)",
    "lead_time_days": "L",
    "lead_time_std_days": "sigma_L",
    "review_days": "review interval r of the policy: continuous_review_days for sQ, review_period_days else",
    "protection_days": "days of demand the reorder level covers: L (sQ, sS with undershoot), L + R (RS, sS "
    "textbook), L + r (empirical reorder-point policies)",
    "undershoot": "expected drop of the position below s at the review that orders: renewal limit for sQ, "
    "Wald sum from S for sS (0 for RS, empirical methods and undershoot='none')",
    "sigma_ltd": "sqrt(P sigma_d^2 + d^2 sigma_L^2) with P = L for sQ, L + R for RS/sS (textbook); with the "
    "forecast-error profile P sigma_d^2 = (err_sigma_1d P^err_sum_exponent)^2",
    "sigma_protection": "sigma of the demand the safety stock buffers (sigma_ltd plus undershoot variance)",
    "service_level": "target: segment override, else item, else config default",
    "service_type": "csl (P(no stockout per cycle)) | fill_rate (share of demand served from stock)",
    "z": "safety factor used: SS / sigma_protection, in [z_min, z_max] (equivalent z for empirical methods)",
    "z_capped": "True when the target needed z > z_max (service level too close to 1)",
    "safety_stock": "SS = z * sigma_protection (>= 0 unless z_min < 0): expected net stock when a "
    "replenishment arrives",
    "reorder_point": "s: order when position <= s; d * P + undershoot + SS. RS: equals S (order when < S)",
    "order_up_to": "S: RS/sS order-up-to level; sQ: s + Q, the highest position the policy reaches",
    "eoq": "sqrt(2 K D / h), D = d * days_per_year, h = unit_cost * holding_rate (unrounded)",
    "lot_sizing": "eoq | wagner_whitin: where order_qty_policy comes from",
    "order_qty_policy": "lot: sQ Q, sS S - s (rounded up to pack size, >= MOQ); RS typical order d * R",
    "cycle_qty": "demand per replenishment cycle in the fill-rate formula: Q (sQ), d * R (RS), S - s + undershoot (sS)",
    "expected_csl": "model-predicted cycle service level of these levels",
    "expected_fill_rate": "model-predicted fill rate of these levels",
    "expected_cost_per_day": "holding h/365 * (SS + cycle_qty / 2) + ordering K * orders per day",
    "unit_cost": "input, passed through (KPIs, alerts)",
    "holding_rate": "input, passed through",
    "order_cost": "K, input, passed through",
    "moq": "input (missing -> 1)",
    "pack_size": "input (missing -> 1)",
}


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
    """'; '-joined texts of the checks each row fails ('' when none); string work only on failing rows."""
    msg = np.full(n, "", dtype=object)
    for mask, text in checks:
        idx = np.flatnonzero(mask)
        if idx.size:
            cur = msg[idx]
            msg[idx] = np.where(cur == "", text, cur + "; " + text)
    return msg


def _sigma(df: pd.DataFrame, cfg: InventoryConfig, hist: np.ndarray, d: np.ndarray):
    """sigma_d per row and its source, in the order cfg.sigma_source prefers.

    Forecast error: the profile of P-day sums first (measured at the horizon that matters), then the input
    sigma_daily. Profile rows return sigma_1 here; plan_policy evaluates them at each interval P.
    """
    s1, gamma = _num(df, "err_sigma_1d"), _num(df, "err_sum_exponent")
    prof = np.where(np.isfinite(gamma), s1, np.nan)
    fe = _num(df, "sigma_daily")
    dem = _num(df, "sigma_demand_daily")
    need = np.flatnonzero(~np.isfinite(dem))  # demand sigma from history only where none was given
    if need.size and hist.shape[1] > 1:
        with warnings.catch_warnings():  # all-NaN rows (no history) are expected and give NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            dem[need] = np.nanstd(hist[need], axis=1, ddof=1)
    order = [("forecast_error_profile", prof), ("forecast_error", fe), ("demand", dem)]
    if cfg.sigma_source == "demand":
        order = order[2:] + order[:2]
    sig = np.sqrt(np.maximum(d, 0.0))
    src = np.full(len(df), "poisson", dtype=object)
    for name, val in reversed(order):  # the preferred source is applied last, so it wins
        ok = np.isfinite(val) & (val >= 0)
        sig, src = np.where(ok, val, sig), np.where(ok, name, src)
    return sig, src, dem


def plan_policy(
    stats: pd.DataFrame,
    cfg: InventoryConfig,
    history: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    history_array: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per series of `stats` with the columns of PLAN_COLUMNS (in that order).

    stats: REQUIRED columns plus any of OPTIONAL. history: item_id, region_id, date, units (daily; used for
    the bootstrap and for demand sigma when none is given). forecast: item_id, region_id, date, yhat (daily;
    used for Wagner-Whitin lots when cfg.lot_sizing allows it). history_array: the same history already as
    an (n, days) array aligned with the rows of stats, most recent day last, NaN = no data (replaces history).
    """
    df = _with_optional(stats)
    n = len(df)
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

    invalid_msg = _problems(
        [
            (~(d >= 0), "mean_daily_demand must be a number >= 0"),
            (~(lt >= 0), "lead_time_days must be a number >= 0"),
            (lt_sd < 0, "lead_time_std_days must be >= 0"),
            (~((alpha > 0) & (alpha < 1)), "service_level must be in (0, 1)"),
            (~np.isin(stype, ["csl", "fill_rate"]), "service_type must be 'csl' or 'fill_rate'"),
            (~(h_year > 0), "unit_cost * holding_rate must be > 0 (EOQ needs a holding cost)"),
            (~(k >= 0), "order_cost must be a number >= 0"),
        ],
        n,
    )
    valid = invalid_msg == ""
    d0 = np.where(valid, d, 0.0)  # keeps NaN out of the vector math; invalid rows are blanked at the end

    if history_array is not None:
        hist = np.asarray(history_array, dtype=float)[:, -cfg.bootstrap_window_days :]
    elif history is not None and not history.empty:
        hist, _ = history_matrix(history, df, cfg.bootstrap_window_days)
    else:
        hist = np.empty((n, 0))
    sig, sig_src, sig_dem = _sigma(df, cfg, hist, d0)
    use_prof = sig_src == "forecast_error_profile"
    s1, gamma = _num(df, "err_sigma_1d"), _num(df, "err_sum_exponent")
    # The profile's 1-day level is one series' RMS error over a few backtest folds: when those weeks were
    # calm it is too small (CSL gap -4.8 pp on bench seed 1). The input sigma_daily (nightly: the conformal
    # band, pooled per demand class and tail-calibrated) estimates the same 1-day error more robustly, so the
    # larger of the two sets the level and the profile's exponent its growth over P (bench seeds 1 / 7:
    # CSL gap -1.3 / -1.8 pp, against -4.8 / -2.7 with the profile's level and -2.2 / -1.9 with the band's).
    band = _num(df, "sigma_daily")
    s1 = np.where(np.isfinite(band), np.fmax(band, s1), s1)

    def sig_at(days):
        """Per-day sigma for an interval of `days`: P * sig_at(P)^2 is the error variance of P-day sums."""
        return np.where(use_prof, sigma_daily_at(s1, gamma, days), sig)

    policy = resolve_policy(seg.to_numpy(), df["demand_class"].to_numpy(), cfg)
    is_sq, is_rs = policy == "sQ", policy == "RS"
    review = np.where(is_sq, cfg.continuous_review_days, cfg.review_period_days)
    big_r = cfg.review_period_days

    # Lot size: EOQ, or the first Wagner-Whitin lot of the forecast where ordering cost dominates.
    q_eoq = eoq(d0 * cfg.days_per_year, k, h_year)
    lot_raw, lot_kind = q_eoq, np.full(n, "eoq", dtype=object)
    ls = cfg.lot_sizing
    if ls.method != "eoq" and forecast is not None:
        want = ~is_rs & valid & (d0 > 0)
        if ls.method == "auto":
            want &= ordering_cost_dominates(q_eoq, d0, ls.period_days, ls.min_eoq_cover_periods)
        if want.any():
            ww = np.full(n, np.nan)
            ww[want] = wagner_whitin_first_lots(
                forecast, df.loc[want, ["item_id", "region_id"]], k[want], h_year[want] / cfg.days_per_year,
                ls.period_days,
            )  # fmt: skip
            use = want & np.isfinite(ww) & (ww > 0)
            lot_raw, lot_kind = np.where(use, ww, lot_raw), np.where(use, "wagner_whitin", lot_kind)
    q_order = np.where(d0 > 0, round_order_qty(np.nan_to_num(lot_raw), moq, pack), 0.0)
    q_cycle = np.where(is_rs, d0 * big_r, q_order)
    lost = cfg.shortage_mode == "lost_sales"
    use_fill = stype == "fill_rate"

    # --- normal approximation (every row; empirical rows are overwritten below) ---
    lt_days = lt + np.where(is_sq, 0.0, big_r)
    sig_lt = sigma_ltd(d0, sig_at(lt_days), lt_days, lt_sd)
    with_u = ~is_rs & (cfg.undershoot == "renewal")
    # The undershoot is made of single-review demand steps: their spread is the day-to-day variability of
    # demand itself (weekday pattern included), not the forecast error, when the former is known.
    sig_step = np.where(np.isfinite(sig_dem) & (sig_dem > 0), sig_dem, sig_at(review))
    u_mean, u_var = undershoot_moments(d0, sig_step, review)
    # (s, S) restarts at S after every order: its undershoot depends on (S - s) / (demand per review).
    ss_rows = np.flatnonzero(policy == "sS")
    u_mean[ss_rows] = undershoot_after_order_up_to(
        d0[ss_rows], sig_step[ss_rows], review[ss_rows], q_order[ss_rows]
    )
    u_mean, u_var = np.where(with_u, u_mean, 0.0), np.where(with_u, u_var, 0.0)
    # sS: a cycle moves S - s plus the undershoot; sQ moves Q whatever the undershoot.
    q_cycle = np.where((policy == "sS") & with_u, q_order + u_mean, q_cycle)
    # Fill rate: expected shortage per cycle may be (1 - beta) Q; lost sales: (1 - beta) Q / beta.
    with np.errstate(divide="ignore", invalid="ignore"):  # alpha 0 only on invalid rows
        max_short = (1.0 - alpha) * q_cycle / (alpha if lost else 1.0)
    prot_days = lt + np.where(is_rs | (policy == "sS") & ~with_u, big_r, 0.0)
    sig_prot = np.sqrt(sigma_ltd(d0, sig_at(prot_days), prot_days, lt_sd) ** 2 + u_var)
    z_fill = z_for_fill_rate(alpha, q_cycle, sig_prot, lost, cfg.z_max, z_min=min(cfg.z_min, -5.0))
    z_raw = np.where(use_fill, z_fill, z_for_csl(alpha))
    z_capped = valid & (d0 > 0) & (z_raw >= cfg.z_max - 1e-9)
    z = np.where(d0 > 0, np.clip(z_raw, cfg.z_min, cfg.z_max), 0.0)
    ss = z * sig_prot
    lvl = d0 * prot_days + u_mean + ss
    exp_csl = np.where(sig_prot > 0, ndtr(z), 1.0)
    exp_fill = fill_rate_normal(z, sig_prot, q_cycle, lost)
    method = np.full(n, "normal", dtype=object)

    # --- empirical protection demand for intermittent / lumpy series ---
    emp_rows = valid & (d0 > 0) & df["demand_class"].isin(cfg.empirical_classes).to_numpy()
    if cfg.empirical_method != "normal" and emp_rows.any():
        e_days = lt + review  # reorder-point policies: one review of demand covers the undershoot
        idx, e_lvl, e_csl, e_short, e_method = _empirical(
            np.flatnonzero(emp_rows),
            df,
            hist,
            cfg,
            d0,
            sig_at(e_days),
            lt,
            lt_sd,
            review,
            e_days,
            alpha,
            use_fill,
            max_short,
        )
        lvl[idx], exp_csl[idx], method[idx] = e_lvl, e_csl, e_method
        exp_fill[idx] = _fill_from_short(e_short, q_cycle[idx], lost)
        e = np.zeros(n, dtype=bool)
        e[idx] = True
        prot_days = np.where(e, e_days, prot_days)
        u_mean = np.where(e, 0.0, u_mean)
        sig_prot = np.where(e, sigma_ltd(d0, sig_at(e_days), e_days, lt_sd), sig_prot)
        ss = np.where(e, lvl - d0 * e_days, ss)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(e, np.where(sig_prot > 0, ss / sig_prot, 0.0), z)
        z_capped &= ~e

    reorder_point = lvl
    order_up_to = np.where(is_rs, lvl, lvl + q_order)
    order_qty_policy = np.where(is_rs, round_order_qty(d0 * big_r, moq, pack), q_order)
    h_day = h_year / cfg.days_per_year
    with np.errstate(divide="ignore", invalid="ignore"):
        orders_per_day = np.where(
            is_rs, np.where(d0 > 0, 1.0 / big_r, 0.0), np.where(q_cycle > 0, d0 / q_cycle, 0.0)
        )
    cost_day = h_day * (ss + q_cycle / 2.0) + k * orders_per_day

    notes = _problems(
        [
            (valid & (sig_src == "poisson") & (d0 > 0), "no sigma given: Poisson sqrt(d) used"),
            (z_capped, f"service level needs z > z_max={cfg.z_max}: capped"),
        ],
        n,
    )
    out = pd.DataFrame(
        {
            "item_id": df["item_id"].to_numpy(),
            "region_id": df["region_id"].to_numpy(),
            "status": np.where(valid, "ok", "invalid"),
            "message": np.where(valid, notes, invalid_msg),
            "policy": policy,
            "method": method,
            "demand_class": df["demand_class"].to_numpy(),
            "segment": seg.to_numpy(),
            "mean_daily_demand": d,
            "sigma_daily": sig_at(prot_days),
            "sigma_source": sig_src,
            "err_sigma_1d": np.where(np.isfinite(gamma), s1, np.nan),
            "err_sum_exponent": np.where(np.isfinite(s1), gamma, np.nan),
            "lead_time_days": lt,
            "lead_time_std_days": lt_sd,
            "review_days": review,
            "protection_days": prot_days,
            "undershoot": u_mean,
            "sigma_ltd": sig_lt,
            "sigma_protection": sig_prot,
            "service_level": alpha,
            "service_type": stype,
            "z": z,
            "z_capped": z_capped,
            "safety_stock": ss,
            "reorder_point": reorder_point,
            "order_up_to": order_up_to,
            "eoq": q_eoq,
            "lot_sizing": lot_kind,
            "order_qty_policy": order_qty_policy,
            "cycle_qty": q_cycle,
            "expected_csl": exp_csl,
            "expected_fill_rate": exp_fill,
            "expected_cost_per_day": cost_day,
            "unit_cost": cost,
            "holding_rate": rate,
            "order_cost": k,
            "moq": moq,
            "pack_size": pack,
        }
    )
    numeric_levels = [
        "sigma_ltd", "sigma_protection", "z", "safety_stock", "reorder_point", "order_up_to", "eoq",
        "order_qty_policy", "cycle_qty", "expected_csl", "expected_fill_rate", "expected_cost_per_day", "undershoot",
    ]  # fmt: skip
    out.loc[~valid, numeric_levels] = np.nan
    out.loc[valid & (d0 == 0), ["expected_csl", "expected_fill_rate"]] = np.nan  # no demand: undefined
    out.loc[~valid, "method"] = "none"
    return out[list(PLAN_COLUMNS)]


def _empirical(rows, df, hist, cfg, d0, sig, lt, lt_sd, review, e_days, alpha, use_fill, max_short):
    """Reorder levels of `rows` from the bootstrap (enough history) or the moment-fitted NB (otherwise).

    Returns (row indices, level, P(X <= level), E[(X - level)+], method); SS = level - d * e_days is at
    least z_min * sigma (0 by default).
    """
    if hist.shape[1]:
        aligned, n_valid = right_align(hist[rows])
    else:
        aligned, n_valid = np.zeros((len(rows), 1)), np.zeros(len(rows), dtype=int)
    nz = (np.nan_to_num(aligned) > 0).sum(axis=1)
    h_mean = np.nansum(aligned, axis=1) / np.maximum(n_valid, 1)
    boot = (cfg.empirical_method == "bootstrap") & (nz >= cfg.bootstrap_min_nonzero) & (h_mean > 0)
    b, g = rows[boot], rows[~boot]
    # SS >= z_min * sigma (z_min = 0: SS >= 0), as for the normal method.
    floor = d0 * e_days + cfg.z_min * sigma_ltd(d0, sig, e_days, lt_sd)
    level, csl, short = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
    if b.size:
        keys = emp.series_keys(df["item_id"].iloc[b], df["region_id"].iloc[b], cfg.seed)
        x = emp.bootstrap_protection_demand(
            aligned[boot], n_valid[boot], keys, lt[b], lt_sd[b], np.round(review[b]), cfg.bootstrap_samples
        )
        if cfg.bootstrap_rescale:  # shape from history, level from the forecast
            x *= (d0[b] / h_mean[boot])[:, None]
        fill_s = emp.empirical_fill_level(x, max_short[b])
        s_b = np.maximum(np.where(use_fill[b], fill_s, emp.empirical_csl_level(x, alpha[b])), floor[b])
        level[boot] = s_b
        csl[boot], short[boot] = emp.empirical_service(x, s_b)
    if g.size:
        var = sigma_ltd(d0[g], sig[g], e_days[g], lt_sd[g]) ** 2
        s_g, _, _ = emp.negbin_levels(floor[g], var, alpha[g], max_short[g], use_fill[g])
        s_g = np.maximum(s_g, floor[g])  # service re-evaluated at the raised level
        level[~boot] = s_g
        csl[~boot], short[~boot] = emp.negbin_service(floor[g], var, s_g)
    return rows, level, csl, short, np.where(boot, "bootstrap", "negbin")


def _fill_from_short(short, q_cycle, lost: bool):
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = q_cycle / (q_cycle + short) if lost else 1.0 - short / q_cycle
    return np.where(q_cycle > 0, np.clip(fr, 0.0, 1.0), np.where(short > 0, 0.0, 1.0))
