//! Idempotent producers: for each producer id, the last batches a
//! partition appended (or queued) from it, so that a retried batch gets its
//! original offset back instead of being appended twice, and a gap or an
//! older epoch is refused (docs/STORAGE.md, "Producer state").
//!
//! Pure state, no I/O. The log checks each batch when it is submitted, on
//! the partition's core and in queue order, so batches still in flight
//! count: a range without an offset is queued but not yet committed. The
//! snapshot codec (written at segment roll and clean close, read at open)
//! is here too; the log decides when to write it.

use std::collections::{HashMap, VecDeque};

use crate::batch::ProducerFields;
use crate::config::{
    PRODUCERS_PER_PARTITION_MAX, PRODUCER_BATCHES_RETAINED, PRODUCER_ID_EXPIRATION_MS,
    PRODUCER_SNAPSHOT_BYTES_MAX,
};

/// How much producer state one partition keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerLimits {
    pub batches_retained: usize,
    pub producers_max: usize,
    pub idle_expiry_ms: i64,
}

impl Default for ProducerLimits {
    fn default() -> Self {
        ProducerLimits {
            batches_retained: PRODUCER_BATCHES_RETAINED,
            producers_max: PRODUCERS_PER_PARTITION_MAX,
            idle_expiry_ms: PRODUCER_ID_EXPIRATION_MS,
        }
    }
}

/// One batch of a producer: its sequences and where it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SequenceRange {
    first: i32,
    last: i32,
    /// `None` while the batch is queued, not yet committed.
    base_offset: Option<u64>,
    ticket: u64,
}

#[derive(Clone, Debug)]
struct Producer {
    epoch: i16,
    /// Oldest first; at most `batches_retained`.
    batches: VecDeque<SequenceRange>,
    last_append_ms: i64,
}

impl Producer {
    fn has_in_flight(&self) -> bool {
        self.batches.iter().any(|b| b.base_offset.is_none())
    }
}

/// What to do with a batch that passed the sequence check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// A new batch: append it; `ticket` names it when it commits.
    Append { ticket: u64 },
    /// A retry of a committed batch: answer with its offset, append nothing.
    Duplicate { base_offset: u64 },
    /// A retry of a batch still queued: answer with its offset once it
    /// commits (`ticket`), append nothing.
    DuplicateInFlight { ticket: u64 },
}

/// Why a batch was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// Not the next sequence (a gap, or a retry older than the batches
    /// kept), or a new epoch or unknown producer not starting at 0:
    /// Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[error("out of order sequence {got} for producer {producer_id}: expected {expected}")]
    OutOfOrder {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    /// An epoch older than the one this partition has seen: a newer
    /// instance of the producer took over (Kafka's INVALID_PRODUCER_EPOCH).
    #[error("producer {producer_id} epoch {got} is fenced by epoch {current}")]
    Fenced {
        producer_id: i64,
        current: i16,
        got: i16,
    },
}

/// The sequence after `seq`; wraps at `i32::MAX` as Kafka's does.
fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// One partition's producers.
#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, Producer>,
    next_ticket: u64,
    limits: ProducerLimits,
}

impl ProducerStates {
    pub fn new(limits: ProducerLimits) -> Self {
        assert!(limits.batches_retained >= 1 && limits.producers_max >= 1);
        ProducerStates {
            producers: HashMap::new(),
            next_ticket: 0,
            limits,
        }
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks a batch of `record_count` records from `fields` against what
    /// this partition has seen and queued, and records it when it is new.
    pub fn check(
        &mut self,
        fields: ProducerFields,
        record_count: u32,
        now_ms: i64,
    ) -> Result<SequenceCheck, SequenceError> {
        let first = fields.base_sequence;
        let last = fields.last_sequence(record_count);
        let producer_id = fields.producer_id;
        let out_of_order = |expected| SequenceError::OutOfOrder {
            producer_id,
            expected,
            got: first,
        };
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            if first != 0 {
                return Err(out_of_order(0));
            }
            self.make_room(now_ms);
            self.producers.insert(
                producer_id,
                Producer {
                    epoch: fields.producer_epoch,
                    batches: VecDeque::new(),
                    last_append_ms: now_ms,
                },
            );
            return Ok(self.push(producer_id, first, last, None, now_ms));
        };
        if fields.producer_epoch < producer.epoch {
            return Err(SequenceError::Fenced {
                producer_id,
                current: producer.epoch,
                got: fields.producer_epoch,
            });
        }
        if fields.producer_epoch > producer.epoch {
            // A new epoch (KIP-360: the client bumped it) starts over at 0.
            if first != 0 {
                return Err(out_of_order(0));
            }
            producer.epoch = fields.producer_epoch;
            producer.batches.clear();
            return Ok(self.push(producer_id, first, last, None, now_ms));
        }
        if let Some(seen) = producer
            .batches
            .iter()
            .find(|b| b.first == first && b.last == last)
        {
            producer.last_append_ms = now_ms;
            return Ok(match seen.base_offset {
                Some(base_offset) => SequenceCheck::Duplicate { base_offset },
                None => SequenceCheck::DuplicateInFlight {
                    ticket: seen.ticket,
                },
            });
        }
        let expected = producer.batches.back().map_or(0, |b| next_sequence(b.last));
        if first != expected {
            return Err(out_of_order(expected));
        }
        Ok(self.push(producer_id, first, last, None, now_ms))
    }

