//! Produce and fetch over the shared port and the per-core ports, long-poll,
//! list offsets, and the data-path error codes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use shardlog::batch::{BatchHeader, Batches};
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::{FetchPartition, FetchRequest, FetchResponse};
use shardlog::protocol::metadata::{MetadataRequest, MetadataResponse};
use shardlog::protocol::offsets::{ListOffsetsRequest, ListOffsetsResponse, OffsetSpec};
use shardlog::protocol::produce::{
    Acks, ProducePartition, ProduceRequest, ProduceResponse, ProduceTopic,
};
use shardlog::protocol::ApiKey;

use crate::common::{batch, Broker, Client, DataDir};

pub fn produce(
    client: &mut Client,
    topic: &str,
    partitions: Vec<(u32, BytesMut)>,
    acks: Acks,
) -> ProduceResponse {
    let request = ProduceRequest {
        acks,
        topics: vec![ProduceTopic {
            name: topic.to_string(),
            partitions: partitions
                .into_iter()
                .map(|(partition, batch)| ProducePartition { partition, batch })
                .collect(),
        }],
    };
    let response = client.call(ApiKey::Produce, |b| request.encode(b));
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    ProduceResponse::decode(&mut response.reader()).unwrap()
}

pub fn fetch(
    client: &mut Client,
    topic: &str,
    partitions: &[(u32, u64)],
    max_wait_ms: u32,
    min_bytes: u32,
) -> FetchResponse {
    let request = FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 64 << 20,
        topics: vec![(
            topic.to_string(),
            partitions
                .iter()
                .map(|&(partition, offset)| FetchPartition {
                    partition,
                    offset,
                    max_bytes: 16 << 20,
                })
                .collect(),
        )],
    };
    let response = client.call(ApiKey::Fetch, |b| request.encode(b));
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    FetchResponse::decode(&mut response.reader()).unwrap()
}

fn metadata(client: &mut Client, topic: &str) -> MetadataResponse {
    let response = client.call(ApiKey::Metadata, |b| {
        MetadataRequest {
            topics: vec![topic.into()],
        }
        .encode(b)
    });
    MetadataResponse::decode(&mut response.reader()).unwrap()
}

#[test]
fn produce_to_every_core_via_both_ports_reads_back_byte_identical_and_dense() {
    let dir = DataDir::new("produce-fetch");
    let broker = Broker::start(&dir.0);
    let mut shared = broker.connect();
    let partitions = 8u32;
    assert_eq!(
        shared.create_topic("events", partitions).header.error_code,
        0
    );
    let meta = metadata(&mut shared, "events");
    let owners = meta.topics[0].partition_cores.clone();
    let mut core_clients: Vec<Client> = meta
        .cores
        .iter()
        .map(|c| Client::connect(SocketAddr::new(c.host.parse().unwrap(), c.port)))
        .collect();

    let mut sent: Vec<Vec<BytesMut>> = vec![Vec::new(); partitions as usize];
    for round in 0..6 {
        for p in 0..partitions {
            let bytes = batch(&format!("r{round}p{p}"), 1 + round % 3);
            // Alternate: the shared port, and the owner core's own port.
            let client = if round % 2 == 0 {
                &mut shared
            } else {
                &mut core_clients[owners[p as usize] as usize]
            };
            let response = produce(client, "events", vec![(p, bytes.clone())], Acks::Durable);
            let answer = &response.topics[0].1[0];
            assert_eq!(answer.error_code, 0);
            let expected_base: u64 = sent[p as usize]
                .iter()
                .map(|b| u64::from(BatchHeader::parse(b, u32::MAX).unwrap().record_count))
                .sum();
            assert_eq!(
                answer.base_offset, expected_base,
                "offsets are dense per partition"
            );
            sent[p as usize].push(bytes);
        }
    }
    // A multi-partition produce spanning every core in one request.
    let response = produce(
        &mut shared,
        "events",
        (0..partitions).map(|p| (p, batch("multi", 2))).collect(),
        Acks::Durable,
    );
    assert!(response.topics[0].1.iter().all(|a| a.error_code == 0));
    for batches in sent.iter_mut() {
        batches.push(batch("multi", 2));
    }

    let wanted: Vec<(u32, u64)> = (0..partitions).map(|p| (p, 0)).collect();
    let fetched = fetch(&mut shared, "events", &wanted, 0, 0);
    for answer in &fetched.topics[0].1 {
        assert_eq!(answer.error_code, 0);
        let records = answer.records.first().cloned().unwrap_or_default();
        let got: Vec<_> = Batches::new(records, u32::MAX)
            .map(|b| b.unwrap().bytes)
            .collect();
        let expected = &sent[answer.partition as usize];
        assert_eq!(got.len(), expected.len());
        let mut next = 0u64;
        for (g, e) in got.iter().zip(expected) {
            assert_eq!(
                &g[8..],
                &e[8..],
                "byte-identical but for the stamped offset"
            );
            let header = BatchHeader::parse(g, u32::MAX).unwrap();
            assert_eq!(header.base_offset, next);
            next = header.next_offset();
        }
        assert_eq!(answer.high_watermark, next);
    }
}

