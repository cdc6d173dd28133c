//! Topics and facts over the Kafka protocol: creates the run's topics when
//! missing (CreateTopics) and waits until every partition has a leader,
//! sums the backlog from the watermarks (ListOffsets), and asks what the
//! provenance records (Metadata, DescribeConfigs).
//!
//! Metadata is asked for all topics, never for one by name: a broker with
//! `auto.create.topics.enable` would create a topic that a request names,
//! with its default partition count instead of `--partitions`.

use std::time::{Duration, Instant};

use futures_lite::future::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::metadata::Metadata;
use rdkafka::ClientContext;

use super::{admin_config, ADMIN_TIMEOUT};
use crate::provenance::{BrokerSettings, TopicSettingsReported};
use crate::run::DrivenTopic;
use crate::workload::Workload;

/// Replicas of a topic the harness creates: one, as the native path's
/// (shardlog does not replicate; a one-node Kafka cannot have more).
const REPLICATION_FACTOR: i32 = 1;
/// How often the leaders of a new topic are looked for.
const LEADER_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What `broker.not_reported` says for a broker reached over Kafka.
pub const KAFKA_NOT_REPORTED: &str = "over the Kafka protocol: the broker's software version \
     is not in ApiVersions (version is unknown), cores is the number of brokers in Metadata \
     (shardlog: one per core), retention and segment size come from DescribeConfigs when \
     the broker serves it; broker CPU per record is not measured by the harness";

type Admin = AdminClient<DefaultClientContext>;

fn connect(workload: &Workload) -> Result<Admin, String> {
    admin_config(workload)
        .create()
        .map_err(|e| format!("kafka admin client for {}: {e}", workload.broker))
}

fn metadata(admin: &Admin) -> Result<Metadata, String> {
    admin
        .inner()
        .fetch_metadata(None, ADMIN_TIMEOUT)
        .map_err(|e| format!("kafka metadata: {e}"))
}

/// Partitions of `name` that have a leader, or `None` when the broker does
/// not know the topic.
fn led_partitions(metadata: &Metadata, name: &str) -> Option<(u32, u32)> {
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == name && t.error().is_none())?;
    let led = topic
        .partitions()
        .iter()
        .filter(|p| p.leader() >= 0)
        .count();
    Some((topic.partitions().len() as u32, led as u32))
}

/// Creates the run's topics when missing (`--partitions`, one replica) and
/// waits until every partition of every topic has a leader; returns them
/// with their partition counts (an existing topic keeps its own).
pub fn ensure_topics(workload: &Workload) -> Result<Vec<DrivenTopic>, String> {
    let admin = connect(workload)?;
    let names = workload.topic_names();
    let known = metadata(&admin)?;
    let missing: Vec<NewTopic> = names
        .iter()
        .filter(|name| led_partitions(&known, name).is_none())
        .map(|name| {
            NewTopic::new(
                name,
                workload.partitions as i32,
                TopicReplication::Fixed(REPLICATION_FACTOR),
            )
        })
        .collect();
    if !missing.is_empty() {
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = block_on(admin.create_topics(&missing, &options))
            .map_err(|e| format!("creating topics: {e}"))?;
        for result in results {
            match result {
                Ok(_) => {}
                // Another run created it meanwhile: as good.
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(format!("creating topic {name}: {code}")),
            }
        }
    }
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    loop {
        let known = metadata(&admin)?;
        let counts: Vec<Option<(u32, u32)>> =
            names.iter().map(|n| led_partitions(&known, n)).collect();
        if counts
            .iter()
            .all(|c| c.is_some_and(|(all, led)| all > 0 && led == all))
        {
            return Ok(names
                .into_iter()
                .zip(counts)
                .map(|(name, c)| DrivenTopic {
                    name,
                    partitions: c.map_or(0, |(all, _)| all),
                })
                .collect());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "topics {names:?}: not every partition has a leader after {ADMIN_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(LEADER_POLL_INTERVAL);
    }
}

/// The low and high watermarks of `topic`'s `partition`. A partition just
/// created can be in Metadata with a leader before that leader answers
/// ListOffsets (NotLeaderForPartition): asked again until ADMIN_TIMEOUT.
pub fn watermarks<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    partition: u32,
) -> Result<(i64, i64), String> {
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    loop {
        match client.fetch_watermarks(topic, partition as i32, ADMIN_TIMEOUT) {
            Ok(marks) => return Ok(marks),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("watermarks of {topic}/{partition}: {e}"))
            }
            Err(_) => std::thread::sleep(LEADER_POLL_INTERVAL),
        }
    }
}

/// Records the topics hold now (high minus low watermark, summed). Bytes
/// are not in the Kafka protocol's offsets: 0.
pub fn backlog(workload: &Workload, topics: &[DrivenTopic]) -> Result<(u64, u64), String> {
    let admin = connect(workload)?;
    let mut records = 0u64;
    for topic in topics {
        for partition in 0..topic.partitions {
            let (low, high) = watermarks(admin.inner(), &topic.name, partition)?;
            records += u64::try_from(high.saturating_sub(low)).unwrap_or(0);
        }
    }
    Ok((records, 0))
}

/// What the broker reports over Kafka: the number of brokers (shardlog:
/// cores), the topic's partitions, and its retention and segment size when
/// DescribeConfigs is served (`None` otherwise, and for "-1": no limit).
pub fn broker_settings(workload: &Workload, topic: &DrivenTopic) -> Result<BrokerSettings, String> {
    let admin = connect(workload)?;
    let brokers = metadata(&admin)?.brokers().len() as u32;
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let described =
        block_on(admin.describe_configs(&[ResourceSpecifier::Topic(&topic.name)], &options));
    let config = described
        .ok()
        .and_then(|mut results| results.pop())
        .and_then(Result::ok);
    let setting = |name: &str| -> Option<u64> {
        let entry = config.as_ref()?.get(name)?;
        entry.value.as_deref()?.parse::<i64>().ok()?.try_into().ok()
    };
    Ok(BrokerSettings {
        address: workload.broker.clone(),
        version: "unknown".into(),
        cores: brokers,
        topic: TopicSettingsReported {
            name: topic.name.clone(),
            partitions: topic.partitions,
            retention_ms: setting("retention.ms"),
            retention_bytes: setting("retention.bytes"),
            segment_bytes: setting("segment.bytes"),
        },
        not_reported: KAFKA_NOT_REPORTED.into(),
    })
}
