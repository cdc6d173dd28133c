//! shardlog's load harness: drives a running broker with the project's
//! client and reports throughput and latency; the `shardlog-loadtest`
//! binary is a thin command line over it.
//!
//! # Layout
//!
//! - [`workload`]: what to run, from the command line.
//! - [`payload`]: the bytes of each record (producer, sequence, send time).
//! - [`producer`] and [`consumer`]: one thread each, reporting every second.
//! - [`pipeline`]: the producer of `--pipeline N`: one request per record,
//!   N in flight, on raw connections.
//! - [`resources`]: the broker's CPU (its metrics endpoint) and the data
//!   disk's writes (/proc/diskstats) over the measured window.
//! - [`kafka`]: the same producers and consumers over the Kafka protocol,
//!   through librdkafka (`--protocol kafka`).
//! - [`provenance`]: what produced a run (versions, host, broker, limits).
//! - [`run`]: starting the threads, the live line, the summary.
//! - [`summary`]: what one run measured ([`summary::RunSummary`], written as
//!   `summary.json`), the latency histograms and the per-second timeline.
//! - [`interval_log`]: latency second by second, as HdrHistogram `.hlog`.
//! - [`report`]: the `.hgrm` percentile distributions, `summary.json`, the
//!   plots (SVG, and the same as PNG), and the text report printed at the
//!   end of a run.
//! - [`compare`]: two `summary.json` files side by side, with ratios.
//! - [`hostile`]: the `shardlog-hostile` tool: a normal producer with and
//!   without hostile clients.
//! - [`verify`]: the verifying workload (every record accounted for) and
//!   its Jepsen-style checker.
//! - [`suite`]: workload files, a suite of runs in TOML run by one command.
//! - [`soak`]: the soak driver behind `shardlog-soak`: a broker child
//!   process killed and restarted under the verifying workload.

pub mod compare;
pub mod consumer;
pub mod hostile;
pub mod interval_log;
pub mod kafka;
pub mod payload;
pub mod pipeline;
pub mod producer;
pub mod provenance;
pub mod report;
pub mod resources;
pub mod run;
pub mod soak;
pub mod suite;
pub mod summary;
pub mod verify;
pub mod workload;
