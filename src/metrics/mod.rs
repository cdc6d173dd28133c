//! Metrics: what each core and each partition counts, and how it is shown.
//!
//! Every counter lives on the core that does the work, in plain (non-atomic)
//! fields touched only by that core's executor. A scrape asks every core
//! for a snapshot over the cross-core channels and renders them together,
//! so nothing on the data path is shared between threads.
//!
//! - [`histogram`]: fixed-bucket histograms (Prometheus's shape).
//! - [`window`]: percentiles over the last second (`shardlog stats`).
//! - [`core`]: a core's live counters and the snapshots sent between cores.
//! - [`process`]: the process as a whole (`process_*` from `/proc/self`)
//!   and the build it runs.
//! - [`exposition`]: the Prometheus text format of the snapshots.
//!
//! The per-partition counters of the storage engine live with each log
//! (`storage::LogStats`); the HTTP endpoint is `server::metrics_http`.

pub mod core;
pub mod exposition;
pub mod histogram;
pub mod process;
pub mod window;

pub use self::core::{CoreGauges, CoreMetrics, CoreSnapshot, GroupCommit, PartitionSnapshot};
