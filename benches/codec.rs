//! Throughput of the record-batch codec on the paths every produce and
//! fetch takes: encode (producer), validate (broker, before the write and
//! after the read), decode and iterate (consumer), and the bare CRC that
//! bounds validation from above.
//!
//! `cargo bench --bench codec`; each case reports bytes of batch per second.
//! Short measurement times keep the whole run under a minute.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

use shardlog::batch::builder::NewRecord;
use shardlog::batch::{validate, Batch, BatchBuilder, TimestampType};
use shardlog::config::BATCH_BYTES_MAX;

const VALUE_BYTES: usize = 1024;
const RECORD_COUNTS: [usize; 2] = [16, 256];
const CRC_INPUT_BYTES: usize = 1 << 20;

/// Keys and values of `count` records of 1 KiB each.
fn records(count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let key = format!("key-{i:08}").into_bytes();
            let value = (0..VALUE_BYTES).map(|j| (i * 31 + j) as u8).collect();
            (key, value)
        })
        .collect()
}

fn encode(records: &[(Vec<u8>, Vec<u8>)]) -> Bytes {
    let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
    for (i, (key, value)) in records.iter().enumerate() {
        builder
            .append(&NewRecord {
                key: Some(key),
                value,
                headers: &[],
                timestamp_ms: 1_700_000_000_000 + i as i64,
            })
            .expect("record fits");
    }
    builder.finish().expect("not empty").freeze()
}

fn configure<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    group
}

fn bench_encode(c: &mut Criterion) {
    let mut group = configure(c, "encode");
    for count in RECORD_COUNTS {
        let records = records(count);
        group.throughput(Throughput::Bytes(encode(&records).len() as u64));
        group.bench_function(BenchmarkId::new("1KiB_records", count), |b| {
            b.iter(|| encode(black_box(&records)))
        });
    }
    group.finish();
}

fn bench_validate(c: &mut Criterion) {
    let mut group = configure(c, "validate");
    for count in RECORD_COUNTS {
        let batch = encode(&records(count));
        group.throughput(Throughput::Bytes(batch.len() as u64));
        group.bench_function(BenchmarkId::new("1KiB_records", count), |b| {
            b.iter(|| validate(black_box(&batch), BATCH_BYTES_MAX).expect("valid"))
        });
    }
    group.finish();
}

fn bench_decode_iterate(c: &mut Criterion) {
    let mut group = configure(c, "decode_iterate");
    for count in RECORD_COUNTS {
        let batch = encode(&records(count));
        group.throughput(Throughput::Bytes(batch.len() as u64));
        group.bench_function(BenchmarkId::new("1KiB_records", count), |b| {
            b.iter(|| {
                let batch =
                    Batch::decode(black_box(batch.clone()), BATCH_BYTES_MAX).expect("valid");
                let mut value_bytes = 0;
                for record in batch.records() {
                    value_bytes += black_box(&record.value).len();
                }
                value_bytes
            })
        });
    }
    group.finish();
}

fn bench_crc(c: &mut Criterion) {
    let mut group = configure(c, "crc32fast");
    let input: Vec<u8> = (0..CRC_INPUT_BYTES).map(|i| (i * 7) as u8).collect();
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("1MiB", |b| b.iter(|| crc32fast::hash(black_box(&input))));
    group.finish();
}

criterion_group!(
    benches,
    bench_encode,
    bench_validate,
    bench_decode_iterate,
    bench_crc
);
criterion_main!(benches);
