//! A request frame to its handler. The returned future yields the whole
//! response frame; whatever must happen in request order (queuing a
//! produce's appends) has happened when `dispatch` returns.

use std::rc::Rc;

use bytes::BytesMut;
use futures_lite::future;

use crate::config::{
    BrokerConfig, FETCH_BYTES_MAX, FETCH_WAIT_MS_MAX, PARTITIONS_MAX, REQUEST_PARTITIONS_MAX,
    RESPONSE_BUFFER_BYTES_INITIAL,
};
use crate::error::ErrorCode;
use crate::metrics::CoreSnapshot;
use crate::protocol::frame::{error_response, finish_frame, RequestHeader, ResponseHeader};
use crate::protocol::metadata::{
    ApiVersionsResponse, BrokerLimits, MetadataRequest, MetadataResponse, TopicMetadata,
};
use crate::protocol::producer::{InitProducerRequest, InitProducerResponse};
use crate::protocol::stats::{CoreStats, StatsResponse};
use crate::protocol::topics::{DescribeTopicResponse, ListTopicsResponse};
use crate::protocol::ApiKey;
use crate::protocol::Request;
use crate::router::shard_for;
use crate::shard::messages::{AdminResult, ShardMessage};
use crate::shard::notify::LocalFuture;
use crate::shard::{Shard, METADATA_CORE};
use crate::topics::TopicConfig;

/// A successful response frame whose body `encode` writes.
fn ok_response(correlation_id: u32, encode: impl FnOnce(&mut BytesMut)) -> BytesMut {
    let mut buf = BytesMut::with_capacity(RESPONSE_BUFFER_BYTES_INITIAL);
    let start = ResponseHeader {
        correlation_id,
        error_code: 0,
    }
    .begin(&mut buf);
    encode(&mut buf);
    finish_frame(&mut buf, start);
    buf
}

fn ready(frame: BytesMut) -> LocalFuture<BytesMut> {
    Box::pin(future::ready(frame))
}

pub async fn dispatch(
    shard: &Rc<Shard>,
    header: RequestHeader,
    frame: BytesMut,
) -> LocalFuture<BytesMut> {
    let id = header.correlation_id;
    let request = match Request::decode(&header, frame) {
        Ok(request) => request,
        Err(e) => return ready(error_response(id, e.code, &e.message)),
    };
    let partitions = request.partition_count();
    if partitions > REQUEST_PARTITIONS_MAX {
        let message =
            format!("request names {partitions} partitions; the limit is {REQUEST_PARTITIONS_MAX}");
        return ready(error_response(id, ErrorCode::RequestTooLarge, &message));
    }
    match request {
        Request::ApiVersions => {
            let limits = broker_limits(&shard.config);
            ready(ok_response(id, |b| {
                ApiVersionsResponse::at_version(header.api_version, limits).encode(b)
            }))
        }
        Request::Metadata(request) => {
            ready(ok_response(id, |b| metadata(shard, &request).encode(b)))
        }
        Request::ListTopics => {
            let topics = shard
                .partitions
                .topics()
                .iter()
                .map(|(n, t)| (n.clone(), t.partitions))
                .collect();
            ready(ok_response(id, |b| ListTopicsResponse { topics }.encode(b)))
        }
        Request::Produce(request) => {
            let batch_bytes = request
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.batch.len())
                .sum();
            shard.metrics.borrow_mut().on_produce_bytes(batch_bytes);
            let answer = shard.route_produce(request).await;
            Box::pin(async move {
                let response = answer.await;
                ok_response(id, |b| response.encode(b))
            })
        }
        Request::Fetch(request) => {
            let shard = shard.clone();
            Box::pin(async move {
                let response = shard.route_fetch(request).await;
                let batch_bytes = response
                    .topics
                    .iter()
                    .flat_map(|(_, partitions)| partitions)
                    .flat_map(|p| &p.records)
                    .map(|b| b.len())
                    .sum();
                shard.metrics.borrow_mut().on_fetch_bytes(batch_bytes);
                ok_response(id, |b| response.encode(b))
            })
        }
        Request::ListOffsets(request) => {
            let shard = shard.clone();
            Box::pin(async move {
                let response = shard.route_list_offsets(request).await;
                ok_response(id, |b| response.encode(b))
            })
        }
        Request::Stats => {
            let shard = shard.clone();
            Box::pin(async move {
                let cores = shard.gather_metrics(false).await;
                let response = StatsResponse {
                    cores: cores.iter().map(core_stats).collect(),
                };
                ok_response(id, |b| response.encode(b))
            })
        }
        Request::DescribeTopic(request) => {
            let Some(config) = shard.partitions.topics().get(&request.name).cloned() else {
                let message = format!("topic {} does not exist", request.name);
                return ready(error_response(id, ErrorCode::UnknownTopic, &message));
            };
            let shard = shard.clone();
            Box::pin(async move {
                let partitions = shard.route_describe(&request.name, config.partitions).await;
                let response = DescribeTopicResponse {
                    name: request.name,
                    settings: config.settings(),
                    partitions,
                };
                ok_response(id, |b| response.encode(b))
            })
        }
        Request::Group(request) => {
            let shard = shard.clone();
            Box::pin(async move {
                match shard.route_group(request).await {
                    Ok(response) => ok_response(id, |b| response.encode(b)),
                    Err(e) => error_response(id, e.code, &e.message),
                }
            })
        }
        Request::InitProducer(request) => {
            let response = init_producer(shard, request);
            ready(ok_response(id, |b| response.encode(b)))
        }
        Request::CreateTopic(request) => {
            // The name is checked once, by the metadata core that owns topics.
            let config = match TopicConfig::from_request(&request.settings, &shard.config.log) {
                Ok(config) => config,
                Err(e) => return ready(error_response(id, e.code, &e.message)),
            };
            let (reply, answer) = flume::bounded(1);
            let message = ShardMessage::CreateTopic {
                name: request.name,
                config,
                reply,
            };
            admin(shard, id, message, answer).await
        }
        Request::DeleteTopic(request) => {
            let (reply, answer) = flume::bounded(1);
            let message = ShardMessage::DeleteTopic {
                name: request.name,
                reply,
            };
            admin(shard, id, message, answer).await
        }
    }
}

