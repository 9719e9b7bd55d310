"""Hold-out replay: fit the policy on history, then play the held-out demand day by day.

Day t, in this order (vectorised across series; only the day loop is sequential):
1. serve demand D_t from on hand; the unmet part is backordered or lost (cfg.shortage_mode);
2. receive orders due on day t (end of day), then fill backorders from them;
3. review (every day for sQ, every R days for RS/sS, day 0 included): position = on_hand + on_order -
   backorders; order by policies.order_decision; the order lands at the end of day t + L', L' drawn
   from N(L, sL), stochastically rounded, >= 1 (orders may cross).
An order placed at the end of day t therefore protects days t+1 .. t+L': exactly L days of demand, the
lead-time demand of the formulas. Warm start ("auto"): whole units, nothing on order; sQ on hand drawn
uniform on the integers floor(s) + 1 .. floor(s) + Q (the stationary position of (s, Q) under integer
demand; seeded per series), RS/sS ceil(S). A fractional s + Q/2 start lowered the effective reorder point
by up to a unit against integer demand (issue 14).
Metrics (days before cfg.replay.warmup_days excluded):
- fill_rate: units served from stock on the day of demand / units demanded;
- csl: share of replenishment cycles (from one receipt to the next, receipt day included) without a day
  of unmet demand; the cycle before the first receipt (warm start) is not counted;
- ready_rate: share of days ending (after receipts) with on hand > 0;
- avg_on_hand: mean end-of-day on hand; cost = holding + ordering (+ shortage penalty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from skuplan.inventory import empirical as emp
from skuplan.inventory.config import InventoryConfig
from skuplan.inventory.plan import plan_policy
from skuplan.inventory.policies import POLICY_CODES, order_decision
from skuplan.inventory.replay_stats import protection_horizon, rolling_stats  # noqa: F401 (public here too)
from skuplan.inventory.sanity import moq_in_force
from skuplan.inventory.simopt import apply_search, search, side_by_side, simopt_config
from skuplan.series.batch import KEYS, SeriesBatch


def _initial_on_hand(plan: pd.DataFrame, how: str, seed: int) -> np.ndarray:
    """Warm-start on hand per row (module doc); "rop_plus_half_q" is the old fractional start, kept to compare."""
    s = plan["reorder_point"].to_numpy(dtype=float)
    top = plan["order_up_to"].to_numpy(dtype=float)
    q = plan["order_qty_policy"].to_numpy(dtype=float)
    if how == "order_up_to":
        return np.ceil(top)
    if how == "rop_plus_half_q":
        return np.where(plan["policy"].to_numpy() == "sQ", s + q / 2.0, top)
    u = emp.uniforms(emp.series_keys(plan["item_id"], plan["region_id"], seed), 12, ())
    lots = np.maximum(np.round(np.nan_to_num(q)), 1.0)
    uniform_position = np.floor(s) + 1.0 + np.floor(u * lots)
    return np.where(plan["policy"].to_numpy() == "sQ", uniform_position, np.ceil(top))


_PATH = ("on_hand", "backorders", "position", "order", "receipt", "served", "short")


@dataclass
class _Stock:
    """The replay's state per series."""

    on_hand: np.ndarray
    backlog: np.ndarray  # backorders
    on_order: np.ndarray
    pipeline: (
        np.ndarray
    )  # (n, days + longest lead time + 1) receipts due per day: late ones still count as on order


@dataclass
class _Day:
    """One day per series: demand, what stock served of it, the rest, and the receipts."""

    demand: np.ndarray
    served: np.ndarray
    short: np.ndarray
    receipt: np.ndarray


@dataclass
class _Tally:
    """Totals per series over the scored days, and the replenishment cycles behind the CSL."""

    n: int
    totals: dict[str, np.ndarray] = field(init=False)
    cycles: np.ndarray = field(init=False)
    stockout_cycles: np.ndarray = field(init=False)
    cycle_short: np.ndarray = field(init=False)  # a day of the current cycle had unmet demand
    started: np.ndarray = field(init=False)  # a receipt has been seen (the warm-start cycle is not counted)

    def __post_init__(self):
        names = ("demand", "served", "short", "on_hand", "ready", "orders", "ordered", "days")
        self.totals = {k: np.zeros(self.n) for k in names}
        self.cycles, self.stockout_cycles = np.zeros(self.n), np.zeros(self.n)
        self.cycle_short, self.started = np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)

    def count_cycles(self, day: _Day, scored: bool) -> None:
        """A receipt closes a cycle (receipt day included in the next one)."""
        got = day.receipt > 0
        self.cycle_short |= day.short > 0
        if scored:
            self.cycles += got & self.started
            self.stockout_cycles += got & self.started & self.cycle_short
        self.started |= got
        self.cycle_short &= ~got

    def add(self, day: _Day, stock: _Stock, qty: np.ndarray) -> None:
        acc = self.totals
        acc["demand"] += day.demand
        acc["served"] += day.served
        acc["short"] += day.short
        acc["on_hand"] += stock.on_hand
        acc["ready"] += stock.on_hand > 0
        acc["orders"] += qty > 0
        acc["ordered"] += qty
        acc["days"] += 1


