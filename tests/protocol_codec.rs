//! Black-box tests of the protocol codec (docs/PROTOCOL.md).
//!
//! Round trips: every request is built the way a client builds it (header,
//! body, length patched last) and read back the way the broker reads it
//! (`frame::check`, `RequestHeader::decode`, `Request::decode`); every
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

use shardlog::batch::Batches;
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::error::{ErrorCode, WireError};
use shardlog::protocol::fetch::{FetchPartitionResponse, FetchRequest, FetchResponse};
use shardlog::protocol::frame::{
    self, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES,
    RESPONSE_HEADER_BYTES,
};
use shardlog::protocol::metadata::{
    ApiVersionsResponse, BrokerLimits, MetadataRequest, BROKER_LIMITS_BYTES,
};
use shardlog::protocol::offsets::ListOffsetsRequest;
use shardlog::protocol::produce::{Acks, ProduceRequest};
use shardlog::protocol::topics::{CreateTopicRequest, TopicNameRequest};
use shardlog::protocol::wire::{DecodeError, WireReader, WireWrite};
use shardlog::protocol::{ApiKey, Request};

#[path = "codec/messages.rs"]
mod messages;
#[path = "codec/oracle.rs"]
mod oracle;
#[path = "codec/strategies.rs"]
mod strategies;

use messages::*;
use oracle::{expected_check, is_decode_refusal};
use strategies::*;

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
        (Request::InitProducer(a), Request::InitProducer(b)) => prop_assert_eq!(a, b),
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

/// A response as a client sees it.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Body(Response),
    Error { code: u16, message: String },
}

/// What a client does with one whole response frame to a request to `api`.
fn client_decode(api: ApiKey, frame: &[u8]) -> (ResponseHeader, Result<Answer, DecodeError>) {
    let header = ResponseHeader::decode(frame).expect("a whole header");
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

        let header = RequestHeader::decode(&frame).expect("a whole header");
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
                    prop_assert!(shardlog::batch::validate(&p.batch, BATCH_BYTES_MAX).is_ok());
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
                records: batches.clone(),
                ..FetchPartitionResponse::default()
            }])],
        };
        let frame = response_frame(7, &Response::Fetch(sent));
        let (_, answer) = client_decode(ApiKey::Fetch, &frame);
        let Ok(Answer::Body(Response::Fetch(got))) = answer else {
            return Err(TestCaseError::fail(format!("{answer:?}")));
        };
        let records: Vec<Bytes> = got.topics[0].1[0].records.clone();
        let split: Vec<Bytes> = records
            .into_iter()
            .flat_map(|run| Batches::new(run, BATCH_BYTES_MAX))
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
fn api_versions_lists_every_api_and_apiversions_up_to_version_1() {
    let current = ApiVersionsResponse::current();
    let expected: Vec<(u16, u16, u16)> = ApiKey::ALL
        .iter()
        .map(|&api| match api {
            ApiKey::ApiVersions => (0, 0, 1),
            other => (other as u16, 0, 0),
        })
        .collect();
    assert_eq!(current.apis, expected);
    assert_eq!(
        current.apis.len(),
        19,
        "keys 0 to 18, as docs/PROTOCOL.md lists"
    );
    for api in ApiKey::ALL {
        assert_eq!(ApiKey::from_u16(api as u16), Some(api));
    }
    for unknown in (0..=u16::MAX).filter(|k| !ApiKey::ALL.iter().any(|a| *a as u16 == *k)) {
        assert_eq!(ApiKey::from_u16(unknown), None);
    }
}

