//! The storage engine: the partition log each core runs for the partitions
//! it owns (docs/STORAGE.md). Nothing here is shared across threads; a log
//! belongs to one glommio executor.
//!
//! - [`log`]: `PartitionLog`, the API: append, read, offsets, retention, close.
//! - [`log_state`]: the log's segments, visibility and lifecycle.
//! - [`appender`]: group commit, one aligned DMA write (durable) a round.
//! - [`preallocator`]: space ahead of the appends, prepared in the background.
//! - [`segment`]: segment files and the cursor that reads their batches.
//! - [`index`]: the sparse offset and time indexes.
//! - [`recovery`]: opening segments, rebuilding indexes, torn-tail recovery.
//! - [`producers`]: idempotent producers' sequences, duplicate detection.
//! - [`retention`]: which sealed segments to delete.
//! - [`cache`]: the per-shard tail cache of recent batches.
//! - [`io`]: the file operations behind a trait, and the real DMA files.
//! - [`faults`]: a fault-injecting implementation of that trait, for tests.
//! - [`check`]: offline verification of a partition's files (`shardlog check`).
//! - [`stats`]: what a log counts about its own work, for metrics.

pub mod appender;
pub mod cache;
pub mod check;
pub mod completion;
pub mod error;
pub mod faults;
pub mod index;
pub mod io;
pub mod log;
pub mod log_state;
pub mod preallocator;
pub mod producers;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod stats;

pub use cache::{SharedTailCache, TailCache};
pub use error::{StorageError, StorageResult};
pub use io::{prime_executor_io, DmaStorage, SegmentFile, Storage};
pub use log::{AppendTicket, PartitionLog, ReadBatches, RetentionReport};
pub use stats::LogStats;
