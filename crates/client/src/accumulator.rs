//! The producer's batching decisions, without I/O: records are appended to
//! an open batch per partition; a batch closes when the next record does not
//! fit (`batch_bytes_max`), on flush, or when its first record is `linger`
//! old and nothing of its partition is in flight or waiting; closed batches
//! wait in order per partition and go out one at a time per partition.
//!
//! One batch in flight per partition is what keeps a partition's order
//! across retries: a batch that failed goes back to the front of its
//! partition's queue, and nothing after it was sent.
//! Time is a parameter (`now`), so tests decide it.
//!
//! **Idempotence** (docs/CLIENT.md, "Idempotence"): batches are built as
//! version 2 with a placeholder producer block, and numbered when they are
//! first taken to be sent ([`Accumulator::stamp`]): per partition, the
//! `base_sequence` is the count of records stamped before under the same
//! producer id. A retry resends the stamped bytes unchanged, so the broker
//! answers it with the first copy's offset. A stamped batch that fails for
//! good may or may not have been written, so its partition starts afresh:
//! a new producer id (the producer asks InitProducer again), sequence 0.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use shardlog_protocol::batch::builder::{BuildError, NewRecord};
use shardlog_protocol::batch::header::stamp_producer;
use shardlog_protocol::batch::{BatchBuilder, ProducerFields, TimestampType};

/// A topic and one of its partitions.
pub type TopicPartition = (String, u32);

/// A closed batch, encoded and ready to send.
#[derive(Debug)]
pub struct ClosedBatch {
    pub topic: String,
    pub partition: u32,
    /// The encoded batch (its base offset is stamped by the broker).
    pub batch: BytesMut,
    pub record_count: u32,
    /// Sends that failed so far.
    pub failed_attempts: u32,
    /// Not to be sent before this (backoff after a failure).
    pub not_before: Option<Instant>,
    /// The producer block stamped into `batch` ([`Accumulator::stamp`]);
    /// `None` before it is first sent, and always without idempotence.
    pub producer: Option<ProducerFields>,
}

/// A producer id and epoch, as InitProducer gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdentity {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Where a partition's numbering stands: the identity its batches carry,
/// and the sequence of the next one.
#[derive(Clone, Copy, Debug)]
struct PartitionSequence {
    identity: ProducerIdentity,
    next: i32,
}

/// The producer block a version 2 batch is built with, before
/// [`Accumulator::stamp`] writes the real one (never sent).
const PLACEHOLDER: ProducerFields = ProducerFields {
    producer_id: 0,
    producer_epoch: 0,
    base_sequence: 0,
};

struct OpenBatch {
    builder: BatchBuilder,
    timestamp_type: TimestampType,
    /// When the first record was appended.
    opened_at: Instant,
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<OpenBatch>,
    closed: VecDeque<ClosedBatch>,
    in_flight: bool,
}

/// What [`Accumulator::append`] did besides adding the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The partition's open batch was closed to make room.
    pub closed_a_batch: bool,
}

/// Batches of every partition a producer writes to.
pub struct Accumulator {
    batch_bytes_max: u32,
    linger: Duration,
    partitions: BTreeMap<TopicPartition, PartitionQueue>,
    /// Bytes of open, closed and in-flight batches.
    buffered_bytes: usize,
    /// Version 2 batches, numbered per partition.
    idempotence: bool,
    /// The identity a partition without numbering starts with; `None`
    /// until InitProducer answered, and again after a partition had to
    /// start afresh.
    identity: Option<ProducerIdentity>,
    /// Per partition written to, its numbering. Kept while the partition
    /// has nothing buffered (its queue is dropped), so the next batch
    /// continues the sequence: one entry per partition ever written.
    sequences: HashMap<TopicPartition, PartitionSequence>,
}

impl Accumulator {
    /// `idempotence`: build version 2 batches and number them (see the
    /// module doc); else version 1 batches, never numbered.
    pub fn new(batch_bytes_max: u32, linger: Duration, idempotence: bool) -> Self {
        Accumulator {
            batch_bytes_max,
            linger,
            partitions: BTreeMap::new(),
            buffered_bytes: 0,
            idempotence,
            identity: None,
            sequences: HashMap::new(),
        }
    }

