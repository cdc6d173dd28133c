//! A tiny fake broker for client tests: std listeners on 127.0.0.1:0, one
//! thread per connection, frames read and written with the shared codec.
//! `FakeBroker` keeps an in-memory log per partition and answers Metadata,
//! Produce, Fetch, ListOffsets and InitProducer like the real one would
//! (an idempotent producer's retried batch gets its first offset, not a
//! second copy); a test can make it refuse, drop connections, stay silent,
//! or write a produce and lose its answer.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use bytes::{Bytes, BytesMut};

use shardlog::batch::{validate, Batch, ProducerFields};
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::error::ErrorCode;
use shardlog::protocol::fetch::{FetchPartitionResponse, FetchResponse};
use shardlog::protocol::frame::{self, FrameCheck, REQUEST_HEADER_BYTES};
use shardlog::protocol::metadata::{
    ApiVersionsResponse, CoreAddress, MetadataResponse, TopicMetadata,
};
use shardlog::protocol::offsets::{ListOffsetsResponse, OffsetSpec, PartitionOffset};
use shardlog::protocol::produce::{Acks, ProducePartitionResponse, ProduceResponse, NO_OFFSET};
use shardlog::protocol::producer::InitProducerResponse;
use shardlog::protocol::topics::{
    DescribeTopicResponse, ListTopicsResponse, PartitionDescription, TopicSettings,
};
use shardlog::protocol::{Request, RequestHeader, ResponseHeader};

