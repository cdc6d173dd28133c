//! Every limit and tunable of shardlog, in one place.
//!
//! Hard limits are `const`s checked against each other at compile time;
//! tunables live in config structs whose `Default` is the documented default
//! and whose `validate` refuses values outside the hard limits. Nothing else
//! in the crate invents a number.

/// O_DIRECT alignment of offsets, lengths and buffers (the page size).
pub const PAGE_BYTES: usize = 4096;

/// The limits of the formats themselves (largest batch, most headers per
/// record, longest name) are the protocol crate's, the same for clients.
pub use crate::protocol::limits::{BATCH_BYTES_MAX, NAME_BYTES_MAX, RECORD_HEADERS_MAX};

/// Largest segment file; positions inside a segment are stored as `u32` in
/// the offset index.
pub const SEGMENT_BYTES_MAX: u64 = u32::MAX as u64 - BATCH_BYTES_MAX as u64;

/// Smallest segment: rolling more often than this only makes files.
pub const SEGMENT_BYTES_MIN: u64 = PAGE_BYTES as u64;

/// Most partitions one topic may have.
pub const PARTITIONS_MAX: u32 = 4096;

/// Partitions a core opens or closes at once (at start, topic create and
/// delete, shutdown): enough that their fsyncs overlap and merge, few
/// enough that the I/O memory and worker threads they need stay small.
pub const PARTITION_OPENS_IN_FLIGHT: usize = 256;

/// Largest index interval: the index would be nearly useless beyond this.
pub const INDEX_INTERVAL_BYTES_MAX: u32 = 64 << 20;

const _: () = assert!(BATCH_BYTES_MAX as u64 <= SEGMENT_BYTES_MAX);
const _: () = assert!(SEGMENT_BYTES_MIN.is_multiple_of(PAGE_BYTES as u64));

/// How a produce is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Answer once the bytes are written and `fdatasync` has returned.
    #[default]
    Durable,
    /// Answer once the write has completed; a timer makes it durable within
    /// `flush_interval_ms`. Records become visible to readers only then.
    Written,
}

impl From<crate::protocol::produce::Acks> for Durability {
    /// The storage durability an append with these acks asks for.
    fn from(acks: crate::protocol::produce::Acks) -> Durability {
        use crate::protocol::produce::Acks;
        match acks {
            Acks::Durable => Durability::Durable,
            Acks::None | Acks::Written => Durability::Written,
        }
    }
}

/// How a segment's file is extended ahead of its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Preallocation {
    /// `fallocate`: instant, but the blocks stay "unwritten" until first
    /// written, so each durable write that first touches them also commits
    /// the file system journal (about half the commit rate on ext4).
    Fallocate,
    /// Write zeros over each step (and fdatasync once) in the background:
    /// costs write bandwidth once, then every commit is a plain overwrite.
    ZeroFill,
    /// Zero-fill while the log's rounds are small (below
    /// `ZERO_FILL_ROUND_BYTES_MAX` on average), where a journal commit per
    /// round costs more than writing the step twice; fallocate otherwise.
    #[default]
    Auto,
}

/// Bytes of one zero-fill write when preallocating by writing zeros.
pub const ZERO_FILL_WRITE_BYTES: usize = 1 << 20;

/// The first preallocation step of a segment; each next one is as large as
/// the file already is, up to `LogConfig::preallocate_bytes`. Small, so that
/// a lightly used partition costs kilobytes of disk.
pub const PREALLOCATE_FIRST_BYTES: u64 = 16 << 10;

/// An active segment file of at most this many bytes is scanned at every
/// open, a clean one too, instead of trusting index files written at close:
/// so a clean close of a lightly used partition writes neither its index
/// files nor its producer snapshot (thousands of partitions stop without
/// writing thousands of files), and scanning it costs a read of at most
/// this much.
pub const ACTIVE_SCAN_AT_OPEN_BYTES_MAX: u64 = 1 << 20;

/// After a crash, the bytes past the recovered end of an active segment
/// are read back when there are at most this many: if all are zeros
/// (preallocated space), the file is kept as it is instead of truncated
/// (a truncation is a journal commit per partition at start).
pub const ZERO_TAIL_CHECK_BYTES_MAX: u64 = 256 << 10;

/// `Preallocation::Auto` writes zeros ahead while the log's mean round is
/// below this many bytes.
pub const ZERO_FILL_ROUND_BYTES_MAX: u64 = 64 << 10;

