//! ApiVersions and Metadata bodies: what a client learns before it sends
//! data, including which core owns each partition and that core's port.

use bytes::{BufMut, BytesMut};

use super::api::ApiKey;
use super::wire::{DecodeError, WireReader, WireWrite, STRING_MIN};

/// ApiVersions response: `array { u16 api_key | u16 min | u16 max } |
/// string broker_version`. The request body is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    pub apis: Vec<(u16, u16, u16)>,
    pub broker_version: String,
}

impl ApiVersionsResponse {
    /// What this build supports.
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
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("apis", 6)?;
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
        })
    }
}

/// Metadata request: `array { string topic }`; an empty array asks for
/// every topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataRequest {
    pub topics: Vec<String>,
}

impl MetadataRequest {
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

/// One topic in a Metadata response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    /// `UnknownTopic` for a requested topic that does not exist.
    pub error_code: u16,
    /// For each partition, in order, the core that owns it.
    pub partition_cores: Vec<u16>,
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
        let count = r.array_len("cores", 2 + STRING_MIN + 2)?;
        let mut cores = Vec::with_capacity(count);
        for _ in 0..count {
            cores.push(CoreAddress {
                core: r.u16("core")?,
                host: r.string("host")?,
                port: r.u16("port")?,
            });
        }
        let count = r.array_len("topics", STRING_MIN + 2 + 4)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.string("name")?;
            let error_code = r.u16("error_code")?;
            let partitions = r.array_len("partitions", 2)?;
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
