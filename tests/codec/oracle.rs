//! What every decoder must do with any bytes at all, as checks that return
//! the first broken rule. A panic is a failure by itself (proptest and
//! libFuzzer both catch it); these checks add what a panic-free decoder can
//! still get wrong:
//!
//! - an accepted input means exactly what its bytes say: re-encoding what
//!   was decoded gives back the very bytes the decoder consumed, so nothing
//!   is accepted wrongly and nothing past the message is read;
//! - a refusal is the documented one (a request-level error code, a typed
//!   error), and the connection-level framing agrees with docs/PROTOCOL.md;
//! - the broker's and the client's paths agree on the same bytes.
//!
//! Shared by tests/decoders.rs and the fuzz targets under scripts/fuzz.

#![allow(dead_code)] // Each includer uses a different part.

use bytes::Bytes;

use shardlog::batch::builder::NewRecord;
use shardlog::batch::header::{compute_crc, field};
use shardlog::batch::{validate, Batch, BatchBuilder, BatchHeader, Batches, HEADER_LEN};
use shardlog::client::connection::decode_response;
use shardlog::client::consumer::records_from;
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::FetchResponse;
use shardlog::protocol::frame::{
    self, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES,
    RESPONSE_HEADER_BYTES,
};
use shardlog::protocol::groups::GroupResponse;
use shardlog::protocol::metadata::{ApiVersionsResponse, MetadataResponse};
use shardlog::protocol::offsets::ListOffsetsResponse;
use shardlog::protocol::produce::ProduceResponse;
use shardlog::protocol::producer::InitProducerResponse;
use shardlog::protocol::stats::StatsResponse;
use shardlog::protocol::topics::{DescribeTopicResponse, ListTopicsResponse};
use shardlog::protocol::wire::{DecodeError, WireReader};
use shardlog::protocol::{ApiKey, Request};

use crate::messages::{
    api_of, broker_decode, encode_request_body, raw_request_frame, request_body, response_body,
    Response, FRAME_BYTES_MAX,
};

/// The first broken rule, said in words.
pub type Verdict = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

// ---------------------------------------------------------------------------
// Frames.