/// Settings of one partition log (per topic, the same for its partitions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// A segment rolls before an append would take it past this size.
    pub segment_bytes_max: u64,
    /// An offset index entry (and a time index entry) every this many bytes.
    pub index_interval_bytes: u32,
    /// Segments are preallocated in steps growing up to this many bytes.
    pub preallocate_bytes: u64,
    /// How segments are preallocated.
    pub preallocation: Preallocation,
    /// A batch larger than this is refused.
    pub batch_bytes_max: u32,
    /// At most this many bytes of batches are coalesced into one DMA write.
    pub write_bytes_max: usize,
    /// `Written` appends are made durable within this many milliseconds.
    pub flush_interval_ms: u64,
    /// Sealed segments whose newest record is older than this are deleted.
    pub retention_ms: Option<u64>,
    /// Oldest sealed segments are deleted while the log is larger than this.
    pub retention_bytes: Option<u64>,
    /// Free space kept on the data file system: a preallocation step or a
    /// segment roll that would leave less than this free fails with
    /// `StorageFull` instead, before the disk is physically full. 0 turns
    /// the check off (appends then fail only on ENOSPC).
    pub min_free_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes_max: 1 << 30,
            index_interval_bytes: 4096,
            preallocate_bytes: 8 << 20,
            preallocation: Preallocation::default(),
            batch_bytes_max: 1 << 20,
            write_bytes_max: 4 << 20,
            flush_interval_ms: 50,
            retention_ms: None,
            retention_bytes: None,
            min_free_bytes: MIN_FREE_BYTES_DEFAULT,
        }
    }
}

/// The default free-space reserve: room for the concurrent preallocation
/// steps of many partitions (128 of the default 8 MiB), the index files
/// written at rolls, and the topic map, and for an operator to react.
pub const MIN_FREE_BYTES_DEFAULT: u64 = 1 << 30;

impl LogConfig {
    /// Refuses settings outside the hard limits, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        let seg = self.segment_bytes_max;
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&seg) {
            return Err(format!(
                "segment_bytes_max {seg} outside {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}"
            ));
        }
        if self.index_interval_bytes == 0 || self.index_interval_bytes > INDEX_INTERVAL_BYTES_MAX {
            return Err(format!(
                "index_interval_bytes {} outside 1..={INDEX_INTERVAL_BYTES_MAX}",
                self.index_interval_bytes
            ));
        }
        if self.batch_bytes_max == 0 || self.batch_bytes_max > BATCH_BYTES_MAX {
            return Err(format!(
                "batch_bytes_max {} outside 1..={BATCH_BYTES_MAX}",
                self.batch_bytes_max
            ));
        }
        if u64::from(self.batch_bytes_max) > seg {
            return Err(format!(
                "batch_bytes_max {} exceeds segment_bytes_max {seg}",
                self.batch_bytes_max
            ));
        }
        if self.preallocate_bytes < PAGE_BYTES as u64 {
            return Err(format!(
                "preallocate_bytes {} below one page ({PAGE_BYTES})",
                self.preallocate_bytes
            ));
        }
        if self.write_bytes_max < PAGE_BYTES {
            return Err(format!(
                "write_bytes_max {} below one page ({PAGE_BYTES})",
                self.write_bytes_max
            ));
        }
        if self.flush_interval_ms == 0 {
            return Err("flush_interval_ms must be at least 1".into());
        }
        Ok(())
    }
}

/// Settings of one shard's storage that all its partitions share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardStorageConfig {
    /// Bytes of recent batches kept in memory for tail reads, per shard.
    pub tail_cache_bytes: usize,
    /// Size of one aligned read for catch-up reads from disk.
    pub read_chunk_bytes: usize,
}

