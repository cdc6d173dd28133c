//! The producer against the fake broker: routing to owner cores, batching,
//! retries in order, reconnects, fallback to the bootstrap address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shardlog::client::partitioner::partition_for_key;
use shardlog::client::{Acks, ClientError, Producer, ProducerConfig, ProducerRecord};
use shardlog::error::ErrorCode;
use shardlog::protocol::Request;

use super::fake_broker::{closed_port, FakeBroker, Policy, Reply};

fn config(bootstrap: &str) -> ProducerConfig {
    ProducerConfig {
        bootstrap: bootstrap.to_string(),
        linger_ms: 1_000,
        retry_backoff_ms: 5,
        ..ProducerConfig::default()
    }
}

fn topics(owners: &[u16]) -> Vec<(String, Vec<u16>)> {
    vec![("t".to_string(), owners.to_vec())]
}

/// A policy that answers the first `n` produce requests with `reply` and
/// every other request normally.
fn first_produces(n: usize, reply: fn() -> Reply) -> Policy {
    let seen = Arc::new(AtomicUsize::new(0));
    Box::new(move |_, request| match request {
        Request::Produce(_) if seen.fetch_add(1, Ordering::SeqCst) < n => reply(),
        _ => Reply::Normal,
    })
}

#[test]
fn keyed_records_reach_their_partition_through_the_owner_core() {
    let broker = FakeBroker::start(
        2,
        &[],
        topics(&[0, 1, 0, 1]),
        Box::new(|_, _| Reply::Normal),
    );
    let mut producer = Producer::new(config(&broker.addrs[0])).unwrap();
    let mut expected: Vec<Vec<String>> = vec![Vec::new(); 4];
    for i in 0..200 {
        let key = format!("key-{}", i % 17);
        let value = format!("value-{i}");
        expected[partition_for_key(key.as_bytes(), 4) as usize].push(value.clone());
        producer
            .send("t", ProducerRecord::new(value).key(key))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    let acknowledged: u32 = deliveries.iter().map(|d| d.record_count).sum();
    assert_eq!(acknowledged, 200);
    for (partition, values) in expected.iter().enumerate() {
        assert_eq!(
            &broker.values("t", partition as u32),
            values,
            "partition {partition}"
        );
    }
    let state = broker.state.lock().unwrap();
    assert!(
        state.produced_on[0].iter().all(|(_, p)| p % 2 == 0),
        "core 0 owns 0 and 2"
    );
    assert!(
        state.produced_on[1].iter().all(|(_, p)| p % 2 == 1),
        "core 1 owns 1 and 3"
    );
    assert!(!state.produced_on[1].is_empty());
    // With a long linger and one flush, each partition got one batch.
    assert_eq!(deliveries.len(), 4);
    let mut offsets: Vec<_> = deliveries.iter().map(|d| d.offsets().unwrap().0).collect();
    offsets.dedup();
    assert_eq!(offsets, vec![0]);
}

#[test]
fn keyless_records_fill_one_partition_at_a_time() {
    let broker = FakeBroker::start(1, &[], topics(&[0, 0, 0]), Box::new(|_, _| Reply::Normal));
    let mut producer = Producer::new(ProducerConfig {
        batch_bytes_max: 1024,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for i in 0..60 {
        producer
            .send("t", ProducerRecord::new(format!("{i:0>40}")))
            .unwrap();
    }
    let deliveries = producer.flush();
    // Each full batch moves the keyless records on to the next partition.
    let partitions: Vec<u32> = deliveries.iter().map(|d| d.partition).collect();
    assert!(partitions.len() > 3, "{partitions:?}");
    let total: usize = (0..3).map(|p| broker.values("t", p).len()).sum();
    assert_eq!(total, 60);
    for p in 0..3 {
        assert!(
            !broker.values("t", p).is_empty(),
            "partition {p} got records"
        );
    }
}

#[test]
fn retriable_errors_are_retried_and_order_is_kept() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(3, || Reply::PartitionError(ErrorCode::StorageFull)),
    );
    let mut producer = Producer::new(ProducerConfig {
        batch_bytes_max: 256,
        linger_ms: 0,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    let values: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
    for value in &values {
        producer
            .send("t", ProducerRecord::new(value.clone()))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    assert_eq!(broker.values("t", 0), values, "no gap, no reordering");
    let mut next = 0;
    for d in &deliveries {
        let (first, last) = d.offsets().unwrap();
        assert_eq!(first, next, "deliveries come in offset order");
        next = last + 1;
    }
}

#[test]
fn a_dropped_connection_is_reopened_and_the_batch_sent_again() {
    let broker = FakeBroker::start(1, &[], topics(&[0, 0]), first_produces(1, || Reply::Close));
    let mut producer = Producer::new(config(&broker.addrs[0])).unwrap();
    for i in 0..10 {
        producer
            .send("t", ProducerRecord::new(format!("v{i}")).partition(i % 2))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    assert_eq!(broker.values("t", 0), ["v0", "v2", "v4", "v6", "v8"]);
    assert_eq!(broker.values("t", 1), ["v1", "v3", "v5", "v7", "v9"]);
}

#[test]
fn errors_that_are_not_retriable_fail_the_delivery_at_once() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(usize::MAX, || {
            Reply::PartitionError(ErrorCode::CorruptBatch)
        }),
    );
    let mut producer = Producer::new(config(&broker.addrs[0])).unwrap();
    producer.send("t", ProducerRecord::new("x")).unwrap();
    let deliveries = producer.flush();
    assert_eq!(deliveries.len(), 1);
    let err = deliveries[0].result.as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::CorruptBatch));
    let produces = broker.state.lock().unwrap().requests_on[0]
        .iter()
        .filter(|&&k| k == shardlog::protocol::ApiKey::Produce as u16)
        .count();
    assert_eq!(produces, 1, "not retried");
}

#[test]
fn retries_run_out() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(usize::MAX, || {
            Reply::Error(ErrorCode::ShuttingDown, "bye".into())
        }),
    );
    let mut producer = Producer::new(ProducerConfig {
        retries: 2,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    producer.send("t", ProducerRecord::new("x")).unwrap();
    let deliveries = producer.flush();
    let err = deliveries[0].result.as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ShuttingDown));
    let produces = broker.state.lock().unwrap().requests_on[0]
        .iter()
        .filter(|&&k| k == shardlog::protocol::ApiKey::Produce as u16)
        .count();
    assert_eq!(produces, 3, "the first send and two retries");
}

