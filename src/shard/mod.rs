//! A shard: one core's executor and what it runs, as a few services.
//! Nothing here is shared with another thread; other cores reach this one
//! only by message ([`messages`]).
//!
//! [`Shard`] is small: it holds the services and the connection and
//! shutdown state, and the code that spans services (routing, topic
//! changes, startup, shutdown) is written against it. Each service owns
//! its state, private, and says in its `//!` what it must never do:
//!
//! - [`partitions`]: the partitions this core owns, this core's copy of
//!   the topic map, the storage and the tail cache; produce, fetch, wait
//!   for data, list offsets, describe, retention, on local partitions.
//! - [`peers`]: the senders to every core; `ask` one, and the one
//!   scatter/gather over several.
//! - [`coordinator`]: the consumer groups this core coordinates:
//!   membership, committed offsets and their log; testable alone.
//!
//! Around them:
//!
//! - [`route`]: a client request split by owner core, run locally or sent
//!   over the channel, and the replies merged (produce, fetch, list
//!   offsets, describe); [`fetch_budget`]: the fetch response's byte rule.
//! - [`group_routes`]: a group request to its coordinator core, and the
//!   coordinator's start and timer on this core.
//! - [`inbox`]: the loop that serves other cores' messages; shutdown.
//! - [`admin`]: topic creation and deletion on core 0, the metadata owner.
//! - [`producer_ids`]: producer ids for idempotent producers.
//! - [`blocking`]: the few blocking file-system calls, off the reactor.
//! - [`metrics`]: this core's metrics snapshot, and every core's gathered.
//! - [`runtime`]: starting one pinned executor per core and wiring them.
//! - [`panic`]: a panic on any core ends the process (for its supervisor).
//! - [`storage`]: the files under this core's partitions: real, or (tests)
//!   fault-injecting.
//! - [`notify`]: the shutdown flag and small future helpers.

pub mod admin;
pub mod blocking;
pub mod bounded;
pub mod coordinator;
pub mod fetch_budget;
pub mod group_routes;
pub mod inbox;
pub mod messages;
pub mod metrics;
pub mod notify;
pub mod panic;
pub mod partitions;
pub mod peers;
pub mod producer_ids;
pub mod route;
pub mod runtime;
pub mod storage;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use glommio::sync::Semaphore;

use crate::config::BrokerConfig;
use crate::metrics::CoreMetrics;
use crate::protocol::metadata::CoreAddress;
use crate::topics::TopicIds;
use coordinator::GroupCoordinator;
use messages::ShardMessage;
use notify::Notify;
use partitions::Partitions;
use peers::Peers;
use producer_ids::ProducerIds;
use storage::ShardStorage;

/// The core that owns the topic map and serialises its changes.
pub const METADATA_CORE: usize = 0;

/// One core's services and the state of its connections and shutdown.
/// Only its own executor touches it; no borrow of its cells (or its
/// services') is held across an await.
pub struct Shard {
    pub id: usize,
    pub config: BrokerConfig,
    /// Every core's own listener, by core id.
    pub core_addresses: Vec<CoreAddress>,
    /// Every core's Kafka listener, by core id (node id = core); empty
    /// when Kafka is off.
    pub kafka_addresses: Vec<CoreAddress>,

    // The services.
    /// The partitions this core owns, the topic map, the tail cache.
    pub partitions: Partitions,
    /// The other cores, and the one way to ask them.
    pub peers: Peers,
    /// The consumer groups this core coordinates.
    pub coordinator: GroupCoordinator,

    // Topic changes (core 0).
    /// The topic-id counter (`next` current on core 0 only).
    pub topic_ids: Cell<TopicIds>,
    /// Serialises topic changes on the metadata core.
    pub admin_lock: Rc<Semaphore>,
    /// Hands out idempotent producers' ids.
    pub producer_ids: ProducerIds,

    // Connections and shutdown.
    pub shutdown: Rc<Notify>,
    /// Bytes of requests being handled on this core.
    pub inflight_bytes: Rc<Semaphore>,
    /// Open connections over all cores: only accept and close touch it.
    pub connections: Arc<AtomicUsize>,
    /// Connections open on this core.
    pub local_connections: Cell<usize>,
    /// What this core counts (shared with its services); never borrowed
    /// across an await.
    pub metrics: Rc<RefCell<CoreMetrics>>,
}

/// What a shard starts from; everything else it makes itself.
pub struct ShardStart {
    pub id: usize,
    pub config: BrokerConfig,
    /// Senders to every core's inbox, this one's included, by core id.
    pub senders: Vec<flume::Sender<ShardMessage>>,
    /// Every core's own listener, by core id.
    pub core_addresses: Vec<CoreAddress>,
    /// Every core's Kafka listener, by core id; empty when Kafka is off.
    pub kafka_addresses: Vec<CoreAddress>,
    /// The topic-id counter as loaded (`next` current on core 0 only).
    pub topic_ids: TopicIds,
    /// What this core's partitions are opened on.
    pub storage: ShardStorage,
    /// Open connections over all cores.
    pub connections: Arc<AtomicUsize>,
}

impl Shard {
    /// A shard with no topics open yet (`Partitions::apply_topic_map`
    /// opens them) and no committed-offsets log (`open_offsets_logs`).
    pub fn new(start: ShardStart) -> Shard {
        let ShardStart {
            id,
            config,
            senders,
            core_addresses,
            kafka_addresses,
            topic_ids,
            storage,
            connections,
        } = start;
        let metrics: Rc<RefCell<CoreMetrics>> = Default::default();
        let senders_len = senders.len();
        Shard {
            id,
            peers: Peers::new(id, senders, Rc::clone(&metrics)),
            core_addresses,
            kafka_addresses,
            partitions: Partitions::new(id, senders_len, &config, storage, Rc::clone(&metrics)),
            topic_ids: Cell::new(topic_ids),
            shutdown: Rc::new(Notify::default()),
            inflight_bytes: Rc::new(Semaphore::new(config.inflight_bytes_per_core as u64)),
            connections,
            admin_lock: Rc::new(Semaphore::new(1)),
            producer_ids: ProducerIds::new(id),
            local_connections: Cell::new(0),
            coordinator: GroupCoordinator::new(id),
            metrics,
            config,
        }
    }

    pub fn cores(&self) -> usize {
        self.peers.cores()
    }
}
