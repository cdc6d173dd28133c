//! API keys, supported versions, and the request enum the server dispatches
//! on (docs/PROTOCOL.md, "APIs").

use bytes::{Bytes, BytesMut};

use super::fetch::FetchRequest;
use super::frame::{RequestHeader, LENGTH_BYTES, REQUEST_HEADER_BYTES};
use super::groups::GroupRequest;
use super::metadata::MetadataRequest;
use super::offsets::ListOffsetsRequest;
use super::produce::ProduceRequest;
use super::topics::{CreateTopicRequest, DescribeTopicRequest, TopicNameRequest};
use super::wire::{DecodeError, WireReader};
use crate::error::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ApiKey {
    ApiVersions = 0,
    Metadata = 1,
    CreateTopic = 2,
    DeleteTopic = 3,
    ListTopics = 4,
    DescribeTopic = 5,
    Produce = 6,
    Fetch = 7,
    ListOffsets = 8,
    Stats = 9,
    // Consumer groups (protocol/groups.rs).
    FindCoordinator = 10,
    JoinGroup = 11,
    Heartbeat = 12,
    LeaveGroup = 13,
    OffsetCommit = 14,
    OffsetFetch = 15,
    ListGroups = 16,
    DescribeGroup = 17,
}

impl ApiKey {
    pub const ALL: [ApiKey; 18] = [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::CreateTopic,
        ApiKey::DeleteTopic,
        ApiKey::ListTopics,
        ApiKey::DescribeTopic,
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Stats,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ListGroups,
        ApiKey::DescribeGroup,
    ];

    /// The key with this number; numbers may have gaps.
    pub fn from_u16(key: u16) -> Option<ApiKey> {
        Some(match key {
            0 => ApiKey::ApiVersions,
            1 => ApiKey::Metadata,
            2 => ApiKey::CreateTopic,
            3 => ApiKey::DeleteTopic,
            4 => ApiKey::ListTopics,
            5 => ApiKey::DescribeTopic,
            6 => ApiKey::Produce,
            7 => ApiKey::Fetch,
            8 => ApiKey::ListOffsets,
            9 => ApiKey::Stats,
            10 => ApiKey::FindCoordinator,
            11 => ApiKey::JoinGroup,
            12 => ApiKey::Heartbeat,
            13 => ApiKey::LeaveGroup,
            14 => ApiKey::OffsetCommit,
            15 => ApiKey::OffsetFetch,
            16 => ApiKey::ListGroups,
            17 => ApiKey::DescribeGroup,
            _ => return None,
        })
    }

    /// The versions this build speaks: (min, max). ApiVersions has a
    /// version 1 (the broker's limits); every other API is at version 0.
    pub fn versions(self) -> (u16, u16) {
        match self {
            ApiKey::ApiVersions => (0, 1),
            _ => (0, 0),
        }
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
