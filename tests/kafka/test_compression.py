"""Compressed batches: each codec produced by librdkafka reads back identical
(Java's snappy, in xerial framing, is in test_java_client.py)."""

import pytest

from helpers import create_topic, first_offsets, produce_and_wait, producer, read_assigned

COUNT = 200


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_round_trip(bootstrap, topic, codec):
    create_topic(bootstrap, topic, 2)
    records = [{"key": b"k%d" % (i % 5),
                "value": (b"compressible %d " % i) * (1 + i % 40),
                "headers": [("codec", codec.encode())]} for i in range(COUNT)]
    # linger so that many records share a compressed batch
    p = producer(bootstrap, **{"compression.type": codec, "linger.ms": 50})
    reports = produce_and_wait(p, topic, records)
    got = read_assigned(bootstrap, topic, first_offsets(reports), COUNT)
    sent = {(m.partition(), m.offset()): r for r, m in zip(records, reports)}
    for msg in got:
        r = sent.pop((msg.partition(), msg.offset()))
        assert (msg.key(), msg.value(), msg.headers()) == (r["key"], r["value"], r["headers"])
    assert not sent
