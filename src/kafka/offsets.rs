//! ListOffsets: earliest (-2), latest (-1), or the first offset whose
//! record's timestamp is at or after a time, asked of each partition's
//! owner like the native ListOffsets. A time newer than every record gets
//! offset -1, as Kafka answers; a found offset carries the asked time as
//! its timestamp (docs/KAFKA.md).

use std::rc::Rc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::errors::kafka_code_of;
use crate::protocol::offsets::{self as native, OffsetSpec, EARLIEST, LATEST};
use crate::shard::Shard;

/// Kafka's "no offset" and "no timestamp".
const NONE: i64 = -1;

/// What one Kafka partition entry asks of the owner: a spec, and for a
/// time, the latest offset too (to tell "no such record").
fn specs(timestamp: i64) -> Option<Vec<OffsetSpec>> {
    match timestamp {
        EARLIEST => Some(vec![OffsetSpec::Earliest]),
        LATEST => Some(vec![OffsetSpec::Latest]),
        t if t >= 0 => Some(vec![OffsetSpec::Timestamp(t), OffsetSpec::Latest]),
        _ => None,
    }
}

pub fn list_offsets(shard: &Rc<Shard>, request: ListOffsetsRequest) -> Answer {
    let routed = native::ListOffsetsRequest {
        topics: request
            .topics
            .iter()
            .map(|t| {
                let asked = t.partitions.iter().flat_map(|p| {
                    let partition = u32::try_from(p.partition_index).unwrap_or(u32::MAX);
                    specs(p.timestamp)
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |spec| (partition, spec))
                });
                (t.name.0.to_string(), asked.collect())
            })
            .collect(),
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let answered = shard.route_list_offsets(routed).await;
        let topics = request
            .topics
            .into_iter()
            .zip(answered.topics)
            .map(|(asked, (_, offsets))| {
                let mut offsets = offsets.into_iter();
                let partitions = asked
                    .partitions
                    .iter()
                    .map(|p| {
                        let response = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_leader_epoch(-1)
                            .with_timestamp(NONE);
                        let Some(specs) = specs(p.timestamp) else {
                            return response
                                .with_error_code(ResponseError::InvalidRequest.code())
                                .with_offset(NONE);
                        };
                        let found: Vec<_> = offsets.by_ref().take(specs.len()).collect();
                        if let Some(failed) = found.iter().find(|o| o.error_code != 0) {
                            return response
                                .with_error_code(kafka_code_of(failed.error_code))
                                .with_offset(NONE);
                        }
                        match found.as_slice() {
                            [at, latest] if at.offset >= latest.offset => {
                                response.with_offset(NONE)
                            }
                            [at, _] => response
                                .with_offset(at.offset as i64)
                                .with_timestamp(p.timestamp),
                            [one] => response.with_offset(one.offset as i64),
                            _ => response
                                .with_error_code(ResponseError::UnknownServerError.code())
                                .with_offset(NONE),
                        }
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(asked.name)
                    .with_partitions(partitions)
            })
            .collect();
        ResponseKind::ListOffsets(ListOffsetsResponse::default().with_topics(topics))
    }))
}
