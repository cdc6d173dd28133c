//! Every message's named minimum size (`WIRE_BYTES_MIN`, gathered per API
//! in `api::request_body_bytes_min` and `api::response_body_bytes_min`)
//! is the length of its smallest encoding, every array and string empty;
//! every shorter prefix of that encoding is refused with a `DecodeError`,
//! not a panic; and each array's element minimum, which the decoders use
//! to refuse impossible counts, is the length of its smallest element, so
//! that the check never refuses a valid message.

use bytes::{BufMut, Bytes, BytesMut};

use shardlog_protocol::api::{request_body_bytes_min, response_body_bytes_min};
use shardlog_protocol::fetch::{
    FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse,
};
use shardlog_protocol::frame::{
    error_response, ERROR_BODY_BYTES_MIN, LENGTH_BYTES, RESPONSE_HEADER_BYTES,
};
use shardlog_protocol::groups::{
    decode_coordinator, encode_coordinator, CommitPartition, DescribeGroupResponse, FetchedOffset,
    GroupListing, GroupNameRequest, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, ListGroupsResponse, MemberDescription, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, COMMIT_RESULT_BYTES,
    PARTITION_BYTES,
};
use shardlog_protocol::metadata::{
    ApiVersionsResponse, BrokerLimits, CoreAddress, MetadataRequest, MetadataResponse,
    TopicMetadata, API_VERSIONS_ENTRY_BYTES, PARTITION_CORE_BYTES,
};
use shardlog_protocol::offsets::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetSpec, PartitionOffset, PARTITION_SPEC_BYTES,
};
use shardlog_protocol::produce::{
    Acks, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopic,
};
use shardlog_protocol::producer::{InitProducerRequest, InitProducerResponse};
use shardlog_protocol::stats::{CoreStats, StatsResponse};
use shardlog_protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, ListTopicsResponse, PartitionDescription,
    TopicNameRequest, TopicSettings, LISTED_TOPIC_BYTES_MIN,
};
use shardlog_protocol::wire::{DecodeError, WireReader, STRING_MIN, TOPIC_ENTRY_BYTES_MIN};
use shardlog_protocol::{ApiKey, Request};

/// A response body decoder, its value dropped.
type Decode = fn(&mut WireReader) -> Result<(), DecodeError>;

fn encoded(encode: impl FnOnce(&mut BytesMut)) -> BytesMut {
    let mut buf = BytesMut::new();
    encode(&mut buf);
    buf
}

fn settings() -> TopicSettings {
    TopicSettings {
        partitions: 0,
        retention_ms: None,
        retention_bytes: None,
        segment_bytes: None,
    }
}

fn limits() -> BrokerLimits {
    BrokerLimits {
        frame_bytes_max: 0,
        batch_bytes_max: 0,
        partitions_max: 0,
        request_partitions_max: 0,
        fetch_bytes_max: 0,
        fetch_wait_ms_max: 0,
        segment_bytes_default: 0,
    }
}

/// The smallest request body of `api`. One arm per key: a new key does not
/// compile until its smallest request is here.
fn smallest_request(api: ApiKey) -> BytesMut {
    let name = || TopicNameRequest {
        name: String::new(),
    };
    let group = || GroupNameRequest {
        group: String::new(),
    };
    match api {
        ApiKey::ApiVersions | ApiKey::ListTopics | ApiKey::Stats | ApiKey::ListGroups => {
            BytesMut::new()
        }
        ApiKey::Metadata => encoded(|b| MetadataRequest::default().encode(b)),
        ApiKey::CreateTopic => encoded(|b| {
            CreateTopicRequest {
                name: String::new(),
                settings: settings(),
            }
            .encode(b)
        }),
        ApiKey::DeleteTopic | ApiKey::DescribeTopic => encoded(|b| name().encode(b)),
        ApiKey::Produce => encoded(|b| {
            ProduceRequest {
                acks: Acks::None,
                topics: vec![],
            }
            .encode(b)
        }),
        ApiKey::Fetch => encoded(|b| {
            FetchRequest {
                max_wait_ms: 0,
                min_bytes: 0,
                max_bytes: 0,
                topics: vec![],
            }
            .encode(b)
        }),
        ApiKey::ListOffsets => encoded(|b| ListOffsetsRequest { topics: vec![] }.encode(b)),
        ApiKey::FindCoordinator | ApiKey::DescribeGroup => encoded(|b| group().encode(b)),
        ApiKey::JoinGroup => encoded(|b| {
            JoinGroupRequest {
                group: String::new(),
                member_id: String::new(),
                session_timeout_ms: 0,
                rebalance_timeout_ms: 0,
                strategy: String::new(),
                topics: vec![],
            }
            .encode(b)
        }),
        ApiKey::Heartbeat => encoded(|b| {
            HeartbeatRequest {
                group: String::new(),
                member_id: String::new(),
                generation: 0,
            }
            .encode(b)
        }),
        ApiKey::LeaveGroup => encoded(|b| {
            LeaveGroupRequest {
                group: String::new(),
                member_id: String::new(),
            }
            .encode(b)
        }),
        ApiKey::OffsetCommit => encoded(|b| {
            OffsetCommitRequest {
                group: String::new(),
                member_id: String::new(),
                generation: 0,
                topics: vec![],
            }
            .encode(b)
        }),
        ApiKey::OffsetFetch => encoded(|b| {
            OffsetFetchRequest {
                group: String::new(),
                topics: vec![],
            }
            .encode(b)
        }),
        ApiKey::InitProducer => encoded(|b| InitProducerRequest::new_producer().encode(b)),
    }
}

