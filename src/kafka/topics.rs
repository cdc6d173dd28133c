//! Topics through Kafka: CreateTopics (Kafka's topic configs mapped to
//! shardlog's settings), DeleteTopics, DescribeConfigs, and creating a
//! topic a Kafka client names, as Kafka does by default
//! (`auto_create_topics`, `default_partitions`). Every change goes to the
//! metadata core, like the native CreateTopic and DeleteTopic.

use std::rc::Rc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::errors::kafka_code;
use crate::error::{ErrorCode, WireError};
use crate::protocol::topics::TopicSettings;
use crate::shard::messages::ShardMessage;
use crate::shard::{Shard, METADATA_CORE};
use crate::topics::{validate_topic_name, TopicConfig};

/// DescribeConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// DescribeConfigs `config_source`: a topic's own setting, the broker's
/// static config, the default.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Asks the metadata core to create `name`.
pub async fn create_topic(
    shard: &Rc<Shard>,
    name: String,
    config: TopicConfig,
) -> Result<(), WireError> {
    let (reply, answer) = flume::bounded(1);
    let message = ShardMessage::CreateTopic {
        name,
        config,
        reply,
    };
    admin(shard, message, answer).await
}

async fn delete_topic(shard: &Rc<Shard>, name: String) -> Result<(), WireError> {
    let (reply, answer) = flume::bounded(1);
    admin(shard, ShardMessage::DeleteTopic { name, reply }, answer).await
}

async fn admin(
    shard: &Rc<Shard>,
    message: ShardMessage,
    answer: flume::Receiver<Result<(), WireError>>,
) -> Result<(), WireError> {
    let shutting_down = || WireError::new(ErrorCode::ShuttingDown, "the broker is shutting down");
    shard
        .peers
        .inbox(METADATA_CORE)
        .send_async(message)
        .await
        .map_err(|_| shutting_down())?;
    answer.recv_async().await.map_err(|_| shutting_down())?
}

/// Creates each of `names` that does not exist yet (when auto-creation is
/// on), with the default partition count; a topic created meanwhile by
/// someone else counts as created. Names that are not valid topic names
/// are left for the caller to answer as unknown.
pub async fn auto_create(shard: &Rc<Shard>, names: &[String]) {
    if !shard.config.auto_create_topics {
        return;
    }
    for name in names {
        if shard.partitions.topics().contains_key(name) || validate_topic_name(name).is_err() {
            continue;
        }
        let settings = TopicSettings {
            partitions: shard.config.default_partitions,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: None,
        };
        let created = match TopicConfig::from_request(&settings, &shard.config.log) {
            Ok(config) => create_topic(shard, name.clone(), config).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(()) => tracing::info!(topic = %name, "topic created for a Kafka client"),
            Err(e) if e.code == ErrorCode::TopicAlreadyExists => {}
            Err(e) => {
                tracing::warn!(topic = %name, error = %e.message, "auto-creating a topic failed")
            }
        }
    }
}

pub fn create_topics(shard: &Rc<Shard>, request: CreateTopicsRequest, version: i16) -> Answer {
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let name = topic.name.0.to_string();
            let partitions_asked = topic.num_partitions;
            let outcome = match topic_config(&shard, &topic) {
                Ok(config) if request.validate_only => Ok(config),
                Ok(config) => create_topic(&shard, name.clone(), config.clone())
                    .await
                    .map(|()| config)
                    .map_err(|e| (kafka_code(e.code), e.message)),
                Err(refused) => Err(refused),
            };
            let mut result = CreatableTopicResult::default().with_name(topic.name);
            match outcome {
                Ok(config) => {
                    result.num_partitions = config.partitions as i32;
                    result.replication_factor = 1;
                }
                Err((code, message)) => {
                    result.error_code = code;
                    result.error_message = Some(StrBytes::from_string(message));
                    result.num_partitions = partitions_asked;
                    result.replication_factor = -1;
                }
            }
            if version >= 5 {
                result.configs = Some(Vec::new());
            }
            results.push(result);
        }
        ResponseKind::CreateTopics(CreateTopicsResponse::default().with_topics(results))
    }))
}

/// The topic config a CreateTopics entry asks for, or the Kafka error.
fn topic_config(shard: &Shard, topic: &CreatableTopic) -> Result<TopicConfig, (i16, String)> {
    let invalid = |error: ResponseError, message: String| Err((error.code(), message));
    if topic.replication_factor > 1 {
        return invalid(
            ResponseError::InvalidReplicationFactor,
            format!(
                "replication factor {} asked; shardlog is a single node (1)",
                topic.replication_factor
            ),
        );
    }
    if !topic.assignments.is_empty() {
        return invalid(
            ResponseError::InvalidRequest,
            "manual replica assignments are not supported: each core owns its partitions".into(),
        );
    }
    let partitions = match topic.num_partitions {
        -1 => shard.config.default_partitions,
        n if n >= 1 => n as u32,
        n => {
            return invalid(
                ResponseError::InvalidPartitions,
                format!("{n} partitions asked"),
            )
        }
    };
    let mut settings = TopicSettings {
        partitions,
        retention_ms: None,
        retention_bytes: None,
        segment_bytes: None,
    };
    for config in &topic.configs {
        let value = config.value.as_deref().unwrap_or("");
        let number = || value.parse::<i64>().map_err(|_| ());
        let applied = match config.name.as_str() {
            "retention.ms" => number().map(|v| settings.retention_ms = u64::try_from(v).ok()),
            "retention.bytes" => number().map(|v| settings.retention_bytes = u64::try_from(v).ok()),
            "segment.bytes" => number().map(|v| settings.segment_bytes = u64::try_from(v).ok()),
            "cleanup.policy" if value == "delete" => Ok(()),
            // Accepted and without effect: every partition has one replica.
            "min.insync.replicas" if value == "1" => Ok(()),
            _ => Err(()),
        };
        if applied.is_err() {
            return invalid(
                ResponseError::InvalidConfig,
                format!(
                    "{}={value} is not supported (docs/KAFKA.md lists the topic configs served)",
                    config.name.as_str()
                ),
            );
        }
    }
    // Partition count (1..=PARTITIONS_MAX) and segment size are checked
    // there, once, for both protocols.
    TopicConfig::from_request(&settings, &shard.config.log)
        .map_err(|e: WireError| (kafka_code(e.code), e.message))
}

