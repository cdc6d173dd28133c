//! The value of every record the harness sends: who sent it, its sequence
//! number, and when it was meant to be sent, then padding up to the record
//! size. Consumers read the send time back for end-to-end latency.
//!
//! ```text
//! u32 magic | u32 producer | u64 sequence | u64 send_time_ns (Unix) | padding
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

/// Marks a harness record.
pub const MAGIC: u32 = 0x5348_4C54; // "SHLT"
/// Bytes of the header at the start of every value.
pub const HEADER_BYTES: usize = 24;

/// What a harness record says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub producer: u32,
    pub sequence: u64,
    pub send_time_ns: u64,
}

pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A value of `record_bytes` (at least the header) carrying `stamp`.
pub fn encode(stamp: Stamp, record_bytes: usize, value: &mut Vec<u8>) {
    value.clear();
    value.extend_from_slice(&MAGIC.to_le_bytes());
    value.extend_from_slice(&stamp.producer.to_le_bytes());
    value.extend_from_slice(&stamp.sequence.to_le_bytes());
    value.extend_from_slice(&stamp.send_time_ns.to_le_bytes());
    value.resize(record_bytes.max(HEADER_BYTES), 0x5A);
}

/// The stamp of a harness record; `None` for any other value.
pub fn decode(value: &[u8]) -> Option<Stamp> {
    if value.len() < HEADER_BYTES || value[0..4] != MAGIC.to_le_bytes() {
        return None;
    }
    let u64_at = |at: usize| u64::from_le_bytes(value[at..at + 8].try_into().expect("8 bytes"));
    Some(Stamp {
        producer: u32::from_le_bytes(value[4..8].try_into().expect("4 bytes")),
        sequence: u64_at(8),
        send_time_ns: u64_at(16),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_foreign_values_are_refused() {
        let stamp = Stamp {
            producer: 7,
            sequence: 123_456,
            send_time_ns: 1_800_000_000_000_000_000,
        };
        let mut value = Vec::new();
        encode(stamp, 1024, &mut value);
        assert_eq!(value.len(), 1024);
        assert_eq!(decode(&value), Some(stamp));
        encode(stamp, 3, &mut value);
        assert_eq!(value.len(), HEADER_BYTES, "never shorter than the header");
        assert_eq!(decode(b"hello"), None);
        assert_eq!(decode(&[0u8; 64]), None);
    }
}