    /// Whether a batch may need an identity that is not there: the
    /// producer asks InitProducer and calls [`Accumulator::set_identity`].
    pub fn needs_identity(&self) -> bool {
        self.idempotence && self.identity.is_none()
    }

    /// The identity for partitions that start numbering from now on.
    pub fn set_identity(&mut self, identity: ProducerIdentity) {
        self.identity = Some(identity);
    }

    /// Stamps `batch` (just taken) with its partition's producer id, epoch
    /// and next sequence, once: a batch stamped before (a retry) keeps its
    /// bytes. False when it needs an identity and there is none; the batch
    /// is then unchanged. Always true without idempotence.
    pub fn stamp(&mut self, batch: &mut ClosedBatch) -> bool {
        if !self.idempotence || batch.producer.is_some() {
            return true;
        }
        let key = (batch.topic.clone(), batch.partition);
        let sequence = match self.sequences.get_mut(&key) {
            Some(sequence) => sequence,
            None => {
                let Some(identity) = self.identity else {
                    return false;
                };
                self.sequences
                    .entry(key)
                    .or_insert(PartitionSequence { identity, next: 0 })
            }
        };
        let fields = ProducerFields {
            producer_id: sequence.identity.producer_id,
            producer_epoch: sequence.identity.producer_epoch,
            base_sequence: sequence.next,
        };
        stamp_producer(&mut batch.batch, fields);
        sequence.next = next_sequence(fields.last_sequence(batch.record_count));
        batch.producer = Some(fields);
        true
    }

    /// Bytes of records held (open, waiting or in flight).
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Whether nothing is held at all.
    pub fn is_empty(&self) -> bool {
        self.buffered_bytes == 0
    }

    /// Adds a record to the open batch of (`topic`, `partition`), closing
    /// that batch first if the record does not fit it or needs the other
    /// timestamp type. On error nothing changed.
    pub fn append(
        &mut self,
        topic: &str,
        partition: u32,
        record: &NewRecord<'_>,
        timestamp_type: TimestampType,
        now: Instant,
    ) -> Result<Appended, BuildError> {
        let key = (topic.to_string(), partition);
        let queue = self.partitions.entry(key).or_default();
        let mut closed_a_batch = false;
        if let Some(open) = &mut queue.open {
            let before = open.builder.encoded_len();
            let result = if open.timestamp_type == timestamp_type {
                open.builder.append(record)
            } else {
                Err(BuildError::Full)
            };
            match result {
                Ok(()) => {
                    self.buffered_bytes += open.builder.encoded_len() - before;
                    return Ok(Appended {
                        closed_a_batch: false,
                    });
                }
                // A delta that does not fit is a reason to start afresh.
                Err(BuildError::Full | BuildError::TimestampOutOfRange(_)) => {
                    Self::close(queue, topic, partition);
                    closed_a_batch = true;
                }
                Err(other) => return Err(other),
            }
        }
        let producer = self.idempotence.then_some(PLACEHOLDER);
        let mut builder =
            BatchBuilder::with_capacity(timestamp_type, self.batch_bytes_max, producer, 256);
        builder.append(record)?;
        self.buffered_bytes += builder.encoded_len();
        queue.open = Some(OpenBatch {
            builder,
            timestamp_type,
            opened_at: now,
        });
        Ok(Appended { closed_a_batch })
    }

    fn close(queue: &mut PartitionQueue, topic: &str, partition: u32) {
        let Some(open) = queue.open.take() else {
            return;
        };
        let record_count = open.builder.record_count();
        if let Some(batch) = open.builder.finish() {
            queue.closed.push_back(ClosedBatch {
                topic: topic.to_string(),
                partition,
                batch,
                record_count,
                failed_attempts: 0,
                not_before: None,
                producer: None,
            });
        }
    }

