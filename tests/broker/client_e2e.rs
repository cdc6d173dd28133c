//! The Rust client against a real broker.

use std::collections::HashMap;

use shardlog::client::{
    Admin, ConnectionConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
    StartFrom, TopicSettings,
};
use shardlog::error::ErrorCode;

use crate::common::{Broker, DataDir};

const RECORDS: u64 = 100_000;
const KEYS: u64 = 500;
const PARTITIONS: u32 = 8;

#[test]
fn hundred_thousand_keyed_records_come_back_once_each_in_key_order() {
    let dir = DataDir::new("client-100k");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    admin
        .create_topic(
            "keyed",
            TopicSettings {
                partitions: PARTITIONS,
                retention_ms: None,
                retention_bytes: None,
                segment_bytes: None,
            },
        )
        .unwrap();

    let mut producer = Producer::new(ProducerConfig {
        bootstrap: bootstrap.clone(),
        ..ProducerConfig::default()
    })
    .unwrap();
    for i in 0..RECORDS {
        let key = format!("key-{}", i % KEYS);
        // The value carries the record's sequence number within its key.
        let value = format!("{}", i / KEYS);
        producer
            .send("keyed", ProducerRecord::new(value).key(key))
            .unwrap();
    }
    let deliveries = producer.flush();
    let failed: Vec<_> = deliveries.iter().filter(|d| d.result.is_err()).collect();
    assert!(failed.is_empty(), "every batch acknowledged: {failed:?}");
    let acknowledged: u64 = deliveries.iter().map(|d| u64::from(d.record_count)).sum();
    assert_eq!(acknowledged, RECORDS);

    let mut consumer = Consumer::new(ConsumerConfig {
        bootstrap,
        max_wait_ms: 100,
        ..ConsumerConfig::default()
    })
    .unwrap();
    consumer.assign_all("keyed", StartFrom::Earliest).unwrap();
    let mut next_sequence: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut key_partition: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut consumed = 0u64;
    let mut idle_polls = 0;
    while consumed < RECORDS && idle_polls < 50 {
        let records = consumer.poll().unwrap();
        idle_polls = if records.is_empty() {
            idle_polls + 1
        } else {
            0
        };
        for record in records {
            let key = record.key.clone().unwrap().to_vec();
            let sequence: u64 = std::str::from_utf8(&record.value).unwrap().parse().unwrap();
            let expected = next_sequence.entry(key.clone()).or_insert(0);
            assert_eq!(sequence, *expected, "per-key order, each record once");
            *expected += 1;
            let partition = *key_partition.entry(key).or_insert(record.partition);
            assert_eq!(partition, record.partition, "one key, one partition");
            consumed += 1;
        }
    }
    assert_eq!(consumed, RECORDS, "every record consumed exactly once");
    assert_eq!(next_sequence.len() as u64, KEYS);
    assert!(next_sequence.values().all(|&n| n == RECORDS / KEYS));
    // Keys spread over the partitions.
    let used: std::collections::BTreeSet<u32> = key_partition.values().copied().collect();
    assert_eq!(used.len() as u32, PARTITIONS);
}

#[test]
fn client_errors_carry_the_broker_code() {
    let dir = DataDir::new("client-errors");
    let broker = Broker::start(&dir.0);
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let err = admin.describe_topic("missing").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownTopic));
    assert!(
        err.to_string().contains("missing"),
        "readable message: {err}"
    );
}
