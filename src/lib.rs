//! shardlog: a durable, Kafka-style message broker, thread-per-core on
//! io_uring (glommio).
//!
//! # Layout
//!
//! The workspace's crates show the architecture:
//!
//! - `crates/protocol` (`shardlog-protocol`): the formats, sans-IO, on any
//!   OS: frames and every message of the binary protocol, the record-batch
//!   format, the wire error codes, partition placement, name rules.
//!   Re-exported here as [`protocol`], [`batch`], [`error`] and [`router`].
//! - `crates/client` (`shardlog-client`): the blocking client library over
//!   std::net, no glommio; re-exported here as [`client`].
//! - this crate, `shardlog`: the broker and the `shardlog` binary.
//! - `loadtest/`: the load harness, the soak driver, the hostile clients.
//!
//! This crate's modules:
//!
//! - [`config`]: every limit and tunable, in one place.
//! - [`server`]: listeners, connections (for either front door), the
//!   native protocol's dispatch.
//! - [`kafka`]: Kafka's wire protocol, the second front door: each core
//!   a Kafka broker; requests translated onto the same shard routes.
//! - [`shard`]: one core's executor as a few services: `partitions`
//!   (the partitions it owns, the topic map, the tail cache), `peers` (the
//!   cross-core channels and the one scatter/gather) and `coordinator`
//!   (the consumer groups it coordinates); the fan-out of requests over
//!   cores, the cross-core messages, topic changes, startup and shutdown.
//! - [`storage`]: the partition log each core runs for the partitions it
//!   owns: segments, group commit, indexes, recovery, retention, tail cache.
//! - [`topics`]: topic settings, ids, the persisted topic map.
//! - [`group_logic`]: consumer groups, sans-IO: placement, membership,
//!   assignment strategies, the committed-offsets records (the rules that
//!   `shard::coordinator` runs; `protocol::groups` is their messages).
//! - [`metrics`]: per-core and per-partition counters, their Prometheus
//!   exposition and the last-second percentiles of `shardlog stats`.
//! - [`units`]: durations and sizes with units (`30s`, `64KiB`), parsed
//!   the same way for flags, environment variables and TOML files.
//! - [`waiters`]: the one registry of waiting futures' wakers (one per
//!   future, withdrawn on drop).
//! - [`logging`]: the binaries' log output on standard error (colour only
//!   on a terminal, `NO_COLOR` honoured).
//! - `cli` (the binary's): the `shardlog` commands.

pub use shardlog_client as client;
pub use shardlog_protocol as protocol;
pub use shardlog_protocol::placement as router;
pub use shardlog_protocol::{batch, error};

pub mod config;
pub mod group_logic;
pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod shard;
pub mod storage;
pub mod topics;
pub mod units;
pub mod waiters;
