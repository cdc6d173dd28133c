"""shardlog only: records cross between its native protocol and Kafka's.
Produced with `shardlog produce`, read by confluent-kafka and kcat; produced
with confluent-kafka, read by `shardlog consume --format json`. (The native
CLI sets no headers or timestamps, so that direction checks keys and values.)"""

import base64
import json
import os
import subprocess
from pathlib import Path

from helpers import (TIMESTAMP_BASE_MS, create_topic, produce_and_wait, producer,
                     read_assigned)

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 60
PARTITIONS = 2


def shardlog(native, *args, stdin=None):
    binary = os.environ.get("SHARDLOG_BIN", str(REPO_ROOT / "target/debug/shardlog"))
    proc = subprocess.run([binary, *args, "--broker", native], input=stdin,
                          capture_output=True, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, f"shardlog {args}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode()


def field(record, name):
    if name + "_base64" in record:
        return base64.b64decode(record[name + "_base64"])
    return None if record[name] is None else record[name].encode()


def test_native_produce_kafka_consume(bootstrap, native, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    lines = [f"user-{i % 3}:native value {i} é" for i in range(9)]
    shardlog(native, "produce", topic, "--key-separator", ":",
             stdin=("\n".join(lines) + "\n").encode())
    expected = sorted((l.split(":", 1)[0].encode(), l.split(":", 1)[1].encode()) for l in lines)

    got = read_assigned(bootstrap, topic, {p: 0 for p in range(PARTITIONS)}, len(lines))
    assert sorted((m.key(), m.value()) for m in got) == expected
    assert all(not m.headers() for m in got)

    out = subprocess.run(["kcat", "-b", bootstrap, "-X", "client.id=kcat", "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%k:%s\n"], capture_output=True, timeout=CLI_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.decode().splitlines()) == sorted(lines)


def test_kafka_produce_native_consume(bootstrap, native, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    records = [{"key": b"k-%d" % (i % 2), "value": b"kafka value %d" % i,
                "headers": [("trace", b"t-%d" % i), ("bin", b"\x00\xff")],
                "timestamp": TIMESTAMP_BASE_MS + i} for i in range(6)]
    records.append({"key": b"\xff\xfe", "value": b"\x00\x80 not utf-8", "headers": [],
                    "timestamp": TIMESTAMP_BASE_MS + 99})
    reports = produce_and_wait(producer(bootstrap), topic, records)

    out = shardlog(native, "consume", topic, "--from", "earliest", "--format", "json")
    got = {(r["partition"], r["offset"]): r for r in map(json.loads, out.splitlines())}
    assert len(got) == len(records), out
    for r, m in zip(records, reports):
        n = got[(m.partition(), m.offset())]
        assert field(n, "key") == r["key"]
        assert field(n, "value") == r["value"]
        assert n["timestamp"] == r["timestamp"]
        assert [(h["name"], field(h, "value")) for h in n["headers"]] == r["headers"]
