//! The native protocol's front door (docs/PROTOCOL.md): little-endian
//! length-prefixed frames with a fixed request header, answered by
//! [`dispatch`]. A frame too large gets a `FrameTooLarge` error frame
//! before the connection closes; one that looks like a Kafka client's is
//! logged as such.

use std::rc::Rc;

use bytes::BytesMut;
use futures_lite::future;
use glommio::sync::StaticPermit;

use super::connection::{FrontDoor, Handled, Response};
use super::dispatch::dispatch;
use crate::error::ErrorCode;
use crate::protocol::fetch::FetchRequest;
use crate::protocol::frame::{
    check, error_response, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES,
    REQUEST_HEADER_BYTES,
};
use crate::protocol::ApiKey;
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

/// The native protocol on a connection.
pub struct NativeDoor;

impl FrontDoor for NativeDoor {
    fn frame_len(prefix: [u8; LENGTH_BYTES], frame_bytes_max: u32) -> Result<usize, u64> {
        let length = match check(&prefix, frame_bytes_max, REQUEST_HEADER_BYTES) {
            FrameCheck::TooLarge { length } => return Err(u64::from(length)),
            // Small frames are read whole and answered with an error, so
            // the frame boundary, and the connection, stay intact.
            FrameCheck::TooSmall { length } => length as usize,
            FrameCheck::Incomplete { needed } => needed.map_or(0, |n| n - LENGTH_BYTES),
            FrameCheck::Complete { len } => len - LENGTH_BYTES,
        };
        Ok(LENGTH_BYTES + length)
    }

    fn refuse_too_large(shard: &Shard, length: u64, frame_bytes_max: u32) -> Option<BytesMut> {
        if looks_like_kafka(length) {
            let kafka = shard
                .kafka_addresses
                .first()
                .map_or("off".to_string(), |a| format!("{}:{}", a.host, a.port));
            tracing::warn!(
                core = shard.id,
                kafka_listen = %kafka,
                "a Kafka client connected to the native protocol's port; \
                 point bootstrap.servers at the Kafka listener"
            );
        } else {
            tracing::debug!(length, "native frame too large; closing the connection");
        }
        let message = format!("frame of {length} bytes exceeds the limit of {frame_bytes_max}");
        Some(error_response(0, ErrorCode::FrameTooLarge, &message))
    }

    async fn handle(shard: &Rc<Shard>, frame: BytesMut) -> Handled {
        let mut api_key = u16::MAX;
        let mut response_budget = None;
        let future = if let Ok(header) = RequestHeader::decode(&frame) {
            api_key = header.api_key;
            if api_key == ApiKey::Fetch as u16 {
                match reserve_fetch_response(shard, &frame).await {
                    Some(budget) => response_budget = budget,
                    None => return Handled::Close,
                }
            }
            dispatch(shard, header, frame).await
        } else {
            let message = format!(
                "frame of {} bytes is shorter than a request header",
                frame.len() - LENGTH_BYTES
            );
            Box::pin(future::ready(error_response(
                0,
                ErrorCode::MalformedRequest,
                &message,
            ))) as LocalFuture<BytesMut>
        };
        Handled::Respond(Response {
            future,
            write: true,
            api_key,
            response_budget,
            error_of: response_error,
        })
    }
}

/// The error code in a native response's header; built by this process
/// with a header, so a short one counts as internal.
fn response_error(bytes: &[u8]) -> u16 {
    ResponseHeader::decode(bytes).map_or(ErrorCode::Internal as u16, |header| header.error_code)
}

/// Whether a native length prefix that is far too large is a Kafka
/// request's: a Kafka client's first request (ApiVersions or Metadata) is
/// a few dozen bytes, whose big-endian length read as little-endian puts
/// the small size in the top bytes.
fn looks_like_kafka(length: u64) -> bool {
    /// Larger than any first request a Kafka client sends.
    const FIRST_REQUEST_BYTES_MAX: u32 = 4096;
    let big_endian = (length as u32).swap_bytes();
    big_endian > 0 && big_endian < FIRST_REQUEST_BYTES_MAX
}

/// Reserves room in the core's in-flight budget for the response of the
/// fetch in `frame` before it is read (waiting while the budget is spent):
/// responses of up to 64 MiB were built, copied and held until written
/// without being counted anywhere. `Some(None)` when the body is too short
/// to say (the decoder answers it with an error); `None` if the semaphore
/// was closed.
async fn reserve_fetch_response(shard: &Rc<Shard>, frame: &[u8]) -> Option<Option<StaticPermit>> {
    let body = &frame[LENGTH_BYTES + REQUEST_HEADER_BYTES..];
    let Some(max_bytes) = FetchRequest::peek_max_bytes(body) else {
        return Some(None);
    };
    let bytes = shard.config.fetch_response_reserve_bytes(max_bytes);
    let permit = shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    Some(Some(permit))
}

#[cfg(test)]
mod tests {
    use super::looks_like_kafka;

    #[test]
    fn a_kafka_length_prefix_is_recognised() {
        // kcat's first ApiVersions request: 25 bytes, big-endian.
        let kafka = u32::from_le_bytes(25u32.to_be_bytes());
        assert!(looks_like_kafka(u64::from(kafka)));
        assert!(!looks_like_kafka(u64::from(u32::MAX)));
        assert!(!looks_like_kafka(300 << 20));
    }
}
