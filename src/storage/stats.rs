//! What one partition log counts about its own work, for the metrics
//! endpoint: appends, group-commit rounds and their sizes, append and
//! fsync latencies, reads. Plain counters on the log's own core; a
//! snapshot is a clone.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::ErrorCode;
use crate::metrics::histogram::{
    Histogram, BATCHES_PER_COMMIT_BOUNDS, BYTES_PER_COMMIT_BOUNDS, LATENCY_BOUNDS_US,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogStats {
    /// Batches committed (acknowledged as written or durable).
    pub appends: u64,
    pub append_records: u64,
    pub append_bytes: u64,
    /// Group-commit rounds: one write each.
    pub commits: u64,
    /// Commits made durable: an `fdatasync`, or a round's O_DSYNC write
    /// (its latency is the write's).
    pub fsyncs: u64,
    /// From queueing an append to its commit.
    pub append_latency_us: Histogram,
    pub fsync_latency_us: Histogram,
    pub batches_per_commit: Histogram,
    pub bytes_per_commit: Histogram,
    /// Reads that returned data, and the bytes they returned.
    pub reads: u64,
    pub read_bytes: u64,
    /// Error answers about this partition, by wire error code (the broker
    /// records them; the log does not speak wire codes itself).
    pub errors: BTreeMap<u16, u64>,
}

impl Default for LogStats {
    fn default() -> Self {
        LogStats {
            appends: 0,
            append_records: 0,
            append_bytes: 0,
            commits: 0,
            fsyncs: 0,
            append_latency_us: Histogram::new(LATENCY_BOUNDS_US),
            fsync_latency_us: Histogram::new(LATENCY_BOUNDS_US),
            batches_per_commit: Histogram::new(BATCHES_PER_COMMIT_BOUNDS),
            bytes_per_commit: Histogram::new(BYTES_PER_COMMIT_BOUNDS),
            reads: 0,
            read_bytes: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl LogStats {
    pub fn on_commit(&mut self, batches: usize, bytes: u64) {
        self.commits += 1;
        self.batches_per_commit.record(batches as u64);
        self.bytes_per_commit.record(bytes);
    }

    pub fn on_append(&mut self, records: u32, bytes: usize, waited: Duration) {
        self.appends += 1;
        self.append_records += u64::from(records);
        self.append_bytes += bytes as u64;
        self.append_latency_us.record(micros(waited));
    }

    pub fn on_fsync(&mut self, took: Duration) {
        self.fsyncs += 1;
        self.fsync_latency_us.record(micros(took));
    }

    /// Counts an error answer about this partition, by its wire number.
    pub fn on_error(&mut self, code: ErrorCode) {
        *self.errors.entry(code as u16).or_default() += 1;
    }

    pub fn on_read(&mut self, bytes: usize) {
        if bytes > 0 {
            self.reads += 1;
            self.read_bytes += bytes as u64;
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
