//! Proptest strategies for valid values of every request, response and
//! record batch. Shared by the codec tests (`#[path]`-included) and by the
//! fuzz project's seeding step (scripts/fuzz), which writes their encodings
//! as the starting corpus.

#![allow(dead_code)] // Each includer uses a different part.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;

use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, TimestampType};
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::{
    FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse,
};
use shardlog::protocol::groups::{
    CommitPartition, DescribeGroupResponse, FetchedOffset, GroupListing, GroupNameRequest,
    GroupRequest, GroupResponse, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, ListGroupsResponse, MemberDescription, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use shardlog::protocol::metadata::{
    ApiVersionsResponse, CoreAddress, MetadataRequest, MetadataResponse, TopicMetadata,
};
use shardlog::protocol::offsets::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetSpec, PartitionOffset,
};
use shardlog::protocol::produce::{
    Acks, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse,
    ProduceTopic, NO_OFFSET,
};
use shardlog::protocol::producer::{InitProducerRequest, InitProducerResponse};
use shardlog::protocol::stats::{CoreStats, StatsResponse};
use shardlog::protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, ListTopicsResponse, PartitionDescription,
    TopicNameRequest, TopicSettings,
};
use shardlog::protocol::{ApiKey, Request};

use crate::messages::Response;

/// Topic names: mostly valid ones (up to the 249-byte maximum), some any
/// UTF-8 at all; the codec carries any string, the broker checks names.
pub fn topic_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9._-]{1,16}",
        1 => "[a-zA-Z0-9._-]{249}",
        2 => "\\PC{0,12}",
    ]
}

pub fn timestamp_type() -> impl Strategy<Value = TimestampType> {
    prop_oneof![Just(TimestampType::Create), Just(TimestampType::LogAppend)]
}

pub type InRecord = (Option<Vec<u8>>, Vec<u8>, Vec<(String, Vec<u8>)>, i64);

pub fn in_record() -> impl Strategy<Value = InRecord> {
    (
        proptest::option::of(vec(any::<u8>(), 0..8)),
        vec(any::<u8>(), 0..24),
        vec(("\\PC{0,4}", vec(any::<u8>(), 0..4)), 0..2),
        1_600_000_000_000i64..1_800_000_000_000,
    )
}

/// A real record batch, as `BatchBuilder` writes it.
pub fn batch() -> impl Strategy<Value = Bytes> {
    (vec(in_record(), 1..4), timestamp_type()).prop_map(|(records, timestamp_type)| {
        let mut builder = BatchBuilder::new(timestamp_type, BATCH_BYTES_MAX);
        for (key, value, headers, timestamp_ms) in &records {
            let headers: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_slice()))
                .collect();
            builder
                .append(&NewRecord {
                    key: key.as_deref(),
                    value,
                    headers: &headers,
                    timestamp_ms: *timestamp_ms,
                })
                .expect("record fits");
        }
        builder.finish().expect("one record at least").freeze()
    })
}

/// Settings values the wire can carry: `-1` is "unset", so a set value is
/// at most `i64::MAX`.
pub fn optional_setting() -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(prop_oneof![0u64..1 << 40, 0..=i64::MAX as u64])
}

pub fn settings() -> impl Strategy<Value = TopicSettings> {
    (
        any::<u32>(),
        optional_setting(),
        optional_setting(),
        optional_setting(),
    )
        .prop_map(
            |(partitions, retention_ms, retention_bytes, segment_bytes)| TopicSettings {
                partitions,
                retention_ms,
                retention_bytes,
                segment_bytes,
            },
        )
}

pub fn acks() -> impl Strategy<Value = Acks> {
    prop_oneof![Just(Acks::None), Just(Acks::Written), Just(Acks::Durable)]
}

/// Timestamps a spec can carry: non-negative (-1 and -2 are the named specs).
pub fn offset_spec() -> impl Strategy<Value = OffsetSpec> {
    prop_oneof![
        Just(OffsetSpec::Earliest),
        Just(OffsetSpec::Latest),
        (0..=i64::MAX).prop_map(OffsetSpec::Timestamp),
    ]
}

