"""Reading user exports as meant (the Spark side of skuplan.input_formats): CSV with its configured layout, and
Parquet timestamps of any unit and zone turned into the calendar day the writer meant.

Parquet keeps only "adjusted to UTC or not" for a timestamp; the zone a pandas or pyarrow writer attached
(Europe/Berlin) is in the file's ARROW:schema metadata, which Spark ignores, and nanosecond timestamps (pandas'
default) are refused by Spark unless read as longs. So the footers are read first (pyarrow for local files, the
JVM's Parquet reader with the session's Hadoop settings for other file systems), then each date column is turned
into a naive wall-clock timestamp (TIMESTAMP_NTZ) where the file says which wall clock, or left an instant
(TIMESTAMP) for quality to place in quality.business_timezone. quality then takes the date. The rule itself is
documented in skuplan.input_formats.
"""

from __future__ import annotations

import logging
import os
import re

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from skuplan.config import InputTable
from skuplan.input_formats import (
    TEXT_DATE_FORMAT,
    TEXT_DECIMAL,
    TimeColumn,
    UnknownZone,
    arrow_timestamps,
    cp1252_translation,
    spark_charset,
    time_column,
)
from skuplan.io import InputError
from skuplan.schemas import INPUT_COLUMNS

log = logging.getLogger("skuplan")

# Footers read per input: enough to catch a folder of exports written two ways, bounded for huge folders.
MAX_FOOTERS = 64
# Spark refuses Parquet TIMESTAMP(NANOS) unless this is set; it then reads them as longs (ns since the epoch).
# Set on the session when a file has such a column; it changes nothing else (without it those files fail).
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"
_LOGICAL = re.compile(r"TIMESTAMP\((MILLIS|MICROS|NANOS),(true|false)\)")
_UNIT = {"milliseconds": "MILLIS", "microseconds": "MICROS", "nanoseconds": "NANOS"}


def read_csv(spark: SparkSession, path: str, spec: InputTable) -> DataFrame:
    """Every column as text (a bad value must reach quarantine as written), in the configured separator and
    encoding; decimal and date_format travel as column metadata to quality, which parses the text."""
    charset, from_cp1252 = spark_charset(spec.encoding)
    df = (spark.read.option("header", True).option("inferSchema", False).option("sep", spec.sep or ",")
          .option("encoding", charset).csv(path))  # fmt: skip
    meta = {k: v for k, v in ((TEXT_DECIMAL, spec.decimal), (TEXT_DATE_FORMAT, spec.date_format)) if v}
    src, dst = cp1252_translation() if from_cp1252 else ("", "")
    cols = []
    for name in df.columns:
        col = F.col(_quoted(name))
        if from_cp1252:  # read as ISO-8859-1, one character per byte: map cp1252's 0x80-0x9F range
            col, name = F.translate(col, src, dst), name.encode("latin-1").decode("cp1252", errors="replace")
        cols.append(col.alias(name, metadata=meta) if meta else col.alias(name))
    return df.select(*cols)


def read_parquet(spark: SparkSession, path: str, table: str) -> DataFrame:
    """The files with each date column of `table` as the wall clock the writer meant (see the module doc)."""
    times = footer_times(spark, path, table)
    if any(c.nanos for cols in times.values() for c in cols.values()):
        spark.conf.set(NANOS_AS_LONG, "true")
    try:
        df = spark.read.parquet(path)
    except Exception as exc:
        if "TIMESTAMP(NANOS" not in str(exc):
            raise
        raise InputError(
            f"input {table}: {path} holds nanosecond timestamps (pandas' default) and its Parquet footers could not "
            "be read to tell their time zone; re-export with microseconds: "
            "df.to_parquet(path, coerce_timestamps='us', allow_truncated_timestamps=True)"
        ) from exc
    return wall_clock_days(df, table, agreed_times(times, table, path))


def wall_clock_days(df: DataFrame, table: str, times: dict[str, TimeColumn]) -> DataFrame:
    """Each date column of `table` found in `times` replaced by its wall clock (or left an instant)."""
    dates = {name for name, dtype, _ in INPUT_COLUMNS[table] if isinstance(dtype, T.DateType)}
    cols = []
    for field in df.schema.fields:
        key = field.name.strip().lower()
        spec = times.get(key) if key in dates else None
        converted = _wall_clock(field, spec) if spec else None
        cols.append(F.col(_quoted(field.name)) if converted is None else converted.alias(field.name))
    return df.select(*cols)


def _wall_clock(field: T.StructField, spec: TimeColumn) -> Column | None:
    """TIMESTAMP_NTZ holding the wall clock the rule gives, a TIMESTAMP for an instant (quality applies
    business_timezone), or None when Spark's own reading is already right (naive -> NTZ, dates, text)."""
    name = _quoted(field.name)
    if isinstance(field.dataType, T.LongType) and spec.nanos:
        # Integer floor division: a double would round a midnight 1 us early, i.e. onto the previous day.
        micros = F.expr(f"({name} - pmod({name}, 1000L)) div 1000L")
        if spec.kind == "naive":  # the long is the wall clock counted as if it were UTC
            return F.timestamp_add("MICROSECOND", micros, _epoch_ntz())
        instant = F.timestamp_micros(micros)
    elif isinstance(field.dataType, T.TimestampType) and spec.kind != "instant":
        instant = F.col(name)
    else:
        return None
    if spec.kind == "instant":
        return instant
    # The instant's wall clock in the zone, built from unix micros so that the session time zone cannot move it.
    zone = spec.zone if spec.kind == "zoned" else "UTC"  # naive INT96: its wall clock was stored as UTC
    return F.timestamp_add("MICROSECOND", F.unix_micros(F.from_utc_timestamp(instant, F.lit(zone))), _epoch_ntz())


