//! Idempotent producers in the log: a retried batch gets its original
//! offset and is not appended again, also after a crash (drop without
//! close) or a clean reopen, and across segment rolls (the producer
//! snapshot plus the scan of the active segment).

use std::path::Path;

use bytes::BytesMut;
use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, ProducerFields, TimestampType};
use shardlog::config::{Durability, BATCH_BYTES_MAX};
use shardlog::error::ErrorCode;
use shardlog::storage::{DmaStorage, StorageError};

use crate::common::{open, read_all, run, small_config, TempDir};

/// A batch of `count` records from producer `id`, epoch 0, first sequence
/// `sequence`.
fn producer_batch(id: i64, sequence: i32, count: u32) -> BytesMut {
    let fields = ProducerFields {
        producer_id: id,
        producer_epoch: 0,
        base_sequence: sequence,
    };
    let mut builder = BatchBuilder::with_producer(TimestampType::Create, BATCH_BYTES_MAX, fields);
    for i in 0..count {
        let value = format!("{id}:{}:{}", sequence, "x".repeat(200 + i as usize));
        builder
            .append(&NewRecord {
                key: None,
                value: value.as_bytes(),
                headers: &[],
                timestamp_ms: 1_700_000_000_000,
            })
            .unwrap();
    }
    builder.finish().unwrap()
}

/// Appends `batches` batches of 3 records from producer 1 (the small
/// config rolls every few of them); returns each batch's base offset.
fn write_producer_log(dir: &Path, batches: i32, close: bool) -> Vec<u64> {
    let path = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let mut bases = Vec::new();
        for i in 0..batches {
            let base = log
                .append(producer_batch(1, i * 3, 3), Durability::Durable)
                .await
                .unwrap();
            bases.push(base);
        }
        assert!(log.segment_count() > 2, "the test crosses segment rolls");
        if close {
            log.close().await.unwrap();
        }
        tx.send(bases).unwrap();
        drop(log);
    });
    rx.recv().unwrap()
}

/// Reopens; the last five batches, retried, get their original offsets
/// and add nothing; the next sequence appends; a gap is refused.
fn assert_duplicates_answered(dir: &Path, bases: Vec<u64>) {
    let path = dir.to_path_buf();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let end = log.latest_offset();
        let n = bases.len() as i32;
        for i in n - 5..n {
            let base = log
                .append(producer_batch(1, i * 3, 3), Durability::Durable)
                .await
                .unwrap();
            assert_eq!(base, bases[i as usize], "batch {i} keeps its offset");
        }
        assert_eq!(log.latest_offset(), end, "no duplicate was appended");
        let gap = log
            .append(producer_batch(1, n * 3 + 1, 1), Durability::Durable)
            .await
            .unwrap_err();
        assert_eq!(ErrorCode::from(&gap), ErrorCode::OutOfOrderSequence);
        assert!(matches!(gap, StorageError::Sequence(_)));
        let next = log
            .append(producer_batch(1, n * 3, 1), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(next, end);
        assert_eq!(read_all(&log, 0, 1 << 20).await.len() as u64, end + 1);
        log.close().await.unwrap();
    });
}

#[test]
fn duplicates_keep_their_offsets_after_a_crash() {
    let dir = TempDir::new("producers-crash");
    let bases = write_producer_log(dir.path(), 90, false);
    assert_duplicates_answered(dir.path(), bases);
}

#[test]
fn duplicates_keep_their_offsets_after_a_clean_reopen() {
    let dir = TempDir::new("producers-clean");
    let bases = write_producer_log(dir.path(), 90, true);
    assert_duplicates_answered(dir.path(), bases);
}

/// Without a snapshot (a log from before it, or a lost file), the state
/// comes from the active segment alone: a retry of a batch there is still
/// answered with its offset.
#[test]
fn without_a_snapshot_the_active_segment_rebuilds_the_state() {
    let dir = TempDir::new("producers-no-snapshot");
    let bases = write_producer_log(dir.path(), 90, false);
    for slot in ["producers.snapshot", "producers.snapshot.1"] {
        let _ = std::fs::remove_file(dir.path().join(slot));
    }
    assert_last_batch_retry_answered(dir.path(), bases);
}

/// Reopens the log in `dir` and resends producer 1's last batch: it is
/// answered with the offset it first got (`bases`' last) and not written
/// again.
fn assert_last_batch_retry_answered(dir: &std::path::Path, bases: Vec<u64>) {
    let path = dir.to_path_buf();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let end = log.latest_offset();
        let last = bases.len() - 1;
        let base = log
            .append(producer_batch(1, last as i32 * 3, 3), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(base, bases[last], "the retry got its first offset");
        assert_eq!(log.latest_offset(), end, "and was not written again");
        log.close().await.unwrap();
    });
}

/// A snapshot torn by a crash while it was written in place spoils only
/// its slot: the other one (or the active segment) still gives the state,
/// and a retry is answered with its first offset.
#[test]
fn a_torn_snapshot_slot_leaves_the_other() {
    let dir = TempDir::new("producers-torn-slot");
    let bases = write_producer_log(dir.path(), 90, true);
    let slots: Vec<_> = ["producers.snapshot", "producers.snapshot.1"]
        .iter()
        .map(|name| dir.path().join(name))
        .filter(|path| path.exists())
        .collect();
    assert_eq!(slots.len(), 2, "rolls and the close used both slots");
    let newest = slots
        .iter()
        .max_by_key(|path| std::fs::metadata(path).unwrap().modified().unwrap())
        .unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(newest, bytes).unwrap();
    assert_last_batch_retry_answered(dir.path(), bases);
}

/// Pipelined: a retry of a batch still queued waits for it and gets its
/// offset; the batch is written once.
#[test]
fn a_retry_of_a_queued_batch_gets_its_offset() {
    let dir = TempDir::new("producers-in-flight");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let first = log
            .submit_append(producer_batch(5, 0, 2), Durability::Durable)
            .unwrap();
        let second = log
            .submit_append(producer_batch(5, 2, 2), Durability::Durable)
            .unwrap();
        let retry = log
            .submit_append(producer_batch(5, 0, 2), Durability::Durable)
            .unwrap();
        assert_eq!(first.await.unwrap(), 0);
        assert_eq!(second.await.unwrap(), 2);
        assert_eq!(retry.await.unwrap(), 0);
        assert_eq!(log.latest_offset(), 4);
        log.close().await.unwrap();
    });
}
