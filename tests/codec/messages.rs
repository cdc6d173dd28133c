//! How the tests build and read whole messages: requests encoded as a
//! client encodes them and decoded as the broker decodes them, responses the
//! other way. Shared by the codec tests (`#[path]`-included) and by the
//! fuzz targets under scripts/fuzz, so there is one copy of this plumbing.

#![allow(dead_code)] // Each includer uses a different part.

use bytes::{Bytes, BytesMut};

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

/// The frame limit these tests check against; the broker's is configured.
pub const FRAME_BYTES_MAX: u32 = 1 << 20;

// ---------------------------------------------------------------------------
// Requests: encode as a client, decode as the broker.

pub fn api_of(request: &Request) -> ApiKey {
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
        Request::InitProducer(_) => ApiKey::InitProducer,
    }
}

pub fn encode_request_body(request: &Request, buf: &mut BytesMut) {
    match request {
        Request::ApiVersions | Request::ListTopics | Request::Stats => {}
        Request::Metadata(body) => body.encode(buf),
        Request::CreateTopic(body) => body.encode(buf),
        Request::DeleteTopic(body) | Request::DescribeTopic(body) => body.encode(buf),
        Request::Produce(body) => body.encode(buf),
        Request::Fetch(body) => body.encode(buf),
        Request::ListOffsets(body) => body.encode(buf),
        Request::Group(body) => body.encode(buf),
        Request::InitProducer(body) => body.encode(buf),
    }
}

/// A whole request frame, built as a client builds one.
pub fn request_frame(correlation_id: u32, request: &Request) -> BytesMut {
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
pub fn raw_request_frame(
    api_key: u16,
    api_version: u16,
    correlation_id: u32,
    body: &[u8],
) -> BytesMut {
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

pub fn request_body(frame: &[u8]) -> &[u8] {
    &frame[LENGTH_BYTES + REQUEST_HEADER_BYTES..]
}

pub type Decoded = (
    usize,
    RequestHeader,
    Result<Request, shardlog::error::WireError>,
);

/// What the broker does with the front of its read buffer: `None` until a
/// whole frame within the limit is there.
pub fn broker_decode(buf: &[u8]) -> Option<Decoded> {
    match frame::check(buf, FRAME_BYTES_MAX, REQUEST_HEADER_BYTES) {
        FrameCheck::Complete { len } => {
            let header = RequestHeader::decode(&buf[..len]).expect("a whole header");
            let request = Request::decode(&header, BytesMut::from(&buf[..len]));
            Some((len, header, request))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Responses: encode as the broker, decode as a client.

/// Every response body; CreateTopic and DeleteTopic answer with an empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
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
    InitProducer(InitProducerResponse),
}

impl Response {
    pub fn api(&self) -> ApiKey {
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
            Response::InitProducer(_) => ApiKey::InitProducer,
        }
    }

    pub fn encode(&self, buf: &mut BytesMut) {
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
            Response::InitProducer(body) => body.encode(buf),
        }
    }

    /// Decodes the body of a response to `api` (without `finish`).
    pub fn decode(api: ApiKey, r: &mut WireReader) -> Result<Response, DecodeError> {
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
            ApiKey::InitProducer => Response::InitProducer(InitProducerResponse::decode(r)?),
        })
    }

    /// What a decoded copy holds: a fetch partition's batches come back as
    /// one buffer of records (split them with `Batches`), none if empty.
    pub fn as_decoded(&self) -> Response {
        let Response::Fetch(fetch) = self else {
            return self.clone();
        };
        let mut fetch = fetch.clone();
        for (_, partitions) in &mut fetch.topics {
            for p in partitions {
                let records: Bytes = p.records.concat().into();
                p.records = if records.is_empty() {
                    Vec::new()
                } else {
                    vec![records]
                };
            }
        }
        Response::Fetch(fetch)
    }
}

pub fn response_frame(correlation_id: u32, response: &Response) -> BytesMut {
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

pub fn response_body(frame: &[u8]) -> &[u8] {
    &frame[LENGTH_BYTES + RESPONSE_HEADER_BYTES..]
}
