//! What can go wrong with a committed-offsets log partition while it is
//! replayed at start or compacted: its storage, or a record that does not
//! decode. Neither is a request's error: they are logged, or stop the
//! broker's start.

use crate::batch::builder::BuildError;
use crate::batch::BatchError;
use crate::protocol::DecodeError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum OffsetsLogError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("a batch of the log: {0}")]
    Batch(#[from] BatchError),
    #[error("the record at offset {offset}: {error}")]
    Record { offset: u64, error: DecodeError },
    #[error("building the compacted batches: {0}")]
    Build(#[from] BuildError),
}
