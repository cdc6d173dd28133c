//! Records between Kafka's RecordBatch v2 and the native batch format
//! (docs/STORAGE.md), so that a record produced through either protocol
//! reads back through both with the same key, value, headers, timestamp
//! and offset. The Kafka side is the `kafka-protocol` crate's decoder and
//! encoder (CRC-32C, gzip, snappy, lz4, zstd); the native side is the
//! batch builder and iterator.
//!
//! A Kafka null value or null header value is stored, and read back, as
//! empty; headers with the same key keep only the last (the codec's
//! header map): both are documented in docs/KAFKA.md.
//!
//! An idempotent producer's batch (producer id set) becomes one native
//! version 2 batch carrying its producer id, epoch and base sequence, so
//! the partition can detect a retry. Such a batch is never split: one
//! that would need splitting is refused with MESSAGE_TOO_LARGE (the Java
//! producer then splits it itself and retries).

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KafkaTimestampType, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};
use kafka_protocol::ResponseError;

use crate::batch::builder::{BatchBuilder, BuildError, NewRecord};
use crate::batch::header::{ProducerFields, TimestampType};
use crate::batch::record::{Batches, HEADER_OVERHEAD, RECORD_OVERHEAD};

/// Byte of a RecordBatch that holds its magic (format version).
const MAGIC_AT: usize = 16;
/// The only Kafka record format served: RecordBatch v2.
const MAGIC_V2: u8 = 2;

/// Why a produce's records were refused, as the Kafka error it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsError {
    pub error: ResponseError,
    pub message: String,
}

impl RecordsError {
    fn new(error: ResponseError, message: impl Into<String>) -> Self {
        RecordsError {
            error,
            message: message.into(),
        }
    }
}

/// One partition's produced records (exactly one RecordBatch v2, as
/// Kafka requires from Produce v3 on) as native batches: one, or several
/// when the records, decompressed, pass `batch_bytes_max`.
pub fn to_native(records: Bytes, batch_bytes_max: u32) -> Result<Vec<BytesMut>, RecordsError> {
    match records.get(MAGIC_AT) {
        None => {
            return Err(RecordsError::new(
                ResponseError::CorruptMessage,
                format!("{} bytes cannot hold a record batch", records.len()),
            ))
        }
        Some(&MAGIC_V2) => {}
        Some(magic) => {
            return Err(RecordsError::new(
                ResponseError::InvalidRecord,
                format!("record format v{magic} is not served; RecordBatch v2 only"),
            ))
        }
    }
    let mut rest = records;
    let set = RecordBatchDecoder::decode(&mut rest)
        .map_err(|e| RecordsError::new(ResponseError::CorruptMessage, e.to_string()))?;
    if rest.has_remaining() {
        return Err(RecordsError::new(
            ResponseError::InvalidRecord,
            "a produce carries exactly one record batch per partition",
        ));
    }
    if set.records.iter().any(|r| r.transactional || r.control) {
        return Err(RecordsError::new(
            ResponseError::InvalidRecord,
            "transactions are not supported",
        ));
    }
    let producer = set
        .records
        .first()
        .filter(|r| r.producer_id != NO_PRODUCER_ID)
        .map(|r| {
            if r.producer_id < 0 || r.producer_epoch < 0 || r.sequence < 0 {
                return Err(RecordsError::new(
                    ResponseError::InvalidRecord,
                    format!(
                        "producer id {}, epoch {}, sequence {}: none may be negative",
                        r.producer_id, r.producer_epoch, r.sequence
                    ),
                ));
            }
            Ok(ProducerFields {
                producer_id: r.producer_id,
                producer_epoch: r.producer_epoch,
                base_sequence: r.sequence,
            })
        })
        .transpose()?;
    let new_builder = || match producer {
        Some(fields) => BatchBuilder::with_producer(TimestampType::Create, batch_bytes_max, fields),
        None => BatchBuilder::new(TimestampType::Create, batch_bytes_max),
    };
    let mut batches = Vec::with_capacity(1);
    // Sized for every record at once: growing by doubling copied each
    // batch several times (a profile's largest memmove).
    let records_bytes: usize = set.records.iter().map(encoded_len).sum();
    let mut builder = BatchBuilder::with_capacity(
        TimestampType::Create,
        batch_bytes_max,
        producer,
        records_bytes,
    );
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    for record in &set.records {
        headers.clear();
        headers.extend(
            record
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_deref().unwrap_or_default())),
        );
        let new = NewRecord {
            key: record.key.as_deref(),
            value: record.value.as_deref().unwrap_or_default(),
            headers: &headers,
            timestamp_ms: record.timestamp,
        };
        match builder.append(&new) {
            Ok(()) => {}
            Err(BuildError::Full) if producer.is_some() => {
                return Err(RecordsError::new(
                    ResponseError::MessageTooLarge,
                    format!(
                        "an idempotent producer's batch is deduplicated whole and must fit \
                         one native batch of {batch_bytes_max} bytes"
                    ),
                ));
            }
            Err(BuildError::Full) => {
                let full = std::mem::replace(&mut builder, new_builder());
                batches.extend(full.finish());
                builder.append(&new).map_err(refused)?;
            }
            Err(e) => return Err(refused(e)),
        }
    }
    batches.extend(builder.finish());
    if batches.is_empty() {
        return Err(RecordsError::new(
            ResponseError::CorruptMessage,
            "a record batch without records",
        ));
    }
    Ok(batches)
}

