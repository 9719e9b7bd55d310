"""Validation: every input row is either accepted (typed) or quarantined with a reason code.

Rules run in a fixed order and a row gets the first reason that applies, so that
rows_in == rows_accepted + rows_quarantined holds exactly for every table.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.config import QualityConfig
from skuplan.input_formats import TEXT_DATE_FORMAT, TEXT_DECIMAL, check_date_format
from skuplan.input_rules import ValueRule, rules_for
from skuplan.schemas import INPUT_COLUMNS, KEYS, NAN_MEANS_NULL, QUARANTINE
from skuplan.series.spark import SERIES_KEYS

EARLIEST_DATE = dt.date(1990, 1, 1)
# A row whose item the items table holds but quarantined: blamed on the items row, not counted against its table.
ITEM_QUARANTINED = "ITEM_QUARANTINED"
# Above this many repeated keys the duplicate check joins them back with a shuffle instead of a broadcast.
MAX_BROADCAST_REPEATED_KEYS = 2_000_000
# A quarantined text field is kept up to this many characters, then a marker says how many were cut: a huge or
# hostile value (a pasted file, a log dump) is never copied whole into the quarantine table, report or logs.
PAYLOAD_FIELD_CHARS = 256


class Validated(NamedTuple):
    accepted: DataFrame
    quarantine: DataFrame
    marked: DataFrame  # every row with its reason_code (null = accepted), read from a cached frame
    cached: tuple[DataFrame, ...] = ()  # frames validate_table persisted; the caller unpersists them when done


# (reason_code, human reason, condition that marks a bad row); a reason may be a Column when it quotes the value.
Rule = tuple[str, str | Column, Column]


def _generic_rules(table: str) -> list[Rule]:
    rules: list[Rule] = []
    keys = set(KEYS[table])
    for name, dtype, required in INPUT_COLUMNS[table]:
        typed, raw = F.col(name), F.col(f"_raw_{name}")
        if isinstance(dtype, T.StringType):
            # U+FFFD is what a decoder puts for bytes the encoding does not have: "Caf\ufffd" would be a new id.
            rules.append(("BAD_ENCODING", f"{name} holds U+FFFD (bytes not valid in the file's encoding): set "
                          f"inputs.{table}.encoding, e.g. cp1252", typed.contains("\ufffd")))
        if required and name in keys and isinstance(dtype, T.StringType):
            rules.append(("NULL_KEY", f"{name} is null or empty", typed.isNull()))
            # Invisible characters make two ids that print alike differ; reject rather than guess.
            rules.append(("BAD_ID_CHARS", f"{name} has control, zero-width or no-break characters",
                          typed.rlike(r"[\p{Cc}\p{Cf}\x{00A0}\x{2007}\x{202F}]")))
        unparsed = raw.isNotNull() & typed.isNull()
        if (table, name) in NAN_MEANS_NULL:
            unparsed = unparsed & ~F.coalesce(F.isnan(F.expr(f"try_cast(`_raw_{name}` as double)")), F.lit(False))
        rules.append((f"BAD_{name.upper()}", f"{name} does not parse as {dtype.simpleString()}{_layout_hint(table, dtype)}",
                      unparsed))
        if required:
            rules.append((f"MISSING_{name.upper()}", f"{name} is null", typed.isNull()))
        if isinstance(dtype, T.DoubleType):
            rules.append(
                (f"BAD_{name.upper()}", f"{name} is NaN or infinite", F.isnan(typed) | (F.abs(typed) == float("inf")))
            )
    return rules


def _table_rules(table: str, run_date: dt.date, cfg: QualityConfig) -> list[Rule]:
    """Rules that depend on the run date or on config, then the declared value rules (skuplan.input_rules)."""
    c = F.col
    rules: list[Rule] = []
    if table == "sales":
        rules = [
            ("DATE_AFTER_RUN_DATE", f"date is on or after the run date {run_date}", c("date") >= F.lit(run_date)),
            ("DATE_OUT_OF_RANGE", f"date is before {EARLIEST_DATE}", c("date") < F.lit(EARLIEST_DATE)),
        ]
        if cfg.returns == "quarantine":
            rules.insert(0, ("NEGATIVE_UNITS", "units < 0 (a return; set quality.returns: net to net it)", c("units") < 0))
    return rules + [spark_rule for rule in rules_for(table) for spark_rule in _value_rule(rule)]


def _value_rule(rule: ValueRule) -> list[Rule]:
    """The Spark conditions of one declared rule (the same test as ValueRule.violated: null never matches)."""
    v = F.col(rule.column)
    if rule.allowed:
        return [(rule.code, rule.reason, ~v.isin(*rule.allowed))]
    bad = F.lit(False)
    if rule.low is not None:
        bad = bad | ((v <= rule.low) if rule.low_open else (v < rule.low))
    if rule.high is not None:
        bad = bad | ((v >= rule.high) if rule.high_open else (v > rule.high))
    reason: str | Column = rule.reason
    if rule.share:
        # 95 for a share is most likely a percentage: say so and what to write (ValueRule.reason_for's words).
        shown = F.regexp_replace(v.cast("string"), r"\.0$", "")
        hint = F.concat(F.lit(f"{rule.requirement}; "), shown, F.lit(" looks like a percentage: write "),
                        F.round(v / 100.0, 6).cast("string"))  # fmt: skip
        reason = F.when((v > 1) & (v <= 100), hint).otherwise(F.lit(rule.reason))
    on_bound = [(rule.bound_code, rule.reason, v == rule.low)] if rule.bound_code and rule.low_open else []
    return [*on_bound, (rule.code, reason, bad)]


def _first_reason(rules: list[Rule]) -> tuple[Column, Column]:
    code = F.coalesce(*[F.when(cond, F.lit(code)) for code, _, cond in rules], F.lit(None).cast("string"))
    reason = F.coalesce(*[F.when(cond, F.lit(text) if isinstance(text, str) else text) for _, text, cond in rules],
                        F.lit(None).cast("string"))
    return code, reason


def capped_text(col: Column, limit: int = PAYLOAD_FIELD_CHARS) -> Column:
    """A string column cut to `limit` characters plus the marker `…[+N chars]`; shorter values and nulls unchanged."""
    n = F.length(col)
    cut = F.concat(F.substring(col, 1, limit), F.lit("…[+"), (n - F.lit(limit)).cast("string"), F.lit(" chars]"))
    return F.when(n > limit, cut).otherwise(col)


def _payload(df: DataFrame, columns: dict[str, str]) -> Column:
    """JSON of a row's fields (name -> column of df), text fields capped (capped_text), nulls kept as null."""
    types = dict(df.dtypes)
    fields = [(capped_text(F.col(c)) if types[c] == "string" else F.col(c)).alias(n) for n, c in columns.items()]
    return F.to_json(F.struct(*fields), {"ignoreNullFields": "false"})


