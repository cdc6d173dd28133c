//! The consumer: blocking long-poll fetches from each partition's owner
//! core, with the positions held by the client (the broker keeps none).
//!
//! A position is the offset of the next record to return. Assign partitions
//! with a starting point ([`StartFrom`]: earliest, latest, an offset, or the
//! first record at or after a timestamp via ListOffsets), then call
//! [`Consumer::poll`] or iterate [`Consumer::records`]. A fetch returns whole
//! batches, and the first may begin before the position: its earlier
//! records are skipped.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use super::cluster::{Cluster, Route};
use super::config::ConsumerConfig;
use super::connection::decode_response;
use super::error::{check_partition_code, ClientError, ClientResult};
use shardlog_protocol::batch::{Batches, Header};
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::fetch::{FetchPartition, FetchRequest, FetchResponse};
use shardlog_protocol::limits::BATCH_BYTES_MAX;
use shardlog_protocol::offsets::{ListOffsetsRequest, ListOffsetsResponse, OffsetSpec};
use shardlog_protocol::ApiKey;

/// Where reading a partition starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// The oldest record still kept.
    Earliest,
    /// After the newest record: only records produced from now on.
    Latest,
    /// This offset.
    Offset(u64),
    /// The first record whose timestamp is at or after this (ms since the
    /// Unix epoch); the latest offset if there is none yet.
    Timestamp(i64),
}

/// A record as consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Bytes,
    pub headers: Vec<Header>,
}

/// One assigned partition.
#[derive(Clone, Debug)]
struct Assignment {
    /// The offset of the next record to return.
    position: u64,
    /// The high watermark from the latest fetch (the next offset the
    /// broker will assign), if any.
    high_watermark: Option<u64>,
}

type TopicPartition = (String, u32);

/// Reads records of the assigned partitions.
pub struct Consumer {
    config: ConsumerConfig,
    cluster: Cluster,
    assignments: BTreeMap<TopicPartition, Assignment>,
    /// Records fetched and not yet handed out by [`Consumer::records`].
    buffered: VecDeque<ConsumedRecord>,
    retries: u32,
    retry_backoff: Duration,
}

impl Consumer {
    /// Checks the config; connects on first use.
    pub fn new(config: ConsumerConfig) -> ClientResult<Consumer> {
        config.validate().map_err(ClientError::Invalid)?;
        let mut connection = config.connection.clone();
        // A long poll is not a slow broker.
        connection.request_timeout_ms += u64::from(config.max_wait_ms);
        Ok(Consumer {
            cluster: Cluster::new(&config.bootstrap, connection),
            assignments: BTreeMap::new(),
            buffered: VecDeque::new(),
            retries: config.retries,
            retry_backoff: Duration::from_millis(config.retry_backoff_ms),
            config,
        })
    }

    /// The number of partitions of `topic` (asks the broker once).
    pub fn partition_count(&mut self, topic: &str) -> ClientResult<u32> {
        self.cluster.partition_count(topic)
    }

    /// Reads `partition` of `topic` from `from`; returns the position.
    pub fn assign(&mut self, topic: &str, partition: u32, from: StartFrom) -> ClientResult<u64> {
        let partitions = self.cluster.partition_count(topic)?;
        if partition >= partitions {
            return Err(ClientError::Broker {
                code: ErrorCode::UnknownPartition,
                message: format!("topic '{topic}' has {partitions} partitions, not {partition}"),
            });
        }
        let position = match from {
            StartFrom::Offset(offset) => offset,
            StartFrom::Earliest => {
                self.list_offsets(topic, &[partition], OffsetSpec::Earliest)?[0].1
            }
            StartFrom::Latest => self.list_offsets(topic, &[partition], OffsetSpec::Latest)?[0].1,
            StartFrom::Timestamp(ts) => {
                self.list_offsets(topic, &[partition], OffsetSpec::Timestamp(ts))?[0].1
            }
        };
        self.seek(topic, partition, position);
        Ok(position)
    }

    /// Reads every partition of `topic` from `from`.
    pub fn assign_all(&mut self, topic: &str, from: StartFrom) -> ClientResult<()> {
        let partitions: Vec<u32> = (0..self.cluster.partition_count(topic)?).collect();
        let positions = match from {
            StartFrom::Offset(offset) => partitions.iter().map(|&p| (p, offset)).collect(),
            StartFrom::Earliest => self.list_offsets(topic, &partitions, OffsetSpec::Earliest)?,
            StartFrom::Latest => self.list_offsets(topic, &partitions, OffsetSpec::Latest)?,
            StartFrom::Timestamp(ts) => {
                self.list_offsets(topic, &partitions, OffsetSpec::Timestamp(ts))?
            }
        };
        for (partition, position) in positions {
            self.seek(topic, partition, position);
        }
        Ok(())
    }

