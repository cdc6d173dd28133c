//! Black-box tests of the protocol codec (docs/PROTOCOL.md).
//!
//! Round trips: every request is built the way a client builds it (header,
//! body, length patched last) and read back the way the broker reads it
//! (`frame::check`, `RequestHeader::parse`, `Request::decode`); every
//! response goes the other way. Produce requests carry real record batches,
//! which must come out byte for byte.
//!
//! Robustness: random bytes, every truncation and random mutations of valid
//! frames, and hostile counts and lengths are refused with an error, never a
//! panic, a read past the message, or an allocation the sender sized. What
//! does decode must re-encode to the same bytes, so nothing is accepted
//! wrongly.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, Batches, TimestampType};
use shardlog::config::BATCH_BYTES_LIMIT;
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::{
    FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse,
};
use shardlog::protocol::frame::{
    self, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES,
    RESPONSE_HEADER_BYTES,
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
use shardlog::protocol::stats::{CoreStats, StatsResponse};
use shardlog::protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, ListTopicsResponse, PartitionDescription,
    TopicNameRequest, TopicSettings,
};
use shardlog::protocol::wire::{DecodeError, WireReader, WireWrite};
use shardlog::protocol::{ApiKey, Request};

/// The frame limit these tests check against; the broker's is configured.
const FRAME_BYTES_MAX: u32 = 1 << 20;

// ---------------------------------------------------------------------------
// Requests: encode as a client, decode as the broker.

fn api_of(request: &Request) -> ApiKey {
    match request {
        Request::ApiVersions => ApiKey::ApiVersions,
        Request::Metadata(_) => ApiKey::Metadata,
        Request::CreateTopic(_) => ApiKey::CreateTopic,
        Request::DeleteTopic(_) => ApiKey::DeleteTopic,
        Request::ListTopics => ApiKey::ListTopics,
        Request::DescribeTopic(_) => ApiKey::DescribeTopic,
        Request::Produce(_) => ApiKey::Produce,
        Request::Fetch(_) => ApiKey::Fetch,
        Request::ListOffsets(_) => ApiKey::ListOffsets,
        Request::Stats => ApiKey::Stats,
        Request::Group(group) => group.api(),
    }
}

fn encode_request_body(request: &Request, buf: &mut BytesMut) {
    match request {
        Request::ApiVersions | Request::ListTopics | Request::Stats => {}
        Request::Metadata(body) => body.encode(buf),
        Request::CreateTopic(body) => body.encode(buf),
        Request::DeleteTopic(body) | Request::DescribeTopic(body) => body.encode(buf),
        Request::Produce(body) => body.encode(buf),
        Request::Fetch(body) => body.encode(buf),
        Request::ListOffsets(body) => body.encode(buf),
        Request::Group(body) => body.encode(buf),
    }
}

/// A whole request frame, built as a client builds one.
fn request_frame(correlation_id: u32, request: &Request) -> BytesMut {
    let mut buf = BytesMut::new();
    let start = RequestHeader {
        api_key: api_of(request) as u16,
        api_version: 0,
        correlation_id,
    }
    .begin(&mut buf);
    encode_request_body(request, &mut buf);
    frame::finish_frame(&mut buf, start);
    buf
}

/// A frame with this header and raw body bytes.
fn raw_request_frame(api_key: u16, api_version: u16, correlation_id: u32, body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    let start = RequestHeader {
        api_key,
        api_version,
        correlation_id,
    }
    .begin(&mut buf);
    buf.extend_from_slice(body);
    frame::finish_frame(&mut buf, start);
    buf
}

fn request_body(frame: &[u8]) -> &[u8] {
    &frame[LENGTH_BYTES + REQUEST_HEADER_BYTES..]
}

type Decoded = (usize, RequestHeader, Result<Request, (ErrorCode, String)>);

/// What the broker does with the front of its read buffer: `None` until a
/// whole frame within the limit is there.
fn broker_decode(buf: &[u8]) -> Option<Decoded> {
    match frame::check(buf, FRAME_BYTES_MAX, REQUEST_HEADER_BYTES) {
        FrameCheck::Complete { len } => {
            let header = RequestHeader::parse(&buf[..len]);
            let request = Request::decode(&header, BytesMut::from(&buf[..len]));
            Some((len, header, request))
        }
        _ => None,
    }
}

