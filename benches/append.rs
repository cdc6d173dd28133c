//! Storage append benchmark: durable appends of 1 KiB records on the real
//! disk, as commits/s, MB/s and commit latency percentiles.
//!
//! - sequential: one appender, 1 / 16 / 256 records per batch, so each
//!   append is its own commit (one DMA write + one fdatasync);
//! - group commit: 64 concurrent appenders of one record each, so commits
//!   coalesce (records/s is the figure of interest).
//!
//! Each case runs under both preallocation modes, beside two baselines
//! measured in the same run at the same write sizes: glommio's `DmaFile`
//! (write + fdatasync, the floor for an engine on glommio) and plain
//! blocking `pwrite` + `fdatasync` on an O_DIRECT file (the floor without
//! io_uring's reactor). Run with
//! `cargo bench --bench append`; `SHARDLOG_BENCH_SECS` sets the seconds per
//! case (default 3). Data goes under `<repo>/tmp/bench-append`.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::{LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;
use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, TimestampType};
use shardlog::config::{Durability, LogConfig, Preallocation, ShardStorageConfig, BATCH_BYTES_MAX};
use shardlog::storage::{prime_executor_io, DmaStorage, PartitionLog, TailCache};

const RECORD_BYTES: usize = 1024;
const CONCURRENT_APPENDERS: usize = 64;

fn batch_of(records: usize) -> BytesMut {
    let value = vec![0x5Au8; RECORD_BYTES];
    let mut builder = BatchBuilder::new(TimestampType::LogAppend, BATCH_BYTES_MAX);
    for _ in 0..records {
        builder
            .append(&NewRecord {
                key: None,
                value: &value,
                headers: &[],
                timestamp_ms: 0,
            })
            .expect("fits");
    }
    builder.finish().expect("non-empty")
}

struct Outcome {
    commits: u64,
    records: u64,
    bytes: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

/// Write + fdatasync of `write_bytes` (page-aligned) at sequential
/// positions of an already written file, through glommio or through
/// blocking syscalls on the same aligned buffer.
async fn raw_commits(dir: &Path, write_bytes: usize, blocking: bool, run_for: Duration) -> Outcome {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join("raw");
    let file_bytes: usize = 256 << 20;
    std::fs::write(&path, vec![1u8; file_bytes]).expect("fill");
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .expect("sync");
    let dma = glommio::io::OpenOptions::new()
        .read(true)
        .write(true)
        .dma_open(&path)
        .await
        .expect("open");
    let std_file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc_o_direct())
        .open(&path)
        .expect("open O_DIRECT");
    let mut latency_us = Histogram::new(3).expect("histogram");
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < run_for {
        let position =
            (commits * write_bytes as u64) % (file_bytes - write_bytes) as u64 / 4096 * 4096;
        let buf = dma.alloc_dma_buffer(write_bytes);
        let t = Instant::now();
        if blocking {
            std_file
                .write_all_at(buf.as_bytes(), position)
                .expect("pwrite");
            std_file.sync_data().expect("fdatasync");
        } else {
            dma.write_at(buf, position).await.expect("write");
            dma.fdatasync().await.expect("fdatasync");
        }
        latency_us.saturating_record(t.elapsed().as_micros() as u64);
        commits += 1;
    }
    let elapsed = start.elapsed();
    dma.close().await.expect("close");
    let _ = std::fs::remove_file(&path);
    Outcome {
        commits,
        records: 0,
        bytes: commits * write_bytes as u64,
        elapsed,
        latency_us,
    }
}

/// O_DIRECT, as Linux defines it on x86_64 and aarch64 differ: use the
/// value of this build's target.
fn libc_o_direct() -> i32 {
    if cfg!(target_arch = "aarch64") {
        0o200000
    } else {
        0o40000
    }
}

async fn open_log(dir: &Path, preallocation: Preallocation) -> PartitionLog<DmaStorage> {
    let config = LogConfig {
        preallocation,
        batch_bytes_max: 1 << 20,
        ..LogConfig::default()
    };
    let shard = ShardStorageConfig::default();
    PartitionLog::open(
        DmaStorage,
        dir,
        config,
        &shard,
        TailCache::shared(shard.tail_cache_bytes),
    )
    .await
    .expect("open")
}

