"""Lot sizing: EOQ, the one-review floor, pack/MOQ rounding, and Wagner-Whitin dynamic lot sizing for
time-varying demand."""

from __future__ import annotations

import numpy as np
import pandas as pd


def eoq(annual_demand, order_cost, holding_cost_per_unit_year):
    """Economic order quantity sqrt(2 K D / h); 0 when D == 0, NaN when h <= 0 (no finite optimum)."""
    dem, k, h = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (annual_demand, order_cost, holding_cost_per_unit_year))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.sqrt(2.0 * k * dem / h)
    return np.where(dem == 0, 0.0, np.where(h > 0, q, np.nan))


def review_floor(lot, d, review_days):
    """(lot, raised): the lot raised to at least one review interval's demand d * review_days where d > 0.

    A lot is never 0 where there is demand. EOQ = sqrt(2 K D / h) is 0 with order_cost K = 0 and tiny when K is
    tiny; without a set-up cost the cheapest policy orders at every review what was used since the last one
    (lot-for-lot: any bigger lot only adds holding), and a smaller lot could not cover one review's demand.
    `raised` marks the rows where the floor, not the lot, sets the quantity (docs/decisions.md 2026-11-30).
    """
    lot, d, review = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (lot, d, review_days)))
    floor = np.where(d > 0, d * review, 0.0)
    raised = np.isfinite(lot) & (floor > 0) & (lot < floor)
    return np.where(raised, floor, lot), raised


def round_order_qty(qty, moq, pack_size):
    """Raise a positive quantity to the MOQ, then up to a whole number of packs; 0 stays 0.

    MOQ first, packs second: the result is a pack multiple and >= MOQ even when MOQ is not a pack multiple.
    Missing or non-positive pack sizes count as 1 unit, missing MOQ as 0.
    """
    q, moq, pack = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (qty, moq, pack_size)))
    pack = np.where(np.isfinite(pack) & (pack > 0), pack, 1.0)
    moq = np.where(np.isfinite(moq) & (moq > 0), moq, 0.0)
    # Tiny tolerance: 12.000000001 packs from float noise must stay 12 packs, not become 13.
    packs = np.ceil(np.maximum(q, moq) / pack - 1e-9)
    return np.where(q > 0, packs * pack, 0.0)


def wagner_whitin(demand, order_cost, holding_cost_per_unit_period):
    """Optimal uncapacitated lot sizes (Wagner & Whitin 1958): returns (order quantity per period, total cost).

    Order arrives at the start of its period; a unit bought in period i and used in period t costs
    h * (t - i) to hold (per-period h allowed: the holding rates of periods i .. t-1 are summed).
    Zero starting stock, no backorders. order_cost and holding cost may be scalars or one per period.
    DP: F[j] = min over i <= j of F[i-1] + K_i * [demand in i..j > 0] + holding(i..j); O(T^2).
    """
    dem = np.asarray(demand, dtype=float)
    t_len = dem.size
    if t_len == 0:
        return np.zeros(0), 0.0
    if np.any(dem < 0) or not np.all(np.isfinite(dem)):
        raise ValueError("wagner_whitin: demand must be finite and >= 0")
    k = np.broadcast_to(np.asarray(order_cost, dtype=float), (t_len,))
    h = np.broadcast_to(np.asarray(holding_cost_per_unit_period, dtype=float), (t_len,))
    # carry[t] = cost of holding one unit from the start of period 0 to the start of period t.
    carry = np.concatenate([[0.0], np.cumsum(h)])
    best = np.full(t_len + 1, np.inf)
    best[0] = 0.0
    arg = np.zeros(t_len + 1, dtype=int)
    for j in range(1, t_len + 1):  # sequential by nature: F[j] needs every F[i-1], i <= j
        i = np.arange(1, j + 1)
        # holding of demand in periods i..j ordered in period i: sum_t dem[t] * (carry[t] - carry[i]).
        tail_dem = np.cumsum(dem[:j][::-1])[::-1]  # sum of dem[i-1 .. j-1]
        tail_val = np.cumsum((dem[:j] * carry[:j])[::-1])[::-1]
        hold = tail_val[i - 1] - carry[i - 1] * tail_dem[i - 1]
        setup = np.where(tail_dem[i - 1] > 0, k[i - 1], 0.0)
        cost = best[i - 1] + setup + hold
        pick = int(np.argmin(cost))
        best[j], arg[j] = cost[pick], pick + 1
    plan = np.zeros(t_len)
    j = t_len
    while j > 0:
        i = arg[j]
        plan[i - 1] = dem[i - 1 : j].sum()
        j = i - 1
    return plan, float(best[t_len])


