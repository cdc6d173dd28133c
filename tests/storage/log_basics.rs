//! Appends, reads, offsets, segments, group commit, durability modes,
//! timestamps and retention, against the real disk.

use futures_lite::future::zip;
use shardlog::batch::{Batch, BatchHeader};
use shardlog::config::{Durability, LogConfig, Preallocation, ShardStorageConfig, BATCH_BYTES_MAX};
use shardlog::storage::faults::{FaultPlan, FaultyStorage};
use shardlog::storage::{DmaStorage, PartitionLog, StorageError, TailCache};

use crate::common::{batch, open, read_all, run, small_config, TempDir};

#[test]
fn appends_get_dense_offsets_and_read_back_byte_identical() {
    let dir = TempDir::new("basics");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let mut sent = Vec::new();
        let mut expected_offset = 0;
        for tag in 0..200u64 {
            let count = 1 + (tag % 5) as u32;
            let bytes = batch(tag, count, 40);
            let base = log
                .append(bytes.clone(), Durability::Durable)
                .await
                .unwrap();
            assert_eq!(base, expected_offset);
            expected_offset += u64::from(count);
            sent.push((base, bytes));
        }
        assert_eq!(log.earliest_offset(), 0);
        assert_eq!(log.latest_offset(), expected_offset);
        assert!(log.segment_count() > 3, "small segments must have rolled");
        // Every batch reads back byte-identical but for the stamped offset.
        for (base, bytes) in &sent {
            let read = log.read(*base, 1).await.unwrap();
            assert_eq!(
                read.batches.len(),
                1,
                "max_bytes 1 still returns one whole batch"
            );
            let got = &read.batches[0];
            assert_eq!(&got[8..], &bytes[8..]);
            assert_eq!(
                BatchHeader::parse(got, BATCH_BYTES_MAX)
                    .unwrap()
                    .base_offset,
                *base
            );
        }
        let all = read_all(&log, 0, 3000).await;
        assert_eq!(all.len() as u64, expected_offset);
        log.close().await.unwrap();
    });
}

#[test]
fn reads_check_the_offset_range() {
    let dir = TempDir::new("range");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        log.append(batch(1, 3, 10), Durability::Durable)
            .await
            .unwrap();
        let at_end = log.read(3, 1 << 20).await.unwrap();
        assert!(at_end.batches.is_empty());
        assert_eq!(at_end.high_watermark, 3);
        match log.read(4, 1 << 20).await {
            Err(StorageError::OffsetOutOfRange {
                offset: 4,
                earliest: 0,
                latest: 3,
            }) => {}
            other => panic!("expected OffsetOutOfRange, got {other:?}"),
        }
        // A read from the middle of a batch returns the whole batch.
        let mid = log.read(1, 1 << 20).await.unwrap();
        assert_eq!(mid.batches.len(), 1);
        log.close().await.unwrap();
    });
}

#[test]
fn concurrent_appends_share_one_write_and_one_fsync() {
    let dir = TempDir::new("group-commit");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(1);
        // Fallocate: zero-fill writes would count as writes here.
        let config = LogConfig {
            preallocation: Preallocation::Fallocate,
            ..LogConfig::default()
        };
        let log = open(FaultyStorage::new(plan.clone()), &path, config).await;
        let (writes_before, fsyncs_before) = plan.io_counts();
        let appends: Vec<_> = (0..64u64)
            .map(|tag| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    log.append(batch(tag, 1, 100), Durability::Durable).await
                })
            })
            .collect();
        let mut bases = Vec::new();
        for task in appends {
            bases.push(task.await.unwrap());
        }
        bases.sort_unstable();
        assert_eq!(
            bases,
            (0..64).collect::<Vec<u64>>(),
            "each append got its own dense offset"
        );
        let (writes, fsyncs) = plan.io_counts();
        let (writes, fsyncs) = (writes - writes_before, fsyncs - fsyncs_before);
        // The first append may start a round alone; the other 63 queue
        // behind its I/O and share the next one.
        assert!(fsyncs <= 2, "64 concurrent appends took {fsyncs} fsyncs");
        assert!(writes <= 2, "64 concurrent appends took {writes} writes");
        log.close().await.unwrap();
    });
}

#[test]
fn a_durable_round_syncs_its_own_write_unless_written_rounds_are_unsynced() {
    let dir = TempDir::new("durable-write");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(1);
        let config = LogConfig {
            preallocation: Preallocation::Fallocate,
            // No timer sync during the test.
            flush_interval_ms: 600_000,
            ..LogConfig::default()
        };
        let log = open(FaultyStorage::new(plan.clone()), &path, config).await;
        let fsyncs_at = |plan: &FaultPlan| plan.io_counts().1;

        let fsyncs = fsyncs_at(&plan);
        log.append(batch(1, 1, 100), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(plan.durable_writes(), 1, "one O_DSYNC write");
        assert_eq!(fsyncs_at(&plan), fsyncs, "and no fdatasync");
        assert_eq!(log.latest_offset(), 1);

        log.append(batch(2, 1, 100), Durability::Written)
            .await
            .unwrap();
        assert_eq!(log.latest_offset(), 1, "written: not visible before a sync");

        // The written batch is in no sync yet: a durable write alone would
        // not cover it, so this round writes and then fdatasyncs.
        log.append(batch(3, 1, 100), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(plan.durable_writes(), 1);
        assert_eq!(fsyncs_at(&plan), fsyncs + 1, "one fdatasync for both");
        assert_eq!(log.latest_offset(), 3, "both are durable and visible");
        assert_eq!(read_all(&log, 0, 1 << 20).await.len(), 3);
        log.close().await.unwrap();
    });
}

