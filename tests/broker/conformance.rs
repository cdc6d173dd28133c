//! The broker does what docs/PROTOCOL.md says, on the points a client
//! written from the spec alone found different (issue 12, part 5): the
//! versions and limits ApiVersions lists, the order of decode checks, topic
//! settings as described, the fetch byte limits, and group generations.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shardlog::batch::Batches;
use shardlog::client::{Admin, ConnectionConfig};
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::{
    FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse,
};
use shardlog::protocol::groups::{
    CommitPartition, DescribeGroupResponse, GroupNameRequest, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, OffsetCommitRequest,
};
use shardlog::protocol::metadata::{
    ApiVersionsResponse, BrokerLimits, MetadataRequest, MetadataResponse,
};
use shardlog::protocol::produce::Acks;
use shardlog::protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, TopicNameRequest, TopicSettings,
};
use shardlog::protocol::ApiKey;
use shardlog::router::shard_for;

use crate::common::{batch, Broker, Client, DataDir};
use crate::data::produce;

fn create_with_segment(client: &mut Client, name: &str, segment_bytes: Option<u64>) -> u16 {
    let response = client.call(ApiKey::CreateTopic, |b| {
        CreateTopicRequest {
            name: name.to_string(),
            settings: TopicSettings {
                partitions: 1,
                retention_ms: None,
                retention_bytes: None,
                segment_bytes,
            },
        }
        .encode(b)
    });
    response.header.error_code
}

fn describe(client: &mut Client, name: &str) -> DescribeTopicResponse {
    let response = client.call(ApiKey::DescribeTopic, |b| {
        TopicNameRequest {
            name: name.to_string(),
        }
        .encode(b)
    });
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    DescribeTopicResponse::decode(&mut response.reader()).unwrap()
}

#[test]
fn api_versions_v1_lists_the_configured_limits_and_v0_is_unchanged() {
    let dir = DataDir::new("limits");
    let broker = Broker::start_with(
        &dir.0,
        &[
            "--frame-bytes-max",
            "2097152",
            "--batch-bytes-max",
            "65536",
            "--segment-bytes",
            "8388608",
        ],
    );
    let mut client = broker.connect();

    let (_, v0) = client.frame(ApiKey::ApiVersions as u16, 0, |_| {});
    client.send(&v0);
    let response = client.receive();
    assert_eq!(response.header.error_code, 0);
    let mut r = response.reader();
    let decoded = ApiVersionsResponse::decode(&mut r).unwrap();
    r.finish()
        .expect("a version 0 body ends after broker_version");
    assert_eq!(decoded, ApiVersionsResponse::current());
    assert_eq!(decoded.apis.len(), 19, "keys 0 to 18");

    let (_, v1) = client.frame(ApiKey::ApiVersions as u16, 1, |_| {});
    client.send(&v1);
    let response = client.receive();
    assert_eq!(response.header.error_code, 0);
    let mut r = response.reader();
    let decoded = ApiVersionsResponse::decode_v1(&mut r).unwrap();
    r.finish().expect("a version 1 body ends after the limits");
    let expected = BrokerLimits {
        frame_bytes_max: 2 << 20,
        batch_bytes_max: 64 << 10,
        partitions_max: 4096,
        request_partitions_max: 10_000,
        fetch_bytes_max: 64 << 20,
        fetch_wait_ms_max: 60_000,
        segment_bytes_default: 8 << 20,
    };
    assert_eq!(decoded.limits, Some(expected));
    assert_eq!(decoded.apis, ApiVersionsResponse::current().apis);

    // The client library asks for version 1.
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    assert_eq!(admin.api_versions().unwrap().limits, Some(expected));

    let (_, v2) = client.frame(ApiKey::ApiVersions as u16, 2, |_| {});
    client.send(&v2);
    let response = client.receive();
    assert_eq!(
        response.error().0,
        ErrorCode::UnsupportedVersion as u16,
        "version 2 does not exist yet"
    );
    assert_eq!(client.call(ApiKey::ListTopics, |_| {}).header.error_code, 0);
}

