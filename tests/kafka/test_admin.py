"""AdminClient: create_topics and delete_topics, as metadata shows them; a
second create of the same topic fails with TOPIC_ALREADY_EXISTS."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import ConfigResource, NewTopic, ResourceType

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


def test_create_with_configs_and_describe_them(bootstrap, topic):
    a = admin(bootstrap)
    new = NewTopic(topic, num_partitions=2, replication_factor=1,
                   config={"retention.ms": "3600000", "segment.bytes": "16777216"})
    a.create_topics([new])[topic].result(20)
    wait_for_partitions(bootstrap, topic, 2)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = a.describe_configs([resource])[resource].result(20)
    assert configs["retention.ms"].value == "3600000"
    assert configs["segment.bytes"].value == "16777216"
    assert configs["cleanup.policy"].value == "delete"


def test_an_unsupported_topic_config_is_refused(bootstrap, topic):
    a = admin(bootstrap)
    new = NewTopic(topic, num_partitions=1, replication_factor=1,
                   config={"no.such.setting": "1"})
    with pytest.raises(KafkaException) as exc:
        a.create_topics([new])[topic].result(20)
    assert exc.value.args[0].code() == KafkaError.INVALID_CONFIG


def test_describe_cluster_lists_every_broker(bootstrap):
    a = admin(bootstrap)
    cluster = a.describe_cluster(request_timeout=20).result(20)
    assert cluster.cluster_id
    assert len(cluster.nodes) >= 1
    listed = {f"{n.host}:{n.port}" for n in cluster.nodes}
    assert bootstrap in listed, (bootstrap, listed)
    assert cluster.controller is not None
