//! The producer against the fake broker: routing to owner cores, batching,
//! retries in order, reconnects, fallback to the bootstrap address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shardlog::batch::ProducerFields;
use shardlog::client::partitioner::partition_for_key;
use shardlog::client::{Acks, ClientError, Producer, ProducerConfig, ProducerRecord};
use shardlog::error::ErrorCode;
use shardlog::protocol::{ApiKey, Request};

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

/// The producer blocks the fake broker saw on `partition`, in arrival
/// order (retries included).
fn blocks_on(broker: &FakeBroker, partition: u32) -> Vec<ProducerFields> {
    let state = broker.state.lock().unwrap();
    state
        .producer_blocks
        .iter()
        .filter(|(_, p, _)| *p == partition)
        .map(|(_, _, fields)| *fields)
        .collect()
}

fn requests_of(broker: &FakeBroker, api: ApiKey) -> usize {
    let state = broker.state.lock().unwrap();
    state
        .requests_on
        .iter()
        .flatten()
        .filter(|&&k| k == api as u16)
        .count()
}

/// Issue 16: a produce the broker wrote whose answer was lost (the
/// connection closed) is resent with the same producer id and sequence,
/// and the broker answers it with the first copy's offset: every record
/// once, one offset each.
#[test]
fn a_batch_whose_answer_was_lost_is_resent_with_its_sequence_and_written_once() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(1, || Reply::AnswerLost),
    );
    let mut producer = Producer::new(ProducerConfig {
        linger_ms: 0,
        batch_bytes_max: 256,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    let values: Vec<String> = (0..30).map(|i| format!("v{i}")).collect();
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
    assert_eq!(broker.values("t", 0), values, "each record once, in order");
    let mut next = 0;
    for d in &deliveries {
        let (first, last) = d.offsets().unwrap();
        assert_eq!(first, next, "one offset per record, no gap");
        next = last + 1;
    }
    assert_eq!(next, 30);

    let blocks = blocks_on(&broker, 0);
    assert_eq!(blocks[0], blocks[1], "the resend carries the same sequence");
    assert_eq!(blocks[0].base_sequence, 0);
    let mut expected = 0;
    for (fields, d) in blocks[1..].iter().zip(&deliveries) {
        assert_eq!(fields.producer_id, blocks[0].producer_id);
        assert_eq!(fields.base_sequence, expected, "records sent before");
        expected += d.record_count as i32;
    }
    assert_eq!(requests_of(&broker, ApiKey::InitProducer), 1);
}

/// Sequences count each partition's own records, whatever the others do.
#[test]
fn each_partition_numbers_its_batches_by_the_records_sent_before() {
    let broker = FakeBroker::start(2, &[], topics(&[0, 1]), Box::new(|_, _| Reply::Normal));
    let mut producer = Producer::new(ProducerConfig {
        linger_ms: 0,
        batch_bytes_max: 128,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for i in 0..100 {
        producer
            .send("t", ProducerRecord::new(format!("v{i}")).partition(i % 2))
            .unwrap();
    }
    let deliveries = producer.flush();
    assert!(
        deliveries.iter().all(|d| d.result.is_ok()),
        "{deliveries:?}"
    );
    for partition in 0..2 {
        let counts: Vec<i32> = deliveries
            .iter()
            .filter(|d| d.partition == partition)
            .map(|d| d.record_count as i32)
            .collect();
        let blocks = blocks_on(&broker, partition);
        assert!(blocks.len() > 2, "several batches: {blocks:?}");
        assert_eq!(blocks.len(), counts.len());
        let mut expected = 0;
        for (fields, count) in blocks.iter().zip(counts) {
            assert_eq!(fields.base_sequence, expected, "partition {partition}");
            expected += count;
        }
        assert_eq!(expected, 50);
        assert_eq!(broker.values("t", partition).len(), 50);
    }
}

/// A sequence refusal fails that batch with a clear error and nothing
/// else; the partition starts again under a new producer id at 0.
#[test]
fn out_of_order_sequence_fails_the_batch_and_the_partition_starts_afresh() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(1, || Reply::PartitionError(ErrorCode::OutOfOrderSequence)),
    );
    let mut producer = Producer::new(config(&broker.addrs[0])).unwrap();
    producer.send("t", ProducerRecord::new("a")).unwrap();
    let deliveries = producer.flush();
    assert_eq!(deliveries.len(), 1);
    let err = deliveries[0].result.as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::OutOfOrderSequence));
    assert!(err.to_string().contains("new producer id"), "{err}");
    assert_eq!(requests_of(&broker, ApiKey::Produce), 1, "not retried");

    producer.send("t", ProducerRecord::new("b")).unwrap();
    let deliveries = producer.flush();
    assert_eq!(deliveries[0].offsets(), Some((0, 0)), "{deliveries:?}");
    assert_eq!(broker.values("t", 0), ["b"]);
    let blocks = blocks_on(&broker, 0);
    assert_eq!(blocks.len(), 2);
    assert_ne!(blocks[0].producer_id, blocks[1].producer_id);
    assert_eq!(blocks[1].base_sequence, 0);
    assert_eq!(requests_of(&broker, ApiKey::InitProducer), 2);
}