/// The key is checked first, then the version, then the body: a client
/// learns what it got wrong first, whatever the body holds.
#[test]
fn decode_checks_the_key_then_the_version_then_the_body() {
    let dir = DataDir::new("decode-order");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    let garbage = |b: &mut bytes::BytesMut| b.extend_from_slice(&[0xff; 3]);
    let cases: [(u16, u16, ErrorCode); 4] = [
        (999, 7, ErrorCode::UnknownApiKey),
        (ApiKey::Fetch as u16, 7, ErrorCode::UnsupportedVersion),
        (ApiKey::ApiVersions as u16, 2, ErrorCode::UnsupportedVersion),
        (ApiKey::Fetch as u16, 0, ErrorCode::MalformedRequest),
    ];
    for (key, version, code) in cases {
        let (id, frame) = client.frame(key, version, garbage);
        client.send(&frame);
        let response = client.receive();
        assert_eq!(response.header.correlation_id, id);
        let (got, message) = response.error();
        assert_eq!(got, code as u16, "key {key} version {version}: {message}");
    }
    // Trailing bytes in an empty-body request are a malformed body.
    let (_, frame) = client.frame(ApiKey::ApiVersions as u16, 1, garbage);
    client.send(&frame);
    assert_eq!(
        client.receive().error().0,
        ErrorCode::MalformedRequest as u16
    );
}

#[test]
fn describe_topic_says_minus_one_while_the_broker_default_applies() {
    let dir = DataDir::new("segment-default");
    {
        let broker = Broker::start(&dir.0);
        let mut client = broker.connect();
        assert_eq!(create_with_segment(&mut client, "default", None), 0);
        assert_eq!(
            create_with_segment(&mut client, "explicit", Some(8 << 20)),
            0
        );
        assert_eq!(
            describe(&mut client, "default").settings.segment_bytes,
            None
        );
        assert_eq!(
            describe(&mut client, "explicit").settings.segment_bytes,
            Some(8 << 20)
        );
        let (status, stderr) = broker.terminate();
        assert!(status.success(), "{stderr}");
    }
    // After a restart with another default the topic follows it, and
    // still says -1.
    let broker = Broker::start_with(&dir.0, &["--segment-bytes", "16777216"]);
    let mut client = broker.connect();
    assert_eq!(
        describe(&mut client, "default").settings.segment_bytes,
        None
    );
    assert_eq!(
        describe(&mut client, "explicit").settings.segment_bytes,
        Some(8 << 20)
    );
}

#[test]
fn create_topic_refuses_a_segment_smaller_than_the_batch_limit() {
    let dir = DataDir::new("segment-vs-batch");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    // The default batch limit is 1 MiB.
    for segment_bytes in [4096, (1 << 20) - 1] {
        let response = client.call(ApiKey::CreateTopic, |b| {
            CreateTopicRequest {
                name: "small".into(),
                settings: TopicSettings {
                    partitions: 1,
                    retention_ms: None,
                    retention_bytes: None,
                    segment_bytes: Some(segment_bytes),
                },
            }
            .encode(b)
        });
        let (code, message) = response.error();
        assert_eq!(
            code,
            ErrorCode::InvalidTopicConfig as u16,
            "segment_bytes {segment_bytes}: {message}"
        );
        assert!(message.contains("batch"), "{message}");
    }
    let list = client.call(ApiKey::ListTopics, |_| {});
    assert_eq!(&list.body[..], &[0, 0, 0, 0], "nothing was created");

    // At the batch limit it is accepted, and the topic takes batches up to
    // the broker's limit, as every topic does.
    assert_eq!(create_with_segment(&mut client, "fits", Some(1 << 20)), 0);
    let big = batch(&"x".repeat(150_000), 2);
    assert!(big.len() > 500_000, "far above a 4096-byte segment");
    let produced = produce(&mut client, "fits", vec![(0, big)], Acks::Durable);
    assert_eq!(produced.topics[0].1[0].error_code, 0);
}

/// One partition's part of a fetch request: (partition, offset,
/// partition_max_bytes).
type Wanted = (u32, u64, u32);

fn fetch_raw(
    client: &mut Client,
    topic: &str,
    wanted: &[Wanted],
    max_bytes: u32,
    max_wait_ms: u32,
    min_bytes: u32,
) -> Vec<FetchPartitionResponse> {
    let request = FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes,
        topics: vec![(
            topic.to_string(),
            wanted
                .iter()
                .map(|&(partition, offset, max_bytes)| FetchPartition {
                    partition,
                    offset,
                    max_bytes,
                })
                .collect(),
        )],
    };
    let response = client.call(ApiKey::Fetch, |b| request.encode(b));
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    let mut decoded = FetchResponse::decode(&mut response.reader()).unwrap();
    decoded.topics.remove(0).1
}