pub fn delete_topics(shard: &Rc<Shard>, request: DeleteTopicsRequest, version: i16) -> Answer {
    let shard = shard.clone();
    let names: Vec<TopicName> = if version >= 6 {
        request.topics.into_iter().filter_map(|t| t.name).collect()
    } else {
        request.topic_names
    };
    Answer::later(Box::pin(async move {
        let mut responses = Vec::with_capacity(names.len());
        for name in names {
            let outcome = delete_topic(&shard, name.0.to_string()).await;
            let mut result = DeletableTopicResult::default().with_name(Some(name));
            if let Err(e) = outcome {
                result.error_code = kafka_code(e.code);
                result.error_message = Some(StrBytes::from_string(e.message));
            }
            responses.push(result);
        }
        ResponseKind::DeleteTopics(DeleteTopicsResponse::default().with_responses(responses))
    }))
}

pub fn describe_configs(shard: &Rc<Shard>, request: DescribeConfigsRequest) -> Answer {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => topic_configs(shard, resource.resource_name.as_str()),
                RESOURCE_BROKER => Ok(broker_configs(shard)),
                other => Err((
                    ResponseError::InvalidRequest,
                    format!("resource type {other} is not served"),
                )),
            };
            match entries {
                Ok(entries) => {
                    let wanted = resource.configuration_keys.as_ref();
                    result.configs = entries
                        .into_iter()
                        .filter(|c| wanted.is_none_or(|keys| keys.contains(&c.name)))
                        .collect();
                }
                Err((error, message)) => {
                    result.error_code = error.code();
                    result.error_message = Some(StrBytes::from_string(message));
                }
            }
            result
        })
        .collect();
    Answer::now(ResponseKind::DescribeConfigs(
        DescribeConfigsResponse::default().with_results(results),
    ))
}

fn entry(name: &'static str, value: Option<String>, source: i8) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_static_str(name))
        .with_value(value.map(StrBytes::from_string))
        .with_read_only(true)
        .with_config_source(source)
}

/// A topic's settings under Kafka's names.
fn topic_configs(
    shard: &Shard,
    name: &str,
) -> Result<Vec<DescribeConfigsResourceResult>, (ResponseError, String)> {
    let topics = shard.partitions.topics();
    let Some(topic) = topics.get(name) else {
        return Err((
            ResponseError::UnknownTopicOrPartition,
            format!("topic {name} does not exist"),
        ));
    };
    let log = topic.log_config(&shard.config.log);
    let own = |set: bool| if set { SOURCE_TOPIC } else { SOURCE_DEFAULT };
    Ok(vec![
        entry(
            "retention.ms",
            Some(topic.retention_ms.map_or(-1, |v| v as i64).to_string()),
            own(topic.retention_ms.is_some()),
        ),
        entry(
            "retention.bytes",
            Some(topic.retention_bytes.map_or(-1, |v| v as i64).to_string()),
            own(topic.retention_bytes.is_some()),
        ),
        entry(
            "segment.bytes",
            Some(log.segment_bytes_max.to_string()),
            own(topic.segment_bytes.is_some()),
        ),
        entry("cleanup.policy", Some("delete".into()), SOURCE_DEFAULT),
        entry(
            "max.message.bytes",
            Some(log.batch_bytes_max.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry("min.insync.replicas", Some("1".into()), SOURCE_DEFAULT),
        entry(
            "message.timestamp.type",
            Some("CreateTime".into()),
            SOURCE_DEFAULT,
        ),
    ])
}

/// The broker settings a Kafka admin tool asks about, under Kafka's names.
fn broker_configs(shard: &Shard) -> Vec<DescribeConfigsResourceResult> {
    let config = &shard.config;
    vec![
        entry(
            "num.partitions",
            Some(config.default_partitions.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry(
            "auto.create.topics.enable",
            Some(config.auto_create_topics.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry(
            "message.max.bytes",
            Some(config.log.batch_bytes_max.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry(
            "socket.request.max.bytes",
            Some(config.frame_bytes_max.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry(
            "log.segment.bytes",
            Some(config.log.segment_bytes_max.to_string()),
            SOURCE_STATIC_BROKER,
        ),
        entry(
            "default.replication.factor",
            Some("1".into()),
            SOURCE_DEFAULT,
        ),
    ]
}
