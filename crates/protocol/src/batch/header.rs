//! The batch header: layout, parse, write, and the CRC over it.
//!
//! Two formats. Version 1: the fixed 40-byte header, then records. Version 2:
//! the same 40 bytes, then a 16-byte producer block (producer id, epoch,
//! base sequence) for idempotent producers, then records. A batch without a
//! producer is always written as version 1; both are read.
//!
//! All integers are little-endian. The CRC (CRC-32/IEEE, crc32fast) covers
//! every byte from `format_version` to the end of the batch; `base_offset`,
//! `batch_length` and the CRC itself are outside it, so the broker can stamp
//! the base offset without recomputing it.

use super::error::BatchError;

/// Bytes in the fixed batch header (all of a version 1 header).
pub const HEADER_LEN: usize = 40;
/// Bytes in a version 2 header: the fixed header and the producer block.
pub const HEADER_LEN_PRODUCER: usize = HEADER_LEN + 16;
/// The format of a batch without a producer.
pub const FORMAT_VERSION: u8 = 1;
/// The format of a batch from an idempotent producer.
pub const FORMAT_VERSION_PRODUCER: u8 = 2;

/// Byte offsets of the header fields.
pub mod field {
    pub const BASE_OFFSET: usize = 0;
    pub const BATCH_LENGTH: usize = 8;
    pub const CRC: usize = 12;
    pub const FORMAT_VERSION: usize = 16;
    pub const ATTRIBUTES: usize = 17;
    pub const RESERVED: usize = 18;
    pub const RECORD_COUNT: usize = 20;
    pub const FIRST_TIMESTAMP: usize = 24;
    pub const MAX_TIMESTAMP: usize = 32;
    // Version 2 only: the producer block.
    pub const PRODUCER_ID: usize = 40;
    pub const PRODUCER_EPOCH: usize = 48;
    pub const PRODUCER_RESERVED: usize = 50;
    pub const BASE_SEQUENCE: usize = 52;
}

/// First byte covered by the CRC.
pub const CRC_START: usize = field::FORMAT_VERSION;

/// Attribute bit: timestamps are the broker's append time, not the producer's.
pub const ATTRIBUTE_LOG_APPEND_TIME: u8 = 0x01;
/// Attribute bits this version defines; any other set bit is refused.
pub const ATTRIBUTES_KNOWN: u8 = ATTRIBUTE_LOG_APPEND_TIME;

/// Whose clock the timestamps of a batch come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer set each record's timestamp.
    Create,
    /// The broker stamps its append time on the whole batch.
    LogAppend,
}

/// Who wrote a version 2 batch, for duplicate detection: the producer id
/// the broker handed out, its epoch, and the sequence number of the first
/// record (the others follow it, one each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerFields {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl ProducerFields {
    /// The sequence of the batch's last record; sequences wrap from
    /// `i32::MAX` to 0, as Kafka's do.
    pub fn last_sequence(&self, record_count: u32) -> i32 {
        let last = i64::from(self.base_sequence) + i64::from(record_count) - 1;
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

/// The decoded header of one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: u64,
    /// Bytes of the whole batch, header included.
    pub batch_length: u32,
    pub crc: u32,
    pub format_version: u8,
    pub attributes: u8,
    pub record_count: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    /// Version 2 only: the idempotent producer that wrote the batch.
    pub producer: Option<ProducerFields>,
}

impl BatchHeader {
    /// Decodes the header at the start of `buf`, checking only what the
    /// header alone can tell: length bounds, version, reserved bits, a
    /// record count, offsets that fit a u64 and, in version 2, a producer
    /// block with no negative field. `buf` must hold the whole header of
    /// its version (40 or 56 bytes).
    pub fn parse(buf: &[u8], batch_bytes_limit: u32) -> Result<BatchHeader, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        }
        let header = BatchHeader {
            base_offset: read_u64(buf, field::BASE_OFFSET),
            batch_length: read_u32(buf, field::BATCH_LENGTH),
            crc: read_u32(buf, field::CRC),
            format_version: buf[field::FORMAT_VERSION],
            attributes: buf[field::ATTRIBUTES],
            record_count: read_u32(buf, field::RECORD_COUNT),
            first_timestamp_ms: read_u64(buf, field::FIRST_TIMESTAMP) as i64,
            max_timestamp_ms: read_u64(buf, field::MAX_TIMESTAMP) as i64,
            producer: None,
        };
        if (header.batch_length as usize) < HEADER_LEN || header.batch_length > batch_bytes_limit {
            return Err(BatchError::BadLength {
                length: header.batch_length,
                header: HEADER_LEN,
                limit: batch_bytes_limit,
            });
        }
        let mut header = header;
        match header.format_version {
            FORMAT_VERSION => {}
            FORMAT_VERSION_PRODUCER => {
                header.producer = Some(parse_producer(buf, &header, batch_bytes_limit)?)
            }
            version => return Err(BatchError::UnsupportedVersion(version)),
        }
        let reserved = u16::from_le_bytes([buf[field::RESERVED], buf[field::RESERVED + 1]]);
        let unknown_attributes = header.attributes & !ATTRIBUTES_KNOWN;
        if reserved != 0 || unknown_attributes != 0 {
            return Err(BatchError::ReservedBits(
                (u32::from(reserved) << 8) | u32::from(unknown_attributes),
            ));
        }
        if header.record_count == 0 {
            return Err(BatchError::Empty);
        }
        // The base offset is outside the CRC; the offsets of the records and
        // the offset after the batch must still fit a u64.
        if header
            .base_offset
            .checked_add(u64::from(header.record_count))
            .is_none()
        {
            return Err(BatchError::OffsetOverflow {
                base_offset: header.base_offset,
                record_count: header.record_count,
            });
        }
        Ok(header)
    }

    /// Bytes of this batch's header: where its first record starts.
    pub fn header_len(&self) -> usize {
        if self.producer.is_some() {
            HEADER_LEN_PRODUCER
        } else {
            HEADER_LEN
        }
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTRIBUTE_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppend
        } else {
            TimestampType::Create
        }
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count) - 1
    }

    /// The offset right after this batch.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

