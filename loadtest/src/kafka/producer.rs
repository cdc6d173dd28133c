//! One producer thread over Kafka: the native producer's loop (closed loop
//! at most `--inflight` unacknowledged, or open loop at a fixed rate with
//! latency from each record's intended send time) through librdkafka.
//!
//! librdkafka batches, sends and retries on its own threads; a
//! `ThreadedProducer` serves its delivery reports on one more. Each record
//! carries its latency start as the delivery opaque, so the report's
//! callback measures that record's latency the moment its answer is
//! served, and hands it to this thread over a channel: the callback never
//! touches the harness's state, and this thread never waits on
//! librdkafka's locks for longer than an enqueue.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::producer_config;
use crate::payload::{self, Stamp};
use crate::producer::{Destinations, ProducerInterval, RATE_SLEEP_MAX};
use crate::run::{Clock, DrivenTopic, Report, DRAIN_TIMEOUT, THREAD_REPORT_INTERVAL};
use crate::summary::LATENCY_US_MAX;
use crate::workload::Workload;

/// Longest wait for a delivery report before the loop looks at the clock.
const DELIVERY_WAIT_MAX: Duration = Duration::from_millis(100);

/// One record's answer, as its delivery report callback saw it.
struct Delivered {
    latency_us: u64,
    /// librdkafka's error code name (`MessageTimedOut`, ...), or `client`.
    error: Option<String>,
}

/// The producer's context: forwards each delivery report to the thread.
struct DeliveryReports {
    delivered: Sender<Delivered>,
}

impl ClientContext for DeliveryReports {}

impl ProducerContext for DeliveryReports {
    /// When the record's latency starts (its send, or intended send, time).
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, started: Self::DeliveryOpaque) {
        let latency_us = started.elapsed().as_micros() as u64;
        let error = result.as_ref().err().map(|(e, _)| error_name(e));
        // The thread is gone only once the run is over.
        let _ = self.delivered.send(Delivered { latency_us, error });
    }
}

/// How failures are counted: librdkafka's error code, as the native path
/// counts shardlog's error codes by name.
pub fn error_name(error: &KafkaError) -> String {
    error
        .rdkafka_error_code()
        .map_or_else(|| "client".to_string(), |code| format!("{code:?}"))
}

struct ProducerThread<'a> {
    id: u32,
    workload: &'a Workload,
    clock: Clock,
    topics: &'a [DrivenTopic],
    destinations: Destinations,
    producer: ThreadedProducer<DeliveryReports>,
    delivered: Receiver<Delivered>,
    /// Records sent and not yet answered.
    outstanding: usize,
    interval: ProducerInterval,
    interval_started: Instant,
    reports: Sender<Report>,
    record_bytes: u64,
}

/// The Kafka twin of [`crate::producer::run_producer`], same arguments.
pub fn run_producer(
    id: u32,
    workload: &Workload,
    clock: Clock,
    topics: &[DrivenTopic],
    quota: Option<u64>,
    reports: Sender<Report>,
) {
    let (delivered_tx, delivered) = channel();
    let context = DeliveryReports {
        delivered: delivered_tx,
    };
    let producer = match producer_config(workload, id).create_with_context(context) {
        Ok(p) => p,
        Err(e) => {
            let _ = reports.send(Report::ProducerDone {
                error: Some(format!("kafka producer {id}: {e}")),
            });
            return;
        }
    };
    let now = Instant::now();
    let mut thread = ProducerThread {
        id,
        workload,
        clock,
        topics,
        destinations: Destinations::new(id, topics, workload.key_bytes),
        producer,
        delivered,
        outstanding: 0,
        interval: ProducerInterval::new(now >= clock.measure_from),
        interval_started: now,
        reports,
        record_bytes: (workload.record_bytes.max(payload::HEADER_BYTES) + workload.key_bytes)
            as u64,
    };
    let error = thread.send_until_done(quota).err();
    // Every record gets its report within message.timeout.ms (the drain
    // timeout); the flush waits for them.
    let _ = thread.producer.flush(DRAIN_TIMEOUT);
    thread.take_deliveries(Duration::ZERO);
    if thread.outstanding > 0 {
        *thread
            .interval
            .failed
            .entry("unanswered after flush".into())
            .or_default() += thread.outstanding as u64;
    }
    thread.flush_interval();
    let _ = thread.reports.send(Report::ProducerDone { error });
}