    /// Sets the position of a partition (assigning it if it was not).
    /// Records buffered for it are dropped.
    pub fn seek(&mut self, topic: &str, partition: u32, offset: u64) {
        self.buffered
            .retain(|r| !(r.topic == topic && r.partition == partition));
        self.assignments.insert(
            (topic.to_string(), partition),
            Assignment {
                position: offset,
                high_watermark: None,
            },
        );
    }

    /// Stops reading a partition.
    pub fn unassign(&mut self, topic: &str, partition: u32) {
        self.buffered
            .retain(|r| !(r.topic == topic && r.partition == partition));
        self.assignments.remove(&(topic.to_string(), partition));
    }

    /// The offset of the next record [`Consumer::poll`] returns for a
    /// partition. Records [`Consumer::records`] buffered but has not yet
    /// returned are counted as not consumed.
    pub fn position(&self, topic: &str, partition: u32) -> Option<u64> {
        let buffered = self
            .buffered
            .iter()
            .find(|r| r.topic == topic && r.partition == partition);
        buffered.map(|r| r.offset).or_else(|| {
            self.assignments
                .get(&(topic.to_string(), partition))
                .map(|a| a.position)
        })
    }

    /// The assigned partitions, in order.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.assignments.keys().cloned().collect()
    }

    /// The high watermark of a partition from its latest fetch.
    pub fn high_watermark(&self, topic: &str, partition: u32) -> Option<u64> {
        self.assignments
            .get(&(topic.to_string(), partition))
            .and_then(|a| a.high_watermark)
    }

    /// Looks up offsets of `partitions` of `topic` (ListOffsets), in the
    /// order given.
    pub fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[u32],
        spec: OffsetSpec,
    ) -> ClientResult<Vec<(u32, u64)>> {
        let request = ListOffsetsRequest {
            topics: vec![(
                topic.to_string(),
                partitions.iter().map(|&p| (p, spec)).collect(),
            )],
        };
        let bootstrap = self.cluster.bootstrap().to_string();
        let response = self.retrying(|consumer| {
            consumer.cluster.bootstrap_call(
                ApiKey::ListOffsets,
                |buf| request.encode(buf),
                ListOffsetsResponse::decode,
            )
        })?;
        let found: BTreeMap<u32, (u16, u64)> = response
            .topics
            .iter()
            .filter(|(name, _)| name == topic)
            .flat_map(|(_, partitions)| partitions)
            .map(|p| (p.partition, (p.error_code, p.offset)))
            .collect();
        partitions
            .iter()
            .map(|&p| {
                let &(code, offset) = found.get(&p).ok_or_else(|| ClientError::Protocol {
                    addr: bootstrap.clone(),
                    reason: format!("ListOffsets response has no entry for {topic}/{p}"),
                })?;
                check_partition_code(&bootstrap, code, topic, p)?;
                Ok((p, offset))
            })
            .collect()
    }

    /// One fetch from every assigned partition (one request per core,
    /// sent together, so the long polls overlap); returns the records at
    /// or after each position, in partition order, and advances positions
    /// past them. May return no record after `max_wait_ms`. A retriable
    /// failure is retried `retries` times; on any error no position moves.
    pub fn poll(&mut self) -> ClientResult<Vec<ConsumedRecord>> {
        if !self.buffered.is_empty() {
            return Ok(self.buffered.drain(..).collect());
        }
        self.retrying(Self::fetch_once)
    }

    /// An endless iterator of records, fetching as needed. Yields an error
    /// when a fetch fails (after retries), then goes on fetching.
    pub fn records(&mut self) -> RecordIter<'_> {
        RecordIter { consumer: self }
    }

    /// Runs `call` again after a retriable failure, `retries` times at most.
    fn retrying<T>(
        &mut self,
        mut call: impl FnMut(&mut Self) -> ClientResult<T>,
    ) -> ClientResult<T> {
        let mut failed = 0;
        loop {
            match call(self) {
                Err(err) if err.is_retriable() && failed < self.retries => {
                    tracing::debug!(%err, "retrying");
                    failed += 1;
                    std::thread::sleep(self.retry_backoff);
                }
                result => return result,
            }
        }
    }

    fn fetch_once(&mut self) -> ClientResult<Vec<ConsumedRecord>> {
        if self.assignments.is_empty() {
            return Err(ClientError::Invalid(
                "no partition assigned: call assign first".into(),
            ));
        }
        if let Err(err) = self.cluster.refresh_if_stale() {
            tracing::warn!(%err, "metadata refresh failed; routing on what is known");
        }
        // One request per connection, all sent before any is read.
        let mut by_route: BTreeMap<Route, Vec<(TopicPartition, u64)>> = BTreeMap::new();
        for (key, assignment) in &self.assignments {
            let route = self.cluster.route(&key.0, key.1);
            by_route
                .entry(route)
                .or_default()
                .push((key.clone(), assignment.position));
        }
        let mut sent: Vec<Route> = Vec::new();
        // The error, and the connection it broke if it was one.
        let mut failure: Option<(Option<Route>, ClientError)> = None;
        for (route, partitions) in by_route {
            let request = self.fetch_request(&partitions);
            let (route, connection) = match self.cluster.connection(route) {
                Ok(found) => found,
                Err(err) => {
                    failure = Some((None, err));
                    break;
                }
            };
            if let Err(err) = connection.send(ApiKey::Fetch, |buf| request.encode(buf)) {
                failure = Some((Some(route), err));
                break;
            }
            if !sent.contains(&route) {
                sent.push(route);
            }
        }
        let mut responses = Vec::new();
        if failure.is_none() {
            'receive: for &route in &sent {
                let connection = self.cluster.existing(route).expect("sent on it");
                while !connection.in_flight().is_empty() {
                    match connection.receive() {
                        Ok(response) => {
                            responses.push((connection.addr().to_string(), response.body))
                        }
                        Err(err) => {
                            failure = Some((Some(route), err));
                            break 'receive;
                        }
                    }
                }
            }
        }
        if let Some((failed_route, err)) = failure {
            // Answers still in flight would come before the next fetch's:
            // drop every connection that has some, and the broken one.
            for route in sent {
                let busy = self
                    .cluster
                    .existing(route)
                    .is_some_and(|c| !c.in_flight().is_empty());
                if busy {
                    self.cluster.drop_connection(route);
                }
            }
            if let Some(route) = failed_route.filter(|_| err.breaks_connection()) {
                self.cluster.drop_connection(route);
            }
            return Err(err);
        }
        let mut decoded = Vec::new();
        for (addr, body) in responses {
            decoded.push((
                addr.clone(),
                decode_response(&addr, ApiKey::Fetch, body, FetchResponse::decode)?,
            ));
        }
        // Everything checks before any position moves.
        let mut records = Vec::new();
        let mut advanced = Vec::new();
        for (addr, response) in decoded {
            for (topic, partitions) in response.topics {
                for p in partitions {
                    let key = (topic.clone(), p.partition);
                    let Some(assignment) = self.assignments.get(&key) else {
                        continue;
                    };
                    if p.error_code == ErrorCode::OffsetOutOfRange as u16 {
                        return Err(ClientError::Broker {
                            code: ErrorCode::OffsetOutOfRange,
                            message: format!(
                                "{topic}/{}: position {} is outside {}..={}",
                                p.partition,
                                assignment.position,
                                p.log_start_offset,
                                p.high_watermark
                            ),
                        });
                    }
                    check_partition_code(&addr, p.error_code, &topic, p.partition)?;
                    let bytes = p.records.into_iter().next().unwrap_or_default();
                    let (mut found, next) =
                        records_from(&topic, p.partition, bytes, assignment.position)?;
                    records.append(&mut found);
                    advanced.push((key, next, p.high_watermark));
                }
            }
        }
        for (key, next, high_watermark) in advanced {
            if let Some(assignment) = self.assignments.get_mut(&key) {
                assignment.position = next;
                assignment.high_watermark = Some(high_watermark);
            }
        }
        Ok(records)
    }

    fn fetch_request(&self, partitions: &[(TopicPartition, u64)]) -> FetchRequest {
        let mut topics: Vec<(String, Vec<FetchPartition>)> = Vec::new();
        for ((topic, partition), position) in partitions {
            let entry = FetchPartition {
                partition: *partition,
                offset: *position,
                max_bytes: self.config.partition_max_bytes,
            };
            match topics.iter_mut().find(|(name, _)| name == topic) {
                Some((_, entries)) => entries.push(entry),
                None => topics.push((topic.clone(), vec![entry])),
            }
        }
        FetchRequest {
            max_wait_ms: self.config.max_wait_ms,
            min_bytes: self.config.min_bytes,
            max_bytes: self.config.max_bytes,
            topics,
        }
    }
}

