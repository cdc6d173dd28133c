"""Kafka's classic consumer groups with real clients: confluent-kafka
(librdkafka) consumers sharing a topic's partitions, commits, a member
leaving, a group resumed at its committed offsets; kafka-python's group
consumer. The broker never reads the assignors' bytes, so each client's own
assignor (range, roundrobin, cooperative-sticky) must just work."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from kafka import KafkaConsumer

from helpers import create_topic, produce_and_wait, producer

PARTITIONS = 6
GROUP_DEADLINE_S = 60


def group_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def group_consumer(bootstrap, group, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": group,
            "client.id": "confluent-group", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500}
    conf.update(extra)
    return Consumer(conf)


def produce(bootstrap, topic, count):
    p = producer(bootstrap)
    records = [{"key": f"k{i}".encode(), "value": f"v{i}".encode(),
                "partition": i % PARTITIONS} for i in range(count)]
    produce_and_wait(p, topic, records)


def values(msgs):
    return sorted(int(m.value().decode()[1:]) for m in msgs)


def poll_all(consumers, until, deadline_s=GROUP_DEADLINE_S, on_message=None):
    """Polls every consumer in turn until until() or the deadline."""
    deadline = time.monotonic() + deadline_s
    while not until():
        assert time.monotonic() < deadline, "deadline passed"
        for c in consumers:
            msg = c.poll(0.1)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {msg.error()}")
            if on_message:
                on_message(c, msg)


def assignments(consumers):
    return [sorted(tp.partition for tp in c.assignment()) for c in consumers]


def wait_for_split(consumers, members):
    """Polls until the partitions are split among `members` consumers, each
    partition to exactly one."""
    def split():
        parts = assignments(consumers)
        flat = sorted(p for a in parts for p in a)
        return flat == list(range(PARTITIONS)) and sum(1 for a in parts if a) == members
    poll_all(consumers, split)
    return assignments(consumers)


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
def test_members_share_partitions_and_a_leaver_hands_them_over(bootstrap, topic, assignor):
    create_topic(bootstrap, topic, PARTITIONS)
    group = group_name("share")
    consumers = [group_consumer(bootstrap, group, **{"partition.assignment.strategy": assignor})
                 for _ in range(3)]
    try:
        for c in consumers:
            c.subscribe([topic])
        split = wait_for_split(consumers, 3)
        assert all(len(a) == 2 for a in split), split

        # A member leaves: its partitions move to the other two.
        consumers[0].close()
        rest = consumers[1:]
        consumers = rest
        after = wait_for_split(rest, 2)
        assert sorted(p for a in after for p in a) == list(range(PARTITIONS))

        # Every record is read, by the members that own its partition now.
        produce(bootstrap, topic, 60)
        seen = []
        poll_all(rest, lambda: len(seen) >= 60, on_message=lambda c, m: seen.append(m))
        assert values(seen) == list(range(60))
    finally:
        for c in consumers:
            c.close()


def test_a_restarted_group_resumes_at_its_committed_offsets(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    group = group_name("resume")
    total, first = 120, 50
    produce(bootstrap, topic, total)

    consumers = [group_consumer(bootstrap, group) for _ in range(2)]
    seen = []

    def process(c, msg):
        # Commit after processing, one record at a time, until `first`.
        if len(seen) < first:
            seen.append(msg)
            c.commit(message=msg, asynchronous=False)

    try:
        for c in consumers:
            c.subscribe([topic])
        poll_all(consumers, lambda: len(seen) >= first, on_message=process)
    finally:
        for c in consumers:
            c.close()

    # The committed offsets are the group's, readable by anyone.
    probe = group_consumer(bootstrap, group)
    try:
        committed = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
        assert sum(tp.offset for tp in committed if tp.offset >= 0) == first
    finally:
        probe.close()

    # A new generation of the group gets exactly the rest: nothing below
    # the committed offsets, nothing skipped. (It does not commit, so a
    # partition moving between its members during its own rebalances may
    # be read twice: at least once.)
    consumers = [group_consumer(bootstrap, group) for _ in range(2)]
    rest = set()
    try:
        for c in consumers:
            c.subscribe([topic])
        poll_all(consumers, lambda: len(rest) >= total - first,
                 on_message=lambda c, m: rest.add(int(m.value().decode()[1:])))
    finally:
        for c in consumers:
            c.close()
    assert not set(values(seen)) & rest, "read again below the committed offsets"
    assert sorted(set(values(seen)) | rest) == list(range(total))


def test_commit_metadata_round_trips_and_assign_only_commits_work(bootstrap, topic):
    create_topic(bootstrap, topic, 2)
    group = group_name("simple")
    # assign() only: the commit is outside membership (generation -1).
    c = group_consumer(bootstrap, group)
    try:
        c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        tp = TopicPartition(topic, 0, 7, metadata="processed-by-test")
        c.commit(offsets=[tp, TopicPartition(topic, 1, 3)], asynchronous=False)
        got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=20)
        assert [(t.partition, t.offset) for t in got] == [(0, 7), (1, 3)]
        assert got[0].metadata == "processed-by-test"
    finally:
        c.close()
    other = group_consumer(bootstrap, group_name("never-committed"))
    try:
        got = other.committed([TopicPartition(topic, 0)], timeout=20)
        assert got[0].offset < 0, "no committed offset"
    finally:
        other.close()


def test_admin_lists_and_describes_the_group(bootstrap, topic):
    from confluent_kafka.admin import AdminClient
    create_topic(bootstrap, topic, PARTITIONS)
    group = group_name("admin")
    c = group_consumer(bootstrap, group)
    try:
        c.subscribe([topic])
        poll_all([c], lambda: len(c.assignment()) == PARTITIONS)
        a = AdminClient({"bootstrap.servers": bootstrap})
        listed = a.list_consumer_groups(request_timeout=20).result()
        assert group in [g.group_id for g in listed.valid]
        described = a.describe_consumer_groups([group], request_timeout=20)[group].result()
        assert described.state.name == "STABLE"
        assert len(described.members) == 1
        assert sorted(tp.partition for tp in described.members[0].assignment.topic_partitions) \
            == list(range(PARTITIONS))
    finally:
        c.close()


def test_kafka_python_group_consumer(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    group = group_name("kpy")
    produce(bootstrap, topic, 30)
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=GROUP_DEADLINE_S * 1000)
    try:
        c.subscribe([topic])
        seen = []
        for msg in c:
            seen.append(msg)
            if len(seen) >= 30:
                break
        assert sorted(int(m.value.decode()[1:]) for m in seen) == list(range(30))
        c.commit()
        assert sum(c.committed(tp) or 0 for tp in c.assignment()) == 30
    finally:
        c.close()
    # The commits are the group's: a confluent consumer sees them.
    probe = group_consumer(bootstrap, group)
    try:
        got = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
        assert sum(t.offset for t in got) == 30
    finally:
        probe.close()


def test_java_group_consumer_with_its_defaults(bootstrap, topic):
    """tests/kafka/java/clients/GroupConsume.java: the Java 4.x consumer's
    defaults (classic protocol, its default assignors), commitSync."""
    import json
    import subprocess
    from pathlib import Path
    tools = Path(__file__).resolve().parents[2] / "tmp/kafka-clients"
    if not (tools / "java-classes/GroupConsume.class").exists():
        pytest.fail("GroupConsume.class missing: run scripts/kafka-clients-setup.sh")
    create_topic(bootstrap, topic, PARTITIONS)
    group = group_name("java")
    count = 40
    proc = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{tools / 'java-lib'}/*:{tools / 'java-classes'}",
         "GroupConsume", bootstrap, topic, group, str(count)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"GroupConsume failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    consumed = sorted({int(l["value"][1:]) for l in lines if l["op"] == "consumed"})
    assert consumed == list(range(count))
    committed = [l for l in lines if l["op"] == "committed"][0]
    assert (committed["sum"], committed["partitions"]) == (count, PARTITIONS)
    # The Java consumer's commits, read by librdkafka.
    probe = group_consumer(bootstrap, group)
    try:
        got = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
        assert sum(t.offset for t in got) == count
    finally:
        probe.close()
