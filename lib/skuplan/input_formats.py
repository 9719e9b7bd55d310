"""How a user's export is read as meant: the CSV layout options and the calendar-day rule for timestamps.

Pure (no Spark): config validates the CSV options with these functions, skuplan.ingest applies them and the
timestamp rule, quality parses the text with the settings ingest attaches to each column (TEXT_* metadata).

The calendar-day rule (README, "Inputs"), for every date column (sales.date, inventory.as_of_date, events.date):
- text (CSV, string columns): the day as written: ISO yyyy-MM-dd, where a time or an offset after it is ignored
  (the writer's own day is the day the demand belongs to), or the whole value in inputs.<table>.date_format;
- a naive timestamp (pandas datetime64 without tz, Parquet isAdjustedToUTC=false, Spark TIMESTAMP_NTZ): the day on
  its wall clock, as written;
- a timestamp carrying its own zone (pandas/pyarrow tz-aware, e.g. Europe/Berlin; the zone is in the file's Arrow
  schema): the day on the wall clock of that zone;
- an instant without a zone of its own, or with zone UTC (Spark/Delta TIMESTAMP, INT96, Parquet timestamps
  adjusted to UTC without a recorded zone): the day in quality.business_timezone (default UTC), because UTC is
  how instants are stored, not where the sale happened.
Any unit (s, ms, us, ns) reads the same; nanoseconds are whole-day exact (integer arithmetic, no float).
"""

from __future__ import annotations

import base64
import codecs
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Column metadata ingest puts on CSV text columns, read by quality when it parses them.
TEXT_DECIMAL = "skuplan.decimal"
TEXT_DATE_FORMAT = "skuplan.date_format"

CSV_DEFAULTS = {"sep": ",", "decimal": ".", "encoding": "utf-8"}  # date_format: None = ISO yyyy-MM-dd
# Encoding (Python's canonical codec name) -> the charset Spark's CSV reader is given. Spark 4 accepts only a few
# charsets (no cp1252) and reads UTF-16 line by line wrongly, so cp1252 is read as ISO-8859-1 (one character per
# byte) and its 0x80-0x9F range mapped afterwards (cp1252_translation); a UTF-8 BOM is skipped by Spark itself.
ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "ascii": "US-ASCII", "iso8859-1": "ISO-8859-1",
             "cp1252": "ISO-8859-1"}  # fmt: skip
_ENCODING_NAMES = "utf-8, utf-8-sig, cp1252 (windows-1252), latin-1 (iso-8859-1), ascii"
# Date pattern letters allowed: year, month, day, and a time part after the date (hours first: 'mm' alone is a
# typo for 'MM' that Spark would read as minutes, putting every sale on January 1st).
_DATE_FORMAT = re.compile(r"^[yMdHmsS /.\-:,]+$")
_UTC = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "etc/zulu", "uct", "etc/uct", "universal",
                  "etc/universal", "gmt0", "etc/gmt0", "gmt+0", "gmt-0", "etc/gmt+0", "etc/gmt-0", "+00:00",
                  "-00:00", "+0000", "00:00"})  # fmt: skip
_OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


def check_sep(value: str) -> str:
    """One character, or the two characters backslash-t for a tab (what a YAML single-quoted '\\t' holds)."""
    sep = "\t" if value == "\\t" else value
    if len(sep) != 1 or sep.isalnum() or sep in "\"\r\n":
        raise ValueError("sep must be one character such as ';', ',', '|' or a tab (\"\\t\")")
    return sep


def check_encoding(value: str) -> str:
    """The codec's canonical name (latin-1 -> iso8859-1, windows-1252 -> cp1252) if it is one ingest reads."""
    try:
        name = codecs.lookup(value).name
    except LookupError:
        name = ""
    if name not in ENCODINGS:
        raise ValueError(f"encoding must be one of {_ENCODING_NAMES}; for another encoding (e.g. UTF-16 from "
                         "Excel's 'Unicode text') save the file as 'CSV UTF-8'")
    return name