    /// Records a batch for a producer that exists; drops the oldest past
    /// the retained count.
    fn push(
        &mut self,
        producer_id: i64,
        first: i32,
        last: i32,
        base_offset: Option<u64>,
        now_ms: i64,
    ) -> SequenceCheck {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let retained = self.limits.batches_retained;
        let producer = self
            .producers
            .get_mut(&producer_id)
            .expect("the caller made sure the producer exists");
        producer.batches.push_back(SequenceRange {
            first,
            last,
            base_offset,
            ticket,
        });
        while producer.batches.len() > retained {
            producer.batches.pop_front();
        }
        producer.last_append_ms = producer.last_append_ms.max(now_ms);
        SequenceCheck::Append { ticket }
    }

    /// The batch `ticket` of `producer_id` committed at `base_offset`.
    pub fn committed(&mut self, producer_id: i64, ticket: u64, base_offset: u64) {
        let range = self
            .producers
            .get_mut(&producer_id)
            .and_then(|p| p.batches.iter_mut().find(|b| b.ticket == ticket));
        // Gone when the producer was evicted or bumped its epoch meanwhile.
        if let Some(range) = range {
            range.base_offset = Some(base_offset);
        }
    }

    /// Every queued batch failed (the log fails everything queued at once):
    /// forget them, so the producer's retries continue from the last
    /// committed sequence.
    pub fn abandon_in_flight(&mut self) {
        for producer in self.producers.values_mut() {
            producer.batches.retain(|b| b.base_offset.is_some());
        }
    }

    /// Replays a batch read from the log (recovery): the log is the truth,
    /// so nothing is refused.
    pub fn replay(
        &mut self,
        fields: ProducerFields,
        record_count: u32,
        base_offset: u64,
        timestamp_ms: i64,
    ) {
        let first = fields.base_sequence;
        let last = fields.last_sequence(record_count);
        match self.producers.get_mut(&fields.producer_id) {
            Some(p) if fields.producer_epoch < p.epoch => return,
            // Scanned twice (a recovery that falls back to a full scan).
            Some(p)
                if fields.producer_epoch == p.epoch
                    && p.batches.iter().any(|b| b.base_offset == Some(base_offset)) =>
            {
                return
            }
            Some(p) if fields.producer_epoch > p.epoch => {
                p.epoch = fields.producer_epoch;
                p.batches.clear();
            }
            Some(_) => {}
            None => {
                self.make_room(timestamp_ms);
                self.producers.insert(
                    fields.producer_id,
                    Producer {
                        epoch: fields.producer_epoch,
                        batches: VecDeque::new(),
                        last_append_ms: timestamp_ms,
                    },
                );
            }
        }
        self.push(
            fields.producer_id,
            first,
            last,
            Some(base_offset),
            timestamp_ms,
        );
    }

    /// Forgets producers idle longer than the expiry, and any whose batches
    /// are all below `log_start_offset` (deleted by retention).
    /// Returns how many producers were forgotten.
    pub fn expire(&mut self, now_ms: i64, log_start_offset: u64) -> usize {
        let expiry = self.limits.idle_expiry_ms;
        let before = self.producers.len();
        self.producers.retain(|_, p| {
            p.has_in_flight()
                || (now_ms.saturating_sub(p.last_append_ms) <= expiry
                    && p.batches
                        .back()
                        .and_then(|b| b.base_offset)
                        .is_none_or(|o| o >= log_start_offset))
        });
        before - self.producers.len()
    }

