//! Helpers shared by the storage tests.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use glommio::{LocalExecutorBuilder, Placement};
use shardlog::batch::builder::NewRecord;
use shardlog::batch::{Batch, BatchBuilder, TimestampType};
use shardlog::config::{LogConfig, ShardStorageConfig, BATCH_BYTES_MAX};
use shardlog::storage::{prime_executor_io, PartitionLog, ReadBatches, Storage, TailCache};

/// A directory under `<repo>/tmp/tests`, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tmp/tests")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `body` on a fresh inline executor with small io_memory, after the
/// glommio I/O probe workaround.
pub fn run<F, Fut>(dir: &Path, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let probe_dir = dir.to_path_buf();
    LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(512 << 10)
        .make()
        .expect("executor")
        .run(async move {
            prime_executor_io(&probe_dir).await.expect("prime io");
            body().await
        });
}

/// A small log config that rolls often, so tests cross segments.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 16 << 10,
        index_interval_bytes: 512,
        preallocate_bytes: 8 << 10,
        batch_bytes_max: 8 << 10,
        write_bytes_max: 32 << 10,
        flush_interval_ms: 5,
        ..LogConfig::default()
    }
}

pub async fn open<S: Storage>(storage: S, dir: &Path, config: LogConfig) -> PartitionLog<S> {
    let shard = ShardStorageConfig {
        tail_cache_bytes: 0,
        read_chunk_bytes: 8 << 10,
    };
    PartitionLog::open(storage, dir, config, &shard, TailCache::shared(0))
        .await
        .expect("open log")
}

/// A batch of `count` records whose values name `tag` and the record index.
pub fn batch(tag: u64, count: u32, value_bytes: usize) -> BytesMut {
    let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
    for i in 0..count {
        let mut value = format!("{tag}:{i}:").into_bytes();
        value.resize(value_bytes.max(value.len()), b'x');
        let key = format!("k{tag}");
        builder
            .append(&NewRecord {
                key: Some(key.as_bytes()),
                value: &value,
                headers: &[("tag", &tag.to_le_bytes())],
                timestamp_ms: 1_700_000_000_000 + tag as i64,
            })
            .expect("record fits");
    }
    builder.finish().expect("non-empty")
}

/// Every visible record from `from` to the high watermark, as (offset,
/// value), read in steps of `max_bytes`.
pub async fn read_all<S: Storage>(
    log: &PartitionLog<S>,
    from: u64,
    max_bytes: usize,
) -> Vec<(u64, Vec<u8>)> {
    let mut records = Vec::new();
    let mut offset = from;
    loop {
        let ReadBatches {
            batches,
            high_watermark,
            ..
        } = log.read(offset, max_bytes).await.expect("read");
        if batches.is_empty() {
            assert_eq!(
                offset, high_watermark,
                "empty read below the high watermark"
            );
            return records;
        }
        for bytes in batches {
            let batch = Batch::decode(bytes, BATCH_BYTES_MAX).expect("valid batch");
            for record in batch.records() {
                if record.offset >= offset {
                    assert_eq!(record.offset, offset, "offsets are dense");
                    records.push((record.offset, record.value.to_vec()));
                    offset += 1;
                }
            }
        }
    }
}
