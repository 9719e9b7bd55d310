"""The other sources of `skuplan stream` parse to the same events: CSV files (the file source's second format) and a
Delta table's typed events, read statically through the job's own readers (the streaming read differs only in
spark.readStream). The JSON file source runs end to end in test_stream.py, Kafka in test_stream_kafka.py."""

from __future__ import annotations

import datetime as dt

import pytest

from skuplan.stream.sources import parse_events, raw_from_columns, read_text_files

HEADER = "event_id,item_id,region_id,event_time,kind,qty"


def test_csv_events_parse_with_reasons(spark, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "part-0.csv").write_text(
        "\n".join([
            HEADER,
            "c1,A,R1,2026-01-01T08:00:00Z,receipt,4",
            "c2,A,R1,2026-01-01 09:00:00,sale,1.5",
            "c3,A,,2026-01-01T09:00:00Z,sale,1",
            "c4,A,R1,2026-01-01T09:00:00Z,adjustment,-2",
        ]) + "\n"
    )  # fmt: skip
    parsed = parse_events(read_text_files(spark.read, "csv", str(folder))).orderBy("event_id").toPandas()
    assert parsed["reason_code"].tolist() == [None, None, "missing_key", None]
    assert parsed["delta"].tolist()[:2] == [4.0, -1.5] and parsed.loc[3, "delta"] == -2.0
    assert parsed.loc[1, "event_time"] == dt.datetime(2026, 1, 1, 9)

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "part-0.csv").write_text(
        "item_id,event_id,region_id,event_time,kind,qty\nA,c1,R1,2026-01-01,sale,1\n"
    )
    with pytest.raises(Exception, match="(?i)header"):
        read_text_files(spark.read, "csv", str(wrong)).collect()


def test_delta_events_table_parses_typed_columns(spark):
    rows = [("d1", "A", "R1", dt.datetime(2026, 1, 1, 8), "sale", 2.0), ("d2", "A", "R1", None, "sale", 1.0)]
    schema = (
        "event_id string, item_id string, region_id string, event_time timestamp, kind string, qty double"
    )
    # The typed frame a Delta events table yields (the stream reads it with spark.readStream.format("delta")).
    df = spark.createDataFrame(rows, schema)
    parsed = parse_events(raw_from_columns(df, "events")).orderBy("event_id").toPandas()
    assert parsed["reason_code"].tolist() == [None, "missing_key"]
    assert parsed.loc[0, "delta"] == -2.0 and parsed.loc[0, "event_time"] == dt.datetime(2026, 1, 1, 8)
    with pytest.raises(Exception, match=r"column\(s\) \['qty'\] missing"):
        raw_from_columns(df.drop("qty"), "events")
