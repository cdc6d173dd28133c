//! The Jepsen-style checker: takes what the producers were told, what the
//! consumers saw during the run, and every partition as read back at the
//! end, and counts each kind of anomaly (with a few examples of each).
//!
//! What must hold (a broken one fails the run, see [`Check::passed`]):
//! - nothing acknowledged is lost: every acknowledged record is in the log;
//! - the acknowledged offset holds that record;
//! - offsets are dense and unique, from the earliest offset to the end;
//! - reads are monotonic: a consumer never sees a partition's offsets go
//!   backwards or skip one (a record must not become visible below one
//!   already seen), and a record seen at offset X during the run is at X at
//!   the end (visible means durable);
//! - every record in the log is one that a producer sent.
//!
//! What may happen under at-least-once (counted, allowed): the same record
//! more than once (a retry after a connection loss), and records present
//! that were never acknowledged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::history::{History, Outcome, PartitionLog, RecordId};

/// Examples kept per kind of anomaly.
pub const EXAMPLES_PER_KIND: usize = 5;

/// The checker's counts. Field names are a contract (`soak.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Records the producers sent (every sequence number handed out).
    pub sent: u64,
    pub acknowledged: u64,
    /// Records the client gave up on.
    pub failed: u64,
    /// Records with no answer when the run ended.
    pub unknown: u64,
    /// Records in the log at the end.
    pub records_in_log: u64,
    /// Acknowledged records found nowhere in the log.
    pub lost: u64,
    /// Extra copies of a record (the same producer and sequence again).
    pub duplicates: u64,
    /// Offsets missing between the earliest offset and the end.
    pub offset_gaps: u64,
    /// Offsets that repeat or go backwards in a partition's log.
    pub offset_repeats: u64,
    /// Acknowledged records whose acknowledged offset does not hold them.
    pub acked_offset_mismatches: u64,
    /// Reads whose offset was not past the same consumer's previous read of
    /// that partition.
    pub reads_backwards: u64,
    /// Reads past an offset the same consumer had not read yet in that
    /// partition (offsets seen out of order).
    pub reads_skipping: u64,
    /// Reads of a record at an offset that holds something else (or
    /// nothing) at the end.
    pub reads_not_durable: u64,
    /// Records in the log never acknowledged (allowed: at-least-once).
    pub unacknowledged_present: u64,
    /// Records in the log that no producer sent (not a harness value, an
    /// unknown producer, a sequence never handed out).
    pub unknown_records: u64,
    /// Records the consumers read during the run.
    pub reads: u64,
    /// A few examples of each anomaly, for the report.
    pub examples: Vec<String>,
}

impl Check {
    /// Offsets not dense or not unique, or not holding what was acknowledged.
    pub fn inconsistent_offsets(&self) -> u64 {
        self.offset_gaps + self.offset_repeats + self.acked_offset_mismatches
    }

    /// Reads that went backwards, skipped, or saw something that did not
    /// last.
    pub fn non_monotonic_reads(&self) -> u64 {
        self.reads_backwards + self.reads_skipping + self.reads_not_durable
    }

    /// No loss, no inconsistency, nothing unknown in the log.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.inconsistent_offsets() == 0
            && self.non_monotonic_reads() == 0
            && self.unknown_records == 0
    }
}