/// A Kafka record's size in the native format.
fn encoded_len(record: &KafkaRecord) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| HEADER_OVERHEAD + name.len() + value.as_ref().map_or(0, Bytes::len))
        .sum();
    RECORD_OVERHEAD
        + record.key.as_ref().map_or(0, Bytes::len)
        + record.value.as_ref().map_or(0, Bytes::len)
        + headers
}

fn refused(e: BuildError) -> RecordsError {
    let error = match e {
        BuildError::Full | BuildError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
        _ => ResponseError::InvalidRecord,
    };
    RecordsError::new(error, e.to_string())
}

/// Native batches (a fetch's chunks of whole batches) appended to `out`
/// as Kafka RecordBatch v2, one Kafka batch per native batch, uncompressed,
/// with the same offsets. Fails only on a native batch that does not
/// validate (the storage checked it when it was read).
pub fn to_kafka(chunks: &[Bytes], batch_bytes_max: u32, out: &mut BytesMut) -> Result<(), String> {
    let options = RecordEncodeOptions {
        version: MAGIC_V2 as i8,
        compression: Compression::None,
    };
    let mut records: Vec<KafkaRecord> = Vec::new();
    for chunk in chunks {
        for batch in Batches::new(chunk.clone(), batch_bytes_max) {
            let batch = batch.map_err(|e| e.to_string())?;
            let timestamp_type = match batch.header.timestamp_type() {
                TimestampType::Create => KafkaTimestampType::Creation,
                TimestampType::LogAppend => KafkaTimestampType::LogAppend,
            };
            let base = batch.header.base_offset;
            let producer = batch.header.producer;
            records.clear();
            records.extend(batch.records().map(|r| {
                let mut headers = kafka_protocol::indexmap::IndexMap::new();
                for header in r.headers() {
                    headers.insert(StrBytes::from_string(header.name), Some(header.value));
                }
                KafkaRecord {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
                    producer_id: producer.map_or(NO_PRODUCER_ID, |p| p.producer_id),
                    producer_epoch: producer.map_or(NO_PRODUCER_EPOCH, |p| p.producer_epoch),
                    timestamp_type,
                    offset: r.offset as i64,
                    // The encoder keeps records in one batch while
                    // offset - sequence stays the same.
                    sequence: producer
                        .map_or(0, |p| p.base_sequence)
                        .wrapping_add((r.offset - base) as i32),
                    timestamp: r.timestamp_ms,
                    key: r.key,
                    value: Some(r.value),
                    headers,
                }
            }));
            RecordBatchEncoder::encode(out, records.iter(), &options).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::Batch;
    use crate::batch::validate::validate;

    fn kafka_record(offset: i64, key: &str, value: &str, timestamp: i64) -> KafkaRecord {
        let mut headers = kafka_protocol::indexmap::IndexMap::new();
        headers.insert(
            StrBytes::from_static_str("trace"),
            Some(Bytes::from_static(b"\x00\xffid")),
        );
        KafkaRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: KafkaTimestampType::Creation,
            offset,
            // As a client numbers them: the encoder keeps records in one
            // batch while offset - sequence stays the same.
            sequence: offset as i32,
            timestamp,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers,
        }
    }

    fn encode(records: &[KafkaRecord], compression: Compression) -> Bytes {
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
        buf.freeze()
    }

    /// A client's batch, in every codec, becomes a native batch and comes
    /// back as a Kafka batch with the same records at the stamped offsets.
    #[test]
    fn records_round_trip_through_the_native_format_in_every_codec() {
        let produced: Vec<KafkaRecord> = (0..5)
            .map(|i| {
                kafka_record(
                    i,
                    &format!("k{i}"),
                    &"v".repeat(i as usize * 100),
                    1_700_000_000_000 + i,
                )
            })
            .collect();
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let natives = to_native(encode(&produced, compression), 1 << 20).unwrap();
            assert_eq!(natives.len(), 1);
            let mut native = natives.into_iter().next().unwrap();
            let mut valid = validate(&native, 1 << 20).unwrap();
            valid.stamp(&mut native, 40, 0);
            let mut out = BytesMut::new();
            to_kafka(&[native.freeze()], 1 << 20, &mut out).unwrap();
            let read = RecordBatchDecoder::decode_all(&mut out.freeze()).unwrap();
            let records: Vec<_> = read.into_iter().flat_map(|set| set.records).collect();
            assert_eq!(records.len(), produced.len(), "{compression:?}");
            for (got, want) in records.iter().zip(&produced) {
                assert_eq!(got.offset, 40 + want.offset);
                assert_eq!(got.key, want.key);
                assert_eq!(got.value, want.value);
                assert_eq!(got.headers, want.headers);
                assert_eq!(got.timestamp, want.timestamp);
            }
        }
    }

    #[test]
    fn records_past_the_batch_limit_split_into_several_native_batches() {
        let produced: Vec<KafkaRecord> = (0..8)
            .map(|i| kafka_record(i, "k", &"x".repeat(1000), 1))
            .collect();
        let natives = to_native(encode(&produced, Compression::Zstd), 3000).unwrap();
        assert!(natives.len() >= 3);
        let total: u32 = natives
            .iter()
            .map(|b| {
                Batch::decode(Bytes::copy_from_slice(b), 3000)
                    .unwrap()
                    .header
                    .record_count
            })
            .sum();
        assert_eq!(total, 8);
    }

    /// An idempotent producer's batch keeps its producer fields both
    /// ways, and is refused rather than split.
    #[test]
    fn producer_fields_are_carried_and_never_split() {
        let produced: Vec<KafkaRecord> = (0..4)
            .map(|i| KafkaRecord {
                producer_id: 99,
                producer_epoch: 2,
                sequence: 10 + i as i32,
                ..kafka_record(i, "k", &"x".repeat(1000), 1)
            })
            .collect();
        let natives = to_native(encode(&produced, Compression::None), 1 << 20).unwrap();
        assert_eq!(natives.len(), 1);
        let mut native = natives.into_iter().next().unwrap();
        let mut valid = validate(&native, 1 << 20).unwrap();
        assert_eq!(
            valid.header.producer,
            Some(ProducerFields {
                producer_id: 99,
                producer_epoch: 2,
                base_sequence: 10
            })
        );
        valid.stamp(&mut native, 7, 0);
        let mut out = BytesMut::new();
        to_kafka(&[native.freeze()], 1 << 20, &mut out).unwrap();
        let read = RecordBatchDecoder::decode_all(&mut out.freeze()).unwrap();
        let records: Vec<_> = read.into_iter().flat_map(|set| set.records).collect();
        assert_eq!(records.len(), 4);
        assert_eq!(records[3].producer_id, 99);
        assert_eq!(records[3].sequence, 13);
        assert_eq!(records[3].offset, 10);
        let error = to_native(encode(&produced, Compression::None), 3000).unwrap_err();
        assert_eq!(error.error, ResponseError::MessageTooLarge);
    }

    #[test]
    fn bad_batches_get_kafkas_errors() {
        let good = encode(&[kafka_record(0, "k", "v", 1)], Compression::None);
        let mut corrupt = BytesMut::from(&good[..]);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        let error = to_native(corrupt.freeze(), 1 << 20).unwrap_err();
        assert_eq!(error.error, ResponseError::CorruptMessage);
        let mut old = BytesMut::from(&good[..]);
        old[MAGIC_AT] = 1;
        let error = to_native(old.freeze(), 1 << 20).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidRecord);
        let two = [good.clone(), good.clone()].concat();
        let error = to_native(Bytes::from(two), 1 << 20).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidRecord);
        let error = to_native(Bytes::from_static(b"short"), 1 << 20).unwrap_err();
        assert_eq!(error.error, ResponseError::CorruptMessage);
        let error = to_native(good, 10).unwrap_err();
        assert_eq!(error.error, ResponseError::MessageTooLarge);
    }
}
