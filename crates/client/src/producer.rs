//! The producer: a blocking, single-threaded client that batches records
//! per partition and pipelines produce requests to each partition's owner
//! core.
//!
//! There is no background thread. The producer does its I/O when called:
//! [`Producer::send`] buffers a record and then sends whatever is due
//! (full batches, batches past `linger_ms`) and reads the responses that
//! have already arrived; it blocks only when `buffer_bytes_max` is reached.
//! [`Producer::poll`] does the same without a record; [`Producer::flush`]
//! sends everything and waits for every answer. A batch that lingers while
//! the application does not call the producer waits until it does.
//!
//! A retriable error (the broker's retriable codes, a failed connection, a
//! timeout) resends the batch. With `idempotence` (the default) the
//! producer asks the broker for a producer id (InitProducer) before its
//! first batch and numbers each partition's batches; a resend is the same
//! bytes, so a batch the broker had written before the failure is answered
//! with its first offset, not written twice: exactly once per partition.
//! Without it delivery is at-least-once. Order within a partition is kept:
//! a partition has one batch in flight at a time, and a failed batch is
//! resent before any later one. Every batch ends in one [`Delivery`],
//! collected by `poll` and `flush`. Records still buffered when the
//! producer is dropped are lost: call `flush` first.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::accumulator::{Accumulator, ClosedBatch, ProducerIdentity};
use super::cluster::{Cluster, Route};
use super::config::{ProducerConfig, SEND_IO_INTERVAL_US};
use super::connection::decode_response;
use super::error::{check_partition_code, ClientError, ClientResult};
use super::partitioner::Partitioner;
use shardlog_protocol::batch::builder::NewRecord;
use shardlog_protocol::batch::TimestampType;
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::produce::{
    ProducePartition, ProduceRequest, ProduceResponse, ProduceTopic, NO_OFFSET,
};
use shardlog_protocol::producer::{InitProducerRequest, InitProducerResponse};
use shardlog_protocol::ApiKey;

/// A record to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Routes the record: `fnv1a_32(key) % partitions` (see
    /// [`super::partitioner`]).
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// `None`: the broker stamps its append time.
    pub timestamp_ms: Option<i64>,
    /// `None`: chosen by key, or sticky round-robin without a key.
    pub partition: Option<u32>,
}

impl ProducerRecord {
    /// A record with only a value.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        ProducerRecord {
            value: value.into(),
            ..ProducerRecord::default()
        }
    }

    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn timestamp_ms(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }

    pub fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }
}

/// The outcome of one batch: its records were all written, or none was
/// acknowledged (some may still have been written, see the module doc).
#[derive(Debug)]
pub struct Delivery {
    pub topic: String,
    pub partition: u32,
    pub record_count: u32,
    /// The offset of the batch's first record; `Ok(None)` with acks `None`,
    /// where the broker does not wait to know it.
    pub result: Result<Option<u64>, ClientError>,
}

impl Delivery {
    /// The offsets of the records, first and last, when known.
    pub fn offsets(&self) -> Option<(u64, u64)> {
        match self.result {
            Ok(Some(base)) => Some((base, base + u64::from(self.record_count) - 1)),
            _ => None,
        }
    }
}

/// A produce request sent and not yet answered.
struct SentRequest {
    sent_at: Instant,
    batches: Vec<ClosedBatch>,
}

/// Sends records to a broker; see the module doc for the I/O model.
pub struct Producer {
    config: ProducerConfig,
    cluster: Cluster,
    partitioner: Partitioner,
    accumulator: Accumulator,
    /// Per connection, the requests in flight in the order sent (the order
    /// the broker answers them).
    sent: HashMap<Route, VecDeque<SentRequest>>,
    deliveries: Vec<Delivery>,
    /// When `run` last looked for answers and due batches.
    last_run: Option<Instant>,
}

impl Producer {
    /// Checks the config; connects on the first `send`.
    pub fn new(config: ProducerConfig) -> ClientResult<Producer> {
        config.validate().map_err(ClientError::Invalid)?;
        Ok(Producer {
            cluster: Cluster::new(&config.bootstrap, config.connection.clone()),
            partitioner: Partitioner::new(),
            accumulator: Accumulator::new(
                config.batch_bytes_max,
                Duration::from_millis(config.linger_ms),
                config.idempotence,
            ),
            sent: HashMap::new(),
            deliveries: Vec::new(),
            last_run: None,
            config,
        })
    }

