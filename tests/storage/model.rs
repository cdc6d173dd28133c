//! Random operation sequences against an in-memory model: append (alone and
//! concurrently, durable and written), read anywhere, close and reopen,
//! crash (drop without close) and reopen. Seeded and replayable:
//! `SHARDLOG_MODEL_SEED=N cargo test --test storage model` replays seed N.

use std::path::PathBuf;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardlog::batch::Batch;
use shardlog::config::{Durability, LogConfig, Preallocation, BATCH_BYTES_MAX};
use shardlog::storage::{DmaStorage, PartitionLog};

use crate::common::{batch, open, read_all, run, small_config, TempDir};

const SEEDS_DEFAULT: u64 = 10;
const OPS_PER_SEED: usize = 250;

#[test]
fn random_operations_match_the_model() {
    let seeds: Vec<u64> = match std::env::var("SHARDLOG_MODEL_SEED") {
        Ok(seed) => vec![seed.parse().expect("SHARDLOG_MODEL_SEED is a number")],
        Err(_) => (0..SEEDS_DEFAULT).collect(),
    };
    for seed in seeds {
        let dir = TempDir::new("model");
        let path = dir.path().to_path_buf();
        eprintln!("model seed {seed} (replay: SHARDLOG_MODEL_SEED={seed})");
        run(dir.path(), move || check_seed(seed, path));
    }
}

/// The model: every record's value, by offset.
type Model = Vec<Vec<u8>>;

async fn check_seed(seed: u64, path: PathBuf) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut model: Model = Vec::new();
    // Both preallocation modes, alternating by seed.
    let config = LogConfig {
        preallocation: if seed.is_multiple_of(2) {
            Preallocation::ZeroFill
        } else {
            Preallocation::Fallocate
        },
        ..small_config()
    };
    let mut log = open(DmaStorage, &path, config.clone()).await;
    let mut tag = 0u64;
    for step in 0..OPS_PER_SEED {
        let context = format!("seed {seed} step {step}");
        match rng.gen_range(0..100) {
            0..=44 => {
                tag += 1;
                let count = rng.gen_range(1..6);
                let size = rng.gen_range(0..700);
                let durability = if rng.gen_bool(0.8) {
                    Durability::Durable
                } else {
                    Durability::Written
                };
                append_and_record(&log, &mut model, tag, count, size, durability, &context).await;
            }
            45..=59 => {
                let n = rng.gen_range(2..12);
                let mut tasks = Vec::new();
                for _ in 0..n {
                    tag += 1;
                    let (log, count, t) = (log.clone(), rng.gen_range(1..4), tag);
                    tasks.push(glommio::spawn_local(async move {
                        let bytes = batch(t, count, 50);
                        let values = values_of(&bytes);
                        (
                            log.append(bytes, Durability::Durable)
                                .await
                                .expect("append"),
                            values,
                        )
                    }));
                }
                let mut results = Vec::new();
                for task in tasks {
                    results.push(task.await);
                }
                results.sort_by_key(|(base, _)| *base);
                for (base, values) in results {
                    assert_eq!(
                        base,
                        model.len() as u64,
                        "{context}: concurrent offsets dense"
                    );
                    model.extend(values);
                }
            }
            60..=84 => {
                // Written-mode appends become visible at the timer's fsync.
                if let Some(last) = (model.len() as u64).checked_sub(1) {
                    log.wait_for_data(last).await;
                }
                let from = if model.is_empty() {
                    0
                } else {
                    rng.gen_range(0..=model.len() as u64)
                };
                let max_bytes = rng.gen_range(1..20_000);
                check_read(&log, &model, from, max_bytes, &context).await;
            }
            85..=92 => {
                log.close().await.expect("close");
                log = open(DmaStorage, &path, config.clone()).await;
                assert_eq!(
                    log.latest_offset(),
                    model.len() as u64,
                    "{context}: after reopen"
                );
            }
            _ => {
                // Crash: every acknowledged append was written, so recovery
                // finds all of them (durable ones are guaranteed; written
                // ones were written before the answer).
                drop(log);
                log = open(DmaStorage, &path, config.clone()).await;
                assert_eq!(
                    log.latest_offset(),
                    model.len() as u64,
                    "{context}: after crash"
                );
            }
        }
    }
    let all = read_all(&log, 0, 1 << 20).await;
    let values: Model = all.into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, model, "seed {seed}: final contents");
    log.close().await.expect("close");
}

fn values_of(bytes: &bytes::BytesMut) -> Vec<Vec<u8>> {
    let batch = Batch::decode(bytes.clone().freeze(), BATCH_BYTES_MAX).expect("valid");
    batch.records().map(|r| r.value.to_vec()).collect()
}

async fn append_and_record(
    log: &PartitionLog<DmaStorage>,
    model: &mut Model,
    tag: u64,
    count: u32,
    size: usize,
    durability: Durability,
    context: &str,
) {
    let bytes = batch(tag, count, size);
    let values = values_of(&bytes);
    let base = log.append(bytes, durability).await.expect("append");
    assert_eq!(base, model.len() as u64, "{context}: offsets dense");
    model.extend(values);
}

async fn check_read(
    log: &PartitionLog<DmaStorage>,
    model: &Model,
    from: u64,
    max_bytes: usize,
    context: &str,
) {
    let read = log.read(from, max_bytes).await.expect("read");
    if from == model.len() as u64 {
        assert!(
            read.batches.is_empty(),
            "{context}: read at the end is empty"
        );
        return;
    }
    assert!(
        !read.batches.is_empty(),
        "{context}: read below the end returns data"
    );
    let mut expected_offset = None;
    let mut total = 0;
    for (i, bytes) in read.batches.iter().enumerate() {
        total += bytes.len();
        assert!(
            i == 0 || total <= max_bytes,
            "{context}: max_bytes honoured past the first batch"
        );
        let batch = Batch::decode(bytes.clone(), BATCH_BYTES_MAX).expect("valid batch");
        if i == 0 {
            assert!(
                batch.header.base_offset <= from && from <= batch.header.last_offset(),
                "{context}: first batch holds the offset"
            );
        }
        for record in batch.records() {
            if let Some(expected) = expected_offset {
                assert_eq!(record.offset, expected, "{context}: contiguous");
            }
            expected_offset = Some(record.offset + 1);
            assert_eq!(
                record.value.as_ref(),
                model[record.offset as usize].as_slice(),
                "{context}: value at {}",
                record.offset
            );
        }
    }
}