#[test]
fn long_poll_fetch_returns_on_append_before_max_wait() {
    let dir = DataDir::new("long-poll");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("feed", 2).header.error_code, 0);
    let addr = broker.addr;
    let max_wait_ms = 20_000;
    let waiter = std::thread::spawn(move || {
        let mut consumer = Client::connect(addr);
        let started = Instant::now();
        let response = fetch(&mut consumer, "feed", &[(0, 0), (1, 0)], max_wait_ms, 1);
        (started.elapsed(), response)
    });
    std::thread::sleep(Duration::from_millis(300));
    produce(
        &mut client,
        "feed",
        vec![(1, batch("late", 3))],
        Acks::Durable,
    );
    let (elapsed, response) = waiter.join().unwrap();
    assert!(
        elapsed < Duration::from_millis(u64::from(max_wait_ms) / 2),
        "woken by the append, not by the timeout ({elapsed:?})"
    );
    let p1 = response.topics[0]
        .1
        .iter()
        .find(|p| p.partition == 1)
        .unwrap();
    assert_eq!(p1.records_bytes(), batch("late", 3).len());
    // With nothing to wait for, max_wait_ms bounds the wait.
    let started = Instant::now();
    let empty = fetch(&mut client, "feed", &[(0, 0)], 200, 1);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(empty.topics[0].1[0].records_bytes(), 0);
}

#[test]
fn list_offsets_answers_earliest_latest_and_by_timestamp() {
    let dir = DataDir::new("offsets");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("t", 1).header.error_code, 0);
    // Records stamped 1_700_000_000_000 + i.
    produce(&mut client, "t", vec![(0, batch("a", 5))], Acks::Durable);
    produce(&mut client, "t", vec![(0, batch("b", 5))], Acks::Durable);
    let request = ListOffsetsRequest {
        topics: vec![(
            "t".into(),
            vec![
                (0, OffsetSpec::Earliest),
                (0, OffsetSpec::Latest),
                (0, OffsetSpec::Timestamp(1_700_000_000_003)),
                (0, OffsetSpec::Timestamp(1_800_000_000_000)),
                (7, OffsetSpec::Latest),
            ],
        )],
    };
    let response = client.call(ApiKey::ListOffsets, |b| request.encode(b));
    let response = ListOffsetsResponse::decode(&mut response.reader()).unwrap();
    let answers: Vec<(u16, u64)> = response.topics[0]
        .1
        .iter()
        .map(|p| (p.error_code, p.offset))
        .collect();
    assert_eq!(answers[..4], [(0, 0), (0, 10), (0, 3), (0, 10)]);
    assert_eq!(answers[4].0, ErrorCode::UnknownPartition as u16);
}

#[test]
fn every_data_path_error_code_is_provoked_and_the_connection_survives() {
    let dir = DataDir::new("data-errors");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("t", 2).header.error_code, 0);

    // Unknown API key and unsupported version: whole-request errors.
    let (_, frame) = client.frame(999, 0, |_| {});
    client.send(&frame);
    assert_eq!(
        client.receive().header.error_code,
        ErrorCode::UnknownApiKey as u16
    );
    let (_, frame) = client.frame(ApiKey::Fetch as u16, 7, |_| {});
    client.send(&frame);
    assert_eq!(
        client.receive().header.error_code,
        ErrorCode::UnsupportedVersion as u16
    );
    // Truncated body: the frame is whole, its body is not.
    let (_, frame) = client.frame(ApiKey::Fetch as u16, 0, |b| b.put_u32_le(100));
    client.send(&frame);
    assert_eq!(
        client.receive().header.error_code,
        ErrorCode::MalformedRequest as u16
    );

    // Per-partition errors.
    let response = produce(&mut client, "t", vec![(5, batch("x", 1))], Acks::Durable);
    assert_eq!(
        response.topics[0].1[0].error_code,
        ErrorCode::UnknownPartition as u16
    );
    let response = produce(&mut client, "nope", vec![(0, batch("x", 1))], Acks::Durable);
    assert_eq!(
        response.topics[0].1[0].error_code,
        ErrorCode::UnknownTopic as u16
    );
    let mut corrupt = batch("x", 2);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let response = produce(&mut client, "t", vec![(0, corrupt)], Acks::Durable);
    assert_eq!(
        response.topics[0].1[0].error_code,
        ErrorCode::CorruptBatch as u16
    );
    let huge = batch(&"h".repeat(1000), 1200);
    let response = produce(&mut client, "t", vec![(0, huge)], Acks::Durable);
    assert_eq!(
        response.topics[0].1[0].error_code,
        ErrorCode::BatchTooLarge as u16
    );
    let response = fetch(&mut client, "t", &[(0, 99)], 0, 0);
    assert_eq!(
        response.topics[0].1[0].error_code,
        ErrorCode::OffsetOutOfRange as u16
    );
    let bad_name = client.create_topic("no/slash", 1);
    assert_eq!(
        bad_name.header.error_code,
        ErrorCode::InvalidTopicName as u16
    );

    // Nothing was appended by any of that; the connection still works.
    let response = produce(&mut client, "t", vec![(0, batch("ok", 1))], Acks::Durable);
    assert_eq!(
        (
            response.topics[0].1[0].error_code,
            response.topics[0].1[0].base_offset
        ),
        (0, 0)
    );
}

