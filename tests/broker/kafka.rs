//! The Kafka front door at the wire, with the `kafka-protocol` crate's
//! encoders as the client: each core is a broker leading the partitions
//! it owns, ApiVersions at an unknown version, acks=0, malformed frames,
//! and the two protocols' ports mixed up. Real Kafka clients (librdkafka,
//! kafka-python, Java, kcat) are exercised by tests/kafka (scripts/test.sh).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, FetchRequest,
    MetadataRequest, ProduceRequest, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use shardlog::router::shard_for;

use crate::common::{Broker, DataDir};

/// A raw Kafka connection.
struct KafkaClient {
    stream: TcpStream,
    next_id: i32,
}

impl KafkaClient {
    fn connect(addr: SocketAddr) -> KafkaClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        KafkaClient { stream, next_id: 1 }
    }

    /// Sends a request without reading its response; its correlation id.
    fn send(&mut self, api: ApiKey, version: i16, request: &RequestKind) -> i32 {
        self.send_as(api, version, version, request)
    }

    /// Sends `request` encoded at `body_version` under a header that says
    /// `version` (to send a version the codec does not know).
    fn send_as(
        &mut self,
        api: ApiKey,
        version: i16,
        body_version: i16,
        request: &RequestKind,
    ) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(StrBytes::from_static_str("shardlog-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(body_version))
            .unwrap();
        request.encode(&mut body, body_version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.put_slice(&body);
        self.stream.write_all(&frame).unwrap();
        id
    }

    /// Reads one response frame: its correlation id and body.
    fn receive(&mut self, api: ApiKey, version: i16) -> (i32, Bytes) {
        let mut length = [0u8; 4];
        self.stream.read_exact(&mut length).unwrap();
        let mut frame = vec![0u8; i32::from_be_bytes(length) as usize];
        self.stream.read_exact(&mut frame).unwrap();
        let mut frame = Bytes::from(frame);
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        (header.correlation_id, frame)
    }

    fn call(&mut self, api: ApiKey, version: i16, request: RequestKind) -> ResponseKind {
        let id = self.send(api, version, &request);
        let (got, mut body) = self.receive(api, version);
        assert_eq!(got, id, "responses come in request order");
        ResponseKind::decode(api, &mut body, version).unwrap()
    }

    /// Whether the broker closed this connection (within the timeout).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}

fn metadata(client: &mut KafkaClient, topic: &str) -> kafka_protocol::messages::MetadataResponse {
    let request = MetadataRequest::default().with_topics(Some(vec![
        kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(topic.into())))),
    ]));
    match client.call(ApiKey::Metadata, 12, RequestKind::Metadata(request)) {
        ResponseKind::Metadata(m) => m,
        other => panic!("{other:?}"),
    }
}

fn batch(key: &str, value: &str) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1_700_000_000_123,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::Lz4,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).unwrap();
    buf.freeze()
}

fn produce_request(topic: &str, partition: i32, acks: i16, records: Bytes) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]),
    )
}

/// A fetch that waits up to 10 s for a first byte.
fn fetch_request(topic: &str, partition: i32, offset: i64) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_max_wait_ms(10_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]),
    )
}