    /// Before adding a producer at the limit: expire the idle ones, then
    /// forget the one idle longest.
    fn make_room(&mut self, now_ms: i64) {
        if self.producers.len() < self.limits.producers_max {
            return;
        }
        self.expire(now_ms, 0);
        while self.producers.len() >= self.limits.producers_max {
            let oldest = self
                .producers
                .iter()
                .min_by_key(|(_, p)| p.last_append_ms)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.producers.remove(&id),
                None => break,
            };
        }
    }

    /// The committed state, encoded (see docs/STORAGE.md, "Producer
    /// state"): every batch with an offset below `covered_next_offset`.
    pub fn encode_snapshot(&self, covered_next_offset: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.producers.len() * 40);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&covered_next_offset.to_le_bytes());
        let count_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut count = 0u32;
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let p = &self.producers[&id];
            let ranges: Vec<_> = p
                .batches
                .iter()
                .filter_map(|b| {
                    b.base_offset
                        .filter(|o| *o < covered_next_offset)
                        .map(|o| (b.first, b.last, o))
                })
                .collect();
            if ranges.is_empty() {
                continue;
            }
            count += 1;
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&p.epoch.to_le_bytes());
            out.push(ranges.len() as u8);
            out.push(0);
            out.extend_from_slice(&p.last_append_ms.to_le_bytes());
            for (first, last, offset) in ranges {
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&last.to_le_bytes());
                out.extend_from_slice(&offset.to_le_bytes());
            }
        }
        out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a snapshot: the state and the offset it covers up to, or
    /// `None` when it is damaged or too large (the caller then rebuilds
    /// from the log alone).
    pub fn decode_snapshot(buf: &[u8], limits: ProducerLimits) -> Option<(ProducerStates, u64)> {
        if buf.len() < 24 || buf.len() > PRODUCER_SNAPSHOT_BYTES_MAX {
            return None;
        }
        let (body, crc) = buf.split_at(buf.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return None;
        }
        if &body[0..4] != SNAPSHOT_MAGIC || body[4] != SNAPSHOT_VERSION {
            return None;
        }
        let mut reader = Reader { buf: body, at: 8 };
        let covered = u64::from_le_bytes(reader.take()?);
        let count = u32::from_le_bytes(reader.take()?);
        let mut states = ProducerStates::new(limits);
        for _ in 0..count {
            let id = i64::from_le_bytes(reader.take()?);
            let epoch = i16::from_le_bytes(reader.take()?);
            let [ranges, _] = reader.take::<2>()?;
            let last_append_ms = i64::from_le_bytes(reader.take()?);
            let mut batches = VecDeque::new();
            for _ in 0..ranges {
                let first = i32::from_le_bytes(reader.take()?);
                let last = i32::from_le_bytes(reader.take()?);
                let offset = u64::from_le_bytes(reader.take()?);
                batches.push_back(SequenceRange {
                    first,
                    last,
                    base_offset: Some(offset),
                    ticket: states.next_ticket,
                });
                states.next_ticket += 1;
            }
            while batches.len() > limits.batches_retained {
                batches.pop_front();
            }
            states.make_room(last_append_ms);
            states.producers.insert(
                id,
                Producer {
                    epoch,
                    batches,
                    last_append_ms,
                },
            );
        }
        (reader.at == body.len()).then_some((states, covered))
    }
}

