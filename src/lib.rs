//! shardlog: a durable, Kafka-style message broker, thread-per-core on
//! io_uring (glommio).
//!
//! # Layout
//!
//! - [`config`]: every limit and tunable, in one place.
//! - [`batch`]: the record-batch format shared by the wire and the disk
//!   (sans-IO, zero-copy).
//! - [`protocol`]: the binary protocol, sans-IO, shared by server and client.
//! - [`error`]: the stable wire error codes.
//! - [`metrics`]: per-core and per-partition counters, their Prometheus
//!   exposition and the last-second percentiles of `shardlog stats`.
//! - [`router`]: which core owns a partition.
//! - [`groups`]: consumer groups, sans-IO: placement, membership,
//!   assignment strategies, the committed-offsets records.
//! - [`shard`]: one core's executor, its partitions, the cross-core
//!   messages and the fan-out of requests over cores.
//! - [`server`]: listeners, connections, request dispatch.
//! - [`topics`]: topic names, settings, the persisted topic map.
//! - [`waiters`]: the one registry of waiting futures' wakers (one per
//!   future, withdrawn on drop).
//! - [`storage`]: the partition log each core runs for the partitions it
//!   owns: segments, group commit, indexes, recovery, retention, tail cache.
//! - [`client`]: the blocking client library (admin, producer, consumer)
//!   over std::net, for programs that do not run glommio.
//! - [`logging`]: the binaries' log output on standard error (colour only
//!   on a terminal, `NO_COLOR` honoured).

pub mod batch;
pub mod client;
pub mod config;
pub mod error;
pub mod groups;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod router;
pub mod server;
pub mod shard;
pub mod storage;
pub mod topics;
pub mod waiters;
