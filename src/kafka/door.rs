//! Kafka's framing on a connection: a big-endian `i32` length, a request
//! header whose layout depends on the API and version, a body decoded by
//! the `kafka-protocol` crate, and a response with the same correlation
//! id, in request order (the connection keeps the order).
//!
//! ApiVersions at a version this broker does not know gets a v0-encoded
//! answer with UNSUPPORTED_VERSION and the full table, as clients expect.
//! A frame that cannot be answered in Kafka's protocol (an unknown API,
//! an unsupported version of another API, a body that does not decode)
//! closes that connection only, with a log line saying why: Kafka brokers
//! do the same, and a client reconnects.

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use glommio::sync::StaticPermit;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::ResponseError;

use super::versions::{api_versions, is_supported};
use super::{fetch, groups, metadata, offsets, produce, producer_id, topics};
use crate::config::RESPONSE_BUFFER_BYTES_INITIAL;
use crate::protocol::frame::LENGTH_BYTES;
use crate::protocol::ApiKey as NativeApi;
use crate::server::connection::{FrontDoor, Handled, Response};
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

/// Bytes of `api_key` and `api_version` at the start of every request
/// header, whatever its version.
const HEADER_PREFIX_BYTES: usize = 4;

/// Kafka's protocol on a connection.
pub struct KafkaDoor;

/// What one request turns into: the response (or none, for acks=0) once
/// its future completes.
pub struct Answer {
    pub response: LocalFuture<ResponseKind>,
    pub write: bool,
}

impl Answer {
    pub fn now(response: ResponseKind) -> Answer {
        Answer {
            response: Box::pin(std::future::ready(response)),
            write: true,
        }
    }

    pub fn later(response: LocalFuture<ResponseKind>) -> Answer {
        Answer {
            response,
            write: true,
        }
    }
}

impl FrontDoor for KafkaDoor {
    fn frame_len(prefix: [u8; LENGTH_BYTES], frame_bytes_max: u32) -> Result<usize, u64> {
        let length = i32::from_be_bytes(prefix);
        match u32::try_from(length) {
            Ok(length) if length <= frame_bytes_max => Ok(LENGTH_BYTES + length as usize),
            _ => Err(u64::from(length as u32)),
        }
    }

    fn refuse_too_large(shard: &Shard, length: u64, frame_bytes_max: u32) -> Option<BytesMut> {
        let native = u32::from_le_bytes((length as u32).to_be_bytes());
        if native <= frame_bytes_max {
            tracing::warn!(
                core = shard.id,
                native_listen = %shard.config.listen,
                "a native shardlog client connected to the Kafka port; \
                 point it at the native listener"
            );
        } else {
            tracing::warn!(
                core = shard.id,
                length,
                frame_bytes_max,
                "Kafka request larger than frame_bytes_max; closing the connection"
            );
        }
        None
    }

    async fn handle(shard: &Rc<Shard>, frame: BytesMut) -> Handled {
        let mut body = frame.freeze().slice(LENGTH_BYTES..);
        let Some(request) = decode(shard, &mut body) else {
            return Handled::Close;
        };
        let Decoded {
            header,
            api,
            version,
            request,
        } = request;
        let correlation_id = header.correlation_id;
        let mut response_budget = None;
        let answer = match request {
            Err(unsupported) => Answer::now(unsupported),
            Ok(request) => {
                if let RequestKind::Fetch(fetch) = &request {
                    match reserve_fetch_response(shard, fetch.max_bytes).await {
                        Some(permit) => response_budget = Some(permit),
                        None => return Handled::Close,
                    }
                }
                let client_id = header.client_id.as_deref().unwrap_or("").to_string();
                dispatch(shard, request, version, client_id).await
            }
        };
        // An ApiVersions answer to an unknown version is encoded as v0.
        let response_version = if api == ApiKey::ApiVersions && !is_supported(api, version) {
            0
        } else {
            version
        };
        let future: LocalFuture<BytesMut> = Box::pin(async move {
            let response = answer.response.await;
            encode(api, response_version, correlation_id, &response)
        });
        Handled::Respond(Response {
            future,
            write: answer.write,
            api_key: native_api(api),
            response_budget,
            error_of: |_| 0,
        })
    }
}