pub fn produce_request() -> impl Strategy<Value = ProduceRequest> {
    (
        acks(),
        vec((topic_name(), vec((any::<u32>(), batch()), 0..3)), 0..3),
    )
        .prop_map(|(acks, topics)| ProduceRequest {
            acks,
            topics: topics
                .into_iter()
                .map(|(name, partitions)| ProduceTopic {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|(partition, batch)| ProducePartition {
                            partition,
                            batch: BytesMut::from(&batch[..]),
                        })
                        .collect(),
                })
                .collect(),
        })
}

pub fn fetch_request() -> impl Strategy<Value = FetchRequest> {
    let partition =
        (any::<u32>(), any::<u64>(), any::<u32>()).prop_map(|(partition, offset, max_bytes)| {
            FetchPartition {
                partition,
                offset,
                max_bytes,
            }
        });
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        vec((topic_name(), vec(partition, 0..4)), 0..3),
    )
        .prop_map(|(max_wait_ms, min_bytes, max_bytes, topics)| FetchRequest {
            max_wait_ms,
            min_bytes,
            max_bytes,
            topics,
        })
}

pub fn list_offsets_request() -> impl Strategy<Value = ListOffsetsRequest> {
    vec(
        (topic_name(), vec((any::<u32>(), offset_spec()), 0..4)),
        0..3,
    )
    .prop_map(|topics| ListOffsetsRequest { topics })
}

pub fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(()).prop_map(|()| Request::ApiVersions),
        vec(topic_name(), 0..4).prop_map(|topics| Request::Metadata(MetadataRequest { topics })),
        (topic_name(), settings()).prop_map(|(name, settings)| Request::CreateTopic(
            CreateTopicRequest { name, settings }
        )),
        topic_name().prop_map(|name| Request::DeleteTopic(TopicNameRequest { name })),
        Just(()).prop_map(|()| Request::ListTopics),
        topic_name().prop_map(|name| Request::DescribeTopic(TopicNameRequest { name })),
        produce_request().prop_map(Request::Produce),
        fetch_request().prop_map(Request::Fetch),
        list_offsets_request().prop_map(Request::ListOffsets),
        Just(()).prop_map(|()| Request::Stats),
        group_request().prop_map(Request::Group),
        (-1i64..=i64::MAX, -1i16..=i16::MAX).prop_map(|(producer_id, producer_epoch)| {
            Request::InitProducer(InitProducerRequest {
                producer_id,
                producer_epoch,
            })
        }),
    ]
}

/// Error codes as the broker sends them, and some it does not know yet.
pub fn error_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => Just(0u16),
        4 => 0..ErrorCode::ALL.len() as u16,
        1 => any::<u16>(),
    ]
}

pub fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), Just(NO_OFFSET), 0u64..1 << 20]
}

pub fn api_versions_response() -> impl Strategy<Value = ApiVersionsResponse> {
    prop_oneof![
        Just(ApiVersionsResponse::current()),
        (
            vec((any::<u16>(), any::<u16>(), any::<u16>()), 0..12),
            "\\PC{0,16}"
        )
            .prop_map(|(apis, broker_version)| ApiVersionsResponse {
                apis,
                broker_version,
                limits: None,
            }),
    ]
}

pub fn metadata_response() -> impl Strategy<Value = MetadataResponse> {
    let core = (any::<u16>(), "[a-z0-9.:-]{0,24}", any::<u16>())
        .prop_map(|(core, host, port)| CoreAddress { core, host, port });
    let topic = (topic_name(), error_code(), vec(any::<u16>(), 0..8)).prop_map(
        |(name, error_code, partition_cores)| TopicMetadata {
            name,
            error_code,
            partition_cores,
        },
    );
    (vec(core, 0..4), vec(topic, 0..4))
        .prop_map(|(cores, topics)| MetadataResponse { cores, topics })
}

pub fn describe_topic_response() -> impl Strategy<Value = DescribeTopicResponse> {
    let partition = (
        any::<u32>(),
        any::<u16>(),
        error_code(),
        offset(),
        offset(),
        any::<u64>(),
    )
        .prop_map(
            |(partition, core, error_code, earliest_offset, latest_offset, size_bytes)| {
                PartitionDescription {
                    partition,
                    core,
                    error_code,
                    earliest_offset,
                    latest_offset,
                    size_bytes,
                }
            },
        );
    (topic_name(), settings(), vec(partition, 0..4)).prop_map(|(name, settings, partitions)| {
        DescribeTopicResponse {
            name,
            settings,
            partitions,
        }
    })
}