def _quarantine_rows(df: DataFrame, table: str, run_date: dt.date) -> DataFrame:
    return df.select(
        F.lit(table).alias("source"),
        F.col("_payload").alias("payload"),
        F.col("reason_code"),
        F.col("reason"),
        F.lit(run_date).cast("date").alias("run_date"),
    )


def validate_table(
    raw_df: DataFrame,
    table: str,
    run_date: dt.date,
    cfg: QualityConfig,
    known_items_df: DataFrame | None = None,
    partitions: int | None = None,
    quarantined_items_df: DataFrame | None = None,
) -> Validated:
    """Split one input into typed accepted rows and quarantine rows (schema QUARANTINE).

    known_items_df: the accepted items (item_id); a row of another item is UNKNOWN_ITEM, or ITEM_QUARANTINED when
    the item is among quarantined_items_df (item_id, reason_code, reason: see quarantined_items).
    partitions: hash-partition the rows by item x region into this many parts (tables keyed by series only),
    for a caller whose later steps group by series (see the pipeline's prepare stage)."""
    names = [name for name, _, _ in INPUT_COLUMNS[table]]
    df = raw_df.select(*[F.col(n).alias(f"_raw_{n}") for n in names])
    df = df.select("*", *_typed_from_raw(raw_df, table, cfg))
    code, reason = _first_reason(_generic_rules(table) + _table_rules(table, run_date, cfg))
    df = df.withColumn("reason_code", code).withColumn("reason", reason)

    if known_items_df is not None and "item_id" in names:
        df = _with_item_reasons(df, known_items_df, quarantined_items_df)

    # Materialized once, narrow: typed columns and reasons, plus the raw payload of rejected rows only (a raw
    # copy of every column doubled the cached width, and caching is most of this stage's cost).
    raw_payload = _payload(df, {n: f"_raw_{n}" for n in names})
    base = df.select(
        *names, "reason_code", "reason", F.when(F.col("reason_code").isNotNull(), raw_payload).alias("_payload")
    )
    if partitions and set(SERIES_KEYS) <= set(KEYS[table]):
        # A fixed number of parts, so adaptive execution keeps the partitioning: the duplicate check below and
        # prepare's daily aggregate, statistics and lists all group by supersets of item x region, so this is
        # the only shuffle of the sales rows.
        base = base.repartition(partitions, *SERIES_KEYS)
    base = base.persist(StorageLevel.MEMORY_AND_DISK)
    marked, repeated = _with_duplicate_reasons(base, table, names)
    return split_marked(marked, table, run_date, cached=(base, repeated))


