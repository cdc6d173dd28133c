//! Full validation of a batch that came from outside (a producer, a disk
//! read), and the broker's stamping of offsets and append time.

use super::error::BatchError;
use super::header::{
    field, write_u32, write_u64, BatchHeader, TimestampType, CRC_START, HEADER_LEN,
};
use super::record::decode_record;

/// A batch that passed [`validate`]: its header and, for a log-append-time
/// batch, the CRC state of its records, kept so that restamping the header
/// does not rehash the records.
#[derive(Clone, Debug)]
pub struct ValidBatch {
    pub header: BatchHeader,
    records_crc: Option<crc32fast::Hasher>,
}

/// Checks one whole batch: `buf` must be exactly one batch. Checks the
/// header, the CRC, every record's lengths, offset deltas, header names, and
/// that the header's timestamps agree with the records'.
pub fn validate(buf: &[u8], batch_bytes_limit: u32) -> Result<ValidBatch, BatchError> {
    let header = BatchHeader::parse(buf, batch_bytes_limit)?;
    let length = header.batch_length as usize;
    if buf.len() != length {
        return Err(if buf.len() < length {
            BatchError::Truncated {
                needed: length,
                available: buf.len(),
            }
        } else {
            BatchError::BadLength {
                length: header.batch_length,
                header: header.header_len(),
                limit: batch_bytes_limit,
            }
        });
    }
    // A log-append-time batch is restamped (its timestamps change), so its
    // records' CRC is kept apart to recompute the whole one from; any
    // other batch is checked in one pass (combining two CRCs costs about as
    // much as computing one over a small batch).
    let (computed, records_crc) = if header.timestamp_type() == TimestampType::LogAppend {
        let mut crc = crc32fast::Hasher::new();
        crc.update(&buf[CRC_START..HEADER_LEN]);
        let mut records_crc = crc32fast::Hasher::new();
        records_crc.update(&buf[HEADER_LEN..]);
        crc.combine(&records_crc);
        (crc.finalize(), Some(records_crc))
    } else {
        (crc32fast::hash(&buf[CRC_START..]), None)
    };
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    check_records(buf, &header)?;
    Ok(ValidBatch {
        header,
        records_crc,
    })
}

fn check_records(buf: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    let log_append_time = header.timestamp_type() == TimestampType::LogAppend;
    let mut pos = header.header_len();
    let mut index = 0u32;
    let mut max_delta = i64::MIN;
    while pos < buf.len() {
        if index == header.record_count {
            return Err(BatchError::CountMismatch {
                declared: header.record_count,
                found: index + 1,
            });
        }
        let spans =
            decode_record(buf, pos).map_err(|reason| BatchError::BadRecord { index, reason })?;
        if spans.offset_delta != index {
            return Err(BatchError::BadRecord {
                index,
                reason: "offset delta is not the record's index",
            });
        }
        if index == 0 && spans.timestamp_delta_ms != 0 {
            return Err(BatchError::BadTimestamps("first record's delta is not 0"));
        }
        if log_append_time && spans.timestamp_delta_ms != 0 {
            return Err(BatchError::BadTimestamps(
                "log-append-time records carry a delta",
            ));
        }
        // Every record's timestamp must fit an i64, not just the largest.
        header
            .first_timestamp_ms
            .checked_add(spans.timestamp_delta_ms)
            .ok_or(BatchError::BadTimestamps("timestamp overflows"))?;
        max_delta = max_delta.max(spans.timestamp_delta_ms);
        pos = spans.end;
        index += 1;
    }
    if index != header.record_count {
        return Err(BatchError::CountMismatch {
            declared: header.record_count,
            found: index,
        });
    }
    let max_timestamp = header
        .first_timestamp_ms
        .checked_add(max_delta)
        .ok_or(BatchError::BadTimestamps("timestamp overflows"))?;
    if max_timestamp != header.max_timestamp_ms {
        return Err(BatchError::BadTimestamps(
            "max timestamp is not the records' maximum",
        ));
    }
    Ok(())
}

impl ValidBatch {
    /// Stamps the broker's fields into `buf` (the batch this was validated
    /// from): the base offset always, and for a log-append-time batch the
    /// append time, recomputing the CRC from the kept record CRC.
    pub fn stamp(&mut self, buf: &mut [u8], base_offset: u64, append_time_ms: i64) {
        super::header::stamp_base_offset(buf, base_offset);
        self.header.base_offset = base_offset;
        if self.header.timestamp_type() != TimestampType::LogAppend {
            return;
        }
        write_u64(buf, field::FIRST_TIMESTAMP, append_time_ms as u64);
        write_u64(buf, field::MAX_TIMESTAMP, append_time_ms as u64);
        // `validate` kept the records' CRC of every log-append-time batch;
        // without it, hash the whole batch again.
        let crc = match &self.records_crc {
            Some(records_crc) => {
                let mut crc = crc32fast::Hasher::new();
                crc.update(&buf[CRC_START..HEADER_LEN]);
                crc.combine(records_crc);
                crc.finalize()
            }
            None => crc32fast::hash(&buf[CRC_START..]),
        };
        write_u32(buf, field::CRC, crc);
        self.header.first_timestamp_ms = append_time_ms;
        self.header.max_timestamp_ms = append_time_ms;
        self.header.crc = crc;
    }
}
