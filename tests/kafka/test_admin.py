"""AdminClient: create_topics and delete_topics, as metadata shows them; a
second create of the same topic fails with TOPIC_ALREADY_EXISTS."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from helpers import METADATA_WAIT_S, admin, wait_for_partitions


def test_create_exists_delete(bootstrap, topic):
    a = admin(bootstrap)
    a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(20)
    md = wait_for_partitions(bootstrap, topic, 3)
    assert sorted(md.partitions) == [0, 1, 2]

    with pytest.raises(KafkaException) as exc:
        a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(20)
    assert exc.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    a.delete_topics([topic], operation_timeout=10)[topic].result(20)
    deadline = time.monotonic() + METADATA_WAIT_S
    # list every topic: a metadata request naming it could auto-create it again
    while topic in a.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} still listed after delete"
        time.sleep(0.2)


def test_delete_unknown_topic(bootstrap, topic):
    a = admin(bootstrap)
    with pytest.raises(KafkaException) as exc:
        a.delete_topics([topic], operation_timeout=10)[topic].result(20)
    assert exc.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
