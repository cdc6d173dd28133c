//! Metadata and DescribeCluster: each core is a broker (node id = core,
//! its own Kafka port, the advertised host) and the leader of exactly the
//! partitions it owns, so clients send each partition's requests to the
//! core that owns it. Leader epochs are reported unknown (-1): with one
//! replica there is nothing for a client to validate against.

use std::rc::Rc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterResponse, MetadataRequest, MetadataResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::topics::auto_create;
use super::CLUSTER_ID;
use crate::router::shard_for;
use crate::shard::{Shard, METADATA_CORE};
use crate::topics::validate_topic_name;

/// Reported where Kafka has a leader epoch: unknown.
const NO_LEADER_EPOCH: i32 = -1;

pub async fn metadata(shard: &Rc<Shard>, request: MetadataRequest, version: i16) -> Answer {
    // v0: an empty list asks for every topic; v1 on: null does.
    let names: Option<Vec<String>> = match request.topics {
        None => None,
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(
            topics
                .into_iter()
                .filter_map(|t| t.name.map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    // Before v4 there is no flag, and Kafka creates.
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    if let (Some(names), true) = (&names, allow_create) {
        auto_create(shard, names).await;
    }
    let topics_map = shard.partitions.topics();
    let names = names.unwrap_or_else(|| topics_map.keys().cloned().collect());
    let cores = shard.cores();
    let topics = names
        .into_iter()
        .map(|name| {
            let topic = MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))));
            match topics_map.get(&name) {
                None if validate_topic_name(&name).is_err() => {
                    topic.with_error_code(ResponseError::InvalidTopicException.code())
                }
                None => topic.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                Some(config) => topic.with_partitions(
                    (0..config.partitions)
                        .map(|p| partition(p, leader(shard, &name, p, cores)))
                        .collect(),
                ),
            }
        })
        .collect();
    Answer::now(ResponseKind::Metadata(
        MetadataResponse::default()
            .with_brokers(brokers(shard))
            .with_cluster_id(Some(StrBytes::from_static_str(CLUSTER_ID)))
            .with_controller_id(BrokerId(METADATA_CORE as i32))
            .with_topics(topics),
    ))
}

/// The core a partition's requests should go to: its owner, or core 0
/// with `kafka_single_broker`.
fn leader(shard: &Shard, topic: &str, partition: u32, cores: usize) -> i32 {
    if shard.config.kafka_single_broker {
        METADATA_CORE as i32
    } else {
        shard_for(topic, partition, cores) as i32
    }
}

fn partition(index: u32, leader: i32) -> MetadataResponsePartition {
    MetadataResponsePartition::default()
        .with_partition_index(index as i32)
        .with_leader_id(BrokerId(leader))
        .with_leader_epoch(NO_LEADER_EPOCH)
        .with_replica_nodes(vec![BrokerId(leader)])
        .with_isr_nodes(vec![BrokerId(leader)])
}

fn brokers(shard: &Shard) -> Vec<MetadataResponseBroker> {
    let advertised = if shard.config.kafka_single_broker {
        &shard.kafka_addresses[..shard.kafka_addresses.len().min(1)]
    } else {
        &shard.kafka_addresses[..]
    };
    advertised
        .iter()
        .map(|a| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(i32::from(a.core)))
                .with_host(StrBytes::from_string(a.host.clone()))
                .with_port(i32::from(a.port))
        })
        .collect()
}

pub fn describe_cluster(shard: &Rc<Shard>) -> Answer {
    let brokers = shard
        .kafka_addresses
        .iter()
        .map(|a| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(i32::from(a.core)))
                .with_host(StrBytes::from_string(a.host.clone()))
                .with_port(i32::from(a.port))
        })
        .collect();
    Answer::now(ResponseKind::DescribeCluster(
        DescribeClusterResponse::default()
            .with_cluster_id(StrBytes::from_static_str(CLUSTER_ID))
            .with_controller_id(BrokerId(METADATA_CORE as i32))
            .with_brokers(brokers),
    ))
}
