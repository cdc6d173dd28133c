//! The Kafka front door's record conversion, beside the native path it
//! adds to: a produced RecordBatch v2 to native batches (CRC-32C, decode,
//! re-encode) against validating a native batch of the same records, and
//! stored batches served as RecordBatch v2 on fetch. One record (the
//! one-record-per-request workload) and 256 (a batched produce), 1 KiB
//! values.
//!
//! `cargo bench --bench kafka_records`; each case reports bytes per second.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use shardlog::batch::validate;
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::kafka::records::{to_kafka, to_native};

const VALUE_BYTES: usize = 1024;
const RECORD_COUNTS: [usize; 2] = [1, 256];

/// A client's batch of `count` keyed 1 KiB records.
fn kafka_batch(count: usize) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i:08}"))),
            value: Some(Bytes::from(vec![(i % 251) as u8; VALUE_BYTES])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encodes");
    buf.freeze()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("kafka_records");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for count in RECORD_COUNTS {
        let kafka = kafka_batch(count);
        let native = to_native(kafka.clone(), BATCH_BYTES_MAX)
            .expect("converts")
            .remove(0)
            .freeze();
        group.throughput(Throughput::Bytes(kafka.len() as u64));
        group.bench_function(BenchmarkId::new("produce_to_native", count), |b| {
            b.iter(|| to_native(black_box(kafka.clone()), BATCH_BYTES_MAX).expect("converts"))
        });
        group.bench_function(BenchmarkId::new("native_validate", count), |b| {
            b.iter(|| validate(black_box(&native), BATCH_BYTES_MAX).expect("valid"))
        });
        group.bench_function(BenchmarkId::new("fetch_to_kafka", count), |b| {
            let chunks = [native.clone()];
            b.iter(|| {
                let mut out = BytesMut::new();
                to_kafka(black_box(&chunks), BATCH_BYTES_MAX, &mut out).expect("converts");
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