/// Field by field: `Request` has no `PartialEq` (produce batches are
/// mutable buffers), so batches are compared by their bytes.
fn assert_same_request(sent: &Request, got: &Request) -> Result<(), TestCaseError> {
    match (sent, got) {
        (Request::ApiVersions, Request::ApiVersions)
        | (Request::ListTopics, Request::ListTopics)
        | (Request::Stats, Request::Stats) => {}
        (Request::Metadata(a), Request::Metadata(b)) => prop_assert_eq!(a, b),
        (Request::CreateTopic(a), Request::CreateTopic(b)) => prop_assert_eq!(a, b),
        (Request::DeleteTopic(a), Request::DeleteTopic(b)) => prop_assert_eq!(a, b),
        (Request::DescribeTopic(a), Request::DescribeTopic(b)) => prop_assert_eq!(a, b),
        (Request::Fetch(a), Request::Fetch(b)) => prop_assert_eq!(a, b),
        (Request::ListOffsets(a), Request::ListOffsets(b)) => prop_assert_eq!(a, b),
        (Request::Group(a), Request::Group(b)) => prop_assert_eq!(a, b),
        (Request::Produce(a), Request::Produce(b)) => {
            prop_assert_eq!(a.acks, b.acks);
            prop_assert_eq!(a.topics.len(), b.topics.len());
            for (sent_topic, got_topic) in a.topics.iter().zip(&b.topics) {
                prop_assert_eq!(&sent_topic.name, &got_topic.name);
                prop_assert_eq!(sent_topic.partitions.len(), got_topic.partitions.len());
                for (sent_p, got_p) in sent_topic.partitions.iter().zip(&got_topic.partitions) {
                    prop_assert_eq!(sent_p.partition, got_p.partition);
                    prop_assert_eq!(&sent_p.batch[..], &got_p.batch[..]);
                }
            }
        }
        _ => prop_assert!(false, "sent {:?}, decoded {:?}", sent, got),
    }
    Ok(())
}

/// A request that decoded must be exactly what its bytes say: encoding it
/// again gives the same body.
fn assert_reencodes(request: &Request, body: &[u8]) -> Result<(), TestCaseError> {
    let mut again = BytesMut::new();
    encode_request_body(request, &mut again);
    prop_assert_eq!(&again[..], body, "{:?}", request);
    Ok(())
}

/// The only codes a request that does not decode may get.
fn is_decode_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::UnknownApiKey | ErrorCode::UnsupportedVersion | ErrorCode::MalformedRequest
    )
}

// ---------------------------------------------------------------------------
// Responses: encode as the broker, decode as a client.

/// Every response body; CreateTopic and DeleteTopic answer with an empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Response {
    ApiVersions(ApiVersionsResponse),
    Metadata(MetadataResponse),
    Empty(ApiKey),
    ListTopics(ListTopicsResponse),
    DescribeTopic(DescribeTopicResponse),
    Produce(ProduceResponse),
    Fetch(FetchResponse),
    ListOffsets(ListOffsetsResponse),
    Stats(StatsResponse),
    Group(GroupResponse),
}

impl Response {
    fn api(&self) -> ApiKey {
        match self {
            Response::ApiVersions(_) => ApiKey::ApiVersions,
            Response::Metadata(_) => ApiKey::Metadata,
            Response::Empty(api) => *api,
            Response::ListTopics(_) => ApiKey::ListTopics,
            Response::DescribeTopic(_) => ApiKey::DescribeTopic,
            Response::Produce(_) => ApiKey::Produce,
            Response::Fetch(_) => ApiKey::Fetch,
            Response::ListOffsets(_) => ApiKey::ListOffsets,
            Response::Stats(_) => ApiKey::Stats,
            Response::Group(group) => group.api(),
        }
    }

    fn encode(&self, buf: &mut BytesMut) {
        match self {
            Response::ApiVersions(body) => body.encode(buf),
            Response::Metadata(body) => body.encode(buf),
            Response::Empty(_) => {}
            Response::ListTopics(body) => body.encode(buf),
            Response::DescribeTopic(body) => body.encode(buf),
            Response::Produce(body) => body.encode(buf),
            Response::Fetch(body) => body.encode(buf),
            Response::ListOffsets(body) => body.encode(buf),
            Response::Stats(body) => body.encode(buf),
            Response::Group(body) => body.encode(buf),
        }
    }

    /// Decodes the body of a response to `api` (without `finish`).
    fn decode(api: ApiKey, r: &mut WireReader) -> Result<Response, DecodeError> {
        Ok(match api {
            ApiKey::ApiVersions => Response::ApiVersions(ApiVersionsResponse::decode(r)?),
            ApiKey::Metadata => Response::Metadata(MetadataResponse::decode(r)?),
            ApiKey::CreateTopic | ApiKey::DeleteTopic => Response::Empty(api),
            ApiKey::ListTopics => Response::ListTopics(ListTopicsResponse::decode(r)?),
            ApiKey::DescribeTopic => Response::DescribeTopic(DescribeTopicResponse::decode(r)?),
            ApiKey::Produce => Response::Produce(ProduceResponse::decode(r)?),
            ApiKey::Fetch => Response::Fetch(FetchResponse::decode(r)?),
            ApiKey::ListOffsets => Response::ListOffsets(ListOffsetsResponse::decode(r)?),
            ApiKey::Stats => Response::Stats(StatsResponse::decode(r)?),
            ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::ListGroups
            | ApiKey::DescribeGroup => {
                Response::Group(GroupResponse::decode(api, r).expect("a group API")?)
            }
        })
    }

    /// What a decoded copy holds: a fetch partition's batches come back as
    /// one buffer of records (split them with `Batches`), none if empty.
    fn as_decoded(&self) -> Response {
        let Response::Fetch(fetch) = self else {
            return self.clone();
        };
        let mut fetch = fetch.clone();
        for (_, partitions) in &mut fetch.topics {
            for p in partitions {
                let records: Bytes = p.batches.concat().into();
                p.batches = if records.is_empty() {
                    Vec::new()
                } else {
                    vec![records]
                };
            }
        }
        Response::Fetch(fetch)
    }
}

