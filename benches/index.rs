//! Index lookups: the offset index (position of a batch for an offset) and
//! the time index (start offset for a timestamp) of a full 1 GiB segment
//! indexed every 4 KiB (262,144 entries), at random targets.
//!
//! `cargo bench --bench index`; each case reports lookups per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use shardlog::batch::BatchHeader;
use shardlog::storage::index::SegmentIndex;

const SEGMENT_BYTES: u64 = 1 << 30;
const BATCH_BYTES: u32 = 4096;
const RECORDS_PER_BATCH: u32 = 4;
const INDEX_INTERVAL_BYTES: u32 = 4096;
const LOOKUPS: u64 = 1024;

fn full_segment_index() -> SegmentIndex {
    let mut index = SegmentIndex::new(0);
    let batches = SEGMENT_BYTES / u64::from(BATCH_BYTES);
    for i in 0..batches {
        let header = BatchHeader {
            base_offset: i * u64::from(RECORDS_PER_BATCH),
            batch_length: BATCH_BYTES,
            crc: 0,
            format_version: 1,
            attributes: 0,
            record_count: RECORDS_PER_BATCH,
            first_timestamp_ms: i as i64,
            max_timestamp_ms: i as i64,
            producer: None,
        };
        index.on_batch(&header, i * u64::from(BATCH_BYTES), INDEX_INTERVAL_BYTES);
    }
    index
}

fn lookups(c: &mut Criterion) {
    let index = full_segment_index();
    let last_offset = SEGMENT_BYTES / u64::from(BATCH_BYTES) * u64::from(RECORDS_PER_BATCH);
    let mut rng = SmallRng::seed_from_u64(42);
    let offsets: Vec<u64> = (0..LOOKUPS)
        .map(|_| rng.gen_range(0..last_offset))
        .collect();
    let timestamps: Vec<i64> = (0..LOOKUPS)
        .map(|_| rng.gen_range(0..last_offset as i64 / 4))
        .collect();

    let mut group = c.benchmark_group("index");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .throughput(Throughput::Elements(LOOKUPS));
    group.bench_function(
        format!("position_for/{}_entries", index.entry_count()),
        |b| {
            b.iter(|| {
                for &offset in &offsets {
                    black_box(index.position_for(black_box(offset)));
                }
            })
        },
    );
    group.bench_function("offset_for_timestamp", |b| {
        b.iter(|| {
            for &ts in &timestamps {
                black_box(index.offset_for_timestamp(black_box(ts)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
