"""The declarations behind skuplan.contracts: per table, per column (name, type, nullable, comment), in the order
the columns are written. Data only; read it through skuplan.contracts.contract().

Types: string, double, long, int, bool, date, timestamp, and the list types array<int>, array<double>, array<bool>.
Units are item units unless a comment says otherwise; inventory levels refer to the inventory position (on hand +
on order - backorders).
"""

from __future__ import annotations

from typing import NamedTuple

ColumnSpec = tuple[str, str, bool, str]  # name, type, nullable, comment


class TableSpec(NamedTuple):
    table: str
    comment: str
    columns: tuple[ColumnSpec, ...]
    partitioned: bool = True


RUN_DATE_COMMENT = "planning date of the run that wrote the row; history ends the day before"
ITEM: ColumnSpec = ("item_id", "string", False, "item (SKU) key")
REGION: ColumnSpec = ("region_id", "string", False, "region key")
KEYS: tuple[ColumnSpec, ...] = (ITEM, REGION)
DAY: ColumnSpec = ("date", "date", False, "calendar day")

# Segmentation features per series (inventory.segments computes them, k-means clusters on them).
FEATURE_COLUMNS = ("volume", "cv", "adi", "trend", "seasonal_strength")
_FEATURE_COMMENTS = {
    "volume": "mean daily units over the window",
    "cv": "coefficient of variation of daily units",
    "adi": "average demand interval: days per non-zero day (inf -> null when never sold)",
    "trend": "slope of bucketed demand relative to its mean",
    "seasonal_strength": "share of variance explained by the weekly profile, in [0, 1]",
}
_FEATURES: tuple[ColumnSpec, ...] = tuple((n, "double", True, _FEATURE_COMMENTS[n]) for n in FEATURE_COLUMNS) + (
    ("xyz_cv", "double", True, "coefficient of variation of bucketed demand (XYZ class input)"),
)
# Backtest metrics per series, model and fold (forecast.backtest computes them).
METRIC_COLUMNS = ("wape", "mase", "rmsse", "bias", "pinball", "coverage")
_METRIC_COMMENTS = {
    "wape": "weighted absolute percentage error over the fold (null: no demand in the fold)",
    "mase": "mean absolute error scaled by the seasonal-naive error",
    "rmsse": "root mean squared error scaled by the seasonal-naive error",
    "bias": "sum of (forecast - actual) over the sum of actuals (null: no demand in the fold)",
    "pinball": "mean pinball loss per scored day and quantile level",
    "coverage": "share of actuals inside the outer quantile band (null with fewer than two quantiles)",
}

