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
use crate::storage::{PartitionLog, SharedTailCache};
use crate::topics::{TopicId, TopicIds, TopicMap};
use messages::ShardMessage;
use notify::Notify;
use storage::ShardStorage;

/// The core that owns the topic map and serialises its changes.
pub const METADATA_CORE: usize = 0;

/// The logs of one topic's partitions that this core owns, by partition.
pub type TopicLogs = Vec<Option<PartitionLog<ShardStorage>>>;

pub struct Shard {
    pub id: usize,
    pub config: BrokerConfig,
    /// Senders to every core's inbox, this one's included, by core id.
    pub peers: Vec<flume::Sender<ShardMessage>>,
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
    pub local_connections: std::cell::Cell<usize>,
    /// The consumer groups this core coordinates.
    pub coordinator: coordinator::GroupCoordinator,
    /// What this core counts; never borrowed across an await.
    pub metrics: RefCell<CoreMetrics>,
}

impl Shard {
    pub fn cores(&self) -> usize {
        self.peers.len()
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