const SNAPSHOT_MAGIC: &[u8; 4] = b"SLPS";
const SNAPSHOT_VERSION: u8 = 1;

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.at.checked_add(N)?;
        let bytes = self.buf.get(self.at..end)?.try_into().ok()?;
        self.at = end;
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(producer_id: i64, producer_epoch: i16, base_sequence: i32) -> ProducerFields {
        ProducerFields {
            producer_id,
            producer_epoch,
            base_sequence,
        }
    }

    /// Checks a batch and, when new, commits it at `offset`.
    fn append(states: &mut ProducerStates, f: ProducerFields, count: u32, offset: u64) {
        match states.check(f, count, 0).unwrap() {
            SequenceCheck::Append { ticket } => states.committed(f.producer_id, ticket, offset),
            other => panic!("expected a new batch, got {other:?}"),
        }
    }

    #[test]
    fn a_duplicate_within_the_last_five_gets_its_original_offset() {
        let mut states = ProducerStates::default();
        for i in 0..7 {
            append(&mut states, fields(1, 0, i * 2), 2, 100 + i as u64 * 2);
        }
        // Batches 2..=6 are retained: sequences 4..=13.
        for i in 2..7 {
            assert_eq!(
                states.check(fields(1, 0, i * 2), 2, 0),
                Ok(SequenceCheck::Duplicate {
                    base_offset: 100 + i as u64 * 2
                })
            );
        }
        // Older than the retained batches: out of order, as Kafka.
        assert!(matches!(
            states.check(fields(1, 0, 2), 2, 0),
            Err(SequenceError::OutOfOrder { expected: 14, .. })
        ));
        // The next one is new.
        assert!(matches!(
            states.check(fields(1, 0, 14), 1, 0),
            Ok(SequenceCheck::Append { .. })
        ));
    }

    #[test]
    fn a_duplicate_of_a_queued_batch_waits_for_it() {
        let mut states = ProducerStates::default();
        let Ok(SequenceCheck::Append { ticket }) = states.check(fields(1, 0, 0), 3, 0) else {
            panic!()
        };
        assert_eq!(
            states.check(fields(1, 0, 0), 3, 0),
            Ok(SequenceCheck::DuplicateInFlight { ticket })
        );
        // Queued batches count for the next sequence.
        assert!(matches!(
            states.check(fields(1, 0, 3), 1, 0),
            Ok(SequenceCheck::Append { .. })
        ));
        states.abandon_in_flight();
        // Both failed: the producer starts over from what committed.
        assert!(matches!(
            states.check(fields(1, 0, 3), 1, 0),
            Err(SequenceError::OutOfOrder { expected: 0, .. })
        ));
        assert!(matches!(
            states.check(fields(1, 0, 0), 3, 0),
            Ok(SequenceCheck::Append { .. })
        ));
    }

    #[test]
    fn a_gap_is_out_of_order() {
        let mut states = ProducerStates::default();
        append(&mut states, fields(1, 0, 0), 5, 0);
        assert_eq!(
            states.check(fields(1, 0, 6), 1, 0),
            Err(SequenceError::OutOfOrder {
                producer_id: 1,
                expected: 5,
                got: 6
            })
        );
        // An unknown producer must start at 0.
        assert!(matches!(
            states.check(fields(2, 0, 9), 1, 0),
            Err(SequenceError::OutOfOrder { expected: 0, .. })
        ));
    }

    #[test]
    fn an_older_epoch_is_fenced_and_a_newer_one_starts_at_zero() {
        let mut states = ProducerStates::default();
        append(&mut states, fields(1, 3, 0), 5, 0);
        assert_eq!(
            states.check(fields(1, 2, 5), 1, 0),
            Err(SequenceError::Fenced {
                producer_id: 1,
                current: 3,
                got: 2
            })
        );
        assert!(matches!(
            states.check(fields(1, 4, 5), 1, 0),
            Err(SequenceError::OutOfOrder { expected: 0, .. })
        ));
        append(&mut states, fields(1, 4, 0), 1, 5);
        assert!(matches!(
            states.check(fields(1, 3, 5), 1, 0),
            Err(SequenceError::Fenced { current: 4, .. })
        ));
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut states = ProducerStates::default();
        states.replay(fields(1, 0, i32::MAX - 1), 2, 0, 0);
        assert!(matches!(
            states.check(fields(1, 0, 0), 1, 0),
            Ok(SequenceCheck::Append { .. })
        ));
    }

    #[test]
    fn the_state_is_bounded() {
        let limits = ProducerLimits {
            batches_retained: 5,
            producers_max: 3,
            idle_expiry_ms: 1_000,
        };
        let mut states = ProducerStates::new(limits);
        for id in 0..10 {
            let Ok(SequenceCheck::Append { ticket }) = states.check(fields(id, 0, 0), 1, id) else {
                panic!()
            };
            states.committed(id, ticket, id as u64);
        }
        assert_eq!(states.len(), 3, "the ones idle longest were forgotten");
        states.expire(8 + 1_001, 0);
        assert_eq!(states.len(), 1, "idle past the expiry");
        states.expire(9, 100);
        assert!(states.is_empty(), "below the log start");
    }

    #[test]
    fn a_snapshot_round_trips_and_damage_is_refused() {
        let mut states = ProducerStates::default();
        append(&mut states, fields(7, 2, 0), 3, 10);
        append(&mut states, fields(7, 2, 3), 3, 13);
        append(&mut states, fields(9, 0, 0), 1, 20);
        // Queued and not covered: not in the snapshot.
        let _ = states.check(fields(9, 0, 1), 1, 0);
        let snapshot = states.encode_snapshot(21);
        let (mut back, covered) =
            ProducerStates::decode_snapshot(&snapshot, ProducerLimits::default()).unwrap();
        assert_eq!(covered, 21);
        assert_eq!(
            back.check(fields(7, 2, 3), 3, 0),
            Ok(SequenceCheck::Duplicate { base_offset: 13 })
        );
        assert!(matches!(
            back.check(fields(9, 0, 1), 1, 0),
            Ok(SequenceCheck::Append { .. })
        ));
        for i in 0..snapshot.len() {
            let mut bad = snapshot.clone();
            bad[i] ^= 0x10;
            assert!(
                ProducerStates::decode_snapshot(&bad, ProducerLimits::default()).is_none(),
                "byte {i}"
            );
        }
        assert!(
            ProducerStates::decode_snapshot(&snapshot[..10], ProducerLimits::default()).is_none()
        );
    }
}