/// A request's header and body, or the answer to an unsupported version.
struct Decoded {
    header: RequestHeader,
    api: ApiKey,
    version: i16,
    request: Result<RequestKind, ResponseKind>,
}

/// Decodes the header and body; `None` (after a log line) when the frame
/// cannot be answered.
fn decode(shard: &Shard, body: &mut Bytes) -> Option<Decoded> {
    if body.len() < HEADER_PREFIX_BYTES {
        tracing::warn!(
            core = shard.id,
            bytes = body.len(),
            "Kafka frame shorter than a header"
        );
        return None;
    }
    let raw_api = i16::from_be_bytes([body[0], body[1]]);
    let version = i16::from_be_bytes([body[2], body[3]]);
    let Ok(api) = ApiKey::try_from(raw_api) else {
        tracing::warn!(
            core = shard.id,
            api_key = raw_api,
            "unknown Kafka API key; closing"
        );
        return None;
    };
    let supported = is_supported(api, version);
    // An unknown ApiVersions version still has a header we can read: v2
    // from version 3 on, as the newest known version says.
    let header_version = if api == ApiKey::ApiVersions && !supported {
        api.request_header_version(version.clamp(0, 3))
    } else {
        api.request_header_version(version)
    };
    let header = match RequestHeader::decode(body, header_version) {
        Ok(header) => header,
        Err(e) => {
            tracing::warn!(core = shard.id, ?api, version, error = %e, "malformed Kafka request header; closing");
            return None;
        }
    };
    if !supported {
        if api == ApiKey::ApiVersions {
            let answer =
                ResponseKind::ApiVersions(api_versions(Some(ResponseError::UnsupportedVersion)));
            return Some(Decoded {
                header,
                api,
                version,
                request: Err(answer),
            });
        }
        tracing::warn!(
            core = shard.id,
            ?api,
            version,
            client = header.client_id.as_deref().unwrap_or(""),
            "Kafka API version not served; closing (docs/KAFKA.md lists what is)"
        );
        return None;
    }
    match RequestKind::decode(api, body, version) {
        Ok(request) => Some(Decoded {
            header,
            api,
            version,
            request: Ok(request),
        }),
        Err(e) => {
            tracing::warn!(core = shard.id, ?api, version, error = %e, "malformed Kafka request; closing");
            None
        }
    }
}

/// The request to its handler.
async fn dispatch(
    shard: &Rc<Shard>,
    request: RequestKind,
    version: i16,
    client_id: String,
) -> Answer {
    match request {
        RequestKind::ApiVersions(_) => Answer::now(ResponseKind::ApiVersions(api_versions(None))),
        RequestKind::Metadata(request) => metadata::metadata(shard, request, version).await,
        RequestKind::DescribeCluster(_) => metadata::describe_cluster(shard),
        RequestKind::Produce(request) => produce::produce(shard, request).await,
        RequestKind::InitProducerId(request) => producer_id::init_producer_id(shard, request),
        RequestKind::Fetch(request) => fetch::fetch(shard, request),
        RequestKind::ListOffsets(request) => offsets::list_offsets(shard, request),
        RequestKind::CreateTopics(request) => topics::create_topics(shard, request, version),
        RequestKind::DeleteTopics(request) => topics::delete_topics(shard, request, version),
        RequestKind::DescribeConfigs(request) => topics::describe_configs(shard, request),
        RequestKind::FindCoordinator(request) => groups::find_coordinator(shard, request, version),
        RequestKind::JoinGroup(request) => groups::join_group(shard, request, version, client_id),
        RequestKind::SyncGroup(request) => groups::sync_group(shard, request),
        RequestKind::Heartbeat(request) => groups::heartbeat(shard, request),
        RequestKind::LeaveGroup(request) => groups::leave_group(shard, request, version),
        RequestKind::OffsetCommit(request) => groups::offset_commit(shard, request),
        RequestKind::OffsetFetch(request) => groups::offset_fetch(shard, request, version),
        RequestKind::ListGroups(request) => groups::list_groups(shard, request),
        RequestKind::DescribeGroups(request) => groups::describe_groups(shard, request),
        other => {
            // is_supported let through an API without a handler: a bug in
            // the version table, answered like an unknown API.
            tracing::error!(api = ?std::mem::discriminant(&other), "Kafka API listed but not handled");
            Answer::now(ResponseKind::ApiVersions(api_versions(Some(
                ResponseError::UnsupportedVersion,
            ))))
        }
    }
}