fn response_frame(correlation_id: u32, response: &Response) -> BytesMut {
    let mut buf = BytesMut::new();
    let start = ResponseHeader {
        correlation_id,
        error_code: 0,
    }
    .begin(&mut buf);
    response.encode(&mut buf);
    frame::finish_frame(&mut buf, start);
    buf
}

fn response_body(frame: &[u8]) -> &[u8] {
    &frame[LENGTH_BYTES + RESPONSE_HEADER_BYTES..]
}

/// A response as a client sees it.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Body(Response),
    Error { code: u16, message: String },
}

/// What a client does with one whole response frame to a request to `api`.
fn client_decode(api: ApiKey, frame: &[u8]) -> (ResponseHeader, Result<Answer, DecodeError>) {
    let header = ResponseHeader::parse(frame);
    let mut r = WireReader::new(Bytes::copy_from_slice(response_body(frame)));
    let answer = if header.error_code == 0 {
        Response::decode(api, &mut r).map(Answer::Body)
    } else {
        r.string("message").map(|message| Answer::Error {
            code: header.error_code,
            message,
        })
    };
    (header, answer.and_then(|a| r.finish().map(|()| a)))
}

// ---------------------------------------------------------------------------
// Strategies.

/// Topic names: mostly valid ones (up to the 249-byte maximum), some any
/// UTF-8 at all; the codec carries any string, the broker checks names.
fn topic_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9._-]{1,16}",
        1 => "[a-zA-Z0-9._-]{249}",
        2 => "\\PC{0,12}",
    ]
}

fn timestamp_type() -> impl Strategy<Value = TimestampType> {
    prop_oneof![Just(TimestampType::Create), Just(TimestampType::LogAppend)]
}

type InRecord = (Option<Vec<u8>>, Vec<u8>, Vec<(String, Vec<u8>)>, i64);

fn in_record() -> impl Strategy<Value = InRecord> {
    (
        proptest::option::of(vec(any::<u8>(), 0..8)),
        vec(any::<u8>(), 0..24),
        vec(("\\PC{0,4}", vec(any::<u8>(), 0..4)), 0..2),
        1_600_000_000_000i64..1_800_000_000_000,
    )
}

/// A real record batch, as `BatchBuilder` writes it.
fn batch() -> impl Strategy<Value = Bytes> {
    (vec(in_record(), 1..4), timestamp_type()).prop_map(|(records, timestamp_type)| {
        let mut builder = BatchBuilder::new(timestamp_type, BATCH_BYTES_LIMIT);
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
fn optional_setting() -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(prop_oneof![0u64..1 << 40, 0..=i64::MAX as u64])
}

fn settings() -> impl Strategy<Value = TopicSettings> {
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

fn acks() -> impl Strategy<Value = Acks> {
    prop_oneof![Just(Acks::None), Just(Acks::Written), Just(Acks::Durable)]
}

/// Timestamps a spec can carry: non-negative (-1 and -2 are the named specs).
fn offset_spec() -> impl Strategy<Value = OffsetSpec> {
    prop_oneof![
        Just(OffsetSpec::Earliest),
        Just(OffsetSpec::Latest),
        (0..=i64::MAX).prop_map(OffsetSpec::Timestamp),
    ]
}

fn produce_request() -> impl Strategy<Value = ProduceRequest> {
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

fn fetch_request() -> impl Strategy<Value = FetchRequest> {
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

fn list_offsets_request() -> impl Strategy<Value = ListOffsetsRequest> {
    vec(
        (topic_name(), vec((any::<u32>(), offset_spec()), 0..4)),
        0..3,
    )
    .prop_map(|topics| ListOffsetsRequest { topics })
}

fn request() -> impl Strategy<Value = Request> {
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
    ]
}

/// Error codes as the broker sends them, and some it does not know yet.
fn error_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => Just(0u16),
        4 => 0..ErrorCode::ALL.len() as u16,
        1 => any::<u16>(),
    ]
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), Just(NO_OFFSET), 0u64..1 << 20]
}

fn api_versions_response() -> impl Strategy<Value = ApiVersionsResponse> {
    prop_oneof![
        Just(ApiVersionsResponse::current()),
        (
            vec((any::<u16>(), any::<u16>(), any::<u16>()), 0..12),
            "\\PC{0,16}"
        )
            .prop_map(|(apis, broker_version)| ApiVersionsResponse {
                apis,
                broker_version
            }),
    ]
}

fn metadata_response() -> impl Strategy<Value = MetadataResponse> {
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

fn describe_topic_response() -> impl Strategy<Value = DescribeTopicResponse> {
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

fn produce_response() -> impl Strategy<Value = ProduceResponse> {
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

fn fetch_response() -> impl Strategy<Value = FetchResponse> {
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
                    batches,
                }
            },
        );
    vec((topic_name(), vec(partition, 0..3)), 0..3).prop_map(|topics| FetchResponse { topics })
}

