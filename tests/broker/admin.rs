//! Topics and metadata: create, list, describe, delete, and their errors;
//! ApiVersions as raw bytes, and more requests on one connection than a
//! glommio task can hold references.

use shardlog::error::ErrorCode;
use shardlog::protocol::metadata::{ApiVersionsResponse, MetadataRequest, MetadataResponse};
use shardlog::protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, ListTopicsResponse, TopicNameRequest, TopicSettings,
};
use shardlog::protocol::ApiKey;
use shardlog::router::shard_for;

use crate::common::{Broker, DataDir};

#[test]
fn api_versions_conforms_byte_for_byte() {
    let dir = DataDir::new("versions");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    // length 8 | api_key 0 | version 0 | correlation id 0x01020304
    client.send(&[8, 0, 0, 0, 0, 0, 0, 0, 4, 3, 2, 1]);
    let response = client.receive();
    assert_eq!(response.header.correlation_id, 0x0102_0304);
    assert_eq!(response.header.error_code, 0);
    let body = &response.body[..];
    // array of every API: u32 count, then (key, min, max) each, by key.
    let count = ApiKey::ALL.len();
    assert_eq!(&body[..4], &(count as u32).to_le_bytes());
    for (i, api) in ApiKey::ALL.iter().enumerate() {
        let key = *api as u16;
        let at = 4 + 6 * i;
        // ApiVersions itself has a version 1 (with the broker's limits).
        let max = u8::from(*api == ApiKey::ApiVersions);
        assert_eq!(
            &body[at..at + 6],
            &[key as u8, 0, 0, 0, max, 0],
            "API {key} at version 0..={max}"
        );
    }
    let decoded = ApiVersionsResponse::decode(&mut response.reader()).unwrap();
    assert_eq!(decoded, ApiVersionsResponse::current());
}

/// Found by the soak: each request read on a connection left one waker of
/// its reader task with the shutdown notification, until glommio's 16-bit
/// task reference count overflowed after about 32 767 requests ("Waker
/// invariant broken") and the connection stopped being served.
#[test]
fn one_connection_serves_forty_thousand_requests() {
    let dir = DataDir::new("many-requests");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    // One at a time: the broker's reader waits for each next request.
    for n in 0..40_000 {
        let response = client.call(ApiKey::ApiVersions, |_| {});
        assert_eq!(response.header.error_code, 0, "request {n}");
    }
}

#[test]
fn topics_are_created_listed_described_and_deleted() {
    let dir = DataDir::new("topics");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("orders", 6).header.error_code, 0);
    assert_eq!(client.create_topic("audit.log", 1).header.error_code, 0);

    let list = client.call(ApiKey::ListTopics, |_| {});
    let list = ListTopicsResponse::decode(&mut list.reader()).unwrap();
    assert_eq!(
        list.topics,
        vec![("audit.log".into(), 1), ("orders".into(), 6)]
    );

    let meta = client.call(ApiKey::Metadata, |b| {
        MetadataRequest {
            topics: vec!["orders".into(), "nope".into()],
        }
        .encode(b)
    });
    let meta = MetadataResponse::decode(&mut meta.reader()).unwrap();
    let cores = meta.cores.len();
    assert!(cores >= 1);
    assert!(meta
        .cores
        .iter()
        .all(|c| c.port != 0 && c.host == "127.0.0.1"));
    let orders = &meta.topics[0];
    assert_eq!(orders.error_code, 0);
    let expected: Vec<u16> = (0..6)
        .map(|p| shard_for("orders", p, cores) as u16)
        .collect();
    assert_eq!(
        orders.partition_cores, expected,
        "the documented ownership rule"
    );
    assert_eq!(meta.topics[1].error_code, ErrorCode::UnknownTopic as u16);

    let describe = client.call(ApiKey::DescribeTopic, |b| {
        TopicNameRequest {
            name: "orders".into(),
        }
        .encode(b)
    });
    let describe = DescribeTopicResponse::decode(&mut describe.reader()).unwrap();
    assert_eq!(describe.partitions.len(), 6);
    for (p, d) in describe.partitions.iter().enumerate() {
        assert_eq!(d.partition, p as u32);
        assert_eq!(d.core, expected[p]);
        assert_eq!(
            (d.error_code, d.earliest_offset, d.latest_offset),
            (0, 0, 0)
        );
    }

    assert_eq!(
        client
            .call(ApiKey::DeleteTopic, |b| TopicNameRequest {
                name: "orders".into()
            }
            .encode(b))
            .header
            .error_code,
        0
    );
    assert!(
        !dir.0.join("topics/orders").exists(),
        "a deleted topic's files are removed"
    );
    let list = client.call(ApiKey::ListTopics, |_| {});
    let list = ListTopicsResponse::decode(&mut list.reader()).unwrap();
    assert_eq!(list.topics, vec![("audit.log".into(), 1)]);
}

