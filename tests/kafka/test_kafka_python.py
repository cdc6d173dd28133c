"""kafka-python (pure Python client): keyed produce with acks=all and
idempotence off, read back with assign() + seek(), byte for byte."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from helpers import CONSUME_DEADLINE_S, TIMESTAMP_BASE_MS, create_topic

PARTITIONS = 2
COUNT = 30


def test_round_trip(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                         linger_ms=5, request_timeout_ms=20000)
    records = [(b"kp-key-%d" % (i % 4), b"kp-value-%d\x00\x01" % i,
                [("h", b"v-%d" % i)], TIMESTAMP_BASE_MS + i) for i in range(COUNT)]
    futures = [prod.send(topic, key=k, value=v, headers=h, timestamp_ms=ts)
               for k, v, h, ts in records]
    prod.flush(timeout=CONSUME_DEADLINE_S)
    metas = [f.get(timeout=CONSUME_DEADLINE_S) for f in futures]
    prod.close()

    partition_of_key = {}
    for (k, *_), m in zip(records, metas):
        assert partition_of_key.setdefault(k, m.partition) == m.partition

    start = {}
    for m in metas:
        start[m.partition] = min(start.get(m.partition, m.offset), m.offset)
    cons = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="none")
    try:
        cons.assign([TopicPartition(topic, p) for p in start])
        for p, o in start.items():
            cons.seek(TopicPartition(topic, p), o)
        got = []
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(got) < COUNT and time.monotonic() < deadline:
            for batch in cons.poll(timeout_ms=500).values():
                got.extend(batch)
    finally:
        cons.close()

    assert len(got) == COUNT
    sent = {(m.partition, m.offset): r for r, m in zip(records, metas)}
    for msg in got:
        k, v, h, ts = sent.pop((msg.partition, msg.offset))
        assert (msg.key, msg.value, list(msg.headers), msg.timestamp) == (k, v, h, ts)
        assert msg.timestamp_type == 0  # CreateTime
    assert not sent
