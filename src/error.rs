//! Error codes on the wire: one `#[repr(u16)]` enum whose numbers never
//! change meaning (docs/PROTOCOL.md, "Error codes").

use crate::storage::StorageError;

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
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 20] = [
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
    ];

    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.get(code as usize).copied()
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
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u16)
    }
}

impl From<&StorageError> for ErrorCode {
    fn from(err: &StorageError) -> Self {
        match err {
            StorageError::InvalidBatch(_) => ErrorCode::CorruptBatch,
            StorageError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            StorageError::StorageFull(_) => ErrorCode::StorageFull,
            StorageError::Failed(_) => ErrorCode::PartitionFailed,
            StorageError::Corruption { .. } => ErrorCode::CorruptData,
            StorageError::Closed => ErrorCode::ShuttingDown,
            StorageError::InvalidConfig(_) => ErrorCode::InvalidTopicConfig,
            StorageError::Io(_) => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as u16, i as u16, "codes are dense and in order");
            assert_eq!(ErrorCode::from_u16(i as u16), Some(*code));
        }
        assert_eq!(ErrorCode::from_u16(ErrorCode::ALL.len() as u16), None);
    }
}