/// Version 1 is version 0's body followed by the limits, 32 bytes in the
/// order docs/PROTOCOL.md gives; version 0 stays exactly as it was.
#[test]
fn api_versions_v1_appends_the_limits_to_the_v0_body() {
    let limits = BrokerLimits {
        frame_bytes_max: 0x0102_0304,
        batch_bytes_max: 0x0506_0708,
        partitions_max: 4096,
        request_partitions_max: 10_000,
        fetch_bytes_max: 64 << 20,
        fetch_wait_ms_max: 60_000,
        segment_bytes_default: 1 << 30,
    };
    let mut v0 = BytesMut::new();
    ApiVersionsResponse::at_version(0, limits).encode(&mut v0);
    let mut expected_v0 = BytesMut::new();
    ApiVersionsResponse::current().encode(&mut expected_v0);
    assert_eq!(v0, expected_v0, "version 0 carries no limits");

    let v1_response = ApiVersionsResponse::at_version(1, limits);
    let mut v1 = BytesMut::new();
    v1_response.encode(&mut v1);
    assert_eq!(&v1[..v0.len()], &v0[..], "version 1 starts with version 0");
    let mut tail = Vec::new();
    for field in [0x0102_0304u32, 0x0506_0708, 4096, 10_000, 64 << 20, 60_000] {
        tail.extend_from_slice(&field.to_le_bytes());
    }
    tail.extend_from_slice(&(1u64 << 30).to_le_bytes());
    assert_eq!(tail.len(), BROKER_LIMITS_BYTES);
    assert_eq!(&v1[v0.len()..], &tail[..]);

    let mut r = WireReader::new(v1.clone().freeze());
    assert_eq!(ApiVersionsResponse::decode_v1(&mut r).unwrap(), v1_response);
    r.finish().unwrap();
    // A version 0 reader of a version 1 body sees trailing bytes, and a
    // version 1 reader of a version 0 body sees it end early.
    let mut r = WireReader::new(v1.freeze());
    ApiVersionsResponse::decode(&mut r).unwrap();
    assert_eq!(
        r.finish(),
        Err(DecodeError::TrailingBytes(BROKER_LIMITS_BYTES))
    );
    let mut r = WireReader::new(v0.freeze());
    assert!(matches!(
        ApiVersionsResponse::decode_v1(&mut r),
        Err(DecodeError::Truncated { .. })
    ));
}

// ---------------------------------------------------------------------------
// Frames.

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
        prop_assert_eq!(decoded.unwrap_err().code, ErrorCode::UnknownApiKey);
    }

    /// Even a body that would decode at version 0 is refused at another.
    #[test]
    fn unsupported_versions_are_refused(request in request(), api_version in 1u16..) {
        let mut frame = request_frame(3, &request);
        frame[LENGTH_BYTES + 2..LENGTH_BYTES + 4].copy_from_slice(&api_version.to_le_bytes());
        let (_, header, decoded) = broker_decode(&frame).expect("a whole frame");
        prop_assert_eq!(header.api_version, api_version);
        prop_assert_eq!(decoded.unwrap_err().code, ErrorCode::UnsupportedVersion);
    }

    #[test]
    fn trailing_bytes_are_malformed(request in request(), extra in vec(any::<u8>(), 1..16)) {
        let frame = request_frame(4, &request);
        let mut body = request_body(&frame).to_vec();
        body.extend_from_slice(&extra);
        let frame = raw_request_frame(api_of(&request) as u16, 0, 4, &body);
        let (_, _, decoded) = broker_decode(&frame).expect("a whole frame");
        let WireError { code, message } = decoded.unwrap_err();
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
            let WireError { code, message } = decoded.expect_err("a cut body is refused");
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
                Err(WireError { code, .. }) => prop_assert!(is_decode_refusal(code), "{:?}", code),
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
            Err(WireError { code, .. }) => prop_assert_eq!(code, ErrorCode::MalformedRequest),
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
                Err(WireError { code, .. }) => prop_assert!(is_decode_refusal(code), "{:?}", code),
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
            Err(WireError { code, .. }) => prop_assert_eq!(code, ErrorCode::MalformedRequest),
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
        let WireError { code, message } = decoded.unwrap_err();
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
    let WireError { code, message } = decoded.unwrap_err();
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