impl ProducerThread<'_> {
    fn send_until_done(&mut self, quota: Option<u64>) -> Result<(), String> {
        let rate_per_producer = self
            .workload
            .rate
            .map(|r| r / f64::from(self.workload.producers));
        let topics = self.topics;
        let mut value = Vec::with_capacity(self.workload.record_bytes);
        let mut sequence = 0u64;
        loop {
            let now = Instant::now();
            self.take_deliveries(Duration::ZERO);
            if quota.is_some_and(|q| sequence >= q)
                || self.clock.stop_at.is_some_and(|stop| now >= stop)
            {
                return Ok(());
            }
            let started = match rate_per_producer {
                Some(rate) => {
                    let intended =
                        self.clock.start + Duration::from_secs_f64(sequence as f64 / rate);
                    if intended > now {
                        std::thread::sleep((intended - now).min(RATE_SLEEP_MAX));
                        continue;
                    }
                    intended
                }
                None => {
                    if self.outstanding >= self.workload.inflight {
                        self.take_deliveries(DELIVERY_WAIT_MAX);
                        continue;
                    }
                    now
                }
            };
            let behind = now.saturating_duration_since(started).as_nanos() as u64;
            let stamp = Stamp {
                producer: self.id,
                sequence,
                send_time_ns: payload::unix_now_ns().saturating_sub(behind),
            };
            payload::encode(stamp, self.workload.record_bytes, &mut value);
            let (topic, partition, key) = self.destinations.of(sequence);
            sequence += 1;
            self.interval.sent += 1;
            let mut record = BaseRecord::with_opaque_to(&topics[topic].name, Box::new(started))
                .payload(&value)
                .partition(partition as i32);
            if let Some(key) = &key {
                record = record.key(key);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => {
                        self.outstanding += 1;
                        break;
                    }
                    // librdkafka's queue is full: wait for answers, then
                    // enqueue the same record (its latency still counts
                    // from its start).
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        self.take_deliveries(DELIVERY_WAIT_MAX);
                    }
                    Err((e, _)) => {
                        *self.interval.failed.entry(error_name(&e)).or_default() += 1;
                        return Err(format!("kafka producer {}: {e}", self.id));
                    }
                }
            }
        }
    }

    /// Counts the delivery reports that came in: waits up to `wait` for
    /// the first (zero: takes only those already there), then takes the
    /// rest without waiting.
    fn take_deliveries(&mut self, wait: Duration) {
        let first = if wait.is_zero() {
            self.delivered.try_recv().ok()
        } else {
            self.delivered.recv_timeout(wait).ok()
        };
        let mut next = first;
        while let Some(delivered) = next {
            self.count(delivered);
            next = self.delivered.try_recv().ok();
        }
        self.maybe_report(Instant::now());
    }

    fn count(&mut self, delivered: Delivered) {
        self.outstanding = self.outstanding.saturating_sub(1);
        match delivered.error {
            None => {
                self.interval
                    .ack_latency_us
                    .saturating_record(delivered.latency_us.clamp(1, LATENCY_US_MAX));
                self.interval.acknowledged += 1;
                self.interval.acknowledged_bytes += self.record_bytes;
            }
            Some(name) => *self.interval.failed.entry(name).or_default() += 1,
        }
    }

    /// Sends the interval every tenth of a second, and at the end of
    /// warmup so the measured window starts clean.
    fn maybe_report(&mut self, now: Instant) {
        let warmup_ends = !self.interval.measured && now >= self.clock.measure_from;
        if warmup_ends || now.duration_since(self.interval_started) >= THREAD_REPORT_INTERVAL {
            self.flush_interval();
            self.interval_started = now;
        }
    }

    fn flush_interval(&mut self) {
        let measured = Instant::now() >= self.clock.measure_from;
        let done = std::mem::replace(&mut self.interval, ProducerInterval::new(measured));
        let _ = self.reports.send(Report::Producer(done));
    }
}