/// How many whole batches a partition's records hold.
fn batch_count(answer: &FetchPartitionResponse) -> usize {
    let records = answer.records.first().cloned().unwrap_or_default();
    let mut count = 0;
    for batch in Batches::new(records, u32::MAX) {
        batch.expect("whole, valid batches");
        count += 1;
    }
    count
}

/// Produces `batches` batches of 10 records each to each partition, one
/// request per batch so that they stay separate batches; returns the size
/// of one batch (they are all the same size).
fn fill(client: &mut Client, topic: &str, partitions: &[u32], batches: usize) -> usize {
    let mut size = 0;
    for &partition in partitions {
        for _ in 0..batches {
            let one = batch("fill", 10);
            size = one.len();
            let produced = produce(client, topic, vec![(partition, one)], Acks::Durable);
            assert_eq!(produced.topics[0].1[0].error_code, 0);
        }
    }
    size
}

/// "The first batch of the response is kept whole even when it alone is
/// larger than max_bytes", and a partition returns at least its first
/// batch: 0 is a limit like any other, not "nothing".
#[test]
fn fetch_with_zero_limits_still_returns_a_first_batch() {
    let dir = DataDir::new("fetch-zero");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("zero", 3).header.error_code, 0);
    fill(&mut client, "zero", &[0, 1], 3);
    let big = 1 << 20;

    let got = fetch_raw(&mut client, "zero", &[(0, 0, big), (1, 0, big)], 0, 0, 0);
    assert_eq!(
        batch_count(&got[0]),
        1,
        "max_bytes 0: the response's first batch"
    );
    assert_eq!(batch_count(&got[1]), 0, "and nothing more");

    let got = fetch_raw(&mut client, "zero", &[(0, 0, 0), (1, 0, 0)], big, 0, 0);
    assert_eq!(batch_count(&got[0]), 1, "partition_max_bytes 0: one batch");
    assert_eq!(batch_count(&got[1]), 1, "for each partition");

    let got = fetch_raw(&mut client, "zero", &[(0, 0, 0), (1, 0, 0)], 0, 0, 0);
    assert_eq!((batch_count(&got[0]), batch_count(&got[1])), (1, 0));

    // The first batch of the response may come from a later partition, when
    // the ones before it have nothing new.
    let got = fetch_raw(&mut client, "zero", &[(2, 0, big), (1, 0, big)], 0, 0, 0);
    assert_eq!((batch_count(&got[0]), batch_count(&got[1])), (0, 1));
    assert!(got.iter().all(|p| p.error_code == 0));
}

/// max_bytes is spent in request order, whichever core owns which
/// partition and whichever core the connection is on: a partition listed
/// first is never starved by one listed after it.
#[test]
fn fetch_spends_max_bytes_in_request_order_across_cores() {
    let dir = DataDir::new("fetch-order");
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let mut shared = broker.connect();
    assert_eq!(shared.create_topic("order", 2).header.error_code, 0);
    let on_core = |core: usize| (0..2).find(|&p| shard_for("order", p, 2) == core).unwrap();
    let (on_core_0, on_core_1) = (on_core(0), on_core(1));
    let size = fill(&mut shared, "order", &[0, 1], 4);
    // Room for two and a half batches.
    let max_bytes = (2 * size + size / 2) as u32;
    let big = 1 << 20;

    let meta = shared.call(ApiKey::Metadata, |b| {
        MetadataRequest { topics: vec![] }.encode(b)
    });
    let meta = MetadataResponse::decode(&mut meta.reader()).unwrap();
    let mut clients = vec![shared];
    for core in &meta.cores {
        clients.push(Client::connect(SocketAddr::new(
            core.host.parse().unwrap(),
            core.port,
        )));
    }
    for client in &mut clients {
        for (first, second) in [(on_core_1, on_core_0), (on_core_0, on_core_1)] {
            let got = fetch_raw(
                client,
                "order",
                &[(first, 0, big), (second, 0, big)],
                max_bytes,
                0,
                0,
            );
            assert_eq!(got[0].partition, first);
            assert_eq!(
                (batch_count(&got[0]), batch_count(&got[1])),
                (2, 0),
                "partition {first} is listed first and gets the budget"
            );
            assert_eq!(got[1].high_watermark, 40, "offsets still come back");
        }
    }
}