    /// Closes the open batches whose first record is `linger` old (all of
    /// them when `flush`); returns the partitions whose batch closed.
    pub fn close_lingered(&mut self, now: Instant, flush: bool) -> Vec<TopicPartition> {
        let mut closed = Vec::new();
        for ((topic, partition), queue) in &mut self.partitions {
            // While the partition has a batch in flight or waiting, the
            // open batch keeps filling (up to `batch_bytes_max`) instead of
            // closing on linger: it could not be sent sooner anyway, and
            // one large batch is one broker commit where many small ones
            // would each cost an fsync.
            let blocked = queue.in_flight || !queue.closed.is_empty();
            let due = queue.open.as_ref().is_some_and(|open| {
                flush || (!blocked && now.duration_since(open.opened_at) >= self.linger)
            });
            if due {
                Self::close(queue, topic, *partition);
                closed.push((topic.clone(), *partition));
            }
        }
        closed
    }

    /// The partitions whose next batch may be sent now: closed, none of the
    /// partition's in flight, past its backoff. With its size in bytes.
    pub fn sendable(&self, now: Instant) -> Vec<(TopicPartition, usize)> {
        self.partitions
            .iter()
            .filter(|(_, queue)| !queue.in_flight)
            .filter_map(|(key, queue)| {
                let batch = queue.closed.front()?;
                let ready = batch.not_before.is_none_or(|at| at <= now);
                ready.then(|| (key.clone(), batch.batch.len()))
            })
            .collect()
    }

    /// Takes the next batch of a partition to send it; the partition is in
    /// flight until [`Accumulator::acknowledged`] or [`Accumulator::retry`].
    pub fn take(&mut self, key: &TopicPartition) -> Option<ClosedBatch> {
        let queue = self.partitions.get_mut(key)?;
        if queue.in_flight {
            return None;
        }
        let batch = queue.closed.pop_front()?;
        queue.in_flight = true;
        Some(batch)
    }

    /// The batch was acknowledged.
    pub fn acknowledged(&mut self, batch: &ClosedBatch) {
        self.buffered_bytes -= batch.batch.len();
        self.release(&(batch.topic.clone(), batch.partition));
    }

    /// The batch failed for good. If it was stamped, the broker may or may
    /// not hold it, so its sequence is spent either way: its partition
    /// starts afresh under a new identity (the next one InitProducer gives)
    /// at sequence 0, which the broker accepts whatever it holds.
    pub fn failed(&mut self, batch: &ClosedBatch) {
        let key = (batch.topic.clone(), batch.partition);
        if let Some(fields) = batch.producer {
            self.sequences.remove(&key);
            let spent = ProducerIdentity {
                producer_id: fields.producer_id,
                producer_epoch: fields.producer_epoch,
            };
            if self.identity == Some(spent) {
                self.identity = None;
            }
        }
        self.buffered_bytes -= batch.batch.len();
        self.release(&key);
    }

    /// The batch failed retriably: it goes back to the front of its
    /// partition, to be sent again no sooner than `not_before`.
    pub fn retry(&mut self, mut batch: ClosedBatch, not_before: Instant) {
        batch.failed_attempts += 1;
        batch.not_before = Some(not_before);
        let key = (batch.topic.clone(), batch.partition);
        let queue = self.partitions.entry(key.clone()).or_default();
        queue.closed.push_front(batch);
        self.release(&key);
    }

    fn release(&mut self, key: &TopicPartition) {
        if let Some(queue) = self.partitions.get_mut(key) {
            queue.in_flight = false;
            if queue.open.is_none() && queue.closed.is_empty() {
                self.partitions.remove(key);
            }
        }
    }

    /// Whether any batch is in flight.
    pub fn any_in_flight(&self) -> bool {
        self.partitions.values().any(|queue| queue.in_flight)
    }

    /// The next moment something becomes due without any response: an open
    /// batch's linger, or a waiting batch's backoff. (A closed batch with
    /// no backoff is due already; it waits only for a connection's window.)
    pub fn next_due(&self) -> Option<Instant> {
        self.partitions
            .values()
            .flat_map(|queue| {
                let blocked = queue.in_flight || !queue.closed.is_empty();
                let linger = queue
                    .open
                    .as_ref()
                    .filter(|_| !blocked)
                    .map(|open| open.opened_at + self.linger);
                let backoff = queue
                    .closed
                    .front()
                    .filter(|_| !queue.in_flight)
                    .and_then(|batch| batch.not_before);
                linger.into_iter().chain(backoff)
            })
            .min()
    }
}

