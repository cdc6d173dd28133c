//! A blocking client for ordinary Rust programs (no glommio, no async):
//! std::net sockets, one thread, the same codec as the broker
//! ([`shardlog_protocol`] for messages, [`shardlog_protocol::batch`] for record batches).
//!
//! - [`connection`]: one TCP connection: frames, correlation ids,
//!   pipelining, timeouts.
//! - [`cluster`]: metadata (partition → owner core → port) and the
//!   connections, shard-aware with a fallback to the bootstrap address.
//! - [`admin`]: create, delete, list, describe topics.
//! - [`producer`]: batching, pipelining, retries; [`accumulator`] holds its
//!   batching decisions without I/O; [`partitioner`] the key hash.
//! - [`consumer`]: positions, ListOffsets, long-poll fetch.
//! - [`group_consumer`]: a member of a consumer group: subscribe, poll,
//!   commit; [`group_admin`]: list, describe and reset groups on [`Admin`].
//! - [`config`]: every client setting and limit; [`error`]: [`ClientError`].
//!
//! This crate never runs inside the broker.

pub mod accumulator;
pub mod admin;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod group_admin;
pub mod group_consumer;
pub mod partitioner;
pub mod producer;

pub use admin::{Admin, TopicListing};
pub use config::{
    ConnectionConfig, ConsumerConfig, GroupConsumerConfig, OffsetReset, ProducerConfig,
};
pub use connection::Connection;
pub use consumer::{ConsumedRecord, Consumer, StartFrom};
pub use error::{ClientError, ClientResult};
pub use group_admin::CommittedOffset;
pub use group_consumer::{GroupConsumer, RebalanceEvent};
pub use producer::{Delivery, Producer, ProducerRecord};
pub use shardlog_protocol::offsets::OffsetSpec;
pub use shardlog_protocol::produce::Acks;
pub use shardlog_protocol::topics::TopicSettings;
