"""ListOffsets: by timestamp (offsets_for_times: the first offset whose
timestamp is at or after T), earliest and latest (get_watermark_offsets)."""

from confluent_kafka import TopicPartition

from helpers import (TIMESTAMP_BASE_MS, consumer, create_topic, produce_and_wait, producer)

COUNT = 10
STEP_MS = 1000


def test_offsets_for_times_and_watermarks(bootstrap, topic):
    create_topic(bootstrap, topic, 1)
    records = [{"value": b"v%d" % i, "partition": 0, "timestamp": TIMESTAMP_BASE_MS + i * STEP_MS}
               for i in range(COUNT)]
    reports = produce_and_wait(producer(bootstrap), topic, records)
    offsets = [m.offset() for m in reports]
    assert offsets == list(range(offsets[0], offsets[0] + COUNT))

    c = consumer(bootstrap)
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        assert (low, high) == (offsets[0], offsets[-1] + 1)

        def at(ts):
            [tp] = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert tp.error is None, tp.error
            return tp.offset

        assert at(TIMESTAMP_BASE_MS - 5000) == offsets[0]  # before all: the first
        assert at(TIMESTAMP_BASE_MS) == offsets[0]  # exactly the first
        assert at(TIMESTAMP_BASE_MS + 3 * STEP_MS) == offsets[3]  # exact match
        assert at(TIMESTAMP_BASE_MS + 3 * STEP_MS + 1) == offsets[4]  # between: the next
        assert at(TIMESTAMP_BASE_MS + (COUNT - 1) * STEP_MS) == offsets[-1]
        assert at(TIMESTAMP_BASE_MS + COUNT * STEP_MS) == -1  # after all: none (OFFSET_END)
    finally:
        c.close()
