//! Errors of the partition log. Each variant is something a caller can act
//! on; the broker maps them to wire error codes.

use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use super::producers::SequenceError;
use crate::batch::BatchError;
use crate::error::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The batch from the producer is malformed; nothing was written.
    #[error("invalid batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// The batch is larger than the topic allows.
    #[error("batch of {size} bytes exceeds the limit of {limit} bytes")]
    BatchTooLarge { size: usize, limit: u32 },
    /// The offset is below the earliest or above the latest offset.
    #[error("offset {offset} out of range {earliest}..={latest}")]
    OffsetOutOfRange {
        offset: u64,
        earliest: u64,
        latest: u64,
    },
    /// The disk has no room; nothing of the refused appends was written and
    /// the log keeps serving: appends work again once space is freed.
    #[error("storage full: {0}")]
    StorageFull(Rc<io::Error>),
    /// A write or fsync failed. The log is out of service: nothing after the
    /// last successful fsync is acknowledged, and appends are refused.
    #[error("partition failed after an I/O error: {0}")]
    Failed(Rc<io::Error>),
    /// Bytes on disk did not validate where the log had accepted them
    /// before: a sealed segment is damaged. Never silently truncated.
    #[error("corrupt data in {segment} at byte {position}: {reason}")]
    Corruption {
        segment: PathBuf,
        position: u64,
        reason: String,
    },
    /// Any other I/O error (opening, reading, removing files).
    #[error("I/O error: {0}")]
    Io(Rc<io::Error>),
    /// A log setting is outside its limits; the message names it.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
    /// The log was closed.
    #[error("partition log is closed")]
    Closed,
    /// An idempotent producer's batch out of sequence or from a fenced
    /// epoch; nothing was written.
    #[error("{0}")]
    Sequence(#[from] super::producers::SequenceError),
}

impl StorageError {
    /// Classifies an I/O error from a write path: a full disk is its own
    /// error, everything else takes the partition out of service.
    pub(crate) fn from_write(err: io::Error) -> StorageError {
        if is_storage_full(&err) {
            StorageError::StorageFull(Rc::new(err))
        } else {
            StorageError::Failed(Rc::new(err))
        }
    }
}

impl From<io::Error> for StorageError {
    fn from(err: io::Error) -> Self {
        StorageError::Io(Rc::new(err))
    }
}

pub(crate) fn is_storage_full(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::StorageFull || err.raw_os_error() == Some(28 /* ENOSPC */)
}

pub type StorageResult<T> = Result<T, StorageError>;

/// The wire error code a client gets for a storage error.
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
            StorageError::Sequence(SequenceError::OutOfOrder { .. }) => {
                ErrorCode::OutOfOrderSequence
            }
            StorageError::Sequence(SequenceError::Fenced { .. }) => ErrorCode::ProducerFenced,
        }
    }
}
