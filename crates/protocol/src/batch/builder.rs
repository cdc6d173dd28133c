//! Encoding records into one batch, ready to send or append.

use bytes::{BufMut, BytesMut};

use super::header::{
    field, stamp_producer, write_u32, write_u64, ProducerFields, TimestampType,
    ATTRIBUTE_LOG_APPEND_TIME, CRC_START, FORMAT_VERSION, HEADER_LEN, HEADER_LEN_PRODUCER,
};
use super::record::{HEADER_OVERHEAD, RECORD_OVERHEAD};
use crate::limits::RECORD_HEADERS_MAX;

/// A record to encode; borrowed, so building a batch copies each byte once.
#[derive(Clone, Copy, Debug, Default)]
pub struct NewRecord<'a> {
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Ignored in a log-append-time batch.
    pub timestamp_ms: i64,
}

/// Why a record could not be added to a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The batch would pass its byte limit: send it and start another.
    #[error("batch is full")]
    Full,
    /// The record alone is larger than a batch may be.
    #[error(
        "record of {record_bytes} bytes can never fit a batch of at most {batch_bytes_max} bytes"
    )]
    RecordTooLarge {
        record_bytes: usize,
        batch_bytes_max: u32,
    },
    #[error("a record may carry at most {RECORD_HEADERS_MAX} headers")]
    TooManyHeaders,
    #[error("header name longer than {} bytes", u16::MAX)]
    HeaderNameTooLong,
    #[error("timestamp {0} too far from the batch's first timestamp")]
    TimestampOutOfRange(i64),
}

/// Builds one batch. The header is written by [`BatchBuilder::finish`].
pub struct BatchBuilder {
    buf: BytesMut,
    record_count: u32,
    first_timestamp_ms: i64,
    max_timestamp_ms: i64,
    timestamp_type: TimestampType,
    batch_bytes_max: u32,
    /// A version 2 batch: the producer block to write.
    producer: Option<ProducerFields>,
}

/// Encoded size of a record with these parts.
pub fn record_encoded_len(record: &NewRecord<'_>) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| HEADER_OVERHEAD + name.len() + value.len())
        .sum();
    RECORD_OVERHEAD + record.key.map_or(0, <[u8]>::len) + record.value.len() + headers
}

impl BatchBuilder {
    /// A version 1 batch: no producer.
    pub fn new(timestamp_type: TimestampType, batch_bytes_max: u32) -> Self {
        Self::with_capacity(timestamp_type, batch_bytes_max, None, 256)
    }

    /// A version 2 batch from an idempotent producer. The fields may be
    /// placeholders, stamped later with [`super::header::stamp_producer`].
    pub fn with_producer(
        timestamp_type: TimestampType,
        batch_bytes_max: u32,
        producer: ProducerFields,
    ) -> Self {
        Self::with_capacity(timestamp_type, batch_bytes_max, Some(producer), 256)
    }

    /// A builder (version 2 with a producer, else version 1) whose buffer
    /// holds `records_bytes` of records before it grows: when the caller
    /// knows what it will add, no reallocation and copy on the way. Capped
    /// at `batch_bytes_max`.
    pub fn with_capacity(
        timestamp_type: TimestampType,
        batch_bytes_max: u32,
        producer: Option<ProducerFields>,
        records_bytes: usize,
    ) -> Self {
        let header_len = if producer.is_some() {
            HEADER_LEN_PRODUCER
        } else {
            HEADER_LEN
        };
        let capacity = (header_len + records_bytes)
            .min(batch_bytes_max as usize)
            .max(header_len);
        let mut buf = BytesMut::with_capacity(capacity);
        buf.put_bytes(0, header_len);
        BatchBuilder {
            buf,
            record_count: 0,
            first_timestamp_ms: 0,
            max_timestamp_ms: i64::MIN,
            timestamp_type,
            batch_bytes_max,
            producer,
        }
    }

