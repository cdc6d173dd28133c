//! ListOffsets: a partition's earliest or latest offset, or the first
//! offset at or after a timestamp.
//!
//! Request: `array { string topic | array { u32 partition | i64 spec } }`
//! with `spec` = -2 earliest, -1 latest, ≥ 0 a timestamp in ms.
//! Response: `array { string topic | array { u32 partition | u16
//! error_code | u64 offset } }`. For a timestamp newer than every record,
//! `offset` is the latest offset (where such a record would go).

use bytes::{BufMut, BytesMut};

use super::wire::{put_topic_array, read_topic_array, DecodeError, WireReader, ARRAY_MIN};

pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

/// What offset to look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    Timestamp(i64),
}

impl OffsetSpec {
    pub fn to_wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => EARLIEST,
            OffsetSpec::Latest => LATEST,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }

    pub fn from_wire(v: i64) -> Result<Self, DecodeError> {
        match v {
            EARLIEST => Ok(OffsetSpec::Earliest),
            LATEST => Ok(OffsetSpec::Latest),
            ts if ts >= 0 => Ok(OffsetSpec::Timestamp(ts)),
            other => Err(DecodeError::InvalidValue {
                field: "spec",
                value: other,
            }),
        }
    }
}

/// Bytes of one partition entry of a ListOffsets request: `u32 partition |
/// i64 spec`.
pub const PARTITION_SPEC_BYTES: usize = 4 + 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    pub topics: Vec<(String, Vec<(u32, OffsetSpec)>)>,
}

impl ListOffsetsRequest {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, &(partition, spec)| {
            buf.put_u32_le(partition);
            buf.put_i64_le(spec.to_wire());
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let topics = read_topic_array(r, PARTITION_SPEC_BYTES, |r| {
            let partition = r.u32("partition")?;
            Ok((partition, OffsetSpec::from_wire(r.i64("spec")?)?))
        })?;
        Ok(ListOffsetsRequest { topics })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionOffset {
    pub partition: u32,
    pub error_code: u16,
    pub offset: u64,
}

impl PartitionOffset {
    /// `u32 partition | u16 error_code | u64 offset`: a fixed size.
    pub const WIRE_BYTES_MIN: usize = 4 + 2 + 8;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    pub topics: Vec<(String, Vec<PartitionOffset>)>,
}

impl ListOffsetsResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u16_le(p.error_code);
            buf.put_u64_le(p.offset);
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let topics = read_topic_array(r, PartitionOffset::WIRE_BYTES_MIN, |r| {
            Ok(PartitionOffset {
                partition: r.u32("partition")?,
                error_code: r.u16("error_code")?,
                offset: r.u64("offset")?,
            })
        })?;
        Ok(ListOffsetsResponse { topics })
    }
}