    /// The number of partitions of `topic` (asks the broker once).
    pub fn partition_count(&mut self, topic: &str) -> ClientResult<u32> {
        self.cluster.partition_count(topic)
    }

    /// Buffers `record` for `topic`, then sends what is due. Fails at once
    /// for an unknown topic or partition, a broker that cannot be reached
    /// for metadata, or a record that can never fit a batch; failures after
    /// that are reported in the batch's [`Delivery`].
    pub fn send(&mut self, topic: &str, record: ProducerRecord) -> ClientResult<()> {
        // A known topic is routed on what is known even while a refresh is
        // due: a broker that is briefly away fails batches (and retries
        // them), not every `send`.
        let partitions = match self.cluster.known_partition_count(topic) {
            Some(partitions) => partitions,
            None => self.cluster.partition_count(topic)?,
        };
        let partition = match record.partition {
            Some(p) if p >= partitions => {
                return Err(ClientError::Invalid(format!(
                    "topic '{topic}' has {partitions} partitions, there is no partition {p}"
                )))
            }
            Some(p) => p,
            None => self
                .partitioner
                .partition(topic, record.key.as_deref(), partitions),
        };
        let headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        let (timestamp_type, timestamp_ms) = match record.timestamp_ms {
            Some(ts) => (TimestampType::Create, ts),
            None => (TimestampType::LogAppend, now_ms()),
        };
        let new = NewRecord {
            key: record.key.as_deref(),
            value: &record.value,
            headers: &headers,
            timestamp_ms,
        };
        let appended = self
            .accumulator
            .append(topic, partition, &new, timestamp_type, Instant::now())
            .map_err(|e| ClientError::Invalid(format!("record for {topic}/{partition}: {e}")))?;
        if appended.closed_a_batch {
            self.partitioner.batch_closed(topic, partition, partitions);
        }
        // Looking for answers costs system calls: not on every record.
        let io_due = self
            .last_run
            .is_none_or(|at| at.elapsed() >= Duration::from_micros(SEND_IO_INTERVAL_US));
        if appended.closed_a_batch || io_due {
            self.run(false);
        }
        while self.accumulator.buffered_bytes() > self.config.buffer_bytes_max {
            self.wait_for_progress();
        }
        Ok(())
    }

    /// Sends what is due and collects the answers that have arrived,
    /// without waiting; returns the deliveries completed since the last
    /// `poll` or `flush`.
    pub fn poll(&mut self) -> Vec<Delivery> {
        self.run(false);
        std::mem::take(&mut self.deliveries)
    }

    /// Like [`Producer::poll`], but when nothing has completed it waits:
    /// for the oldest request in flight to be answered, or, with nothing in
    /// flight, until the next batch is due. For callers that bound their
    /// outstanding records (a closed-loop load) and must not spin.
    pub fn poll_wait(&mut self) -> Vec<Delivery> {
        self.run(false);
        if self.deliveries.is_empty() && !self.receive_oldest() {
            if let Some(due) = self.accumulator.next_due() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            self.run(false);
        }
        std::mem::take(&mut self.deliveries)
    }

    /// Sends every buffered record and waits until each batch is
    /// acknowledged or has failed; returns the deliveries completed since
    /// the last `poll` or `flush`.
    pub fn flush(&mut self) -> Vec<Delivery> {
        while !self.accumulator.is_empty() {
            self.wait_for_progress();
        }
        std::mem::take(&mut self.deliveries)
    }

