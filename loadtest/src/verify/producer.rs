//! One verifying producer thread: sends records at a fixed rate, each
//! stamped with its producer id and sequence, and writes down what became
//! of every one ([`Outcome`]). It keeps going through broker outages: the
//! client resends a batch after a retriable error (a refused or lost
//! connection, a broker shutting down) for as long as
//! [`ProducerSettings::retry_for`] allows.
//!
//! Batches of one partition are answered in order (the client keeps one in
//! flight per partition), so each partition keeps a queue of the sequences
//! it has outstanding and a delivery of `n` records answers the first `n`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardlog::client::{
    Acks, ConnectionConfig, Delivery, Producer, ProducerConfig, ProducerRecord,
};

use super::history::{Outcome, ProducerHistory};
use crate::payload::{self, Stamp};
use crate::summary::{latency_histogram, LATENCY_US_MAX};

/// Most records one producer has sent and not yet had answered; past it
/// the producer waits for answers instead of sending (an outage must not
/// fill the client's buffer and block `send`).
pub const OUTSTANDING_MAX: usize = 20_000;
/// A producer held up (by an outage) catches up on at most this much of its
/// schedule; the rest is skipped, not burst.
const CATCH_UP_MAX: Duration = Duration::from_secs(1);
/// Longest a producer sleeps before looking for answers again.
const PACING_SLEEP_MAX: Duration = Duration::from_millis(2);
/// Wait before resending a batch that failed retriably.
const RETRY_BACKOFF_MS: u64 = 100;

/// What every verifying producer is told.
#[derive(Clone, Debug)]
pub struct ProducerSettings {
    pub broker: String,
    pub topic: String,
    pub partitions: u32,
    pub acks: Acks,
    /// The client's `idempotence`: a resend is not written twice.
    pub idempotence: bool,
    /// Records per second for this producer.
    pub rate: f64,
    pub record_bytes: usize,
    /// A batch is resent after retriable errors for about this long before
    /// it fails: longer than any outage the run causes.
    pub retry_for: Duration,
    /// After `stop`, how long the producer may wait for its last answers.
    pub drain_timeout: Duration,
}

/// Acknowledgements and their latency, added up by every producer and
/// taken by the sampler once a second.
#[derive(Debug)]
pub struct AckInterval {
    pub acknowledged: u64,
    pub failed: u64,
    pub ack_latency_us: Histogram<u64>,
}

impl Default for AckInterval {
    fn default() -> Self {
        AckInterval {
            acknowledged: 0,
            failed: 0,
            ack_latency_us: latency_histogram(),
        }
    }
}

/// The interval every producer adds to.
pub type SharedAcks = Mutex<AckInterval>;

/// Runs producer `id` until `stop`, then waits (up to the drain timeout)
/// for the answers still due; returns what became of every record.
pub fn run_verifying_producer(
    id: u32,
    settings: &ProducerSettings,
    stop: &AtomicBool,
    acks: &SharedAcks,
) -> Result<ProducerHistory, String> {
    let retries = (settings.retry_for.as_millis() as u64 / RETRY_BACKOFF_MS).max(1);
    let config = ProducerConfig {
        bootstrap: settings.broker.clone(),
        acks: settings.acks,
        idempotence: settings.idempotence,
        linger_ms: 2,
        retries: u32::try_from(retries).unwrap_or(u32::MAX),
        retry_backoff_ms: RETRY_BACKOFF_MS,
        connection: ConnectionConfig {
            connect_timeout_ms: 1_000,
            request_timeout_ms: 10_000,
            ..ConnectionConfig::default()
        },
        ..ProducerConfig::default()
    };
    let producer = Producer::new(config).map_err(|e| format!("producer {id}: {e}"))?;
    let mut thread = VerifyingProducer {
        id,
        settings,
        producer,
        history: ProducerHistory {
            producer: id,
            outcomes: Vec::new(),
        },
        outstanding: vec![VecDeque::new(); settings.partitions as usize],
        outstanding_count: 0,
        acks,
    };
    thread.send_until(stop);
    thread.drain();
    Ok(thread.history)
}