def quarantined_items(items_quarantine: DataFrame) -> DataFrame:
    """item_id, reason_code, reason of the items table's quarantine rows (validate_table's quarantined_items_df).

    The id comes from the payload, trimmed as the typed id is; an item with an accepted copy is known and never
    reaches this list's use."""
    item = F.trim(F.get_json_object("payload", "$.item_id"))
    return items_quarantine.select(item.alias("item_id"), "reason_code", "reason").where(
        F.col("item_id").isNotNull() & (F.col("item_id") != "")
    )


def ratio_problem(table: str, n_in: int, n_bad: int, n_item_quarantined: int, limit: float) -> str | None:
    """The quarantine-ratio problem of one input, or None. Rows quarantined only because their item's master row
    was (ITEM_QUARANTINED) are the items table's fault: they count neither as bad nor as judged here, so one bad
    items row does not fail a small sales table (the items table's own ratio still applies)."""
    own, judged = n_bad - n_item_quarantined, n_in - n_item_quarantined
    ratio = own / judged if judged else 0.0
    if ratio <= limit:
        return None
    besides = (f" (besides {n_item_quarantined} rows of items quarantined in the items table)"
               if n_item_quarantined else "")  # fmt: skip
    return (f"input {table}: {own} of {judged} rows ({ratio:.1%}) quarantined{besides}, above "
            f"quality.max_quarantine_ratio={limit}; inspect the quarantine table or raise the limit")


def _with_item_reasons(df: DataFrame, known_items_df: DataFrame, quarantined_items_df: DataFrame | None) -> DataFrame:
    """Rows of items absent from the accepted items: ITEM_QUARANTINED when the items table had the item but
    quarantined it (the fix is in the items table, so the reason names that row's reason), else UNKNOWN_ITEM."""
    known = known_items_df.select(F.col("item_id").alias("_known_item")).distinct()
    df = df.join(known, df["item_id"] == known["_known_item"], how="left")
    unknown = df["reason_code"].isNull() & F.col("_known_item").isNull()
    code, text = F.lit("UNKNOWN_ITEM"), F.lit("item_id not in the items table")
    if quarantined_items_df is not None:
        # One reason per item (an item may have several quarantined rows): the smallest code, for a stable text.
        first = F.min(F.struct("reason_code", "reason"))
        q = quarantined_items_df.groupBy(F.col("item_id").alias("_q_item")).agg(first.alias("_q"))
        df = df.join(q, df["item_id"] == q["_q_item"], how="left")
        blamed = F.col("_q_item").isNotNull()
        code = F.when(blamed, F.lit(ITEM_QUARANTINED)).otherwise(code)
        text = F.when(blamed, F.concat(
            F.lit("the item's row in the items table was quarantined ("), F.col("_q.reason_code"), F.lit(": "),
            F.col("_q.reason"), F.lit("); fix that items row and this row is accepted"),
        )).otherwise(text)  # fmt: skip
    df = df.withColumn("reason", F.when(unknown, text).otherwise(F.col("reason")))
    df = df.withColumn("reason_code", F.when(unknown, code).otherwise(F.col("reason_code")))
    return df.drop("_known_item", "_q_item", "_q")  # drop ignores the absent ones


def split_marked(marked: DataFrame, table: str, run_date: dt.date, cached: tuple[DataFrame, ...] = ()) -> Validated:
    """Accepted rows and quarantine rows of a frame whose rows carry reason_code (null = accepted)."""
    names = [name for name, _, _ in INPUT_COLUMNS[table]]
    accepted = marked.where(F.col("reason_code").isNull()).select(*names)
    quarantine = _quarantine_rows(marked.where(F.col("reason_code").isNotNull()), table, run_date)
    quarantine = quarantine.select(*[F.col(f.name).cast(f.dataType) for f in QUARANTINE.fields])
    return Validated(accepted, quarantine, marked, cached)