    pub fn record_count(&self) -> u32 {
        self.record_count
    }

    /// Bytes the batch would have if finished now.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Adds a record, or says why not; on error the batch is unchanged.
    pub fn append(&mut self, record: &NewRecord<'_>) -> Result<(), BuildError> {
        let record_bytes = record_encoded_len(record);
        let header_len = if self.producer.is_some() {
            HEADER_LEN_PRODUCER
        } else {
            HEADER_LEN
        };
        if header_len + record_bytes > self.batch_bytes_max as usize {
            return Err(BuildError::RecordTooLarge {
                record_bytes,
                batch_bytes_max: self.batch_bytes_max,
            });
        }
        if self.buf.len() + record_bytes > self.batch_bytes_max as usize {
            return Err(BuildError::Full);
        }
        if record.headers.len() > RECORD_HEADERS_MAX {
            return Err(BuildError::TooManyHeaders);
        }
        if record
            .headers
            .iter()
            .any(|(name, _)| name.len() > usize::from(u16::MAX))
        {
            return Err(BuildError::HeaderNameTooLong);
        }
        let timestamp_delta_ms = match self.timestamp_type {
            TimestampType::LogAppend => 0,
            TimestampType::Create if self.record_count == 0 => {
                self.first_timestamp_ms = record.timestamp_ms;
                0
            }
            TimestampType::Create => record
                .timestamp_ms
                .checked_sub(self.first_timestamp_ms)
                .ok_or(BuildError::TimestampOutOfRange(record.timestamp_ms))?,
        };
        self.max_timestamp_ms = self
            .max_timestamp_ms
            .max(self.first_timestamp_ms + timestamp_delta_ms);

        let buf = &mut self.buf;
        buf.reserve(record_bytes);
        buf.put_u32_le((record_bytes - 4) as u32);
        buf.put_u32_le(self.record_count);
        buf.put_i64_le(timestamp_delta_ms);
        match record.key {
            Some(key) => {
                buf.put_i32_le(key.len() as i32);
                buf.put_slice(key);
            }
            None => buf.put_i32_le(-1),
        }
        buf.put_u32_le(record.value.len() as u32);
        buf.put_slice(record.value);
        buf.put_u16_le(record.headers.len() as u16);
        for (name, value) in record.headers {
            buf.put_u16_le(name.len() as u16);
            buf.put_slice(name.as_bytes());
            buf.put_u32_le(value.len() as u32);
            buf.put_slice(value);
        }
        self.record_count += 1;
        Ok(())
    }

    /// Writes the header and CRC and returns the encoded batch, or `None`
    /// when no record was added (an empty batch is not valid).
    pub fn finish(self) -> Option<BytesMut> {
        if self.record_count == 0 {
            return None;
        }
        let mut buf = self.buf;
        let length = buf.len() as u32;
        write_u32(&mut buf, field::BATCH_LENGTH, length);
        buf[field::FORMAT_VERSION] = match self.producer {
            None => FORMAT_VERSION,
            Some(_) => super::header::FORMAT_VERSION_PRODUCER,
        };
        buf[field::ATTRIBUTES] = match self.timestamp_type {
            TimestampType::Create => 0,
            TimestampType::LogAppend => ATTRIBUTE_LOG_APPEND_TIME,
        };
        write_u32(&mut buf, field::RECORD_COUNT, self.record_count);
        write_u64(
            &mut buf,
            field::FIRST_TIMESTAMP,
            self.first_timestamp_ms as u64,
        );
        write_u64(&mut buf, field::MAX_TIMESTAMP, self.max_timestamp_ms as u64);
        match self.producer {
            // Writes the block and the CRC.
            Some(producer) => stamp_producer(&mut buf, producer),
            None => {
                let crc = crc32fast::hash(&buf[CRC_START..]);
                write_u32(&mut buf, field::CRC, crc);
            }
        }
        Some(buf)
    }
}