def _epoch_ntz() -> Column:
    return F.expr("TIMESTAMP_NTZ'1970-01-01 00:00:00'")  # a function: a Column needs a running session


def agreed_times(times: dict[str, dict[str, TimeColumn]], table: str, path: str) -> dict[str, TimeColumn]:
    """One reading per date column for all the files: files written two ways (a zone in some, none in others)
    would otherwise be read under one file's rule."""
    dates = [name for name, dtype, _ in INPUT_COLUMNS[table] if isinstance(dtype, T.DateType)]
    out: dict[str, TimeColumn | None] = {}  # None: the column is not a timestamp in the first file
    seen: dict[str, str] = {}
    for file, cols in times.items():
        for name in dates:
            spec = cols.get(name)
            if name in out and spec != out[name]:
                raise InputError(
                    f"input {table}: column '{name}' is stored two ways under {path}: {_says(out[name])} in "
                    f"{seen[name]}, {_says(spec)} in {file}; re-export the files with one timestamp type"
                )
            if name not in out:
                out[name], seen[name] = spec, file
    return {k: v for k, v in out.items() if v is not None}


def _says(spec: TimeColumn | None) -> str:
    if spec is None:
        return "not a timestamp"
    what = {"naive": "timestamp without zone", "instant": "UTC instant", "zoned": f"timestamp in {spec.zone}"}
    return what[spec.kind] + (" (ns)" if spec.nanos else "")


def footer_times(spark: SparkSession, path: str, table: str) -> dict[str, dict[str, TimeColumn]]:
    """{file: {column (lower case): TimeColumn}} for the timestamp columns of up to MAX_FOOTERS data files.
    {} when the footers cannot be read: Spark's own reading then applies (and reports a damaged file itself)."""
    local = path.removeprefix("file://")
    try:
        if os.path.exists(local):
            return {f: _pyarrow_footer(f) for f in _local_files(local)}
        return _jvm_footers(spark, path)
    except UnknownZone as exc:
        raise InputError(f"input {table}: {path}: {exc}; re-export the timestamps with a known zone or in UTC") from exc
    except Exception as exc:
        log.info("parquet footers of %s not inspected (%s): timestamps read by Spark's types only", path, exc)
        return {}


def _local_files(root: str) -> list[str]:
    if os.path.isfile(root):
        return [root]
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))  # what Spark skips: _temporary, .spark-staging ...
        files += [os.path.join(folder, n) for n in sorted(names) if not _hidden(n)]
        if len(files) >= MAX_FOOTERS:
            break
    return files[:MAX_FOOTERS]


def _hidden(name: str) -> bool:
    return name.startswith(".") or (name.startswith("_") and "=" not in name)


def _pyarrow_footer(file: str) -> dict[str, TimeColumn]:
    import pyarrow.parquet as pq

    meta = pq.read_metadata(file)
    arrow = arrow_timestamps((meta.metadata or {}).get(b"ARROW:schema"))
    out = {}
    for i in range(meta.num_columns):
        col = meta.schema.column(i)
        if "." in col.path:  # nested fields are never a date column
            continue
        logical = col.logical_type
        unit = adjusted = None
        if logical.type == "TIMESTAMP":
            info = logical.to_json()
            unit, adjusted = _UNIT[re.search(r'"timeUnit":"(\w+)"', info).group(1)], '"isAdjustedToUTC":true' in info
        spec = _spec(col.name, col.physical_type, unit, adjusted, arrow)
        if spec:
            out[col.name.strip().lower()] = spec
    return out


def _spec(name: str, physical: str, unit: str | None, adjusted: bool | None, arrow: dict) -> TimeColumn | None:
    key = name.strip().lower()
    return time_column(physical, unit, adjusted, arrow.get(key), arrow_naive=key in arrow and arrow[key] is None)


def _jvm_footers(spark: SparkSession, path: str) -> dict[str, dict[str, TimeColumn]]:
    """The same through Spark's JVM and the session's Hadoop settings (s3a://, abfss://, dbfs:/ ...): storage
    credentials are the cluster's, exactly as for the read itself. Raises where there is no JVM (Spark Connect)."""
    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    root = jvm.org.apache.hadoop.fs.Path(path)
    listing = root.getFileSystem(conf).listFiles(root, True)
    base, files = root.toUri().getPath().rstrip("/"), []
    while listing.hasNext() and len(files) < MAX_FOOTERS:
        file = listing.next().getPath()
        rel = file.toUri().getPath()[len(base):].strip("/")
        if not any(_hidden(part) for part in rel.split("/") if part):
            files.append(file)
    out = {}
    for file in files:
        reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(
            jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(file, conf))
        try:
            meta = reader.getFooter().getFileMetaData()
        finally:
            reader.close()
        arrow = arrow_timestamps(meta.getKeyValueMetaData().get("ARROW:schema"))
        cols = {}
        for field in meta.getSchema().getFields():
            if not field.isPrimitive():
                continue
            logical = _LOGICAL.fullmatch(str(field.getLogicalTypeAnnotation() or ""))
            unit, adjusted = (logical.group(1), logical.group(2) == "true") if logical else (None, None)
            physical = field.asPrimitiveType().getPrimitiveTypeName().name()
            spec = _spec(field.getName(), physical, unit, adjusted, arrow)
            if spec:
                cols[field.getName().strip().lower()] = spec
        out[file.toString()] = cols
    return out


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
