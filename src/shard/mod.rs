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
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use glommio::sync::Semaphore;

use crate::config::BrokerConfig;
use crate::metrics::CoreMetrics;
use crate::protocol::metadata::CoreAddress;
use crate::storage::{PartitionLog, SharedTailCache, TailCache};
use crate::topics::{TopicId, TopicIds, TopicMap};
use messages::ShardMessage;
use notify::Notify;
use peers::Peers;
use storage::ShardStorage;

/// The core that owns the topic map and serialises its changes.
pub const METADATA_CORE: usize = 0;

/// The logs of one topic's partitions that this core owns, by partition.
pub type TopicLogs = Vec<Option<PartitionLog<ShardStorage>>>;

pub struct Shard {
    pub id: usize,
    pub config: BrokerConfig,
    /// The other cores, and the one way to ask them.
    pub peers: Peers,
    /// Every core's own listener, by core id.
    pub core_addresses: Vec<CoreAddress>,
    /// This core's copy of the topic map.
    pub topics: RefCell<Rc<TopicMap>>,
    /// The topic-id counter (`next` current on core 0 only).
    pub topic_ids: Cell<TopicIds>,
    pub logs: RefCell<HashMap<String, TopicLogs>>,
    /// What this core's partitions are opened on.
    pub storage: ShardStorage,
    pub cache: SharedTailCache,
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
    pub coordinator: coordinator::GroupCoordinator,
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
        Shard {
            id,
            peers: Peers::new(id, senders, Rc::clone(&metrics)),
            core_addresses,
            topics: Default::default(),
            topic_ids: Cell::new(topic_ids),
            logs: Default::default(),
            storage,
            cache: TailCache::shared(config.shard_storage.tail_cache_bytes),
            shutdown: Rc::new(Notify::default()),
            inflight_bytes: Rc::new(Semaphore::new(config.inflight_bytes_per_core as u64)),
            connections,
            admin_lock: Rc::new(Semaphore::new(1)),
            local_connections: Cell::new(0),
            coordinator: Default::default(),
            metrics,
            config,
        }
    }

    pub fn cores(&self) -> usize {
        self.peers.cores()
    }

    /// The log of a partition this core owns, if it exists.
    pub fn log(&self, topic: &str, partition: u32) -> Option<PartitionLog<ShardStorage>> {
        self.logs
            .borrow()
            .get(topic)
            .and_then(|logs| logs.get(partition as usize))
            .and_then(Clone::clone)
    }

    /// Partition count of a topic in this core's map.
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.topics.borrow().get(topic).map(|t| t.partitions)
    }

    /// The id of a topic's current incarnation in this core's map.
    pub fn topic_id(&self, topic: &str) -> Option<TopicId> {
        self.topics.borrow().get(topic).map(|t| t.id)
    }
}
