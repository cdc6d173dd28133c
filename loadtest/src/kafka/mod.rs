//! `--protocol kafka`: the same workload through a real Kafka client,
//! librdkafka (the `rdkafka` crate), against shardlog's Kafka port, Apache
//! Kafka or Redpanda. The harness's threads, reports and summary are the
//! native path's; only the client differs.
//!
//! # Layout
//!
//! - this module: the workload as librdkafka settings, one function per
//!   client kind, so the mapping is in one place and tested without a
//!   broker.
//! - [`admin`]: topics (create if missing, wait for leaders), the backlog
//!   (watermarks) and what the broker reports for the provenance.
//! - [`producer`]: one producer thread; latency per record from its
//!   delivery report.
//! - [`consumer`]: one consumer thread; `assign()` at explicit offsets, no
//!   consumer group.
//!
//! What it must never do: use the idempotent producer or consumer groups
//! (shardlog's Kafka port does not serve them yet), or let librdkafka pick
//! partitions (records go where the native path sends them).

pub mod admin;
pub mod consumer;
pub mod producer;

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::consumer::FETCH_WAIT_MS;
use crate::run::DRAIN_TIMEOUT;
use crate::workload::{AcksArg, Workload};

/// librdkafka's upper bound of `max.in.flight.requests.per.connection` as
/// the native client's: `--inflight` is clamped to it the same way.
pub const MAX_IN_FLIGHT_MAX: usize = 1024;
/// librdkafka's default `queue.buffering.max.messages`: a producer's queue
/// holds at least this many records, and at least `--inflight`.
const QUEUE_MESSAGES_MIN: usize = 100_000;
/// Longest wait for an admin or metadata answer.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka's `acks` for the harness's `--acks`: Kafka's acks=all is
/// shardlog's durable (on disk per the broker's fsync policy), acks=1 is
/// written (in the leader's log), acks=0 is no answer at all.
pub fn acks(acks: AcksArg) -> &'static str {
    match acks {
        AcksArg::Durable => "all",
        AcksArg::Written => "1",
        AcksArg::None => "0",
    }
}

/// Settings every client of the run shares.
fn common(workload: &Workload, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &workload.broker)
        .set("client.id", client_id)
        // The native client writes each request at once (TCP_NODELAY);
        // with Nagle, a small request could wait for the previous one's
        // ACK.
        .set("socket.nagle.disable", "true");
    config
}

/// Producer `id`'s settings: the workload's acks, batching, linger and
/// pipelining.
pub fn producer_config(workload: &Workload, id: u32) -> ClientConfig {
    let in_flight = workload.inflight.clamp(1, MAX_IN_FLIGHT_MAX);
    let mut config = common(workload, &format!("shardlog-loadtest-producer-{id}"));
    config
        .set("acks", acks(workload.acks))
        // shardlog's Kafka port serves no InitProducerId yet; and the
        // native client has no idempotence either.
        .set("enable.idempotence", "false")
        .set("linger.ms", workload.linger_ms.to_string())
        // Counts the record and batch framing, as the native
        // `batch_bytes_max` does; a record larger than it goes alone.
        .set("batch.size", workload.batch_bytes.max(1).to_string())
        .set(
            "max.in.flight.requests.per.connection",
            in_flight.to_string(),
        )
        .set(
            "queue.buffering.max.messages",
            workload.inflight.max(QUEUE_MESSAGES_MIN).to_string(),
        )
        .set("compression.type", "none")
        // A record unanswered this long fails, as the run's drain gives
        // up after DRAIN_TIMEOUT.
        .set("message.timeout.ms", DRAIN_TIMEOUT.as_millis().to_string());
    config
}

/// The consumers' group id. librdkafka refuses `assign()` without one
/// ("Unknown group"); the consumers never join it (no `subscribe()`) and
/// never commit to it.
pub const CONSUMER_GROUP_ID: &str = "shardlog-loadtest";

