//! The free-space reserve (`min_free_bytes`): when committing the next
//! preallocation step or segment would leave less than the reserve free,
//! appends fail with the typed `StorageFull` before the disk is full;
//! nothing acknowledged is lost, and appends succeed again as soon as space
//! is freed, without reopening the log. Free space is simulated by the
//! fault plan; the check itself is the production code.

use shardlog::config::{Durability, LogConfig};
use shardlog::storage::faults::{FaultPlan, FaultyStorage};
use shardlog::storage::{PartitionLog, Storage, StorageError};

use crate::common::{batch, open, read_all, run, small_config, TempDir};

const RESERVE: u64 = 1 << 20;
const PLENTY: u64 = 1 << 30;

/// Segments of 16 KiB preallocated 4 KiB at a time: both the step and the
/// roll checks are crossed within a few appends.
fn reserve_config() -> LogConfig {
    LogConfig {
        preallocate_bytes: 4096,
        min_free_bytes: RESERVE,
        ..small_config()
    }
}

/// Appends one batch per tag, each of which must be accepted at the next
/// offset, and records the tags in offset order.
async fn append_all<S: Storage>(
    log: &PartitionLog<S>,
    tags: std::ops::Range<u64>,
    acked: &mut Vec<u64>,
) {
    for tag in tags {
        let base = log
            .append(batch(tag, 1, 700), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(base, acked.len() as u64);
        acked.push(tag);
    }
}

#[test]
fn appends_below_the_reserve_fail_typed_and_resume_once_space_is_freed() {
    let dir = TempDir::new("reserve");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(11);
        plan.free_bytes.set(Some(PLENTY));
        let log = open(FaultyStorage::new(plan.clone()), &path, reserve_config()).await;
        // The tag of each acknowledged append, in offset order.
        let mut acked: Vec<u64> = Vec::new();
        append_all(&log, 0..10, &mut acked).await;

        // Less free than the reserve plus one step: the next commit of space
        // (a step or a roll) is refused. Appends into space already
        // allocated may still succeed until then.
        plan.free_bytes.set(Some(RESERVE + 1024));
        let mut refused = 0;
        for tag in 10..60u64 {
            match log.append(batch(tag, 1, 700), Durability::Durable).await {
                Ok(base) => {
                    assert_eq!(base, acked.len() as u64, "offsets stay dense");
                    acked.push(tag);
                }
                Err(StorageError::StorageFull(e)) => {
                    assert!(
                        e.to_string().contains("min_free_bytes"),
                        "the error names the setting: {e}"
                    );
                    refused += 1;
                }
                Err(other) => panic!("expected StorageFull, got {other}"),
            }
        }
        assert!(refused > 0, "the reserve must refuse appends");
        assert!(acked.len() < 60, "not every append may pass the reserve");
        assert!(log.failure().is_none(), "the reserve does not fail the log");

        // Nothing acknowledged is lost and nothing refused is present.
        let records = read_all(&log, 0, 1 << 20).await;
        assert_eq!(records.len(), acked.len());
        for ((offset, value), tag) in records.iter().zip(&acked) {
            let expected = format!("{tag}:0:");
            assert!(
                value.starts_with(expected.as_bytes()),
                "offset {offset} holds tag {tag}"
            );
        }

        // Space is freed (retention, a deleted topic): the same open log
        // takes appends again.
        plan.free_bytes.set(Some(PLENTY));
        append_all(&log, 100..140, &mut acked).await;
        assert_eq!(
            read_all(&log, 0, 1 << 20).await.len(),
            acked.len(),
            "every acknowledged record readable"
        );
        log.close().await.unwrap();
    });
}

#[test]
fn a_zero_reserve_turns_the_check_off() {
    let dir = TempDir::new("reserve-off");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let plan = FaultPlan::new(12);
        // Reported free space is nil, yet nothing refuses: with no reserve
        // only a real ENOSPC stops appends.
        plan.free_bytes.set(Some(0));
        let config = LogConfig {
            min_free_bytes: 0,
            ..reserve_config()
        };
        let log = open(FaultyStorage::new(plan.clone()), &path, config).await;
        for tag in 0..40u64 {
            assert_eq!(
                log.append(batch(tag, 1, 700), Durability::Durable)
                    .await
                    .unwrap(),
                tag
            );
        }
        log.close().await.unwrap();
    });
}