#[test]
fn each_core_is_a_kafka_broker_leading_the_partitions_it_owns() {
    let dir = DataDir::new("kafka-leaders");
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let mut bootstrap = KafkaClient::connect(broker.kafka.expect("Kafka is on by default"));
    let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_static_str("leaders")))
        .with_num_partitions(8)
        .with_replication_factor(-1)]);
    match bootstrap.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create)) {
        ResponseKind::CreateTopics(r) => assert_eq!(r.topics[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    let meta = metadata(&mut bootstrap, "leaders");
    let cores = meta.brokers.len();
    assert_eq!(cores, 2, "one Kafka broker per core");
    let topic = &meta.topics[0];
    assert_eq!(topic.partitions.len(), 8);
    for partition in &topic.partitions {
        let owner = shard_for("leaders", partition.partition_index as u32, cores);
        assert_eq!(partition.leader_id.0, owner as i32);
        // Each partition produced and fetched through its leader's port.
        let leader = meta
            .brokers
            .iter()
            .find(|b| b.node_id == partition.leader_id)
            .unwrap();
        let addr: SocketAddr = format!("{}:{}", leader.host.as_str(), leader.port)
            .parse()
            .unwrap();
        let mut client = KafkaClient::connect(addr);
        let value = format!("to partition {}", partition.partition_index);
        let produced = client.call(
            ApiKey::Produce,
            9,
            produce_request("leaders", partition.partition_index, -1, batch("k", &value)),
        );
        let ResponseKind::Produce(produced) = produced else {
            panic!("{produced:?}")
        };
        let answer = &produced.responses[0].partition_responses[0];
        assert_eq!((answer.error_code, answer.base_offset), (0, 0));
        let fetched = client.call(
            ApiKey::Fetch,
            12,
            fetch_request("leaders", partition.partition_index, 0),
        );
        let ResponseKind::Fetch(fetched) = fetched else {
            panic!("{fetched:?}")
        };
        let data = &fetched.responses[0].partitions[0];
        assert_eq!((data.error_code, data.high_watermark), (0, 1));
        let mut records = data.records.clone().unwrap();
        let set = RecordBatchDecoder::decode(&mut records).unwrap();
        assert_eq!(set.records[0].value.as_deref(), Some(value.as_bytes()));
        assert_eq!(set.records[0].timestamp, 1_700_000_000_123);
    }
}

#[test]
fn an_unknown_api_versions_version_gets_a_v0_answer_listing_what_is_served() {
    let dir = DataDir::new("kafka-api-versions");
    let broker = Broker::start(&dir.0);
    let mut client = KafkaClient::connect(broker.kafka.unwrap());
    let id = client.send_as(
        ApiKey::ApiVersions,
        99,
        3,
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    // Answered with a v0 header and a v0 body.
    let (got, mut body) = client.receive(ApiKey::ApiVersions, 0);
    assert_eq!(got, id);
    let answer = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(answer.error_code, 35, "UNSUPPORTED_VERSION");
    let produce = answer
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .expect("Produce is listed");
    assert!(produce.min_version <= 3 && produce.max_version >= 9);
    // The connection stays usable, at a listed version.
    match client.call(
        ApiKey::ApiVersions,
        3,
        RequestKind::ApiVersions(ApiVersionsRequest::default()),
    ) {
        ResponseKind::ApiVersions(r) => assert_eq!(r.error_code, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn acks_zero_gets_no_response_and_its_records_land() {
    let dir = DataDir::new("kafka-acks-zero");
    let broker = Broker::start_with(&dir.0, &["--cores", "1"]);
    let mut client = KafkaClient::connect(broker.kafka.unwrap());
    metadata(&mut client, "quiet"); // auto-creates it
    client.send(
        ApiKey::Produce,
        9,
        &produce_request("quiet", 0, 0, batch("k", "unanswered")),
    );
    // The next response on the connection is the next request's.
    let fetch = fetch_request("quiet", 0, 0);
    let id = client.send(ApiKey::Fetch, 12, &fetch);
    let (got, mut body) = client.receive(ApiKey::Fetch, 12);
    assert_eq!(got, id, "acks=0 produced no response");
    let ResponseKind::Fetch(fetched) = ResponseKind::decode(ApiKey::Fetch, &mut body, 12).unwrap()
    else {
        panic!()
    };
    assert_eq!(fetched.responses[0].partitions[0].high_watermark, 1);
}

#[test]
fn malformed_kafka_frames_close_only_their_connection_and_mixed_up_ports_are_logged() {
    let dir = DataDir::new("kafka-malformed");
    let broker = Broker::start(&dir.0);
    let kafka = broker.kafka.unwrap();
    let mut kept = KafkaClient::connect(kafka);
    metadata(&mut kept, "kept");
    for garbage in [
        // An unknown API key.
        vec![0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1],
        // A Produce whose body does not decode.
        vec![0, 0, 0, 12, 0, 0, 0, 9, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff],
        // A negative length.
        vec![0xff, 0xff, 0xff, 0xf0],
        // A native shardlog frame (little-endian length) on the Kafka port.
        vec![12, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        let mut bad = KafkaClient::connect(kafka);
        bad.stream.write_all(&garbage).unwrap();
        assert!(bad.is_closed(), "{garbage:?} closed its connection");
    }
    // A Kafka client on the native port.
    let mut lost = KafkaClient::connect(broker.addr);
    lost.send(
        ApiKey::ApiVersions,
        3,
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    let mut reply = Vec::new();
    let _ = lost.stream.read_to_end(&mut reply);
    // The other connection never noticed.
    let meta = metadata(&mut kept, "kept");
    assert_eq!(meta.topics[0].error_code, 0);
    let (_, log) = broker.terminate();
    assert!(
        log.contains("a native shardlog client connected to the Kafka port"),
        "{log}"
    );
    assert!(
        log.contains("a Kafka client connected to the native protocol's port"),
        "{log}"
    );
    assert!(log.contains("unknown Kafka API key"), "{log}");
}

#[test]
fn kafka_off_serves_no_kafka_port() {
    let dir = DataDir::new("kafka-off");
    let broker = Broker::start_with(&dir.0, &["--kafka-listen", "off"]);
    assert_eq!(broker.kafka, None, "the ready file names no Kafka address");
}