/// The consumers' settings: partitions assigned, no group joined, no
/// commits, fetches that wait as the native consumer's do.
pub fn consumer_config(workload: &Workload) -> ClientConfig {
    let mut config = common(workload, "shardlog-loadtest-consumer");
    config
        .set("group.id", CONSUMER_GROUP_ID)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // How long a fetch may wait for records: the native consumer's.
        .set("fetch.wait.max.ms", FETCH_WAIT_MS.to_string());
    config
}

/// The admin client's settings (topics, metadata, watermarks).
pub fn admin_config(workload: &Workload) -> ClientConfig {
    common(workload, "shardlog-loadtest-admin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Protocol;
    use rdkafka::producer::BaseProducer;

    fn workload() -> Workload {
        Workload {
            protocol: Protocol::Kafka,
            broker: "127.0.0.1:19092".into(),
            ..Workload::default()
        }
    }

    #[test]
    fn acks_map_to_kafka_acks() {
        assert_eq!(acks(AcksArg::Durable), "all");
        assert_eq!(acks(AcksArg::Written), "1");
        assert_eq!(acks(AcksArg::None), "0");
    }

    #[test]
    fn the_workload_becomes_producer_settings() {
        let w = Workload {
            acks: AcksArg::Written,
            linger_ms: 0,
            batch_bytes: 1200,
            inflight: 64,
            ..workload()
        };
        let config = producer_config(&w, 3);
        let get = |key: &str| config.get(key).unwrap_or_else(|| panic!("{key} unset"));
        assert_eq!(get("bootstrap.servers"), "127.0.0.1:19092");
        assert_eq!(get("acks"), "1");
        assert_eq!(get("linger.ms"), "0");
        assert_eq!(get("batch.size"), "1200");
        assert_eq!(get("max.in.flight.requests.per.connection"), "64");
        assert_eq!(get("enable.idempotence"), "false");
        assert_eq!(get("queue.buffering.max.messages"), "100000");
        assert_eq!(get("client.id"), "shardlog-loadtest-producer-3");
        let deep = Workload {
            inflight: 1_000_000,
            ..workload()
        };
        let config = producer_config(&deep, 0);
        assert_eq!(
            config.get("max.in.flight.requests.per.connection"),
            Some("1024"),
            "clamped as the native client's"
        );
        assert_eq!(config.get("queue.buffering.max.messages"), Some("1000000"));
    }

    #[test]
    fn consumers_commit_nothing() {
        let config = consumer_config(&workload());
        assert_eq!(config.get("group.id"), Some(CONSUMER_GROUP_ID));
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("fetch.wait.max.ms"), Some("100"));
    }

    #[test]
    fn the_provenance_names_the_client_library() {
        use crate::provenance::ClientLibrary;
        let kafka = ClientLibrary::of(Protocol::Kafka);
        assert_eq!(
            (kafka.protocol.as_str(), kafka.library.as_str()),
            ("kafka", "librdkafka")
        );
        assert!(
            kafka.library_version.starts_with("2."),
            "the bundled librdkafka: {}",
            kafka.library_version
        );
        let native = ClientLibrary::of(Protocol::Native);
        assert_eq!(native.library, "shardlog-client");
    }

    /// librdkafka checks every property's name and value when a client is
    /// made (it connects later, in the background): a typo fails here.
    #[test]
    fn librdkafka_accepts_every_setting() {
        for acks in [AcksArg::None, AcksArg::Written, AcksArg::Durable] {
            let w = Workload { acks, ..workload() };
            let made: Result<BaseProducer, _> = producer_config(&w, 0).create();
            assert!(made.is_ok(), "{acks:?}: {:?}", made.err());
        }
        let made: Result<rdkafka::consumer::BaseConsumer, _> =
            consumer_config(&workload()).create();
        assert!(made.is_ok(), "{:?}", made.err());
        let made: Result<rdkafka::admin::AdminClient<_>, _> = admin_config(&workload()).create();
        assert!(made.is_ok(), "{:?}", made.err());
    }
}
