"""Producing to a topic nobody created works (auto.create.topics.enable
defaults to true in Kafka), and the records read back."""

from helpers import first_offsets, produce_and_wait, producer, read_assigned


def test_produce_to_unknown_topic(bootstrap, topic):
    records = [{"key": b"k%d" % i, "value": b"auto %d" % i} for i in range(5)]
    reports = produce_and_wait(producer(bootstrap), topic, records)
    got = read_assigned(bootstrap, topic, first_offsets(reports), len(records))
    assert sorted(m.value() for m in got) == sorted(r["value"] for r in records)