fn empty_body(_: &mut WireReader) -> Result<(), DecodeError> {
    Ok(())
}

/// The smallest successful response body of `api` at `version`, and how a
/// client decodes it. One arm per key, as above.
fn smallest_response(api: ApiKey, version: u16) -> (BytesMut, Decode) {
    match api {
        ApiKey::ApiVersions => {
            let body = ApiVersionsResponse {
                apis: vec![],
                broker_version: String::new(),
                limits: (version >= 1).then(limits),
            };
            let decode: Decode = if version >= 1 {
                |r| ApiVersionsResponse::decode_v1(r).map(drop)
            } else {
                |r| ApiVersionsResponse::decode(r).map(drop)
            };
            (encoded(|b| body.encode(b)), decode)
        }
        ApiKey::Metadata => (encoded(|b| MetadataResponse::default().encode(b)), |r| {
            MetadataResponse::decode(r).map(drop)
        }),
        ApiKey::CreateTopic | ApiKey::DeleteTopic | ApiKey::Heartbeat | ApiKey::LeaveGroup => {
            (BytesMut::new(), empty_body)
        }
        ApiKey::ListTopics => (encoded(|b| ListTopicsResponse::default().encode(b)), |r| {
            ListTopicsResponse::decode(r).map(drop)
        }),
        ApiKey::DescribeTopic => (
            encoded(|b| {
                DescribeTopicResponse {
                    name: String::new(),
                    settings: settings(),
                    partitions: vec![],
                }
                .encode(b)
            }),
            |r| DescribeTopicResponse::decode(r).map(drop),
        ),
        ApiKey::Produce => (encoded(|b| ProduceResponse::default().encode(b)), |r| {
            ProduceResponse::decode(r).map(drop)
        }),
        ApiKey::Fetch => (encoded(|b| FetchResponse::default().encode(b)), |r| {
            FetchResponse::decode(r).map(drop)
        }),
        ApiKey::ListOffsets => (encoded(|b| ListOffsetsResponse::default().encode(b)), |r| {
            ListOffsetsResponse::decode(r).map(drop)
        }),
        ApiKey::Stats => (encoded(|b| StatsResponse::default().encode(b)), |r| {
            StatsResponse::decode(r).map(drop)
        }),
        ApiKey::FindCoordinator => (
            encoded(|b| {
                let core = CoreAddress {
                    core: 0,
                    host: String::new(),
                    port: 0,
                };
                encode_coordinator(&core, b)
            }),
            |r| decode_coordinator(r).map(drop),
        ),
        ApiKey::JoinGroup => (encoded(|b| JoinGroupResponse::default().encode(b)), |r| {
            JoinGroupResponse::decode(r).map(drop)
        }),
        ApiKey::OffsetCommit => (
            encoded(|b| OffsetCommitResponse::default().encode(b)),
            |r| OffsetCommitResponse::decode(r).map(drop),
        ),
        ApiKey::OffsetFetch => (encoded(|b| OffsetFetchResponse::default().encode(b)), |r| {
            OffsetFetchResponse::decode(r).map(drop)
        }),
        ApiKey::ListGroups => (encoded(|b| ListGroupsResponse::default().encode(b)), |r| {
            ListGroupsResponse::decode(r).map(drop)
        }),
        ApiKey::DescribeGroup => (
            encoded(|b| DescribeGroupResponse::default().encode(b)),
            |r| DescribeGroupResponse::decode(r).map(drop),
        ),
        ApiKey::InitProducer => (
            encoded(|b| InitProducerResponse::default().encode(b)),
            |r| InitProducerResponse::decode(r).map(drop),
        ),
    }
}

