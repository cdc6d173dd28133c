//! The records of the committed-offsets log (docs/ARCHITECTURE.md,
//! "Consumer groups"): one record per committed (group, topic, partition),
//! in ordinary record batches, so the log is a `PartitionLog` like any
//! other. The latest record of a key wins when the log is replayed.
//!
//! ```text
//! key   = u16 version (1) | string group | string topic | u64 topic_id | u32 partition
//! value = u16 version (0) | u64 offset | string metadata
//! ```
//! Little-endian, `string` = u16 length + UTF-8, as on the wire. An empty
//! value is a tombstone: the key has no committed offset any more.
//!
//! `topic_id` is the id of the topic's incarnation (`topics::TopicId`): a
//! topic deleted and created again has another, so its new incarnation
//! never sees the old one's offsets. Keys of version 0, written before
//! topic ids, have no `topic_id`; they decode with `NO_TOPIC_ID`, and the
//! coordinator gives them to the topic's incarnation that existed before
//! ids, if it still does (`topics::TopicIds::legacy_id`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::builder::BuildError;
use crate::batch::builder::NewRecord;
use crate::batch::{BatchBuilder, Record, TimestampType};
use crate::config::{OFFSETS_COMPACT_BYTES_MIN, OFFSETS_COMPACT_RATIO};
use crate::protocol::wire::{DecodeError, WireReader, WireWrite};
use crate::topics::{TopicId, NO_TOPIC_ID};

/// The version of the keys written: 1, with the topic id.
pub const COMMIT_KEY_VERSION: u16 = 1;
/// The version of keys written before topic ids: still read.
pub const COMMIT_KEY_VERSION_WITHOUT_TOPIC_ID: u16 = 0;
/// The only value format version so far.
pub const COMMIT_VALUE_VERSION: u16 = 0;

/// Bytes a record adds to the log besides its key and value (its share of
/// a batch header not counted): for estimating the live size.
pub const RECORD_OVERHEAD_BYTES: usize = crate::batch::record::RECORD_OVERHEAD;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitKey {
    pub group: String,
    pub topic: String,
    /// The topic's incarnation; `NO_TOPIC_ID` in a key of version 0.
    pub topic_id: TopicId,
    pub partition: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitValue {
    /// The offset of the next record the group will consume.
    pub offset: u64,
    pub metadata: String,
}

pub fn encode_key(key: &CommitKey) -> Vec<u8> {
    let mut buf = BytesMut::with_capacity(key_len(key));
    buf.put_u16_le(COMMIT_KEY_VERSION);
    buf.put_string(&key.group);
    buf.put_string(&key.topic);
    buf.put_u64_le(key.topic_id);
    buf.put_u32_le(key.partition);
    buf.to_vec()
}

pub fn encode_value(value: Option<&CommitValue>) -> Vec<u8> {
    let Some(value) = value else {
        return Vec::new();
    };
    let mut buf = BytesMut::with_capacity(2 + 8 + 2 + value.metadata.len());
    buf.put_u16_le(COMMIT_VALUE_VERSION);
    buf.put_u64_le(value.offset);
    buf.put_string(&value.metadata);
    buf.to_vec()
}

/// The record's version, if it is one of `known`.
fn version(r: &mut WireReader, known: &[u16]) -> Result<u16, DecodeError> {
    let version = r.u16("version")?;
    if known.contains(&version) {
        Ok(version)
    } else {
        Err(DecodeError::InvalidValue {
            field: "version",
            value: i64::from(version),
        })
    }
}

/// A key of either version; one of version 0 has `NO_TOPIC_ID`.
pub fn decode_key(bytes: Bytes) -> Result<CommitKey, DecodeError> {
    let mut r = WireReader::new(bytes);
    let version = version(
        &mut r,
        &[COMMIT_KEY_VERSION_WITHOUT_TOPIC_ID, COMMIT_KEY_VERSION],
    )?;
    let group = r.string("group")?;
    let topic = r.string("topic")?;
    let topic_id = if version == COMMIT_KEY_VERSION {
        r.u64("topic_id")?
    } else {
        NO_TOPIC_ID
    };
    let key = CommitKey {
        group,
        topic,
        topic_id,
        partition: r.u32("partition")?,
    };
    r.finish()?;
    Ok(key)
}

/// `None` for a tombstone.
pub fn decode_value(bytes: Bytes) -> Result<Option<CommitValue>, DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let mut r = WireReader::new(bytes);
    version(&mut r, &[COMMIT_VALUE_VERSION])?;
    let value = CommitValue {
        offset: r.u64("offset")?,
        metadata: r.string("metadata")?,
    };
    r.finish()?;
    Ok(Some(value))
}

