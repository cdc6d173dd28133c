//! CreateTopic, DeleteTopic, ListTopics and DescribeTopic bodies.

use bytes::{BufMut, BytesMut};

use super::wire::{DecodeError, WireReader, WireWrite, ARRAY_MIN, STRING_MIN};

/// `-1` on the wire: the setting is absent (no limit, or the default).
pub const UNSET: i64 = -1;

/// A topic's settings as the protocol carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSettings {
    pub partitions: u32,
    /// `None`: keep records regardless of age.
    pub retention_ms: Option<u64>,
    /// `None`: keep records regardless of size.
    pub retention_bytes: Option<u64>,
    /// `None`: the broker's default segment size.
    pub segment_bytes: Option<u64>,
}

fn optional(value: i64, field: &'static str) -> Result<Option<u64>, DecodeError> {
    match value {
        UNSET => Ok(None),
        v if v >= 0 => Ok(Some(v as u64)),
        v => Err(DecodeError::InvalidValue { field, value: v }),
    }
}

fn put_optional(buf: &mut BytesMut, value: Option<u64>) {
    buf.put_i64_le(value.map_or(UNSET, |v| v.min(i64::MAX as u64) as i64));
}

impl TopicSettings {
    /// `u32 partitions | i64 retention_ms | i64 retention_bytes | i64
    /// segment_bytes`: a fixed size.
    pub const WIRE_BYTES_MIN: usize = 4 + 3 * 8;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32_le(self.partitions);
        put_optional(buf, self.retention_ms);
        put_optional(buf, self.retention_bytes);
        put_optional(buf, self.segment_bytes);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(TopicSettings {
            partitions: r.u32("partitions")?,
            retention_ms: optional(r.i64("retention_ms")?, "retention_ms")?,
            retention_bytes: optional(r.i64("retention_bytes")?, "retention_bytes")?,
            segment_bytes: optional(r.i64("segment_bytes")?, "segment_bytes")?,
        })
    }
}

/// CreateTopic request: `string name | u32 partitions | i64 retention_ms |
/// i64 retention_bytes | i64 segment_bytes`. The response body is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicRequest {
    pub name: String,
    pub settings: TopicSettings,
}

impl CreateTopicRequest {
    /// An empty name and the settings.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + TopicSettings::WIRE_BYTES_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.name);
        self.settings.encode(buf);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(CreateTopicRequest {
            name: r.string("name")?,
            settings: TopicSettings::decode(r)?,
        })
    }
}

/// A request that names one topic (DeleteTopic): `string name`. The
/// response body is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicNameRequest {
    pub name: String,
}

impl TopicNameRequest {
    /// An empty name.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.name);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(TopicNameRequest {
            name: r.string("name")?,
        })
    }
}

/// DescribeTopic request: `string name`.
pub type DescribeTopicRequest = TopicNameRequest;

/// ListTopics response: `array { string name | u32 partitions }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListTopicsResponse {
    pub topics: Vec<(String, u32)>,
}

/// Smallest `topics` entry of a ListTopics response: an empty name and
/// `u32 partitions`.
pub const LISTED_TOPIC_BYTES_MIN: usize = STRING_MIN + 4;

impl ListTopicsResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.topics.len());
        for (name, partitions) in &self.topics {
            buf.put_string(name);
            buf.put_u32_le(*partitions);
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("topics", LISTED_TOPIC_BYTES_MIN)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            topics.push((r.string("name")?, r.u32("partitions")?));
        }
        Ok(ListTopicsResponse { topics })
    }
}

/// One partition in a DescribeTopic response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDescription {
    pub partition: u32,
    pub core: u16,
    pub error_code: u16,
    pub earliest_offset: u64,
    pub latest_offset: u64,
    pub size_bytes: u64,
}

impl PartitionDescription {
    /// `u32 partition | u16 core | u16 error_code | u64 earliest | u64
    /// latest | u64 size_bytes`: a fixed size.
    pub const WIRE_BYTES_MIN: usize = 4 + 2 + 2 + 8 + 8 + 8;
}

/// DescribeTopic response: `string name | settings (as in CreateTopic) |
/// array { u32 partition | u16 core | u16 error_code | u64 earliest |
/// u64 latest | u64 size_bytes }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeTopicResponse {
    pub name: String,
    pub settings: TopicSettings,
    pub partitions: Vec<PartitionDescription>,
}

impl DescribeTopicResponse {
    /// An empty name, the settings, no partitions.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + TopicSettings::WIRE_BYTES_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.name);
        self.settings.encode(buf);
        buf.put_array_len(self.partitions.len());
        for p in &self.partitions {
            buf.put_u32_le(p.partition);
            buf.put_u16_le(p.core);
            buf.put_u16_le(p.error_code);
            buf.put_u64_le(p.earliest_offset);
            buf.put_u64_le(p.latest_offset);
            buf.put_u64_le(p.size_bytes);
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let name = r.string("name")?;
        let settings = TopicSettings::decode(r)?;
        let count = r.array_len("partitions", PartitionDescription::WIRE_BYTES_MIN)?;
        let mut partitions = Vec::with_capacity(count);
        for _ in 0..count {
            partitions.push(PartitionDescription {
                partition: r.u32("partition")?,
                core: r.u16("core")?,
                error_code: r.u16("error_code")?,
                earliest_offset: r.u64("earliest_offset")?,
                latest_offset: r.u64("latest_offset")?,
                size_bytes: r.u64("size_bytes")?,
            });
        }
        Ok(DescribeTopicResponse {
            name,
            settings,
            partitions,
        })
    }
}