def _lead_times(plan: pd.DataFrame, cfg: InventoryConfig, horizon: int) -> np.ndarray:
    """(n, horizon) lead time of an order placed on each day: N(L, sL), stochastically rounded, >= 1."""
    keys = emp.series_keys(plan["item_id"], plan["region_id"], cfg.seed)
    lead = emp.draw_lead_times(
        plan["lead_time_days"].to_numpy(dtype=float)[:, None],
        plan["lead_time_std_days"].to_numpy(dtype=float)[:, None],
        emp.uniforms(keys, 10, (horizon,)),
        emp.uniforms(keys, 11, (horizon,)),
    )
    return np.nan_to_num(lead, nan=1.0).astype(int)  # rows without an item (no lead time) never order


def _start(plan: pd.DataFrame, cfg: InventoryConfig, ok: np.ndarray, lead: np.ndarray,
           initial_on_hand: np.ndarray | None) -> _Stock:  # fmt: skip
    n, horizon = lead.shape
    on_hand = np.where(
        ok,
        initial_on_hand
        if initial_on_hand is not None
        else _initial_on_hand(plan, cfg.replay.initial_stock, cfg.seed),
        0.0,
    )
    on_hand = np.nan_to_num(on_hand.astype(float))
    pipeline = np.zeros((n, horizon + int(lead.max(initial=1)) + 1))
    return _Stock(on_hand, np.zeros(n), np.zeros(n), pipeline)


def _serve_and_receive(stock: _Stock, demand: np.ndarray, t: int, lost_mode: bool) -> _Day:
    """Steps 1 and 2 of day t (module doc): serve, then receive and fill backorders."""
    served = np.minimum(np.maximum(stock.on_hand, 0.0), demand)
    short = demand - served
    stock.on_hand -= served
    if not lost_mode:
        stock.backlog += short
    rec = stock.pipeline[:, t]
    stock.on_hand += rec
    stock.on_order -= rec
    if not lost_mode:
        clear = np.minimum(stock.on_hand, stock.backlog)
        stock.on_hand -= clear
        stock.backlog -= clear
    return _Day(demand, served, short, rec)


