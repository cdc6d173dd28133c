//! Produce: record batches for one or more partitions, and the base offset
//! each got.
//!
//! Request: `u8 acks | array { string topic | array { u32 partition |
//! bytes batch } }`, one record batch (docs/STORAGE.md) per entry.
//! Response: `array { string topic | array { u32 partition | u16 error_code
//! | u64 base_offset } }`, in the request's order.

use bytes::{Buf, BufMut, BytesMut};

use super::wire::{
    put_topic_array, read_topic_array, DecodeError, WireReader, WireWrite, ARRAY_MIN, BYTES_MIN,
    STRING_MIN,
};

/// When the broker answers a produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Acks {
    /// As soon as the batches are validated and queued; offsets unknown.
    None = 0,
    /// Once written to the segment file, before fsync.
    Written = 1,
    /// Once durable (fsync returned). The default.
    Durable = 2,
}

impl Acks {
    pub fn from_u8(v: u8) -> Option<Acks> {
        match v {
            0 => Some(Acks::None),
            1 => Some(Acks::Written),
            2 => Some(Acks::Durable),
            _ => None,
        }
    }
}

/// `base_offset` in a response whose append was not waited for (`acks`
/// none) or failed.
pub const NO_OFFSET: u64 = u64::MAX;

#[derive(Debug)]
pub struct ProducePartition {
    pub partition: u32,
    /// One encoded batch, its own buffer so the broker can stamp it in place.
    pub batch: BytesMut,
}

impl ProducePartition {
    /// `u32 partition | bytes batch` with an empty batch (which the broker
    /// then refuses as corrupt, but which decodes).
    pub const WIRE_BYTES_MIN: usize = 4 + BYTES_MIN;
}

#[derive(Debug)]
pub struct ProduceTopic {
    pub name: String,
    pub partitions: Vec<ProducePartition>,
}

impl ProduceTopic {
    /// An empty name and no partitions.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + ARRAY_MIN;
}

#[derive(Debug)]
pub struct ProduceRequest {
    pub acks: Acks,
    pub topics: Vec<ProduceTopic>,
}

impl ProduceRequest {
    /// `u8 acks` and no topics.
    pub const WIRE_BYTES_MIN: usize = 1 + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(self.acks as u8);
        buf.put_array_len(self.topics.len());
        for topic in &self.topics {
            buf.put_string(&topic.name);
            buf.put_array_len(topic.partitions.len());
            for p in &topic.partitions {
                buf.put_u32_le(p.partition);
                buf.put_bytes_field(&p.batch);
            }
        }
    }

    /// Decodes a body, splitting `body` into one buffer per batch (no copy).
    pub fn decode(body: BytesMut) -> Result<ProduceRequest, DecodeError> {
        // First pass over a shared view finds every field and batch range;
        // then the owned buffer is cut at those ranges.
        let view = body.freeze();
        let mut r = WireReader::new(view.clone());
        let acks_raw = r.u8("acks")?;
        let acks = Acks::from_u8(acks_raw).ok_or(DecodeError::InvalidValue {
            field: "acks",
            value: i64::from(acks_raw),
        })?;
        let topic_count = r.array_len("topics", ProduceTopic::WIRE_BYTES_MIN)?;
        let mut layout = Vec::with_capacity(topic_count);
        for _ in 0..topic_count {
            let name = r.string("topic")?;
            let count = r.array_len("partitions", ProducePartition::WIRE_BYTES_MIN)?;
            let mut partitions = Vec::with_capacity(count);
            for _ in 0..count {
                let partition = r.u32("partition")?;
                partitions.push((partition, r.bytes_range("batch")?));
            }
            layout.push((name, partitions));
        }
        r.finish()?;
        drop(r);
        // The only other owner of the buffer was the reader: this succeeds
        // without copying.
        let mut owned = view
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut consumed = 0;
        let mut topics = Vec::with_capacity(layout.len());
        for (name, partitions) in layout {
            let mut decoded = Vec::with_capacity(partitions.len());
            for (partition, (start, end)) in partitions {
                owned.advance(start - consumed);
                let batch = owned.split_to(end - start);
                consumed = end;
                decoded.push(ProducePartition { partition, batch });
            }
            topics.push(ProduceTopic {
                name,
                partitions: decoded,
            });
        }
        Ok(ProduceRequest { acks, topics })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    pub partition: u32,
    pub error_code: u16,
    pub base_offset: u64,
}

impl ProducePartitionResponse {
    /// `u32 partition | u16 error_code | u64 base_offset`: a fixed size.
    pub const WIRE_BYTES_MIN: usize = 4 + 2 + 8;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProduceResponse {
    pub topics: Vec<(String, Vec<ProducePartitionResponse>)>,
}

impl ProduceResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u16_le(p.error_code);
            buf.put_u64_le(p.base_offset);
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let topics = read_topic_array(r, ProducePartitionResponse::WIRE_BYTES_MIN, |r| {
            Ok(ProducePartitionResponse {
                partition: r.u32("partition")?,
                error_code: r.u16("error_code")?,
                base_offset: r.u64("base_offset")?,
            })
        })?;
        Ok(ProduceResponse { topics })
    }
}
