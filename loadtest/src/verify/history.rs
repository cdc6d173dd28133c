//! What the verifying workload writes down while it runs, and what the
//! read-back finds at the end: the input of the [`super::checker`].
//!
//! Every record carries `(producer, sequence)` in its value
//! ([`crate::payload`]); producer ids are unique over the whole run, and a
//! producer's sequences count up from 0, so a [`RecordId`] names one
//! record that was sent (maybe more than once, by a retry).

use crate::payload;

/// Who sent a record, and which of its records it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub producer: u32,
    pub sequence: u64,
}

impl RecordId {
    /// What a value that is not a harness record reads as.
    pub const FOREIGN: RecordId = RecordId {
        producer: u32::MAX,
        sequence: u64::MAX,
    };

    /// The id a record value carries, or [`RecordId::FOREIGN`].
    pub fn of_value(value: &[u8]) -> RecordId {
        payload::decode(value).map_or(RecordId::FOREIGN, |stamp| RecordId {
            producer: stamp.producer,
            sequence: stamp.sequence,
        })
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == RecordId::FOREIGN {
            write!(f, "a value that is no harness record")
        } else {
            write!(f, "{}#{}", self.producer, self.sequence)
        }
    }
}

/// What became of one record a producer sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No answer: still in flight when the run ended, so it may or may not
    /// have been written.
    Unknown,
    /// The broker acknowledged it at this offset.
    Acknowledged { partition: u32, offset: u64 },
    /// The client gave up on it (the error may have followed an attempt
    /// that the broker wrote: at-least-once), or never sent it.
    Failed,
}

/// One producer's records, indexed by sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerHistory {
    pub producer: u32,
    pub outcomes: Vec<Outcome>,
}

/// One record a consumer read while the load ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    pub partition: u32,
    pub offset: u64,
    pub record: RecordId,
}

/// Everything one consumer read, in the order it read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerHistory {
    pub reads: Vec<Read>,
}

/// One partition as read back at the end, from its earliest offset to its
/// end (the high watermark).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLog {
    pub partition: u32,
    /// The earliest offset ListOffsets gave.
    pub start_offset: u64,
    /// The next offset the broker would assign (ListOffsets latest).
    pub end_offset: u64,
    /// The records in the order the fetches returned them.
    pub records: Vec<(u64, RecordId)>,
}

/// The whole run, as the checker takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub producers: Vec<ProducerHistory>,
    pub consumers: Vec<ConsumerHistory>,
    pub partitions: Vec<PartitionLog>,
}
