"""confluent-kafka (librdkafka): keyed produce with delivery callbacks,
acks=all, no idempotence; read back with assign() at the acknowledged offsets,
byte for byte, timestamps and headers included."""

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
            # a repeated header name: order and duplicates must survive
            "headers": [("trace", b"t-%d" % i), ("bin", b"\x00\xff"), ("trace", b"again")],
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


def test_null_key_and_value(bootstrap, topic):
    create_topic(bootstrap, topic, 1)
    records = [{"key": None, "value": b"no key"}, {"key": b"tombstone", "value": None},
               {"key": b"", "value": b""}]
    reports = produce_and_wait(producer(bootstrap), topic, records)
    got = read_assigned(bootstrap, topic, first_offsets(reports), len(records))
    assert [(m.key(), m.value()) for m in got] == [(r["key"], r["value"]) for r in records]
    assert all(not m.headers() for m in got)