struct VerifyingProducer<'a> {
    id: u32,
    settings: &'a ProducerSettings,
    producer: Producer,
    history: ProducerHistory,
    /// Per partition, the sequence and send time of each unanswered record.
    outstanding: Vec<VecDeque<(u64, Instant)>>,
    outstanding_count: usize,
    acks: &'a SharedAcks,
}

impl VerifyingProducer<'_> {
    fn send_until(&mut self, stop: &AtomicBool) {
        let period = Duration::from_secs_f64(1.0 / self.settings.rate);
        let mut next_at = Instant::now();
        let mut value = Vec::with_capacity(self.settings.record_bytes);
        while !stop.load(Ordering::Relaxed) {
            if self.outstanding_count >= OUTSTANDING_MAX {
                let answers = self.producer.poll_wait();
                self.handle(answers);
                continue;
            }
            let now = Instant::now();
            if now < next_at {
                let answers = self.producer.poll();
                self.handle(answers);
                std::thread::sleep((next_at - now).min(PACING_SLEEP_MAX));
                continue;
            }
            next_at += period;
            if let Some(floor) = now.checked_sub(CATCH_UP_MAX) {
                next_at = next_at.max(floor);
            }
            self.send_one(&mut value);
        }
    }

    fn send_one(&mut self, value: &mut Vec<u8>) {
        let sequence = self.history.outcomes.len() as u64;
        let stamp = Stamp {
            producer: self.id,
            sequence,
            send_time_ns: payload::unix_now_ns(),
        };
        payload::encode(stamp, self.settings.record_bytes, value);
        let partition =
            ((sequence + u64::from(self.id)) % u64::from(self.settings.partitions)) as u32;
        let record = ProducerRecord::new(value.clone()).partition(partition);
        match self.producer.send(&self.settings.topic, record) {
            Ok(()) => {
                self.history.outcomes.push(Outcome::Unknown);
                self.outstanding[partition as usize].push_back((sequence, Instant::now()));
                self.outstanding_count += 1;
            }
            Err(err) => {
                // Not buffered, never sent.
                tracing::debug!(producer = self.id, %err, "send refused");
                self.history.outcomes.push(Outcome::Failed);
                self.acks.lock().expect("acks lock").failed += 1;
            }
        }
    }

    /// After `stop`: every buffered record goes out, and the answers are
    /// awaited until the drain timeout; what is left stays unknown.
    fn drain(&mut self) {
        let deadline = Instant::now() + self.settings.drain_timeout;
        while self.outstanding_count > 0 && Instant::now() < deadline {
            let answers = self.producer.poll_wait();
            self.handle(answers);
        }
    }

    fn handle(&mut self, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut interval = AckInterval::default();
        for delivery in deliveries {
            let queue = &mut self.outstanding[delivery.partition as usize];
            let count = (delivery.record_count as usize).min(queue.len());
            if count < delivery.record_count as usize {
                tracing::error!(
                    producer = self.id,
                    partition = delivery.partition,
                    "a delivery answers more records than are outstanding"
                );
            }
            self.outstanding_count -= count;
            let base = match &delivery.result {
                Ok(Some(base)) => Some(*base),
                Ok(None) | Err(_) => None,
            };
            if let Err(err) = &delivery.result {
                tracing::debug!(producer = self.id, %err, "batch failed");
            }
            for (i, (sequence, sent_at)) in queue.drain(..count).enumerate() {
                let outcome = match base {
                    Some(base) => {
                        interval.acknowledged += 1;
                        let us = now.saturating_duration_since(sent_at).as_micros() as u64;
                        interval
                            .ack_latency_us
                            .saturating_record(us.clamp(1, LATENCY_US_MAX));
                        Outcome::Acknowledged {
                            partition: delivery.partition,
                            offset: base + i as u64,
                        }
                    }
                    None => {
                        interval.failed += 1;
                        Outcome::Failed
                    }
                };
                self.history.outcomes[sequence as usize] = outcome;
            }
        }
        let mut shared = self.acks.lock().expect("acks lock");
        shared.acknowledged += interval.acknowledged;
        shared.failed += interval.failed;
        // Both histograms have the same bounds: adding cannot fail.
        let _ = shared.ack_latency_us.add(&interval.ack_latency_us);
    }
}