async fn sequential(
    dir: &Path,
    preallocation: Preallocation,
    records: usize,
    run_for: Duration,
) -> Outcome {
    let log = open_log(dir, preallocation).await;
    let template = batch_of(records);
    let mut latency_us = Histogram::new(3).expect("histogram");
    let start = Instant::now();
    let mut commits = 0;
    while start.elapsed() < run_for {
        let t = Instant::now();
        log.append(template.clone(), Durability::Durable)
            .await
            .expect("append");
        latency_us.saturating_record(t.elapsed().as_micros() as u64);
        commits += 1;
    }
    let elapsed = start.elapsed();
    log.close().await.expect("close");
    Outcome {
        commits,
        records: commits * records as u64,
        bytes: commits * template.len() as u64,
        elapsed,
        latency_us,
    }
}

async fn concurrent(dir: &Path, preallocation: Preallocation, run_for: Duration) -> Outcome {
    let log = open_log(dir, preallocation).await;
    let template = batch_of(1);
    let start = Instant::now();
    let histogram = Rc::new(std::cell::RefCell::new(
        Histogram::<u64>::new(3).expect("histogram"),
    ));
    let tasks: Vec<_> = (0..CONCURRENT_APPENDERS)
        .map(|_| {
            let (log, template, histogram) = (log.clone(), template.clone(), histogram.clone());
            glommio::spawn_local(async move {
                let mut appends = 0u64;
                while start.elapsed() < run_for {
                    let t = Instant::now();
                    log.append(template.clone(), Durability::Durable)
                        .await
                        .expect("append");
                    histogram
                        .borrow_mut()
                        .saturating_record(t.elapsed().as_micros() as u64);
                    appends += 1;
                }
                appends
            })
        })
        .collect();
    let mut records = 0;
    for task in tasks {
        records += task.await;
    }
    let elapsed = start.elapsed();
    log.close().await.expect("close");
    let latency_us = histogram.borrow().clone();
    Outcome {
        commits: records,
        records,
        bytes: records * template.len() as u64,
        elapsed,
        latency_us,
    }
}

fn report(case: &str, how: &str, o: &Outcome) {
    let secs = o.elapsed.as_secs_f64();
    println!(
        "| {case} | {how} | {:.0} | {:.0} | {:.1} | {} | {} | {} |",
        o.commits as f64 / secs,
        o.records as f64 / secs,
        o.bytes as f64 / secs / 1e6,
        o.latency_us.value_at_quantile(0.50),
        o.latency_us.value_at_quantile(0.99),
        o.latency_us.value_at_quantile(0.9999),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let seconds: u64 = std::env::var("SHARDLOG_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tmp/bench-append");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("bench dir");
    let run_for = Duration::from_secs(seconds);
    let root_in = root.clone();
    LocalExecutorBuilder::new(Placement::Fixed(0))
        .make()
        .expect("executor")
        .run(async move {
            prime_executor_io(&root_in).await.expect("prime");
            println!("| case | how | commits/s | records/s | MB/s | p50 µs | p99 µs | p99.99 µs |");
            println!("|---|---|---:|---:|---:|---:|---:|---:|");
            let mut n = 0;
            let mut next_dir = || {
                n += 1;
                root_in.join(format!("case-{n}"))
            };
            for records in [1, 16, 256] {
                let case = format!("{records} × 1 KiB per commit");
                // The engine rewrites the partial tail page with each commit,
                // so its writes are the batch rounded up to pages, plus one.
                let write_bytes = batch_of(records).len().div_ceil(4096) * 4096 + 4096;
                for (how, blocking) in [
                    ("baseline: DmaFile write+fdatasync", false),
                    ("baseline: pwrite+fdatasync", true),
                ] {
                    let dir = next_dir();
                    let outcome = raw_commits(&dir, write_bytes, blocking, run_for).await;
                    report(
                        &format!("{case} ({} KiB writes)", write_bytes / 1024),
                        how,
                        &outcome,
                    );
                    let _ = std::fs::remove_dir_all(&dir);
                }
                for preallocation in [Preallocation::ZeroFill, Preallocation::Fallocate] {
                    let dir = next_dir();
                    let outcome = sequential(&dir, preallocation, records, run_for).await;
                    report(&case, &format!("PartitionLog, {preallocation:?}"), &outcome);
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            for preallocation in [Preallocation::ZeroFill, Preallocation::Fallocate] {
                let dir = next_dir();
                let outcome = concurrent(&dir, preallocation, run_for).await;
                let case = format!("{CONCURRENT_APPENDERS} appenders × 1 × 1 KiB");
                report(&case, &format!("PartitionLog, {preallocation:?}"), &outcome);
                let _ = std::fs::remove_dir_all(&dir);
            }
        });
    let _ = std::fs::remove_dir_all(&root);
}
