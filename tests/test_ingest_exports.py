"""Files written the way users write them are read as meant (issue 13, items 4, 12 and the output root of 7).

Parquet from pandas (datetime64[ns]) and pyarrow (tz-aware timestamps of every unit), a spreadsheet-style CSV
(`;`, decimal comma, dd/MM/yyyy, a BOM or cp1252 text), paths with spaces, and an output root that is a file.
Each test asserts what is read (the calendar day, the units) or the error's key words; real Spark, files on disk.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skuplan import ingest
from skuplan.cli import main
from skuplan.config import ConfigError, load_config
from skuplan.input_formats import TimeColumn
from skuplan.io import InputError, read_input
from skuplan.quality import typed_input, validate_table

RUN_DATE = dt.date(2024, 3, 1)
D5, D6 = dt.date(2024, 1, 5), dt.date(2024, 1, 6)


@pytest.fixture(scope="module")
def items_df(spark):
    return spark.createDataFrame([("A",), ("Café",), ("Größe–L",)], "item_id string")


def _cfg(repo_root, root, table="sales", quality=None, **spec):
    over = {"inputs": {"root": str(root), table: {"path": table, **spec}}}
    if quality:
        over["quality"] = quality
    return load_config(repo_root / "conf", environ={}, overrides=over)


def _read(spark, cfgs, items_df=None, table="sales"):
    """(accepted rows, quarantined rows) of one input, or of several read with their own configs and validated
    together (one Spark job, the tests stay fast); checks rows in = accepted + quarantined."""
    cfgs = cfgs if isinstance(cfgs, list) else [cfgs]
    raw = read_input(spark, cfgs[0], table)
    for cfg in cfgs[1:]:
        raw = raw.unionByName(read_input(spark, cfg, table))
    result = validate_table(raw, table, RUN_DATE, cfgs[0].quality, known_items_df=items_df)
    rows = result.marked.collect()
    accepted = [r for r in rows if r.reason_code is None]
    quarantined = [r for r in rows if r.reason_code is not None]
    assert raw.count() == len(accepted) + len(quarantined)
    return accepted, quarantined


def _sales_file(folder, dates, units=None, region="R") -> None:
    """A sales table as pyarrow writes it; `dates` a pyarrow array (any unit, with or without a zone)."""
    n = len(dates)
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"item_id": ["A"] * n, "region_id": [f"{region}{i}" for i in range(n)], "date": dates,
                      "units": units or [float(i + 1) for i in range(n)]})  # fmt: skip
    pq.write_table(table, folder / "part-0.parquet")


def _mkdir(path):
    path.mkdir(parents=True)
    return path


def _berlin(unit: str) -> pa.Array:
    # 00:30 in Berlin is 23:30 UTC the evening before: a UTC reading would move the sale a day earlier.
    local = pd.to_datetime(["2024-01-05 00:30", "2024-01-06 23:30"]).tz_localize("Europe/Berlin")
    return pa.array(local.astype(f"datetime64[{unit}, Europe/Berlin]"))


# ---- parquet timestamps ----------------------------------------------------------------------------------------


def test_pandas_to_parquet_nanosecond_dates_are_read_as_written(spark, tmp_path, repo_root):
    # pandas' default: datetime64[ns] -> Parquet TIMESTAMP(NANOS), which Spark alone refuses to read.
    days = pd.to_datetime(["2024-01-05 00:00", "2024-01-06 23:59:59.999999999", "2024-01-07 12:00"], format="ISO8601")
    assert str(days.dtype) == "datetime64[ns]"
    (tmp_path / "sales").mkdir()
    pd.DataFrame({"item_id": "A", "region_id": ["R1", "R1", "R2"], "date": days, "units": [1.0, 2.5, 3.0]}).to_parquet(
        tmp_path / "sales" / "part-0.parquet")
    # business_timezone is for instants: a naive wall clock keeps its day whatever the zone.
    cfg = _cfg(repo_root, tmp_path, quality={"business_timezone": "Asia/Shanghai"})
    accepted, quarantined = _read(spark, cfg)
    assert quarantined == []
    assert sorted((r.date, r.units) for r in accepted) == [(D5, 1.0), (D6, 2.5), (dt.date(2024, 1, 7), 3.0)]


def test_zoned_timestamps_of_any_unit_keep_their_own_wall_clock_day(spark, tmp_path, repo_root):
    units = ["s", "ms", "us", "ns"]  # Parquet stores s as ms; ns is what pandas writes
    for unit in units:
        _sales_file(tmp_path / unit / "sales", _berlin(unit), region=unit)
    # business_timezone: UTC (the default), which would put the first sale on January 4.
    accepted, _ = _read(spark, [_cfg(repo_root, tmp_path / unit) for unit in units])
    assert sorted((r.region_id, r.date) for r in accepted) == sorted(
        [(f"{unit}0", D5) for unit in units] + [(f"{unit}1", D6) for unit in units])


def test_utc_instants_take_the_business_day_whatever_the_session_zone(spark, tmp_path, repo_root):
    # 18:00 UTC is 02:00 the next day in Shanghai: instants stored in UTC belong to the business day.
    utc = pa.array(pd.to_datetime(["2024-01-05 18:00", "2024-01-06 03:00"]).tz_localize("UTC"))
    _sales_file(tmp_path / "pyarrow" / "sales", utc)
    spark_written = spark.createDataFrame([("A", "S0", dt.datetime(2024, 1, 5, 18, 0), 1.0)],
                                          "item_id string, region_id string, date timestamp, units double")
    spark_written.write.parquet(str(tmp_path / "spark" / "sales"))
    _sales_file(tmp_path / "zoned" / "sales", _berlin("us"))
    shanghai = {"business_timezone": "Asia/Shanghai"}
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")  # must not move any day
    try:
        accepted, _ = _read(spark, [_cfg(repo_root, tmp_path / w, quality=shanghai) for w in ("pyarrow", "spark")])
        zoned, _ = _read(spark, _cfg(repo_root, tmp_path / "zoned", quality=shanghai))
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)
    assert [r.date for r in accepted] == [D6, D6, D6]
    assert sorted(r.date for r in zoned) == [D5, D6]  # a zone of its own wins over Shanghai


def test_inventory_and_events_dates_follow_the_same_rule(spark, tmp_path, repo_root):
    counted = _berlin("ns")[:1]
    pq.write_table(pa.table({"item_id": ["A"], "region_id": ["R1"], "on_hand": [4.0], "as_of_date": counted}),
                   _mkdir(tmp_path / "inventory") / "part-0.parquet")
    pq.write_table(pa.table({"date": _berlin("us"), "event_name": ["sale", "fair"]}),
                   _mkdir(tmp_path / "events") / "part-0.parquet")
    inventory, _ = _read(spark, _cfg(repo_root, tmp_path, "inventory"), table="inventory")
    events, _ = _read(spark, _cfg(repo_root, tmp_path, "events"), table="events")
    assert [r.as_of_date for r in inventory] == [D5]
    assert sorted(r.date for r in events) == [D5, D6]


def test_files_that_store_the_date_two_ways_are_refused(spark, tmp_path, repo_root):
    _sales_file(tmp_path / "sales", _berlin("us"))
    naive = pa.table({"item_id": ["A"], "region_id": ["R9"], "date": pa.array([dt.datetime(2024, 1, 5)], pa.timestamp("us")),
                      "units": [1.0]})  # fmt: skip
    pq.write_table(naive, tmp_path / "sales" / "part-1.parquet")
    with pytest.raises(InputError, match=r"input sales: column 'date' is stored two ways .*Europe/Berlin.*"
                                         r"timestamp without zone.*re-export"):
        read_input(spark, _cfg(repo_root, tmp_path), "sales")


def test_jvm_footer_reader_agrees_with_pyarrow(spark, tmp_path):
    # The JVM reader serves s3a://, abfss:// ... (the cluster's credentials); checked here on local files.
    _sales_file(tmp_path / "berlin", _berlin("ns"))
    _sales_file(tmp_path / "utc", pa.array([dt.datetime(2024, 1, 5)], pa.timestamp("us", tz="UTC")))
    pd.DataFrame({"date": pd.to_datetime(["2024-01-05"])}).to_parquet(_mkdir(tmp_path / "pandas") / "p.parquet")
    expected = {"berlin": TimeColumn("zoned", True, "Europe/Berlin"), "utc": TimeColumn("instant"),
                "pandas": TimeColumn("naive", True)}
    for name, spec in expected.items():
        jvm = ingest._jvm_footers(spark, f"file://{tmp_path / name}")
        local = ingest.footer_times(spark, str(tmp_path / name), "sales")
        assert [c["date"] for c in jvm.values()] == [c["date"] for c in local.values()] == [spec], name


# ---- CSV from a spreadsheet ------------------------------------------------------------------------------------

SPREADSHEET = (
    "item_id;region_id;date;units;price\r\n"
    "A;R1;01/07/2023;1,5;2,25\r\n"  # 1 July, not 7 January
    "A;R1;02/07/2023;3;1\r\n"
    "A;R2;13/07/2023;1.234,5;2\r\n"  # a thousands dot: unparseable, never 1.234
    "A;R3;2023-07-14;1;2\r\n"  # not the configured layout
)


def test_spreadsheet_csv_with_bom_semicolons_decimal_comma_and_day_first_dates(spark, tmp_path, repo_root):
    folder = _mkdir(tmp_path / "Sales Reports 2023")  # a path with spaces
    (folder / "sales.csv").write_bytes(SPREADSHEET.encode("utf-8-sig"))  # Excel's "CSV UTF-8" starts with a BOM
    cfg = load_config(repo_root / "conf", environ={}, overrides={"inputs": {"root": str(tmp_path), "sales": {
        "path": "Sales Reports 2023", "format": "csv", "sep": ";", "decimal": ",", "date_format": "dd/MM/yyyy"}}})
    accepted, quarantined = _read(spark, cfg)
    assert sorted((r.date, r.units, r.price) for r in accepted) == [
        (dt.date(2023, 7, 1), 1.5, 2.25), (dt.date(2023, 7, 2), 3.0, 1.0)]
    bad = {json.loads(r._payload)["region_id"]: (r.reason_code, json.loads(r._payload)) for r in quarantined}
    assert bad["R2"][0] == "BAD_UNITS" and bad["R2"][1]["units"] == "1.234,5"  # the original spelling
    assert bad["R3"][0] == "BAD_DATE"
    assert {r.reason for r in quarantined if r.reason_code == "BAD_DATE"} == {
        "date does not parse as date (yyyy-MM-dd, or the layout set in inputs.sales.date_format, e.g. dd/MM/yyyy)"}
    # Readers of the raw input (the report's actuals) type it the same way.
    typed = typed_input(read_input(spark, cfg, "sales"), "sales", cfg.quality).collect()
    assert sorted((r.date, r.units) for r in typed if r.date and r.units) == [(dt.date(2023, 7, 1), 1.5),
                                                                            (dt.date(2023, 7, 2), 3.0)]


def test_cp1252_csv_is_decoded(spark, tmp_path, repo_root, items_df):
    # Excel's plain "CSV" on Western Windows: cp1252, where 0x96 is an en dash (a control character in latin-1).
    text = "item_id;region_id;date;units\r\nCafé;München;2024-01-05;2\r\nGröße–L;Köln;2024-01-05;1\r\n"
    _mkdir(tmp_path / "sales")
    (tmp_path / "sales" / "s.csv").write_bytes(text.encode("cp1252"))
    accepted, quarantined = _read(spark, _cfg(repo_root, tmp_path, format="csv", sep=";", encoding="windows-1252"),
                                  items_df)
    assert quarantined == []
    assert sorted((r.item_id, r.region_id) for r in accepted) == [("Café", "München"), ("Größe–L", "Köln")]
    # Read as UTF-8 (the default) the same bytes are not text: quarantined as such, not taken for new ids.
    _, quarantined = _read(spark, _cfg(repo_root, tmp_path, format="csv", sep=";"))
    assert {r.reason_code for r in quarantined} == {"BAD_ENCODING"}
    assert "inputs.sales.encoding" in quarantined[0].reason


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"format": "csv", "sep": "semicolon"}, ["config key inputs.sales.sep", "one character"]),
        ({"format": "csv", "decimal": "comma"}, ["config key inputs.sales.decimal", "'.' or ','"]),
        ({"format": "csv", "date_format": "dd/mm/yyyy"}, ["config key inputs.sales.date_format", "minutes", "MM"]),
        ({"format": "csv", "date_format": "yyyy"}, ["config key inputs.sales.date_format", "dd/MM/yyyy"]),
        ({"format": "csv", "encoding": "utf-16"}, ["config key inputs.sales.encoding", "cp1252", "CSV UTF-8"]),
        ({"format": "csv", "decimal": ","}, ["config key inputs.sales", "sep and decimal", "sep: ';'"]),
        ({"format": "parquet", "sep": ";"}, ["config key inputs.sales", "sep applies to format: csv only"]),
        ({"path": "sales "}, ["config key inputs.sales.path", "ends with a space"]),
    ],
    ids=["sep", "decimal", "minutes", "no day", "encoding", "sep=decimal", "not csv", "trailing space"],
)
def test_bad_csv_settings_name_the_key(repo_root, spec, words):
    with pytest.raises(ConfigError) as err:
        load_config(repo_root / "conf", environ={}, overrides={"inputs": {"sales": {"path": "sales", **spec}}})
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_csv_settings_from_the_environment(repo_root):
    env = {"SKUPLAN__INPUTS__SALES__FORMAT": "csv", "SKUPLAN__INPUTS__SALES__SEP": ";",
           "SKUPLAN__INPUTS__SALES__DECIMAL": '","', "SKUPLAN__INPUTS__SALES__ENCODING": "latin-1",
           "SKUPLAN__INPUTS__SALES__PATH": "exports/sales 2024.csv"}  # fmt: skip
    sales = load_config(repo_root / "conf", environ=env).inputs.sales
    assert (sales.sep, sales.decimal, sales.encoding, sales.path) == (";", ",", "iso8859-1", "exports/sales 2024.csv")
    # A bare comma is YAML syntax: the error says to quote it.
    with pytest.raises(ConfigError, match="SKUPLAN__INPUTS__SALES__DECIMAL.*quote"):
        load_config(repo_root / "conf", environ={**env, "SKUPLAN__INPUTS__SALES__DECIMAL": ","})


# ---- output root ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("under", [False, True], ids=["root is a file", "root under a file"])
def test_output_root_that_is_a_file_stops_the_dry_run(spark, tmp_path, repo_root, capsys, under):
    blocker = tmp_path / "delta"
    blocker.write_text("not a folder")
    root = blocker / "tables" if under else blocker
    conf_file = tmp_path / "out.yaml"
    conf_file.write_text(f"outputs:\n  root: {root}\ninputs:\n  root: {tmp_path / 'nowhere'}\n")
    code = main(["run", "--conf", str(repo_root / "conf"), "--conf-file", str(conf_file), "--run-date", "2024-03-01",
                 "--dry-run"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"outputs.root {root}" in err and "not a folder" in err and "point outputs.root" in err
    assert ("lies under" in err) == under


def test_output_root_that_is_a_file_stops_the_run_before_validate(spark, tmp_path, repo_root):
    from skuplan.pipeline import run_pipeline

    (tmp_path / "out").write_text("")
    cfg = load_config(repo_root / "conf", environ={}, overrides={"outputs": {"root": str(tmp_path / "out")},
                                                               "inputs": {"root": str(tmp_path / "nowhere")}})
    with pytest.raises(InputError, match="outputs.root .* is a file, not a folder"):
        run_pipeline(spark, cfg, RUN_DATE)  # inputs.root does not exist: the root check came first