fn versions(api: ApiKey) -> std::ops::RangeInclusive<u16> {
    let (min, max) = api.versions();
    min..=max
}

/// A request body decodes whole, and every shorter prefix of it is
/// `MalformedRequest`-worthy: a `DecodeError`.
fn assert_request_decodes_exactly(what: &str, api: ApiKey, body: &[u8]) {
    if let Err(e) = Request::decode_body(api, BytesMut::from(body)) {
        panic!("{what}: the whole body is refused: {e}");
    }
    for cut in 0..body.len() {
        assert!(
            Request::decode_body(api, BytesMut::from(&body[..cut])).is_err(),
            "{what}: the first {cut} of {} bytes decode",
            body.len()
        );
    }
}

/// A response body decodes whole, and every shorter prefix is refused.
fn assert_response_decodes_exactly(what: &str, decode: Decode, body: &[u8]) {
    let whole = |bytes: &[u8]| {
        let mut r = WireReader::new(Bytes::copy_from_slice(bytes));
        decode(&mut r).and_then(|()| r.finish())
    };
    if let Err(e) = whole(body) {
        panic!("{what}: the whole body is refused: {e}");
    }
    for cut in 0..body.len() {
        assert!(
            whole(&body[..cut]).is_err(),
            "{what}: the first {cut} of {} bytes decode",
            body.len()
        );
    }
}

#[test]
fn every_request_minimum_is_its_smallest_encoding() {
    for api in ApiKey::ALL {
        let body = smallest_request(api);
        let what = format!("{api:?} request");
        assert_eq!(body.len(), request_body_bytes_min(api), "{what}");
        assert_request_decodes_exactly(&what, api, &body);
        // One byte more is trailing: the minimum is the exact size of the
        // smallest message, not merely a bound below it.
        let mut longer = body.clone();
        longer.put_u8(0);
        assert!(
            matches!(
                Request::decode_body(api, longer),
                Err(DecodeError::TrailingBytes(1))
            ),
            "{what}"
        );
    }
}

#[test]
fn every_response_minimum_is_its_smallest_encoding() {
    for api in ApiKey::ALL {
        for version in versions(api) {
            let (body, decode) = smallest_response(api, version);
            let what = format!("{api:?} response v{version}");
            assert_eq!(body.len(), response_body_bytes_min(api, version), "{what}");
            assert_response_decodes_exactly(&what, decode, &body);
        }
    }
    let frame = error_response(1, shardlog_protocol::error::ErrorCode::Internal, "");
    assert_eq!(
        frame.len(),
        LENGTH_BYTES + RESPONSE_HEADER_BYTES + ERROR_BODY_BYTES_MIN
    );
}

/// One case per array: the smallest message with one smallest element (in
/// a topic array, one empty-named topic holding one smallest item), its
/// expected length, and how to decode it.
enum Case {
    Request(ApiKey, BytesMut),
    Response(Decode, BytesMut),
}

fn s() -> String {
    String::new()
}