/// Runs every check over `history`.
pub fn check(history: &History) -> Check {
    let mut c = Check::default();
    let mut examples = Examples::default();
    let logs: HashMap<u32, Slots> = history
        .partitions
        .iter()
        .map(|log| (log.partition, Slots::of(log, &mut c, &mut examples)))
        .collect();

    // How often each sent record is in the log: per producer, by sequence.
    let mut copies: HashMap<u32, Vec<u32>> = history
        .producers
        .iter()
        .map(|p| (p.producer, vec![0; p.outcomes.len()]))
        .collect();
    for log in &history.partitions {
        c.records_in_log += log.records.len() as u64;
        for &(offset, id) in &log.records {
            let count = copies
                .get_mut(&id.producer)
                .and_then(|counts| counts.get_mut(id.sequence as usize));
            match count {
                Some(count) => {
                    *count += 1;
                    if *count > 1 {
                        c.duplicates += 1;
                        examples.add("duplicate", || {
                            format!("{id} again at {}/{offset}", log.partition)
                        });
                    }
                }
                None => {
                    c.unknown_records += 1;
                    examples.add("unknown record", || {
                        format!("{id} at {}/{offset} was never sent", log.partition)
                    });
                }
            }
        }
    }

    for producer in &history.producers {
        let counts = &copies[&producer.producer];
        for (sequence, outcome) in producer.outcomes.iter().enumerate() {
            let id = RecordId {
                producer: producer.producer,
                sequence: sequence as u64,
            };
            let present = counts[sequence] > 0;
            c.sent += 1;
            match *outcome {
                Outcome::Acknowledged { partition, offset } => {
                    c.acknowledged += 1;
                    if !present {
                        c.lost += 1;
                        examples.add("lost", || {
                            format!("{id} acknowledged at {partition}/{offset} is not in the log")
                        });
                    }
                    let held = logs.get(&partition).and_then(|s| s.get(offset));
                    if held != Some(id) {
                        c.acked_offset_mismatches += 1;
                        examples.add("acked offset mismatch", || {
                            format!(
                                "{id} acknowledged at {partition}/{offset}, which holds {}",
                                describe(held)
                            )
                        });
                    }
                }
                Outcome::Failed | Outcome::Unknown => {
                    if *outcome == Outcome::Failed {
                        c.failed += 1;
                    } else {
                        c.unknown += 1;
                    }
                    if present {
                        c.unacknowledged_present += 1;
                    }
                }
            }
        }
    }

    for (n, consumer) in history.consumers.iter().enumerate() {
        let mut last: HashMap<u32, u64> = HashMap::new();
        for read in &consumer.reads {
            c.reads += 1;
            if let Some(&previous) = last.get(&read.partition) {
                if read.offset > previous + 1 {
                    c.reads_skipping += 1;
                    examples.add("read skipping", || {
                        format!(
                            "consumer {n} read {}/{} right after {}/{previous}",
                            read.partition, read.offset, read.partition
                        )
                    });
                }
                if read.offset <= previous {
                    c.reads_backwards += 1;
                    examples.add("read backwards", || {
                        format!(
                            "consumer {n} read {}/{} after {}/{previous}",
                            read.partition, read.offset, read.partition
                        )
                    });
                }
            }
            last.insert(read.partition, read.offset);
            let held = logs.get(&read.partition).and_then(|s| s.get(read.offset));
            if held != Some(read.record) {
                c.reads_not_durable += 1;
                examples.add("read not durable", || {
                    format!(
                        "consumer {n} read {} at {}/{}, which holds {} at the end",
                        read.record,
                        read.partition,
                        read.offset,
                        describe(held)
                    )
                });
            }
        }
    }
    c.examples = examples.lines;
    c
}

/// Only what the producers were told (sent, acknowledged, failed,
/// unknown): for a run whose log could not be read back.
pub fn count_outcomes(history: &History) -> Check {
    let mut c = Check::default();
    for outcome in history.producers.iter().flat_map(|p| &p.outcomes) {
        c.sent += 1;
        match outcome {
            Outcome::Acknowledged { .. } => c.acknowledged += 1,
            Outcome::Failed => c.failed += 1,
            Outcome::Unknown => c.unknown += 1,
        }
    }
    c
}

fn describe(held: Option<RecordId>) -> String {
    held.map_or_else(|| "nothing".to_string(), |id| id.to_string())
}

/// A partition's log by offset: dense offsets in a vector, anything out of
/// line in a map. Counts gaps and repeats while it is built.
struct Slots {
    start: u64,
    dense: Vec<RecordId>,
    scattered: HashMap<u64, RecordId>,
}

impl Slots {
    fn of(log: &PartitionLog, c: &mut Check, examples: &mut Examples) -> Slots {
        let mut slots = Slots {
            start: log.start_offset,
            dense: Vec::with_capacity(log.records.len()),
            scattered: HashMap::new(),
        };
        let mut expected = log.start_offset;
        for &(offset, id) in &log.records {
            if offset < expected {
                c.offset_repeats += 1;
                examples.add("offset repeat", || {
                    format!(
                        "{}/{offset} read after {}/{}",
                        log.partition,
                        log.partition,
                        expected - 1
                    )
                });
                continue;
            }
            if offset > expected {
                c.offset_gaps += offset - expected;
                examples.add("offset gap", || {
                    format!("{}/{expected}..{offset} missing", log.partition)
                });
            }
            if offset == log.start_offset + slots.dense.len() as u64 {
                slots.dense.push(id);
            } else {
                slots.scattered.insert(offset, id);
            }
            expected = offset + 1;
        }
        if log.end_offset > expected {
            c.offset_gaps += log.end_offset - expected;
            examples.add("offset gap", || {
                format!(
                    "{}/{expected}..{} missing before the end",
                    log.partition, log.end_offset
                )
            });
        }
        slots
    }

    fn get(&self, offset: u64) -> Option<RecordId> {
        offset
            .checked_sub(self.start)
            .and_then(|i| self.dense.get(usize::try_from(i).ok()?))
            .copied()
            .or_else(|| self.scattered.get(&offset).copied())
    }
}

