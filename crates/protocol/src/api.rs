//! The request enum the server dispatches on, and its decoding from an
//! API key, a version and a body (docs/PROTOCOL.md, "APIs"). The keys
//! themselves live in the leaf module [`crate::api_key`].

use bytes::{Bytes, BytesMut};

pub use crate::api_key::ApiKey;

use super::fetch::FetchRequest;
use super::frame::{RequestHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES};
use super::groups::GroupRequest;
use super::metadata::MetadataRequest;
use super::offsets::ListOffsetsRequest;
use super::produce::ProduceRequest;
use super::topics::{CreateTopicRequest, DescribeTopicRequest, TopicNameRequest};
use super::wire::{DecodeError, WireReader};
use crate::error::ErrorCode;

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

    /// Decodes a complete request frame (prefix included). On failure, the
    /// error code and message to answer with; the frame boundary is intact,
    /// so the connection stays usable.
    pub fn decode(
        header: &RequestHeader,
        mut frame: BytesMut,
    ) -> Result<Request, (ErrorCode, String)> {
        let Some(api) = ApiKey::from_u16(header.api_key) else {
            return Err((
                ErrorCode::UnknownApiKey,
                format!("unknown API key {}", header.api_key),
            ));
        };
        let (min, max) = api.versions();
        if !(min..=max).contains(&header.api_version) {
            return Err((
                ErrorCode::UnsupportedVersion,
                format!(
                    "{api:?} supports versions {min}..={max}, not {}",
                    header.api_version
                ),
            ));
        }
        let _ = frame.split_to(LENGTH_BYTES + REQUEST_HEADER_BYTES);
        let malformed = |e: DecodeError| (ErrorCode::MalformedRequest, format!("{api:?}: {e}"));
        if api == ApiKey::Produce {
            return ProduceRequest::decode(frame)
                .map(Request::Produce)
                .map_err(malformed);
        }
        let mut r = WireReader::new(Bytes::from(frame));
        if let Some(group) = GroupRequest::decode(api, &mut r) {
            let request = Request::Group(group.map_err(malformed)?);
            r.finish().map_err(malformed)?;
            return Ok(request);
        }
        let request = match api {
            ApiKey::ApiVersions => Request::ApiVersions,
            ApiKey::Metadata => {
                Request::Metadata(MetadataRequest::decode(&mut r).map_err(malformed)?)
            }
            ApiKey::CreateTopic => {
                Request::CreateTopic(CreateTopicRequest::decode(&mut r).map_err(malformed)?)
            }
            ApiKey::DeleteTopic => {
                Request::DeleteTopic(TopicNameRequest::decode(&mut r).map_err(malformed)?)
            }
            ApiKey::ListTopics => Request::ListTopics,
            ApiKey::DescribeTopic => {
                Request::DescribeTopic(DescribeTopicRequest::decode(&mut r).map_err(malformed)?)
            }
            ApiKey::Fetch => Request::Fetch(FetchRequest::decode(&mut r).map_err(malformed)?),
            ApiKey::ListOffsets => {
                Request::ListOffsets(ListOffsetsRequest::decode(&mut r).map_err(malformed)?)
            }
            ApiKey::Stats => Request::Stats,
            ApiKey::Produce => unreachable!("decoded above"),
            ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::ListGroups
            | ApiKey::DescribeGroup => unreachable!("group APIs decoded above"),
        };
        r.finish().map_err(malformed)?;
        Ok(request)
    }
}