/// Kafka's rule: a partition with an error answers the fetch at once,
/// without waiting out max_wait_ms for the others. Error partitions carry
/// the partition's offsets when it has a log (OffsetOutOfRange: to reset
/// from), and 0 when it does not exist.
#[test]
fn an_error_partition_ends_a_long_poll_at_once_with_its_offsets() {
    let dir = DataDir::new("fetch-error-poll");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("poll", 2).header.error_code, 0);
    fill(&mut client, "poll", &[1], 1);
    let big = 1 << 20;
    for wanted in [[(0, 0, big), (7, 0, big)], [(0, 0, big), (1, 99, big)]] {
        let started = Instant::now();
        let got = fetch_raw(&mut client, "poll", &wanted, big, 5_000, 1);
        assert!(
            started.elapsed() < Duration::from_millis(2_500),
            "answered after {:?}",
            started.elapsed()
        );
        assert_eq!(got[0].error_code, 0);
        assert_eq!(batch_count(&got[0]), 0);
        match got[1].partition {
            7 => {
                assert_eq!(got[1].error_code, ErrorCode::UnknownPartition as u16);
                assert_eq!((got[1].high_watermark, got[1].log_start_offset), (0, 0));
            }
            _ => {
                assert_eq!(got[1].error_code, ErrorCode::OffsetOutOfRange as u16);
                assert_eq!((got[1].high_watermark, got[1].log_start_offset), (10, 0));
            }
        }
    }
    // Without an error the same fetch waits.
    let started = Instant::now();
    let got = fetch_raw(&mut client, "poll", &[(0, 0, big)], big, 600, 1);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(batch_count(&got[0]), 0);
}

/// SIGTERM while a fetch long-polls: the broker answers it at once with
/// what it has (here nothing, no error), as a poll that ran out of time,
/// rather than holding shutdown for the rest of max_wait_ms.
#[test]
fn sigterm_answers_a_pending_long_poll_at_once() {
    let dir = DataDir::new("fetch-sigterm");
    // Two cores, so that the poll waits on a partition of another core,
    // which may finish its own shutdown first.
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("quiet", 2).header.error_code, 0);
    let request = FetchRequest {
        max_wait_ms: 30_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![(
            "quiet".into(),
            (0..2)
                .map(|partition| FetchPartition {
                    partition,
                    offset: 0,
                    max_bytes: 1 << 20,
                })
                .collect(),
        )],
    };
    let (id, frame) = client.frame(ApiKey::Fetch as u16, 0, |b| request.encode(b));
    client.send(&frame);
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    let pid = broker.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let response = client.receive();
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "answered {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(response.header.correlation_id, id);
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    let got = FetchResponse::decode(&mut response.reader()).unwrap();
    for partition in &got.topics[0].1 {
        assert_eq!(partition.error_code, 0);
        assert!(partition.records.is_empty());
    }
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
}

fn join(client: &mut Client, group: &str) -> JoinGroupResponse {
    let request = JoinGroupRequest {
        group: group.to_string(),
        member_id: String::new(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 1_000,
        strategy: "range".into(),
        topics: vec!["events".into()],
    };
    let response = client.call(ApiKey::JoinGroup, |b| request.encode(b));
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    JoinGroupResponse::decode(&mut response.reader()).unwrap()
}

fn leave(client: &mut Client, group: &str, member_id: &str) -> u16 {
    let request = LeaveGroupRequest {
        group: group.to_string(),
        member_id: member_id.to_string(),
    };
    client
        .call(ApiKey::LeaveGroup, |b| request.encode(b))
        .header
        .error_code
}

fn describe_group(client: &mut Client, group: &str) -> DescribeGroupResponse {
    let response = client.call(ApiKey::DescribeGroup, |b| {
        GroupNameRequest {
            group: group.to_string(),
        }
        .encode(b)
    });
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    DescribeGroupResponse::decode(&mut response.reader()).unwrap()
}

/// Each JoinGroup answers one more than the group's last generation, also
/// after every member has left, for as long as the group exists (it has
/// members or committed offsets). A group with neither is gone (Dead) and
/// starts again at 1.
#[test]
fn a_group_generation_keeps_growing_after_every_member_left() {
    let dir = DataDir::new("group-generations");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("events", 1).header.error_code, 0);

    let first = join(&mut client, "billing");
    assert_eq!(first.generation, 1);
    let commit = OffsetCommitRequest {
        group: "billing".into(),
        member_id: first.member_id.clone(),
        generation: first.generation as i32,
        topics: vec![(
            "events".into(),
            vec![CommitPartition {
                partition: 0,
                offset: 0,
                metadata: String::new(),
            }],
        )],
    };
    let committed = client.call(ApiKey::OffsetCommit, |b| commit.encode(b));
    assert_eq!(committed.header.error_code, 0, "{:?}", committed.error());
    assert_eq!(leave(&mut client, "billing", &first.member_id), 0);
    let empty = describe_group(&mut client, "billing");
    assert_eq!((empty.state.as_str(), empty.generation), ("Empty", 1));

    let second = join(&mut client, "billing");
    assert_eq!(second.generation, 2, "one more than the last generation");
    assert_eq!(leave(&mut client, "billing", &second.member_id), 0);
    assert_eq!(join(&mut client, "billing").generation, 3);

    // No committed offsets: once empty, the group no longer exists.
    let once = join(&mut client, "scratch");
    assert_eq!(once.generation, 1);
    assert_eq!(leave(&mut client, "scratch", &once.member_id), 0);
    let gone = describe_group(&mut client, "scratch");
    assert_eq!((gone.state.as_str(), gone.generation), ("Dead", 0));
    assert_eq!(join(&mut client, "scratch").generation, 1);
}

