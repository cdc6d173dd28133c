//! The request enum the server dispatches on, and its decoding from an
//! API key, a version and a body (docs/PROTOCOL.md, "APIs"). The keys
//! themselves live in the leaf module [`crate::api_key`].

use bytes::{Bytes, BytesMut};

pub use crate::api_key::ApiKey;

use super::fetch::{FetchRequest, FetchResponse};
use super::frame::{RequestHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES};
use super::groups::{
    DescribeGroupResponse, GroupNameRequest, GroupRequest, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use super::metadata::{ApiVersionsResponse, CoreAddress, MetadataRequest, MetadataResponse};
use super::offsets::{ListOffsetsRequest, ListOffsetsResponse};
use super::produce::{ProduceRequest, ProduceResponse};
use super::producer::{InitProducerRequest, InitProducerResponse};
use super::stats::StatsResponse;
use super::topics::{
    CreateTopicRequest, DescribeTopicRequest, DescribeTopicResponse, ListTopicsResponse,
    TopicNameRequest,
};
use super::wire::{DecodeError, WireReader};
use crate::error::{ErrorCode, WireError};

/// Bytes of the smallest request body of `api` (every array and string
/// empty), at every version: the body may not be shorter. An empty body
/// is 0.
pub const fn request_body_bytes_min(api: ApiKey) -> usize {
    match api {
        ApiKey::ApiVersions | ApiKey::ListTopics | ApiKey::Stats | ApiKey::ListGroups => 0,
        ApiKey::Metadata => MetadataRequest::WIRE_BYTES_MIN,
        ApiKey::CreateTopic => CreateTopicRequest::WIRE_BYTES_MIN,
        ApiKey::DeleteTopic | ApiKey::DescribeTopic => TopicNameRequest::WIRE_BYTES_MIN,
        ApiKey::Produce => ProduceRequest::WIRE_BYTES_MIN,
        ApiKey::Fetch => FetchRequest::WIRE_BYTES_MIN,
        ApiKey::ListOffsets => ListOffsetsRequest::WIRE_BYTES_MIN,
        ApiKey::FindCoordinator | ApiKey::DescribeGroup => GroupNameRequest::WIRE_BYTES_MIN,
        ApiKey::JoinGroup => JoinGroupRequest::WIRE_BYTES_MIN,
        ApiKey::Heartbeat => HeartbeatRequest::WIRE_BYTES_MIN,
        ApiKey::LeaveGroup => LeaveGroupRequest::WIRE_BYTES_MIN,
        ApiKey::OffsetCommit => OffsetCommitRequest::WIRE_BYTES_MIN,
        ApiKey::OffsetFetch => OffsetFetchRequest::WIRE_BYTES_MIN,
        ApiKey::InitProducer => InitProducerRequest::WIRE_BYTES_MIN,
    }
}

/// Bytes of the smallest successful response body of `api` at `version`
/// (every array and string empty). An empty body is 0. An error response
/// has a body of its own ([`crate::frame::ERROR_BODY_BYTES_MIN`]).
pub const fn response_body_bytes_min(api: ApiKey, version: u16) -> usize {
    match api {
        ApiKey::ApiVersions if version >= 1 => ApiVersionsResponse::WIRE_BYTES_MIN_V1,
        ApiKey::ApiVersions => ApiVersionsResponse::WIRE_BYTES_MIN,
        ApiKey::Metadata => MetadataResponse::WIRE_BYTES_MIN,
        ApiKey::CreateTopic | ApiKey::DeleteTopic | ApiKey::Heartbeat | ApiKey::LeaveGroup => 0,
        ApiKey::ListTopics => ListTopicsResponse::WIRE_BYTES_MIN,
        ApiKey::DescribeTopic => DescribeTopicResponse::WIRE_BYTES_MIN,
        ApiKey::Produce => ProduceResponse::WIRE_BYTES_MIN,
        ApiKey::Fetch => FetchResponse::WIRE_BYTES_MIN,
        ApiKey::ListOffsets => ListOffsetsResponse::WIRE_BYTES_MIN,
        ApiKey::Stats => StatsResponse::WIRE_BYTES_MIN,
        ApiKey::FindCoordinator => CoreAddress::WIRE_BYTES_MIN,
        ApiKey::JoinGroup => JoinGroupResponse::WIRE_BYTES_MIN,
        ApiKey::OffsetCommit => OffsetCommitResponse::WIRE_BYTES_MIN,
        ApiKey::OffsetFetch => OffsetFetchResponse::WIRE_BYTES_MIN,
        ApiKey::ListGroups => ListGroupsResponse::WIRE_BYTES_MIN,
        ApiKey::DescribeGroup => DescribeGroupResponse::WIRE_BYTES_MIN,
        ApiKey::InitProducer => InitProducerResponse::WIRE_BYTES_MIN,
    }
}

/// A decoded request.
#[derive(Debug)]
pub enum Request {
    ApiVersions,
    Metadata(MetadataRequest),
    CreateTopic(CreateTopicRequest),
    DeleteTopic(TopicNameRequest),
    ListTopics,
    DescribeTopic(DescribeTopicRequest),
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
    Stats,
    /// Keys 10 to 17: consumer groups.
    Group(GroupRequest),
    InitProducer(InitProducerRequest),
}

impl Request {
    /// Partition entries the request names, over all its topics.
    pub fn partition_count(&self) -> usize {
        match self {
            Request::Produce(r) => r.topics.iter().map(|t| t.partitions.len()).sum(),
            Request::Fetch(r) => r.topics.iter().map(|(_, ps)| ps.len()).sum(),
            Request::ListOffsets(r) => r.topics.iter().map(|(_, ps)| ps.len()).sum(),
            Request::Metadata(r) => r.topics.len(),
            Request::Group(r) => r.partition_count(),
            _ => 0,
        }
    }

    /// Decodes a complete request frame (prefix included) whose header is
    /// `header`. On failure, the error to answer with (code and message); the
    /// frame boundary is intact, so the connection stays usable. Checks in
    /// the documented order: the key, the version, then the body.
    pub fn decode(header: &RequestHeader, mut frame: BytesMut) -> Result<Request, WireError> {
        let api = Self::check_key_and_version(header.api_key, header.api_version)?;
        if frame.len() < LENGTH_BYTES + REQUEST_HEADER_BYTES {
            return Err(WireError::new(
                ErrorCode::MalformedRequest,
                format!(
                    "{api:?}: frame of {} bytes is shorter than a request header",
                    frame.len()
                ),
            ));
        }
        // The header's half is dropped here, so the body owns its memory
        // alone and Produce can cut batches out of it without a copy.
        drop(frame.split_to(LENGTH_BYTES + REQUEST_HEADER_BYTES));
        Self::decode_body(api, frame)
            .map_err(|e| WireError::new(ErrorCode::MalformedRequest, format!("{api:?}: {e}")))
    }

    /// The key, if this build knows it and speaks it at `api_version`:
    /// `UnknownApiKey`, then `UnsupportedVersion`, whatever the body.
    pub fn check_key_and_version(api_key: u16, api_version: u16) -> Result<ApiKey, WireError> {
        let Some(api) = ApiKey::from_u16(api_key) else {
            return Err(WireError::new(
                ErrorCode::UnknownApiKey,
                format!("unknown API key {api_key}"),
            ));
        };
        let (min, max) = api.versions();
        if !(min..=max).contains(&api_version) {
            return Err(WireError::new(
                ErrorCode::UnsupportedVersion,
                format!("{api:?} supports versions {min}..={max}, not {api_version}"),
            ));
        }
        Ok(api)
    }

    /// Decodes the request body of `api`, which must be exactly one
    /// message: no bytes may be left over. Every version of an API has the
    /// same request body (only ApiVersions has two versions, and its
    /// request is empty at both), so the version was checked by
    /// [`Request::check_key_and_version`] and plays no part here.
    ///
    /// One arm per key, no wildcard: a new key does not compile until its
    /// body is decoded here.
    pub fn decode_body(api: ApiKey, body: BytesMut) -> Result<Request, DecodeError> {
        use GroupRequest as G;
        let whole = WholeBody(body);
        Ok(match api {
            ApiKey::ApiVersions => whole.empty(Request::ApiVersions)?,
            ApiKey::Metadata => Request::Metadata(whole.read(MetadataRequest::decode)?),
            ApiKey::CreateTopic => Request::CreateTopic(whole.read(CreateTopicRequest::decode)?),
            ApiKey::DeleteTopic => Request::DeleteTopic(whole.read(TopicNameRequest::decode)?),
            ApiKey::ListTopics => whole.empty(Request::ListTopics)?,
            ApiKey::DescribeTopic => {
                Request::DescribeTopic(whole.read(DescribeTopicRequest::decode)?)
            }
            // Produce cuts its batches out of the owned buffer (they are
            // stamped in place) and checks for trailing bytes itself.
            ApiKey::Produce => Request::Produce(ProduceRequest::decode(whole.0)?),
            ApiKey::Fetch => Request::Fetch(whole.read(FetchRequest::decode)?),
            ApiKey::ListOffsets => Request::ListOffsets(whole.read(ListOffsetsRequest::decode)?),
            ApiKey::Stats => whole.empty(Request::Stats)?,
            ApiKey::FindCoordinator => {
                Request::Group(G::FindCoordinator(whole.read(GroupNameRequest::decode)?))
            }
            ApiKey::JoinGroup => Request::Group(G::Join(whole.read(JoinGroupRequest::decode)?)),
            ApiKey::Heartbeat => {
                Request::Group(G::Heartbeat(whole.read(HeartbeatRequest::decode)?))
            }
            ApiKey::LeaveGroup => Request::Group(G::Leave(whole.read(LeaveGroupRequest::decode)?)),
            ApiKey::OffsetCommit => {
                Request::Group(G::OffsetCommit(whole.read(OffsetCommitRequest::decode)?))
            }
            ApiKey::OffsetFetch => {
                Request::Group(G::OffsetFetch(whole.read(OffsetFetchRequest::decode)?))
            }
            ApiKey::ListGroups => whole.empty(Request::Group(G::ListGroups))?,
            ApiKey::DescribeGroup => {
                Request::Group(G::DescribeGroup(whole.read(GroupNameRequest::decode)?))
            }
            ApiKey::InitProducer => Request::InitProducer(whole.read(InitProducerRequest::decode)?),
        })
    }
}

/// A request body that must be consumed whole.
struct WholeBody(BytesMut);

impl WholeBody {
    /// Decodes the body with `decode`, refusing bytes left over after it.
    fn read<T>(
        self,
        decode: impl FnOnce(&mut WireReader) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut r = WireReader::new(Bytes::from(self.0));
        let value = decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }

    /// An empty body: `request` if there are no bytes, else `TrailingBytes`.
    fn empty(self, request: Request) -> Result<Request, DecodeError> {
        self.read(|_| Ok(request))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;
    use crate::wire::WireWrite;

    fn frame(api_key: u16, api_version: u16, body: &[u8]) -> (RequestHeader, BytesMut) {
        let header = RequestHeader {
            api_key,
            api_version,
            correlation_id: 7,
        };
        let mut buf = BytesMut::new();
        let start = header.begin(&mut buf);
        buf.put_slice(body);
        crate::frame::finish_frame(&mut buf, start);
        (header, buf)
    }

    /// A frame shorter than the header it was given is refused, not sliced.
    #[test]
    fn a_frame_shorter_than_its_header_is_malformed() {
        let (header, whole) = frame(ApiKey::Stats as u16, 0, &[]);
        for cut in 0..whole.len() {
            let WireError { code, message } =
                Request::decode(&header, BytesMut::from(&whole[..cut])).unwrap_err();
            assert_eq!(code, ErrorCode::MalformedRequest, "cut at {cut}: {message}");
        }
        assert!(matches!(
            Request::decode(&header, whole),
            Ok(Request::Stats)
        ));
    }

    /// The key, then the version, then the body: a bad key or version is
    /// reported whatever the body (docs/PROTOCOL.md, "Order of checks").
    #[test]
    fn key_then_version_then_body() {
        let junk = [0xff; 3];
        let (header, f) = frame(ApiKey::ALL.len() as u16, 9, &junk);
        assert_eq!(
            Request::decode(&header, f).unwrap_err().code,
            ErrorCode::UnknownApiKey
        );
        let (header, f) = frame(ApiKey::Metadata as u16, 1, &junk);
        assert_eq!(
            Request::decode(&header, f).unwrap_err().code,
            ErrorCode::UnsupportedVersion
        );
        let (header, f) = frame(ApiKey::Metadata as u16, 0, &junk);
        assert_eq!(
            Request::decode(&header, f).unwrap_err().code,
            ErrorCode::MalformedRequest
        );
    }

    /// Produce batches are cut out of the frame's own memory: decoding
    /// copies no record bytes (the broker stamps them in place).
    #[test]
    fn produce_batches_share_the_frame_memory() {
        let mut body = BytesMut::new();
        body.put_u8(2);
        body.put_array_len(1);
        body.put_string("t");
        body.put_array_len(1);
        body.put_u32_le(0);
        body.put_bytes_field(&[0xab; 64]);
        let (header, f) = frame(ApiKey::Produce as u16, 0, &body);
        let memory = f.as_ptr_range();
        let Ok(Request::Produce(produce)) = Request::decode(&header, f) else {
            panic!("a valid produce request");
        };
        let batch = &produce.topics[0].partitions[0].batch;
        assert_eq!(&batch[..], &[0xab; 64]);
        assert!(memory.contains(&batch.as_ptr()), "the batch was copied");
    }
}