    /// One step that cannot return without progress: closes every open
    /// batch, sends what it can, then waits for the oldest response, or
    /// sleeps until a backoff ends.
    fn wait_for_progress(&mut self) {
        self.run(true);
        if self.receive_oldest() {
            return;
        }
        if self.accumulator.is_empty() {
            return;
        }
        // Nothing in flight: everything left waits for a backoff.
        let now = Instant::now();
        if let Some(due) = self.accumulator.next_due() {
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }

    /// Closes due batches, reads responses that have arrived, sends what
    /// may be sent.
    fn run(&mut self, flush: bool) {
        let now = Instant::now();
        self.last_run = Some(now);
        for (topic, partition) in self.accumulator.close_lingered(now, flush) {
            let partitions = self.cluster.known_partition_count(&topic).unwrap_or(1);
            self.partitioner.batch_closed(&topic, partition, partitions);
        }
        for route in self.sent.keys().copied().collect::<Vec<_>>() {
            while let Some(connection) = self.cluster.existing(route) {
                match connection.try_receive() {
                    Ok(Some(response)) => self.on_answer(route, Ok(response.body)),
                    Ok(None) => break,
                    Err(err) => {
                        let broken = err.breaks_connection();
                        self.on_answer(route, Err(err));
                        if broken {
                            break;
                        }
                    }
                }
            }
        }
        self.send_due(Instant::now());
    }

    /// Groups the sendable batches by connection into requests of at most
    /// `request_bytes_max`, within each connection's `max_in_flight`.
    fn send_due(&mut self, now: Instant) {
        let sendable = self.accumulator.sendable(now);
        if sendable.is_empty() {
            return;
        }
        if let Err(err) = self.cluster.refresh_if_stale() {
            tracing::warn!(%err, "metadata refresh failed; routing on what is known");
        }
        // A partition that starts numbering needs a producer id; without
        // one its batch waits (`retry_or_fail_one`) with this error.
        let identity_error = if self.accumulator.needs_identity() {
            self.init_producer().err()
        } else {
            None
        };
        let mut by_route: BTreeMap<Route, Vec<_>> = BTreeMap::new();
        for (key, bytes) in sendable {
            let route = self.cluster.route(&key.0, key.1);
            by_route.entry(route).or_default().push((key, bytes));
        }
        for (route, batches) in by_route {
            let (route, mut window) = match self.cluster.connection(route) {
                Ok((route, connection)) => (
                    route,
                    self.config
                        .max_in_flight
                        .saturating_sub(connection.in_flight().len()),
                ),
                Err(err) => {
                    // Not even the bootstrap address answers.
                    for (key, _) in batches {
                        if let Some(batch) = self.accumulator.take(&key) {
                            self.retry_or_fail_one(batch, &err);
                        }
                    }
                    continue;
                }
            };
            let mut request = Vec::new();
            let mut request_bytes = 0;
            for (key, bytes) in batches {
                let limit = self.config.request_bytes_max as usize;
                if !request.is_empty() && request_bytes + bytes > limit {
                    window -= 1;
                    if !self.send_request(route, std::mem::take(&mut request)) {
                        return;
                    }
                    request_bytes = 0;
                }
                if window == 0 {
                    break;
                }
                if let Some(mut batch) = self.accumulator.take(&key) {
                    if !self.accumulator.stamp(&mut batch) {
                        match &identity_error {
                            Some(err) => self.retry_or_fail_one(batch, err),
                            // The id was given up during this round (a
                            // batch failed for good): ask on the next.
                            None => self.accumulator.retry(batch, Instant::now()),
                        }
                        continue;
                    }
                    request_bytes += bytes;
                    request.push(batch);
                }
            }
            if !request.is_empty() && !self.send_request(route, request) {
                return;
            }
        }
    }

    /// Asks the broker for a producer id (InitProducer) for the partitions
    /// that start numbering from now on.
    fn init_producer(&mut self) -> ClientResult<()> {
        let answer = self.cluster.bootstrap_call(
            ApiKey::InitProducer,
            |b| InitProducerRequest::new_producer().encode(b),
            InitProducerResponse::decode,
        );
        let response = match answer {
            Ok(response) => response,
            Err(ClientError::Broker { code, message }) if code == ErrorCode::UnknownApiKey => {
                return Err(ClientError::Broker {
                    code,
                    message: format!(
                        "{message}: this broker has no idempotent producers \
                         (InitProducer); set idempotence to false"
                    ),
                })
            }
            Err(err) => {
                tracing::warn!(%err, "InitProducer failed; its batches wait and retry");
                return Err(err);
            }
        };
        tracing::debug!(
            producer_id = response.producer_id,
            producer_epoch = response.producer_epoch,
            "producer id"
        );
        self.accumulator.set_identity(ProducerIdentity {
            producer_id: response.producer_id,
            producer_epoch: response.producer_epoch,
        });
        Ok(())
    }

    /// Sends one produce request on the open connection of `route`; false
    /// when that failed (its batches are resent or failed).
    fn send_request(&mut self, route: Route, batches: Vec<ClosedBatch>) -> bool {
        let Some(connection) = self.cluster.existing(route) else {
            let err = ClientError::Invalid("connection closed".into());
            self.retry_or_fail(batches, &err);
            return false;
        };
        let (request, kept) = into_request(self.config.acks, batches);
        let sent = connection.send(ApiKey::Produce, |buf| request.encode(buf));
        let batches = from_request(request, kept);
        // Recorded even when sending failed: the request may be half
        // written, and `request_failed` resends everything on the route.
        self.sent.entry(route).or_default().push_back(SentRequest {
            sent_at: Instant::now(),
            batches,
        });
        match sent {
            Ok(_) => true,
            Err(err) => {
                self.request_failed(route, err);
                false
            }
        }
    }

    /// Waits for the oldest request in flight on any connection; false
    /// when nothing is in flight.
    fn receive_oldest(&mut self) -> bool {
        let oldest = self
            .sent
            .iter()
            .filter_map(|(route, requests)| Some((*route, requests.front()?.sent_at)))
            .min_by_key(|(_, sent_at)| *sent_at);
        let Some((route, _)) = oldest else {
            return false;
        };
        let received = match self.cluster.existing(route) {
            Some(connection) => connection.receive().map(|response| response.body),
            None => Err(ClientError::Connection {
                addr: format!("{route:?}"),
                source: std::io::Error::new(std::io::ErrorKind::NotConnected, "connection closed"),
            }),
        };
        self.on_answer(route, received);
        true
    }

    /// Dispatches what the oldest request on `route` got.
    fn on_answer(&mut self, route: Route, received: ClientResult<bytes::Bytes>) {
        match received {
            Ok(body) => self.answered(route, Ok(body)),
            // A refusal that closes the connection (frame too large): the
            // oldest request has its answer, the others a lost connection.
            Err(err @ ClientError::Broker { .. }) if err.breaks_connection() => {
                let lost = ClientError::Connection {
                    addr: self
                        .cluster
                        .existing(route)
                        .map_or_else(String::new, |c| c.addr().to_string()),
                    source: std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        format!("closed by the broker after: {err}"),
                    ),
                };
                self.answered(route, Err(err));
                self.request_failed(route, lost);
            }
            Err(err) if err.breaks_connection() => self.request_failed(route, err),
            Err(err) => self.answered(route, Err(err)),
        }
    }