impl Default for ShardStorageConfig {
    fn default() -> Self {
        ShardStorageConfig {
            tail_cache_bytes: 64 << 20,
            read_chunk_bytes: 1 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(LogConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_refusal_names_its_setting() {
        let cases: [(&str, LogConfig); 6] = [
            (
                "segment_bytes_max",
                LogConfig {
                    segment_bytes_max: 100,
                    ..LogConfig::default()
                },
            ),
            (
                "index_interval_bytes",
                LogConfig {
                    index_interval_bytes: 0,
                    ..LogConfig::default()
                },
            ),
            (
                "batch_bytes_max",
                LogConfig {
                    batch_bytes_max: BATCH_BYTES_MAX + 1,
                    ..LogConfig::default()
                },
            ),
            (
                "batch_bytes_max",
                LogConfig {
                    segment_bytes_max: 8192,
                    batch_bytes_max: 8193,
                    ..LogConfig::default()
                },
            ),
            (
                "preallocate_bytes",
                LogConfig {
                    preallocate_bytes: 1,
                    ..LogConfig::default()
                },
            ),
            (
                "flush_interval_ms",
                LogConfig {
                    flush_interval_ms: 0,
                    ..LogConfig::default()
                },
            ),
        ];
        for (setting, config) in cases {
            let err = config.validate().expect_err(setting);
            assert!(err.contains(setting), "{err:?} should name {setting}");
        }
    }
}

/// Most bytes of records one fetch response carries (a request asking for
/// more gets this much), besides one first batch that may be larger.
pub const FETCH_BYTES_MAX: usize = 64 << 20;

/// Most partition entries one request may name, over all its topics.
pub const REQUEST_PARTITIONS_MAX: usize = 10_000;

// ApiVersions version 1 advertises both as `u32`.
const _: () = assert!(FETCH_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(REQUEST_PARTITIONS_MAX <= u32::MAX as usize);

/// The capacity a response buffer starts with: most answers (produce,
/// metadata, errors) fit; a larger one grows it.
pub const RESPONSE_BUFFER_BYTES_INITIAL: usize = 256;

/// Responses queued for a connection's writer, at most; the reader waits
/// past it.
pub const RESPONSES_QUEUED_MAX: usize = 1024;
/// Responses of one connection that are ready together are written with
/// one send, sent as soon as this many bytes wait; a response that is
/// ready alone is written without a copy.
pub const RESPONSE_COALESCE_BYTES_MAX: usize = 64 << 10;

/// Messages that may wait in one core's inbox before senders wait.
pub const INBOX_CAPACITY: usize = 4096;

/// How long shutdown waits for a core's connections to finish their
/// in-flight requests before closing the partitions anyway.
pub const SHUTDOWN_DRAIN_MS: u64 = 5_000;

/// Pending connections each listener queues (as glommio's own bind).
pub const LISTEN_BACKLOG: i32 = 1024;

/// At start, how long a port held by another socket is tried again before
/// it is refused: a broker that has just died still holds its listeners
/// for a few milliseconds (see `probe_port` in `shard::runtime`).
pub const PORT_RELEASE_WAIT_MS: u64 = 2_000;

/// Pause between two tries of a held port.
pub const PORT_RETRY_MS: u64 = 10;

/// Pause after a failed accept (EMFILE and the like) before trying again.
pub const ACCEPT_RETRY_MS: u64 = 20;

/// Largest HTTP request head the metrics endpoint reads; longer ones get
/// 431 and the connection closes.
pub const METRICS_REQUEST_BYTES_MAX: usize = 8 << 10;

/// Header lines the metrics endpoint parses in one request.
pub const METRICS_HEADERS_MAX: usize = 32;

/// How long the metrics endpoint waits for a request head, or for a
/// response write, before closing the connection.
pub const METRICS_IO_TIMEOUT_MS: u64 = 5_000;

/// Longest a fetch may long-poll, whatever it asks for.
pub const FETCH_WAIT_MS_MAX: u32 = 60_000;

// Offline checks and the CLI (src/cli/, src/storage/check.rs).

/// Size of one read while `shardlog check` verifies a segment.
pub const CHECK_READ_BYTES: usize = 1 << 20;
/// Memory `shardlog check` registers with io_uring.
pub const CHECK_IO_MEMORY_BYTES: usize = 1 << 20;
/// How long one fetch of `shardlog consume --follow` waits for records:
/// long enough to cost nothing on an idle topic, short enough that Ctrl-C
/// and `--count` are answered at once.
pub const CONSUME_FOLLOW_WAIT_MS: u32 = 1_000;
/// How long one fetch of `shardlog consume` without `--follow` waits for
/// records that are on their way, before it ends at the end of the log.
pub const CONSUME_WAIT_MS: u32 = 100;
/// Shortest refresh interval of `shardlog stats`.
pub const STATS_INTERVAL_MS_MIN: u64 = 100;
/// While the broker is away, `consume --follow` and `stats` retry after
/// this pause, doubled at each failed retry...
pub const CLI_RECONNECT_BACKOFF_MS_MIN: u64 = 200;
/// ...up to this one.
pub const CLI_RECONNECT_BACKOFF_MS_MAX: u64 = 5_000;
const _: () = assert!(CLI_RECONNECT_BACKOFF_MS_MIN <= CLI_RECONNECT_BACKOFF_MS_MAX);

// Consumer groups (src/group_logic/, src/shard/coordinator/, docs/ARCHITECTURE.md).

/// Partitions of the internal committed-offsets log; a group's offsets
/// live in partition `fnv1a_32(group) % OFFSETS_PARTITIONS`. Fixed for the
/// life of a data directory: changing it would move groups away from
/// their committed offsets.
pub const OFFSETS_PARTITIONS: u32 = 16;
/// Segment size of the committed-offsets log: compaction drops whole
/// sealed segments, so this bounds what one compaction leaves behind.
pub const OFFSETS_SEGMENT_BYTES: u64 = 4 << 20;
/// A committed-offsets partition is compacted (its live entries written
/// anew, older segments dropped) once it holds more than this many times
/// the bytes of its live entries...
pub const OFFSETS_COMPACT_RATIO: u64 = 4;
/// ...and more than this many bytes.
pub const OFFSETS_COMPACT_BYTES_MIN: u64 = 16 << 20;
/// Most groups one core coordinates, counted separately as groups with
/// members and groups with committed offsets; a new group past it is
/// refused (`TooManyGroups`), so a client inventing names cannot grow the
/// coordinator without bound.
pub const GROUPS_PER_CORE_MAX: usize = 100_000;
/// Most members of one group.
pub const GROUP_MEMBERS_MAX: usize = 1_000;
/// Bounds of a member's session timeout.
pub const GROUP_SESSION_TIMEOUT_MS_MIN: u32 = 100;
pub const GROUP_SESSION_TIMEOUT_MS_MAX: u32 = 300_000;
/// Longest a rebalance waits for the members to join again.
pub const GROUP_REBALANCE_TIMEOUT_MS_MAX: u32 = 300_000;
/// How often the coordinator looks for expired sessions and rebalances
/// past their deadline.
pub const GROUP_TIMER_INTERVAL_MS: u64 = 50;
/// How often the coordinator drops the committed offsets of deleted
/// topics (tombstones in the committed-offsets log).
pub const OFFSETS_DELETED_TOPICS_CHECK_MS: u64 = 1_000;
/// Longest metadata string of one committed offset.
pub const OFFSET_METADATA_BYTES_MAX: usize = 4_096;

// Idempotent producers (src/storage/producers.rs, docs/STORAGE.md
// "Producer state").
/// Batches remembered per producer and partition for duplicate detection:
/// Kafka's 5, the most requests a client pipelines per connection.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;
/// Producer ids remembered per partition; past it the one idle longest is
/// forgotten (its next batch gets OUT_OF_ORDER_SEQUENCE and the client
/// bumps its epoch).
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;
/// A producer id idle this long is forgotten (Kafka's
/// `producer.id.expiration.ms`, one day).
pub const PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;
/// Bits of a producer id that name the core that handed it out
/// (src/shard/producer_ids.rs): at most 256 cores.
pub const PRODUCER_ID_CORE_BITS: u32 = 8;
/// Bits of a producer id that count ids within one millisecond on a core.
pub const PRODUCER_ID_COUNTER_BITS: u32 = 12;
// The millisecond clock (under 42 bits until 2109) fits above them.
const _: () = assert!(PRODUCER_ID_CORE_BITS + PRODUCER_ID_COUNTER_BITS + 42 < 64);
/// Largest producer-state snapshot read back at open; one producer takes
/// at most 24 + 16 * PRODUCER_BATCHES_RETAINED bytes.
pub const PRODUCER_SNAPSHOT_BYTES_MAX: usize =
    32 + PRODUCERS_PER_PARTITION_MAX * (24 + 16 * PRODUCER_BATCHES_RETAINED);
const _: () =
    assert!(PRODUCER_BATCHES_RETAINED >= 1 && PRODUCER_BATCHES_RETAINED <= u8::MAX as usize);

/// The native protocol's default shared port; core `i`'s own port follows
/// at `NATIVE_PORT_DEFAULT + 1 + i` unless `core_port_base` says otherwise.
pub const NATIVE_PORT_DEFAULT: u16 = 9392;
/// Kafka's conventional port: core `i` serves Kafka clients as broker `i`
/// on `KAFKA_PORT_DEFAULT + i`, so core 0's address is the bootstrap.
pub const KAFKA_PORT_DEFAULT: u16 = 9092;
/// Partitions of a topic created because a Kafka client named it
/// (Kafka's `num.partitions` default).
pub const DEFAULT_PARTITIONS_DEFAULT: u32 = 1;

/// Settings of the broker process (`shardlog serve`); every one is a flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    pub data_dir: std::path::PathBuf,
    /// The shared address every core listens on (SO_REUSEPORT).
    pub listen: std::net::SocketAddr,
    /// Executors, one per CPU, pinned to CPUs 0..cores.
    pub cores: usize,
    /// Core `i` listens on `core_port_base + i`; `None`: the port after
    /// the shared one (fixed across restarts), or an ephemeral port each
    /// when the shared port is 0. See [`BrokerConfig::core_port`].
    pub core_port_base: Option<u16>,
    /// Where Kafka clients connect: core `i` is Kafka broker `i` on this
    /// port + `i` (an ephemeral port each when it is 0); `None`: off.
    pub kafka_listen: Option<std::net::SocketAddr>,
    /// Create a topic (with `default_partitions`) when a Kafka client
    /// produces to it or asks its metadata, as Kafka does by default.
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic.
    pub default_partitions: u32,
    /// Advertise only core 0 to Kafka clients, as the leader of every
    /// partition: requests for other cores' partitions then hop across
    /// cores. For measuring what the per-core brokers save.
    pub kafka_single_broker: bool,
    /// Host advertised for the per-core ports; defaults to the listen IP.
    pub advertise_host: Option<String>,
    /// Largest request frame (after the length prefix).
    pub frame_bytes_max: u32,
    /// Most simultaneous client connections, over all cores.
    pub connections_max: usize,
    /// Bytes of requests being handled at once on one connection; the
    /// broker stops reading from a connection past it.
    pub inflight_bytes_per_connection: usize,
    /// Bytes of requests being handled at once on one core, and of the
    /// fetch responses they reserve ([`BrokerConfig::fetch_response_reserve_bytes`]).
    pub inflight_bytes_per_core: usize,
    /// Settings of new topics' partitions, unless the topic says otherwise.
    pub log: LogConfig,
    pub shard_storage: ShardStorageConfig,
    /// How often each core applies retention to its partitions.
    pub retention_check_interval_ms: u64,
    /// Memory each executor registers with io_uring.
    pub io_memory_bytes: usize,
    /// Where core 0 serves Prometheus metrics over HTTP; `None`: nowhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            data_dir: "./data".into(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], NATIVE_PORT_DEFAULT)),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            core_port_base: None,
            kafka_listen: Some(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                KAFKA_PORT_DEFAULT,
            ))),
            auto_create_topics: true,
            default_partitions: DEFAULT_PARTITIONS_DEFAULT,
            kafka_single_broker: false,
            advertise_host: None,
            frame_bytes_max: 16 << 20,
            connections_max: 10_000,
            inflight_bytes_per_connection: 64 << 20,
            inflight_bytes_per_core: 512 << 20,
            log: LogConfig::default(),
            shard_storage: ShardStorageConfig::default(),
            retention_check_interval_ms: 60_000,
            io_memory_bytes: 10 << 20,
            metrics_listen: None,
        }
    }
}