_PLAN: tuple[ColumnSpec, ...] = (
    *KEYS,
    ("status", "string", False, "ok | invalid (inputs unusable, levels NaN; see message) | no_level (the "
     "demand law gave no sane level: levels NaN, alert no_policy_level)"),
    ("message", "string", True, "why a row is invalid, and notes (sigma fallback, z capped); empty when nothing "
     "to say"),
    ("policy", "string", True, "sQ (reorder point s, fixed lot Q) | RS (review every R, order up to S) | sS "
     "(review every R, order up to S when position <= s)"),
    ("method", "string", True, "normal | bootstrap | negbin: how the protection-interval demand distribution was "
     "modelled"),
    ("demand_class", "string", True, "smooth | erratic | intermittent | lumpy (input, passed through)"),
    ("segment", "string", True, "ABC x XYZ segment (input, passed through)"),
    ("mean_daily_demand", "double", True, "d: forecast mean demand per day"),
    ("sigma_daily", "double", True, "sigma_d actually used, per day: with the forecast-error profile sigma_1 "
     "P^gamma / sqrt(P) at the row's protection_days (so P sigma_d^2 is the variance of P-day error sums), else "
     "the input sigma"),
    ("sigma_source", "string", True, "forecast_error_profile (sigma of P-day forecast-error sums from the "
     "engine's backtest: err_sigma_1d * P^err_sum_exponent) | forecast_error (input sigma_daily, variance scaled "
     "by P) | demand | poisson (sqrt(d), when no sigma is available)"),
    ("err_sigma_1d", "double", True, "sigma_1 of the forecast-error profile (input from forecast_status, passed "
     "through; NaN = none)"),
    ("err_sum_exponent", "double", True, "gamma of the profile: sigma of the P-day error sum = err_sigma_1d * "
     "P^gamma (0.5 = independent days, 1 = level error shared by all days)"),
    ("lead_time_days", "double", True, "L"),
    ("lead_time_std_days", "double", True, "sigma_L"),
    ("review_days", "double", True, "review interval r of the policy: continuous_review_days for sQ, "
     "review_period_days else"),
    ("protection_days", "double", True, "days of demand the reorder level covers: L (sQ, sS with undershoot; "
     "level_model discrete: every reorder-point row), L + R (RS, sS textbook), L + r (normal model's empirical "
     "reorder-point rows)"),
    ("undershoot", "double", True, "expected drop of the position below s at the review that orders: discrete "
     "model, the mean of its exact distribution (sQ: position uniform on s+1..s+Q; sS: first passage from S); "
     "normal model, renewal limit for sQ, Wald sum from S for sS (0 for RS, empirical methods, undershoot='none')"),
    ("sigma_ltd", "double", True, "sqrt(P sigma_d^2 + d^2 sigma_L^2) with P = L for sQ, L + R for RS/sS "
     "(textbook); with the forecast-error profile P sigma_d^2 = (err_sigma_1d P^err_sum_exponent)^2"),
    ("sigma_protection", "double", True, "sigma of the demand the safety stock buffers (sigma_ltd plus "
     "undershoot variance; discrete model: sd of the exact lead-time demand + undershoot, or of D_{L+R} for RS)"),
    ("service_level", "double", True, "target: segment override, else item, else config default"),
    ("service_type", "string", True, "csl (P(no stockout per cycle)) | fill_rate (share of demand served from "
     "stock)"),
    ("z", "double", True, "safety factor used: SS / sigma_protection, in [z_min, z_max] (equivalent z for "
     "empirical methods)"),
    ("z_capped", "bool", True, "True when the target needed z > z_max (service level too close to 1)"),
    ("safety_stock", "double", True, "SS = z * sigma_protection (>= 0 unless z_min < 0): expected net stock when "
     "a replenishment arrives"),
    ("reorder_point", "double", True, "s: order when position <= s; mean protected demand + undershoot + SS "
     "(discrete model: a whole number of units, the forecast summed over P from the run date). RS: equals S "
     "(order when < S)"),
    ("order_up_to", "double", True, "S: RS/sS order-up-to level; sQ: s + Q, the highest position the policy "
     "reaches"),
    ("eoq", "double", True, "sqrt(2 K D / h), D = d * days_per_year, h = unit_cost * holding_rate (unrounded)"),
    ("lot_sizing", "string", True, "eoq | wagner_whitin | review_demand (one review interval's demand, where the "
     "EOQ is smaller: order_cost 0 or tiny): where order_qty_policy comes from"),
    ("order_qty_policy", "double", True, "lot: sQ Q, sS S - s (rounded up to pack size, >= MOQ in force), at "
     "least one review interval's demand; RS typical order d * R"),
    ("cycle_qty", "double", True, "demand per replenishment cycle in the fill-rate formula: Q (sQ), d * R (RS), "
     "S - s + undershoot (sS)"),
    ("expected_csl", "double", True, "model-predicted cycle service level of these levels"),
    ("expected_fill_rate", "double", True, "model-predicted fill rate of these levels"),
    ("expected_cost_per_day", "double", True, "holding h/365 * (SS + cycle_qty / 2) + ordering K * orders per "
     "day"),
    ("unit_cost", "double", True, "input, passed through (KPIs, alerts)"),
    ("holding_rate", "double", True, "input, passed through"),
    ("order_cost", "double", True, "K, input, passed through"),
    ("moq", "double", True, "input (missing -> 1); orders leave it out where it covers more than "
     "alerts.moq_ignore_days_of_demand days of demand (see message)"),
    ("pack_size", "double", True, "input (missing -> 1)"),
)  # fmt: skip
_SEGMENT_LABELS: tuple[ColumnSpec, ...] = (
    ("abc", "string", True, "A | B | C: class by share of annual demand value"),
    ("xyz", "string", True, "X | Y | Z: class by variability of bucketed demand"),
)
_CLUSTER: tuple[ColumnSpec, ...] = (
    ("cluster", "int", True, "k-means cluster on the segmentation features, 0 = highest centroid volume"),
    ("cluster_label", "string", True, "hot | cold: the cluster's centroid volume is above zero or not"),
)
_SEGMENT: ColumnSpec = ("segment", "string", True, "ABC x XYZ segment, e.g. AX")
_REPLAY: tuple[ColumnSpec, ...] = (
    *KEYS,
    ("policy", "string", True, "sQ | RS | sS replayed"),
    ("method", "string", True, "normal | bootstrap | negbin"),
    ("demand_class", "string", True, "smooth | erratic | intermittent | lumpy"),
    _SEGMENT,
    ("service_type", "string", True, "csl | fill_rate: the target's kind"),
    ("service_level", "double", True, "target service level"),
    ("expected_fill_rate", "double", True, "fill rate the plan's model expects"),
    ("expected_csl", "double", True, "cycle service level the plan's model expects"),
    ("demand", "double", True, "held-out demand replayed, units"),
    ("served", "double", True, "units served from stock"),
    ("fill_rate", "double", True, "achieved fill rate: served / demand (null without demand)"),
    ("cycles", "double", True, "replenishment cycles in the hold-out"),
    ("stockout_cycles", "double", True, "cycles that ended with a stockout"),
    ("csl", "double", True, "achieved cycle service level (null without a cycle)"),
    ("ready_rate", "double", True, "share of days with stock on hand"),
    ("avg_on_hand", "double", True, "average units on hand per day"),
    ("lost_units", "double", True, "demand lost (lost-sales mode)"),
    ("backordered_units", "double", True, "demand backordered (backorder mode)"),
    ("n_orders", "double", True, "orders placed"),
    ("ordered_units", "double", True, "units ordered"),
    ("holding_cost", "double", True, "holding cost over the hold-out"),
    ("ordering_cost", "double", True, "ordering cost over the hold-out"),
    ("shortage_cost", "double", True, "shortage cost over the hold-out"),
    ("total_cost", "double", True, "holding + ordering + shortage cost"),
    ("cost_per_day", "double", True, "total_cost per replayed day"),
    ("replans", "double", True, "plans in force during the hold-out (re-planned every replay.replan_every_days)"),
    ("policy_source", "string", True, "analytic | simopt: the levels this row's figures replay (simopt.use)"),
    ("alt_fill_rate", "double", True, "fill rate of the other levels (simopt or analytic) on the same demand; "
     "null when simopt is off"),
    ("alt_csl", "double", True, "cycle service level of the other levels"),
    ("alt_cycles", "double", True, "replenishment cycles of the other levels"),
    ("alt_total_cost", "double", True, "total cost of the other levels"),
    ("simopt_shift_sigma", "double", True, "simopt: the group's reorder-level shift, in sigma_protection units"),
    ("simopt_lot_multiplier", "double", True, "simopt: the group's lot multiplier"),
    ("replay_run_date", "date", True, "run_date of the night whose replay these figures are: tonight, or an "
     "earlier night's carried forward (inventory.replay.every_days)"),
    ("replay_basis", "string", True, "hash of the settings the replay ran under (inventory config, history "
     "days): a night carries rows forward only under the same"),
)  # fmt: skip

