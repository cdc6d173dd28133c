//! Black-box tests of the record-batch codec (docs/STORAGE.md, "Record batch
//! format"): what the builder writes decodes back to the same records, the
//! broker's stamping keeps a batch valid, and every damaged batch — cut
//! short, a bit flipped, or re-CRC'd with inconsistent contents — is refused
//! with the right error and never makes the codec panic.

use bytes::Bytes;
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use shardlog::batch::builder::NewRecord;
use shardlog::batch::header::{compute_crc, field, stamp_producer};
use shardlog::batch::{
    validate, Batch, BatchBuilder, BatchError, BatchHeader, Batches, ProducerFields, TimestampType,
    FORMAT_VERSION_PRODUCER, HEADER_LEN, HEADER_LEN_PRODUCER,
};
use shardlog::config::BATCH_BYTES_MAX;

const LIMIT: u32 = BATCH_BYTES_MAX;

/// A record as the test generates it; owns its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InRecord {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp_ms: i64,
}

/// Encodes `records` with the builder; the batch's base offset is 0.
fn build(records: &[InRecord], timestamp_type: TimestampType) -> Bytes {
    let mut builder = BatchBuilder::new(timestamp_type, LIMIT);
    for record in records {
        let headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        builder
            .append(&NewRecord {
                key: record.key.as_deref(),
                value: &record.value,
                headers: &headers,
                timestamp_ms: record.timestamp_ms,
            })
            .expect("record fits the batch");
    }
    builder.finish().expect("at least one record").freeze()
}

/// Recomputes the CRC of a batch whose bytes were edited on purpose.
fn fix_crc(buf: &mut [u8]) {
    let crc = compute_crc(buf);
    buf[field::CRC..field::CRC + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Where each record starts (its `record_length` field), walking the batch.
fn record_starts(buf: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < buf.len() {
        starts.push(pos);
        let record_length = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap());
        pos += 4 + record_length as usize;
    }
    starts
}

fn flip_bit(buf: &[u8], bit: usize) -> Vec<u8> {
    let mut flipped = buf.to_vec();
    flipped[bit / 8] ^= 1 << (bit % 8);
    flipped
}

fn timestamp_type() -> impl Strategy<Value = TimestampType> {
    prop_oneof![Just(TimestampType::Create), Just(TimestampType::LogAppend)]
}

/// Timestamps anywhere in half the `i64` range, so that any two differ by a
/// delta the format can hold; negative and out-of-order ones included.
fn timestamp_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        1_600_000_000_000i64..1_800_000_000_000,
        (i64::MIN / 2)..(i64::MAX / 2),
    ]
}

fn in_record(value_bytes_max: usize) -> impl Strategy<Value = InRecord> {
    (
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        proptest::collection::vec(any::<u8>(), 0..value_bytes_max),
        proptest::collection::vec(
            ("\\PC{0,6}", proptest::collection::vec(any::<u8>(), 0..8)),
            0..4,
        ),
        timestamp_ms(),
    )
        .prop_map(|(key, value, headers, timestamp_ms)| InRecord {
            key,
            value,
            headers,
            timestamp_ms,
        })
}

fn in_records(count_max: usize, value_bytes_max: usize) -> impl Strategy<Value = Vec<InRecord>> {
    proptest::collection::vec(in_record(value_bytes_max), 1..=count_max)
}

