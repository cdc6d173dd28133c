//! Fault injection on the real engine: failed and short writes, fsync
//! errors and a full disk. No acknowledged append is lost; no append whose
//! write or fsync failed is acknowledged; a full disk is a typed, passing
//! error.

use std::collections::HashMap;

use shardlog::batch::{Batch, BatchHeader};
use shardlog::config::{Durability, LogConfig, BATCH_BYTES_MAX};
use shardlog::storage::faults::{FaultPlan, FaultyStorage};
use shardlog::storage::{DmaStorage, StorageError};

use crate::common::{batch, open, read_all, run, small_config, TempDir};

#[test]
fn a_failed_fsync_fails_its_waiters_and_takes_the_log_out_of_service() {
    let dir = TempDir::new("fsync-fail");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(7);
        let log = open(FaultyStorage::new(plan.clone()), &path, small_config()).await;
        assert_eq!(
            log.append(batch(1, 1, 10), Durability::Durable)
                .await
                .unwrap(),
            0
        );
        plan.fsync_error_per_mille.set(1000);
        assert!(matches!(
            log.append(batch(2, 1, 10), Durability::Durable).await,
            Err(StorageError::Failed(_))
        ));
        // Never retried: even with the disk healthy again, appends are refused.
        plan.fsync_error_per_mille.set(0);
        assert!(matches!(
            log.append(batch(3, 1, 10), Durability::Durable).await,
            Err(StorageError::Failed(_))
        ));
        assert!(log.failure().is_some());
        // Reads of what was durable still work.
        assert_eq!(log.latest_offset(), 1);
        assert_eq!(read_all(&log, 0, 1 << 20).await.len(), 1);
        assert!(log.close().await.is_err(), "close reports the failure");
    });
}

#[test]
fn a_short_write_is_a_failed_write() {
    let dir = TempDir::new("short-write");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(3);
        let log = open(FaultyStorage::new(plan.clone()), &path, small_config()).await;
        plan.short_write_per_mille.set(1000);
        // Two pages or more, so that half a write is something.
        let result = log.append(batch(1, 4, 1500), Durability::Durable).await;
        assert!(
            matches!(result, Err(StorageError::Failed(_))),
            "got {result:?}"
        );
        assert_eq!(log.latest_offset(), 0);
    });
}

#[test]
fn a_full_disk_is_a_typed_error_and_appends_resume_once_space_is_back() {
    let dir = TempDir::new("disk-full");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(5);
        let config = LogConfig {
            preallocate_bytes: 4096,
            ..small_config()
        };
        let log = open(FaultyStorage::new(plan.clone()), &path, config).await;
        let mut acked = 0;
        for tag in 0..5 {
            acked += u64::from(
                log.append(batch(tag, 1, 100), Durability::Durable)
                    .await
                    .map(|_| 1u32)
                    .unwrap(),
            );
        }
        plan.disk_full.set(true);
        let mut refused = 0;
        for tag in 5..200 {
            match log.append(batch(tag, 1, 900), Durability::Durable).await {
                Ok(base) => {
                    assert_eq!(base, acked);
                    acked += 1;
                }
                Err(StorageError::StorageFull(_)) => refused += 1,
                Err(other) => panic!("expected StorageFull, got {other}"),
            }
        }
        assert!(refused > 0, "a full disk must refuse appends");
        assert!(log.failure().is_none(), "a full disk does not fail the log");
        plan.disk_full.set(false);
        let base = log
            .append(batch(999, 1, 100), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(base, acked, "offsets stay dense across refused appends");
        assert_eq!(read_all(&log, 0, 1 << 20).await.len() as u64, acked + 1);
        log.close().await.unwrap();
    });
}

/// Random write, short-write and fsync faults over many epochs (open,
/// append until the log fails, crash). After each epoch the log is
/// reopened without faults: every acknowledged batch is at its offset,
/// offsets are dense, and nothing but appended batches is present.
#[test]
fn random_faults_never_lose_an_acknowledged_append() {
    for seed in 1..=4u64 {
        let dir = TempDir::new("random-faults");
        let path = dir.path().to_path_buf();
        run(dir.path(), move || async move {
            let plan = FaultPlan::new(seed);
            // tag → base offset of each acknowledged append.
            let mut acked: HashMap<u64, u64> = HashMap::new();
            let mut tag = 0u64;
            for epoch in 0..6 {
                let log = open(FaultyStorage::new(plan.clone()), &path, small_config()).await;
                plan.write_error_per_mille.set(15);
                plan.short_write_per_mille.set(15);
                plan.fsync_error_per_mille.set(15);
                for _ in 0..60 {
                    let burst: Vec<_> = (0..3)
                        .map(|_| {
                            tag += 1;
                            let (log, t) = (log.clone(), tag);
                            glommio::spawn_local(async move {
                                (
                                    t,
                                    log.append(
                                        batch(t, 1 + (t % 3) as u32, 300),
                                        Durability::Durable,
                                    )
                                    .await,
                                )
                            })
                        })
                        .collect();
                    for task in burst {
                        let (t, result) = task.await;
                        match result {
                            Ok(base) => {
                                acked.insert(t, base);
                            }
                            Err(StorageError::Failed(_)) => {}
                            Err(other) => panic!("seed {seed} epoch {epoch}: unexpected {other}"),
                        }
                    }
                    if log.failure().is_some() {
                        break;
                    }
                }
                plan.write_error_per_mille.set(0);
                plan.short_write_per_mille.set(0);
                plan.fsync_error_per_mille.set(0);
                drop(log);
                verify(&path, &acked, seed, epoch).await;
            }
            assert!(plan.injected.get() > 0, "seed {seed}: faults were injected");
        });
    }
}

async fn verify(path: &std::path::Path, acked: &HashMap<u64, u64>, seed: u64, epoch: u32) {
    let log = open(DmaStorage, path, small_config()).await;
    let mut found: HashMap<u64, u64> = HashMap::new();
    let mut offset = 0;
    while offset < log.latest_offset() {
        let read = log.read(offset, 1 << 20).await.expect("read");
        for bytes in read.batches {
            let header = BatchHeader::parse(&bytes, BATCH_BYTES_MAX).unwrap();
            assert_eq!(
                header.base_offset, offset,
                "seed {seed} epoch {epoch}: dense"
            );
            let batch = Batch::decode(bytes, BATCH_BYTES_MAX).expect("valid");
            let record = batch.records().next().unwrap();
            let tag = u64::from_le_bytes(
                record.headers().next().unwrap().value[..8]
                    .try_into()
                    .unwrap(),
            );
            found.insert(tag, offset);
            offset = header.next_offset();
        }
    }
    for (tag, base) in acked {
        assert_eq!(
            found.get(tag),
            Some(base),
            "seed {seed} epoch {epoch}: acknowledged tag {tag} lost or moved"
        );
    }
    log.close().await.expect("close");
}