OUTPUT_CONTRACTS: dict[str, TableSpec] = {t.table: t for t in (
    TableSpec("quarantine", "Input rows rejected by validation, one per row, with the rule that rejected it", (
        ("source", "string", False, "input table the row came from"),
        ("payload", "string", True, "the rejected input row as JSON (contract columns only)"),
        ("reason_code", "string", False, "machine-readable rejection rule"),
        ("reason", "string", False, "human-readable rejection reason"),
        ("run_date", "date", False, RUN_DATE_COMMENT),
    )),
    TableSpec("data_flags", "Sales flagged (not dropped) as extreme outliers against the series' median day", (
        *KEYS, DAY,
        ("flag", "string", False, "kind of flag (EXTREME_OUTLIER)"),
        ("value", "double", True, "the day's units"),
        ("threshold", "double", True, "units above which the day is flagged: factor x the series' median day"),
    )),
    # Quantile columns (one double per forecast.quantiles level) follow yhat: see contracts.contract.
    TableSpec("forecasts", "Daily forecast per item x region for the horizon after the run date, with quantiles", (
        *KEYS, DAY,
        ("yhat", "double", True, "point forecast of units for the day"),
        ("model", "string", False, "forecast model that produced the row"),
    )),
    TableSpec("forecast_status", "One row per series: chosen model, ok/fallback/failed and why", (
        *KEYS,
        ("model", "string", False, "forecast model chosen for the series"),
        ("status", "string", False, "ok, fallback or failed"),
        ("message", "string", True, "why (empty when nothing to say)"),
        ("n_obs", "long", False, "days of history the series has"),
        ("demand_class", "string", True, "smooth | erratic | intermittent | lumpy"),
        ("err_sigma_1d", "double", True, "forecast-error profile: sigma_1 of sigma(h) = sigma_1 * "
         "h^err_sum_exponent, the RMSE of the chosen model's backtest errors summed over h days (null: no "
         "backtest)"),
        ("err_sum_exponent", "double", True, "forecast-error profile exponent gamma: 0.5 = independent days, 1 = "
         "level error shared by every day of the interval"),
    )),
    TableSpec("forecast_metrics", "Rolling-origin backtest metrics per series, model and fold", (
        *KEYS,
        ("model", "string", False, "forecast model evaluated"),
        ("fold", "long", False, "backtest fold, 0 = earliest origin"),
        *((m, "double", True, _METRIC_COMMENTS[m]) for m in METRIC_COLUMNS),
        ("selected", "bool", False, "true for the model chosen for the series"),
    )),
    TableSpec("inventory_policy", "Safety stock, reorder point, order-up-to and lot size per item x region",
              (*_PLAN, *_SEGMENT_LABELS, *_CLUSTER)),
    TableSpec("replenishment", "Order recommendation per item x region from today's inventory position", (
        *KEYS,
        ("policy", "string", True, "sQ | RS | sS (from plan_policy)"),
        ("inventory_position", "double", True, "on_hand + on_order - backorders (0 when the series has no "
         "inventory row: reason_code no_inventory_row)"),
        ("reorder_point", "double", True, "s of the policy (RS: S)"),
        ("order_up_to", "double", True, "S of the policy (sQ: s + Q)"),
        ("order_qty", "double", True, "units to order now: policy quantity, >= MOQ, rounded up to whole packs; "
         "0 = no order"),
        ("reason_code", "string", False, "below_reorder_point | above_reorder_point | zero_demand | "
         "clear_backorders | invalid | no_inventory_row (no inventory row: position assumed 0, the decision is in "
         "reason)"),
        ("reason", "string", True, "the decision in words, with the numbers that drove it"),
        ("expected_arrival_date", "date", True, "run_date + ceil(lead_time_days) when ordering, else empty"),
    )),
    TableSpec("alerts", "Exceptions on today's inventory against the policy", (
        *KEYS,
        ("alert_type", "string", False, "kind of exception: impossible_data | below_safety_stock | "
         "projected_stockout | overstock | overstock_days | dead_stock | no_inventory_row | moq_exceeds_demand | "
         "long_lead_time | no_policy_level (rules: skuplan.inventory.alerts)"),
        ("severity", "string", False, "low, medium or high"),
        ("value", "double", True, "the number that fired the rule, in the rule's unit (units or days)"),
        ("threshold", "double", True, "the rule's threshold, same unit as value"),
        ("message", "string", True, "the alert in words"),
    )),
    TableSpec("kpis", "Inventory KPIs per item x region: value, days of supply, turnover, projected service", (
        *KEYS,
        ("on_hand", "double", True, "units on hand today (null: the series has no inventory row; then every stock "
         "figure of the row is null)"),
        ("inventory_value", "double", True, "max(on_hand, 0) * unit_cost"),
        ("days_of_supply", "double", True, "on_hand / d (0 when no stock; inf -> null when d = 0 and stock > 0)"),
        ("turnover", "double", True, "annual forecast demand / on_hand (null without stock): turns per year at "
         "today's stock"),
        ("policy_turnover", "double", True, "annual demand / expected average on hand of the policy (SS + "
         "cycle_qty / 2)"),
        ("projected_fill_rate", "double", True, "fill rate the policy levels are expected to deliver "
         "(plan_policy model)"),
        ("projected_csl", "double", True, "cycle service level the policy levels are expected to deliver"),
    )),
    TableSpec("segments", "ABC x XYZ segments and k-means clusters with their features",
              (*KEYS, *_SEGMENT_LABELS, _SEGMENT, *_CLUSTER, *_FEATURES)),
    TableSpec("policy_backtest", "Replay of held-out demand through the policy: achieved service and cost per "
              "series", _REPLAY),
    TableSpec("allocation", "DC stock allocated to regions by linear programming, with shortages and solver "
              "status", (
        ITEM,
        ("dc_id", "string", True, "distribution centre key (null on a shortage row)"),
        REGION,
        ("units", "double", False, "units"),
        ("unit_cost", "double", True, "lane cost per unit; on a shortage row, the shortage penalty per unit"),
        ("shortage_units", "double", False, "requirement that no DC could cover"),
        ("lp_status", "string", False, "solver outcome for the item's LP block (optimal, no_lane, infeasible, "
         "time_limit, ...)"),
        ("message", "string", True, "why: the no_lane reason, the solver's message, or a rebalancing "
         "transfer's route; empty otherwise"),
    )),
    TableSpec("runs", "Run manifest: one row per stage per run, with row counts, seconds and Delta versions", (
        ("run_id", "string", False, "one id per run"),
        ("run_date", "date", False, RUN_DATE_COMMENT),
        ("config_hash", "string", False, "fingerprint of the run's configuration"),
        ("stage", "string", False, "pipeline stage"),
        ("rows_in", "long", True, "rows the stage read"),
        ("rows_out", "long", True, "rows the stage accepted or wrote"),
        ("rows_quarantined", "long", True, "rows the stage quarantined (validate only)"),
        ("seconds", "double", False, "wall-clock seconds of the stage"),
        ("status", "string", False, "ok or failed"),
        ("detail", "string", True, "stage summary: reconciliation, counts, solver statuses"),
        ("table_versions", "string", True, "JSON: Delta version of each table the stage wrote"),
        ("finished_at", "timestamp", False, "when the manifest row was written (UTC)"),
        ("scenario", "string", True, "what-if scenario of the run (base: the nightly plan; null: written before "
         "scenarios existed, read as base)"),
    ), partitioned=False),
    # The intraday stream's tables (skuplan.stream): not partitioned by run_date; batch_id is the micro-batch.
    TableSpec("inventory_position", "Intraday on-hand stock per item x region, kept current by `skuplan stream`", (
        *KEYS,
        ("on_hand", "double", False, "units on hand after every event applied so far (opening_on_hand plus the "
         "sum of their signed qty)"),
        ("events_applied", "long", False, "distinct events applied to the row"),
        ("late_events", "long", False, "events applied that arrived after complete_through had passed them"),
        ("last_event_time", "timestamp", True, "latest event_time applied"),
        ("complete_through", "timestamp", True, "the row holds every event up to this event time (latest event "
         "time seen by the stream minus stream.allowed_lateness_minutes, when the row was last updated)"),
        ("batch_id", "long", False, "micro-batch that last updated the row"),
        ("batch_start_on_hand", "double", False, "on_hand before that micro-batch (a replayed batch restarts "
         "from it)"),
        ("opening_on_hand", "double", False, "stock the position started from: on_hand of the nightly inventory "
         "snapshot (staged_inventory) of opening_run_date, or 0 when that snapshot had no row for it"),
        ("opening_run_date", "date", True, "run_date of the complete nightly run whose snapshot gave "
         "opening_on_hand (null: no snapshot row, started from 0)"),
    ), partitioned=False),
    TableSpec("reorder_signals", "One row per crossing of the reorder point by an intraday position", (
        ("signal_id", "string", False, "sha-256 of item_id, region_id and event_id: one signal per crossing"),
        *KEYS,
        ("event_id", "string", False, "the event that took the position to or below the reorder point"),
        ("event_time", "timestamp", False, "its event time"),
        ("on_hand", "double", False, "position after the event"),
        ("reorder_point", "double", False, "s of the inventory_policy row in force"),
        ("order_qty", "double", True, "order_qty_policy of that row: the quantity to order"),
        ("policy_run_date", "date", False, "run_date of the complete nightly run the policy comes from"),
        ("batch_id", "long", False, "micro-batch that emitted the signal"),
        ("signalled_at", "timestamp", False, "when the micro-batch computed the signal (UTC)"),
    ), partitioned=False),
    TableSpec("stream_alerts", "Intraday alerts: a position that went below zero", (
        ("alert_id", "string", False, "sha-256 of item_id, region_id and event_id"),
        *KEYS,
        ("alert_type", "string", False, "negative_on_hand: more units left than the position held"),
        ("event_id", "string", False, "the event that took on_hand below zero"),
        ("event_time", "timestamp", False, "its event time"),
        ("on_hand", "double", False, "position after the event"),
        ("batch_id", "long", False, "micro-batch that raised the alert"),
        ("raised_at", "timestamp", False, "when the micro-batch computed the alert (UTC)"),
    ), partitioned=False),
    TableSpec("stream_quarantine", "Events the stream rejected, one row per event, with the rule that rejected it", (
        ("source", "string", False, "files | delta | kafka"),
        ("event_id", "string", True, "event_id as sent (null when missing)"),
        ("payload", "string", True, "the rejected event as JSON text (the Kafka value as sent)"),
        ("reason_code", "string", False, "malformed | missing_key | bad_event_time | unknown_kind | "
         "non_numeric_qty | negative_qty"),
        ("reason", "string", False, "human-readable rejection reason and fix"),
        ("batch_id", "long", False, "micro-batch that read it"),
        ("quarantined_at", "timestamp", False, "when (UTC)"),
    ), partitioned=False),
)}  # fmt: skip

