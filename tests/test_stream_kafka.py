"""The Kafka path of `skuplan stream`.

1. Always: record values parsed exactly as the Kafka source delivers them (a frame with the connector's columns,
   `value` binary), through the same parse as the job, including values that are not JSON objects.
2. With SKUPLAN_KAFKA_TESTS=1: a real Apache Kafka broker (KRaft mode, single node, the Maven Central artifacts
   cached by scripts/fetch_kafka.sh) started by the fixture below; events are produced with Spark's Kafka sink and
   the job consumes them with the Kafka source (`make test-kafka`). Opt-in because formatting the storage and
   starting the broker's JVM costs several seconds on the 2-core CI machine, beyond this feature's test budget.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from skuplan.stream.rules import REASONS

REPO = Path(__file__).resolve().parents[1]
KAFKA_DIR = REPO / ".cache" / "kafka"
GOOD = {"event_id": "k1", "item_id": "A", "region_id": "R1", "event_time": "2026-01-01T08:00:00Z",
        "kind": "receipt", "qty": 7}  # fmt: skip


def _kafka_frame(spark, values: list[bytes | None]):
    """Rows shaped like the Kafka source's (key, value, topic, partition, offset, timestamp, timestampType)."""
    rows = [(None, v, "inventory-events", 0, i, None, 0) for i, v in enumerate(values)]
    schema = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
    return spark.createDataFrame(rows, schema)


def test_kafka_values_parse_like_the_file_source(spark):
    from skuplan.stream.sources import parse_events, parse_kafka_values

    values = [
        json.dumps(GOOD).encode(),
        json.dumps(
            {**GOOD, "event_id": "k2", "qty": "7.5", "kind": " Sale "}
        ).encode(),  # text qty, padded kind
        b"[1, 2]",  # JSON, but not an object
        b"\xff\xfe not utf-8 json",
        None,  # a tombstone
        json.dumps({**GOOD, "event_id": "k3", "kind": "refund"}).encode(),
    ]
    parsed = parse_events(parse_kafka_values(_kafka_frame(spark, values))).toPandas()
    assert parsed["reason_code"].tolist()[:2] == [None, None]
    assert (
        parsed.loc[0, "delta"] == 7.0 and parsed.loc[1, "delta"] == -7.5 and parsed.loc[1, "kind"] == "sale"
    )
    assert parsed["reason_code"].tolist()[2:] == ["malformed", "malformed", "malformed", "unknown_kind"]
    assert set(parsed["reason_code"].dropna()) <= set(REASONS)
    assert parsed.loc[2, "payload"] == "[1, 2]"  # the value as sent reaches the quarantine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory):
    """host:port of a single-node KRaft broker on the loopback interface, stopped after the module."""
    if os.environ.get("SKUPLAN_KAFKA_TESTS") != "1":
        pytest.skip(
            "opt-in (SKUPLAN_KAFKA_TESTS=1, `make test-kafka`): a real broker costs more than the budget"
        )
    if not (KAFKA_DIR / ".fetched").exists():
        pytest.fail(f"no Kafka broker JARs in {KAFKA_DIR}: run `bash scripts/fetch_kafka.sh {KAFKA_DIR}`")
    work = tmp_path_factory.mktemp("kafka")
    broker, controller = _free_port(), _free_port()
    props = work / "server.properties"
    props.write_text("\n".join([
        "process.roles=broker,controller", "node.id=1", f"controller.quorum.voters=1@127.0.0.1:{controller}",
        f"listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{broker}", "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT", f"log.dirs={work / 'data'}",
        "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1", "num.partitions=1", "group.initial.rebalance.delay.ms=0",
    ]) + "\n")  # fmt: skip
    classpath = f"{KAFKA_DIR}/*"
    # A cluster id is 16 random bytes in URL-safe base64; one starting with "-" would be read as an option.
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    started = time.perf_counter()
    subprocess.run(["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c",
                    str(props)], check=True, capture_output=True, timeout=300)  # fmt: skip
    log = (work / "broker.log").open("w")
    proc = subprocess.Popen(["java", "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(props)], stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.time() + 300
        while True:
            try:
                socket.create_connection(("127.0.0.1", broker), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        f"Kafka broker did not start: {(work / 'broker.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        print(f"kafka broker up in {time.perf_counter() - started:.1f}s (format + start)")
        yield f"127.0.0.1:{broker}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_stream_from_a_real_kafka_broker(spark, kafka_broker, tmp_path, repo_root):
    from skuplan.config import load_config
    from skuplan.stream.job import start_stream

    topic = "inventory-events"
    values = [
        json.dumps(GOOD),
        json.dumps(
            {**GOOD, "event_id": "k2", "kind": "sale", "qty": 3, "event_time": "2026-01-01T09:00:00Z"}
        ),
        json.dumps(
            {**GOOD, "event_id": "k2", "kind": "sale", "qty": 3, "event_time": "2026-01-01T09:00:00Z"}
        ),
        "not json",
    ]
    (spark.createDataFrame([(v,) for v in values], "value string").write.format("kafka")
     .option("kafka.bootstrap.servers", kafka_broker).option("topic", topic).save())  # fmt: skip
    cfg = load_config(repo_root / "conf", environ={}, overrides={
        "inputs": {"root": str(tmp_path / "in")}, "outputs": {"root": str(tmp_path / "out")},
        "stream": {"source": "kafka", "kafka": {"bootstrap_servers": kafka_broker, "topic": topic}},
    })  # fmt: skip
    query = start_stream(spark, cfg, available_now=True)
    query.awaitTermination()
    assert query.exception() is None

    def table(name):
        return spark.read.format("delta").load(str(tmp_path / "out" / name)).toPandas()

    positions = table("inventory_position")
    assert positions[["item_id", "on_hand", "events_applied"]].values.tolist() == [
        ["A", 4.0, 2]
    ]  # 7 - 3, k2 once
    quarantine = table("stream_quarantine")
    assert quarantine[["source", "reason_code", "payload"]].values.tolist() == [
        ["kafka", "malformed", "not json"]
    ]