/// Bytes the record of this entry takes in a batch (its share of the
/// batch header not counted): what the live entries of the log weigh.
pub fn encoded_len(key: &CommitKey, value: Option<&CommitValue>) -> usize {
    let value_bytes = value.map_or(0, |v| 2 + 8 + 2 + v.metadata.len());
    RECORD_OVERHEAD_BYTES + key_len(key) + value_bytes
}

fn key_len(key: &CommitKey) -> usize {
    2 + 2 + key.group.len() + 2 + key.topic.len() + 8 + 4
}

/// Whether a committed-offsets partition of `log_bytes` whose live entries
/// take `live_bytes` is due for compaction (docs/ARCHITECTURE.md).
pub fn compaction_due(log_bytes: u64, live_bytes: u64) -> bool {
    log_bytes >= OFFSETS_COMPACT_BYTES_MIN
        && log_bytes > OFFSETS_COMPACT_RATIO.saturating_mul(live_bytes)
}

/// The entries as record batches of at most `batch_bytes_max` bytes each,
/// in order, each with its record count.
pub fn build_batches(
    entries: &[(CommitKey, Option<CommitValue>)],
    batch_bytes_max: u32,
    now_ms: i64,
) -> Result<Vec<(BytesMut, u32)>, BuildError> {
    let mut batches = Vec::new();
    let mut builder = BatchBuilder::new(TimestampType::Create, batch_bytes_max);
    for (key, value) in entries {
        let key = encode_key(key);
        let value = encode_value(value.as_ref());
        let record = NewRecord {
            key: Some(&key),
            value: &value,
            headers: &[],
            timestamp_ms: now_ms,
        };
        match builder.append(&record) {
            Ok(()) => {}
            Err(BuildError::Full) => {
                let full = std::mem::replace(
                    &mut builder,
                    BatchBuilder::new(TimestampType::Create, batch_bytes_max),
                );
                let count = full.record_count();
                batches.extend(full.finish().map(|batch| (batch, count)));
                builder.append(&record)?;
            }
            Err(e) => return Err(e),
        }
    }
    let count = builder.record_count();
    batches.extend(builder.finish().map(|batch| (batch, count)));
    Ok(batches)
}