# Frames the Spark glue exchanges with the pure modules; never written as they are.
FRAME_CONTRACTS: dict[str, TableSpec] = {t.table: t for t in (
    TableSpec("daily_series", "One row per item x region x day of the sales aggregate", (
        *KEYS, DAY,
        ("units", "double", False, "units sold that day"),
        ("promo", "double", False, "promotion intensity in [0, 1]"),
        ("price", "double", True, "selling price (null: not given)"),
        ("stockout", "bool", False, "the shelf was empty: the day's sales are censored, not low demand"),
    ), partitioned=False),
    TableSpec("inventory_features", "Segmentation features per series", (*KEYS, *_FEATURES), partitioned=False),
    TableSpec("inventory_plan", "plan_policy's output per series (inventory_policy before the segment labels)",
              _PLAN, partitioned=False),
)}  # fmt: skip

# Typed input columns: non-nullable = required in the file; nullable = optional (see contracts.OPTIONAL_DEFAULTS).
INPUT_CONTRACTS: dict[str, TableSpec] = {t.table: t for t in (
    TableSpec("sales", "Sales history: units per item x region x day (x channel)", (
        ITEM, REGION, DAY,
        ("units", "double", False, "units sold (negative: a return)"),
        ("channel", "string", True, "sales channel"),
        ("price", "double", True, "selling price"),
        ("promo", "double", True, "promotion intensity in [0, 1]"),
        ("stockout", "bool", True, "1 = the shelf was empty that day: the sales are censored, not low demand"),
    )),
    TableSpec("items", "Item master", (
        ITEM,
        ("category", "string", True, "item category"),
        ("unit_cost", "double", False, "cost per unit"),
        ("holding_rate", "double", False, "holding cost per year as a share of unit_cost"),
        ("order_cost", "double", False, "fixed cost per order"),
        ("lead_time_days", "double", False, "mean replenishment lead time, days"),
        ("lead_time_std_days", "double", False, "standard deviation of the lead time, days"),
        ("service_level", "double", False, "target service level in (0, 1)"),
        ("service_type", "string", True, "csl | fill_rate"),
        ("moq", "double", True, "minimum order quantity"),
        ("pack_size", "double", True, "orders are whole multiples of this"),
    )),
    TableSpec("inventory", "Stock per item x region today", (
        ITEM, REGION,
        ("as_of_date", "date", True, "day the stock was counted"),
        ("on_hand", "double", False, "units on hand"),
        ("on_order", "double", True, "units ordered, not yet received"),
        ("backorders", "double", True, "units owed to customers"),
    )),
    TableSpec("dc_stock", "Stock available per item at each distribution centre", (
        ITEM,
        ("dc_id", "string", False, "distribution centre key"),
        ("available", "double", False, "units the DC can allocate"),
    )),
    TableSpec("lanes", "DC -> region transport lanes", (
        ("dc_id", "string", False, "distribution centre key"),
        REGION,
        ("unit_cost", "double", False, "cost per unit shipped"),
        # Required: allocation uses only lanes within allocation.horizon_days, and no default transit time is
        # safe (0 would make every lane look fast), so a file without it stops at read, before any stage writes.
        ("lead_time_days", "double", False, "transit days (required)"),
        ("capacity", "double", True, "units per run (null: unbounded)"),
    )),
    TableSpec("events", "Calendar events (holidays, campaigns)", (
        DAY,
        ("event_name", "string", False, "event name"),
        ("region_id", "string", True, "region the event applies to (null: every region)"),
        ("uplift_hint", "double", True, "expected demand multiplier, if known"),
    )),
    # Optional: what the planners decided for the coming days; the forecast takes it as known future regressors
    # (skuplan.plans). A day of the horizon without a plan row uses the expected value (forecast_batch's rule).
    TableSpec("plans", "Planned price, promotion and event per item x region x day (optional)", (
        ITEM, REGION, DAY,
        ("price", "double", True, "planned selling price per unit (empty: not planned, the last price holds)"),
        ("promo", "double", True, "planned promotion: 1 = on, 0 = off, or the intensity in [0, 1] (empty: not "
         "planned)"),
        ("event_name", "string", True, "event the day belongs to, e.g. 618 (a calendar event of the item's "
         "region that day)"),
    )),
)}  # fmt: skip

