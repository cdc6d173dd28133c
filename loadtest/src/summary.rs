//! What one run measured: the summary (written as `summary.json`), the
//! latency histograms and the per-second timeline. The field names of
//! [`RunSummary`] are a contract: scripts read them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;
use crate::resources::{BrokerUsage, DiskUsage};
use crate::workload::Workload;

/// Latencies are recorded in microseconds, 3 significant digits, up to
/// this many (larger values are clamped to it and counted as the max).
pub const LATENCY_US_MAX: u64 = 60_000_000;

pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

/// Percentiles of one latency distribution, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub p9999_us: u64,
    pub max_us: u64,
    pub count: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            p9999_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
            count: h.len(),
        }
    }
}

/// One second of the measured run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the measurement started (the end of warmup).
    pub t_s: f64,
    pub produce_records_per_s: f64,
    pub produce_mb_per_s: f64,
    pub consume_records_per_s: f64,
    pub consume_mb_per_s: f64,
    pub produce_ack_p50_us: u64,
    pub produce_ack_p99_us: u64,
    /// Records acknowledged but not yet consumed, at the end of the second
    /// (with `--consumers-from earliest`, the backlog not yet read too).
    pub consumer_lag: u64,
}

/// The whole run. Throughput and latency cover the measurement window
/// (after warmup); the record counts cover the whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub produce_records_per_s: f64,
    pub produce_mb_per_s: f64,
    pub consume_records_per_s: f64,
    pub consume_mb_per_s: f64,
    pub produce_ack_p50_us: u64,
    pub produce_ack_p99_us: u64,
    pub produce_ack_p9999_us: u64,
    pub e2e_p99_us: u64,
    /// Failed records by error name.
    pub errors: BTreeMap<String, u64>,
    pub produce_ack: Percentiles,
    pub e2e: Percentiles,
    pub records_sent: u64,
    pub records_acknowledged: u64,
    pub records_failed: u64,
    pub records_consumed: u64,
    /// Seconds of the measurement window.
    pub measured_s: f64,
    /// For fixed-rate runs: the rate asked for and the rate achieved.
    pub target_records_per_s: Option<f64>,
    /// The workload, as given on the command line, as strings (kept for
    /// the scripts that read it; `workload_settings` has it typed).
    pub workload: BTreeMap<String, String>,
    pub timeline: Vec<Sample>,
    /// The workload, typed, with the flags' names. `None` in summaries
    /// written before it was added.
    #[serde(default)]
    pub workload_settings: Option<Workload>,
    /// What produced the run: versions, host, broker, limits. `None` in
    /// summaries written before it was added.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// Records and bytes the topic held when the run started, which
    /// `--consumers-from earliest` consumers read before this run's
    /// (0 for consumers at the tail).
    #[serde(default)]
    pub backlog_records: u64,
    #[serde(default)]
    pub backlog_bytes: u64,
    /// Produce requests answered with success per second of the measured
    /// window, when the harness counts them (`--pipeline`: one per record);
    /// `None` for the client's batched producer.
    #[serde(default)]
    pub produce_requests_per_s: Option<f64>,
    /// Most produce requests one producer had in flight at once
    /// (`--pipeline`).
    #[serde(default)]
    pub requests_in_flight_max: Option<u64>,
    /// The broker's CPU over the measured window (`--broker-metrics`).
    #[serde(default)]
    pub broker_usage: Option<BrokerUsage>,
    /// The data disk over the measured window (`--data-dir`).
    #[serde(default)]
    pub disk_usage: Option<DiskUsage>,
}

impl RunSummary {
    /// Fills the headline fields from the two distributions.
    pub fn set_latencies(&mut self, produce_ack: &Histogram<u64>, e2e: &Histogram<u64>) {
        self.produce_ack = Percentiles::of(produce_ack);
        self.e2e = Percentiles::of(e2e);
        self.produce_ack_p50_us = self.produce_ack.p50_us;
        self.produce_ack_p99_us = self.produce_ack.p99_us;
        self.produce_ack_p9999_us = self.produce_ack.p9999_us;
        self.e2e_p99_us = self.e2e.p99_us;
    }
}