/// A batch whose retries ran out may have been written: its partition
/// starts afresh too, so the next batch is not refused as a gap.
#[test]
fn a_batch_out_of_retries_spends_its_sequence() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(3, || Reply::AnswerLost),
    );
    let mut producer = Producer::new(ProducerConfig {
        retries: 2,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    producer.send("t", ProducerRecord::new("a")).unwrap();
    let deliveries = producer.flush();
    assert!(deliveries[0].result.is_err(), "{deliveries:?}");
    assert_eq!(broker.values("t", 0), ["a"], "written once, answer lost");
    producer.send("t", ProducerRecord::new("b")).unwrap();
    let deliveries = producer.flush();
    assert_eq!(deliveries[0].offsets(), Some((1, 1)), "{deliveries:?}");
    assert_eq!(broker.values("t", 0), ["a", "b"]);
}

#[test]
fn without_idempotence_batches_carry_no_producer() {
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        first_produces(1, || Reply::AnswerLost),
    );
    let mut producer = Producer::new(ProducerConfig {
        idempotence: false,
        ..config(&broker.addrs[0])
    })
    .unwrap();
    producer.send("t", ProducerRecord::new("a")).unwrap();
    assert!(producer.flush()[0].result.is_ok());
    assert!(blocks_on(&broker, 0).is_empty());
    assert_eq!(requests_of(&broker, ApiKey::InitProducer), 0);
    assert_eq!(
        broker.values("t", 0),
        ["a", "a"],
        "at-least-once: the resend is written again"
    );
}

/// A produce answered after the request timeout: the producer gave up on
/// the connection and resent the batch, the broker wrote the first copy
/// late, and the resend (same sequence) got the first copy's offset.
#[test]
fn a_timed_out_batch_is_resent_with_its_sequence_and_written_once() {
    let delayed = Arc::new(AtomicUsize::new(0));
    let broker = FakeBroker::start(
        1,
        &[],
        topics(&[0]),
        Box::new(move |_, request| {
            if matches!(request, Request::Produce(_)) && delayed.fetch_add(1, Ordering::SeqCst) == 0
            {
                // Holds the policy lock: the resend waits behind the first.
                std::thread::sleep(std::time::Duration::from_millis(600));
            }
            Reply::Normal
        }),
    );
    let mut producer = Producer::new(ProducerConfig {
        connection: shardlog::client::ConnectionConfig {
            request_timeout_ms: 200,
            ..Default::default()
        },
        ..config(&broker.addrs[0])
    })
    .unwrap();
    for value in ["a", "b", "c"] {
        producer.send("t", ProducerRecord::new(value)).unwrap();
    }
    let deliveries = producer.flush();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].offsets(), Some((0, 2)), "{deliveries:?}");
    assert_eq!(broker.values("t", 0), ["a", "b", "c"], "written once");
    let blocks = blocks_on(&broker, 0);
    assert_eq!(blocks.len(), 2, "sent twice: {blocks:?}");
    assert_eq!(blocks[0], blocks[1]);
}