#[test]
fn written_mode_acknowledges_before_visibility_then_a_timer_makes_it_durable() {
    let dir = TempDir::new("written");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let config = LogConfig {
            flush_interval_ms: 20,
            ..small_config()
        };
        let log = open(DmaStorage, &path, config).await;
        let base = log
            .append(batch(7, 2, 10), Durability::Written)
            .await
            .unwrap();
        assert_eq!(base, 0);
        // The long-poll future resolves once the timer's fsync publishes it.
        log.wait_for_data(0).await;
        assert_eq!(log.latest_offset(), 2);
        assert_eq!(read_all(&log, 0, 1 << 20).await.len(), 2);
        log.close().await.unwrap();
    });
}

#[test]
fn long_poll_wakes_on_append() {
    let dir = TempDir::new("long-poll");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let waiter = log.wait_for_data(0);
        let appender = log.clone();
        let ((), base) = zip(waiter, async move {
            appender
                .append(batch(1, 1, 10), Durability::Durable)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(base, 0);
        assert_eq!(log.latest_offset(), 1);
        log.close().await.unwrap();
    });
}

#[test]
fn tail_reads_come_from_the_cache_and_match_disk() {
    let dir = TempDir::new("cache");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let cache = TailCache::shared(64 << 10);
        let shard = ShardStorageConfig {
            tail_cache_bytes: 64 << 10,
            read_chunk_bytes: 8 << 10,
        };
        let log = PartitionLog::open(DmaStorage, &path, small_config(), &shard, cache.clone())
            .await
            .unwrap();
        for tag in 0..100 {
            log.append(batch(tag, 2, 200), Durability::Durable)
                .await
                .unwrap();
        }
        let from_cache = read_all(&log, 150, 4096).await;
        let (hits, _) = cache.borrow().hit_counts();
        assert!(hits > 0, "tail reads must hit the cache");
        assert!(
            cache.borrow().bytes_used() <= 64 << 10,
            "cache stays within its bound"
        );
        // Old offsets are evicted and read from disk; both agree.
        let everything = read_all(&log, 0, 4096).await;
        assert_eq!(&everything[150..], &from_cache[..]);
        log.close().await.unwrap();
    });
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    let dir = TempDir::new("timestamps");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        // batch(tag) stamps every record with 1_700_000_000_000 + tag.
        for tag in 0..300u64 {
            log.append(batch(tag * 10, 2, 30), Durability::Durable)
                .await
                .unwrap();
        }
        let t0 = 1_700_000_000_000i64;
        assert_eq!(log.offset_for_timestamp(t0).await.unwrap(), Some(0));
        assert_eq!(log.offset_for_timestamp(t0 + 10).await.unwrap(), Some(2));
        assert_eq!(log.offset_for_timestamp(t0 + 11).await.unwrap(), Some(4));
        assert_eq!(
            log.offset_for_timestamp(t0 + 2990).await.unwrap(),
            Some(598)
        );
        assert_eq!(log.offset_for_timestamp(t0 + 2991).await.unwrap(), None);
        log.close().await.unwrap();
        // The same answers after a reopen from the persisted time indexes.
        let log = open(DmaStorage, &path, small_config()).await;
        assert_eq!(
            log.offset_for_timestamp(t0 + 1501).await.unwrap(),
            Some(302)
        );
        log.close().await.unwrap();
    });
}

#[test]
fn retention_by_bytes_deletes_whole_sealed_segments() {
    let dir = TempDir::new("retention-bytes");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let config = LogConfig {
            retention_bytes: Some(40 << 10),
            ..small_config()
        };
        let log = open(DmaStorage, &path, config).await;
        for tag in 0..400 {
            log.append(batch(tag, 1, 300), Durability::Durable)
                .await
                .unwrap();
        }
        let before = log.size_bytes();
        let report = log
            .apply_retention(shardlog::storage::log::now_ms())
            .await
            .unwrap();
        assert!(report.segments_deleted > 0);
        assert!(
            log.size_bytes() <= 40 << 10,
            "size {} after retention",
            log.size_bytes()
        );
        assert_eq!(before - report.bytes_deleted, log.size_bytes());
        let earliest = log.earliest_offset();
        assert!(earliest > 0);
        assert!(matches!(
            log.read(earliest - 1, 100).await,
            Err(StorageError::OffsetOutOfRange { .. })
        ));
        let rest = read_all(&log, earliest, 1 << 16).await;
        assert_eq!(rest.len() as u64, 400 - earliest);
        log.close().await.unwrap();
        // Deleted segments stay deleted; the log reopens at the same range.
        let log = open(DmaStorage, &path, small_config()).await;
        assert_eq!(log.earliest_offset(), earliest);
        assert_eq!(log.latest_offset(), 400);
        log.close().await.unwrap();
    });
}