fn list_offsets_response() -> impl Strategy<Value = ListOffsetsResponse> {
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

fn stats_response() -> impl Strategy<Value = StatsResponse> {
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

fn response() -> impl Strategy<Value = Response> {
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
    ]
}

fn api_key() -> impl Strategy<Value = ApiKey> {
    proptest::sample::select(ApiKey::ALL.to_vec())
}

/// Overwrites a few bytes of `buf`.
fn mutate(buf: &mut [u8], edits: &[(Index, u8)]) {
    if buf.is_empty() {
        return;
    }
    for (at, byte) in edits {
        let at = at.index(buf.len());
        buf[at] = *byte;
    }
}

// ---------------------------------------------------------------------------
// Round trips.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(request in request(), correlation_id in any::<u32>()) {
        let frame = request_frame(correlation_id, &request);
        prop_assert_eq!(
            frame::check(&frame, FRAME_BYTES_MAX, REQUEST_HEADER_BYTES),
            FrameCheck::Complete { len: frame.len() }
        );
        let length = u32::from_le_bytes(frame[..LENGTH_BYTES].try_into().unwrap());
        prop_assert_eq!(length as usize, frame.len() - LENGTH_BYTES);

        let header = RequestHeader::parse(&frame);
        prop_assert_eq!(header, RequestHeader {
            api_key: api_of(&request) as u16,
            api_version: 0,
            correlation_id,
        });
        let decoded = Request::decode(&header, frame.clone()).expect("a valid request decodes");
        assert_same_request(&request, &decoded)?;
        if let Request::Produce(produce) = &decoded {
            // Each batch is still a valid batch, in a buffer of its own.
            for topic in &produce.topics {
                for p in &topic.partitions {
                    prop_assert!(shardlog::batch::validate(&p.batch, BATCH_BYTES_LIMIT).is_ok());
                }
            }
        }
    }

    #[test]
    fn responses_round_trip(
        response in response(),
        correlation_id in any::<u32>(),
        next_frame in vec(any::<u8>(), 0..16),
    ) {
        let frame = response_frame(correlation_id, &response);
        // Whatever follows the frame in the client's buffer is not part of it.
        let mut buffered = frame.to_vec();
        buffered.extend_from_slice(&next_frame);
        prop_assert_eq!(
            frame::check(&buffered, FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES),
            FrameCheck::Complete { len: frame.len() }
        );
        let (header, answer) = client_decode(response.api(), &frame);
        prop_assert_eq!(header, ResponseHeader { correlation_id, error_code: 0 });
        prop_assert_eq!(answer, Ok(Answer::Body(response.as_decoded())));

        // A decoder reads exactly its own bytes, however many follow.
        let mut body = response_body(&frame).to_vec();
        body.extend_from_slice(&next_frame);
        let mut r = WireReader::new(Bytes::from(body));
        Response::decode(response.api(), &mut r).expect("decodes");
        prop_assert_eq!(r.remaining(), next_frame.len());
    }

    /// Fetched records split back into the very batches the broker sent.
    #[test]
    fn fetched_records_split_into_the_batches_sent(batches in vec(batch(), 0..4)) {
        let sent = FetchResponse {
            topics: vec![("t".to_string(), vec![FetchPartitionResponse {
                batches: batches.clone(),
                ..FetchPartitionResponse::default()
            }])],
        };
        let frame = response_frame(7, &Response::Fetch(sent));
        let (_, answer) = client_decode(ApiKey::Fetch, &frame);
        let Ok(Answer::Body(Response::Fetch(got))) = answer else {
            return Err(TestCaseError::fail(format!("{answer:?}")));
        };
        let records: Vec<Bytes> = got.topics[0].1[0].batches.clone();
        let split: Vec<Bytes> = records
            .into_iter()
            .flat_map(|run| Batches::new(run, BATCH_BYTES_LIMIT))
            .map(|batch| batch.expect("valid batch").bytes)
            .collect();
        prop_assert_eq!(split, batches);
    }

    #[test]
    fn error_responses_round_trip(
        correlation_id in any::<u32>(),
        code in 1..ErrorCode::ALL.len(),
        message in "\\PC{0,64}",
    ) {
        let code = ErrorCode::ALL[code];
        let frame = frame::error_response(correlation_id, code, &message);
        prop_assert_eq!(
            frame::check(&frame, FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES),
            FrameCheck::Complete { len: frame.len() }
        );
        // The body is the message whatever the API was.
        for api in ApiKey::ALL {
            let (header, answer) = client_decode(api, &frame);
            prop_assert_eq!(header, ResponseHeader { correlation_id, error_code: code as u16 });
            prop_assert_eq!(
                answer,
                Ok(Answer::Error { code: code as u16, message: message.clone() })
            );
        }
    }

    /// A connection may pipeline: frames back to back in one buffer, read
    /// in any chunks, come out one at a time and in order.
    #[test]
    fn pipelined_frames_come_out_in_order(
        requests in vec(request(), 1..5),
        chunk_bytes in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for (id, request) in requests.iter().enumerate() {
            stream.extend_from_slice(&request_frame(id as u32, request));
        }
        let mut buffered = Vec::new();
        let mut next_id = 0u32;
        for chunk in stream.chunks(chunk_bytes) {
            buffered.extend_from_slice(chunk);
            while let Some((len, header, decoded)) = broker_decode(&buffered) {
                prop_assert_eq!(header.correlation_id, next_id);
                let decoded = decoded.expect("decodes");
                assert_same_request(&requests[next_id as usize], &decoded)?;
                buffered.drain(..len);
                next_id += 1;
            }
        }
        prop_assert_eq!(next_id as usize, requests.len());
        prop_assert!(buffered.is_empty());
    }
}

