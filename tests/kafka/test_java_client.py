"""The Java kafka-clients (4.x) program tests/kafka/java/clients/RoundTrip.java:
its produce/consume round trip, and what it wrote read by librdkafka."""

import base64
import json
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from helpers import TIMESTAMP_BASE_MS, create_topic, read_assigned

TOOLS = Path(__file__).resolve().parents[2] / "tmp/kafka-clients"
COUNT = 40
RUN_TIMEOUT_S = 120


def run_java(bootstrap, topic, compression):
    classpath = f"{TOOLS / 'java-lib'}/*:{TOOLS / 'java-classes'}"
    if not (TOOLS / "java-classes/RoundTrip.class").exists():
        pytest.fail("RoundTrip.class missing: run scripts/kafka-clients-setup.sh")
    proc = subprocess.run(
        ["java", "-Xmx256m", "-cp", classpath, "RoundTrip", bootstrap, topic, str(COUNT),
         compression, str(TIMESTAMP_BASE_MS)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, f"RoundTrip failed:\n{proc.stderr[-3000:]}"
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    produced = [l for l in lines if l["op"] == "produced"]
    consumed = [l for l in lines if l["op"] == "consumed"]
    return produced, consumed


def strip_op(record):
    return {k: v for k, v in record.items() if k != "op"}


@pytest.mark.parametrize("compression", ["none", "snappy"])
def test_java_round_trip(bootstrap, topic, compression):
    create_topic(bootstrap, topic, 3)
    produced, consumed = run_java(bootstrap, topic, compression)
    assert len(produced) == COUNT
    partition_of_key = {}
    for r in produced:
        assert partition_of_key.setdefault(r["key"], r["partition"]) == r["partition"]
    assert sorted(map(json.dumps, map(strip_op, consumed))) == \
        sorted(map(json.dumps, map(strip_op, produced)))

    # librdkafka reads what the Java client wrote, the same bytes
    start = {}
    for r in produced:
        start[r["partition"]] = min(start.get(r["partition"], r["offset"]), r["offset"])
    by_position = {(r["partition"], r["offset"]): r for r in produced}
    for msg in read_assigned(bootstrap, topic, start, COUNT):
        r = by_position.pop((msg.partition(), msg.offset()))
        assert msg.key() == base64.b64decode(r["key"])
        assert msg.value() == base64.b64decode(r["value"])
        assert msg.headers() == [(k, base64.b64decode(v)) for k, v in r["headers"]]
        assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, r["timestamp"])
    assert not by_position