def _typed_from_raw(raw_df: DataFrame, table: str, cfg: QualityConfig) -> list[Column]:
    # A CSV column carries its layout (decimal, date_format) in its metadata: skuplan.ingest puts it there.
    fields = {f.name: f for f in raw_df.schema.fields}
    cols = []
    for name, dtype, _ in INPUT_COLUMNS[table]:
        field = fields.get(name)
        sql = _cast_sql(name, dtype, field.dataType if field else None, cfg.business_timezone,
                        field.metadata if field else None)
        cols.append(_nan_as_null(F.expr(sql), table, name).alias(name))
    return cols


def rows_after(raw_df: DataFrame, table: str, day: str, since: dt.date, cfg: QualityConfig) -> DataFrame:
    """The raw rows whose `day` column, typed exactly as validate types it, is after `since`, plus those where it
    does not parse (validate quarantines them): the rows an incremental night validates (skuplan.incremental)."""
    field = raw_df.schema[day]
    dtype = {n: t for n, t, _ in INPUT_COLUMNS[table]}[day]
    typed = F.expr(_cast_sql(day, dtype, field.dataType, cfg.business_timezone, field.metadata))
    raw = f"_raw_{day}"
    return (raw_df.withColumn(raw, F.col(day)).where(typed.isNull() | (typed > F.lit(since)))
            .drop(raw))


def typed_input(raw_df: DataFrame, table: str, cfg: QualityConfig) -> DataFrame:
    """The contract's columns typed exactly as validate types them (CSV layout, calendar-day rule), no rule applied:
    a value that does not parse is null. For readers of a raw input, such as the report's actuals."""
    names = [name for name, _, _ in INPUT_COLUMNS[table]]
    return raw_df.select(*[F.col(n).alias(f"_raw_{n}") for n in names]).select(*_typed_from_raw(raw_df, table, cfg))


def _layout_hint(table: str, dtype: T.DataType) -> str:
    """Where a text layout other than the default is configured, for the reason of a value that does not parse."""
    if isinstance(dtype, T.DateType):
        return f" (yyyy-MM-dd, or the layout set in inputs.{table}.date_format, e.g. dd/MM/yyyy)"
    if isinstance(dtype, T.DoubleType):
        return f" (a decimal comma needs inputs.{table}.decimal: ',')"
    return ""


def _nan_as_null(col: Column, table: str, name: str) -> Column:
    return F.when(~F.isnan(col), col) if (table, name) in NAN_MEANS_NULL else col


def _cast_sql(name: str, dtype: T.DataType, source: T.DataType | None, timezone: str,
              text: dict | None = None) -> str:
    """The typed value as SQL. Dates follow the calendar-day rule of skuplan.input_formats; `text` is a CSV
    column's layout (TEXT_DECIMAL, TEXT_DATE_FORMAT)."""
    raw, text = f"`_raw_{name}`", text or {}
    if isinstance(dtype, T.StringType):
        return f"nullif(trim(cast({raw} as string)), '')"
    if isinstance(dtype, T.DoubleType) and text.get(TEXT_DECIMAL) == ",":
        # 1,5 is 1.5; a '.' as well (1.234,5: thousands?) is unparseable, never silently 1.234.
        value = f"trim(cast({raw} as string))"
        return f"try_cast(CASE WHEN instr({value}, '.') > 0 THEN NULL ELSE replace({value}, ',', '.') END as double)"
    if isinstance(dtype, T.DateType):
        if isinstance(source, T.TimestampNTZType):  # a wall clock (naive, or made so by skuplan.ingest)
            return f"cast({raw} as date)"
        if isinstance(source, T.TimestampType):
            # An instant without a zone of its own: its day in the business time zone, from unix micros so that the
            # session time zone cannot move it (to_date would apply it).
            local = f"unix_micros(from_utc_timestamp({raw}, '{timezone}'))"
            return f"date_from_unix_date(cast(({local} - pmod({local}, 86400000000L)) div 86400000000L as int))"
        if text.get(TEXT_DATE_FORMAT):  # checked again: it goes into SQL, and metadata can come from a Delta table
            return f"try_to_date(trim(cast({raw} as string)), '{check_date_format(text[TEXT_DATE_FORMAT])}')"
        # Text keeps the calendar day as written: '2024-01-05T23:30-05:00' is a sale on Jan 5
        # in the store's own zone, which is the day its demand belongs to.
        return f"try_cast(trim(cast({raw} as string)) as date)"
    if isinstance(dtype, T.BooleanType):
        # '1'/'0', 'true'/'false', 'yes'/'no' in text exports; numbers: non-zero is true.
        return f"try_cast(lower(trim(cast({raw} as string))) as boolean)"
    return f"try_cast({raw} as {dtype.simpleString()})"


