//! A shard: one core's executor, the partitions it owns, and its ends of
//! the cross-core channels. Nothing here is shared with another thread;
//! other cores reach this one only by message ([`messages`]).
//!
//! - [`partitions`]: the partition logs this core owns, and the
//!   operations on them (produce, fetch, offsets, describe).
//! - [`route`]: a client request split by owner core, run locally or sent
//!   over the channel, and the replies merged.
//! - [`inbox`]: the loop that serves other cores' messages.
//! - [`admin`]: topic creation and deletion on core 0, the metadata owner.
//! - [`coordinator`]: the consumer-group coordinator of the groups this core
//!   owns: membership and committed offsets.
//! - [`metrics`]: this core's metrics snapshot, and every core's gathered.
//! - [`runtime`]: starting one pinned executor per core and wiring them.
//! - [`panic`]: a panic on any core ends the process (for its supervisor).
//! - [`storage`]: the files under this core's partitions: real, or (tests)
//!   fault-injecting.

pub mod admin;
pub mod coordinator;
pub mod group_routes;
pub mod inbox;
pub mod messages;
pub mod metrics;
pub mod notify;
pub mod panic;
pub mod partitions;
pub mod peers;
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
use storage::ShardStorage;

/// The core that owns the topic map and serialises its changes.
pub const METADATA_CORE: usize = 0;

pub struct Shard {
    pub id: usize,
    pub config: BrokerConfig,
    /// The partitions this core owns, the topic map, the tail cache.
    pub partitions: Partitions,
    /// The other cores, and the one way to ask them.
    pub peers: Peers,
    /// Every core's own listener, by core id.
    pub core_addresses: Vec<CoreAddress>,
    /// The topic-id counter (`next` current on core 0 only).
    pub topic_ids: Cell<TopicIds>,
    pub shutdown: Rc<Notify>,
    /// Bytes of requests being handled on this core.
    pub inflight_bytes: Rc<Semaphore>,
    /// Open connections over all cores: only accept and close touch it.
    pub connections: Arc<AtomicUsize>,
    /// Serialises topic changes on the metadata core.
    pub admin_lock: Rc<Semaphore>,
    /// Connections open on this core.
    pub local_connections: Cell<usize>,
    /// The consumer groups this core coordinates.
    pub coordinator: GroupCoordinator,
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
    /// The topic-id counter as loaded (`next` current on core 0 only).
    pub topic_ids: TopicIds,
    /// What this core's partitions are opened on.
    pub storage: ShardStorage,
    /// Open connections over all cores.
    pub connections: Arc<AtomicUsize>,
}

impl Shard {
    /// A shard with no topics open yet (`apply_topic_map` opens them).
    pub fn new(start: ShardStart) -> Shard {
        let ShardStart {
            id,
            config,
            senders,
            core_addresses,
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
            partitions: Partitions::new(id, senders_len, &config, storage, Rc::clone(&metrics)),
            topic_ids: Cell::new(topic_ids),
            shutdown: Rc::new(Notify::default()),
            inflight_bytes: Rc::new(Semaphore::new(config.inflight_bytes_per_core as u64)),
            connections,
            admin_lock: Rc::new(Semaphore::new(1)),
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
