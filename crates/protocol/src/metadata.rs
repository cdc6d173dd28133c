//! ApiVersions and Metadata bodies: what a client learns before it sends
//! data, including which core owns each partition and that core's port.

use bytes::{BufMut, BytesMut};

use super::api_key::ApiKey;
use super::wire::{DecodeError, WireReader, WireWrite, ARRAY_MIN, STRING_MIN};

/// The broker's limits a client must respect, as ApiVersions version 1
/// lists them after the version 0 body: `u32 frame_bytes_max | u32
/// batch_bytes_max | u32 partitions_max | u32 request_partitions_max |
/// u32 fetch_bytes_max | u32 fetch_wait_ms_max | u64 segment_bytes_default`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerLimits {
    /// Largest request `length` (after the 4-byte prefix).
    pub frame_bytes_max: u32,
    /// Largest record batch a topic accepts.
    pub batch_bytes_max: u32,
    /// Most partitions one topic may have.
    pub partitions_max: u32,
    /// Most partition entries one request may name, over all its topics.
    pub request_partitions_max: u32,
    /// A fetch's `max_bytes` is capped at this.
    pub fetch_bytes_max: u32,
    /// A fetch's `max_wait_ms` is capped at this.
    pub fetch_wait_ms_max: u32,
    /// The segment size of a topic created with `segment_bytes` -1.
    pub segment_bytes_default: u64,
}

/// Bytes of [`BrokerLimits`] on the wire.
pub const BROKER_LIMITS_BYTES: usize = 6 * 4 + 8;

impl BrokerLimits {
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32_le(self.frame_bytes_max);
        buf.put_u32_le(self.batch_bytes_max);
        buf.put_u32_le(self.partitions_max);
        buf.put_u32_le(self.request_partitions_max);
        buf.put_u32_le(self.fetch_bytes_max);
        buf.put_u32_le(self.fetch_wait_ms_max);
        buf.put_u64_le(self.segment_bytes_default);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(BrokerLimits {
            frame_bytes_max: r.u32("frame_bytes_max")?,
            batch_bytes_max: r.u32("batch_bytes_max")?,
            partitions_max: r.u32("partitions_max")?,
            request_partitions_max: r.u32("request_partitions_max")?,
            fetch_bytes_max: r.u32("fetch_bytes_max")?,
            fetch_wait_ms_max: r.u32("fetch_wait_ms_max")?,
            segment_bytes_default: r.u64("segment_bytes_default")?,
        })
    }
}

/// Bytes of one `apis` entry of an ApiVersions response: `u16 api_key |
/// u16 min_version | u16 max_version`.
pub const API_VERSIONS_ENTRY_BYTES: usize = 3 * 2;

/// ApiVersions response: `array { u16 api_key | u16 min | u16 max } |
/// string broker_version`, and at version 1 the broker's [`BrokerLimits`]
/// after it. The request body is empty at every version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    pub apis: Vec<(u16, u16, u16)>,
    pub broker_version: String,
    /// `Some` in a version 1 body, `None` in a version 0 body.
    pub limits: Option<BrokerLimits>,
}

impl ApiVersionsResponse {
    /// Smallest version 0 body: no APIs, an empty broker version.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN + STRING_MIN;
    /// Smallest version 1 body: version 0's, then the limits.
    pub const WIRE_BYTES_MIN_V1: usize = Self::WIRE_BYTES_MIN + BROKER_LIMITS_BYTES;

    /// What this build supports, as a version 0 body (no limits).
    pub fn current() -> Self {
        ApiVersionsResponse {
            apis: ApiKey::ALL
                .iter()
                .map(|&api| {
                    let (min, max) = api.versions();
                    (api as u16, min, max)
                })
                .collect(),
            broker_version: env!("CARGO_PKG_VERSION").to_string(),
            limits: None,
        }
    }