#[test]
fn a_produce_past_the_free_space_reserve_answers_storage_full() {
    let dir = DataDir::new("reserve");
    // No real disk has this much free: the first preallocation is refused.
    let broker = Broker::start_with(&dir.0, &["--min-free-bytes", &u64::MAX.to_string()]);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("t", 1).header.error_code, 0);
    for _ in 0..3 {
        let response = produce(&mut client, "t", vec![(0, batch("x", 1))], Acks::Durable);
        assert_eq!(
            response.topics[0].1[0].error_code,
            ErrorCode::StorageFull as u16
        );
    }
    // The partition stays in service, empty, and the connection works.
    let response = fetch(&mut client, "t", &[(0, 0)], 0, 0);
    let answer = &response.topics[0].1[0];
    assert_eq!((answer.error_code, answer.high_watermark), (0, 0));
}

#[test]
fn pipelined_requests_answer_in_order_and_keep_append_order() {
    let dir = DataDir::new("pipeline");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("p", 2).header.error_code, 0);
    let mut ids = Vec::new();
    let mut wire = Vec::new();
    for i in 0..200 {
        let request = ProduceRequest {
            acks: Acks::Durable,
            topics: vec![ProduceTopic {
                name: "p".into(),
                partitions: vec![ProducePartition {
                    partition: i % 2,
                    batch: batch(&format!("m{i}"), 1),
                }],
            }],
        };
        let (id, frame) = client.frame(ApiKey::Produce as u16, 0, |b| request.encode(b));
        ids.push(id);
        wire.extend_from_slice(&frame);
    }
    client.send(&wire);
    let mut next = [0u64; 2];
    for (i, id) in ids.into_iter().enumerate() {
        let response = client.receive();
        assert_eq!(
            response.header.correlation_id, id,
            "responses keep request order"
        );
        let answer = &ProduceResponse::decode(&mut response.reader())
            .unwrap()
            .topics[0]
            .1[0];
        assert_eq!(
            answer.base_offset,
            next[i % 2],
            "appends keep request order"
        );
        next[i % 2] += 1;
    }
}

#[test]
fn a_fetch_stays_within_max_bytes_whatever_it_names() {
    let dir = DataDir::new("fetch-bound");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("big", 2).header.error_code, 0);
    let one = batch(&"v".repeat(500), 20);
    for p in 0..2 {
        for _ in 0..4 {
            produce(&mut client, "big", vec![(p, one.clone())], Acks::Durable);
        }
    }
    // The same partitions named thousands of times, each asking for a lot.
    let names: Vec<FetchPartition> = (0..5000u32)
        .map(|i| FetchPartition {
            partition: i % 2,
            offset: 0,
            max_bytes: 1 << 20,
        })
        .collect();
    let max_bytes = 3 * one.len() as u32;
    let request = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes,
        topics: vec![("big".into(), names)],
    };
    let response = client.call(ApiKey::Fetch, |b| request.encode(b));
    let response = FetchResponse::decode(&mut response.reader()).unwrap();
    let total: usize = response.topics[0].1.iter().map(|p| p.records_bytes()).sum();
    assert!(
        total <= max_bytes as usize,
        "{total} bytes returned for max_bytes {max_bytes}"
    );
    assert!(total > 0);

    // Past the per-request partition limit: RequestTooLarge.
    let too_many = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1,
        topics: vec![(
            "big".into(),
            (0..(shardlog::config::REQUEST_PARTITIONS_MAX as u32 + 1))
                .map(|i| FetchPartition {
                    partition: i % 2,
                    offset: 0,
                    max_bytes: 1,
                })
                .collect(),
        )],
    };
    let response = client.call(ApiKey::Fetch, |b| too_many.encode(b));
    assert_eq!(
        response.header.error_code,
        ErrorCode::RequestTooLarge as u16
    );
}
