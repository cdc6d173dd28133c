//! Fetch: whole record batches from given offsets, with long-poll.
//!
//! Request: `u32 max_wait_ms | u32 min_bytes | u32 max_bytes | array {
//! string topic | array { u32 partition | u64 offset | u32
//! partition_max_bytes } }`.
//! Response: `array { string topic | array { u32 partition | u16 error_code
//! | u64 high_watermark | u64 log_start_offset | bytes records } }`, where
//! `records` is zero or more whole batches back to back, the first holding
//! the requested offset (it may start before it).

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{
    put_topic_array, read_topic_array, DecodeError, WireReader, ARRAY_MIN, BYTES_MIN,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchPartition {
    pub partition: u32,
    pub offset: u64,
    pub max_bytes: u32,
}

impl FetchPartition {
    /// `u32 partition | u64 offset | u32 partition_max_bytes`: a fixed size.
    pub const WIRE_BYTES_MIN: usize = 4 + 8 + 4;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    /// Wait up to this long for `min_bytes` to be there.
    pub max_wait_ms: u32,
    pub min_bytes: u32,
    /// Limit over all partitions (the first batch is always returned).
    pub max_bytes: u32,
    pub topics: Vec<(String, Vec<FetchPartition>)>,
}

impl FetchRequest {
    /// The three limits and no topics.
    pub const WIRE_BYTES_MIN: usize = 3 * 4 + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32_le(self.max_wait_ms);
        buf.put_u32_le(self.min_bytes);
        buf.put_u32_le(self.max_bytes);
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u64_le(p.offset);
            buf.put_u32_le(p.max_bytes);
        });
    }

    /// Where `max_bytes` sits in an encoded request body (after
    /// `max_wait_ms` and `min_bytes`).
    const MAX_BYTES_AT: usize = 8;

    /// The `max_bytes` of an encoded fetch request body, read without
    /// decoding the rest, so a server can reserve room for the response
    /// before it does any work; `None` if the body is too short to hold it.
    pub fn peek_max_bytes(body: &[u8]) -> Option<u32> {
        let field = body.get(Self::MAX_BYTES_AT..Self::MAX_BYTES_AT + 4)?;
        Some(u32::from_le_bytes(field.try_into().ok()?))
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let max_wait_ms = r.u32("max_wait_ms")?;
        let min_bytes = r.u32("min_bytes")?;
        let max_bytes = r.u32("max_bytes")?;
        let topics = read_topic_array(r, FetchPartition::WIRE_BYTES_MIN, |r| {
            Ok(FetchPartition {
                partition: r.u32("partition")?,
                offset: r.u64("offset")?,
                max_bytes: r.u32("partition_max_bytes")?,
            })
        })?;
        Ok(FetchRequest {
            max_wait_ms,
            min_bytes,
            max_bytes,
            topics,
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchPartitionResponse {
    pub partition: u32,
    pub error_code: u16,
    pub high_watermark: u64,
    pub log_start_offset: u64,
    /// The partition's `records` field: whole record batches back to back,
    /// held as one or more chunks that each hold whole batches (the broker
    /// keeps one chunk per batch; a decoded response has one chunk). Walk
    /// the batches with [`crate::batch::Batches`] over each chunk.
    pub records: Vec<Bytes>,
}

impl FetchPartitionResponse {
    /// `u32 partition | u16 error_code | u64 high_watermark | u64
    /// log_start_offset | bytes records` with no records.
    pub const WIRE_BYTES_MIN: usize = 4 + 2 + 8 + 8 + BYTES_MIN;

    pub fn records_bytes(&self) -> usize {
        self.records.iter().map(Bytes::len).sum()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchResponse {
    pub topics: Vec<(String, Vec<FetchPartitionResponse>)>,
}

impl FetchResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u16_le(p.error_code);
            buf.put_u64_le(p.high_watermark);
            buf.put_u64_le(p.log_start_offset);
            buf.put_u32_le(p.records_bytes() as u32);
            for chunk in &p.records {
                buf.put_slice(chunk);
            }
        });
    }

    /// Decodes; each partition's records come back as one chunk (zero
    /// copy) in `records[0]`, to be split with [`crate::batch::Batches`].
    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let topics = read_topic_array(r, FetchPartitionResponse::WIRE_BYTES_MIN, |r| {
            let partition = r.u32("partition")?;
            let error_code = r.u16("error_code")?;
            let high_watermark = r.u64("high_watermark")?;
            let log_start_offset = r.u64("log_start_offset")?;
            let records = r.bytes("records")?;
            Ok(FetchPartitionResponse {
                partition,
                error_code,
                high_watermark,
                log_start_offset,
                records: if records.is_empty() {
                    Vec::new()
                } else {
                    vec![records]
                },
            })
        })?;
        Ok(FetchResponse { topics })
    }
}

#[cfg(test)]
mod peek_tests {
    use super::*;

    #[test]
    fn peek_max_bytes_reads_the_field_the_encoder_wrote() {
        let request = FetchRequest {
            max_wait_ms: 7,
            min_bytes: 9,
            max_bytes: 0x0102_0304,
            topics: vec![("t".into(), Vec::new())],
        };
        let mut buf = BytesMut::new();
        request.encode(&mut buf);
        assert_eq!(FetchRequest::peek_max_bytes(&buf), Some(0x0102_0304));
        assert_eq!(FetchRequest::peek_max_bytes(&buf[..12]), Some(0x0102_0304));
        assert_eq!(FetchRequest::peek_max_bytes(&buf[..11]), None);
        assert_eq!(FetchRequest::peek_max_bytes(&[]), None);
    }
}