    /// The body at `version`: version 1 adds `limits`.
    pub fn at_version(version: u16, limits: BrokerLimits) -> Self {
        ApiVersionsResponse {
            limits: (version >= 1).then_some(limits),
            ..ApiVersionsResponse::current()
        }
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.apis.len());
        for &(key, min, max) in &self.apis {
            buf.put_u16_le(key);
            buf.put_u16_le(min);
            buf.put_u16_le(max);
        }
        buf.put_string(&self.broker_version);
        if let Some(limits) = &self.limits {
            limits.encode(buf);
        }
    }

    /// Decodes a version 0 body.
    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("apis", API_VERSIONS_ENTRY_BYTES)?;
        let mut apis = Vec::with_capacity(count);
        for _ in 0..count {
            apis.push((
                r.u16("api_key")?,
                r.u16("min_version")?,
                r.u16("max_version")?,
            ));
        }
        Ok(ApiVersionsResponse {
            apis,
            broker_version: r.string("broker_version")?,
            limits: None,
        })
    }

    /// Decodes a version 1 body: version 0's, then the limits.
    pub fn decode_v1(r: &mut WireReader) -> Result<Self, DecodeError> {
        let mut response = Self::decode(r)?;
        response.limits = Some(BrokerLimits::decode(r)?);
        Ok(response)
    }
}

/// Metadata request: `array { string topic }`; an empty array asks for
/// every topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataRequest {
    pub topics: Vec<String>,
}

impl MetadataRequest {
    /// An empty topic list.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.topics.len());
        for topic in &self.topics {
            buf.put_string(topic);
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("topics", STRING_MIN)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            topics.push(r.string("topic")?);
        }
        Ok(MetadataRequest { topics })
    }
}

/// A core's own listener, which serves its partitions without a hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreAddress {
    pub core: u16,
    pub host: String,
    pub port: u16,
}

impl CoreAddress {
    /// `u16 core | string host | u16 port` with an empty host (also the
    /// smallest FindCoordinator response).
    pub const WIRE_BYTES_MIN: usize = 2 + STRING_MIN + 2;
}

/// One topic in a Metadata response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    /// `UnknownTopic` for a requested topic that does not exist.
    pub error_code: u16,
    /// For each partition, in order, the core that owns it.
    pub partition_cores: Vec<u16>,
}

/// Bytes of one `partition_cores` entry: a `u16` core.
pub const PARTITION_CORE_BYTES: usize = 2;

impl TopicMetadata {
    /// `string name | u16 error_code | array { u16 core }`, both empty.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + 2 + ARRAY_MIN;
}

/// Metadata response: `array { u16 core | string host | u16 port } |
/// array { string name | u16 error_code | array { u16 core } }` (the inner
/// array gives each partition's owner core, partition 0 first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataResponse {
    pub cores: Vec<CoreAddress>,
    pub topics: Vec<TopicMetadata>,
}

impl MetadataResponse {
    /// No cores, no topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.cores.len());
        for core in &self.cores {
            buf.put_u16_le(core.core);
            buf.put_string(&core.host);
            buf.put_u16_le(core.port);
        }
        buf.put_array_len(self.topics.len());
        for topic in &self.topics {
            buf.put_string(&topic.name);
            buf.put_u16_le(topic.error_code);
            buf.put_array_len(topic.partition_cores.len());
            for &core in &topic.partition_cores {
                buf.put_u16_le(core);
            }
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("cores", CoreAddress::WIRE_BYTES_MIN)?;
        let mut cores = Vec::with_capacity(count);
        for _ in 0..count {
            cores.push(CoreAddress {
                core: r.u16("core")?,
                host: r.string("host")?,
                port: r.u16("port")?,
            });
        }
        let count = r.array_len("topics", TopicMetadata::WIRE_BYTES_MIN)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.string("name")?;
            let error_code = r.u16("error_code")?;
            let partitions = r.array_len("partitions", PARTITION_CORE_BYTES)?;
            let mut partition_cores = Vec::with_capacity(partitions);
            for _ in 0..partitions {
                partition_cores.push(r.u16("core")?);
            }
            topics.push(TopicMetadata {
                name,
                error_code,
                partition_cores,
            });
        }
        Ok(MetadataResponse { cores, topics })
    }
}