pub fn produce_response() -> impl Strategy<Value = ProduceResponse> {
    let partition =
        (any::<u32>(), error_code(), offset()).prop_map(|(partition, error_code, base_offset)| {
            ProducePartitionResponse {
                partition,
                error_code,
                base_offset,
            }
        });
    vec((topic_name(), vec(partition, 0..4)), 0..3).prop_map(|topics| ProduceResponse { topics })
}

pub fn fetch_response() -> impl Strategy<Value = FetchResponse> {
    let partition = (
        any::<u32>(),
        error_code(),
        offset(),
        offset(),
        vec(batch(), 0..3),
    )
        .prop_map(
            |(partition, error_code, high_watermark, log_start_offset, batches)| {
                FetchPartitionResponse {
                    partition,
                    error_code,
                    high_watermark,
                    log_start_offset,
                    records: batches,
                }
            },
        );
    vec((topic_name(), vec(partition, 0..3)), 0..3).prop_map(|topics| FetchResponse { topics })
}

pub fn list_offsets_response() -> impl Strategy<Value = ListOffsetsResponse> {
    let partition =
        (any::<u32>(), error_code(), offset()).prop_map(|(partition, error_code, offset)| {
            PartitionOffset {
                partition,
                error_code,
                offset,
            }
        });
    vec((topic_name(), vec(partition, 0..4)), 0..3)
        .prop_map(|topics| ListOffsetsResponse { topics })
}

pub fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        api_versions_response().prop_map(Response::ApiVersions),
        metadata_response().prop_map(Response::Metadata),
        Just(Response::Empty(ApiKey::CreateTopic)),
        Just(Response::Empty(ApiKey::DeleteTopic)),
        vec((topic_name(), any::<u32>()), 0..5)
            .prop_map(|topics| Response::ListTopics(ListTopicsResponse { topics })),
        describe_topic_response().prop_map(Response::DescribeTopic),
        produce_response().prop_map(Response::Produce),
        fetch_response().prop_map(Response::Fetch),
        list_offsets_response().prop_map(Response::ListOffsets),
        stats_response().prop_map(Response::Stats),
        group_response().prop_map(Response::Group),
        (0i64..=i64::MAX, 0i16..=i16::MAX).prop_map(|(producer_id, producer_epoch)| {
            Response::InitProducer(InitProducerResponse {
                producer_id,
                producer_epoch,
            })
        }),
    ]
}

pub fn stats_response() -> impl Strategy<Value = StatsResponse> {
    let core =
        (any::<u16>(), any::<u32>(), vec(any::<u64>(), 12)).prop_map(|(core, connections, v)| {
            CoreStats {
                core,
                connections,
                requests: v[0],
                produce_requests: v[1],
                fetch_requests: v[2],
                errors: v[3],
                bytes_received: v[4],
                bytes_sent: v[5],
                produce_bytes: v[6],
                fetch_bytes: v[7],
                window_produce_requests: v[8],
                produce_p50_us: v[9],
                produce_p99_us: v[10],
                produce_max_us: v[11],
            }
        });
    vec(core, 0..4).prop_map(|cores| StatsResponse { cores })
}

pub fn api_key() -> impl Strategy<Value = ApiKey> {
    proptest::sample::select(ApiKey::ALL.to_vec())
}

// ---------------------------------------------------------------------------
// Consumer groups (keys 10 to 17).

pub fn partitions_by_topic() -> impl Strategy<Value = Vec<(String, Vec<u32>)>> {
    vec((topic_name(), vec(any::<u32>(), 0..4)), 0..3)
}