/// The producer block of a version 2 header, checked: room for it in the
/// batch and in `buf`, no negative id, epoch or sequence, reserved bytes 0.
fn parse_producer(
    buf: &[u8],
    header: &BatchHeader,
    batch_bytes_limit: u32,
) -> Result<ProducerFields, BatchError> {
    if (header.batch_length as usize) < HEADER_LEN_PRODUCER {
        return Err(BatchError::BadLength {
            length: header.batch_length,
            header: HEADER_LEN_PRODUCER,
            limit: batch_bytes_limit,
        });
    }
    if buf.len() < HEADER_LEN_PRODUCER {
        return Err(BatchError::Truncated {
            needed: HEADER_LEN_PRODUCER,
            available: buf.len(),
        });
    }
    let reserved = u16::from_le_bytes([
        buf[field::PRODUCER_RESERVED],
        buf[field::PRODUCER_RESERVED + 1],
    ]);
    if reserved != 0 {
        return Err(BatchError::ReservedBits(u32::from(reserved) << 8));
    }
    let fields = ProducerFields {
        producer_id: read_u64(buf, field::PRODUCER_ID) as i64,
        producer_epoch: i16::from_le_bytes([
            buf[field::PRODUCER_EPOCH],
            buf[field::PRODUCER_EPOCH + 1],
        ]),
        base_sequence: read_u32(buf, field::BASE_SEQUENCE) as i32,
    };
    if fields.producer_id < 0 || fields.producer_epoch < 0 || fields.base_sequence < 0 {
        return Err(BatchError::BadProducer(fields));
    }
    Ok(fields)
}

/// Writes a version 2 batch's producer block and recomputes its CRC: a
/// client that numbers its batches when it sends them (not when it builds
/// them) stamps the sequence here. `buf` is exactly one version 2 batch.
///
/// # Panics
///
/// If `buf` is shorter than a version 2 header.
pub fn stamp_producer(buf: &mut [u8], fields: ProducerFields) {
    assert!(buf.len() >= HEADER_LEN_PRODUCER, "a version 2 batch");
    assert_eq!(
        buf[field::FORMAT_VERSION],
        FORMAT_VERSION_PRODUCER,
        "a version 2 batch"
    );
    write_u64(buf, field::PRODUCER_ID, fields.producer_id as u64);
    buf[field::PRODUCER_EPOCH..field::PRODUCER_EPOCH + 2]
        .copy_from_slice(&fields.producer_epoch.to_le_bytes());
    buf[field::PRODUCER_RESERVED..field::PRODUCER_RESERVED + 2].fill(0);
    write_u32(buf, field::BASE_SEQUENCE, fields.base_sequence as u32);
    let crc = compute_crc(buf);
    write_u32(buf, field::CRC, crc);
}

/// True when the bytes where a header would start are all zero: the padded
/// end of a segment, never a batch (a batch has a non-zero length).
pub fn is_zero_header(buf: &[u8]) -> bool {
    buf.iter().take(HEADER_LEN).all(|&b| b == 0)
}

/// Reads the batch length field of the header at the start of `buf`, if
/// enough bytes are there.
pub fn peek_batch_length(buf: &[u8]) -> Option<u32> {
    (buf.len() >= field::BATCH_LENGTH + 4).then(|| read_u32(buf, field::BATCH_LENGTH))
}

/// Computes the CRC of a whole batch (`buf` is exactly one batch).
pub fn compute_crc(buf: &[u8]) -> u32 {
    crc32fast::hash(&buf[CRC_START..])
}

/// Writes the base offset into an encoded batch; outside the CRC.
pub fn stamp_base_offset(buf: &mut [u8], base_offset: u64) {
    buf[field::BASE_OFFSET..field::BASE_OFFSET + 8].copy_from_slice(&base_offset.to_le_bytes());
}

/// The little-endian fields of the fixed-layout headers (batch here, the
/// index files' in the broker); the caller has checked the length.
///
/// # Panics
///
/// If `buf` has fewer than `at + 4` bytes.
#[allow(
    clippy::expect_used,
    reason = "a fixed-layout field: every caller checked the header's length"
)]
pub fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

/// As [`read_u32`], 8 bytes.
///
/// # Panics
///
/// If `buf` has fewer than `at + 8` bytes.
#[allow(
    clippy::expect_used,
    reason = "a fixed-layout field: every caller checked the header's length"
)]
pub fn read_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

pub fn write_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub fn write_u64(buf: &mut [u8], at: usize, value: u64) {
    buf[at..at + 8].copy_from_slice(&value.to_le_bytes());
}