impl BrokerConfig {
    /// Core `core`'s own native port: `core_port_base + core`, else the
    /// one after the shared port + `core`; 0 (ephemeral) when the shared
    /// port is 0 and no base is set.
    pub fn core_port(&self, core: usize) -> u16 {
        match (self.core_port_base, self.listen.port()) {
            (Some(base), _) => base + core as u16,
            (None, 0) => 0,
            (None, shared) => shared + 1 + core as u16,
        }
    }

    /// Core `core`'s Kafka address, if Kafka is on: the Kafka port +
    /// `core`, or an ephemeral port when it is 0.
    pub fn kafka_core_addr(&self, core: usize) -> Option<std::net::SocketAddr> {
        self.kafka_listen.map(|addr| {
            let port = match addr.port() {
                0 => 0,
                base => base + core as u16,
            };
            std::net::SocketAddr::new(addr.ip(), port)
        })
    }

    /// Every fixed port the broker will listen on, with what it is for.
    fn fixed_ports(&self) -> Vec<(u16, String)> {
        let mut ports = vec![(self.listen.port(), "listen".to_string())];
        for core in 0..self.cores {
            ports.push((self.core_port(core), format!("core {core}'s native port")));
            if let Some(addr) = self.kafka_core_addr(core) {
                ports.push((addr.port(), format!("core {core}'s Kafka port")));
            }
        }
        if let Some(metrics) = self.metrics_listen {
            ports.push((metrics.port(), "metrics_listen".to_string()));
        }
        ports.retain(|(port, _)| *port != 0);
        ports
    }