/// The records of a fetch's `records` bytes (whole batches back to back)
/// at or after `position`, and the position after them. Records before
/// `position` (the first batch may start earlier) are skipped; every batch
/// is validated (CRC, lengths) first.
pub fn records_from(
    topic: &str,
    partition: u32,
    records: Bytes,
    position: u64,
) -> ClientResult<(Vec<ConsumedRecord>, u64)> {
    let mut found = Vec::new();
    let mut next = position;
    for batch in Batches::new(records, BATCH_BYTES_MAX) {
        let batch = batch.map_err(|source| ClientError::CorruptBatch {
            topic: topic.to_string(),
            partition,
            source,
        })?;
        if batch.header.next_offset() <= position {
            continue;
        }
        for record in batch.records() {
            if record.offset < position {
                continue;
            }
            found.push(ConsumedRecord {
                topic: topic.to_string(),
                partition,
                offset: record.offset,
                timestamp_ms: record.timestamp_ms,
                headers: record.headers().collect(),
                key: record.key,
                value: record.value,
            });
        }
        next = next.max(batch.header.next_offset());
    }
    Ok((found, next))
}

/// See [`Consumer::records`].
pub struct RecordIter<'a> {
    consumer: &'a mut Consumer,
}

impl Iterator for RecordIter<'_> {
    type Item = ClientResult<ConsumedRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.consumer.buffered.pop_front() {
                return Some(Ok(record));
            }
            match self.consumer.retrying(Consumer::fetch_once) {
                Ok(records) => self.consumer.buffered.extend(records),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use shardlog_protocol::batch::builder::NewRecord;
    use shardlog_protocol::batch::header::stamp_base_offset;
    use shardlog_protocol::batch::{BatchBuilder, TimestampType};

    /// Batches as a fetch returns them: records `base..base+count` each,
    /// valued by their offset.
    fn batches(runs: &[(u64, u64)]) -> Bytes {
        let mut out = BytesMut::new();
        for &(base, count) in runs {
            let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
            for i in 0..count {
                let value = (base + i).to_string();
                builder
                    .append(&NewRecord {
                        key: Some(b"k"),
                        value: value.as_bytes(),
                        headers: &[("h", b"v")],
                        timestamp_ms: 1_000 + i as i64,
                    })
                    .unwrap();
            }
            let mut batch = builder.finish().unwrap();
            stamp_base_offset(&mut batch, base);
            out.extend_from_slice(&batch);
        }
        out.freeze()
    }

    fn offsets(records: &[ConsumedRecord]) -> Vec<u64> {
        records.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn records_before_the_position_in_the_first_batch_are_skipped() {
        let (records, next) = records_from("t", 2, batches(&[(10, 5), (15, 3)]), 12).unwrap();
        assert_eq!(offsets(&records), [12, 13, 14, 15, 16, 17]);
        assert_eq!(next, 18);
        let first = &records[0];
        assert_eq!((first.topic.as_str(), first.partition), ("t", 2));
        assert_eq!(&first.value[..], b"12");
        assert_eq!(first.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(first.timestamp_ms, 1_002);
        assert_eq!(first.headers[0].name, "h");
        assert_eq!(&first.headers[0].value[..], b"v");
    }

    #[test]
    fn batches_wholly_before_the_position_are_skipped() {
        let (records, next) = records_from("t", 0, batches(&[(0, 4), (4, 4)]), 6).unwrap();
        assert_eq!(offsets(&records), [6, 7]);
        assert_eq!(next, 8);
        let (records, next) = records_from("t", 0, batches(&[(0, 4)]), 4).unwrap();
        assert!(records.is_empty());
        assert_eq!(next, 4, "nothing new: the position stays");
    }

    #[test]
    fn no_batches_keep_the_position() {
        let (records, next) = records_from("t", 0, Bytes::new(), 42).unwrap();
        assert!(records.is_empty());
        assert_eq!(next, 42);
    }

    #[test]
    fn a_corrupt_batch_is_an_error_naming_the_partition() {
        let mut bytes = BytesMut::from(&batches(&[(0, 3)])[..]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        let err = records_from("t", 1, bytes.freeze(), 0).unwrap_err();
        assert!(
            matches!(err, ClientError::CorruptBatch { partition: 1, .. }),
            "{err}"
        );
    }
}
