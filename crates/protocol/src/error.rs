//! Error codes on the wire: one `#[repr(u16)]` enum whose numbers never
//! change meaning (docs/PROTOCOL.md, "Error codes").

/// A stable wire error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    None = 0,
    /// The API key is not one this broker knows.
    UnknownApiKey = 1,
    /// The API is known, the version is not supported.
    UnsupportedVersion = 2,
    /// The request body is truncated or malformed.
    MalformedRequest = 3,
    UnknownTopic = 4,
    UnknownPartition = 5,
    OffsetOutOfRange = 6,
    /// A record batch failed validation (CRC, lengths, records).
    CorruptBatch = 7,
    /// A batch larger than the topic's or broker's batch limit.
    BatchTooLarge = 8,
    /// A topic name outside `[a-zA-Z0-9._-]{1,249}`, or `.` / `..`.
    InvalidTopicName = 9,
    TopicAlreadyExists = 10,
    /// A topic setting (partition count, retention, segment size) is invalid.
    InvalidTopicConfig = 11,
    /// The disk is (nearly) full; retriable once space is freed.
    StorageFull = 12,
    /// The partition failed after an I/O error and refuses appends.
    PartitionFailed = 13,
    /// Data on disk failed validation when read.
    CorruptData = 14,
    /// The broker is shutting down; retriable against the restarted broker.
    ShuttingDown = 15,
    /// A frame larger than the broker's frame limit; the connection closes.
    FrameTooLarge = 16,
    /// A request spanning more than the per-request limits.
    RequestTooLarge = 17,
    /// An unexpected broker-side error; the message says more.
    Internal = 18,
    /// The broker has as many connections as allowed; it closes this one.
    TooManyConnections = 19,
    // Consumer groups (codes 20 to 29).
    /// A group name outside `[a-zA-Z0-9._-]{1,249}`.
    InvalidGroupId = 20,
    /// The member id is not (or no longer) a member of the group: join again
    /// with an empty member id.
    UnknownMemberId = 21,
    /// A commit or heartbeat from an older generation: join again.
    IllegalGeneration = 22,
    /// The group is rebalancing: join again to get the new assignment.
    RebalanceInProgress = 23,
    /// A session timeout outside the broker's bounds.
    InvalidSessionTimeout = 24,
    /// The request needs a group without members (a commit outside
    /// membership, an offset reset) and the group has some.
    GroupNotEmpty = 25,
    /// A join names an assignment strategy other than the group's.
    InconsistentGroupStrategy = 26,
    /// A committed offset's metadata string is longer than allowed.
    OffsetMetadataTooLarge = 27,
    /// The group has as many members as allowed.
    GroupFull = 28,
    /// The coordinator core holds as many groups as allowed; a new group
    /// is refused.
    TooManyGroups = 29,
    // Idempotent producers (codes 30 to 39).
    /// A producer's batch is not the next in its sequence (a gap, a retry
    /// older than the batches the broker keeps, or a new producer or epoch
    /// not starting at 0). Nothing was written; Kafka's
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrderSequence = 30,
    /// A producer's batch carries an epoch older than one this partition
    /// has seen: another instance took over. Kafka's INVALID_PRODUCER_EPOCH.
    ProducerFenced = 31,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::None,
        ErrorCode::UnknownApiKey,
        ErrorCode::UnsupportedVersion,
        ErrorCode::MalformedRequest,
        ErrorCode::UnknownTopic,
        ErrorCode::UnknownPartition,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::CorruptBatch,
        ErrorCode::BatchTooLarge,
        ErrorCode::InvalidTopicName,
        ErrorCode::TopicAlreadyExists,
        ErrorCode::InvalidTopicConfig,
        ErrorCode::StorageFull,
        ErrorCode::PartitionFailed,
        ErrorCode::CorruptData,
        ErrorCode::ShuttingDown,
        ErrorCode::FrameTooLarge,
        ErrorCode::RequestTooLarge,
        ErrorCode::Internal,
        ErrorCode::TooManyConnections,
        ErrorCode::InvalidGroupId,
        ErrorCode::UnknownMemberId,
        ErrorCode::IllegalGeneration,
        ErrorCode::RebalanceInProgress,
        ErrorCode::InvalidSessionTimeout,
        ErrorCode::GroupNotEmpty,
        ErrorCode::InconsistentGroupStrategy,
        ErrorCode::OffsetMetadataTooLarge,
        ErrorCode::GroupFull,
        ErrorCode::TooManyGroups,
        ErrorCode::OutOfOrderSequence,
        ErrorCode::ProducerFenced,
    ];

    /// The code with this number; numbers may have gaps.
    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| *c as u16 == code)
    }

    /// Whether a client may retry the same request and expect success.
    pub fn is_retriable(self) -> bool {
        matches!(self, ErrorCode::StorageFull | ErrorCode::ShuttingDown)
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "none",
            ErrorCode::UnknownApiKey => "unknown API key",
            ErrorCode::UnsupportedVersion => "unsupported API version",
            ErrorCode::MalformedRequest => "malformed request",
            ErrorCode::UnknownTopic => "unknown topic",
            ErrorCode::UnknownPartition => "unknown partition",
            ErrorCode::OffsetOutOfRange => "offset out of range",
            ErrorCode::CorruptBatch => "corrupt record batch",
            ErrorCode::BatchTooLarge => "record batch too large",
            ErrorCode::InvalidTopicName => "invalid topic name",
            ErrorCode::TopicAlreadyExists => "topic already exists",
            ErrorCode::InvalidTopicConfig => "invalid topic configuration",
            ErrorCode::StorageFull => "storage full",
            ErrorCode::PartitionFailed => "partition failed",
            ErrorCode::CorruptData => "corrupt data on disk",
            ErrorCode::ShuttingDown => "broker shutting down",
            ErrorCode::FrameTooLarge => "frame too large",
            ErrorCode::RequestTooLarge => "request too large",
            ErrorCode::Internal => "internal error",
            ErrorCode::TooManyConnections => "too many connections",
            ErrorCode::InvalidGroupId => "invalid group id",
            ErrorCode::UnknownMemberId => "unknown member id",
            ErrorCode::IllegalGeneration => "illegal (stale) generation",
            ErrorCode::RebalanceInProgress => "rebalance in progress",
            ErrorCode::InvalidSessionTimeout => "invalid session timeout",
            ErrorCode::GroupNotEmpty => "group has active members",
            ErrorCode::InconsistentGroupStrategy => "inconsistent assignment strategy",
            ErrorCode::OffsetMetadataTooLarge => "offset metadata too large",
            ErrorCode::GroupFull => "group full",
            ErrorCode::TooManyGroups => "too many groups",
            ErrorCode::OutOfOrderSequence => "out of order producer sequence",
            ErrorCode::ProducerFenced => "producer epoch fenced",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u16)
    }
}

/// A request that failed: its wire code and a message for people, what an
/// error response carries (docs/PROTOCOL.md, "Error responses"). The
/// broker passes this, typed, from where a request fails to where its
/// response is encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
        }
    }

    /// An unexpected broker-side failure (`Internal`).
    pub fn internal(message: impl std::fmt::Display) -> WireError {
        WireError::new(ErrorCode::Internal, message.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        let mut last = None;
        for code in ErrorCode::ALL {
            assert!(last < Some(code as u16), "codes in order, each once");
            last = Some(code as u16);
            assert_eq!(ErrorCode::from_u16(code as u16), Some(code));
        }
        for unknown in (0..=u16::MAX).filter(|n| !ErrorCode::ALL.iter().any(|c| *c as u16 == *n)) {
            assert_eq!(ErrorCode::from_u16(unknown), None);
        }
    }
}
