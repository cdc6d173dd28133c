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
    InitProducerIdRequest, MetadataRequest, ProduceRequest, ProducerId, RequestHeader, RequestKind,
    ResponseHeader, ResponseKind, TopicName, TransactionalId,
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

/// A batch of `count` records from an idempotent producer.
fn idempotent_batch(producer_id: i64, epoch: i16, sequence: i32, count: i32) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: sequence + i,
            timestamp: 1_700_000_000_123,
            key: None,
            value: Some(Bytes::from(format!("seq {}", sequence + i))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
    buf.freeze()
}

/// Produces at `version`; the partition's (error code, base offset).
fn produce_one(client: &mut KafkaClient, version: i16, topic: &str, records: Bytes) -> (i16, i64) {
    match client.call(
        ApiKey::Produce,
        version,
        produce_request(topic, 0, -1, records),
    ) {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("{other:?}"),
    }
}

fn init_producer_id(
    client: &mut KafkaClient,
    version: i16,
    request: InitProducerIdRequest,
) -> (i16, i64, i16) {
    match client.call(
        ApiKey::InitProducerId,
        version,
        RequestKind::InitProducerId(request),
    ) {
        ResponseKind::InitProducerId(r) => (r.error_code, r.producer_id.0, r.producer_epoch),
        other => panic!("{other:?}"),
    }
}

/// InitProducerId, then the sequence rules at the wire: a resent batch
/// gets its original offset and adds no record, a gap gets
/// OUT_OF_ORDER_SEQUENCE_NUMBER (45), an older epoch
/// INVALID_PRODUCER_EPOCH (47); a transactional id is refused.
#[test]
fn idempotent_produce_dedupes_retries_and_refuses_gaps() {
    let dir = DataDir::new("kafka-idempotent");
    let broker = Broker::start_with(&dir.0, &["--cores", "1"]);
    let mut client = KafkaClient::connect(broker.kafka.unwrap());
    metadata(&mut client, "idem"); // auto-creates it
    let init = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let (error, id, epoch) = init_producer_id(&mut client, 4, init.clone());
    assert_eq!((error, epoch), (0, 0));
    assert!(id >= 0);
    let (_, other, _) = init_producer_id(&mut client, 0, init.clone());
    assert_ne!(other, id, "a new producer gets a new id");
    // Flexible versions (2+) and the KIP-360 bump of a known id.
    let (error, same, bumped) = init_producer_id(
        &mut client,
        3,
        init.clone()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
    );
    assert_eq!((error, same, bumped), (0, id, 1));
    let (error, ..) = init_producer_id(
        &mut client,
        5,
        init.with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("tx")))),
    );
    assert_eq!(error, 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED");

    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 0, 0, 3)),
        (0, 0)
    );
    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 0, 3, 2)),
        (0, 3)
    );
    // Both resent (a retry after a lost response): the original offsets.
    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 0, 0, 3)),
        (0, 0)
    );
    assert_eq!(
        produce_one(&mut client, 12, "idem", idempotent_batch(id, 0, 3, 2)),
        (0, 3)
    );
    // A gap.
    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 0, 6, 1)).0,
        45
    );
    // The bumped epoch starts over at 0; the old one is fenced.
    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 1, 0, 1)),
        (0, 5)
    );
    assert_eq!(
        produce_one(&mut client, 9, "idem", idempotent_batch(id, 0, 5, 1)).0,
        47
    );
    // No record was added by the retries.
    let fetched = client.call(ApiKey::Fetch, 12, fetch_request("idem", 0, 0));
    let ResponseKind::Fetch(fetched) = fetched else {
        panic!("{fetched:?}")
    };
    let data = &fetched.responses[0].partitions[0];
    assert_eq!(data.high_watermark, 6);
    let records: Vec<_> = RecordBatchDecoder::decode_all(&mut data.records.clone().unwrap())
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .collect();
    assert_eq!(records.len(), 6);
    assert_eq!(records[4].value.as_deref(), Some(&b"seq 4"[..]));
    assert_eq!((records[4].producer_id, records[4].sequence), (id, 4));
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

mod groups {
    //! The classic group protocol at the wire: the two-step join, a
    //! follower's SyncGroup held until the leader's, commits, and a group
    //! used by one protocol at a time.