    /// The oldest request on `route` was answered: with a body, or with a
    /// request-level error from the broker.
    fn answered(&mut self, route: Route, answer: ClientResult<bytes::Bytes>) {
        let Some(request) = self.sent.get_mut(&route).and_then(VecDeque::pop_front) else {
            return;
        };
        let body = match answer {
            Ok(body) => body,
            Err(err) => {
                for batch in request.batches {
                    self.retry_or_fail_one(batch, &err);
                }
                return;
            }
        };
        let addr = self
            .cluster
            .existing(route)
            .map_or_else(String::new, |c| c.addr().to_string());
        let response = match decode_response(&addr, ApiKey::Produce, body, ProduceResponse::decode)
        {
            Ok(response) => response,
            Err(err) => {
                // An answer we cannot read: its batches' fate is unknown.
                self.cluster.drop_connection(route);
                self.fail_connection(route, Some(request.batches), err);
                return;
            }
        };
        let mut results: HashMap<(&str, u32), (u16, u64)> = HashMap::new();
        for (topic, partitions) in &response.topics {
            for p in partitions {
                results.insert((topic.as_str(), p.partition), (p.error_code, p.base_offset));
            }
        }
        let mut outcomes = Vec::with_capacity(request.batches.len());
        for batch in &request.batches {
            let outcome = match results.get(&(batch.topic.as_str(), batch.partition)) {
                None => Err(ClientError::Protocol {
                    addr: addr.clone(),
                    reason: format!(
                        "produce response has no entry for {}/{}",
                        batch.topic, batch.partition
                    ),
                }),
                Some(&(code, base_offset)) => {
                    check_partition_code(&addr, code, &batch.topic, batch.partition)
                        .map(|()| (base_offset != NO_OFFSET).then_some(base_offset))
                        .map_err(|err| with_sequence(err, batch))
                }
            };
            outcomes.push(outcome);
        }
        for (batch, outcome) in request.batches.into_iter().zip(outcomes) {
            match outcome {
                Ok(base_offset) => self.deliver(batch, Ok(base_offset)),
                Err(err) => self.retry_or_fail_one(batch, &err),
            }
        }
    }

    /// A connection failed: every request in flight on it is resent (in
    /// order: each partition had one batch in flight, which goes back to
    /// the front of its queue) or fails for good.
    fn request_failed(&mut self, route: Route, err: ClientError) {
        tracing::debug!(?route, %err, "connection failed, resending its requests");
        self.cluster.drop_connection(route);
        self.fail_connection(route, None, err);
    }

