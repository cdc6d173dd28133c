//! One pipelined producer thread (`--pipeline N`): every record is its own
//! produce request, one batch of one record, and at most N requests are in
//! flight at once: redis-benchmark's `-P N` over shardlog's protocol. The
//! project's producer ([`crate::producer`]) cannot make that load: it keeps
//! one batch in flight per partition and groups the batches of a
//! connection into one request.
//!
//! Requests go out on raw [`Connection`]s, one per core that owns a
//! driven partition (the routes [`Cluster`] gives, as the client's), and
//! partitions take records round-robin. Batches are version 1: no producer
//! id, not idempotent, no retries. A request the broker refuses counts as
//! failed under its error's name; a connection that fails ends the
//! producer, and its requests in flight count as failed.
//!
//! Latency is as in [`crate::producer`]: from the send time (closed loop)
//! or the intended send time (`--rate`, where the cap of N in flight still
//! holds) to the answer. A connection answers its requests in order, so
//! each keeps a queue of its requests' start times.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, TimestampType};
use shardlog::client::cluster::{Cluster, Route};
use shardlog::client::connection::{decode_response, Response};
use shardlog::client::{ClientError, ClientResult, ConnectionConfig};
use shardlog::error::ErrorCode;
use shardlog::protocol::limits::BATCH_BYTES_MAX;
use shardlog::protocol::produce::{
    Acks, ProducePartition, ProduceRequest, ProduceResponse, ProduceTopic,
};
use shardlog::protocol::ApiKey;

use crate::payload::{self, Stamp};
use crate::producer::{Destinations, ProducerInterval, RATE_SLEEP_MAX};
use crate::run::{Clock, DrivenTopic, Report, THREAD_REPORT_INTERVAL};
use crate::summary::LATENCY_US_MAX;
use crate::workload::Workload;

/// A request sent and not yet answered.
struct Pending {
    /// The producer's request number: the oldest request over every
    /// connection has the smallest.
    number: u64,
    /// Where its latency counts from.
    started: Instant,
}

/// One connection and its requests in flight, oldest first.
struct Lane {
    route: Route,
    pending: VecDeque<Pending>,
}

/// Why the producer stopped early.
type Stop = String;

struct PipelinedProducer<'a> {
    id: u32,
    workload: &'a Workload,
    clock: Clock,
    topics: &'a [DrivenTopic],
    destinations: Destinations,
    cluster: Cluster,
    lanes: Vec<Lane>,
    /// For each topic and partition, its lane.
    lane_of: Vec<Vec<usize>>,
    acks: Acks,
    /// Most requests in flight (`--pipeline`).
    window: usize,
    in_flight: usize,
    requests_sent: u64,
    interval: ProducerInterval,
    interval_started: Instant,
    reports: Sender<Report>,
    record_bytes: u64,
}

pub fn run_pipelined_producer(
    id: u32,
    workload: &Workload,
    clock: Clock,
    topics: &[DrivenTopic],
    quota: Option<u64>,
    reports: Sender<Report>,
) {
    let mut producer = match PipelinedProducer::connect(id, workload, clock, topics, reports) {
        Ok(producer) => producer,
        Err((reports, error)) => {
            let _ = reports.send(Report::ProducerDone {
                error: Some(format!("producer {id}: {error}")),
            });
            return;
        }
    };
    let mut error = producer.send_until_done(quota).err();
    if error.is_none() {
        error = producer.drain().err();
    }
    if error.is_some() {
        producer.fail_in_flight("connection");
    }
    producer.flush_interval();
    let _ = producer.reports.send(Report::ProducerDone {
        error: error.map(|e| format!("producer {id}: {e}")),
    });
}

