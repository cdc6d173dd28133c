//! Fetch: a long-poll routed like a native fetch (min_bytes, max_wait_ms,
//! max_bytes spent in request order, the first batch always returned
//! whole), with the native batches served back as RecordBatch v2. No
//! fetch sessions: every response is a full one (session id 0), which
//! every client accepts. The last stable offset is the high watermark:
//! there are no transactions.

use std::rc::Rc;

use bytes::BytesMut;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::errors::kafka_code_of;
use super::records::to_kafka;
use crate::protocol::fetch::{self as native, FetchPartition};
use crate::shard::Shard;

/// `preferred_read_replica` when the leader serves reads itself.
const NO_PREFERRED_REPLICA: i32 = -1;

/// A Kafka limit (`i32`, where negative means none asked) as a native one.
fn limit(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

pub fn fetch(shard: &Rc<Shard>, request: FetchRequest) -> Answer {
    let routed = native::FetchRequest {
        max_wait_ms: limit(request.max_wait_ms),
        min_bytes: limit(request.min_bytes),
        max_bytes: limit(request.max_bytes),
        topics: request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| FetchPartition {
                        partition: u32::try_from(p.partition).unwrap_or(u32::MAX),
                        // A negative offset is past any log: out of range.
                        offset: u64::try_from(p.fetch_offset).unwrap_or(u64::MAX),
                        max_bytes: limit(p.partition_max_bytes),
                    })
                    .collect();
                (t.topic.0.to_string(), partitions)
            })
            .collect(),
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let answered = shard.route_fetch(routed).await;
        let batch_bytes_max = shard.config.log.batch_bytes_max;
        let mut fetched_bytes = 0;
        let responses = request
            .topics
            .into_iter()
            .zip(answered.topics)
            .map(|(asked, (_, partitions))| {
                let partitions = partitions
                    .into_iter()
                    .map(|p| {
                        let data = PartitionData::default()
                            .with_partition_index(p.partition as i32)
                            .with_preferred_read_replica(BrokerId(NO_PREFERRED_REPLICA));
                        if p.error_code != 0 {
                            return data
                                .with_error_code(kafka_code_of(p.error_code))
                                .with_high_watermark(-1)
                                .with_last_stable_offset(-1)
                                .with_log_start_offset(-1);
                        }
                        let mut records = BytesMut::new();
                        let data = match to_kafka(&p.records, batch_bytes_max, &mut records) {
                            Ok(()) => data,
                            Err(e) => {
                                tracing::error!(
                                    topic = %asked.topic.0.as_str(),
                                    partition = p.partition,
                                    error = %e,
                                    "a stored batch did not convert to Kafka's format"
                                );
                                records.clear();
                                data.with_error_code(ResponseError::CorruptMessage.code())
                            }
                        };
                        fetched_bytes += records.len();
                        data.with_high_watermark(p.high_watermark as i64)
                            .with_last_stable_offset(p.high_watermark as i64)
                            .with_log_start_offset(p.log_start_offset as i64)
                            .with_records(Some(records.freeze()))
                    })
                    .collect();
                FetchableTopicResponse::default()
                    .with_topic(asked.topic)
                    .with_partitions(partitions)
            })
            .collect();
        shard.metrics.borrow_mut().on_fetch_bytes(fetched_bytes);
        ResponseKind::Fetch(FetchResponse::default().with_responses(responses))
    }))
}