#[test]
fn topic_errors_have_stable_codes_and_leave_the_connection_usable() {
    let dir = DataDir::new("topic-errors");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("t", 2).header.error_code, 0);
    let cases: Vec<(&str, u32, ErrorCode)> = vec![
        ("t", 2, ErrorCode::TopicAlreadyExists),
        ("bad name", 1, ErrorCode::InvalidTopicName),
        ("..", 1, ErrorCode::InvalidTopicName),
        ("zero", 0, ErrorCode::InvalidTopicConfig),
    ];
    for (name, partitions, code) in cases {
        let response = client.create_topic(name, partitions);
        let (got, message) = response.error();
        assert_eq!(got, code as u16, "create {name:?}: {message}");
        assert!(!message.is_empty(), "errors carry a readable message");
    }
    let bad_segment = client.call(ApiKey::CreateTopic, |b| {
        CreateTopicRequest {
            name: "small".into(),
            settings: TopicSettings {
                partitions: 1,
                retention_ms: None,
                retention_bytes: None,
                segment_bytes: Some(10),
            },
        }
        .encode(b)
    });
    assert_eq!(
        bad_segment.header.error_code,
        ErrorCode::InvalidTopicConfig as u16
    );
    let describe = client.call(ApiKey::DescribeTopic, |b| {
        TopicNameRequest {
            name: "nope".into(),
        }
        .encode(b)
    });
    assert_eq!(describe.header.error_code, ErrorCode::UnknownTopic as u16);
    let delete = client.call(ApiKey::DeleteTopic, |b| {
        TopicNameRequest {
            name: "nope".into(),
        }
        .encode(b)
    });
    assert_eq!(delete.header.error_code, ErrorCode::UnknownTopic as u16);
    // Still usable.
    assert_eq!(client.create_topic("after", 1).header.error_code, 0);
}

/// A create that one core cannot carry out fails with a typed code and
/// leaves no trace: not in the map (live or on disk), no files, and the
/// same name can be created once the cause is gone. The failure is
/// injected on each core in turn: a plain file where the directory of a
/// partition that core owns must go makes opening it fail.
#[test]
fn a_topic_a_core_cannot_open_is_not_created_at_all() {
    let dir = DataDir::new("create-rollback");
    let mut broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let partitions = 4;
    for failing_core in [1, 0] {
        let name = format!("blocked-{failing_core}");
        let blocked = (0..partitions)
            .find(|p| shard_for(&name, *p, 2) == failing_core)
            .expect("a partition on that core");
        let topic_dir = dir.0.join("topics").join(&name);
        std::fs::create_dir_all(&topic_dir).unwrap();
        std::fs::write(topic_dir.join(blocked.to_string()), b"in the way").unwrap();

        let mut client = broker.connect();
        let (code, message) = client.create_topic(&name, partitions).error();
        assert_eq!(
            code,
            ErrorCode::PartitionFailed as u16,
            "core {failing_core}: {message}"
        );
        assert!(
            message.contains(&format!("{name}/{blocked}")),
            "the message names the partition: {message}"
        );
        let list = client.call(ApiKey::ListTopics, |_| {});
        let list = ListTopicsResponse::decode(&mut list.reader()).unwrap();
        assert!(
            list.topics.iter().all(|(t, _)| *t != name),
            "not listed: {list:?}"
        );
        let describe = client.call(ApiKey::DescribeTopic, |b| {
            TopicNameRequest { name: name.clone() }.encode(b)
        });
        assert_eq!(describe.header.error_code, ErrorCode::UnknownTopic as u16);
        let meta = std::fs::read_to_string(dir.0.join("topics.meta")).unwrap();
        assert!(
            !meta.lines().any(|l| l.starts_with(&format!("{name} "))),
            "not in topics.meta: {meta}"
        );
        assert!(!topic_dir.exists(), "its files are removed");

        // Nothing is left in the way: the same name can be created, on
        // every core, and it survives a restart.
        assert_eq!(client.create_topic(&name, partitions).header.error_code, 0);
        drop(client);
        broker.terminate();
        broker = Broker::start_with(&dir.0, &["--cores", "2"]);
        let mut client = broker.connect();
        let list = client.call(ApiKey::ListTopics, |_| {});
        let list = ListTopicsResponse::decode(&mut list.reader()).unwrap();
        assert!(
            list.topics.contains(&(name.clone(), partitions)),
            "{list:?}"
        );
    }
}
