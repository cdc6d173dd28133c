//! Limits that are part of the formats themselves, the same for every
//! broker and client build (the broker's configurable limits, and the
//! relations between them, are in the broker's `config`).

/// Largest record batch any component accepts, whatever the configuration
/// says. The batch length field is a `u32`; this keeps far below it.
pub const BATCH_BYTES_MAX: u32 = 64 << 20;

/// Most headers one record may carry (the header count is a `u16`).
pub const RECORD_HEADERS_MAX: usize = u16::MAX as usize;

/// Longest topic or group name, in bytes (Kafka's limit).
pub const NAME_BYTES_MAX: usize = 249;