def _review(stock: _Stock, levels: tuple, lead: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 3 of day t: (position at review, quantity ordered); the order lands at t + its lead time."""
    code, s, big_s, q, moq, pack, d, review, ok = levels
    is_review = ok & (t % review == 0)
    position = stock.on_hand + stock.on_order - stock.backlog
    qty, _ = order_decision(code, position, s, big_s, q, moq, pack, d)
    qty = np.where(is_review, qty, 0.0)
    placed = qty > 0
    np.add.at(stock.pipeline, (np.flatnonzero(placed), t + lead[placed, t]), qty[placed])
    stock.on_order += qty
    return position, qty


def simulate(
    demand: np.ndarray,
    plan: pd.DataFrame,
    cfg: InventoryConfig,
    initial_on_hand: np.ndarray | None = None,
    record: bool = False,
    replans: dict[int, pd.DataFrame] | None = None,
):
    """Replay `demand` (n, H) through the policies in `plan` (plan_policy rows, same order).

    replans: {day: plan} switches to new levels from that day on (same rows and order), for a replay that
    re-plans like the nightly job does. Returns (metrics DataFrame, path dict or None); metrics carry the
    targets of `plan`. path (record=True) holds (n, H) arrays: on_hand and backorders at end of day,
    position after review, order, receipt, served, short.
    """
    n, horizon = demand.shape
    lost_mode = cfg.shortage_mode == "lost_sales"
    levels = _levels(plan, cfg)
    lead = _lead_times(plan, cfg, horizon)
    stock = _start(plan, cfg, levels[-1], lead, initial_on_hand)
    tally = _Tally(n)
    path = {k: np.zeros((n, horizon)) for k in _PATH} if record else None
    for t in range(horizon):  # sequential by nature: today's stock is yesterday's stock minus demand
        if replans and t in replans:
            levels = _levels(replans[t], cfg)
        day = _serve_and_receive(stock, np.nan_to_num(demand[:, t]), t, lost_mode)
        scored = t >= cfg.replay.warmup_days
        tally.count_cycles(day, scored)
        position, qty = _review(stock, levels, lead, t)
        if scored:
            tally.add(day, stock, qty)
        if record:
            for k, v in zip(_PATH, (stock.on_hand, stock.backlog, position + qty, qty, day.receipt, day.served,
                                    day.short), strict=True):  # fmt: skip
                path[k][:, t] = v
    return _metrics(plan, cfg, tally, lost_mode), path


def _levels(plan: pd.DataFrame, cfg: InventoryConfig):
    code = plan["policy"].map(POLICY_CODES).to_numpy(dtype=float)
    cols = ["reorder_point", "order_up_to", "order_qty_policy", "moq", "pack_size", "mean_daily_demand"]
    s, big_s, q, moq, pack, d = (plan[c].to_numpy(dtype=float) for c in cols)
    moq = moq_in_force(moq, d, cfg.alerts)  # the MOQ replenishment() applies, so the replay orders the same
    review = np.maximum(
        np.round(np.nan_to_num(plan["review_days"].to_numpy(dtype=float), nan=1.0)), 1
    ).astype(int)
    ok = plan["status"].to_numpy() == "ok"
    return code, s, big_s, q, moq, pack, d, review, ok


def _metrics(plan, cfg, tally: _Tally, lost_mode) -> pd.DataFrame:
    acc, cycles, so_cycles = tally.totals, tally.cycles, tally.stockout_cycles
    h_day = (
        plan["unit_cost"].to_numpy(dtype=float)
        * plan["holding_rate"].to_numpy(dtype=float)
        / cfg.days_per_year
    )
    days = np.maximum(acc["days"], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(acc["demand"] > 0, acc["served"] / acc["demand"], np.nan)
        csl = np.where(cycles > 0, 1.0 - so_cycles / cycles, np.nan)
    holding = acc["on_hand"] * h_day
    ordering = acc["orders"] * plan["order_cost"].to_numpy(dtype=float)
    shortage = acc["short"] * cfg.replay.shortage_cost_per_unit
    out = plan[KEYS + ["policy", "method", "demand_class", "segment", "service_type", "service_level",
                       "expected_fill_rate", "expected_csl"]].copy()  # fmt: skip
    out = out.assign(
        demand=acc["demand"], served=acc["served"], fill_rate=fill, cycles=cycles, stockout_cycles=so_cycles,
        csl=csl, ready_rate=acc["ready"] / days, avg_on_hand=acc["on_hand"] / days,
        lost_units=acc["short"] if lost_mode else 0.0, backordered_units=0.0 if lost_mode else acc["short"],
        n_orders=acc["orders"], ordered_units=acc["ordered"], holding_cost=holding, ordering_cost=ordering,
        shortage_cost=shortage, total_cost=holding + ordering + shortage,
        cost_per_day=(holding + ordering + shortage) / days,
    )  # fmt: skip
    return out.reset_index(drop=True)


def summarize(metrics: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Per group (one column or several): series count, pooled fill rate (units) and CSL (cycles), the mean
    target and the mean promised (the plan's expected figure of the row's service type) beside the mean
    achieved, their gaps to target in pp (per service type), and the costs."""
    by = [by] if isinstance(by, str) else list(by)
    is_fill = (metrics["service_type"] == "fill_rate").to_numpy()
    achieved = np.where(is_fill, metrics["fill_rate"], metrics["csl"])
    promised = np.where(is_fill, metrics["expected_fill_rate"], metrics["expected_csl"])
    target = metrics["service_level"].to_numpy(dtype=float)
    m = metrics.assign(
        achieved=achieved, promised=promised, target=target,
        fill_gap_pp=np.where(is_fill, 100 * (metrics["fill_rate"] - target), np.nan),
        csl_gap_pp=np.where(~is_fill, 100 * (metrics["csl"] - target), np.nan),
        gap_pp=100 * (achieved - target), promise_gap_pp=100 * (achieved - promised),
    )  # fmt: skip
    g = m.groupby([m[c].fillna("none") for c in by], sort=True)
    out = g.agg(
        n_series=("item_id", "size"), demand=("demand", "sum"), served=("served", "sum"), cycles=("cycles", "sum"),
        stockout_cycles=("stockout_cycles", "sum"), target=("target", "mean"), promised=("promised", "mean"),
        achieved=("achieved", "mean"), gap_pp=("gap_pp", "mean"), promise_gap_pp=("promise_gap_pp", "mean"),
        fill_gap_pp=("fill_gap_pp", "mean"), csl_gap_pp=("csl_gap_pp", "mean"), ready_rate=("ready_rate", "mean"),
        avg_on_hand=("avg_on_hand", "sum"), holding_cost=("holding_cost", "sum"), ordering_cost=("ordering_cost", "sum"),
        shortage_cost=("shortage_cost", "sum"), total_cost=("total_cost", "sum"), lost_units=("lost_units", "sum"),
        backordered_units=("backordered_units", "sum"),
    )  # fmt: skip
    out["fill_rate"] = out["served"] / out["demand"]
    out["csl"] = 1 - out["stockout_cycles"] / out["cycles"]
    return out.reset_index()


@dataclass
class ReplayResult:
    plan: pd.DataFrame
    metrics: pd.DataFrame
    by_segment: pd.DataFrame
    by_class: pd.DataFrame
    by_policy: pd.DataFrame
    path: dict | None = None  # simulate(record=True) arrays when replay_holdout(record=True)
    by_service_type: pd.DataFrame | None = None
    by_cell: pd.DataFrame | None = None  # demand class x policy x service type
    simopt: pd.DataFrame | None = None  # simopt.ADJUST_COLUMNS per group when cfg.simopt.enabled
    replans: dict[int, pd.DataFrame] | None = None  # hold-out day -> the plan in force from that day


def replay_holdout(
    batch: SeriesBatch,
    items: pd.DataFrame,
    cfg: InventoryConfig,
    stats_at: Callable[[int, np.ndarray, pd.DataFrame], pd.DataFrame] | None = None,
    record: bool = False,
) -> ReplayResult:
    """Policy from all but the last cfg.replay.holdout_days of `batch`, replayed on those days.

    batch: the series to replay; its grid (earliest start among them to the cutoff) is the replay's
    calendar. items: item master (plan_policy columns) by item_id.
    With cfg.replay.replan_every_days > 0 the policy is re-fitted every that many days from the history
    revealed so far (what the nightly job does); 0 keeps the first policy for the whole hold-out.
    stats_at(day, past, base) -> plan_policy input for hold-out day `day` from `past` (n, days before it),
    rows in the order of `base` (the batch's keys + item master); default rolling_stats (trailing-mean
    forecast). Metrics and summaries are scored against the service targets of the first plan.
    With cfg.simopt.enabled the simulation-optimised levels (simopt.search on paths from the history before
    the hold-out; each re-plan keeps its group's shift and lot multiplier) are replayed on the same demand
    and lead times; metrics then hold the levels cfg.simopt.use picks per group and the other's figures
    beside them (simopt.side_by_side).
    record=True keeps the day-by-day arrays of simulate() in the result (debugging; n x days floats each).
    """
    rc = cfg.replay
    span = batch.n_days
    if span <= rc.holdout_days + rc.fit_window_days:
        raise ValueError(
            f"replay needs more than holdout_days + fit_window_days = {rc.holdout_days + rc.fit_window_days} days"
            f" of history, got {span}"
        )
    # (series, days) in C order: the row-wise math (features, trailing sums) sums in the same order every run.
    full = np.ascontiguousarray(batch.units.T)
    base = batch.keys[KEYS].merge(items, on="item_id", how="left", validate="many_to_one")
    cut = span - rc.holdout_days
    stats_at = stats_at or (lambda day, past, base: rolling_stats(past, base, cfg))

    def plan_at(day: int) -> pd.DataFrame:
        past = full[:, : cut + day]
        return plan_policy(stats_at(day, past, base), cfg, history=past)

    plan = plan_at(0)
    every = rc.replan_every_days
    replans = {t: plan_at(t) for t in range(every, rc.holdout_days, every)} if every else None
    metrics, path = simulate(full[:, cut:], plan, cfg, replans=replans, record=record)
    metrics["replans"] = 1.0 + len(replans or {})
    adjust = None
    if simopt_config(cfg).enabled:
        found = search(plan, full[:, :cut], cfg)
        alt_replans = {t: apply_search(p, found, cfg)[0] for t, p in replans.items()} if replans else None
        alt, _ = simulate(full[:, cut:], apply_search(plan, found, cfg)[0], cfg, replans=alt_replans)
        metrics, adjust = side_by_side(metrics, alt, found, cfg), found.adjust
    else:
        metrics = metrics.assign(policy_source="analytic", alt_fill_rate=np.nan, alt_csl=np.nan,
                                 alt_cycles=np.nan, alt_total_cost=np.nan, simopt_shift_sigma=np.nan, simopt_lot_multiplier=np.nan)  # fmt: skip
    return ReplayResult(
        plan, metrics, summarize(metrics, "segment"), summarize(metrics, "demand_class"),
        summarize(metrics, "policy"), path, summarize(metrics, "service_type"),
        summarize(metrics, ["demand_class", "policy", "service_type"]), adjust, replans,
    )  # fmt: skip
