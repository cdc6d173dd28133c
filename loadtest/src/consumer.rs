//! One consumer thread: reads its share of the partitions from where they
//! ended when the run started (`--consumers-from tail`) or from the oldest
//! record kept (`earliest`), and reports records, bytes and end-to-end
//! latency (consume time minus the send time the record carries) every
//! tenth of a second. Records older than the run (a backlog) are counted but have no
//! end-to-end latency: they were waiting before the run began.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use hdrhistogram::Histogram;
use shardlog::client::{Consumer, ConsumerConfig, StartFrom};

use crate::payload;
use crate::run::{Clock, Report, THREAD_REPORT_INTERVAL};
use crate::summary::{latency_histogram, LATENCY_US_MAX};
use crate::workload::{ConsumersFrom, Workload};

/// How long one fetch may wait for records.
pub const FETCH_WAIT_MS: u32 = 100;

#[derive(Debug)]
pub struct ConsumerInterval {
    pub consumed: u64,
    pub bytes: u64,
    pub e2e_latency_us: Histogram<u64>,
    pub measured: bool,
}

impl ConsumerInterval {
    pub(crate) fn new(measured: bool) -> Self {
        ConsumerInterval {
            consumed: 0,
            bytes: 0,
            e2e_latency_us: latency_histogram(),
            measured,
        }
    }

    /// Counts one record consumed at `now_ns` (Unix): its bytes, and its
    /// end-to-end latency when it is a harness record of this run.
    pub(crate) fn count(&mut self, value: &[u8], key_bytes: usize, now_ns: u64, clock: Clock) {
        self.consumed += 1;
        self.bytes += (value.len() + key_bytes) as u64;
        let stamp =
            payload::decode(value).filter(|stamp| stamp.send_time_ns >= clock.started_unix_ns);
        if let Some(stamp) = stamp {
            let us = now_ns.saturating_sub(stamp.send_time_ns) / 1_000;
            self.e2e_latency_us
                .saturating_record(us.clamp(1, LATENCY_US_MAX));
        }
    }
}

/// Assigns `partitions` at their current end, waits on `ready` (so no
/// producer starts before every consumer is in place), then consumes until
/// `stop`.
pub fn run_consumer(
    workload: &Workload,
    clock: Clock,
    partitions: Vec<(String, u32)>,
    ready: Arc<Barrier>,
    stop: Arc<AtomicBool>,
    reports: Sender<Report>,
) {
    let assigned = (|| {
        let mut consumer = Consumer::new(ConsumerConfig {
            bootstrap: workload.broker.clone(),
            max_wait_ms: FETCH_WAIT_MS,
            ..ConsumerConfig::default()
        })?;
        let start_from = match workload.consumers_from {
            ConsumersFrom::Tail => StartFrom::Latest,
            ConsumersFrom::Earliest => StartFrom::Earliest,
        };
        for (topic, partition) in &partitions {
            consumer.assign(topic, *partition, start_from)?;
        }
        Ok::<_, shardlog::client::ClientError>(consumer)
    })();
    ready.wait();
    let mut consumer = match assigned {
        Ok(c) => c,
        Err(e) => {
            let _ = reports.send(Report::ConsumerDone {
                error: Some(format!("consumer: {e}")),
            });
            return;
        }
    };
    // Producers start at `clock.start`; so do reads, or a backlog would be
    // read before the clock (and the measurement) began.
    std::thread::sleep(clock.start.saturating_duration_since(Instant::now()));
    let mut interval_started = Instant::now();
    let mut interval = ConsumerInterval::new(interval_started >= clock.measure_from);
    let mut error = None;
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll() {
            Ok(records) => {
                let now_ns = payload::unix_now_ns();
                for record in records {
                    let key_bytes = record.key.as_ref().map_or(0, |k| k.len());
                    interval.count(&record.value, key_bytes, now_ns, clock);
                }
            }
            Err(e) => {
                error = Some(format!("consumer: {e}"));
                break;
            }
        }
        let now = Instant::now();
        let warmup_ends = !interval.measured && now >= clock.measure_from;
        if warmup_ends || now.duration_since(interval_started) >= THREAD_REPORT_INTERVAL {
            let done = std::mem::replace(
                &mut interval,
                ConsumerInterval::new(now >= clock.measure_from),
            );
            let _ = reports.send(Report::Consumer(done));
            interval_started = now;
        }
    }
    let _ = reports.send(Report::Consumer(interval));
    let _ = reports.send(Report::ConsumerDone { error });
}