/// The whole response frame: length, header, body.
fn encode(api: ApiKey, version: i16, correlation_id: i32, response: &ResponseKind) -> BytesMut {
    let mut buf = BytesMut::with_capacity(RESPONSE_BUFFER_BYTES_INITIAL);
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let encoded = header
        .encode(&mut buf, api.response_header_version(version))
        .and_then(|()| response.encode(&mut buf, version));
    if let Err(e) = encoded {
        // Every field comes from this broker: a failure is a bug in a
        // handler (a field the version cannot carry). The client gets an
        // empty frame (length 0) rather than half a response; its decoder
        // fails on it and it reconnects.
        tracing::error!(?api, version, error = %e, "encoding a Kafka response failed");
        buf.truncate(LENGTH_BYTES);
    }
    let length = (buf.len() - LENGTH_BYTES) as i32;
    buf[..LENGTH_BYTES].copy_from_slice(&length.to_be_bytes());
    buf
}

/// Reserves room in the core's in-flight budget for a fetch's response
/// before it is served, as the native door does; `None` if the semaphore
/// was closed.
async fn reserve_fetch_response(shard: &Rc<Shard>, max_bytes: i32) -> Option<StaticPermit> {
    let max_bytes = u32::try_from(max_bytes).unwrap_or(0);
    let bytes = shard.config.fetch_response_reserve_bytes(max_bytes);
    shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()
}

/// The native API a Kafka request is counted as in the metrics.
fn native_api(api: ApiKey) -> u16 {
    let native = match api {
        // Counted with produce: it is the first step of an idempotent one.
        ApiKey::Produce | ApiKey::InitProducerId => NativeApi::Produce,
        ApiKey::Fetch => NativeApi::Fetch,
        ApiKey::ListOffsets => NativeApi::ListOffsets,
        ApiKey::Metadata | ApiKey::DescribeCluster => NativeApi::Metadata,
        ApiKey::ApiVersions => NativeApi::ApiVersions,
        ApiKey::CreateTopics => NativeApi::CreateTopic,
        ApiKey::DeleteTopics => NativeApi::DeleteTopic,
        ApiKey::DescribeConfigs => NativeApi::DescribeTopic,
        ApiKey::FindCoordinator => NativeApi::FindCoordinator,
        ApiKey::JoinGroup | ApiKey::SyncGroup => NativeApi::JoinGroup,
        ApiKey::Heartbeat => NativeApi::Heartbeat,
        ApiKey::LeaveGroup => NativeApi::LeaveGroup,
        ApiKey::OffsetCommit => NativeApi::OffsetCommit,
        ApiKey::OffsetFetch => NativeApi::OffsetFetch,
        ApiKey::ListGroups => NativeApi::ListGroups,
        ApiKey::DescribeGroups => NativeApi::DescribeGroup,
        _ => return u16::MAX,
    };
    native as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    #[test]
    fn kafka_lengths_are_big_endian_and_bounded() {
        assert_eq!(KafkaDoor::frame_len(25i32.to_be_bytes(), 100), Ok(29));
        assert_eq!(KafkaDoor::frame_len(101i32.to_be_bytes(), 100), Err(101));
        assert!(KafkaDoor::frame_len((-1i32).to_be_bytes(), 100).is_err());
    }

    #[test]
    fn a_response_frame_carries_its_length_and_correlation_id() {
        let response = ResponseKind::ApiVersions(api_versions(None));
        let frame = encode(ApiKey::ApiVersions, 3, 77, &response);
        let length = i32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(length as usize, frame.len() - 4);
        let mut body = frame.freeze().slice(4..);
        assert_eq!(body.get_i32(), 77);
        // ApiVersions keeps a v0 response header even at v3.
        let decoded = kafka_protocol::messages::ApiVersionsResponse::decode(&mut body, 3).unwrap();
        assert_eq!(decoded.error_code, 0);
        assert!(!decoded.api_keys.is_empty());
    }
}
