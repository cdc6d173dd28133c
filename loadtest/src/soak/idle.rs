//! The soak's idle phase: consumers that long-poll a topic nobody writes
//! to for the whole run, as a consumer tailing a quiet topic does. Each
//! poll times out empty after [`IDLE_FETCH_WAIT_MS`]; a broker that kept
//! anything per timed-out poll (a waker, a task) crashed a core after
//! ~10,900 of them. At the end one record goes to every idle partition and
//! the idle consumers must read each of them: still served, still woken.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shardlog::client::{Acks, Consumer, Producer, ProducerConfig, ProducerRecord, StartFrom};

use crate::verify::consumer::soak_consumer_config;

/// The topic the idle consumers poll; it gets records only at the end.
pub const IDLE_TOPIC: &str = "soak-idle";
/// How long one idle fetch waits: short, so a run makes many polls.
const IDLE_FETCH_WAIT_MS: u32 = 1;
/// Pause after a failed fetch (the broker restarting) before the next.
const ERROR_PAUSE: Duration = Duration::from_millis(100);
/// How long the closing records may take to be acknowledged and read.
pub const IDLE_WAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the idle consumers did, for the report.
#[derive(Default)]
pub struct IdleCounters {
    /// Fetches answered (empty or not).
    pub polls: AtomicU64,
    /// Records read from the idle topic.
    pub records_read: AtomicU64,
}

/// What the idle phase came to, for the report.
pub struct IdleOutcome {
    pub polls: u64,
    pub records_read: u64,
    pub records_expected: u64,
}

/// Polls every partition of [`IDLE_TOPIC`] from offset 0 until `stop`.
pub fn run_idle_consumer(
    broker: &str,
    partitions: u32,
    stop: &AtomicBool,
    counters: &IdleCounters,
) {
    let config = soak_consumer_config(broker, IDLE_FETCH_WAIT_MS);
    let mut consumer = match Consumer::new(config) {
        Ok(consumer) => consumer,
        Err(err) => {
            tracing::error!(%err, "idle consumer");
            return;
        }
    };
    let mut assigned = false;
    while !stop.load(Ordering::Relaxed) {
        if !assigned {
            assigned = (0..partitions)
                .all(|p| consumer.assign(IDLE_TOPIC, p, StartFrom::Offset(0)).is_ok());
            if !assigned {
                std::thread::sleep(ERROR_PAUSE);
                continue;
            }
        }
        match consumer.poll() {
            Ok(records) => {
                counters.polls.fetch_add(1, Ordering::Relaxed);
                counters
                    .records_read
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::debug!(%err, "idle fetch failed, trying again");
                std::thread::sleep(ERROR_PAUSE);
            }
        }
    }
}

/// Produces one record to every idle partition (durably, retried across a
/// restart); `Err` says which did not make it.
pub fn end_the_idle_phase(broker: &str, partitions: u32) -> Result<(), String> {
    let mut producer = Producer::new(ProducerConfig {
        bootstrap: broker.to_string(),
        acks: Acks::Durable,
        linger_ms: 0,
        retries: 20,
        retry_backoff_ms: 200,
        ..ProducerConfig::default()
    })
    .map_err(|e| format!("idle topic producer: {e}"))?;
    for partition in 0..partitions {
        producer
            .send(
                IDLE_TOPIC,
                ProducerRecord::new(format!("idle-end-{partition}")).partition(partition),
            )
            .map_err(|e| format!("producing to the idle topic: {e}"))?;
    }
    let failed: Vec<String> = producer
        .flush()
        .into_iter()
        .filter_map(|d| {
            d.result
                .err()
                .map(|e| format!("partition {}: {e}", d.partition))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "producing to the idle topic: {}",
            failed.join("; ")
        ))
    }
}

/// Waits until the idle consumers have read `expected` records in all, or
/// [`IDLE_WAKE_TIMEOUT`] passes; returns what they read.
pub fn wait_for_idle_reads(counters: &IdleCounters, expected: u64) -> u64 {
    let deadline = Instant::now() + IDLE_WAKE_TIMEOUT;
    loop {
        let read = counters.records_read.load(Ordering::Relaxed);
        if read >= expected || Instant::now() >= deadline {
            return read;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