#[test]
fn an_unreachable_core_port_falls_back_to_the_bootstrap_address() {
    let broker = FakeBroker::start(
        1,
        &[(1, closed_port())],
        topics(&[1]),
        Box::new(|_, _| Reply::Normal),
    );
    let mut producer = Producer::new(config(&broker.addrs[0])).unwrap();
    producer.send("t", ProducerRecord::new("x")).unwrap();
    let deliveries = producer.flush();
    assert!(deliveries[0].result.is_ok(), "{deliveries:?}");
    assert_eq!(broker.values("t", 0), ["x"]);
}

#[test]
fn acks_none_delivers_without_offsets() {
    let broker = FakeBroker::start(1, &[], topics(&[0]), Box::new(|_, _| Reply::Normal));
    let mut producer = Producer::new(ProducerConfig {
        acks: Acks::None,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    producer.send("t", ProducerRecord::new("x")).unwrap();
    let deliveries = producer.flush();
    assert!(matches!(deliveries[0].result, Ok(None)), "{deliveries:?}");
    assert_eq!(deliveries[0].offsets(), None);
    assert_eq!(broker.values("t", 0), ["x"]);
}

#[test]
fn refusals_before_sending_are_immediate() {
    let broker = FakeBroker::start(1, &[], topics(&[0]), Box::new(|_, _| Reply::Normal));
    let mut producer = Producer::new(ProducerConfig {
        batch_bytes_max: 128,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    let err = producer.send("nope", ProducerRecord::new("x")).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownTopic), "{err}");
    let err = producer
        .send("t", ProducerRecord::new("x").partition(1))
        .unwrap_err();
    assert!(matches!(err, ClientError::Invalid(_)), "{err}");
    let err = producer
        .send("t", ProducerRecord::new(vec![0u8; 500]))
        .unwrap_err();
    assert!(err.to_string().contains("can never fit"), "{err}");
    assert!(producer.flush().is_empty());

    let port = closed_port();
    let mut producer = Producer::new(config(&format!("127.0.0.1:{port}"))).unwrap();
    let err = producer.send("t", ProducerRecord::new("x")).unwrap_err();
    assert!(matches!(err, ClientError::Connection { .. }), "{err}");
}

#[test]
fn metadata_refreshes_do_not_wait_behind_pipelined_produces() {
    // Partition 0's core port is closed, so its produces are pipelined on
    // the bootstrap connection; core 1 drops its first produce, which makes
    // the producer refresh metadata while the bootstrap connection may have
    // produces in flight.
    let dropped = Arc::new(AtomicUsize::new(0));
    let broker = FakeBroker::start(
        2,
        &[(2, closed_port())],
        topics(&[2, 1]),
        Box::new(move |listener, request| match request {
            Request::Produce(_) if listener == 1 && dropped.fetch_add(1, Ordering::SeqCst) == 0 => {
                Reply::Close
            }
            _ => Reply::Normal,
        }),
    );
    let mut producer = Producer::new(ProducerConfig {
        linger_ms: 0,
        batch_bytes_max: 128,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for i in 0..200 {
        producer
            .send("t", ProducerRecord::new(format!("v{i}")).partition(i % 2))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    let even: Vec<String> = (0..200).step_by(2).map(|i| format!("v{i}")).collect();
    let odd: Vec<String> = (1..200).step_by(2).map(|i| format!("v{i}")).collect();
    assert_eq!(broker.values("t", 0), even);
    assert_eq!(broker.values("t", 1), odd);
    let state = broker.state.lock().unwrap();
    assert!(state.produced_on[0].iter().all(|(_, p)| *p == 0));
    assert!(state.produced_on[1].iter().all(|(_, p)| *p == 1));
}

#[test]
fn a_failing_metadata_refresh_does_not_fail_sends_to_a_known_topic() {
    let metadata = Arc::new(AtomicUsize::new(0));
    let produces = Arc::new(AtomicUsize::new(0));
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        Box::new(move |_, request| match request {
            // Only the first Metadata is answered.
            Request::Metadata(_) if metadata.fetch_add(1, Ordering::SeqCst) > 0 => Reply::Close,
            Request::Produce(_) if produces.fetch_add(1, Ordering::SeqCst) == 0 => Reply::Close,
            _ => Reply::Normal,
        }),
    );
    let mut producer = Producer::new(ProducerConfig {
        linger_ms: 0,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for i in 0..20 {
        producer
            .send("t", ProducerRecord::new(format!("v{i}")))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    assert_eq!(broker.values("t", 0).len(), 20);
}

#[test]
fn a_refusal_that_closes_the_connection_fails_one_request_and_resends_the_rest() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0, 0, 0, 0]),
        first_produces(1, || {
            Reply::Error(ErrorCode::FrameTooLarge, "too big".into())
        }),
    );
    let mut producer = Producer::new(ProducerConfig {
        linger_ms: 0,
        max_in_flight: 4,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for i in 0..40 {
        producer
            .send("t", ProducerRecord::new(format!("v{i}")).partition(i % 4))
            .unwrap();
    }
    let deliveries = producer.flush();
    let failed: Vec<_> = deliveries.iter().filter(|d| d.result.is_err()).collect();
    assert_eq!(failed.len(), 1, "{deliveries:?}");
    let err = failed[0].result.as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FrameTooLarge));
    // At-least-once: requests pipelined behind the refused one may have
    // been written before the connection closed and then resent, so
    // duplicates are allowed; every record but the failed batch's is there.
    let distinct: std::collections::BTreeSet<String> =
        (0..4).flat_map(|p| broker.values("t", p)).collect();
    assert_eq!(distinct.len() as u32 + failed[0].record_count, 40);
}
