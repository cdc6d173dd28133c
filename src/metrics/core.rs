//! What one core counts while it serves: requests by API and their
//! latency, bytes in and out, errors by code, cross-core messages,
//! connections. (Each partition counts its own work and errors in its
//! log's `storage::LogStats`.) Plain counters in
//! the shard, touched only by its own executor; other cores and the
//! metrics endpoint get a [`CoreSnapshot`] by message.

use std::collections::BTreeMap;
use std::time::Instant;

use super::histogram::{Histogram, LATENCY_BOUNDS_US};
use super::window::{LatencyWindow, WindowSummary};
use crate::error::ErrorCode;
use crate::protocol::ApiKey;
use crate::storage::LogStats;

/// Request counts kept per API key below this number; any other key
/// counts under [`OTHER_API`].
pub const API_KEYS_TRACKED: usize = 32;
/// The slot of requests whose API key is not tracked (unknown keys).
pub const OTHER_API: usize = API_KEYS_TRACKED;

#[derive(Clone, Debug)]
pub struct ApiCounts {
    pub requests: u64,
    pub latency_us: Histogram,
}

impl Default for ApiCounts {
    fn default() -> Self {
        ApiCounts {
            requests: 0,
            latency_us: Histogram::new(LATENCY_BOUNDS_US),
        }
    }
}

/// The live counters of one core.
#[derive(Default)]
pub struct CoreMetrics {
    /// By API key number; the last slot is [`OTHER_API`]. Created lazily.
    apis: Vec<ApiCounts>,
    errors: BTreeMap<u16, u64>,
    bytes_received: u64,
    bytes_sent: u64,
    produce_bytes: u64,
    fetch_bytes: u64,
    messages_sent: u64,
    messages_received: u64,
    connections_accepted: u64,
    connections_refused: u64,
    produce_window: LatencyWindow,
}

impl CoreMetrics {
    /// A request frame of `bytes` was read.
    pub fn on_request_read(&mut self, bytes: usize) {
        self.bytes_received += bytes as u64;
    }

    /// A response to API `api_key` is ready at `now`, its frame having been
    /// read at `read_at`, with the response's top-level error code.
    pub fn on_response(
        &mut self,
        api_key: u16,
        read_at: Instant,
        now: Instant,
        bytes: usize,
        error: u16,
    ) {
        let latency = now.saturating_duration_since(read_at);
        let slot = usize::from(api_key).min(OTHER_API);
        if self.apis.len() <= slot {
            self.apis.resize_with(slot + 1, ApiCounts::default);
        }
        let api = &mut self.apis[slot];
        api.requests += 1;
        api.latency_us
            .record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.bytes_sent += bytes as u64;
        if error != 0 {
            *self.errors.entry(error).or_default() += 1;
        }
        if api_key == ApiKey::Produce as u16 {
            self.produce_window.record(now, latency);
        }
    }

    /// A partition answered with `code` on this core (responses' top-level
    /// codes are counted by `on_response`).
    pub fn on_error(&mut self, code: ErrorCode) {
        *self.errors.entry(code as u16).or_default() += 1;
    }

    pub fn on_produce_bytes(&mut self, bytes: usize) {
        self.produce_bytes += bytes as u64;
    }

    pub fn on_fetch_bytes(&mut self, bytes: usize) {
        self.fetch_bytes += bytes as u64;
    }

    pub fn on_message_sent(&mut self) {
        self.messages_sent += 1;
    }

    pub fn on_message_received(&mut self) {
        self.messages_received += 1;
    }

    pub fn on_connection(&mut self, accepted: bool) {
        if accepted {
            self.connections_accepted += 1;
        } else {
            self.connections_refused += 1;
        }
    }

    /// The counters as they stand; gauges and partitions are the caller's.
    pub fn snapshot(&mut self, core: usize, gauges: CoreGauges) -> CoreSnapshot {
        CoreSnapshot {
            core,
            apis: self
                .apis
                .iter()
                .enumerate()
                .filter(|(_, api)| api.requests > 0)
                .map(|(key, api)| (key as u16, api.clone()))
                .collect(),
            errors: self.errors.clone(),
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            produce_bytes: self.produce_bytes,
            fetch_bytes: self.fetch_bytes,
            messages_sent: self.messages_sent,
            messages_received: self.messages_received,
            connections_accepted: self.connections_accepted,
            connections_refused: self.connections_refused,
            produce_last_second: self.produce_window.last(Instant::now()),
            gauges,
            partitions: Vec::new(),
            group_commits: Vec::new(),
        }
    }
}

/// Values that are read, not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreGauges {
    pub connections: usize,
    pub inflight_bytes: u64,
    pub cache_bytes: usize,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// One core's metrics at one moment; sent between cores.
#[derive(Clone, Debug)]
pub struct CoreSnapshot {
    pub core: usize,
    /// `(API key, counts)` for each key seen; [`OTHER_API`] for unknown keys.
    pub apis: Vec<(u16, ApiCounts)>,
    /// Responses and partition answers by error code.
    pub errors: BTreeMap<u16, u64>,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Record-batch bytes produced and fetched through this core.
    pub produce_bytes: u64,
    pub fetch_bytes: u64,
    /// Cross-core messages this core sent and served.
    pub messages_sent: u64,
    pub messages_received: u64,
    pub connections_accepted: u64,
    pub connections_refused: u64,
    /// Produce request latency over the last whole second.
    pub produce_last_second: WindowSummary,
    pub gauges: CoreGauges,
    /// Empty unless partitions were asked for.
    pub partitions: Vec<PartitionSnapshot>,
    /// The committed offsets of the groups this core coordinates; empty
    /// unless partitions were asked for.
    pub group_commits: Vec<GroupCommit>,
}

impl CoreSnapshot {
    pub fn requests(&self) -> u64 {
        self.apis.iter().map(|(_, api)| api.requests).sum()
    }

    pub fn requests_of(&self, api: ApiKey) -> u64 {
        self.apis
            .iter()
            .find(|(key, _)| *key == api as u16)
            .map_or(0, |(_, counts)| counts.requests)
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A consumer group's committed offset on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCommit {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will consume.
    pub committed: u64,
}

/// One partition's metrics at one moment.
#[derive(Clone, Debug)]
pub struct PartitionSnapshot {
    pub topic: String,
    pub partition: u32,
    /// Its work and error answers.
    pub stats: LogStats,
    pub size_bytes: u64,
    pub segments: usize,
    pub log_start_offset: u64,
    pub high_watermark: u64,
}