/// Reads one request frame; `None` at end of stream.
pub fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Option<(RequestHeader, BytesMut)> {
    loop {
        match frame::check(buf, 64 << 20, REQUEST_HEADER_BYTES) {
            FrameCheck::Complete { len } => {
                let frame = buf.split_to(len);
                return Some((
                    RequestHeader::decode(&frame).expect("a whole header"),
                    frame,
                ));
            }
            FrameCheck::Incomplete { .. } => {
                let mut chunk = [0u8; 64 << 10];
                let n = stream.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            other => panic!("fake broker got a bad frame: {other:?}"),
        }
    }
}

/// A whole response frame with `body`.
pub fn response_frame(correlation_id: u32, body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    let start = ResponseHeader {
        correlation_id,
        error_code: 0,
    }
    .begin(&mut buf);
    buf.extend_from_slice(body);
    frame::finish_frame(&mut buf, start);
    buf
}

/// What the fake broker does with one request.
pub enum Reply {
    /// Answer like a broker.
    Normal,
    /// Answer the whole request with this error.
    Error(ErrorCode, String),
    /// Answer a produce with this error for every partition.
    PartitionError(ErrorCode),
    /// Close the connection without answering.
    Close,
    /// Handle the request like `Normal`, then close the connection
    /// without sending the answer: a produce written and its answer lost.
    AnswerLost,
}

/// Decides the reply to a request; sees the listener index and request.
pub type Policy = Box<dyn FnMut(usize, &Request) -> Reply + Send>;

#[derive(Default)]
pub struct State {
    /// Per (topic, partition): the stamped batches.
    pub logs: HashMap<(String, u32), Vec<Bytes>>,
    /// Per listener index, the (topic, partition) of every produced batch.
    pub produced_on: Vec<Vec<(String, u32)>>,
    /// Every request's API key, per listener.
    pub requests_on: Vec<Vec<u16>>,
    /// Every produced batch's producer block (version 2), in arrival order,
    /// retries included.
    pub producer_blocks: Vec<(String, u32, ProducerFields)>,
    /// Per (topic, partition, producer id, epoch, base sequence): the base
    /// offset that batch got, to answer a retry with it.
    pub sequences: HashMap<(String, u32, i64, i16, i32), u64>,
    /// Per (topic, partition, producer id, epoch): the sequence the next
    /// batch must start at; another is `OutOfOrderSequence`.
    pub next_sequence: HashMap<(String, u32, i64, i16), i32>,
    /// Producer ids handed out.
    pub producer_ids: i64,
}

pub struct FakeBroker {
    /// `HOST:PORT` of each listener; listener 0 is the bootstrap.
    pub addrs: Vec<String>,
    pub state: Arc<Mutex<State>>,
}

/// The topic layout the fake serves: name → owner core of each partition.
pub type Topics = Vec<(String, Vec<u16>)>;

impl FakeBroker {
    /// Starts `listeners` listeners; core `i` is listener `i`'s port, and
    /// `extra_cores` adds cores at ports where nothing listens.
    pub fn start(
        listeners: usize,
        extra_cores: &[(u16, u16)],
        topics: Topics,
        policy: Policy,
    ) -> FakeBroker {
        let bound: Vec<TcpListener> = (0..listeners)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let addrs: Vec<String> = bound
            .iter()
            .map(|l| l.local_addr().unwrap().to_string())
            .collect();
        let mut cores: Vec<CoreAddress> = bound
            .iter()
            .enumerate()
            .map(|(i, l)| CoreAddress {
                core: i as u16,
                host: "127.0.0.1".into(),
                port: l.local_addr().unwrap().port(),
            })
            .collect();
        for &(core, port) in extra_cores {
            cores.push(CoreAddress {
                core,
                host: "0.0.0.0".into(),
                port,
            });
        }
        let state = Arc::new(Mutex::new(State {
            produced_on: vec![Vec::new(); listeners],
            requests_on: vec![Vec::new(); listeners],
            ..State::default()
        }));
        let policy = Arc::new(Mutex::new(policy));
        let shared = Arc::new((cores, topics));
        for (index, listener) in bound.into_iter().enumerate() {
            let state = state.clone();
            let policy = policy.clone();
            let shared = shared.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let state = state.clone();
                    let policy = policy.clone();
                    let shared = shared.clone();
                    thread::spawn(move || {
                        serve(index, stream, &state, &policy, &shared.0, &shared.1)
                    });
                }
            });
        }
        FakeBroker { addrs, state }
    }

    /// The values of a partition's records, in offset order.
    pub fn values(&self, topic: &str, partition: u32) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let Some(batches) = state.logs.get(&(topic.to_string(), partition)) else {
            return Vec::new();
        };
        batches
            .iter()
            .flat_map(|b| {
                let batch = Batch::decode(b.clone(), BATCH_BYTES_MAX).unwrap();
                batch
                    .records()
                    .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A port on which nothing listens (bound, then closed).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn next_offset(log: &[Bytes]) -> u64 {
    log.last().map_or(0, |b| {
        Batch::decode(b.clone(), BATCH_BYTES_MAX)
            .unwrap()
            .header
            .next_offset()
    })
}

fn serve(
    index: usize,
    mut stream: TcpStream,
    state: &Mutex<State>,
    policy: &Mutex<Policy>,
    cores: &[CoreAddress],
    topics: &Topics,
) {
    let mut buf = BytesMut::new();
    while let Some((header, frame)) = read_request(&mut stream, &mut buf) {
        state.lock().unwrap().requests_on[index].push(header.api_key);
        let request = Request::decode(&header, frame).expect("the client sends valid requests");
        let reply = (policy.lock().unwrap())(index, &request);
        let corr = header.correlation_id;
        let out = match reply {
            Reply::Close => return,
            Reply::Error(code, message) => frame::error_response(corr, code, &message),
            Reply::Normal => answer(index, request, None, state, cores, topics, corr),
            Reply::AnswerLost => {
                answer(index, request, None, state, cores, topics, corr);
                return;
            }
            Reply::PartitionError(code) => {
                answer(index, request, Some(code), state, cores, topics, corr)
            }
        };
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

fn answer(
    index: usize,
    request: Request,
    partition_error: Option<ErrorCode>,
    state: &Mutex<State>,
    cores: &[CoreAddress],
    topics: &Topics,
    corr: u32,
) -> BytesMut {
    let mut body = BytesMut::new();
    let mut state = state.lock().unwrap();
    match request {
        Request::Metadata(req) => {
            let wanted = |name: &str| req.topics.is_empty() || req.topics.iter().any(|t| t == name);
            let mut listed: Vec<TopicMetadata> = topics
                .iter()
                .filter(|(name, _)| wanted(name))
                .map(|(name, owners)| TopicMetadata {
                    name: name.clone(),
                    error_code: 0,
                    partition_cores: owners.clone(),
                })
                .collect();
            for name in &req.topics {
                if !topics.iter().any(|(t, _)| t == name) {
                    listed.push(TopicMetadata {
                        name: name.clone(),
                        error_code: ErrorCode::UnknownTopic as u16,
                        partition_cores: vec![],
                    });
                }
            }
            MetadataResponse {
                cores: cores.to_vec(),
                topics: listed,
            }
            .encode(&mut body);
        }
        Request::Produce(req) => {
            let acks = req.acks;
            let mut response = ProduceResponse::default();
            for topic in req.topics {
                let mut answers = Vec::new();
                for mut p in topic.partitions {
                    let key = (topic.name.clone(), p.partition);
                    if let Some(code) = partition_error {
                        let valid = validate(&p.batch, BATCH_BYTES_MAX).expect("valid batch");
                        if let Some(fields) = valid.header.producer {
                            state.producer_blocks.push((key.0.clone(), key.1, fields));
                        }
                        answers.push(ProducePartitionResponse {
                            partition: p.partition,
                            error_code: code as u16,
                            base_offset: NO_OFFSET,
                        });
                        continue;
                    }
                    let mut valid = validate(&p.batch, BATCH_BYTES_MAX).expect("valid batch");
                    let producer = valid.header.producer;
                    if let Some(fields) = producer {
                        state.producer_blocks.push((key.0.clone(), key.1, fields));
                    }
                    let sequence = producer.map(|f| {
                        let (topic, partition) = key.clone();
                        (
                            topic,
                            partition,
                            f.producer_id,
                            f.producer_epoch,
                            f.base_sequence,
                        )
                    });
                    if let Some(&first) = sequence.as_ref().and_then(|s| state.sequences.get(s)) {
                        // A retry of a batch already written.
                        answers.push(ProducePartitionResponse {
                            partition: p.partition,
                            error_code: 0,
                            base_offset: if acks == Acks::None { NO_OFFSET } else { first },
                        });
                        continue;
                    }
                    if let Some(f) = producer {
                        let id = (key.0.clone(), key.1, f.producer_id, f.producer_epoch);
                        let expected = state.next_sequence.get(&id).copied().unwrap_or(0);
                        if f.base_sequence != expected {
                            answers.push(ProducePartitionResponse {
                                partition: p.partition,
                                error_code: ErrorCode::OutOfOrderSequence as u16,
                                base_offset: NO_OFFSET,
                            });
                            continue;
                        }
                        let count = valid.header.record_count;
                        state
                            .next_sequence
                            .insert(id, f.last_sequence(count).wrapping_add(1));
                    }
                    let log = state.logs.entry(key.clone()).or_default();
                    let base = next_offset(log);
                    valid.stamp(&mut p.batch, base, 1_700_000_000_000);
                    log.push(p.batch.freeze());
                    state.produced_on[index].push(key);
                    if let Some(sequence) = sequence {
                        state.sequences.insert(sequence, base);
                    }
                    answers.push(ProducePartitionResponse {
                        partition: p.partition,
                        error_code: 0,
                        // Acks none: the broker does not wait to know it.
                        base_offset: if acks == Acks::None { NO_OFFSET } else { base },
                    });
                }
                response.topics.push((topic.name, answers));
            }
            response.encode(&mut body);
        }
        Request::Fetch(req) => {
            let mut response = FetchResponse::default();
            for (topic, partitions) in req.topics {
                let mut answers = Vec::new();
                for p in partitions {
                    let log = state
                        .logs
                        .get(&(topic.clone(), p.partition))
                        .cloned()
                        .unwrap_or_default();
                    let high_watermark = next_offset(&log);
                    let mut batches = Vec::new();
                    let mut bytes = 0;
                    for b in log {
                        let header = Batch::decode(b.clone(), BATCH_BYTES_MAX).unwrap().header;
                        if header.next_offset() <= p.offset {
                            continue;
                        }
                        if !batches.is_empty() && bytes + b.len() > p.max_bytes as usize {
                            break;
                        }
                        bytes += b.len();
                        batches.push(b);
                    }
                    answers.push(FetchPartitionResponse {
                        partition: p.partition,
                        error_code: if p.offset > high_watermark {
                            ErrorCode::OffsetOutOfRange as u16
                        } else {
                            0
                        },
                        high_watermark,
                        log_start_offset: 0,
                        records: batches,
                    });
                }
                response.topics.push((topic, answers));
            }
            response.encode(&mut body);
        }
        Request::ListOffsets(req) => {
            let mut response = ListOffsetsResponse::default();
            for (topic, partitions) in req.topics {
                let answers = partitions
                    .into_iter()
                    .map(|(partition, spec)| {
                        let log = state
                            .logs
                            .get(&(topic.clone(), partition))
                            .cloned()
                            .unwrap_or_default();
                        let offset = match spec {
                            OffsetSpec::Earliest => 0,
                            OffsetSpec::Latest => next_offset(&log),
                            OffsetSpec::Timestamp(_) => next_offset(&log),
                        };
                        PartitionOffset {
                            partition,
                            error_code: 0,
                            offset,
                        }
                    })
                    .collect();
                response.topics.push((topic, answers));
            }
            response.encode(&mut body);
        }
        Request::CreateTopic(_) | Request::DeleteTopic(_) => {}
        Request::Stats => shardlog::protocol::stats::StatsResponse::default().encode(&mut body),
        Request::Group(_) => {
            return frame::error_response(corr, ErrorCode::UnknownApiKey, "no groups here");
        }
        Request::ListTopics => ListTopicsResponse {
            topics: topics
                .iter()
                .map(|(name, owners)| (name.clone(), owners.len() as u32))
                .collect(),
        }
        .encode(&mut body),
        Request::DescribeTopic(req) => {
            let Some((name, owners)) = topics.iter().find(|(name, _)| *name == req.name) else {
                return frame::error_response(corr, ErrorCode::UnknownTopic, "no such topic");
            };
            DescribeTopicResponse {
                name: name.clone(),
                settings: TopicSettings {
                    partitions: owners.len() as u32,
                    retention_ms: Some(60_000),
                    retention_bytes: None,
                    segment_bytes: None,
                },
                partitions: owners
                    .iter()
                    .enumerate()
                    .map(|(p, &core)| {
                        let log = state
                            .logs
                            .get(&(name.clone(), p as u32))
                            .cloned()
                            .unwrap_or_default();
                        PartitionDescription {
                            partition: p as u32,
                            core,
                            error_code: 0,
                            earliest_offset: 0,
                            latest_offset: next_offset(&log),
                            size_bytes: log.iter().map(|b| b.len() as u64).sum(),
                        }
                    })
                    .collect(),
            }
            .encode(&mut body);
        }
        Request::ApiVersions => ApiVersionsResponse::current().encode(&mut body),
        Request::InitProducer(_) => {
            state.producer_ids += 1;
            InitProducerResponse {
                producer_id: 1000 + state.producer_ids,
                producer_epoch: 0,
            }
            .encode(&mut body);
        }
    }
    response_frame(corr, &body)
}
