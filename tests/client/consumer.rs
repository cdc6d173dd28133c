//! The consumer against the fake broker: starting points, skipping inside
//! the first batch, positions, errors.

use shardlog::client::{
    ConsumedRecord, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord, StartFrom,
};
use shardlog::error::ErrorCode;

use super::fake_broker::{FakeBroker, Reply};

/// A fake broker with topic "t" (partition 0 on core 0, partition 1 on
/// core 1) holding `per_partition` records in each partition, one batch
/// per partition, valued "p{partition}-{offset}".
fn broker_with_records(per_partition: u32) -> FakeBroker {
    let broker = FakeBroker::start(
        2,
        &[],
        vec![("t".to_string(), vec![0, 1])],
        Box::new(|_, _| Reply::Normal),
    );
    let mut producer = Producer::new(ProducerConfig {
        bootstrap: broker.addrs[0].clone(),
        linger_ms: 60_000,
        ..ProducerConfig::default()
    })
    .unwrap();
    for partition in 0..2 {
        for offset in 0..per_partition {
            let record = ProducerRecord::new(format!("p{partition}-{offset}"))
                .key(format!("k{offset}"))
                .header("h", "x")
                .timestamp_ms(1_000 + i64::from(offset))
                .partition(partition);
            producer.send("t", record).unwrap();
        }
    }
    assert!(producer.flush().iter().all(|d| d.result.is_ok()));
    broker
}

fn consumer(broker: &FakeBroker) -> Consumer {
    Consumer::new(ConsumerConfig {
        bootstrap: broker.addrs[0].clone(),
        max_wait_ms: 10,
        ..ConsumerConfig::default()
    })
    .unwrap()
}

fn values(records: &[ConsumedRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
        .collect()
}

#[test]
fn reads_every_partition_from_the_earliest() {
    let broker = broker_with_records(20);
    let mut consumer = consumer(&broker);
    consumer.assign_all("t", StartFrom::Earliest).unwrap();
    let records = consumer.poll().unwrap();
    assert_eq!(records.len(), 40);
    for partition in 0..2u32 {
        let mine: Vec<_> = records
            .iter()
            .filter(|r| r.partition == partition)
            .collect();
        let offsets: Vec<u64> = mine.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..20).collect::<Vec<u64>>());
        let first = mine[0];
        assert_eq!(first.value, format!("p{partition}-0").as_bytes());
        assert_eq!(first.key.as_deref(), Some(&b"k0"[..]));
        assert_eq!(first.timestamp_ms, 1_000);
        assert_eq!(first.headers[0].name, "h");
        assert_eq!(consumer.position("t", partition), Some(20));
        assert_eq!(consumer.high_watermark("t", partition), Some(20));
    }
    assert!(consumer.poll().unwrap().is_empty(), "caught up");
    let state = broker.state.lock().unwrap();
    let fetch = shardlog::protocol::ApiKey::Fetch as u16;
    assert!(
        state.requests_on[1].contains(&fetch),
        "partition 1 fetched from core 1"
    );
}

#[test]
fn starting_inside_a_batch_skips_its_earlier_records() {
    let broker = broker_with_records(10);
    let mut consumer = consumer(&broker);
    assert_eq!(consumer.assign("t", 1, StartFrom::Offset(4)).unwrap(), 4);
    let records = consumer.poll().unwrap();
    assert_eq!(
        values(&records),
        (4..10).map(|o| format!("p1-{o}")).collect::<Vec<_>>()
    );
    assert_eq!(records[0].offset, 4);
}

#[test]
fn latest_starts_after_the_newest_record() {
    let broker = broker_with_records(5);
    let mut consumer = consumer(&broker);
    assert_eq!(consumer.assign("t", 0, StartFrom::Latest).unwrap(), 5);
    assert!(consumer.poll().unwrap().is_empty());
    assert_eq!(consumer.position("t", 0), Some(5));
}

#[test]
fn the_iterator_yields_records_across_fetches() {
    let broker = broker_with_records(7);
    let mut consumer = consumer(&broker);
    consumer.assign("t", 0, StartFrom::Earliest).unwrap();
    let first: Vec<u64> = consumer
        .records()
        .take(3)
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(first, [0, 1, 2]);
    assert_eq!(
        consumer.position("t", 0),
        Some(3),
        "buffered records are not consumed"
    );
    consumer.seek("t", 0, 6);
    let next = consumer.records().next().unwrap().unwrap();
    assert_eq!(next.offset, 6);
}

#[test]
fn a_position_past_the_end_is_offset_out_of_range() {
    let broker = broker_with_records(3);
    let mut consumer = consumer(&broker);
    consumer.seek("t", 0, 100);
    let err = consumer.poll().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::OffsetOutOfRange), "{err}");
    assert!(err.to_string().contains("t/0"), "{err}");
    assert_eq!(consumer.position("t", 0), Some(100), "no position moved");
}

#[test]
fn unknown_topics_and_partitions_are_refused() {
    let broker = broker_with_records(1);
    let mut consumer = consumer(&broker);
    let err = consumer
        .assign_all("nope", StartFrom::Earliest)
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownTopic));
    let err = consumer.assign("t", 2, StartFrom::Earliest).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownPartition));
}