#[test]
fn retention_by_age_keeps_the_active_segment() {
    let dir = TempDir::new("retention-age");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let config = LogConfig {
            retention_ms: Some(1000),
            ..small_config()
        };
        let log = open(DmaStorage, &path, config).await;
        for tag in 0..200 {
            log.append(batch(tag, 1, 300), Durability::Durable)
                .await
                .unwrap();
        }
        let segments = log.segment_count();
        // Records are stamped around 1_700_000_000_000; "now" far later.
        let report = log.apply_retention(1_800_000_000_000).await.unwrap();
        assert_eq!(report.segments_deleted, segments - 1);
        assert_eq!(log.segment_count(), 1);
        // "Now" right after the records: nothing is old enough.
        let log2_dir = TempDir::new("retention-age-young");
        let young = open(
            DmaStorage,
            log2_dir.path(),
            LogConfig {
                retention_ms: Some(1000),
                ..small_config()
            },
        )
        .await;
        for tag in 0..200 {
            young
                .append(batch(tag, 1, 300), Durability::Durable)
                .await
                .unwrap();
        }
        let report = young.apply_retention(1_700_000_000_100).await.unwrap();
        assert_eq!(report.segments_deleted, 0);
        young.close().await.unwrap();
        log.close().await.unwrap();
    });
}

#[test]
fn oversized_and_malformed_batches_are_refused_without_effect() {
    let dir = TempDir::new("refusals");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        let big = batch(1, 1, 9000);
        assert!(matches!(
            log.append(big, Durability::Durable).await,
            Err(StorageError::BatchTooLarge { .. })
        ));
        let mut flipped = batch(2, 2, 10);
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(matches!(
            log.append(flipped, Durability::Durable).await,
            Err(StorageError::InvalidBatch(_))
        ));
        assert_eq!(log.latest_offset(), 0);
        assert_eq!(
            log.append(batch(3, 1, 10), Durability::Durable)
                .await
                .unwrap(),
            0
        );
        let read = log.read(0, 100).await.unwrap();
        let decoded = Batch::decode(read.batches[0].clone(), BATCH_BYTES_MAX).unwrap();
        assert_eq!(decoded.records().count(), 1);
        log.close().await.unwrap();
    });
}

#[test]
fn readers_never_see_a_gap_while_a_segment_rolls() {
    let dir = TempDir::new("roll-reader");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(9);
        // Slow index writes: the roll awaits them while readers run.
        plan.small_write_delay_ms.set(5);
        let log = open(FaultyStorage::new(plan), &path, small_config()).await;
        let total_batches = 300u64;
        let appender = {
            let log = log.clone();
            glommio::spawn_local(async move {
                for tag in 0..total_batches {
                    log.append(batch(tag, 2, 200), Durability::Durable)
                        .await
                        .unwrap();
                }
            })
        };
        // Readers behind the tail and at it, every millisecond: every read
        // of a visible offset must succeed, through every roll.
        while log.latest_offset() < total_batches * 2 {
            let latest = log.latest_offset();
            for offset in [0, latest / 2, latest.saturating_sub(1)] {
                if offset < latest {
                    let read = log
                        .read(offset, 4096)
                        .await
                        .unwrap_or_else(|e| panic!("read at {offset}: {e}"));
                    assert!(!read.batches.is_empty(), "data at {offset}");
                }
            }
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
        appender.await;
        assert!(log.segment_count() > 5, "the log rolled many times");
        log.close().await.unwrap();
    });
}

#[test]
fn delete_segments_before_drops_only_whole_segments_below_the_offset() {
    let dir = TempDir::new("delete-before");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        for tag in 0..200 {
            log.append(batch(tag, 1, 300), Durability::Durable)
                .await
                .unwrap();
        }
        let segments = log.segment_count();
        assert!(segments > 3, "the test needs several segments");
        let report = log.delete_segments_before(100).await.unwrap();
        assert!(report.segments_deleted > 0);
        let earliest = log.earliest_offset();
        assert!(earliest <= 100, "offset 100 is kept ({earliest})");
        assert!(earliest > 0);
        let rest = read_all(&log, earliest, 1 << 16).await;
        assert_eq!(rest.len() as u64, 200 - earliest);
        // Past the end: every sealed segment goes, the active one stays.
        log.delete_segments_before(u64::MAX).await.unwrap();
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.latest_offset(), 200);
        log.close().await.unwrap();
        let log = open(DmaStorage, &path, small_config()).await;
        assert_eq!(log.latest_offset(), 200, "reopens at the same end");
        log.close().await.unwrap();
    });
}