def _with_duplicate_reasons(base: DataFrame, table: str, names: list[str]) -> tuple[DataFrame, DataFrame]:
    """Among otherwise valid rows: identical copies keep one; differing rows for one key all go.

    One hash aggregate over the keys of the valid rows (no sort: a window over every row is far slower on
    millions of sales rows) finds the repeated keys and whether their copies differ (min row hash != max row hash). The
    repeated keys, normally few, go back by a broadcast join, and only their rows are numbered by a window.
    Returns the marked rows and the (persisted) repeated-key frame.
    """
    keys = KEYS[table]
    valid = F.col("reason_code").isNull()
    # A return (negative units) is its own transaction, not a conflicting copy of the day's sale.
    neg = [F.coalesce(F.col("units") < 0, F.lit(False)).alias("_neg")] if table == "sales" else []
    key_cols = [*keys, *(["_neg"] if neg else [])]
    row_hash = F.xxhash64(*[F.col(n) for n in names])
    repeated = (
        base.where(valid)
        .select(*keys, *neg, row_hash.alias("_h"))
        .groupBy(*key_cols)
        .agg(F.count("*").alias("_copies"), (F.min("_h") != F.max("_h")).alias("_conflict"))
        .where(F.col("_copies") > 1)
        .select(*[F.col(k).alias(f"_k_{k}") for k in key_cols], "_conflict")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # Counting it costs nothing extra (a broadcast side is computed in its own job anyway) and tells whether
    # it is small: a file loaded twice repeats every key, and then a shuffle join is the safe plan.
    small = repeated.count() <= MAX_BROADCAST_REPEATED_KEYS
    df = base.select("*", *neg)
    # Null-safe: an optional key column (events.region_id) may be null, and two such rows are still copies.
    on = [F.col(k).eqNullSafe(F.col(f"_k_{k}")) for k in key_cols]
    df = df.join(F.broadcast(repeated) if small else repeated, on=on, how="left").drop(*[f"_k_{k}" for k in key_cols])
    in_repeat = valid & F.col("_conflict").isNotNull()
    # Copy number among identical rows; which of identical rows is kept cannot change the content.
    rn = F.row_number().over(Window.partitionBy(*key_cols).orderBy(row_hash))
    marked = df.where(~in_repeat).withColumn("_rn", F.lit(1)).unionByName(df.where(in_repeat).withColumn("_rn", rn))
    conflicting = in_repeat & F.col("_conflict")
    exact = in_repeat & ~F.col("_conflict") & (F.col("_rn") > 1)
    key_text = ", ".join(keys)
    marked = marked.select(
        *names,
        F.when(conflicting, F.lit("CONFLICTING_DUPLICATE")).when(exact, F.lit("EXACT_DUPLICATE"))
        .otherwise(F.col("reason_code")).alias("reason_code"),
        F.when(conflicting, F.lit(f"several rows with different values for ({key_text})"))
        .when(exact, F.lit(f"exact duplicate of another row for ({key_text})"))
        .otherwise(F.col("reason")).alias("reason"),
        # A duplicate parsed cleanly: its payload shows the parsed values (ids trimmed), which is what made it
        # a copy; the raw text was not kept for valid rows (see validate_table).
        F.coalesce(
            F.col("_payload"),
            F.when(conflicting | exact, _payload(df, {n: n for n in names})),
        ).alias("_payload"),
    )
    return marked, repeated


def outlier_flags(daily_df: DataFrame, factor: float) -> DataFrame:
    """Flag (never drop) days whose units exceed `factor` x the series' median non-zero day.

    daily_df has one row per item x region x day (the prepare stage's aggregate; gap-filled zeros are ignored).
    A median is robust to the spikes it is meant to find; the flagged rows stay in the history because a
    real 双十一 spike is an outlier too, and the planner decides. The medians (one row per series, built by a
    partial aggregation) go back by a broadcast join, so the daily rows are scanned twice but never shuffled.
    """
    nonzero = daily_df.where("units > 0")
    med = nonzero.groupBy("item_id", "region_id").agg(
        F.percentile_approx("units", 0.5, 1000).alias("median_units"), F.count("*").alias("n")
    )
    flagged = nonzero.join(F.broadcast(med), ["item_id", "region_id"], how="inner").where(
        (F.col("n") >= 5) & (F.col("units") > factor * F.col("median_units"))
    )
    return flagged.select(
        "item_id", "region_id", "date",
        F.lit("EXTREME_OUTLIER").alias("flag"),
        F.col("units").alias("value"),
        (F.col("median_units") * factor).alias("threshold"),
    )