pub fn group_request() -> impl Strategy<Value = GroupRequest> {
    let name = || topic_name();
    prop_oneof![
        name().prop_map(|group| GroupRequest::FindCoordinator(GroupNameRequest { group })),
        (
            name(),
            "\\PC{0,12}",
            any::<u32>(),
            any::<u32>(),
            "[a-z]{0,10}",
            vec(topic_name(), 0..4)
        )
            .prop_map(|(group, member_id, session, rebalance, strategy, topics)| {
                GroupRequest::Join(JoinGroupRequest {
                    group,
                    member_id,
                    session_timeout_ms: session,
                    rebalance_timeout_ms: rebalance,
                    strategy,
                    topics,
                })
            }),
        (name(), "\\PC{0,12}", any::<u32>()).prop_map(|(group, member_id, generation)| {
            GroupRequest::Heartbeat(HeartbeatRequest {
                group,
                member_id,
                generation,
            })
        }),
        (name(), "\\PC{0,12}").prop_map(|(group, member_id)| {
            GroupRequest::Leave(LeaveGroupRequest { group, member_id })
        }),
        (
            name(),
            "\\PC{0,12}",
            any::<i32>(),
            vec(
                (
                    topic_name(),
                    vec((any::<u32>(), offset(), "\\PC{0,12}"), 0..4)
                ),
                0..3
            )
        )
            .prop_map(|(group, member_id, generation, topics)| {
                GroupRequest::OffsetCommit(OffsetCommitRequest {
                    group,
                    member_id,
                    generation,
                    topics: topics
                        .into_iter()
                        .map(|(t, ps)| {
                            let ps = ps
                                .into_iter()
                                .map(|(partition, offset, metadata)| CommitPartition {
                                    partition,
                                    offset,
                                    metadata,
                                })
                                .collect();
                            (t, ps)
                        })
                        .collect(),
                })
            }),
        (name(), partitions_by_topic()).prop_map(|(group, topics)| {
            GroupRequest::OffsetFetch(OffsetFetchRequest { group, topics })
        }),
        Just(GroupRequest::ListGroups),
        name().prop_map(|group| GroupRequest::DescribeGroup(GroupNameRequest { group })),
    ]
}

pub fn group_response() -> impl Strategy<Value = GroupResponse> {
    prop_oneof![
        (any::<u16>(), "\\PC{0,12}", any::<u16>()).prop_map(|(core, host, port)| {
            GroupResponse::Coordinator(CoreAddress { core, host, port })
        }),
        (
            any::<u32>(),
            "\\PC{0,12}",
            "[a-z]{0,10}",
            partitions_by_topic()
        )
            .prop_map(|(generation, member_id, strategy, assignment)| {
                GroupResponse::Join(JoinGroupResponse {
                    generation,
                    member_id,
                    strategy,
                    assignment,
                })
            }),
        Just(GroupResponse::Empty(ApiKey::Heartbeat)),
        Just(GroupResponse::Empty(ApiKey::LeaveGroup)),
        vec(
            (topic_name(), vec((any::<u32>(), error_code()), 0..4)),
            0..3
        )
        .prop_map(|topics| GroupResponse::OffsetCommit(OffsetCommitResponse { topics })),
        vec(
            (
                topic_name(),
                vec((any::<u32>(), error_code(), offset(), "\\PC{0,12}"), 0..4)
            ),
            0..3
        )
        .prop_map(|topics| {
            GroupResponse::OffsetFetch(OffsetFetchResponse {
                topics: topics
                    .into_iter()
                    .map(|(t, ps)| {
                        let ps = ps
                            .into_iter()
                            .map(|(partition, error_code, offset, metadata)| FetchedOffset {
                                partition,
                                error_code,
                                offset,
                                metadata,
                            })
                            .collect();
                        (t, ps)
                    })
                    .collect(),
            })
        }),
        vec(
            (topic_name(), any::<u16>(), "[A-Za-z]{0,12}", any::<u32>()),
            0..4
        )
        .prop_map(|groups| {
            GroupResponse::ListGroups(ListGroupsResponse {
                groups: groups
                    .into_iter()
                    .map(|(group, core, state, members)| GroupListing {
                        group,
                        core,
                        state,
                        members,
                    })
                    .collect(),
            })
        }),
        (
            topic_name(),
            "[A-Za-z]{0,12}",
            any::<u32>(),
            "[a-z]{0,10}",
            vec(
                (
                    "\\PC{0,12}",
                    any::<u32>(),
                    vec(topic_name(), 0..3),
                    partitions_by_topic()
                ),
                0..3
            )
        )
            .prop_map(|(group, state, generation, strategy, members)| {
                GroupResponse::DescribeGroup(DescribeGroupResponse {
                    group,
                    state,
                    generation,
                    strategy,
                    members: members
                        .into_iter()
                        .map(|(member_id, session_timeout_ms, topics, assignment)| {
                            MemberDescription {
                                member_id,
                                session_timeout_ms,
                                topics,
                                assignment,
                            }
                        })
                        .collect(),
                })
            }),
    ]
}