/// The sequence after `last`: sequences wrap from `i32::MAX` to 0.
fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX {
        0
    } else {
        last + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardlog_protocol::batch::header::HEADER_LEN;
    use shardlog_protocol::batch::Batch;

    fn record(value: &[u8]) -> NewRecord<'_> {
        NewRecord {
            key: None,
            value,
            headers: &[],
            timestamp_ms: 1_000,
        }
    }

    fn values(batch: &ClosedBatch) -> Vec<Vec<u8>> {
        let batch = Batch::decode(batch.batch.clone().freeze(), u32::MAX >> 1).expect("valid");
        batch.records().map(|r| r.value.to_vec()).collect()
    }

    const CREATE: TimestampType = TimestampType::Create;

    #[test]
    fn a_batch_waits_for_linger_then_closes() {
        let t0 = Instant::now();
        let linger = Duration::from_millis(5);
        let mut acc = Accumulator::new(1024, linger, false);
        acc.append("t", 0, &record(b"a"), CREATE, t0).unwrap();
        acc.append("t", 0, &record(b"b"), CREATE, t0 + Duration::from_millis(3))
            .unwrap();
        assert!(acc
            .close_lingered(t0 + Duration::from_millis(4), false)
            .is_empty());
        assert!(acc.sendable(t0 + Duration::from_millis(4)).is_empty());
        assert_eq!(
            acc.next_due(),
            Some(t0 + linger),
            "linger counts from the first record"
        );
        let closed = acc.close_lingered(t0 + linger, false);
        assert_eq!(closed, vec![("t".to_string(), 0)]);
        let batch = acc.take(&("t".into(), 0)).expect("closed batch");
        assert_eq!(values(&batch), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(batch.record_count, 2);
    }

    #[test]
    fn a_record_that_does_not_fit_closes_the_batch() {
        let t0 = Instant::now();
        // Room for two 100-byte values, not three.
        let one = HEADER_LEN + shardlog_protocol::batch::record::RECORD_OVERHEAD + 100;
        let max = (HEADER_LEN + 2 * (one - HEADER_LEN)) as u32 + 50;
        let mut acc = Accumulator::new(max, Duration::from_secs(3600), false);
        let value = [7u8; 100];
        for i in 0..2 {
            let appended = acc.append("t", 0, &record(&value), CREATE, t0).unwrap();
            assert!(!appended.closed_a_batch, "record {i} fits");
        }
        let appended = acc.append("t", 0, &record(&value), CREATE, t0).unwrap();
        assert!(appended.closed_a_batch);
        let sendable = acc.sendable(t0);
        assert_eq!(sendable.len(), 1, "the full batch goes without linger");
        assert!(sendable[0].1 <= max as usize);
        let batch = acc.take(&("t".into(), 0)).unwrap();
        assert_eq!(batch.record_count, 2);
        assert_eq!(acc.buffered_bytes(), batch.batch.len() + one);
    }

    #[test]
    fn a_record_larger_than_any_batch_is_refused_and_changes_nothing() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(128, Duration::ZERO, false);
        acc.append("t", 0, &record(b"small"), CREATE, t0).unwrap();
        let before = acc.buffered_bytes();
        let err = acc
            .append("t", 0, &record(&[0u8; 200]), CREATE, t0)
            .unwrap_err();
        assert!(matches!(err, BuildError::RecordTooLarge { .. }), "{err}");
        assert_eq!(acc.buffered_bytes(), before);
        acc.close_lingered(t0, true);
        assert_eq!(
            values(&acc.take(&("t".into(), 0)).unwrap()),
            [b"small".to_vec()]
        );
    }

    #[test]
    fn a_change_of_timestamp_type_starts_a_new_batch() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(1 << 20, Duration::from_secs(1), false);
        acc.append("t", 0, &record(b"a"), CREATE, t0).unwrap();
        let appended = acc
            .append("t", 0, &record(b"b"), TimestampType::LogAppend, t0)
            .unwrap();
        assert!(appended.closed_a_batch);
    }

    #[test]
    fn a_partition_busy_in_flight_keeps_filling_its_open_batch() {
        let t0 = Instant::now();
        let linger = Duration::from_millis(1);
        let mut acc = Accumulator::new(1 << 20, linger, false);
        let p0 = ("t".to_string(), 0);
        acc.append("t", 0, &record(b"first"), CREATE, t0).unwrap();
        acc.close_lingered(t0 + linger, false);
        let in_flight = acc.take(&p0).unwrap();
        // Lingered records of a partition in flight stay open and grow...
        let later = t0 + 10 * linger;
        for value in [b"a", b"b", b"c"] {
            acc.append("t", 0, &record(value), CREATE, t0 + linger)
                .unwrap();
        }
        assert!(acc.close_lingered(later, false).is_empty());
        assert_eq!(acc.next_due(), None, "nothing is due while blocked");
        // ...and close as one batch once the partition is free.
        acc.acknowledged(&in_flight);
        assert_eq!(acc.close_lingered(later, false), vec![p0.clone()]);
        assert_eq!(
            values(&acc.take(&p0).unwrap()),
            [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn one_batch_in_flight_per_partition_and_retries_go_first() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(1 << 20, Duration::ZERO, false);
        let p0 = ("t".to_string(), 0);
        for value in [b"1", b"2", b"3"] {
            acc.append("t", 0, &record(value), CREATE, t0).unwrap();
            acc.close_lingered(t0, true);
        }
        acc.append("t", 1, &record(b"x"), CREATE, t0).unwrap();
        acc.close_lingered(t0, true);
        let first = acc.take(&p0).unwrap();
        assert_eq!(values(&first), [b"1".to_vec()]);
        assert!(acc.take(&p0).is_none(), "partition 0 is in flight");
        let sendable: Vec<_> = acc.sendable(t0).into_iter().map(|(k, _)| k).collect();
        assert_eq!(sendable, vec![("t".to_string(), 1)]);

        // Batch 1 fails retriably: it is next again, after its backoff.
        let backoff = t0 + Duration::from_millis(100);
        acc.retry(first, backoff);
        assert!(acc.sendable(t0).iter().all(|(k, _)| *k != p0));
        assert_eq!(acc.next_due(), Some(backoff));
        let again = acc.take(&p0).unwrap();
        assert_eq!(values(&again), [b"1".to_vec()]);
        assert_eq!(again.failed_attempts, 1);
        acc.acknowledged(&again);
        let second = acc.take(&p0).unwrap();
        assert_eq!(values(&second), [b"2".to_vec()]);
        acc.acknowledged(&second);
        let third = acc.take(&p0).unwrap();
        acc.acknowledged(&third);
        let other = acc.take(&("t".to_string(), 1)).unwrap();
        acc.acknowledged(&other);
        assert!(acc.is_empty());
        assert!(!acc.any_in_flight());
        assert_eq!(acc.next_due(), None);
    }

    fn producer(acc: &mut Accumulator, batch: &mut ClosedBatch) -> ProducerFields {
        assert!(acc.stamp(batch), "stamped");
        let fields = batch.producer.expect("a producer block");
        let decoded = Batch::decode(batch.batch.clone().freeze(), u32::MAX >> 1).expect("valid");
        assert_eq!(decoded.header.producer, Some(fields), "the bytes carry it");
        fields
    }

    /// Sequences count the records sent before to the partition, per
    /// partition; a retried batch keeps its bytes and its sequence.
    #[test]
    fn batches_are_numbered_per_partition_when_first_taken_and_retries_keep_it() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(1 << 20, Duration::ZERO, true);
        let (p0, p1) = (("t".to_string(), 0), ("t".to_string(), 1));
        for (partition, values) in [(0, &[&b"a"[..], b"b", b"c"][..]), (1, &[&b"x"[..]][..])] {
            for value in values {
                acc.append("t", partition, &record(value), CREATE, t0)
                    .unwrap();
            }
            acc.close_lingered(t0, true);
        }
        acc.append("t", 0, &record(b"d"), CREATE, t0).unwrap();
        acc.close_lingered(t0, true);

        let mut first = acc.take(&p0).unwrap();
        assert!(acc.needs_identity());
        assert!(!acc.stamp(&mut first), "no identity yet");
        assert_eq!(first.producer, None);
        let identity = ProducerIdentity {
            producer_id: 77,
            producer_epoch: 2,
        };
        acc.set_identity(identity);
        assert!(!acc.needs_identity());
        let fields = producer(&mut acc, &mut first);
        assert_eq!(
            fields,
            ProducerFields {
                producer_id: 77,
                producer_epoch: 2,
                base_sequence: 0
            }
        );

        // A retry resends the very same bytes.
        let bytes = first.batch.clone();
        acc.retry(first, t0);
        let mut again = acc.take(&p0).unwrap();
        assert_eq!(producer(&mut acc, &mut again), fields);
        assert_eq!(again.batch, bytes, "the same bytes, the same sequence");
        acc.acknowledged(&again);

        let mut second = acc.take(&p0).unwrap();
        assert_eq!(producer(&mut acc, &mut second).base_sequence, 3);
        let mut other = acc.take(&p1).unwrap();
        assert_eq!(
            producer(&mut acc, &mut other).base_sequence,
            0,
            "each partition counts its own records"
        );
        acc.acknowledged(&second);
        acc.acknowledged(&other);

        // The partition's queue is gone; its numbering is not.
        acc.append("t", 0, &record(b"e"), CREATE, t0).unwrap();
        acc.close_lingered(t0, true);
        let mut third = acc.take(&p0).unwrap();
        assert_eq!(producer(&mut acc, &mut third).base_sequence, 4);
        acc.acknowledged(&third);
        assert!(acc.is_empty());
    }

    /// A stamped batch that fails for good spends its sequence: its
    /// partition starts again at 0 under a new identity; the others go on.
    #[test]
    fn a_batch_that_fails_for_good_restarts_its_partition_under_a_new_identity() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(1 << 20, Duration::ZERO, true);
        let (p0, p1) = (("t".to_string(), 0), ("t".to_string(), 1));
        let old = ProducerIdentity {
            producer_id: 1,
            producer_epoch: 0,
        };
        acc.set_identity(old);
        for partition in [0, 1, 0, 1] {
            acc.append("t", partition, &record(b"v"), CREATE, t0)
                .unwrap();
            acc.close_lingered(t0, true);
        }
        let mut a = acc.take(&p0).unwrap();
        let mut b = acc.take(&p1).unwrap();
        producer(&mut acc, &mut a);
        producer(&mut acc, &mut b);
        acc.failed(&a);
        acc.acknowledged(&b);
        assert!(acc.needs_identity(), "partition 0 needs a new id");

        let mut a2 = acc.take(&p0).unwrap();
        assert!(!acc.stamp(&mut a2));
        let new = ProducerIdentity {
            producer_id: 2,
            producer_epoch: 0,
        };
        acc.set_identity(new);
        let fields = producer(&mut acc, &mut a2);
        assert_eq!((fields.producer_id, fields.base_sequence), (2, 0));
        let mut b2 = acc.take(&p1).unwrap();
        let fields = producer(&mut acc, &mut b2);
        assert_eq!(
            (fields.producer_id, fields.base_sequence),
            (1, 1),
            "partition 1 goes on under its id"
        );
        // A batch that never went out spends nothing.
        acc.failed(&b2);
        acc.failed(&a2);
        assert!(acc.needs_identity());
        assert!(acc.is_empty());
    }

    #[test]
    fn without_idempotence_batches_are_version_1_and_never_numbered() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(1 << 20, Duration::ZERO, false);
        acc.append("t", 0, &record(b"v"), CREATE, t0).unwrap();
        acc.close_lingered(t0, true);
        let mut batch = acc.take(&("t".to_string(), 0)).unwrap();
        assert!(!acc.needs_identity());
        assert!(acc.stamp(&mut batch));
        assert_eq!(batch.producer, None);
        let decoded = Batch::decode(batch.batch.clone().freeze(), u32::MAX >> 1).unwrap();
        assert_eq!(decoded.header.format_version, 1);
    }

    #[test]
    fn sequences_wrap_from_the_largest_to_zero() {
        assert_eq!(next_sequence(i32::MAX), 0);
        assert_eq!(next_sequence(5), 6);
    }
}