/// The first few examples of each kind.
#[derive(Default)]
struct Examples {
    per_kind: HashMap<&'static str, usize>,
    lines: Vec<String>,
}

impl Examples {
    fn add(&mut self, kind: &'static str, line: impl FnOnce() -> String) {
        let seen = self.per_kind.entry(kind).or_default();
        if *seen < EXAMPLES_PER_KIND {
            *seen += 1;
            self.lines.push(format!("{kind}: {}", line()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::history::{ConsumerHistory, ProducerHistory, Read};

    fn id(producer: u32, sequence: u64) -> RecordId {
        RecordId { producer, sequence }
    }

    fn acked(partition: u32, offset: u64) -> Outcome {
        Outcome::Acknowledged { partition, offset }
    }

    /// Two producers over two partitions, everything acknowledged and read
    /// once, in order: producer 1 wrote 0/0, 0/1, 1/0; producer 2 wrote
    /// 1/1, 0/2.
    fn clean() -> History {
        History {
            producers: vec![
                ProducerHistory {
                    producer: 1,
                    outcomes: vec![acked(0, 0), acked(0, 1), acked(1, 0)],
                },
                ProducerHistory {
                    producer: 2,
                    outcomes: vec![acked(1, 1), acked(0, 2)],
                },
            ],
            consumers: vec![ConsumerHistory {
                reads: vec![
                    Read {
                        partition: 0,
                        offset: 0,
                        record: id(1, 0),
                    },
                    Read {
                        partition: 1,
                        offset: 0,
                        record: id(1, 2),
                    },
                    Read {
                        partition: 0,
                        offset: 1,
                        record: id(1, 1),
                    },
                ],
            }],
            partitions: vec![
                PartitionLog {
                    partition: 0,
                    start_offset: 0,
                    end_offset: 3,
                    records: vec![(0, id(1, 0)), (1, id(1, 1)), (2, id(2, 1))],
                },
                PartitionLog {
                    partition: 1,
                    start_offset: 0,
                    end_offset: 2,
                    records: vec![(0, id(1, 2)), (1, id(2, 0))],
                },
            ],
        }
    }

    /// Only the named counts differ from the clean history's.
    fn assert_only(c: &Check, changed: &[(&str, u64)]) {
        let clean = check(&clean());
        let counts = |c: &Check| -> Vec<(&'static str, u64)> {
            vec![
                ("lost", c.lost),
                ("duplicates", c.duplicates),
                ("offset_gaps", c.offset_gaps),
                ("offset_repeats", c.offset_repeats),
                ("acked_offset_mismatches", c.acked_offset_mismatches),
                ("reads_backwards", c.reads_backwards),
                ("reads_skipping", c.reads_skipping),
                ("reads_not_durable", c.reads_not_durable),
                ("unacknowledged_present", c.unacknowledged_present),
                ("unknown_records", c.unknown_records),
            ]
        };
        for ((name, got), (_, was)) in counts(c).into_iter().zip(counts(&clean)) {
            let want = changed
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(was, |(_, v)| *v);
            assert_eq!(got, want, "{name}: {c:#?}");
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let c = check(&clean());
        assert!(c.passed(), "{c:#?}");
        assert_only(&c, &[]);
        assert_eq!(
            (c.sent, c.acknowledged, c.records_in_log, c.reads),
            (5, 5, 5, 3)
        );
        assert!(c.examples.is_empty());
    }

    #[test]
    fn an_acknowledged_record_missing_from_the_log_is_lost() {
        let mut h = clean();
        // The broker lost the tail of partition 0 and wrote on from there.
        h.partitions[0].records.pop();
        h.partitions[0].end_offset = 2;
        let c = check(&h);
        assert!(!c.passed());
        assert_only(&c, &[("lost", 1), ("acked_offset_mismatches", 1)]);
        assert!(
            c.examples.iter().any(|e| e.starts_with("lost: 2#1")),
            "{:?}",
            c.examples
        );
    }

    #[test]
    fn an_acknowledged_offset_holding_another_record_is_inconsistent() {
        let mut h = clean();
        // 2#1 is there, but not where the broker said it put it.
        h.producers[1].outcomes[1] = acked(0, 1);
        let c = check(&h);
        assert!(!c.passed());
        assert_eq!(c.inconsistent_offsets(), 1);
        assert_only(&c, &[("acked_offset_mismatches", 1)]);
    }

    #[test]
    fn duplicates_are_counted_and_allowed() {
        let mut h = clean();
        // A retry wrote 2#1 again after the first copy.
        h.partitions[0].records.push((3, id(2, 1)));
        h.partitions[0].end_offset = 4;
        let c = check(&h);
        assert!(c.passed(), "at-least-once allows duplicates: {c:#?}");
        assert_only(&c, &[("duplicates", 1)]);
    }

    #[test]
    fn gaps_and_repeated_offsets_are_inconsistent() {
        let mut h = clean();
        h.partitions[1].records[1].0 = 3; // 1 and 2 missing
        h.partitions[1].end_offset = 4;
        let c = check(&h);
        assert_eq!(c.offset_gaps, 2);
        assert!(!c.passed());
        // The acknowledged offset 1/1 now holds nothing.
        assert_only(&c, &[("offset_gaps", 2), ("acked_offset_mismatches", 1)]);

        let mut h = clean();
        h.partitions[0].records[2].0 = 1; // offset 1 twice, 2 missing
        let c = check(&h);
        assert_only(
            &c,
            &[
                ("offset_repeats", 1),
                ("offset_gaps", 1),
                ("acked_offset_mismatches", 1),
            ],
        );

        let mut h = clean();
        h.partitions[0].end_offset = 5; // the end is past the last record
        let c = check(&h);
        assert_only(&c, &[("offset_gaps", 2)]);
    }

    #[test]
    fn a_log_not_starting_at_its_earliest_offset_has_a_gap() {
        let mut h = clean();
        h.partitions[0].start_offset = 0;
        h.partitions[0].records.remove(0);
        let c = check(&h);
        assert_eq!(c.offset_gaps, 1);
        assert_eq!(c.lost, 1);
    }

    #[test]
    fn a_consumer_going_backwards_is_non_monotonic() {
        let mut h = clean();
        h.consumers[0].reads.push(Read {
            partition: 0,
            offset: 0,
            record: id(1, 0),
        });
        let c = check(&h);
        assert!(!c.passed());
        assert_eq!(c.non_monotonic_reads(), 1);
        assert_only(&c, &[("reads_backwards", 1)]);
    }

    #[test]
    fn a_consumer_skipping_an_offset_is_non_monotonic() {
        let mut h = clean();
        // 0/2 read before 0/1: it became visible above a hole.
        h.consumers[0].reads.swap(1, 2);
        h.consumers[0].reads.insert(
            1,
            Read {
                partition: 0,
                offset: 2,
                record: id(2, 1),
            },
        );
        let c = check(&h);
        assert!(!c.passed());
        assert_only(&c, &[("reads_skipping", 1), ("reads_backwards", 1)]);
    }

    #[test]
    fn a_record_seen_during_the_run_must_be_at_its_offset_at_the_end() {
        let mut h = clean();
        // A consumer saw 1#1 at 0/1, then the broker lost it, 2#1 took the
        // offset and 1#1 was never acknowledged.
        h.producers[0].outcomes[1] = Outcome::Unknown;
        h.partitions[0].records = vec![(0, id(1, 0)), (1, id(2, 1))];
        h.partitions[0].end_offset = 2;
        h.producers[1].outcomes[1] = acked(0, 1);
        let c = check(&h);
        assert!(!c.passed());
        assert_only(&c, &[("reads_not_durable", 1)]);
        assert_eq!((c.unknown, c.acknowledged), (1, 4));
    }

    #[test]
    fn unacknowledged_records_present_are_allowed() {
        let mut h = clean();
        h.producers[0].outcomes[2] = Outcome::Failed;
        h.producers[1].outcomes[0] = Outcome::Unknown;
        let c = check(&h);
        assert!(c.passed(), "{c:#?}");
        assert_only(&c, &[("unacknowledged_present", 2)]);
        assert_eq!((c.failed, c.unknown, c.acknowledged), (1, 1, 3));
    }

    #[test]
    fn records_nobody_sent_are_unknown() {
        let mut h = clean();
        h.partitions[1].records.push((2, id(9, 0))); // unknown producer
        h.partitions[1].records.push((3, id(1, 7))); // sequence never sent
        h.partitions[1].records.push((4, RecordId::FOREIGN));
        h.partitions[1].end_offset = 5;
        let c = check(&h);
        assert!(!c.passed());
        assert_only(&c, &[("unknown_records", 3)]);
    }

    #[test]
    fn record_ids_come_from_harness_values() {
        let mut value = Vec::new();
        let stamp = crate::payload::Stamp {
            producer: 3,
            sequence: 9,
            send_time_ns: 1,
        };
        crate::payload::encode(stamp, 64, &mut value);
        assert_eq!(RecordId::of_value(&value), id(3, 9));
        assert_eq!(RecordId::of_value(b"other"), RecordId::FOREIGN);
    }
}