/// An idempotent producer's id and epoch, from this core's allocator (as
/// Kafka's InitProducerId, src/kafka/producer_id.rs): a new id at epoch 0,
/// or a producer's own id with the next epoch. Needs no other core: the
/// sequence checks run on each partition's owner, keyed by the id.
fn init_producer(shard: &Shard, request: InitProducerRequest) -> InitProducerResponse {
    let now = crate::storage::log::now_ms();
    let (producer_id, producer_epoch) = if request.producer_id >= 0 {
        shard
            .producer_ids
            .bump(request.producer_id, request.producer_epoch, now)
    } else {
        (shard.producer_ids.next(now), 0)
    };
    InitProducerResponse {
        producer_id,
        producer_epoch,
    }
}

/// Sends a topic change to the metadata core and answers with its result.
async fn admin(
    shard: &Rc<Shard>,
    id: u32,
    message: ShardMessage,
    answer: flume::Receiver<AdminResult>,
) -> LocalFuture<BytesMut> {
    if shard
        .peers
        .inbox(METADATA_CORE)
        .send_async(message)
        .await
        .is_err()
    {
        return ready(error_response(
            id,
            ErrorCode::ShuttingDown,
            "the broker is shutting down",
        ));
    }
    Box::pin(async move {
        match answer.recv_async().await {
            Ok(Ok(())) => ok_response(id, |_| {}),
            Ok(Err(e)) => error_response(id, e.code, &e.message),
            Err(_) => error_response(id, ErrorCode::ShuttingDown, "the broker is shutting down"),
        }
    })
}

/// The limits ApiVersions version 1 advertises, from the broker's config.
fn broker_limits(config: &BrokerConfig) -> BrokerLimits {
    BrokerLimits {
        frame_bytes_max: config.frame_bytes_max,
        batch_bytes_max: config.log.batch_bytes_max,
        partitions_max: PARTITIONS_MAX,
        request_partitions_max: REQUEST_PARTITIONS_MAX as u32,
        fetch_bytes_max: FETCH_BYTES_MAX as u32,
        fetch_wait_ms_max: FETCH_WAIT_MS_MAX,
        segment_bytes_default: config.log.segment_bytes_max,
    }
}

fn core_stats(c: &CoreSnapshot) -> CoreStats {
    CoreStats {
        core: c.core as u16,
        connections: c.gauges.connections as u32,
        requests: c.requests(),
        produce_requests: c.requests_of(ApiKey::Produce),
        fetch_requests: c.requests_of(ApiKey::Fetch),
        errors: c.errors_total(),
        bytes_received: c.bytes_received,
        bytes_sent: c.bytes_sent,
        produce_bytes: c.produce_bytes,
        fetch_bytes: c.fetch_bytes,
        window_produce_requests: c.produce_last_second.count,
        produce_p50_us: c.produce_last_second.p50_us,
        produce_p99_us: c.produce_last_second.p99_us,
        produce_max_us: c.produce_last_second.max_us,
    }
}

fn metadata(shard: &Shard, request: &MetadataRequest) -> MetadataResponse {
    let topics = shard.partitions.topics();
    let cores = shard.cores();
    let describe = |name: &str| match topics.get(name) {
        Some(t) => TopicMetadata {
            name: name.to_string(),
            error_code: 0,
            partition_cores: (0..t.partitions)
                .map(|p| shard_for(name, p, cores) as u16)
                .collect(),
        },
        None => TopicMetadata {
            name: name.to_string(),
            error_code: ErrorCode::UnknownTopic as u16,
            partition_cores: Vec::new(),
        },
    };
    let topics_out = if request.topics.is_empty() {
        topics.keys().map(|n| describe(n)).collect()
    } else {
        request.topics.iter().map(|n| describe(n)).collect()
    };
    MetadataResponse {
        cores: shard.core_addresses.clone(),
        topics: topics_out,
    }
}