/// Checks that `batch` holds exactly `inputs`, at `base_offset + index`, with
/// the timestamps its type says.
fn assert_records(
    batch: &Batch,
    inputs: &[InRecord],
    base_offset: u64,
    log_append_time_ms: Option<i64>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(batch.header.record_count as usize, inputs.len());
    let records: Vec<_> = batch.records().collect();
    prop_assert_eq!(records.len(), inputs.len());
    for (index, (record, input)) in records.iter().zip(inputs).enumerate() {
        prop_assert_eq!(record.offset, base_offset + index as u64);
        let timestamp_ms = log_append_time_ms.unwrap_or(input.timestamp_ms);
        prop_assert_eq!(record.timestamp_ms, timestamp_ms);
        prop_assert_eq!(record.key.as_deref(), input.key.as_deref());
        prop_assert_eq!(&record.value[..], &input.value[..]);
        prop_assert_eq!(record.header_count(), input.headers.len());
        let headers: Vec<(String, Vec<u8>)> = record
            .headers()
            .map(|header| (header.name, header.value.to_vec()))
            .collect();
        prop_assert_eq!(&headers, &input.headers);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(inputs in in_records(16, 64), timestamp_type in timestamp_type()) {
        let bytes = build(&inputs, timestamp_type);
        let batch = Batch::decode(bytes.clone(), LIMIT).expect("builder output decodes");
        prop_assert_eq!(batch.header.base_offset, 0);
        prop_assert_eq!(batch.header.batch_length as usize, bytes.len());
        prop_assert_eq!(batch.header.timestamp_type(), timestamp_type);
        match timestamp_type {
            TimestampType::Create => {
                let max = inputs.iter().map(|r| r.timestamp_ms).max().unwrap();
                prop_assert_eq!(batch.header.first_timestamp_ms, inputs[0].timestamp_ms);
                prop_assert_eq!(batch.header.max_timestamp_ms, max);
                assert_records(&batch, &inputs, 0, None)?;
            }
            // Unstamped, a log-append-time batch carries time 0; the
            // producer's timestamps are dropped.
            TimestampType::LogAppend => {
                prop_assert_eq!(batch.header.first_timestamp_ms, 0);
                prop_assert_eq!(batch.header.max_timestamp_ms, 0);
                assert_records(&batch, &inputs, 0, Some(0))?;
            }
        }
    }

    #[test]
    fn stamped_batch_still_validates(
        inputs in in_records(16, 64),
        timestamp_type in timestamp_type(),
        base_offset in prop_oneof![0u64..1 << 40, 0..u64::MAX - (1 << 20)],
        append_time_ms in timestamp_ms(),
    ) {
        let bytes = build(&inputs, timestamp_type);
        let mut valid = validate(&bytes, LIMIT).expect("builder output validates");
        let before = valid.header;
        let mut buf = bytes.to_vec();
        valid.stamp(&mut buf, base_offset, append_time_ms);

        let revalidated = validate(&buf, LIMIT).expect("stamped batch validates");
        prop_assert_eq!(revalidated.header, valid.header);
        let header = revalidated.header;
        prop_assert_eq!(header.base_offset, base_offset);
        prop_assert_eq!(header.record_count, before.record_count);
        let log_append_time_ms = match timestamp_type {
            TimestampType::LogAppend => {
                prop_assert_eq!(header.first_timestamp_ms, append_time_ms);
                prop_assert_eq!(header.max_timestamp_ms, append_time_ms);
                Some(append_time_ms)
            }
            TimestampType::Create => {
                prop_assert_eq!(header.first_timestamp_ms, before.first_timestamp_ms);
                prop_assert_eq!(header.max_timestamp_ms, before.max_timestamp_ms);
                // The base offset is outside the CRC: stamping it alone
                // leaves the CRC as the producer wrote it.
                prop_assert_eq!(header.crc, before.crc);
                prop_assert_eq!(&buf[field::BATCH_LENGTH..], &bytes[field::BATCH_LENGTH..]);
                None
            }
        };
        let batch = Batch::decode(Bytes::from(buf), LIMIT).expect("stamped batch decodes");
        assert_records(&batch, &inputs, base_offset, log_append_time_ms)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_truncation_is_refused(
        inputs in in_records(6, 48),
        timestamp_type in timestamp_type(),
    ) {
        let bytes = build(&inputs, timestamp_type);
        let len = bytes.len();
        for cut in 0..len {
            let expected = BatchError::Truncated {
                needed: if cut < HEADER_LEN { HEADER_LEN } else { len },
                available: cut,
            };
            prop_assert_eq!(validate(&bytes[..cut], LIMIT).err(), Some(expected.clone()));
            prop_assert_eq!(Batch::decode(bytes.slice(..cut), LIMIT).err(), Some(expected));
        }
    }

    #[test]
    fn truncated_run_yields_whole_batches_then_an_error(
        runs in proptest::collection::vec((in_records(4, 32), timestamp_type()), 1..4),
    ) {
        let batches: Vec<Bytes> = runs.iter().map(|(inputs, ty)| build(inputs, *ty)).collect();
        let run: Bytes = batches.concat().into();
        let mut ends = Vec::new();
        let mut end = 0;
        for batch in &batches {
            end += batch.len();
            ends.push(end);
        }
        for cut in 0..=run.len() {
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            let at_boundary = cut == 0 || ends.contains(&cut);
            let items: Vec<_> = Batches::new(run.slice(..cut), LIMIT).collect();
            prop_assert_eq!(items.len(), whole + usize::from(!at_boundary));
            for (item, original) in items.iter().zip(&batches).take(whole) {
                let batch = item.as_ref().expect("a whole batch decodes");
                prop_assert_eq!(&batch.bytes, original);
            }
            if !at_boundary {
                let started = if whole == 0 { 0 } else { ends[whole - 1] };
                let available = cut - started;
                let needed = if available < HEADER_LEN { HEADER_LEN } else { batches[whole].len() };
                prop_assert_eq!(
                    items[whole].as_ref().err(),
                    Some(&BatchError::Truncated { needed, available })
                );
            }
        }
    }

    /// Any single bit flipped in the CRC field or the bytes it covers is
    /// refused: by a header check where the header alone can tell, else by
    /// the CRC. Every bit for small batches, a sample for larger ones.
    #[test]
    fn single_bit_flips_in_crc_and_covered_bytes_are_refused(
        inputs in prop_oneof![in_records(4, 24), in_records(16, 512)],
        timestamp_type in timestamp_type(),
        seed in any::<u64>(),
    ) {
        const EXHAUSTIVE_BITS_MAX: usize = 4096;
        let bytes = build(&inputs, timestamp_type);
        let bits = (field::CRC * 8)..(bytes.len() * 8);
        let chosen: Vec<usize> = if bits.len() <= EXHAUSTIVE_BITS_MAX {
            bits.collect()
        } else {
            let mut rng = SmallRng::seed_from_u64(seed);
            // Always the whole header, then a sample of the records.
            (field::CRC * 8..HEADER_LEN * 8)
                .chain((0..1024).map(|_| rng.gen_range(HEADER_LEN * 8..bytes.len() * 8)))
                .collect()
        };
        for bit in chosen {
            let flipped = flip_bit(&bytes, bit);
            let error = validate(&flipped, LIMIT).err();
            let byte = bit / 8;
            let refused_as_expected = match &error {
                None => false,
                Some(BatchError::CrcMismatch { .. }) => true,
                Some(BatchError::UnsupportedVersion(_)) => byte == field::FORMAT_VERSION,
                Some(BatchError::ReservedBits(_)) => {
                    (field::ATTRIBUTES..field::RECORD_COUNT).contains(&byte)
                }
                Some(BatchError::Empty) => {
                    (field::RECORD_COUNT..field::RECORD_COUNT + 4).contains(&byte)
                }
                Some(_) => false,
            };
            prop_assert!(refused_as_expected, "bit {} (byte {}): {:?}", bit, byte, error);
            prop_assert!(Batch::decode(Bytes::from(flipped), LIMIT).is_err());
        }
    }

    /// The base offset is outside the CRC by design (the broker stamps it
    /// without rehashing), so a flip there is not detected; the batch
    /// length is, by the length checks.
    #[test]
    fn bit_flips_in_base_offset_pass_and_in_batch_length_are_refused(
        inputs in in_records(4, 24),
        timestamp_type in timestamp_type(),
    ) {
        let bytes = build(&inputs, timestamp_type);
        for bit in 0..64 {
            let flipped = flip_bit(&bytes, bit);
            let valid = validate(&flipped, LIMIT).expect("base offset is not CRC-covered");
            prop_assert_eq!(valid.header.base_offset, 1u64 << bit);
        }
        for bit in field::BATCH_LENGTH * 8..field::CRC * 8 {
            let flipped = flip_bit(&bytes, bit);
            let error = validate(&flipped, LIMIT).err();
            prop_assert!(
                matches!(error, Some(BatchError::BadLength { .. } | BatchError::Truncated { .. })),
                "bit {}: {:?}", bit, error
            );
        }
    }
}

/// Walks everything the decoder hands out for `buf`: none of it may panic,
/// and a batch that validates must yield exactly the records it declares.
fn decode_everything(buf: &[u8]) -> Result<(), TestCaseError> {
    let _ = BatchHeader::parse(buf, LIMIT);
    let _ = validate(buf, LIMIT);
    for item in Batches::new(Bytes::copy_from_slice(buf), LIMIT) {
        let Ok(batch) = item else { break };
        let _ = (batch.header.last_offset(), batch.header.next_offset());
        let mut count = 0u32;
        for record in batch.records() {
            prop_assert_eq!(record.headers().count(), record.header_count());
            count += 1;
        }
        prop_assert_eq!(count, batch.header.record_count);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&buf)?;
    }

    /// Random bytes rarely get past the header checks; these do: a sound
    /// header (version 1, no reserved bits, its own length, a correct CRC)
    /// over arbitrary record bytes and counts.
    #[test]
    fn arbitrary_records_under_a_sound_header_never_panic(
        base_offset in any::<u64>(),
        log_append_time in any::<bool>(),
        record_count in prop_oneof![1u32..4, any::<u32>()],
        first_timestamp_ms in any::<i64>(),
        max_timestamp_ms in any::<i64>(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(&body);
        let length = buf.len() as u32;
        buf[field::BASE_OFFSET..field::BASE_OFFSET + 8].copy_from_slice(&base_offset.to_le_bytes());
        buf[field::BATCH_LENGTH..field::BATCH_LENGTH + 4].copy_from_slice(&length.to_le_bytes());
        buf[field::FORMAT_VERSION] = 1;
        buf[field::ATTRIBUTES] = u8::from(log_append_time);
        buf[field::RECORD_COUNT..field::RECORD_COUNT + 4]
            .copy_from_slice(&record_count.to_le_bytes());
        buf[field::FIRST_TIMESTAMP..field::FIRST_TIMESTAMP + 8]
            .copy_from_slice(&first_timestamp_ms.to_le_bytes());
        buf[field::MAX_TIMESTAMP..field::MAX_TIMESTAMP + 8]
            .copy_from_slice(&max_timestamp_ms.to_le_bytes());
        fix_crc(&mut buf);
        decode_everything(&buf)?;
    }

    /// A real batch with a few bytes overwritten and the CRC made correct
    /// again: the record walk, not the CRC, must catch what is wrong.
    #[test]
    fn edited_batches_with_a_correct_crc_never_panic(
        inputs in in_records(4, 24),
        timestamp_type in timestamp_type(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut buf = build(&inputs, timestamp_type).to_vec();
        for (at, byte) in edits {
            let at = field::FORMAT_VERSION + at.index(buf.len() - field::FORMAT_VERSION);
            buf[at] = byte;
        }
        fix_crc(&mut buf);
        decode_everything(&buf)?;
    }
}

// Structural checks: each batch below has a correct CRC but contents that
// disagree with themselves, as a buggy or hostile producer could send.

fn record(key: Option<&[u8]>, value: &[u8], timestamp_ms: i64) -> InRecord {
    InRecord {
        key: key.map(<[u8]>::to_vec),
        value: value.to_vec(),
        headers: vec![("h".into(), b"v".to_vec())],
        timestamp_ms,
    }
}

/// Three records with timestamps 1000, 1005, 1002; CRC-correct after `edit`.
fn edited(timestamp_type: TimestampType, edit: impl FnOnce(&mut Vec<u8>, &[usize])) -> Vec<u8> {
    let inputs = [
        record(Some(b"k0"), b"v0", 1000),
        record(None, b"value 1", 1005),
        record(Some(b""), b"", 1002),
    ];
    let mut buf = build(&inputs, timestamp_type).to_vec();
    let starts = record_starts(&buf);
    assert_eq!(starts.len(), 3);
    edit(&mut buf, &starts);
    fix_crc(&mut buf);
    buf
}

fn put_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_i64(buf: &mut [u8], at: usize, value: i64) {
    buf[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Offsets of a record's fields from its start.
const OFFSET_DELTA: usize = 4;
const TIMESTAMP_DELTA: usize = 8;
const KEY_LENGTH: usize = 16;

fn refused(buf: &[u8]) -> BatchError {
    let error = validate(buf, LIMIT).expect_err("batch must be refused");
    assert_eq!(
        Batch::decode(Bytes::copy_from_slice(buf), LIMIT).err(),
        Some(error.clone())
    );
    error
}

#[test]
fn unedited_fixture_is_valid() {
    for ty in [TimestampType::Create, TimestampType::LogAppend] {
        validate(&edited(ty, |_, _| {}), LIMIT).expect("fixture is valid");
    }
}

#[test]
fn wrong_offset_delta_is_refused() {
    for (index, delta) in [(0, 1), (1, 0), (1, 2), (2, 7), (2, u32::MAX)] {
        let buf = edited(TimestampType::Create, |buf, starts| {
            put_u32(buf, starts[index] + OFFSET_DELTA, delta);
        });
        assert_eq!(
            refused(&buf),
            BatchError::BadRecord {
                index: index as u32,
                reason: "offset delta is not the record's index"
            }
        );
    }
}

#[test]
fn record_count_too_high_or_too_low_is_refused() {
    for declared in [1, 2, 4, 1000, u32::MAX] {
        let buf = edited(TimestampType::Create, |buf, _| {
            put_u32(buf, field::RECORD_COUNT, declared);
        });
        let found = if declared < 3 { declared + 1 } else { 3 };
        assert_eq!(refused(&buf), BatchError::CountMismatch { declared, found });
    }
    let buf = edited(TimestampType::Create, |buf, _| {
        put_u32(buf, field::RECORD_COUNT, 0);
    });
    assert_eq!(refused(&buf), BatchError::Empty);
}

#[test]
fn key_length_below_minus_one_is_refused() {
    for key_length in [-2i32, -3, i32::MIN] {
        let buf = edited(TimestampType::Create, |buf, starts| {
            put_u32(buf, starts[1] + KEY_LENGTH, key_length as u32);
        });
        assert_eq!(
            refused(&buf),
            BatchError::BadRecord {
                index: 1,
                reason: "negative key length"
            }
        );
    }
}

#[test]
fn key_length_past_the_record_is_refused() {
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_u32(buf, starts[0] + KEY_LENGTH, 1 << 20);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadRecord {
            index: 0,
            reason: "field runs past the record"
        }
    );
}

#[test]
fn max_timestamp_that_is_not_the_max_is_refused() {
    for max_timestamp_ms in [1004, 1006, 1000, i64::MIN, i64::MAX] {
        let buf = edited(TimestampType::Create, |buf, _| {
            put_i64(buf, field::MAX_TIMESTAMP, max_timestamp_ms);
        });
        assert_eq!(
            refused(&buf),
            BatchError::BadTimestamps("max timestamp is not the records' maximum")
        );
    }
}

#[test]
fn first_record_with_a_timestamp_delta_is_refused() {
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_i64(buf, starts[0] + TIMESTAMP_DELTA, 1);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadTimestamps("first record's delta is not 0")
    );
}

#[test]
fn log_append_time_record_with_a_delta_is_refused() {
    let buf = edited(TimestampType::LogAppend, |buf, starts| {
        put_i64(buf, starts[2] + TIMESTAMP_DELTA, 5);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadTimestamps("log-append-time records carry a delta")
    );
}

#[test]
fn timestamp_past_i64_is_refused() {
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_i64(buf, field::FIRST_TIMESTAMP, i64::MAX - 1);
        put_i64(buf, starts[1] + TIMESTAMP_DELTA, 5);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadTimestamps("timestamp overflows")
    );
}

#[test]
fn record_length_that_disagrees_with_contents_is_refused() {
    // One byte longer: the record swallows a byte of the next one, which
    // is then cut short.
    let buf = edited(TimestampType::Create, |buf, starts| {
        let length = u32::from_le_bytes(buf[starts[0]..starts[0] + 4].try_into().unwrap());
        put_u32(buf, starts[0], length + 1);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadRecord {
            index: 0,
            reason: "record length disagrees with its contents"
        }
    );
    // Past the end of the batch.
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_u32(buf, starts[2], u32::MAX);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadRecord {
            index: 2,
            reason: "record length runs past the batch"
        }
    );
}

#[test]
fn header_name_that_is_not_utf8_is_refused() {
    let buf = edited(TimestampType::Create, |buf, starts| {
        // The last record: key "" , value "", then the header ("h", "v").
        let name_at = starts[2] + 4 + 4 + 8 + 4 + 4 + 2 + 2;
        assert_eq!(buf[name_at], b'h');
        buf[name_at] = 0xff;
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadRecord {
            index: 2,
            reason: "header name is not UTF-8"
        }
    );
}

#[test]
fn unknown_version_attributes_and_reserved_bits_are_refused() {
    let buf = edited(TimestampType::Create, |buf, _| {
        buf[field::FORMAT_VERSION] = 3
    });
    assert_eq!(refused(&buf), BatchError::UnsupportedVersion(3));
    let buf = edited(TimestampType::Create, |buf, _| {
        buf[field::ATTRIBUTES] = 0x82
    });
    assert_eq!(refused(&buf), BatchError::ReservedBits(0x82));
    let buf = edited(TimestampType::Create, |buf, _| {
        buf[field::RESERVED + 1] = 0x01
    });
    assert_eq!(refused(&buf), BatchError::ReservedBits(0x1_0000));
}

#[test]
fn trailing_bytes_after_the_batch_are_refused() {
    let mut buf = edited(TimestampType::Create, |_, _| {});
    let length = buf.len() as u32;
    buf.push(0);
    assert_eq!(
        refused(&buf),
        BatchError::BadLength {
            length,
            header: HEADER_LEN,
            limit: LIMIT
        }
    );
}

#[test]
fn batch_over_the_limit_is_refused() {
    let buf = edited(TimestampType::Create, |_, _| {});
    let length = buf.len() as u32;
    assert_eq!(
        validate(&buf, length - 1).err(),
        Some(BatchError::BadLength {
            length,
            header: HEADER_LEN,
            limit: length - 1
        })
    );
    validate(&buf, length).expect("a batch exactly at the limit is valid");
}

#[test]
fn all_zero_header_is_refused() {
    let zeros = [0u8; 2 * HEADER_LEN];
    assert!(matches!(
        validate(&zeros, LIMIT),
        Err(BatchError::BadLength { length: 0, .. })
    ));
    let items: Vec<_> = Batches::new(Bytes::copy_from_slice(&zeros), LIMIT).collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
}

#[test]
fn offsets_past_u64_max_are_refused() {
    // Three records: from base u64::MAX - 2 the last offset is u64::MAX and
    // the next offset is not representable; from u64::MAX - 3 all fit.
    for base_offset in [u64::MAX, u64::MAX - 1, u64::MAX - 2] {
        let buf = edited(TimestampType::Create, |buf, _| {
            buf[field::BASE_OFFSET..field::BASE_OFFSET + 8]
                .copy_from_slice(&base_offset.to_le_bytes());
        });
        assert_eq!(
            refused(&buf),
            BatchError::OffsetOverflow {
                base_offset,
                record_count: 3
            }
        );
        assert!(Batches::new(Bytes::from(buf), LIMIT).all(|item| item.is_err()));
    }
    let buf = edited(TimestampType::Create, |buf, _| {
        buf[field::BASE_OFFSET..field::BASE_OFFSET + 8]
            .copy_from_slice(&(u64::MAX - 3).to_le_bytes());
    });
    let batch = Batch::decode(Bytes::from(buf), LIMIT).expect("offsets up to u64::MAX - 1 fit");
    assert_eq!(batch.header.next_offset(), u64::MAX);
    let offsets: Vec<u64> = batch.records().map(|record| record.offset).collect();
    assert_eq!(offsets, [u64::MAX - 3, u64::MAX - 2, u64::MAX - 1]);
}

#[test]
fn timestamp_below_i64_min_is_refused() {
    // Only the largest timestamp used to be checked: a negative delta that
    // takes a record below i64::MIN passed, and the record's timestamp
    // wrapped around to a large positive one.
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_i64(buf, field::FIRST_TIMESTAMP, -10);
        put_i64(buf, field::MAX_TIMESTAMP, -5);
        put_i64(buf, starts[2] + TIMESTAMP_DELTA, i64::MIN);
    });
    assert_eq!(
        refused(&buf),
        BatchError::BadTimestamps("timestamp overflows")
    );
    // The same batch with a delta that stays in range is valid.
    let buf = edited(TimestampType::Create, |buf, starts| {
        put_i64(buf, field::FIRST_TIMESTAMP, -10);
        put_i64(buf, field::MAX_TIMESTAMP, -5);
        put_i64(buf, starts[2] + TIMESTAMP_DELTA, i64::MIN + 10);
    });
    let batch = Batch::decode(Bytes::from(buf), LIMIT).expect("timestamps fit");
    let timestamps: Vec<i64> = batch.records().map(|record| record.timestamp_ms).collect();
    assert_eq!(timestamps, [-10, -5, i64::MIN]);
}

const PRODUCER: ProducerFields = ProducerFields {
    producer_id: 7 << 40,
    producer_epoch: 3,
    base_sequence: 100,
};

/// A version 2 batch of three records from `PRODUCER`.
fn build_v2() -> Vec<u8> {
    let mut builder = BatchBuilder::with_producer(TimestampType::Create, LIMIT, PRODUCER);
    for i in 0..3 {
        builder
            .append(&NewRecord {
                key: Some(b"k"),
                value: format!("v{i}").as_bytes(),
                headers: &[("h", b"x")],
                timestamp_ms: 1000 + i,
            })
            .unwrap();
    }
    builder.finish().unwrap().to_vec()
}

/// A version 2 batch carries its producer block through validation,
/// stamping and iteration; its records start after the block.
#[test]
fn producer_batches_round_trip() {
    let buf = build_v2();
    assert_eq!(buf[field::FORMAT_VERSION], FORMAT_VERSION_PRODUCER);
    let mut valid = validate(&buf, LIMIT).unwrap();
    assert_eq!(valid.header.producer, Some(PRODUCER));
    assert_eq!(valid.header.header_len(), HEADER_LEN_PRODUCER);
    assert_eq!(PRODUCER.last_sequence(valid.header.record_count), 102);
    let mut stamped = buf.clone();
    valid.stamp(&mut stamped, 42, 0);
    let batch = Batch::decode(Bytes::from(stamped), LIMIT).unwrap();
    assert_eq!(batch.header.producer, Some(PRODUCER));
    let values: Vec<_> = batch.records().map(|r| (r.offset, r.value)).collect();
    assert_eq!(values[0], (42, Bytes::from_static(b"v0")));
    assert_eq!(values[2], (44, Bytes::from_static(b"v2")));
    // Version 1 batches still read, without a producer.
    let v1 = edited(TimestampType::Create, |_, _| {});
    assert_eq!(validate(&v1, LIMIT).unwrap().header.producer, None);
}

/// The CRC covers the producer block; restamping it recomputes the CRC.
#[test]
fn the_producer_block_is_checked() {
    let mut buf = build_v2();
    buf[field::BASE_SEQUENCE] ^= 1;
    assert!(matches!(refused(&buf), BatchError::CrcMismatch { .. }));
    let mut buf = build_v2();
    let next = ProducerFields {
        base_sequence: 5,
        ..PRODUCER
    };
    stamp_producer(&mut buf, next);
    assert_eq!(validate(&buf, LIMIT).unwrap().header.producer, Some(next));
    for (at, byte) in [
        (field::PRODUCER_ID + 7, 0x80),
        (field::PRODUCER_EPOCH + 1, 0x80),
        (field::BASE_SEQUENCE + 3, 0x80),
    ] {
        let mut buf = build_v2();
        buf[at] |= byte;
        fix_crc(&mut buf);
        assert!(
            matches!(refused(&buf), BatchError::BadProducer(_)),
            "byte {at}"
        );
    }
    let mut buf = build_v2();
    buf[field::PRODUCER_RESERVED] = 1;
    fix_crc(&mut buf);
    assert_eq!(refused(&buf), BatchError::ReservedBits(0x100));
    // A header cut inside the producer block.
    let buf = build_v2();
    assert!(matches!(
        BatchHeader::parse(&buf[..HEADER_LEN + 4], LIMIT),
        Err(BatchError::Truncated {
            needed: HEADER_LEN_PRODUCER,
            ..
        })
    ));
    // A version 2 batch too short for its block.
    let mut buf = build_v2();
    buf[field::BATCH_LENGTH..field::BATCH_LENGTH + 4].copy_from_slice(&50u32.to_le_bytes());
    assert!(matches!(
        BatchHeader::parse(&buf, LIMIT),
        Err(BatchError::BadLength { length: 50, .. })
    ));
}