impl<'a> PipelinedProducer<'a> {
    /// Asks the broker which core owns each partition and opens one
    /// connection per core (or the bootstrap connection, where a core's
    /// port does not answer).
    fn connect(
        id: u32,
        workload: &'a Workload,
        clock: Clock,
        topics: &'a [DrivenTopic],
        reports: Sender<Report>,
    ) -> Result<Self, (Sender<Report>, String)> {
        let mut cluster = Cluster::new(&workload.broker, ConnectionConfig::default());
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        if let Err(e) = cluster.refresh(&names) {
            return Err((reports, format!("metadata: {e}")));
        }
        let mut lanes: Vec<Lane> = Vec::new();
        let mut lane_by_route: HashMap<Route, usize> = HashMap::new();
        let mut lane_of = Vec::with_capacity(topics.len());
        for topic in topics {
            let mut partitions = Vec::with_capacity(topic.partitions as usize);
            for partition in 0..topic.partitions {
                let wanted = cluster.route(&topic.name, partition);
                let route = match cluster.connection(wanted) {
                    Ok((route, _)) => route,
                    Err(e) => return Err((reports, format!("connecting: {e}"))),
                };
                let lane = *lane_by_route.entry(route).or_insert_with(|| {
                    lanes.push(Lane {
                        route,
                        pending: VecDeque::new(),
                    });
                    lanes.len() - 1
                });
                partitions.push(lane);
            }
            lane_of.push(partitions);
        }
        let window = workload.pipeline.unwrap_or(1);
        let now = Instant::now();
        Ok(PipelinedProducer {
            id,
            workload,
            clock,
            topics,
            destinations: Destinations::new(id, topics, workload.key_bytes),
            cluster,
            lanes,
            lane_of,
            acks: workload.acks.into(),
            window,
            in_flight: 0,
            requests_sent: 0,
            interval: ProducerInterval::counting_requests(now >= clock.measure_from),
            interval_started: now,
            reports,
            record_bytes: (workload.record_bytes.max(payload::HEADER_BYTES) + workload.key_bytes)
                as u64,
        })
    }

    fn send_until_done(&mut self, quota: Option<u64>) -> Result<(), Stop> {
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
            if self.in_flight >= self.window {
                self.wait_for_oldest()?;
                continue;
            }
            let started = match rate_per_producer {
                Some(rate) => {
                    let intended =
                        self.clock.start + Duration::from_secs_f64(sequence as f64 / rate);
                    if intended > now {
                        self.collect_arrived()?;
                        std::thread::sleep((intended - now).min(RATE_SLEEP_MAX));
                        continue;
                    }
                    intended
                }
                None => now,
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
            let (topic, partition, key) = self.destinations.of(sequence);
            sequence += 1;
            self.send(topic, partition, key.as_deref(), &value, started)?;
            // Answers a blocking read already brought in, at no system call.
            let lane = self.lane_of[topic][partition as usize];
            self.collect_buffered(lane)?;
        }
    }

    /// Sends one record as one produce request on its partition's
    /// connection.
    fn send(
        &mut self,
        topic: usize,
        partition: u32,
        key: Option<&[u8]>,
        value: &[u8],
        started: Instant,
    ) -> Result<(), Stop> {
        let record = NewRecord {
            key,
            value,
            headers: &[],
            timestamp_ms: 0, // a log-append-time batch: the broker stamps it
        };
        let mut builder = BatchBuilder::with_capacity(
            TimestampType::LogAppend,
            BATCH_BYTES_MAX,
            None,
            shardlog::batch::builder::record_encoded_len(&record),
        );
        builder
            .append(&record)
            .map_err(|e| format!("record for {}/{partition}: {e}", self.topics[topic].name))?;
        let batch = builder.finish().expect("a batch of one record");
        let request = ProduceRequest {
            acks: self.acks,
            topics: vec![ProduceTopic {
                name: self.topics[topic].name.clone(),
                partitions: vec![ProducePartition { partition, batch }],
            }],
        };
        let lane = self.lane_of[topic][partition as usize];
        let route = self.lanes[lane].route;
        let connection = self
            .cluster
            .existing(route)
            .ok_or_else(|| format!("no connection for {route:?}"))?;
        self.interval.sent += 1;
        connection
            .send(ApiKey::Produce, |buf| request.encode(buf))
            .map_err(|e| {
                // Half written or not at all: either way not answered.
                *self.interval.failed.entry("client".into()).or_default() += 1;
                e.to_string()
            })?;
        self.lanes[lane].pending.push_back(Pending {
            number: self.requests_sent,
            started,
        });
        self.requests_sent += 1;
        self.in_flight += 1;
        let in_flight = self.in_flight as u64;
        self.interval.requests_in_flight_max = self.interval.requests_in_flight_max.max(in_flight);
        Ok(())
    }

