"""Shared by the tests in tests/kafka: topic names, client configs that the
broker must accept (idempotence off by default here, librdkafka's own
default; test_idempotence.py turns it on), topic creation and
reading back with confluent-kafka's assign()."""

import re
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMESTAMP_BASE_MS = 1_700_000_000_000  # CreateTime the tests set: in the past, fixed
CONSUME_DEADLINE_S = 30
METADATA_WAIT_S = 15


def unique_topic(test_name: str) -> str:
    base = re.sub(r"[^a-zA-Z0-9_-]", "-", test_name)[:60]
    return f"{base}-{uuid.uuid4().hex[:8]}"


def producer(bootstrap: str, **extra) -> Producer:
    conf = {"bootstrap.servers": bootstrap, "client.id": "confluent-producer", "acks": "all",
            "enable.idempotence": False, "linger.ms": 5,
            "message.timeout.ms": 30000}
    conf.update(extra)
    return Producer(conf)


def consumer(bootstrap: str, **extra) -> Consumer:
    # group.id is required by the client even with assign(); it is never
    # joined and nothing is committed.
    conf = {"bootstrap.servers": bootstrap, "client.id": "confluent-consumer",
            "group.id": "unused-assign-only",
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "error"}
    conf.update(extra)
    return Consumer(conf)


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "client.id": "confluent-admin"})


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Creates the topic and waits until metadata shows every partition led."""
    a = admin(bootstrap)  # kept alive: its futures fail once it is collected
    futures = a.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
        operation_timeout=10)
    futures[topic].result(timeout=20)
    wait_for_partitions(bootstrap, topic, partitions)


def wait_for_partitions(bootstrap: str, topic: str, partitions: int):
    deadline = time.monotonic() + METADATA_WAIT_S
    a = admin(bootstrap)
    while True:
        md = a.list_topics(timeout=10).topics.get(topic)
        if md is not None and md.error is None and len(md.partitions) == partitions \
                and all(p.leader >= 0 for p in md.partitions.values()):
            return md
        if time.monotonic() > deadline:
            raise AssertionError(f"metadata of {topic}: {md and md.partitions} error {md and md.error}")
        time.sleep(0.2)


def produce_and_wait(p: Producer, topic: str, records) -> list:
    """Produces records (dicts of key, value, headers, timestamp, partition)
    and returns their delivery reports in order, raising on any error."""
    reports = [None] * len(records)

    def on_delivery(i):
        def cb(err, msg):
            reports[i] = (err, msg)
        return cb

    for i, r in enumerate(records):
        kwargs = {k: r[k] for k in ("key", "value", "headers", "timestamp", "partition") if k in r}
        p.produce(topic, on_delivery=on_delivery(i), **kwargs)
        p.poll(0)
    remaining = p.flush(CONSUME_DEADLINE_S)
    assert remaining == 0, f"{remaining} records not delivered"
    errors = [(i, err) for i, (err, _) in enumerate(reports) if err is not None]
    assert not errors, f"delivery errors: {errors}"
    return [msg for _, msg in reports]


def read_assigned(bootstrap: str, topic: str, start: dict, count: int, **extra) -> list:
    """Reads count records with assign() from {partition: offset}."""
    c = consumer(bootstrap, **extra)
    try:
        c.assign([TopicPartition(topic, p, o) for p, o in start.items()])
        out = []
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {msg.error()}")
            out.append(msg)
        assert len(out) == count, f"read {len(out)} of {count} records"
        return out
    finally:
        c.close()


def first_offsets(reports) -> dict:
    start = {}
    for m in reports:
        start[m.partition()] = min(start.get(m.partition(), m.offset()), m.offset())
    return start
