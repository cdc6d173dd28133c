"""confluent-kafka (librdkafka): keyed produce with delivery callbacks,
acks=all, no idempotence; read back with assign() at the acknowledged offsets,
byte for byte, timestamps and headers included."""

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from helpers import (TIMESTAMP_BASE_MS, create_topic, first_offsets, produce_and_wait,
                     producer, read_assigned)

PARTITIONS = 3
COUNT = 60


def make_records():
    records = []
    for i in range(COUNT):
        records.append({
            "key": b"key-%d\x00\xff" % (i % 7),
            "value": bytes(range(256))[i:] + b"value-%d" % i,
            "headers": [("trace", b"t-%d" % i), ("bin", b"\x00\xff")],
            "timestamp": TIMESTAMP_BASE_MS + i * 10,
        })
    return records


def test_keyed_round_trip(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    records = make_records()
    reports = produce_and_wait(producer(bootstrap), topic, records)

    partition_of_key = {}
    for r, m in zip(records, reports):
        assert m.offset() >= 0
        assert partition_of_key.setdefault(r["key"], m.partition()) == m.partition(), \
            f"key {r['key']!r} went to two partitions"
    assert len(set(partition_of_key.values())) > 1, "every key landed on one partition"
    # offsets within a partition are dense and in produce order
    for p in set(m.partition() for m in reports):
        offsets = [m.offset() for m in reports if m.partition() == p]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))

    got = read_assigned(bootstrap, topic, first_offsets(reports), COUNT)
    sent = {(m.partition(), m.offset()): r for r, m in zip(records, reports)}
    for msg in got:
        r = sent.pop((msg.partition(), msg.offset()))
        assert msg.key() == r["key"]
        assert msg.value() == r["value"]
        assert msg.headers() == r["headers"]
        assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, r["timestamp"])
    assert not sent


def test_null_key_and_empty_fields(bootstrap, topic):
    create_topic(bootstrap, topic, 1)
    records = [{"key": None, "value": b"no key"}, {"key": b"", "value": b""},
               {"key": b"k", "value": b"empty header", "headers": [("h", b"")]}]
    reports = produce_and_wait(producer(bootstrap), topic, records)
    got = read_assigned(bootstrap, topic, first_offsets(reports), len(records))
    assert [(m.key(), m.value(), m.headers()) for m in got] == \
        [(r["key"], r["value"], r.get("headers")) for r in records]


@pytest.mark.shardlog_deviation("a null value or header value reads back empty (src/kafka/records.rs)")
def test_null_value_tombstone(bootstrap, topic):
    """Compacted topics and CDC tools rely on null values (tombstones)."""
    create_topic(bootstrap, topic, 1)
    records = [{"key": b"deleted", "value": None, "headers": [("h", None)]}]
    reports = produce_and_wait(producer(bootstrap), topic, records)
    [msg] = read_assigned(bootstrap, topic, first_offsets(reports), 1)
    assert (msg.key(), msg.value(), msg.headers()) == (b"deleted", None, [("h", None)])


@pytest.mark.shardlog_deviation("headers with the same key keep only the last (src/kafka/records.rs)")
def test_repeated_header_keys(bootstrap, topic):
    """Kafka headers are an ordered list: a name may repeat, order is kept."""
    create_topic(bootstrap, topic, 1)
    headers = [("trace", b"1"), ("bin", b"\x00"), ("trace", b"2")]
    reports = produce_and_wait(producer(bootstrap), topic,
                               [{"key": b"k", "value": b"v", "headers": headers}])
    [msg] = read_assigned(bootstrap, topic, first_offsets(reports), 1)
    assert msg.headers() == headers


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks_levels(bootstrap, topic, acks):
    """Every acks level delivers; with acks=0 the client learns no offsets."""
    create_topic(bootstrap, topic, 1)
    records = [{"key": b"k%d" % i, "value": b"acks=%s %d" % (acks.encode(), i)} for i in range(20)]
    reports = produce_and_wait(producer(bootstrap, acks=acks), topic, records)
    if acks != "0":
        assert [m.offset() for m in reports] == list(range(20))
    got = read_assigned(bootstrap, topic, {0: 0}, len(records))
    assert [(m.key(), m.value()) for m in got] == [(r["key"], r["value"]) for r in records]