    /// Waits for the answer to the oldest request in flight, then takes
    /// every answer that has arrived.
    fn wait_for_oldest(&mut self) -> Result<(), Stop> {
        let oldest = self
            .lanes
            .iter()
            .enumerate()
            .filter_map(|(i, lane)| Some((lane.pending.front()?.number, i)))
            .min();
        let Some((_, lane)) = oldest else {
            return Ok(());
        };
        let answer = self.connection(lane)?.receive();
        self.answered(lane, answer)?;
        self.collect_arrived()
    }

    /// Takes every answer that has arrived, on every connection, without
    /// waiting.
    fn collect_arrived(&mut self) -> Result<(), Stop> {
        for lane in 0..self.lanes.len() {
            while !self.lanes[lane].pending.is_empty() {
                match self.connection(lane)?.try_receive() {
                    Ok(Some(response)) => self.answered(lane, Ok(response))?,
                    Ok(None) => break,
                    Err(e) => self.answered(lane, Err(e))?,
                }
            }
        }
        Ok(())
    }

    /// Takes the answers of `lane` already read from its socket.
    fn collect_buffered(&mut self, lane: usize) -> Result<(), Stop> {
        while !self.lanes[lane].pending.is_empty() {
            match self.connection(lane)?.receive_buffered() {
                Ok(Some(response)) => self.answered(lane, Ok(response))?,
                Ok(None) => break,
                Err(e) => self.answered(lane, Err(e))?,
            }
        }
        Ok(())
    }

    /// Waits for every request in flight.
    fn drain(&mut self) -> Result<(), Stop> {
        while self.in_flight > 0 {
            self.wait_for_oldest()?;
        }
        Ok(())
    }

    fn connection(&mut self, lane: usize) -> Result<&mut shardlog::client::Connection, Stop> {
        let route = self.lanes[lane].route;
        self.cluster
            .existing(route)
            .ok_or_else(|| format!("no connection for {route:?}"))
    }

    /// The oldest request of `lane` got `answer`.
    fn answered(&mut self, lane: usize, answer: ClientResult<Response>) -> Result<(), Stop> {
        if let Err(e) = &answer {
            if e.breaks_connection() {
                return Err(e.to_string());
            }
        }
        let pending = self.lanes[lane]
            .pending
            .pop_front()
            .expect("an answer is for a request in flight");
        self.in_flight -= 1;
        let now = Instant::now();
        match self.partition_code(lane, answer) {
            Ok(0) => {
                let us = now.saturating_duration_since(pending.started).as_micros() as u64;
                self.interval
                    .ack_latency_us
                    .saturating_record(us.clamp(1, LATENCY_US_MAX));
                self.interval.acknowledged += 1;
                self.interval.acknowledged_bytes += self.record_bytes;
                self.interval.requests_acknowledged += 1;
            }
            Ok(code) => {
                let name = ErrorCode::from_u16(code)
                    .map_or_else(|| format!("error code {code}"), |c| c.name().to_string());
                *self.interval.failed.entry(name).or_default() += 1;
            }
            Err(e) => {
                let name = e
                    .code()
                    .map_or_else(|| "client".to_string(), |c| c.name().to_string());
                *self.interval.failed.entry(name).or_default() += 1;
            }
        }
        self.maybe_report(now);
        Ok(())
    }

    /// The error code of the one partition a produce answer is about (0:
    /// written), or why there is none.
    fn partition_code(&mut self, lane: usize, answer: ClientResult<Response>) -> ClientResult<u16> {
        let response = answer?;
        let addr = self
            .connection(lane)
            .map_or_else(|e| e, |c| c.addr().to_string());
        let produced = decode_response(
            &addr,
            ApiKey::Produce,
            response.body,
            ProduceResponse::decode,
        )?;
        produced
            .topics
            .first()
            .and_then(|(_, partitions)| partitions.first())
            .map(|p| p.error_code)
            .ok_or_else(|| ClientError::Protocol {
                addr,
                reason: "a produce response without its partition".into(),
            })
    }

    /// After a connection failed: every request still in flight is lost.
    fn fail_in_flight(&mut self, name: &str) {
        let lost: usize = self.lanes.iter().map(|lane| lane.pending.len()).sum();
        for lane in &mut self.lanes {
            lane.pending.clear();
        }
        self.in_flight = 0;
        if lost > 0 {
            *self.interval.failed.entry(name.to_string()).or_default() += lost as u64;
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
        let next = ProducerInterval::counting_requests(measured);
        let done = std::mem::replace(&mut self.interval, next);
        let _ = self.reports.send(Report::Producer(done));
    }
}