# Staged tables: what one stage commits for the next ones to read, exactly as computed (no canonical rounding),
# so that a resumed run (skuplan run --from-stage) starts from what the earlier stages of its run_date accepted.
# The staged inputs are the accepted rows of the small inputs, with the input's columns and types (what
# quality.validate_table keeps); sales are not staged: validate hands them on in memory.
STAGED_INPUTS: dict[str, str] = {table: f"staged_{table}" for table in INPUT_CONTRACTS if table != "sales"}


def _staged(table: str) -> TableSpec:
    spec = INPUT_CONTRACTS[table]
    comment = f"{spec.comment}: the rows validate accepted for the run, typed (non-nullable columns are never null)"
    return TableSpec(STAGED_INPUTS[table], comment, spec.columns)


_EPOCH_DAYS = "days since 1970-01-01 (Spark's unix_date)"
STAGED_CONTRACTS: dict[str, TableSpec] = {t.table: t for t in (
    *(_staged(table) for table in STAGED_INPUTS),
    TableSpec("series_stats", "History statistics per item x region up to the cutoff (prepare), absent days "
              "counted as zero sales", (
        *KEYS,
        ("n_obs", "long", False, "days from the series' first row to the cutoff, both included"),
        ("first_date", "date", False, "first day with a sales row"),
        ("last_sale_date", "date", True, "last day with units > 0 (null: never sold)"),
        ("mean_daily", "double", False, "mean daily units over the last 365 days (fewer for a younger series)"),
        ("std_daily", "double", False, "sample standard deviation of daily units over the same days (0 for one "
         "day)"),
        ("adi", "double", False, "average demand interval: days per non-zero day over the same days"),
        ("cv2", "double", False, "squared coefficient of variation of the non-zero daily units (0 when none)"),
        ("annual_units", "double", False, "units over the same days scaled to 365 days"),
    )),
    TableSpec("series_arrays", "One row per item x region: the days with sales rows inside the forecast window, "
              "as lists (SeriesBatch.from_arrow fills the absent days)", (
        *KEYS,
        ("first_day", "int", True, f"first day of the series' whole history up to the cutoff, {_EPOCH_DAYS}"),
        ("day", "array<int>", True, "days with a row in the last max(forecast.max_history_days, 365) up to the "
         f"cutoff, {_EPOCH_DAYS}, ascending (empty: none in the window)"),
        ("units", "array<double>", True, "units of each listed day"),
        ("promo", "array<double>", True, "promotion intensity of each listed day"),
        ("price", "array<double>", True, "selling price of each listed day (null element: not given)"),
        ("stockout", "array<bool>", True, "stockout flag of each listed day"),
        ("category", "string", True, "item category from staged_items (null: the item has no staged row)"),
    )),
    # Incremental nights (skuplan.incremental): every accepted sales row, kept across run_dates, and how far it goes.
    TableSpec("sales_history", "Validated sales history: the accepted sales rows of every night up to the last "
              "cutoff, per scenario; a night merges only the rows it validated", (
        *INPUT_CONTRACTS["sales"].columns,
        ("scenario", "string", False, "what-if scenario whose nights validated the row (base: the nightly plan)"),
    ), partitioned=False),
    TableSpec("history_state", "Watermark of sales_history: one row per scenario, the last night that merged it", (
        ("scenario", "string", False, "what-if scenario (base: the nightly plan)"),
        ("run_date", "date", False, RUN_DATE_COMMENT),
        ("since_date", "date", True, "that night validated sales dated after this day (null: all, a full refresh)"),
        ("through_date", "date", False, "the history holds every accepted sale up to this day (the cutoff)"),
        ("basis", "string", False, "hash of what decides acceptance (quality config, sales input, accepted "
         "items); a change makes the next night a full refresh"),
        ("run_id", "string", False, "run that merged the history"),
        ("updated_at", "timestamp", False, "when (UTC)"),
    ), partitioned=False),
    TableSpec("prepare_state", "Which committed series lists an incremental night's prepare starts from: one row "
              "per scenario, the last prepare built from the current sales_history", (
        ("scenario", "string", False, "what-if scenario (base: the nightly plan)"),
        ("through_date", "date", False, "the lists hold the history up to this day (that run's cutoff)"),
        ("window_days", "int", False, "days the lists hold (max of forecast.max_history_days and 365)"),
        ("arrays_version", "long", False, "Delta version of series_arrays that committed the lists"),
        ("stats_version", "long", False, "Delta version of series_stats committed with them (last_sale_date)"),
        ("run_id", "string", False, "run whose prepare committed them"),
        ("updated_at", "timestamp", False, "when (UTC)"),
    ), partitioned=False),
)}  # fmt: skip
