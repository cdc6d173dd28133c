//! Why a batch was refused.

/// A batch failed to decode or validate. Each variant names the first
/// problem found; nothing after it was trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batch truncated: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    #[error("batch length {length} is invalid (header is {header} bytes, limit {limit})")]
    BadLength {
        length: u32,
        header: usize,
        limit: u32,
    },
    #[error("unsupported batch format version {0}")]
    UnsupportedVersion(u8),
    #[error("reserved batch bits set: {0:#x}")]
    ReservedBits(u32),
    #[error("batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("batch must hold at least one record")]
    Empty,
    #[error("batch offsets overflow: base offset {base_offset} with {record_count} records")]
    OffsetOverflow { base_offset: u64, record_count: u32 },
    #[error("record {index}: {reason}")]
    BadRecord { index: u32, reason: &'static str },
    #[error("batch declares {declared} records but holds {found}")]
    CountMismatch { declared: u32, found: u32 },
    #[error("batch timestamps disagree with its records: {0}")]
    BadTimestamps(&'static str),
    #[error("batch producer fields are negative: {0:?}")]
    BadProducer(super::header::ProducerFields),
}