    fn fail_connection(&mut self, route: Route, first: Option<Vec<ClosedBatch>>, err: ClientError) {
        let requests = self.sent.remove(&route).unwrap_or_default();
        let batches: Vec<ClosedBatch> = first
            .into_iter()
            .flatten()
            .chain(requests.into_iter().flat_map(|r| r.batches))
            .collect();
        self.retry_or_fail(batches, &err);
    }

    fn retry_or_fail(&mut self, batches: Vec<ClosedBatch>, err: &ClientError) {
        for batch in batches {
            self.retry_or_fail_one(batch, err);
        }
    }

    fn retry_or_fail_one(&mut self, batch: ClosedBatch, err: &ClientError) {
        if err.is_retriable() && batch.failed_attempts < self.config.retries {
            let backoff = Duration::from_millis(self.config.retry_backoff_ms);
            self.accumulator.retry(batch, Instant::now() + backoff);
        } else {
            let err = copy_error(err);
            self.deliver(batch, Err(err));
        }
    }

    fn deliver(&mut self, batch: ClosedBatch, result: Result<Option<u64>, ClientError>) {
        if result.is_ok() {
            self.accumulator.acknowledged(&batch);
        } else {
            self.accumulator.failed(&batch);
        }
        self.deliveries.push(Delivery {
            topic: batch.topic,
            partition: batch.partition,
            record_count: batch.record_count,
            result,
        });
    }
}

/// A sequence refusal names the batch's producer id, epoch and sequences,
/// and says that the partition starts afresh (docs/CLIENT.md).
fn with_sequence(err: ClientError, batch: &ClosedBatch) -> ClientError {
    match (err, batch.producer) {
        (ClientError::Broker { code, message }, Some(fields))
            if code == ErrorCode::OutOfOrderSequence || code == ErrorCode::ProducerFenced =>
        {
            ClientError::Broker {
                code,
                message: format!(
                    "{message}: producer {} epoch {} sequences {}..={}; the batch is not \
                     written, and the partition's next batch starts under a new producer id",
                    fields.producer_id,
                    fields.producer_epoch,
                    fields.base_sequence,
                    fields.last_sequence(batch.record_count)
                ),
            }
        }
        (err, _) => err,
    }
}

/// Moves the batches into a request (the codec encodes owned batches).
fn into_request(
    acks: shardlog_protocol::produce::Acks,
    batches: Vec<ClosedBatch>,
) -> (ProduceRequest, Vec<Vec<ClosedBatch>>) {
    let mut topics: Vec<ProduceTopic> = Vec::new();
    let mut kept: Vec<Vec<ClosedBatch>> = Vec::new();
    for mut batch in batches {
        let index = match topics.iter().position(|t| t.name == batch.topic) {
            Some(i) => i,
            None => {
                topics.push(ProduceTopic {
                    name: batch.topic.clone(),
                    partitions: Vec::new(),
                });
                kept.push(Vec::new());
                topics.len() - 1
            }
        };
        topics[index].partitions.push(ProducePartition {
            partition: batch.partition,
            batch: std::mem::take(&mut batch.batch),
        });
        kept[index].push(batch);
    }
    (ProduceRequest { acks, topics }, kept)
}

/// Gives the batches back their bytes after encoding.
fn from_request(request: ProduceRequest, kept: Vec<Vec<ClosedBatch>>) -> Vec<ClosedBatch> {
    let mut batches = Vec::new();
    for (topic, kept) in request.topics.into_iter().zip(kept) {
        for (partition, mut batch) in topic.partitions.into_iter().zip(kept) {
            batch.batch = partition.batch;
            batches.push(batch);
        }
    }
    batches
}

/// Errors are not `Clone` (they hold an `io::Error`); one failure may end
/// several batches.
fn copy_error(err: &ClientError) -> ClientError {
    match err {
        ClientError::Broker { code, message } => ClientError::Broker {
            code: *code,
            message: message.clone(),
        },
        ClientError::Connection { addr, source } => ClientError::Connection {
            addr: addr.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        ClientError::Timeout { addr, timeout_ms } => ClientError::Timeout {
            addr: addr.clone(),
            timeout_ms: *timeout_ms,
        },
        ClientError::Protocol { addr, reason } => ClientError::Protocol {
            addr: addr.clone(),
            reason: reason.clone(),
        },
        ClientError::CorruptBatch {
            topic,
            partition,
            source,
        } => ClientError::CorruptBatch {
            topic: topic.clone(),
            partition: *partition,
            source: source.clone(),
        },
        ClientError::Invalid(message) => ClientError::Invalid(message.clone()),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
