"""Long-poll fetch: a consumer whose fetches may wait 20 s sees nothing while
the partition is quiet, and receives a record produced meanwhile well before
its fetch would have timed out (the broker wakes the waiting fetch)."""

import time

from confluent_kafka import TopicPartition

from helpers import consumer, create_topic, produce_and_wait, producer

FETCH_WAIT_MS = 20_000
QUIET_S = 3
# generous, but well under FETCH_WAIT_MS: a broker that only answers when the
# fetch's wait expires fails this
RECEIVE_DEADLINE_S = 12


def test_waiting_fetch_wakes_on_produce(bootstrap, topic):
    create_topic(bootstrap, topic, 1)
    p = producer(bootstrap)
    [first] = produce_and_wait(p, topic, [{"value": b"before", "partition": 0}])
    c = consumer(bootstrap, **{"fetch.wait.max.ms": FETCH_WAIT_MS,
                               "socket.timeout.ms": FETCH_WAIT_MS + 30_000})
    try:
        c.assign([TopicPartition(topic, 0, first.offset() + 1)])
        quiet_until = time.monotonic() + QUIET_S
        while time.monotonic() < quiet_until:
            msg = c.poll(0.5)
            assert msg is None or msg.error(), f"unexpected record {msg.value()!r}"

        produce_and_wait(p, topic, [{"value": b"wake up", "partition": 0}])
        produced_at = time.monotonic()
        while True:
            msg = c.poll(0.2)
            if msg is not None and not msg.error():
                break
            assert time.monotonic() - produced_at < RECEIVE_DEADLINE_S, \
                "the waiting fetch did not return the new record"
        assert msg.value() == b"wake up"
        assert msg.offset() == first.offset() + 1
    finally:
        c.close()
