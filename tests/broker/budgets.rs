//! The core's in-flight budget bounds what fetch responses may hold: a
//! fetch reserves room for its response before it reads and keeps it until
//! the response is written, so responses of many clients cannot pile up
//! beyond `inflight_bytes_per_core`.

use std::io::ErrorKind;
use std::time::Duration;

use shardlog::protocol::fetch::{FetchPartition, FetchRequest, FetchResponse};
use shardlog::protocol::produce::Acks;
use shardlog::protocol::ApiKey;

use crate::common::{batch, Broker, Client, DataDir};
use crate::data::produce;

/// A fetch of one partition from offset 0 that may return up to 3 MiB.
fn large_fetch(client: &mut Client, partition: u32, max_wait_ms: u32) -> u32 {
    let request = FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 3 << 20,
        topics: vec![(
            "budget".to_string(),
            vec![FetchPartition {
                partition,
                offset: 0,
                max_bytes: 3 << 20,
            }],
        )],
    };
    let (id, frame) = client.frame(ApiKey::Fetch as u16, 0, |b| request.encode(b));
    client.send(&frame);
    id
}

fn records_of(client: &mut Client, id: u32) -> usize {
    let response = client.receive();
    assert_eq!(response.header.correlation_id, id);
    let body = FetchResponse::decode(&mut response.reader()).unwrap();
    body.topics[0].1[0].records.len()
}

#[test]
fn a_fetch_waits_while_other_fetches_hold_the_cores_budget() {
    let dir = DataDir::new("budget");
    // One core, a 4 MiB budget: one 3 MiB fetch (plus a 64 KiB batch) fits,
    // two do not.
    let broker = Broker::start_with(
        &dir.0,
        &[
            "--cores",
            "1",
            "--batch-bytes-max",
            "65536",
            "--frame-bytes-max",
            "1048576",
            "--inflight-bytes-per-connection",
            "2097152",
            "--inflight-bytes-per-core",
            "4194304",
        ],
    );
    let mut admin = broker.connect();
    assert_eq!(admin.create_topic("budget", 2).header.error_code, 0);
    produce(
        &mut admin,
        "budget",
        vec![(1, batch("ready", 2))],
        Acks::Durable,
    );

    // A long-poll of the empty partition 0 holds its reservation while it waits.
    let mut waiting = broker.connect();
    let waiting_id = large_fetch(&mut waiting, 0, 30_000);
    std::thread::sleep(Duration::from_millis(300));

    // A fetch of partition 1, which has data, cannot reserve its room yet.
    let mut held = broker.connect();
    held.stream
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let held_id = large_fetch(&mut held, 1, 0);
    let mut byte = [0u8; 1];
    match std::io::Read::read(&mut held.stream, &mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the second fetch was answered while the budget was spent: {other:?}"),
    }
    held.stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    // Data for the long-poll: it answers and frees the budget; then the
    // held fetch is served.
    produce(
        &mut admin,
        "budget",
        vec![(0, batch("wake", 1))],
        Acks::Durable,
    );
    assert_eq!(records_of(&mut waiting, waiting_id), 1);
    // The first byte of the held response was not consumed: read it whole.
    assert_eq!(records_of(&mut held, held_id), 1);
}
