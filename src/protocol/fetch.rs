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

use super::wire::{DecodeError, WireReader, WireWrite, BYTES_MIN, STRING_MIN};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPartition {
    pub partition: u32,
    pub offset: u64,
    pub max_bytes: u32,
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

const FETCH_PARTITION_BYTES: usize = 4 + 8 + 4;

impl FetchRequest {
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32_le(self.max_wait_ms);
        buf.put_u32_le(self.min_bytes);
        buf.put_u32_le(self.max_bytes);
        buf.put_array_len(self.topics.len());
        for (name, partitions) in &self.topics {
            buf.put_string(name);
            buf.put_array_len(partitions.len());
            for p in partitions {
                buf.put_u32_le(p.partition);
                buf.put_u64_le(p.offset);
                buf.put_u32_le(p.max_bytes);
            }
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let max_wait_ms = r.u32("max_wait_ms")?;
        let min_bytes = r.u32("min_bytes")?;
        let max_bytes = r.u32("max_bytes")?;
        let count = r.array_len("topics", STRING_MIN + 4)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.string("topic")?;
            let n = r.array_len("partitions", FETCH_PARTITION_BYTES)?;
            let mut partitions = Vec::with_capacity(n);
            for _ in 0..n {
                partitions.push(FetchPartition {
                    partition: r.u32("partition")?,
                    offset: r.u64("offset")?,
                    max_bytes: r.u32("partition_max_bytes")?,
                });
            }
            topics.push((name, partitions));
        }
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
    /// Whole batches; encoded back to back as one `bytes` field.
    pub batches: Vec<Bytes>,
}

impl FetchPartitionResponse {
    pub fn records_bytes(&self) -> usize {
        self.batches.iter().map(Bytes::len).sum()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchResponse {
    pub topics: Vec<(String, Vec<FetchPartitionResponse>)>,
}

impl FetchResponse {
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.topics.len());
        for (name, partitions) in &self.topics {
            buf.put_string(name);
            buf.put_array_len(partitions.len());
            for p in partitions {
                buf.put_u32_le(p.partition);
                buf.put_u16_le(p.error_code);
                buf.put_u64_le(p.high_watermark);
                buf.put_u64_le(p.log_start_offset);
                buf.put_u32_le(p.records_bytes() as u32);
                for batch in &p.batches {
                    buf.put_slice(batch);
                }
            }
        }
    }

    /// Decodes; each partition's records come back as one `Bytes` (zero
    /// copy) in `batches[0]`, to be split with [`crate::batch::Batches`].
    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("topics", STRING_MIN + 4)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.string("topic")?;
            let n = r.array_len("partitions", 4 + 2 + 8 + 8 + BYTES_MIN)?;
            let mut partitions = Vec::with_capacity(n);
            for _ in 0..n {
                let partition = r.u32("partition")?;
                let error_code = r.u16("error_code")?;
                let high_watermark = r.u64("high_watermark")?;
                let log_start_offset = r.u64("log_start_offset")?;
                let records = r.bytes("records")?;
                partitions.push(FetchPartitionResponse {
                    partition,
                    error_code,
                    high_watermark,
                    log_start_offset,
                    batches: if records.is_empty() {
                        Vec::new()
                    } else {
                        vec![records]
                    },
                });
            }
            topics.push((name, partitions));
        }
        Ok(FetchResponse { topics })
    }
}