    /// What a fetch holds of its core's in-flight budget from when it is
    /// read until its response is written: the records it may return (its
    /// `max_bytes`, within [`FETCH_BYTES_MAX`]) and one batch more (a
    /// response's first batch is returned whole, whatever the limits), but
    /// never more than the whole budget, so that one fetch can always run.
    pub fn fetch_response_reserve_bytes(&self, max_bytes: u32) -> usize {
        let records = (max_bytes as usize).min(FETCH_BYTES_MAX);
        (records + self.log.batch_bytes_max as usize).min(self.inflight_bytes_per_core)
    }

    /// Refuses settings that contradict each other or the hard limits, or
    /// that this machine cannot run (more cores than it has CPUs), naming
    /// the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_on_any_machine()?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.cores > cpus {
            return Err(format!(
                "cores must be 1 to {cpus} (the CPUs this process may use), not {}",
                self.cores
            ));
        }
        Ok(())
    }

    /// Refuses settings that are wrong wherever the broker runs: what
    /// `serve --print-config` checks, so a config written for a larger
    /// machine can still be printed here.
    pub fn validate_on_any_machine(&self) -> Result<(), String> {
        self.log.validate()?;
        if self.cores == 0 {
            return Err("cores must be at least 1".into());
        }
        if self.cores > 1 << PRODUCER_ID_CORE_BITS {
            return Err(format!(
                "cores must be at most {} (the producer ids name their core), not {}",
                1 << PRODUCER_ID_CORE_BITS,
                self.cores
            ));
        }
        if (self.frame_bytes_max as usize) > self.inflight_bytes_per_connection {
            return Err(format!(
                "frame_bytes_max {} exceeds inflight_bytes_per_connection {}",
                self.frame_bytes_max, self.inflight_bytes_per_connection
            ));
        }
        if self.inflight_bytes_per_connection > self.inflight_bytes_per_core {
            return Err(format!(
                "inflight_bytes_per_connection {} exceeds inflight_bytes_per_core {}",
                self.inflight_bytes_per_connection, self.inflight_bytes_per_core
            ));
        }
        if self.frame_bytes_max < self.log.batch_bytes_max {
            return Err(format!(
                "frame_bytes_max {} is below batch_bytes_max {}: no batch could be sent",
                self.frame_bytes_max, self.log.batch_bytes_max
            ));
        }
        if self.connections_max == 0 {
            return Err("connections_max must be at least 1".into());
        }
        let last_core_port = match (self.core_port_base, self.listen.port()) {
            (Some(base), _) => Some(("core_port_base", base as usize + self.cores - 1)),
            (None, 0) => None,
            (None, shared) => Some(("listen", shared as usize + self.cores)),
        };
        let last_kafka_port = self
            .kafka_listen
            .filter(|addr| addr.port() != 0)
            .map(|addr| ("kafka_listen", addr.port() as usize + self.cores - 1));
        for (setting, last) in [last_core_port, last_kafka_port].into_iter().flatten() {
            if last > usize::from(u16::MAX) {
                return Err(format!(
                    "{setting}: the per-core ports of {} cores pass port 65535",
                    self.cores
                ));
            }
        }
        if self.default_partitions == 0 || self.default_partitions > PARTITIONS_MAX {
            return Err(format!(
                "default_partitions must be 1 to {PARTITIONS_MAX}, not {}",
                self.default_partitions
            ));
        }
        let mut seen: std::collections::HashMap<u16, String> = Default::default();
        for (port, what) in self.fixed_ports() {
            if let Some(first) = seen.insert(port, what.clone()) {
                return Err(format!(
                    "port {port} is both {first} and {what}: choose listen, core_port_base, \
                     kafka_listen and metrics_listen so that their ports do not overlap"
                ));
            }
        }
        Ok(())
    }
}
