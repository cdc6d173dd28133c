//! Once a second: the acknowledgements of the last second and their p99,
//! what the consumers read, and the broker's RSS and open files (from
//! /proc, when a broker runs).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::broker::{open_files, rss_bytes};
use crate::summary::latency_histogram;
use crate::verify::producer::{AckInterval, SharedAcks};

pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One second of the run. Field names are a contract (`soak.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the load started, at the end of this sample.
    pub t_s: f64,
    /// Records acknowledged in this second.
    pub acknowledged: u64,
    /// Records the producers gave up on in this second.
    pub failed: u64,
    /// Records the consumers read in this second.
    pub consumed: u64,
    /// p99 of the acknowledgements' latency (send to acknowledgement) in
    /// this second, in milliseconds; `None` without acknowledgements.
    pub ack_p99_ms: Option<f64>,
    /// The broker's resident memory, in bytes; `None` while it is down.
    pub rss_bytes: Option<u64>,
    /// The broker's open file descriptors; `None` while it is down.
    pub open_files: Option<u64>,
}

/// What the sampler reads from.
pub struct Gauges<'a> {
    pub acks: &'a SharedAcks,
    pub consumed: &'a AtomicU64,
    /// The broker's pid, 0 while none runs.
    pub broker_pid: &'a AtomicU32,
}

/// Samples every second until `stop`; `live` gets each sample as it is
/// taken. Returns the samples and every acknowledgement's latency.
pub fn run_sampler(
    gauges: &Gauges<'_>,
    stop: &AtomicBool,
    mut live: impl FnMut(&Sample),
) -> (Vec<Sample>, Histogram<u64>) {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut all = latency_histogram();
    let mut consumed_before = 0;
    let mut next = start + SAMPLE_INTERVAL;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        next += SAMPLE_INTERVAL;
        let interval = std::mem::take(&mut *gauges.acks.lock().expect("acks lock")) as AckInterval;
        let _ = all.add(&interval.ack_latency_us);
        let consumed = gauges.consumed.load(Ordering::Relaxed);
        let pid = gauges.broker_pid.load(Ordering::Relaxed);
        let h = &interval.ack_latency_us;
        let sample = Sample {
            t_s: start.elapsed().as_secs_f64(),
            acknowledged: interval.acknowledged,
            failed: interval.failed,
            consumed: consumed - consumed_before,
            ack_p99_ms: (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1_000.0),
            rss_bytes: (pid != 0).then(|| rss_bytes(pid)).flatten(),
            open_files: (pid != 0).then(|| open_files(pid)).flatten(),
        };
        consumed_before = consumed;
        live(&sample);
        samples.push(sample);
    }
    // What came after the last full second still counts in the totals.
    let rest = std::mem::take(&mut *gauges.acks.lock().expect("acks lock"));
    let _ = all.add(&rest.ack_latency_us);
    (samples, all)
}
