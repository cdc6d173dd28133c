//! Produce: each partition's RecordBatch v2 validated and converted to
//! native batches before anything is queued, then routed like a native
//! produce (queued in request order before the next request is read).
//! acks all / 1 / 0 are shardlog's durable / written / none; acks=0 gets
//! no response, as Kafka clients expect.

use std::rc::Rc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::errors::kafka_code_of;
use super::records::{to_native, RecordsError};
use super::topics::auto_create;
use crate::protocol::produce::{self as native, Acks, ProducePartition, ProduceTopic};

/// What became of one Kafka partition's records: how many native batches
/// they were queued as, or why they were refused.
type Planned = Result<usize, RecordsError>;

pub async fn produce(shard: &Rc<crate::shard::Shard>, request: ProduceRequest) -> Answer {
    let acks = match request.acks {
        -1 => Some(Acks::Durable),
        1 => Some(Acks::Written),
        0 => Some(Acks::None),
        _ => None,
    };
    let refusal = match (acks, &request.transactional_id) {
        (None, _) => Some(RecordsError {
            error: ResponseError::InvalidRequiredAcks,
            message: format!("acks {} is not -1, 0 or 1", request.acks),
        }),
        (_, Some(_)) => Some(RecordsError {
            error: ResponseError::TransactionalIdAuthorizationFailed,
            message: "transactions are not supported".into(),
        }),
        _ => None,
    };
    let names: Vec<String> = request
        .topic_data
        .iter()
        .map(|t| t.name.0.to_string())
        .collect();
    if refusal.is_none() {
        auto_create(shard, &names).await;
    }
    let batch_bytes_max = shard.config.log.batch_bytes_max;
    let mut routed = native::ProduceRequest {
        acks: acks.unwrap_or(Acks::Durable),
        topics: Vec::with_capacity(request.topic_data.len()),
    };
    // Per topic, per partition: the index and what became of its records.
    let mut plans: Vec<(kafka_protocol::messages::TopicName, Vec<(i32, Planned)>)> =
        Vec::with_capacity(request.topic_data.len());
    let mut produced_bytes = 0;
    for (topic, name) in request.topic_data.into_iter().zip(names) {
        let mut partitions = Vec::new();
        let mut plan = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let planned = match (&refusal, u32::try_from(data.index), data.records) {
                (Some(refusal), _, _) => Err(refusal.clone()),
                (None, Err(_), _) => Err(unknown_partition(data.index)),
                (None, Ok(_), None) => Err(RecordsError {
                    error: ResponseError::CorruptMessage,
                    message: "no records".into(),
                }),
                (None, Ok(partition), Some(records)) => {
                    to_native(records, batch_bytes_max).map(|batches| {
                        let count = batches.len();
                        for batch in batches {
                            produced_bytes += batch.len();
                            partitions.push(ProducePartition { partition, batch });
                        }
                        count
                    })
                }
            };
            plan.push((data.index, planned));
        }
        if !partitions.is_empty() {
            routed.topics.push(ProduceTopic { name, partitions });
        }
        plans.push((topic.name, plan));
    }
    shard.metrics.borrow_mut().on_produce_bytes(produced_bytes);
    let answers = shard.route_produce(routed).await;
    Answer {
        write: acks != Some(Acks::None),
        response: Box::pin(async move {
            let answered = answers.await;
            let mut answered = answered.topics.into_iter().map(|(_, ps)| ps.into_iter());
            let mut responses = Vec::with_capacity(plans.len());
            for (name, plan) in plans {
                let queued_any = plan.iter().any(|(_, p)| matches!(p, Ok(n) if *n > 0));
                let mut natives = if queued_any { answered.next() } else { None };
                let partition_responses = plan
                    .into_iter()
                    .map(|(index, planned)| {
                        let response = PartitionProduceResponse::default()
                            .with_index(index)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(-1);
                        match planned {
                            Err(refused) => response
                                .with_error_code(refused.error.code())
                                .with_error_message(Some(StrBytes::from_string(refused.message)))
                                .with_base_offset(-1),
                            Ok(count) => {
                                let mine: Vec<_> = natives
                                    .as_mut()
                                    .map(|n| n.by_ref().take(count).collect())
                                    .unwrap_or_default();
                                let error = mine.iter().map(|a| a.error_code).find(|c| *c != 0);
                                let base = mine.first().map(|a| a.base_offset);
                                match (error, base) {
                                    (Some(code), _) => response
                                        .with_error_code(kafka_code_of(code))
                                        .with_base_offset(-1),
                                    (None, Some(base)) if base != native::NO_OFFSET => {
                                        response.with_base_offset(base as i64)
                                    }
                                    _ => response.with_base_offset(-1),
                                }
                            }
                        }
                    })
                    .collect();
                responses.push(
                    TopicProduceResponse::default()
                        .with_name(name)
                        .with_partition_responses(partition_responses),
                );
            }
            ResponseKind::Produce(ProduceResponse::default().with_responses(responses))
        }),
    }
}

fn unknown_partition(index: i32) -> RecordsError {
    RecordsError {
        error: ResponseError::UnknownTopicOrPartition,
        message: format!("partition {index} does not exist"),
    }
}
