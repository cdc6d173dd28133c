//! One producer thread: sends records closed-loop (at most `--inflight`
//! unacknowledged) or open-loop at a fixed rate, and reports what was
//! acknowledged, with what latency, every tenth of a second
//! ([`THREAD_REPORT_INTERVAL`](crate::run::THREAD_REPORT_INTERVAL)).
//!
//! Latency is from the record's send time (closed loop) or its intended
//! send time (fixed rate: a record due while the producer was held up
//! still counts from when it was due, which corrects coordinated omission)
//! to its acknowledgement. Batches of one partition are acknowledged in
//! order, so each partition keeps a queue of its records' start times.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardlog::client::partitioner::partition_for_key;
use shardlog::client::{Delivery, Producer, ProducerConfig, ProducerRecord};

use crate::payload::{self, Stamp};
use crate::run::{Clock, DrivenTopic, Report, THREAD_REPORT_INTERVAL};
use crate::summary::{latency_histogram, LATENCY_US_MAX};
use crate::workload::Workload;

/// Distinct keys per producer when records carry keys.
const KEYS_PER_PRODUCER: u64 = 10_000;
/// Longest a fixed-rate producer sleeps before looking for answers again.
pub(crate) const RATE_SLEEP_MAX: Duration = Duration::from_micros(200);

/// What one producer did in one interval.
#[derive(Debug)]
pub struct ProducerInterval {
    pub sent: u64,
    pub acknowledged: u64,
    pub acknowledged_bytes: u64,
    pub failed: BTreeMap<String, u64>,
    pub ack_latency_us: Histogram<u64>,
    /// The interval lies in the measurement window (after warmup).
    pub measured: bool,
    /// Produce requests answered with success, when the producer counts
    /// them (`requests_counted`: the pipelined producer, one record each;
    /// the client's producer groups records out of the harness's sight).
    pub requests_acknowledged: u64,
    pub requests_counted: bool,
    /// Most requests in flight at once during the interval (when counted).
    pub requests_in_flight_max: u64,
}

impl ProducerInterval {
    pub(crate) fn new(measured: bool) -> Self {
        ProducerInterval {
            sent: 0,
            acknowledged: 0,
            acknowledged_bytes: 0,
            failed: BTreeMap::new(),
            ack_latency_us: latency_histogram(),
            measured,
            requests_acknowledged: 0,
            requests_counted: false,
            requests_in_flight_max: 0,
        }
    }

    /// An interval of a producer that counts its requests.
    pub(crate) fn counting_requests(measured: bool) -> Self {
        ProducerInterval {
            requests_counted: true,
            ..ProducerInterval::new(measured)
        }
    }
}

struct ProducerThread<'a> {
    id: u32,
    workload: &'a Workload,
    clock: Clock,
    topics: &'a [DrivenTopic],
    /// A topic's index in `topics`, by name (deliveries name their topic).
    topic_index: HashMap<String, usize>,
    destinations: Destinations,
    producer: Producer,
    /// Per topic and partition, the latency start of each unacknowledged
    /// record.
    outstanding: Vec<Vec<VecDeque<Instant>>>,
    outstanding_count: usize,
    interval: ProducerInterval,
    interval_started: Instant,
    reports: Sender<Report>,
    record_bytes: u64,
    /// A batch already failed with a client-side error (one the broker did
    /// not name): its text was printed, once per producer.
    client_failure_told: bool,
}

pub fn run_producer(
    id: u32,
    workload: &Workload,
    clock: Clock,
    topics: &[DrivenTopic],
    quota: Option<u64>,
    reports: Sender<Report>,
) {
    let config = ProducerConfig {
        bootstrap: workload.broker.clone(),
        acks: workload.acks.into(),
        linger_ms: workload.linger_ms,
        batch_bytes_max: workload.batch_bytes,
        max_in_flight: workload.inflight.clamp(1, 1024),
        ..ProducerConfig::default()
    };
    let producer = match Producer::new(config) {
        Ok(p) => p,
        Err(e) => {
            let _ = reports.send(Report::ProducerDone {
                error: Some(format!("producer {id}: {e}")),
            });
            return;
        }
    };
    let now = Instant::now();
    let mut thread = ProducerThread {
        id,
        workload,
        topics,
        topic_index: topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect(),
        destinations: Destinations::new(id, topics, workload.key_bytes),
        producer,
        outstanding: topics
            .iter()
            .map(|t| vec![VecDeque::new(); t.partitions as usize])
            .collect(),
        outstanding_count: 0,
        interval: ProducerInterval::new(now >= clock.measure_from),
        interval_started: now,
        reports,
        record_bytes: (workload.record_bytes.max(payload::HEADER_BYTES) + workload.key_bytes)
            as u64,
        clock,
        client_failure_told: false,
    };
    let error = thread.send_until_done(quota).err();
    let deliveries = thread.producer.flush();
    thread.handle(deliveries);
    thread.flush_interval();
    let _ = thread.reports.send(Report::ProducerDone { error });
}