/// `frame::check` as docs/PROTOCOL.md states it.
pub fn expected_check(buf: &[u8], frame_bytes_max: u32, header_bytes: usize) -> FrameCheck {
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

fn check_framing(buf: &[u8], header_bytes: usize) -> Verdict {
    let got = frame::check(buf, FRAME_BYTES_MAX, header_bytes);
    let expected = expected_check(buf, FRAME_BYTES_MAX, header_bytes);
    ensure!(
        got == expected,
        "frame::check said {got:?}, the spec {expected:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Requests, as the broker reads them.

/// The only codes a request that does not decode may get.
pub fn is_decode_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::UnknownApiKey | ErrorCode::UnsupportedVersion | ErrorCode::MalformedRequest
    )
}

/// A connection's byte stream, read as the broker reads it: frames one
/// after another, each decoded or refused, until no whole frame is left.
pub fn check_request_stream(buf: &[u8]) -> Verdict {
    let mut rest = buf;
    loop {
        check_framing(rest, REQUEST_HEADER_BYTES)?;
        let Some((len, header, decoded)) = broker_decode(rest) else {
            return Ok(());
        };
        check_request(&header, &rest[..len], decoded)?;
        rest = &rest[len..];
    }
}

/// A body under a valid version-0 header for `api`.
pub fn check_request_body(api: ApiKey, body: &[u8]) -> Verdict {
    let frame = raw_request_frame(api as u16, 0, 1, body);
    let (len, header, decoded) = broker_decode(&frame).ok_or("a whole frame is not decoded")?;
    ensure!(
        len == frame.len(),
        "frame of {} bytes read as {len}",
        frame.len()
    );
    check_request(&header, &frame, decoded)
}

/// One whole request frame and what `Request::decode` made of it.
fn check_request(
    header: &RequestHeader,
    frame: &[u8],
    decoded: Result<Request, shardlog::error::WireError>,
) -> Verdict {
    let known = ApiKey::from_u16(header.api_key);
    // The versions ApiVersions lists (only ApiVersions has a version 1).
    let supported = |api: ApiKey| {
        let (min, max) = api.versions();
        (min..=max).contains(&header.api_version)
    };
    match decoded {
        Ok(request) => {
            ensure!(
                known == Some(api_of(&request)) && known.is_some_and(supported),
                "header {header:?} decoded as {request:?}"
            );
            let mut again = bytes::BytesMut::new();
            encode_request_body(&request, &mut again);
            ensure!(
                again[..] == *request_body(frame),
                "{request:?} was accepted from a body it does not encode to"
            );
        }
        Err(shardlog::error::WireError { code, message }) => {
            let expected = match known {
                None => ErrorCode::UnknownApiKey,
                Some(api) if !supported(api) => ErrorCode::UnsupportedVersion,
                Some(_) => ErrorCode::MalformedRequest,
            };
            ensure!(
                code == expected,
                "{header:?} refused with {code:?} ({message}), not {expected:?}"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Responses, as the client reads them.

/// The body of an OK response to `api`. The tests' decoder and the client's
/// own (`decode_response`, which must consume the body whole) agree; what
/// decodes re-encodes to the bytes it was read from; fetched records go
/// through the consumer's `records_from`.
pub fn check_response_body(api: ApiKey, body: Bytes) -> Verdict {
    let mut r = WireReader::new(body.clone());
    let decoded = Response::decode(api, &mut r);
    if let Ok(response) = &decoded {
        let consumed = r.position();
        let mut again = bytes::BytesMut::new();
        response.encode(&mut again);
        ensure!(
            again[..] == body[..consumed],
            "{response:?} was accepted from {consumed} bytes it does not encode to"
        );
    }
    let whole = decoded.and_then(|response| r.finish().map(|()| response));
    let client = client_decode(api, body);
    ensure!(
        whole.is_ok() == client.is_ok(),
        "{api:?}: the tests' decoder says {whole:?}, the client's {client:?}"
    );
    if let Ok(Response::Fetch(fetch)) = &whole {
        check_fetched(fetch)?;
    }
    Ok(())
}

/// The client's own decoding of a response body, as its callers call it.
fn client_decode(api: ApiKey, body: Bytes) -> Result<(), String> {
    let addr = "fuzz";
    let result = match api {
        ApiKey::ApiVersions => {
            decode_response(addr, api, body, ApiVersionsResponse::decode).map(drop)
        }
        ApiKey::Metadata => decode_response(addr, api, body, MetadataResponse::decode).map(drop),
        ApiKey::CreateTopic | ApiKey::DeleteTopic => {
            decode_response(addr, api, body, |_| Ok::<_, DecodeError>(()))
        }
        ApiKey::ListTopics => {
            decode_response(addr, api, body, ListTopicsResponse::decode).map(drop)
        }
        ApiKey::DescribeTopic => {
            decode_response(addr, api, body, DescribeTopicResponse::decode).map(drop)
        }
        ApiKey::Produce => decode_response(addr, api, body, ProduceResponse::decode).map(drop),
        ApiKey::Fetch => decode_response(addr, api, body, FetchResponse::decode).map(drop),
        ApiKey::ListOffsets => {
            decode_response(addr, api, body, ListOffsetsResponse::decode).map(drop)
        }
        ApiKey::Stats => decode_response(addr, api, body, StatsResponse::decode).map(drop),
        ApiKey::FindCoordinator
        | ApiKey::JoinGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::ListGroups
        | ApiKey::DescribeGroup => decode_response(addr, api, body, |r| {
            GroupResponse::decode(api, r).expect("a group API")
        })
        .map(drop),
        ApiKey::InitProducer => {
            decode_response(addr, api, body, InitProducerResponse::decode).map(drop)
        }
    };
    result.map_err(|e| e.to_string())
}

/// Each fetched partition's records, read by the consumer from the
/// position the response itself names (hostile, like the rest).
fn check_fetched(fetch: &FetchResponse) -> Verdict {
    for (topic, partitions) in &fetch.topics {
        for p in partitions {
            let records = p.records.first().cloned().unwrap_or_default();
            check_batches(&records)?;
            for position in [0, p.log_start_offset, p.high_watermark] {
                check_records_from(topic, p.partition, records.clone(), position)?;
            }
        }
    }
    Ok(())
}

/// The consumer's walk over fetched records: what it returns is at or
/// after `position`, in the batches' offsets, and `next` is past it.
pub fn check_records_from(topic: &str, partition: u32, records: Bytes, position: u64) -> Verdict {
    let Ok((found, next)) = records_from(topic, partition, records, position) else {
        return Ok(());
    };
    ensure!(
        next >= position,
        "next position {next} is before {position}"
    );
    for record in &found {
        ensure!(
            position <= record.offset && record.offset < next,
            "record at {} returned for position {position}, next {next}",
            record.offset
        );
    }
    Ok(())
}

/// A client's read buffer: response frames one after another, each read as
/// a response to `api` (an error response carries a message instead).
pub fn check_response_stream(api: ApiKey, buf: &[u8]) -> Verdict {
    let mut rest = buf;
    loop {
        check_framing(rest, RESPONSE_HEADER_BYTES)?;
        let FrameCheck::Complete { len } =
            frame::check(rest, FRAME_BYTES_MAX, RESPONSE_HEADER_BYTES)
        else {
            return Ok(());
        };
        let frame = &rest[..len];
        let header = ResponseHeader::decode(frame).expect("a whole header");
        let body = Bytes::copy_from_slice(response_body(frame));
        if header.error_code == 0 {
            check_response_body(api, body)?;
        } else {
            // The message may be absent or garbage; reading it must not fail
            // in any other way.
            let _ = WireReader::new(body).string("message");
        }
        rest = &rest[len..];
    }
}

// ---------------------------------------------------------------------------
// Record batches.

/// One buffer that should hold exactly one batch, and the same buffer as a
/// run of batches (a fetch's records, a segment read).
pub fn check_batch(buf: &[u8]) -> Verdict {
    let header = BatchHeader::parse(buf, BATCH_BYTES_MAX);
    let valid = validate(buf, BATCH_BYTES_MAX);
    if let Ok(valid) = &valid {
        ensure!(Ok(valid.header) == header, "validate and parse disagree");
    }
    let decoded = Batch::decode(Bytes::copy_from_slice(buf), BATCH_BYTES_MAX);
    ensure!(
        decoded.is_ok() == valid.is_ok(),
        "Batch::decode says {:?}, validate {:?}",
        decoded.map(|b| b.header),
        valid.map(|v| v.header)
    );
    if let Ok(batch) = decoded {
        check_valid_batch(&batch)?;
    }
    check_batches(buf)
}

/// A run of batches: each batch yielded is the next slice of the run, the
/// walk stops at the first error, and a run without one is read whole.
pub fn check_batches(run: &[u8]) -> Verdict {
    let mut walk = Batches::new(Bytes::copy_from_slice(run), BATCH_BYTES_MAX);
    let mut consumed = 0;
    for item in walk.by_ref() {
        let Ok(batch) = item else {
            ensure!(
                consumed < run.len(),
                "an error after the whole run was read"
            );
            break;
        };
        let end = consumed + batch.bytes.len();
        ensure!(
            end <= run.len() && batch.bytes[..] == run[consumed..end],
            "batch yielded at {consumed} is not the run's next {} bytes",
            batch.bytes.len()
        );
        check_valid_batch(&batch)?;
        consumed = end;
        if consumed == run.len() {
            break;
        }
    }
    ensure!(walk.next().is_none(), "the walk went on after its end");
    Ok(())
}

/// A batch that validated holds exactly its records, and the builder writes
/// the same records back to the very same bytes: validation accepts only
/// what the format means, one encoding per batch.
fn check_valid_batch(batch: &Batch) -> Verdict {
    let header = batch.header;
    let records: Vec<_> = batch.records().collect();
    ensure!(
        records.len() == header.record_count as usize,
        "{} records yielded, {} declared",
        records.len(),
        header.record_count
    );
    let mut builder = BatchBuilder::new(header.timestamp_type(), BATCH_BYTES_MAX);
    for (index, record) in records.iter().enumerate() {
        ensure!(
            record.offset == header.base_offset + index as u64,
            "record {index} has offset {}",
            record.offset
        );
        let headers: Vec<_> = record.headers().collect();
        ensure!(
            headers.len() == record.header_count(),
            "record {index}: {} headers decode of {}",
            headers.len(),
            record.header_count()
        );
        let header_refs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|h| (h.name.as_str(), &h.value[..]))
            .collect();
        builder
            .append(&NewRecord {
                key: record.key.as_deref(),
                value: &record.value,
                headers: &header_refs,
                timestamp_ms: record.timestamp_ms,
            })
            .map_err(|e| format!("record {index} of a valid batch cannot be rebuilt: {e}"))?;
    }
    let mut rebuilt = builder.finish().ok_or("a valid batch without records")?;
    let mut valid = validate(&rebuilt, BATCH_BYTES_MAX)
        .map_err(|e| format!("the rebuilt batch does not validate: {e}"))?;
    // The broker's stamp: the base offset, and a log-append time.
    valid.stamp(&mut rebuilt, header.base_offset, header.first_timestamp_ms);
    ensure!(
        rebuilt[..] == batch.bytes[..],
        "a valid batch is not the encoding of its own records"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Getting past the CRC: damage made on purpose is re-checksummed, or the
// CRC check alone would refuse it and the checks behind it never run.

/// `buf` with its CRC made right again (if it has a whole header).
pub fn with_fixed_crc(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.len() >= HEADER_LEN {
        let crc = compute_crc(&buf);
        buf[field::CRC..field::CRC + 4].copy_from_slice(&crc.to_le_bytes());
    }
    buf
}

/// The same, with `batch_length` set to the buffer's own length first.
pub fn with_fixed_length_and_crc(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.len() >= HEADER_LEN {
        let length = buf.len() as u32;
        buf[field::BATCH_LENGTH..field::BATCH_LENGTH + 4].copy_from_slice(&length.to_le_bytes());
    }
    with_fixed_crc(buf)
}