#[test]
fn api_versions_lists_every_api_at_version_0() {
    let current = ApiVersionsResponse::current();
    let expected: Vec<(u16, u16, u16)> =
        ApiKey::ALL.iter().map(|&api| (api as u16, 0, 0)).collect();
    assert_eq!(current.apis, expected);
    for api in ApiKey::ALL {
        assert_eq!(ApiKey::from_u16(api as u16), Some(api));
    }
    for unknown in (0..=u16::MAX).filter(|k| !ApiKey::ALL.iter().any(|a| *a as u16 == *k)) {
        assert_eq!(ApiKey::from_u16(unknown), None);
    }
}

// ---------------------------------------------------------------------------
// Frames.

/// `frame::check` as docs/PROTOCOL.md states it.
fn expected_check(buf: &[u8], frame_bytes_max: u32, header_bytes: usize) -> FrameCheck {
    if buf.len() < LENGTH_BYTES {
        return FrameCheck::Incomplete { needed: None };
    }
    let length = u32::from_le_bytes(buf[..LENGTH_BYTES].try_into().unwrap());
    let len = LENGTH_BYTES + length as usize;
    if length > frame_bytes_max {
        FrameCheck::TooLarge { length }
    } else if (length as usize) < header_bytes {
        FrameCheck::TooSmall { length }
    } else if buf.len() < len {
        FrameCheck::Incomplete { needed: Some(len) }
    } else {
        FrameCheck::Complete { len }
    }
}

#[test]
fn frame_check_limits() {
    let with_length = |length: u32, total: usize| {
        let mut buf = length.to_le_bytes().to_vec();
        buf.resize(total.max(LENGTH_BYTES), 0);
        buf
    };
    let max = 100;
    for header_bytes in [REQUEST_HEADER_BYTES, RESPONSE_HEADER_BYTES] {
        for cut in 0..LENGTH_BYTES {
            assert_eq!(
                frame::check(&with_length(max, 0)[..cut], max, header_bytes),
                FrameCheck::Incomplete { needed: None }
            );
        }
        // The prefix alone decides a frame is too large or too small, so
        // the broker can refuse it before reading its body.
        for length in [max + 1, u32::MAX] {
            assert_eq!(
                frame::check(&with_length(length, 4), max, header_bytes),
                FrameCheck::TooLarge { length }
            );
        }
        for length in 0..header_bytes as u32 {
            assert_eq!(
                frame::check(&with_length(length, 64), max, header_bytes),
                FrameCheck::TooSmall { length }
            );
        }
        // Both bounds are inclusive.
        let smallest = header_bytes as u32;
        assert_eq!(
            frame::check(&with_length(smallest, 4 + header_bytes), max, header_bytes),
            FrameCheck::Complete {
                len: 4 + header_bytes
            }
        );
        assert_eq!(
            frame::check(&with_length(max, 4), max, header_bytes),
            FrameCheck::Incomplete {
                needed: Some(4 + max as usize)
            }
        );
        assert_eq!(
            frame::check(&with_length(max, 4 + max as usize + 3), max, header_bytes),
            FrameCheck::Complete {
                len: 4 + max as usize
            }
        );
    }
    // A limit of u32::MAX lets any length through to the size check.
    assert_eq!(
        frame::check(&with_length(u32::MAX, 4), u32::MAX, REQUEST_HEADER_BYTES),
        FrameCheck::Incomplete {
            needed: Some(4 + u32::MAX as usize)
        }
    );
}