impl ProducerThread<'_> {
    fn send_until_done(&mut self, quota: Option<u64>) -> Result<(), String> {
        let rate_per_producer = self
            .workload
            .rate
            .map(|r| r / f64::from(self.workload.producers));
        let mut value = Vec::with_capacity(self.workload.record_bytes);
        let mut sequence = 0u64;
        loop {
            let now = Instant::now();
            self.maybe_report(now);
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
                        let answers = self.producer.poll();
                        self.handle(answers);
                        std::thread::sleep((intended - now).min(RATE_SLEEP_MAX));
                        continue;
                    }
                    intended
                }
                None => {
                    if self.outstanding_count >= self.workload.inflight {
                        let answers = self.producer.poll_wait();
                        self.handle(answers);
                        continue;
                    }
                    now
                }
            };
            // Wall-clock send time for end-to-end latency: the intended
            // time for fixed-rate runs, as for the ack latency.
            let behind = now.saturating_duration_since(started).as_nanos() as u64;
            let stamp = Stamp {
                producer: self.id,
                sequence,
                send_time_ns: payload::unix_now_ns().saturating_sub(behind),
            };
            payload::encode(stamp, self.workload.record_bytes, &mut value);
            let mut record = ProducerRecord::new(value.clone());
            let (topic, partition, key) = self.destinations.of(sequence);
            if let Some(key) = key {
                record = record.key(key);
            }
            record = record.partition(partition);
            sequence += 1;
            self.interval.sent += 1;
            match self.producer.send(&self.topics[topic].name, record) {
                Ok(()) => {
                    self.outstanding[topic][partition as usize].push_back(started);
                    self.outstanding_count += 1;
                }
                Err(e) => {
                    let name = e
                        .code()
                        .map_or_else(|| "client".to_string(), |c| c.name().to_string());
                    *self.interval.failed.entry(name).or_default() += 1;
                    if e.code().is_none() && !e.is_retriable() {
                        return Err(format!("producer {}: {e}", self.id));
                    }
                }
            }
        }
    }

    fn handle(&mut self, deliveries: Vec<Delivery>) {
        let now = Instant::now();
        for delivery in deliveries {
            // Records go to the run's topics only; a delivery for another
            // would be the client's bug, and its records would never be
            // counted as answered.
            let topic = *self
                .topic_index
                .get(&delivery.topic)
                .unwrap_or_else(|| panic!("a delivery for topic {}, not sent to", delivery.topic));
            let queue = &mut self.outstanding[topic][delivery.partition as usize];
            let count = delivery.record_count as usize;
            let starts: Vec<Instant> = queue.drain(..count.min(queue.len())).collect();
            self.outstanding_count -= starts.len();
            match &delivery.result {
                Ok(_) => {
                    for start in starts {
                        let us = now.saturating_duration_since(start).as_micros() as u64;
                        self.interval
                            .ack_latency_us
                            .saturating_record(us.clamp(1, LATENCY_US_MAX));
                    }
                    self.interval.acknowledged += count as u64;
                    self.interval.acknowledged_bytes += count as u64 * self.record_bytes;
                }
                Err(e) => {
                    let name = e
                        .code()
                        .map_or_else(|| "client".to_string(), |c| c.name().to_string());
                    *self.interval.failed.entry(name).or_default() += count as u64;
                    // The count alone says "client"; say once what it was.
                    if e.code().is_none() && !self.client_failure_told {
                        self.client_failure_told = true;
                        eprintln!(
                            "producer {}: {count} records to {}/{} failed: {e}",
                            self.id, delivery.topic, delivery.partition
                        );
                    }
                }
            }
        }
        self.maybe_report(now);
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

/// Where each record of one producer goes, whatever the protocol: keyed
/// records take their topic by turn and their partition by key (the native
/// client's partitioner), others go round-robin over every partition of
/// every topic.
pub(crate) struct Destinations {
    producer: u32,
    key_bytes: usize,
    /// Every topic's partition count, in `topics` order.
    partitions: Vec<u32>,
    /// Every (topic index, partition), the round-robin of records without
    /// keys.
    slots: Vec<(usize, u32)>,
}

impl Destinations {
    pub(crate) fn new(producer: u32, topics: &[DrivenTopic], key_bytes: usize) -> Self {
        Destinations {
            producer,
            key_bytes,
            partitions: topics.iter().map(|t| t.partitions).collect(),
            slots: topics
                .iter()
                .enumerate()
                .flat_map(|(i, t)| (0..t.partitions).map(move |p| (i, p)))
                .collect(),
        }
    }

    /// The topic index, partition and key of the record numbered
    /// `sequence`.
    pub(crate) fn of(&self, sequence: u64) -> (usize, u32, Option<Vec<u8>>) {
        if self.key_bytes > 0 {
            let topic = (sequence % self.partitions.len() as u64) as usize;
            let key = key_bytes(self.producer, sequence, self.key_bytes);
            let partition = partition_for_key(&key, self.partitions[topic]);
            (topic, partition, Some(key))
        } else {
            let slot = (sequence + u64::from(self.producer)) % self.slots.len() as u64;
            let (topic, partition) = self.slots[slot as usize];
            (topic, partition, None)
        }
    }
}

/// A key of `len` bytes, one of `KEYS_PER_PRODUCER` per producer.
fn key_bytes(producer: u32, sequence: u64, len: usize) -> Vec<u8> {
    let mut key = format!("k{producer}-{}", sequence % KEYS_PER_PRODUCER).into_bytes();
    key.resize(len, b'.');
    key
}