/// Whether a record of the committed-offsets log decodes as the broker
/// replays it at start (`shardlog check`): a record that does not would
/// stop the broker from opening the log.
pub fn check_record(record: &Record) -> Result<(), String> {
    let key = record
        .key
        .clone()
        .ok_or_else(|| "a committed-offsets record without a key".to_string())?;
    decode_key(key).map_err(|e| format!("its key: {e}"))?;
    decode_value(record.value.clone()).map_err(|e| format!("its value: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batches;
    use crate::config::BATCH_BYTES_MAX;
    use proptest::prelude::*;

    fn only_record(batch: bytes::BytesMut) -> Record {
        let batch = Batches::new(batch.freeze(), BATCH_BYTES_MAX)
            .next()
            .unwrap()
            .unwrap();
        batch.records().next().unwrap()
    }

    #[test]
    fn check_record_takes_commits_and_tombstones_and_refuses_anything_else() {
        let commit = CommitValue {
            offset: 7,
            metadata: "m".into(),
        };
        for value in [Some(commit), None] {
            let batches = build_batches(&[(key(), value)], BATCH_BYTES_MAX, 1).unwrap();
            let record = only_record(batches.into_iter().next().unwrap().0);
            assert_eq!(check_record(&record), Ok(()));
        }
        let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
        builder
            .append(&NewRecord {
                key: Some(b"not a commit key"),
                value: b"",
                headers: &[],
                timestamp_ms: 1,
            })
            .unwrap();
        let record = only_record(builder.finish().unwrap());
        let refused = check_record(&record).unwrap_err();
        assert!(refused.starts_with("its key"), "{refused}");
    }

    fn key() -> CommitKey {
        CommitKey {
            group: "billing".into(),
            topic: "orders".into(),
            topic_id: 12,
            partition: 7,
        }
    }

    #[test]
    fn keys_and_values_round_trip() {
        let k = key();
        assert_eq!(decode_key(encode_key(&k).into()), Ok(k));
        let v = CommitValue {
            offset: 1 << 40,
            metadata: "host-3 é".into(),
        };
        assert_eq!(decode_value(encode_value(Some(&v)).into()), Ok(Some(v)));
        assert_eq!(decode_value(Bytes::new()), Ok(None), "tombstone");
    }

    /// Keys written before topic ids still read, without an id.
    #[test]
    fn keys_of_version_0_read_without_a_topic_id() {
        let mut v0 = BytesMut::new();
        v0.put_u16_le(COMMIT_KEY_VERSION_WITHOUT_TOPIC_ID);
        v0.put_string("billing");
        v0.put_string("orders");
        v0.put_u32_le(7);
        let expected = CommitKey {
            topic_id: NO_TOPIC_ID,
            ..key()
        };
        assert_eq!(decode_key(v0.freeze()), Ok(expected));
    }

    #[test]
    fn encoded_len_is_what_encoding_takes() {
        let v = CommitValue {
            offset: 9,
            metadata: "abc".into(),
        };
        for value in [None, Some(&v)] {
            let bytes = encode_key(&key()).len() + encode_value(value).len();
            assert_eq!(encoded_len(&key(), value), RECORD_OVERHEAD_BYTES + bytes);
        }
    }

    #[test]
    fn damaged_records_are_refused() {
        let bytes = encode_key(&key());
        for cut in 1..bytes.len() {
            assert!(
                decode_key(Bytes::copy_from_slice(&bytes[..cut])).is_err(),
                "{cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_key(longer.into()).is_err(), "trailing bytes");
        let mut newer = bytes;
        newer[0] = 2;
        assert!(matches!(
            decode_key(newer.into()),
            Err(DecodeError::InvalidValue {
                field: "version",
                ..
            })
        ));
        let value = encode_value(Some(&CommitValue {
            offset: 3,
            metadata: String::new(),
        }));
        for cut in 1..value.len() {
            assert!(decode_value(Bytes::copy_from_slice(&value[..cut])).is_err());
        }
    }

    #[test]
    fn entries_split_into_batches_and_come_back_in_order() {
        let entries: Vec<(CommitKey, Option<CommitValue>)> = (0..100)
            .map(|i| {
                let key = CommitKey {
                    partition: i,
                    ..key()
                };
                let value = (i % 10 != 0).then(|| CommitValue {
                    offset: u64::from(i) * 3,
                    metadata: "m".repeat(i as usize),
                });
                (key, value)
            })
            .collect();
        let batches = build_batches(&entries, 2_048, 1).unwrap();
        assert!(batches.len() > 1, "split by size");
        let mut back = Vec::new();
        let mut counted = 0;
        for (batch, count) in batches {
            counted += count;
            for batch in Batches::new(batch.freeze(), BATCH_BYTES_MAX) {
                for record in batch.unwrap().records() {
                    back.push((
                        decode_key(record.key.unwrap()).unwrap(),
                        decode_value(record.value).unwrap(),
                    ));
                }
            }
        }
        assert_eq!(back, entries);
        assert_eq!(counted as usize, entries.len());
    }

    #[test]
    fn compaction_waits_for_both_the_floor_and_the_ratio() {
        let floor = OFFSETS_COMPACT_BYTES_MIN;
        assert!(!compaction_due(floor - 1, 0), "below the floor");
        assert!(compaction_due(floor, 0), "nothing live");
        let live = floor / OFFSETS_COMPACT_RATIO;
        assert!(!compaction_due(floor, live), "exactly the ratio");
        assert!(compaction_due(floor + 1, live));
        assert!(!compaction_due(u64::MAX, u64::MAX), "no overflow");
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_key(Bytes::from(bytes.clone()));
            let _ = decode_value(Bytes::from(bytes));
        }
    }
}