// ---------------------------------------------------------------------------
// Refusals by the header: unknown keys, versions, trailing bytes.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn unknown_api_keys_are_refused(
        api_key in ApiKey::ALL.iter().map(|a| *a as u16).max().unwrap() + 1..,
        api_version in any::<u16>(),
        body in vec(any::<u8>(), 0..32),
    ) {
        let frame = raw_request_frame(api_key, api_version, 1, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        prop_assert_eq!(decoded.unwrap_err().0, ErrorCode::UnknownApiKey);
    }

    /// Even a body that would decode at version 0 is refused at another.
    #[test]
    fn unsupported_versions_are_refused(request in request(), api_version in 1u16..) {
        let mut frame = request_frame(3, &request);
        frame[LENGTH_BYTES + 2..LENGTH_BYTES + 4].copy_from_slice(&api_version.to_le_bytes());
        let (_, header, decoded) = broker_decode(&frame).expect("a whole frame");
        prop_assert_eq!(header.api_version, api_version);
        prop_assert_eq!(decoded.unwrap_err().0, ErrorCode::UnsupportedVersion);
    }

    #[test]
    fn trailing_bytes_are_malformed(request in request(), extra in vec(any::<u8>(), 1..16)) {
        let frame = request_frame(4, &request);
        let mut body = request_body(&frame).to_vec();
        body.extend_from_slice(&extra);
        let frame = raw_request_frame(api_of(&request) as u16, 0, 4, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        let (code, message) = decoded.unwrap_err();
        prop_assert_eq!(code, ErrorCode::MalformedRequest);
        let expected = format!("{} trailing bytes", extra.len());
        prop_assert!(message.contains(&expected), "{}", message);
    }
}

// ---------------------------------------------------------------------------
// Robustness: truncation, mutation, random bytes.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A cut frame is incomplete; a whole frame around a cut body is
    /// malformed (a message's fields say where it ends, so no proper prefix
    /// of a valid body is a valid body).
    #[test]
    fn every_truncation_of_a_request_is_refused(request in request()) {
        let frame = request_frame(5, &request);
        for cut in 0..frame.len() {
            let needed = (cut >= LENGTH_BYTES).then_some(frame.len());
            prop_assert_eq!(
                frame::check(&frame[..cut], FRAME_BYTES_MAX, REQUEST_HEADER_BYTES),
                FrameCheck::Incomplete { needed }
            );
        }
        let body = request_body(&frame);
        let api = api_of(&request) as u16;
        for cut in 0..body.len() {
            let short = raw_request_frame(api, 0, 5, &body[..cut]);
            let (_, _, decoded) = broker_decode(&short).expect("a whole frame");
            let (code, message) = decoded.expect_err("a cut body is refused");
            prop_assert_eq!(code, ErrorCode::MalformedRequest, "{}", message);
        }
    }

    #[test]
    fn every_truncation_of_a_response_is_refused(response in response()) {
        let frame = response_frame(6, &response);
        for cut in 0..frame.len() {
            let needed = (cut >= LENGTH_BYTES).then_some(frame.len());
            prop_assert_eq!(
                frame::check(&frame[..cut], FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES),
                FrameCheck::Incomplete { needed }
            );
        }
        let body = response_body(&frame);
        for cut in 0..body.len() {
            let mut r = WireReader::new(Bytes::copy_from_slice(&body[..cut]));
            let decoded = Response::decode(response.api(), &mut r);
            prop_assert!(decoded.is_err(), "cut at {}: {:?}", cut, decoded);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Overwritten bytes anywhere in a valid frame, prefix and header
    /// included: refused with a request-level code, or decoded into exactly
    /// what the bytes say.
    #[test]
    fn mutated_request_frames_never_panic(
        request in request(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
    ) {
        let mut frame = request_frame(8, &request).to_vec();
        mutate(&mut frame, &edits);
        if let Some((len, _, decoded)) = broker_decode(&frame) {
            match decoded {
                Ok(decoded) => assert_reencodes(&decoded, request_body(&frame[..len]))?,
                Err((code, _)) => prop_assert!(is_decode_refusal(code), "{:?}", code),
            }
        }
    }

    /// Mutations of the body alone get past the header, deep into decoding.
    #[test]
    fn mutated_request_bodies_never_panic(
        request in request(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
    ) {
        let frame = request_frame(9, &request);
        let mut body = request_body(&frame).to_vec();
        mutate(&mut body, &edits);
        let frame = raw_request_frame(api_of(&request) as u16, 0, 9, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        match decoded {
            Ok(decoded) => assert_reencodes(&decoded, &body)?,
            Err((code, _)) => prop_assert_eq!(code, ErrorCode::MalformedRequest),
        }
    }

    #[test]
    fn mutated_response_bodies_never_panic(
        response in response(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
    ) {
        let frame = response_frame(10, &response);
        let mut body = response_body(&frame).to_vec();
        mutate(&mut body, &edits);
        let mut r = WireReader::new(Bytes::from(body.clone()));
        if let Ok(decoded) = Response::decode(response.api(), &mut r) {
            if r.finish().is_ok() {
                let mut again = BytesMut::new();
                decoded.encode(&mut again);
                prop_assert_eq!(&again[..], &body[..]);
            }
        }
    }

    /// Random bytes as a stream: `check` behaves as documented, and
    /// whatever it calls a whole frame decodes or is refused.
    #[test]
    fn arbitrary_bytes_never_panic(
        buf in vec(any::<u8>(), 0..256),
        frame_bytes_max in prop_oneof![Just(FRAME_BYTES_MAX), 0u32..300],
    ) {
        for header_bytes in [REQUEST_HEADER_BYTES, RESPONSE_HEADER_BYTES] {
            prop_assert_eq!(
                frame::check(&buf, frame_bytes_max, header_bytes),
                expected_check(&buf, frame_bytes_max, header_bytes)
            );
        }
        if let Some((len, _, decoded)) = broker_decode(&buf) {
            match decoded {
                Ok(decoded) => assert_reencodes(&decoded, request_body(&buf[..len]))?,
                Err((code, _)) => prop_assert!(is_decode_refusal(code), "{:?}", code),
            }
        }
        // The same bytes as a response body to every API.
        for api in ApiKey::ALL {
            let mut r = WireReader::new(Bytes::from(buf.clone()));
            if let Ok(decoded) = Response::decode(api, &mut r) {
                let mut again = BytesMut::new();
                decoded.encode(&mut again);
                prop_assert_eq!(&again[..], &buf[..r.position()]);
            }
        }
    }

    /// Random bodies under a valid header for every API.
    #[test]
    fn arbitrary_bodies_never_panic(api in api_key(), body in vec(any::<u8>(), 0..128)) {
        let frame = raw_request_frame(api as u16, 0, 11, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        match decoded {
            Ok(decoded) => assert_reencodes(&decoded, &body)?,
            Err((code, _)) => prop_assert_eq!(code, ErrorCode::MalformedRequest),
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile counts and lengths.

const HOSTILE_TAIL_BYTES: usize = 64;

/// `prefix`, then a count of `u32::MAX`, then a little padding.
fn hostile(prefix: &[u8]) -> Bytes {
    let mut buf = prefix.to_vec();
    buf.extend_from_slice(&u32::MAX.to_le_bytes());
    buf.extend_from_slice(&[0; HOSTILE_TAIL_BYTES]);
    buf.into()
}

/// The count is refused from what is left, before any element (or a `Vec`
/// sized by the count) exists.
fn assert_refused<T: Debug>(what: &str, field: &str, result: Result<T, DecodeError>) {
    match result {
        Err(DecodeError::ArrayTooLong {
            field: refused,
            count: u32::MAX,
            available: HOSTILE_TAIL_BYTES,
        }) if refused == field => {}
        other => panic!("{what}: expected {field} refused as too long, got {other:?}"),
    }
}

fn string(s: &str) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_string(s);
    buf.to_vec()
}

fn decoded_with<T>(
    decode: fn(&mut WireReader) -> Result<T, DecodeError>,
    body: Bytes,
) -> Result<T, DecodeError> {
    decode(&mut WireReader::new(body))
}

#[test]
fn hostile_array_counts_are_refused_without_allocating() {
    let one_topic = [&1u32.to_le_bytes()[..], &string("t")].concat();
    let fetch_limits = [0u8; 12];
    let settings = [&0u32.to_le_bytes()[..], &[0xff; 24]].concat();

    // Requests, through the decoders and through `Request::decode`.
    let requests: [(ApiKey, &str, Vec<u8>); 7] = [
        (ApiKey::Metadata, "topics", vec![]),
        (ApiKey::Fetch, "topics", fetch_limits.to_vec()),
        (
            ApiKey::Fetch,
            "partitions",
            [&fetch_limits[..], &one_topic].concat(),
        ),
        (ApiKey::ListOffsets, "topics", vec![]),
        (ApiKey::ListOffsets, "partitions", one_topic.clone()),
        (ApiKey::Produce, "topics", vec![Acks::Durable as u8]),
        (
            ApiKey::Produce,
            "partitions",
            [&[Acks::Durable as u8][..], &one_topic].concat(),
        ),
    ];
    for (api, field, prefix) in requests {
        let body = hostile(&prefix);
        let what = format!("{api:?} request");
        match api {
            ApiKey::Metadata => assert_refused(
                &what,
                field,
                decoded_with(MetadataRequest::decode, body.clone()),
            ),
            ApiKey::Fetch => assert_refused(
                &what,
                field,
                decoded_with(FetchRequest::decode, body.clone()),
            ),
            ApiKey::ListOffsets => assert_refused(
                &what,
                field,
                decoded_with(ListOffsetsRequest::decode, body.clone()),
            ),
            ApiKey::Produce => assert_refused(
                &what,
                field,
                ProduceRequest::decode(BytesMut::from(&body[..])),
            ),
            _ => unreachable!(),
        }
        let frame = raw_request_frame(api as u16, 0, 12, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        let (code, message) = decoded.unwrap_err();
        assert_eq!(code, ErrorCode::MalformedRequest, "{what}");
        assert!(
            message.contains(&format!("{field}: {}", u32::MAX)),
            "{what}: {message}"
        );
    }

    // Responses.
    let responses: [(ApiKey, &str, Vec<u8>); 12] = [
        (ApiKey::ApiVersions, "apis", vec![]),
        (ApiKey::Metadata, "cores", vec![]),
        (ApiKey::Metadata, "topics", 0u32.to_le_bytes().to_vec()),
        (
            ApiKey::Metadata,
            "partitions",
            [&0u32.to_le_bytes()[..], &one_topic, &0u16.to_le_bytes()].concat(),
        ),
        (ApiKey::ListTopics, "topics", vec![]),
        (
            ApiKey::DescribeTopic,
            "partitions",
            [string("t"), settings].concat(),
        ),
        (ApiKey::Produce, "topics", vec![]),
        (ApiKey::Produce, "partitions", one_topic.clone()),
        (ApiKey::Fetch, "topics", vec![]),
        (ApiKey::Fetch, "partitions", one_topic.clone()),
        (ApiKey::ListOffsets, "topics", vec![]),
        (ApiKey::ListOffsets, "partitions", one_topic.clone()),
    ];
    for (api, field, prefix) in responses {
        let mut r = WireReader::new(hostile(&prefix));
        assert_refused(
            &format!("{api:?} response"),
            field,
            Response::decode(api, &mut r),
        );
    }
}

#[test]
fn array_counts_are_bounded_by_the_bytes_left() {
    // Two u16 elements in four bytes fit exactly; three do not.
    let body = |count: u32| -> Bytes { [&count.to_le_bytes()[..], &[0; 4]].concat().into() };
    assert_eq!(WireReader::new(body(2)).array_len("a", 2), Ok(2));
    assert_eq!(
        WireReader::new(body(3)).array_len("a", 2),
        Err(DecodeError::ArrayTooLong {
            field: "a",
            count: 3,
            available: 4
        })
    );
    // Zero-sized elements still count one byte each.
    assert_eq!(
        WireReader::new(body(5)).array_len("a", 0),
        Err(DecodeError::ArrayTooLong {
            field: "a",
            count: 5,
            available: 4
        })
    );
}

#[test]
fn hostile_lengths_are_refused_without_reading_past_the_message() {
    // A batch claiming u32::MAX bytes.
    let mut produce = vec![Acks::Durable as u8];
    produce.extend_from_slice(&1u32.to_le_bytes());
    produce.extend_from_slice(&string("t"));
    produce.extend_from_slice(&1u32.to_le_bytes());
    produce.extend_from_slice(&0u32.to_le_bytes());
    produce.extend_from_slice(&u32::MAX.to_le_bytes());
    produce.extend_from_slice(&[0; 8]);
    assert_eq!(
        ProduceRequest::decode(BytesMut::from(&produce[..])).unwrap_err(),
        DecodeError::Truncated {
            field: "batch",
            needed: u32::MAX as usize,
            available: 8
        }
    );

    // Fetched records claiming u32::MAX bytes.
    let mut fetch = 1u32.to_le_bytes().to_vec();
    fetch.extend_from_slice(&string("t"));
    fetch.extend_from_slice(&1u32.to_le_bytes());
    fetch.extend_from_slice(&[0; 4 + 2 + 8 + 8]);
    fetch.extend_from_slice(&u32::MAX.to_le_bytes());
    fetch.extend_from_slice(&[0; 8]);
    assert_eq!(
        FetchResponse::decode(&mut WireReader::new(fetch.into())).unwrap_err(),
        DecodeError::Truncated {
            field: "records",
            needed: u32::MAX as usize,
            available: 8
        }
    );

    // A string claiming u16::MAX bytes, and one that is not UTF-8.
    let mut long = u16::MAX.to_le_bytes().to_vec();
    long.extend_from_slice(b"abc");
    assert_eq!(
        TopicNameRequest::decode(&mut WireReader::new(long.into())).unwrap_err(),
        DecodeError::Truncated {
            field: "name",
            needed: u16::MAX as usize,
            available: 3
        }
    );
    let not_utf8: Bytes = [&2u16.to_le_bytes()[..], &[0xc3, 0x28]].concat().into();
    assert_eq!(
        TopicNameRequest::decode(&mut WireReader::new(not_utf8)).unwrap_err(),
        DecodeError::NotUtf8 { field: "name" }
    );
}

#[test]
fn out_of_range_values_are_refused() {
    // acks 3.
    let frame = raw_request_frame(ApiKey::Produce as u16, 0, 13, &[3, 0, 0, 0, 0]);
    let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
    let (code, message) = decoded.unwrap_err();
    assert_eq!(code, ErrorCode::MalformedRequest);
    assert!(message.contains("acks"), "{message}");

    // A ListOffsets spec below -2.
    let mut body = 1u32.to_le_bytes().to_vec();
    body.extend_from_slice(&string("t"));
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&(-3i64).to_le_bytes());
    assert_eq!(
        ListOffsetsRequest::decode(&mut WireReader::new(body.into())).unwrap_err(),
        DecodeError::InvalidValue {
            field: "spec",
            value: -3
        }
    );

    // A topic setting below -1.
    let mut body = string("t");
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    body.extend_from_slice(&(-2i64).to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    assert_eq!(
        CreateTopicRequest::decode(&mut WireReader::new(body.into())).unwrap_err(),
        DecodeError::InvalidValue {
            field: "retention_bytes",
            value: -2
        }
    );
}

/// Strings longer than a `u16` length can say are cut, and the cut must fall
/// between characters: a message quoting a long multi-byte name must still
/// decode as UTF-8 on the client, or the client cannot read the error.
#[test]
fn long_strings_are_cut_at_a_character_boundary() {
    // 'é' is two bytes, so byte 65535 is inside a character.
    let message = "é".repeat(40_000);
    let frame = frame::error_response(14, ErrorCode::InvalidTopicName, &message);
    let (header, answer) = client_decode(ApiKey::CreateTopic, &frame);
    assert_eq!(header.error_code, ErrorCode::InvalidTopicName as u16);
    let Ok(Answer::Error { message: got, .. }) = answer else {
        panic!("error message does not decode: {answer:?}");
    };
    assert_eq!(got.len(), 65_534);
    assert!(message.starts_with(&got));
}

// ---------------------------------------------------------------------------
// Consumer groups (keys 10 to 17): strategies for the round trips above.

fn partitions_by_topic() -> impl Strategy<Value = Vec<(String, Vec<u32>)>> {
    vec((topic_name(), vec(any::<u32>(), 0..4)), 0..3)
}

fn group_request() -> impl Strategy<Value = GroupRequest> {
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

fn group_response() -> impl Strategy<Value = GroupResponse> {
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