def ordering_cost_dominates(eoq_qty, d, period_days: int, min_cover_periods: float):
    """True where the EOQ covers at least `min_cover_periods` buckets of demand (set-up cost outweighs holding)."""
    q, d = np.broadcast_arrays(np.asarray(eoq_qty, dtype=float), np.asarray(d, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = q / (d * period_days)
    return (d > 0) & np.isfinite(cover) & (cover >= min_cover_periods)


def wagner_whitin_batch(demand: np.ndarray, order_cost, holding_cost_per_unit_period):
    """wagner_whitin for many series at once: demand (n, T), one K and h per series.

    Returns (first positive lot (n,), total cost (n,)). The DP runs over periods (sequential) with every
    series in each step; the first lot is what to order when the reorder point triggers.
    """
    dem = np.nan_to_num(np.clip(np.asarray(demand, dtype=float), 0, None))
    n, t_len = dem.shape
    k = np.broadcast_to(np.asarray(order_cost, dtype=float), (n,))[:, None]
    h = np.broadcast_to(np.asarray(holding_cost_per_unit_period, dtype=float), (n,))[:, None]
    carry = h * np.arange(t_len + 1)  # holding one unit from period 0 to period t
    c_dem = np.concatenate([np.zeros((n, 1)), np.cumsum(dem, axis=1)], axis=1)
    c_val = np.concatenate([np.zeros((n, 1)), np.cumsum(dem * carry[:, :t_len], axis=1)], axis=1)
    best = np.zeros((n, t_len + 1))
    arg = np.zeros((n, t_len + 1), dtype=int)
    for j in range(1, t_len + 1):  # F[j] = min over order periods i <= j of F[i-1] + cost(i..j)
        tail_dem = c_dem[:, j : j + 1] - c_dem[:, :j]
        hold = c_val[:, j : j + 1] - c_val[:, :j] - carry[:, :j] * tail_dem
        cost = best[:, :j] + np.where(tail_dem > 0, k, 0.0) + hold
        arg[:, j] = np.argmin(cost, axis=1) + 1
        best[:, j] = cost[np.arange(n), arg[:, j] - 1]
    rows = np.arange(n)
    end, first, active = np.full(n, t_len), np.zeros(n), np.ones(n, dtype=bool)
    for _ in range(t_len):  # walk the plan backwards; the last positive lot seen is the earliest one
        start = arg[rows, end]
        lot = c_dem[rows, end] - c_dem[rows, start - 1]
        first = np.where(active & (lot > 0), lot, first)
        active &= start > 1
        end = np.where(active, start - 1, end)
    return first, best[:, t_len]


def extend_with_tail(buckets: np.ndarray, order_cost, holding_per_unit_period, max_periods: int = 104):
    """Demand buckets (n, T) continued past the forecast horizon with each row's mean bucket (the EOQ's
    stationary demand), far enough that lots of several EOQ covers fit: a rolling horizon. Without the
    tail Wagner-Whitin's first lot can never exceed the horizon's demand (a 28-day forecast caps it at 28
    days), however much ordering cost argues for more. NaN buckets count as 0."""
    dem = np.nan_to_num(np.clip(np.asarray(buckets, dtype=float), 0, None))
    n, t_len = dem.shape
    if t_len == 0:
        return dem
    tail = dem.mean(axis=1)
    k = np.broadcast_to(np.asarray(order_cost, dtype=float), (n,))
    h = np.broadcast_to(np.asarray(holding_per_unit_period, dtype=float), (n,))
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.sqrt(2.0 * k * tail / h) / tail  # EOQ in periods of tail demand
    cover = np.where(np.isfinite(cover), cover, 0.0)
    want = int(min(max_periods, max(t_len, np.ceil(4.0 * cover.max(initial=0.0)) + 2)))
    if want <= t_len:
        return dem
    return np.concatenate([dem, np.repeat(tail[:, None], want - t_len, axis=1)], axis=1)


def wagner_whitin_first_lots(
    forecast: pd.DataFrame, keys: pd.DataFrame, order_cost, holding_per_unit_day, period_days: int
) -> np.ndarray:
    """First Wagner-Whitin lot for each series in `keys` from its forecast path (NaN when no forecast).

    forecast: item_id, region_id, date, yhat (daily); it is bucketed into `period_days` periods from each
    series' first forecast date (a partial last bucket is left out: it would look like a drop in demand), and
    continued past the horizon by extend_with_tail (rolling horizon with an EOQ tail).
    """
    out = np.full(len(keys), np.nan)
    if forecast is None or forecast.empty or len(keys) == 0:
        return out
    fc = forecast[["item_id", "region_id", "date", "yhat"]].copy()
    fc["date"] = pd.to_datetime(fc["date"])
    fc["yhat"] = fc["yhat"].clip(lower=0).fillna(0.0)
    first = fc.groupby(["item_id", "region_id"])["date"].transform("min")
    days = (fc["date"] - first).dt.days
    span = days.groupby([fc["item_id"], fc["region_id"]]).transform("max") + 1
    fc["period"] = days // period_days
    fc = fc[(fc["period"] < span // period_days) | (span < period_days)]
    buckets = fc.pivot_table(index=["item_id", "region_id"], columns="period", values="yhat", aggfunc="sum")
    idx = pd.MultiIndex.from_frame(keys[["item_id", "region_id"]])
    mat = buckets.reindex(idx).to_numpy(dtype=float)
    has = ~np.isnan(mat).all(axis=1)
    k = np.broadcast_to(np.asarray(order_cost, dtype=float), (len(keys),))
    h = np.broadcast_to(np.asarray(holding_per_unit_day, dtype=float), (len(keys),)) * period_days
    ok = has & np.isfinite(k) & np.isfinite(h)
    if ok.any():
        out[ok] = rolling_first_lot(mat[ok], k[ok], h[ok])
    return out


def rolling_first_lot(buckets: np.ndarray, order_cost, holding_per_unit_period) -> np.ndarray:
    """First lot of Wagner-Whitin on the buckets continued by extend_with_tail. A lot that already reaches past
    the forecast is at least the EOQ of the tail's demand: beyond the forecast the tail is stationary and the
    EOQ is its optimum, which a finite DP horizon (lots must tile it) can only undercut."""
    dem = np.nan_to_num(np.clip(np.asarray(buckets, dtype=float), 0, None))
    k = np.broadcast_to(np.asarray(order_cost, dtype=float), (len(dem),))
    h = np.broadcast_to(np.asarray(holding_per_unit_period, dtype=float), (len(dem),))
    first, _ = wagner_whitin_batch(extend_with_tail(dem, k, h), k, h)
    tail_eoq = np.nan_to_num(eoq(dem.mean(axis=1), k, h))
    reaches_tail = first >= dem.sum(axis=1) - 1e-9
    return np.where(reaches_tail, np.maximum(first, tail_eoq), first)