def check_date_format(value: str) -> str:
    letters = {c for c in value if c.isalpha()}
    if letters & {"m", "s", "S"} and "H" not in letters:
        raise ValueError("date_format: 'm' means minutes in Spark date patterns; write months as 'MM' "
                         "(e.g. dd/MM/yyyy)")
    if not _DATE_FORMAT.fullmatch(value) or not {"y", "M", "d"} <= letters:
        raise ValueError("date_format must be a date pattern of y, M and d with separators, e.g. dd/MM/yyyy, "
                         "d.M.yyyy or MM/dd/yyyy (optionally followed by HH:mm:ss)")
    return value


def spark_charset(encoding: str | None) -> tuple[str, bool]:
    """(charset for Spark's CSV reader, whether cp1252's 0x80-0x9F range must be mapped after reading)."""
    name = check_encoding(encoding or CSV_DEFAULTS["encoding"])
    return ENCODINGS[name], name == "cp1252"


def cp1252_translation() -> tuple[str, str]:
    """(from, to) for a character translation turning ISO-8859-1 text into cp1252 text: bytes 0x80-0x9F are C1
    control characters in ISO-8859-1 and letters or signs in cp1252 (the euro sign, quotes, dashes, Š, Ž ...).
    The five bytes cp1252 leaves undefined stay control characters (quarantined as BAD_ID_CHARS in ids)."""
    src, dst = [], []
    for byte in range(0x80, 0xA0):
        try:
            dst.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            continue
        src.append(chr(byte))
    return "".join(src), "".join(dst)


# ---- timestamps ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeColumn:
    """How one stored timestamp column becomes a calendar day (see the module docstring).

    kind: "naive" (wall clock as written), "zoned" (wall clock in `zone`), "instant" (day in business_timezone).
    nanos: stored in nanoseconds, which Spark can only read as a long (spark.sql.legacy.parquet.nanosAsLong)."""

    kind: str
    nanos: bool = False
    zone: str | None = None


class UnknownZone(ValueError):
    """A file records a time zone that no time zone database knows."""


def is_utc(zone: str) -> bool:
    return zone.strip().lower() in _UTC


def check_zone(zone: str) -> str:
    """A zone recorded in a file: an IANA name or a fixed offset (+01:00), as Spark's from_utc_timestamp takes."""
    if _OFFSET.fullmatch(zone):
        return zone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZone(f"time zone {zone!r} is neither an IANA zone (Europe/Berlin) nor an offset (+01:00)") from None
    return zone


def time_column(physical: str, unit: str | None, adjusted: bool | None, arrow_tz: str | None,
                arrow_naive: bool = False) -> TimeColumn | None:
    """The rule for one Parquet column: physical type (INT64, INT96 ...), the TIMESTAMP logical type's unit
    (MILLIS / MICROS / NANOS, None when it has none) and isAdjustedToUTC, and what the file's Arrow schema says
    (arrow_tz: the zone of a tz-aware column; arrow_naive: a timestamp without zone). None: not a timestamp."""
    if physical == "INT96":  # legacy instants (Spark, Hive, Impala; pyarrow on request): Spark reads them as such
        if arrow_tz and not is_utc(arrow_tz):
            return TimeColumn("zoned", zone=check_zone(arrow_tz))
        return TimeColumn("naive" if arrow_naive else "instant")
    if unit is None:
        return None
    nanos = unit == "NANOS"
    if not adjusted:
        return TimeColumn("naive", nanos)
    if arrow_tz and not is_utc(arrow_tz):
        return TimeColumn("zoned", nanos, check_zone(arrow_tz))
    return TimeColumn("instant", nanos)


def arrow_timestamps(arrow_schema_b64: str | bytes | None) -> dict[str, str | None]:
    """{column: zone or None (naive)} for the timestamp fields of a Parquet file's ARROW:schema metadata, which
    is where pandas and pyarrow record a column's zone (Parquet itself only keeps isAdjustedToUTC). {} when the
    file has none or it cannot be decoded: the Parquet flags alone then decide."""
    if not arrow_schema_b64:
        return {}
    import pyarrow as pa  # pyarrow is a core dependency; imported here so config does not load it

    try:
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(arrow_schema_b64)))
    except Exception:  # a foreign or damaged ARROW:schema must not stop a file Spark can read
        return {}
    return {f.name.strip().lower(): f.type.tz for f in schema if pa.types.is_timestamp(f.type)}
