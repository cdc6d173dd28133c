//! The preallocator: small first steps, steps prepared in the background
//! while rounds commit, and zeros that never land on data.

use std::os::unix::fs::MetadataExt;

use shardlog::config::{Durability, LogConfig, Preallocation, PREALLOCATE_FIRST_BYTES};
use shardlog::storage::DmaStorage;

use crate::common::{batch, open, read_all, run, TempDir};

fn active_segment(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(format!("{:020}.log", 0))
}

#[test]
fn a_lightly_used_partition_takes_one_small_step_of_disk() {
    let dir = TempDir::new("prealloc-light");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, LogConfig::default()).await;
        log.append(batch(1, 1, 100), Durability::Durable)
            .await
            .unwrap();
        log.close().await.unwrap();
        let meta = std::fs::metadata(active_segment(&path)).unwrap();
        assert!(
            meta.len() <= PREALLOCATE_FIRST_BYTES && meta.blocks() * 512 <= PREALLOCATE_FIRST_BYTES,
            "one 100-byte record took a {} byte file ({} bytes of blocks)",
            meta.len(),
            meta.blocks() * 512
        );
    });
}

/// Many rounds cross many steps while their preparations run: every
/// acknowledged batch reads back whole, before and after a reopen, so no
/// zero write ever landed on data.
fn appends_racing_the_preparations(preallocation: Preallocation) {
    let dir = TempDir::new("prealloc-race");
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let config = LogConfig {
            preallocate_bytes: 64 << 10,
            segment_bytes_max: 1 << 20,
            preallocation,
            ..LogConfig::default()
        };
        let log = open(DmaStorage, &path, config.clone()).await;
        let producers: Vec<_> = (0..8u64)
            .map(|producer| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    for i in 0..250u64 {
                        let tag = producer * 1000 + i;
                        log.append(batch(tag, 1, 900), Durability::Durable)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await;
        }
        let before = read_all(&log, 0, 64 << 20).await;
        assert_eq!(before.len(), 2000, "every acknowledged record reads back");
        let distinct: std::collections::HashSet<_> = before.iter().map(|(_, v)| v).collect();
        assert_eq!(distinct.len(), 2000, "each one its own");
        log.close().await.unwrap();
        let log = open(DmaStorage, &path, config).await;
        let after = read_all(&log, 0, 64 << 20).await;
        assert_eq!(before, after, "and the same after a reopen");
        log.close().await.unwrap();
    });
}

#[test]
fn zero_filled_steps_prepared_under_running_rounds_never_touch_data() {
    appends_racing_the_preparations(Preallocation::ZeroFill);
}

#[test]
fn auto_and_fallocate_steps_keep_every_record_too() {
    appends_racing_the_preparations(Preallocation::Auto);
    appends_racing_the_preparations(Preallocation::Fallocate);
}
