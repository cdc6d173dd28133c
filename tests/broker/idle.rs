//! Consumers tailing idle partitions: every long-poll that times out must
//! leave nothing behind in the broker (no waker, no task, no memory), on
//! the connection's own core and on the other one, and the broker must go
//! on serving data afterwards.

use shardlog::protocol::fetch::{FetchPartition, FetchRequest, FetchResponse};
use shardlog::protocol::produce::Acks;
use shardlog::protocol::ApiKey;
use std::io::Read;

use crate::common::{batch, Broker, Client, DataDir};
use crate::data::{fetch, produce};

/// Idle long-polls per broker: the reproduction crashed a core
/// after about 10,900 of them and leaked ~465 bytes each across cores.
const IDLE_POLLS: usize = 100_000;
/// Polls before the memory baseline is taken (allocator warm-up).
const WARMUP_POLLS: usize = 10_000;
/// Requests written before their responses are read.
const PIPELINE_DEPTH: usize = 64;
/// Resident memory the broker may gain over the measured polls: a leak of
/// one waker or task per poll would be 20-40 MiB here.
const RSS_GROWTH_BYTES_MAX: u64 = 6 << 20;

fn rss_bytes(broker: &Broker) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", broker.child.id()))
        .expect("the broker is alive");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in /proc status");
    kib << 10
}

/// Sends `count` fetches of every partition of `topic` at offset 0 with
/// `max_wait_ms = 1`, `min_bytes = 1`, pipelined; each must time out empty.
fn idle_polls(client: &mut Client, topic: &str, partitions: u32, count: usize) {
    let request = FetchRequest {
        max_wait_ms: 1,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![(
            topic.to_string(),
            (0..partitions)
                .map(|partition| FetchPartition {
                    partition,
                    offset: 0,
                    max_bytes: 1 << 20,
                })
                .collect(),
        )],
    };
    let mut sent = 0;
    while sent < count {
        let burst = PIPELINE_DEPTH.min(count - sent);
        let mut frames = Vec::new();
        let mut ids = Vec::with_capacity(burst);
        for _ in 0..burst {
            let (id, frame) = client.frame(ApiKey::Fetch as u16, 0, |b| request.encode(b));
            frames.extend_from_slice(&frame);
            ids.push(id);
        }
        client.send(&frames);
        for id in ids {
            let response = client.receive();
            assert_eq!(response.header.correlation_id, id);
            assert_eq!(response.header.error_code, 0, "{:?}", response.error());
            let body = FetchResponse::decode(&mut response.reader()).unwrap();
            for answer in &body.topics[0].1 {
                assert_eq!(answer.error_code, 0);
                assert!(answer.records.is_empty(), "the partitions are idle");
            }
        }
        sent += burst;
    }
}

/// One broker: idle polls on one connection, memory before and after, then
/// produce and fetch as usual.
fn idle_polls_leave_nothing_behind(name: &str, cores: &str, partitions: u32) {
    let dir = DataDir::new(name);
    let mut broker = Broker::start_with(&dir.0, &["--cores", cores]);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("idle", partitions).header.error_code, 0);

    idle_polls(&mut client, "idle", partitions, WARMUP_POLLS);
    let baseline = rss_bytes(&broker);
    idle_polls(&mut client, "idle", partitions, IDLE_POLLS - WARMUP_POLLS);
    let after = rss_bytes(&broker);
    assert!(
        after.saturating_sub(baseline) <= RSS_GROWTH_BYTES_MAX,
        "{name}: broker RSS grew from {baseline} to {after} bytes over {} idle polls",
        IDLE_POLLS - WARMUP_POLLS
    );

    // Still serving: a produce to every partition, read back by a new
    // connection and by the one that polled.
    let mut fresh = broker.connect();
    for partition in 0..partitions {
        let answer = produce(
            &mut fresh,
            "idle",
            vec![(partition, batch("after", 3))],
            Acks::Durable,
        );
        assert_eq!(answer.topics[0].1[0].error_code, 0);
        assert_eq!(answer.topics[0].1[0].base_offset, 0);
    }
    for client in [&mut client, &mut fresh] {
        let wanted: Vec<(u32, u64)> = (0..partitions).map(|p| (p, 0)).collect();
        let got = fetch(client, "idle", &wanted, 1000, 1);
        for answer in &got.topics[0].1 {
            assert_eq!(answer.error_code, 0);
            assert_eq!(answer.high_watermark, 3);
            assert!(!answer.records.is_empty());
        }
    }
    assert!(
        broker.child.try_wait().unwrap().is_none(),
        "the broker is still running"
    );
    let mut stderr = broker.child.stderr.take().unwrap();
    broker.child.kill().unwrap();
    broker.child.wait().unwrap();
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        !log.contains("panicked"),
        "{name}: the broker panicked:\n{log}"
    );
}

/// 100,000 idle long-polls on one connection, on one core, and on two cores
/// through the shared port with a topic of two partitions: each poll waits
/// on the connection's own core and on the other one. The brokers run side
/// by side: each poll mostly sleeps its 1 ms.
#[test]
fn idle_long_polls_leave_no_trace_on_one_core_and_across_cores() {
    let one_core = std::thread::spawn(|| idle_polls_leave_nothing_behind("idle-1core", "1", 1));
    let two_cores = std::thread::spawn(|| idle_polls_leave_nothing_behind("idle-2cores", "2", 2));
    let mut failures = Vec::new();
    for (name, handle) in [("one core", one_core), ("two cores", two_cores)] {
        if let Err(panic) = handle.join() {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