fn one_element_cases() -> Vec<(&'static str, usize, Case)> {
    use Case::{Request as Req, Response as Resp};
    let core = || CoreAddress {
        core: 0,
        host: s(),
        port: 0,
    };
    let commit = CommitPartition {
        partition: 0,
        offset: 0,
        metadata: s(),
    };
    let fetched = FetchedOffset {
        partition: 0,
        error_code: 0,
        offset: 0,
        metadata: s(),
    };
    let member = MemberDescription {
        member_id: s(),
        session_timeout_ms: 0,
        topics: vec![],
        assignment: vec![],
    };
    let topic = TOPIC_ENTRY_BYTES_MIN;
    vec![
        (
            "Metadata request topic",
            MetadataRequest::WIRE_BYTES_MIN + STRING_MIN,
            Req(
                ApiKey::Metadata,
                encoded(|b| MetadataRequest { topics: vec![s()] }.encode(b)),
            ),
        ),
        (
            "Produce request partition",
            ProduceRequest::WIRE_BYTES_MIN
                + ProduceTopic::WIRE_BYTES_MIN
                + ProducePartition::WIRE_BYTES_MIN,
            Req(
                ApiKey::Produce,
                encoded(|b| {
                    ProduceRequest {
                        acks: Acks::None,
                        topics: vec![ProduceTopic {
                            name: s(),
                            partitions: vec![ProducePartition {
                                partition: 0,
                                batch: BytesMut::new(),
                            }],
                        }],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "Fetch request partition",
            FetchRequest::WIRE_BYTES_MIN + topic + FetchPartition::WIRE_BYTES_MIN,
            Req(
                ApiKey::Fetch,
                encoded(|b| {
                    FetchRequest {
                        max_wait_ms: 0,
                        min_bytes: 0,
                        max_bytes: 0,
                        topics: vec![(
                            s(),
                            vec![FetchPartition {
                                partition: 0,
                                offset: 0,
                                max_bytes: 0,
                            }],
                        )],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "ListOffsets request partition",
            ListOffsetsRequest::WIRE_BYTES_MIN + topic + PARTITION_SPEC_BYTES,
            Req(
                ApiKey::ListOffsets,
                encoded(|b| {
                    ListOffsetsRequest {
                        topics: vec![(s(), vec![(0, OffsetSpec::Earliest)])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "JoinGroup request topic",
            JoinGroupRequest::WIRE_BYTES_MIN + STRING_MIN,
            Req(
                ApiKey::JoinGroup,
                encoded(|b| {
                    JoinGroupRequest {
                        group: s(),
                        member_id: s(),
                        session_timeout_ms: 0,
                        rebalance_timeout_ms: 0,
                        strategy: s(),
                        topics: vec![s()],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "OffsetCommit request partition",
            OffsetCommitRequest::WIRE_BYTES_MIN + topic + CommitPartition::WIRE_BYTES_MIN,
            Req(
                ApiKey::OffsetCommit,
                encoded(|b| {
                    OffsetCommitRequest {
                        group: s(),
                        member_id: s(),
                        generation: 0,
                        topics: vec![(s(), vec![commit.clone()])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "OffsetFetch request partition",
            OffsetFetchRequest::WIRE_BYTES_MIN + topic + PARTITION_BYTES,
            Req(
                ApiKey::OffsetFetch,
                encoded(|b| {
                    OffsetFetchRequest {
                        group: s(),
                        topics: vec![(s(), vec![0])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "ApiVersions response entry",
            ApiVersionsResponse::WIRE_BYTES_MIN + API_VERSIONS_ENTRY_BYTES,
            Resp(
                |r| ApiVersionsResponse::decode(r).map(drop),
                encoded(|b| {
                    ApiVersionsResponse {
                        apis: vec![(0, 0, 0)],
                        broker_version: s(),
                        limits: None,
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "Metadata response core and topic partition",
            MetadataResponse::WIRE_BYTES_MIN
                + CoreAddress::WIRE_BYTES_MIN
                + TopicMetadata::WIRE_BYTES_MIN
                + PARTITION_CORE_BYTES,
            Resp(
                |r| MetadataResponse::decode(r).map(drop),
                encoded(|b| {
                    MetadataResponse {
                        cores: vec![core()],
                        topics: vec![TopicMetadata {
                            name: s(),
                            error_code: 0,
                            partition_cores: vec![0],
                        }],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "ListTopics response topic",
            ListTopicsResponse::WIRE_BYTES_MIN + LISTED_TOPIC_BYTES_MIN,
            Resp(
                |r| ListTopicsResponse::decode(r).map(drop),
                encoded(|b| {
                    ListTopicsResponse {
                        topics: vec![(s(), 0)],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "DescribeTopic response partition",
            DescribeTopicResponse::WIRE_BYTES_MIN + PartitionDescription::WIRE_BYTES_MIN,
            Resp(
                |r| DescribeTopicResponse::decode(r).map(drop),
                encoded(|b| {
                    DescribeTopicResponse {
                        name: s(),
                        settings: settings(),
                        partitions: vec![PartitionDescription {
                            partition: 0,
                            core: 0,
                            error_code: 0,
                            earliest_offset: 0,
                            latest_offset: 0,
                            size_bytes: 0,
                        }],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "Produce response partition",
            ProduceResponse::WIRE_BYTES_MIN + topic + ProducePartitionResponse::WIRE_BYTES_MIN,
            Resp(
                |r| ProduceResponse::decode(r).map(drop),
                encoded(|b| {
                    ProduceResponse {
                        topics: vec![(
                            s(),
                            vec![ProducePartitionResponse {
                                partition: 0,
                                error_code: 0,
                                base_offset: 0,
                            }],
                        )],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "Fetch response partition",
            FetchResponse::WIRE_BYTES_MIN + topic + FetchPartitionResponse::WIRE_BYTES_MIN,
            Resp(
                |r| FetchResponse::decode(r).map(drop),
                encoded(|b| {
                    FetchResponse {
                        topics: vec![(s(), vec![FetchPartitionResponse::default()])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "ListOffsets response partition",
            ListOffsetsResponse::WIRE_BYTES_MIN + topic + PartitionOffset::WIRE_BYTES_MIN,
            Resp(
                |r| ListOffsetsResponse::decode(r).map(drop),
                encoded(|b| {
                    ListOffsetsResponse {
                        topics: vec![(
                            s(),
                            vec![PartitionOffset {
                                partition: 0,
                                error_code: 0,
                                offset: 0,
                            }],
                        )],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "Stats response core",
            StatsResponse::WIRE_BYTES_MIN + CoreStats::WIRE_BYTES_MIN,
            Resp(
                |r| StatsResponse::decode(r).map(drop),
                encoded(|b| {
                    StatsResponse {
                        cores: vec![CoreStats::default()],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "JoinGroup response assignment partition",
            JoinGroupResponse::WIRE_BYTES_MIN + topic + PARTITION_BYTES,
            Resp(
                |r| JoinGroupResponse::decode(r).map(drop),
                encoded(|b| {
                    JoinGroupResponse {
                        assignment: vec![(s(), vec![0])],
                        ..Default::default()
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "OffsetCommit response partition",
            OffsetCommitResponse::WIRE_BYTES_MIN + topic + COMMIT_RESULT_BYTES,
            Resp(
                |r| OffsetCommitResponse::decode(r).map(drop),
                encoded(|b| {
                    OffsetCommitResponse {
                        topics: vec![(s(), vec![(0, 0)])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "OffsetFetch response partition",
            OffsetFetchResponse::WIRE_BYTES_MIN + topic + FetchedOffset::WIRE_BYTES_MIN,
            Resp(
                |r| OffsetFetchResponse::decode(r).map(drop),
                encoded(|b| {
                    OffsetFetchResponse {
                        topics: vec![(s(), vec![fetched.clone()])],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "ListGroups response group",
            ListGroupsResponse::WIRE_BYTES_MIN + GroupListing::WIRE_BYTES_MIN,
            Resp(
                |r| ListGroupsResponse::decode(r).map(drop),
                encoded(|b| {
                    ListGroupsResponse {
                        groups: vec![GroupListing {
                            group: s(),
                            core: 0,
                            state: s(),
                            members: 0,
                        }],
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "DescribeGroup response member",
            DescribeGroupResponse::WIRE_BYTES_MIN + MemberDescription::WIRE_BYTES_MIN,
            Resp(
                |r| DescribeGroupResponse::decode(r).map(drop),
                encoded(|b| {
                    DescribeGroupResponse {
                        members: vec![member.clone()],
                        ..Default::default()
                    }
                    .encode(b)
                }),
            ),
        ),
        (
            "DescribeGroup response member topic and assignment partition",
            DescribeGroupResponse::WIRE_BYTES_MIN
                + MemberDescription::WIRE_BYTES_MIN
                + STRING_MIN
                + topic
                + PARTITION_BYTES,
            Resp(
                |r| DescribeGroupResponse::decode(r).map(drop),
                encoded(|b| {
                    DescribeGroupResponse {
                        members: vec![MemberDescription {
                            topics: vec![s()],
                            assignment: vec![(s(), vec![0])],
                            ..member.clone()
                        }],
                        ..Default::default()
                    }
                    .encode(b)
                }),
            ),
        ),
    ]
}

/// Each array's element minimum is the size of its smallest element: the
/// count check (`array_len`) then never refuses a valid message, and the
/// one-element message still refuses every shorter prefix.
#[test]
fn every_array_element_minimum_is_its_smallest_encoding() {
    for (what, expected, case) in one_element_cases() {
        match case {
            Case::Request(api, body) => {
                assert_eq!(body.len(), expected, "{what}");
                assert_request_decodes_exactly(what, api, &body);
            }
            Case::Response(decode, body) => {
                assert_eq!(body.len(), expected, "{what}");
                assert_response_decodes_exactly(what, decode, &body);
            }
        }
    }
}