/// Heartbeat and LeaveGroup for a group the coordinator has no members of
/// (or never heard of) answer UnknownMemberId: the client joins anew.
/// Group names follow `[a-zA-Z0-9._-]{1,249}` on every group API.
#[test]
fn unknown_groups_and_group_names_get_their_codes() {
    let dir = DataDir::new("group-unknown");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    let heartbeat = HeartbeatRequest {
        group: "never".into(),
        member_id: "m-1".into(),
        generation: 1,
    };
    let response = client.call(ApiKey::Heartbeat, |b| heartbeat.encode(b));
    assert_eq!(response.error().0, ErrorCode::UnknownMemberId as u16);
    assert_eq!(
        leave(&mut client, "never", "m-1"),
        ErrorCode::UnknownMemberId as u16
    );

    let long = "g".repeat(249);
    for (group, code) in [
        (long.as_str(), ErrorCode::None),
        (".", ErrorCode::None),
        ("__internal", ErrorCode::None),
        ("a.b_c-D9", ErrorCode::None),
        ("", ErrorCode::InvalidGroupId),
        ("a b", ErrorCode::InvalidGroupId),
        ("é", ErrorCode::InvalidGroupId),
        (&"g".repeat(250), ErrorCode::InvalidGroupId),
    ] {
        for api in [ApiKey::FindCoordinator, ApiKey::DescribeGroup] {
            let response = client.call(api, |b| {
                GroupNameRequest {
                    group: group.to_string(),
                }
                .encode(b)
            });
            assert_eq!(
                response.header.error_code, code as u16,
                "{api:?} of {group:?}"
            );
        }
        let response = client.call(ApiKey::Heartbeat, |b| {
            HeartbeatRequest {
                group: group.to_string(),
                ..heartbeat.clone()
            }
            .encode(b)
        });
        let expected = match code {
            ErrorCode::None => ErrorCode::UnknownMemberId,
            refused => refused,
        };
        assert_eq!(
            response.error().0,
            expected as u16,
            "Heartbeat of {group:?}"
        );
    }
}

/// A (topic, partition) named twice in one Produce is appended twice, in
/// request order, and answered twice.
#[test]
fn a_partition_repeated_in_one_produce_is_appended_once_per_entry() {
    let dir = DataDir::new("produce-repeat");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("twice", 1).header.error_code, 0);
    let produced = produce(
        &mut client,
        "twice",
        vec![(0, batch("first", 3)), (0, batch("second", 2))],
        Acks::Durable,
    );
    let answers = &produced.topics[0].1;
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers
            .iter()
            .map(|a| (a.partition, a.error_code, a.base_offset))
            .collect::<Vec<_>>(),
        vec![(0, 0, 0), (0, 0, 3)]
    );
    let got = fetch_raw(&mut client, "twice", &[(0, 0, 1 << 20)], 1 << 20, 0, 0);
    assert_eq!(batch_count(&got[0]), 2);
    assert_eq!(got[0].high_watermark, 5);
}