    use super::*;
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
    use kafka_protocol::messages::{
        FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
        OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
    };
    use kafka_protocol::ResponseError;
    use shardlog::protocol::groups::JoinGroupRequest as NativeJoin;
    use shardlog::protocol::ApiKey as NativeApi;

    const GROUP: &str = "kafka-wire-group";

    fn str(s: &str) -> StrBytes {
        StrBytes::from_string(s.to_string())
    }

    fn join_request(member_id: &str) -> RequestKind {
        RequestKind::JoinGroup(
            JoinGroupRequest::default()
                .with_group_id(GroupId(str(GROUP)))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(str(member_id))
                .with_protocol_type(str("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(str("range"))
                    .with_metadata(Bytes::from(format!("meta of {member_id}")))]),
        )
    }

    fn join(client: &mut KafkaClient, member_id: &str) -> JoinGroupResponse {
        match client.call(ApiKey::JoinGroup, 9, join_request(member_id)) {
            ResponseKind::JoinGroup(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Joins a new member in two steps (v4+): MEMBER_ID_REQUIRED, then
    /// with the id; sends the second join only, returning the id.
    fn start_join(client: &mut KafkaClient) -> String {
        let first = join(client, "");
        assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
        assert!(!first.member_id.is_empty());
        let id = first.member_id.to_string();
        client.send(ApiKey::JoinGroup, 9, &join_request(&id));
        id
    }

    fn receive_join(client: &mut KafkaClient) -> JoinGroupResponse {
        let (_, mut body) = client.receive(ApiKey::JoinGroup, 9);
        match ResponseKind::decode(ApiKey::JoinGroup, &mut body, 9).unwrap() {
            ResponseKind::JoinGroup(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn sync_request(member_id: &str, generation: i32, assignments: &[(&str, &str)]) -> RequestKind {
        RequestKind::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(str(GROUP)))
                .with_generation_id(generation)
                .with_member_id(str(member_id))
                .with_protocol_type(Some(str("consumer")))
                .with_protocol_name(Some(str("range")))
                .with_assignments(
                    assignments
                        .iter()
                        .map(|(m, a)| {
                            SyncGroupRequestAssignment::default()
                                .with_member_id(str(m))
                                .with_assignment(Bytes::from(a.to_string()))
                        })
                        .collect(),
                ),
        )
    }

    fn heartbeat(client: &mut KafkaClient, member_id: &str, generation: i32) -> i16 {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str(GROUP)))
            .with_member_id(str(member_id))
            .with_generation_id(generation);
        match client.call(ApiKey::Heartbeat, 4, RequestKind::Heartbeat(request)) {
            ResponseKind::Heartbeat(r) => r.error_code,
            other => panic!("{other:?}"),
        }
    }

    /// Whether a response is waiting on the connection.
    fn has_response(client: &mut KafkaClient) -> bool {
        client.stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let ready = client.stream.peek(&mut byte).is_ok();
        client.stream.set_nonblocking(false).unwrap();
        ready
    }

    #[test]
    fn a_two_step_join_a_follower_waiting_for_the_leader_and_a_commit() {
        let dir = DataDir::new("kafka-groups-wire");
        let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
        let mut bootstrap = KafkaClient::connect(broker.kafka.unwrap());
        let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(str("grouped")))
            .with_num_partitions(2)
            .with_replication_factor(-1)]);
        bootstrap.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create));

        // FindCoordinator v4 (batched keys) names the coordinator core's port.
        let find = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![str(GROUP)]);
        let ResponseKind::FindCoordinator(found) = bootstrap.call(
            ApiKey::FindCoordinator,
            4,
            RequestKind::FindCoordinator(find),
        ) else {
            panic!()
        };
        let coordinator = &found.coordinators[0];
        assert_eq!(coordinator.error_code, 0);
        assert_eq!(
            coordinator.node_id.0 as usize,
            shardlog::group_logic::coordinator_core(GROUP, 2)
        );
        let addr: SocketAddr = format!("{}:{}", coordinator.host.as_str(), coordinator.port)
            .parse()
            .unwrap();
        let (mut a, mut b) = (KafkaClient::connect(addr), KafkaClient::connect(addr));

        // a alone: generation 1, its own leader.
        let a_id = start_join(&mut a);
        let joined = receive_join(&mut a);
        assert_eq!((joined.error_code, joined.generation_id), (0, 1));
        assert_eq!(joined.leader.as_str(), a_id);
        assert_eq!(joined.members.len(), 1);
        let ResponseKind::SyncGroup(synced) = a.call(
            ApiKey::SyncGroup,
            5,
            sync_request(&a_id, 1, &[(&a_id, "all of it")]),
        ) else {
            panic!()
        };
        assert_eq!(synced.assignment.as_ref(), b"all of it");
        assert_eq!(synced.protocol_name.as_deref(), Some("range"));
        assert_eq!(heartbeat(&mut a, &a_id, 1), 0);

        // b joins: its join waits until a joins again.
        let b_id = start_join(&mut b);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!has_response(&mut b), "b waits for a");
        assert_eq!(
            heartbeat(&mut a, &a_id, 1),
            ResponseError::RebalanceInProgress.code()
        );
        let leader = join(&mut a, &a_id);
        let follower = receive_join(&mut b);
        assert_eq!((leader.generation_id, follower.generation_id), (2, 2));
        assert_eq!(leader.members.len(), 2, "the leader gets the members");
        assert!(follower.members.is_empty(), "a follower does not");
        assert_eq!(follower.leader.as_str(), a_id);

        // b's SyncGroup is held until the leader's arrives.
        b.send(ApiKey::SyncGroup, 5, &sync_request(&b_id, 2, &[]));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!has_response(&mut b), "b waits for the leader's assignment");
        a.call(
            ApiKey::SyncGroup,
            5,
            sync_request(&a_id, 2, &[(&a_id, "p0"), (&b_id, "p1")]),
        );
        let (_, mut body) = b.receive(ApiKey::SyncGroup, 5);
        let ResponseKind::SyncGroup(synced) =
            ResponseKind::decode(ApiKey::SyncGroup, &mut body, 5).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (synced.error_code, synced.assignment.as_ref()),
            (0, &b"p1"[..])
        );

        // A commit by b in generation 2 reads back with its metadata; one
        // from a past generation is refused.
        let commit = |generation: i32| {
            RequestKind::OffsetCommit(
                OffsetCommitRequest::default()
                    .with_group_id(GroupId(str(GROUP)))
                    .with_generation_id_or_member_epoch(generation)
                    .with_member_id(str(&b_id))
                    .with_topics(vec![OffsetCommitRequestTopic::default()
                        .with_name(TopicName(str("grouped")))
                        .with_partitions(vec![OffsetCommitRequestPartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(42)
                            .with_committed_metadata(Some(str("note")))])]),
            )
        };
        let ResponseKind::OffsetCommit(committed) = b.call(ApiKey::OffsetCommit, 9, commit(2))
        else {
            panic!()
        };
        assert_eq!(committed.topics[0].partitions[0].error_code, 0);
        let ResponseKind::OffsetCommit(stale) = b.call(ApiKey::OffsetCommit, 9, commit(1)) else {
            panic!()
        };
        assert_eq!(
            stale.topics[0].partitions[0].error_code,
            ResponseError::IllegalGeneration.code()
        );
        let fetch =
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(str(GROUP)))
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(TopicName(str("grouped")))
                    .with_partition_indexes(vec![0, 1])]))]);
        let ResponseKind::OffsetFetch(fetched) =
            bootstrap.call(ApiKey::OffsetFetch, 9, RequestKind::OffsetFetch(fetch))
        else {
            panic!()
        };
        let partitions = &fetched.groups[0].topics[0].partitions;
        assert_eq!(partitions[0].committed_offset, -1, "never committed");
        assert_eq!(partitions[1].committed_offset, 42);
        assert_eq!(partitions[1].metadata.as_deref(), Some("note"));

        // The group is Kafka's while it has Kafka members: a native join
        // is refused.
        let mut native = broker.connect();
        let refused = native.call(NativeApi::JoinGroup, |buf| {
            NativeJoin {
                group: GROUP.into(),
                member_id: String::new(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 10_000,
                strategy: "range".into(),
                topics: vec!["grouped".into()],
            }
            .encode(buf)
        });
        assert_eq!(
            refused.error().0,
            shardlog::error::ErrorCode::InconsistentGroupStrategy as u16
        );
    }
}
