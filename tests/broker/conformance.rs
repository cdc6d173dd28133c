//! The broker does what docs/PROTOCOL.md says, on the points a client
//! written from the spec alone found different (issue 12, part 5): the
//! versions and limits ApiVersions lists, the order of decode checks, topic
//! settings as described, the fetch byte limits, and group generations.

use shardlog::client::{Admin, ConnectionConfig};
use shardlog::error::ErrorCode;
use shardlog::protocol::metadata::{ApiVersionsResponse, BrokerLimits};
use shardlog::protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, TopicNameRequest, TopicSettings,
};
use shardlog::protocol::ApiKey;

use crate::common::{Broker, Client, DataDir};

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
    assert_eq!(decoded.apis.len(), 18, "keys 0 to 17");

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
    let big = crate::common::batch(&"x".repeat(150_000), 2);
    assert!(big.len() > 500_000, "far above a 4096-byte segment");
    let produced = crate::data::produce(
        &mut client,
        "fits",
        vec![(0, big)],
        shardlog::protocol::produce::Acks::Durable,
    );
    assert_eq!(produced.topics[0].1[0].error_code, 0);
}
