//! What one core asks of another over the cross-core channels. Every
//! message carries its own reply channel (a `flume` sender used once).

use std::time::Instant;

use bytes::BytesMut;

use super::coordinator::{ClassicRequest, ClassicResponse, GroupAnswer};
use super::fetch_budget::FetchBudget;
use crate::error::WireError;
use crate::metrics::CoreSnapshot;
use crate::protocol::fetch::{FetchPartition, FetchPartitionResponse};
use crate::protocol::groups::GroupRequest;
use crate::protocol::offsets::{OffsetSpec, PartitionOffset};
use crate::protocol::produce::{Acks, ProducePartitionResponse};
use crate::protocol::topics::PartitionDescription;
use crate::topics::{TopicConfig, TopicMap};

pub type Reply<T> = flume::Sender<T>;

/// A topic operation's outcome: the error code and message on failure.
pub type AdminResult = Result<(), WireError>;

pub enum ShardMessage {
    /// Append batches to partitions this core owns, in the order given.
    Produce {
        topic: String,
        partitions: Vec<(u32, BytesMut)>,
        acks: Acks,
        reply: Reply<Vec<ProducePartitionResponse>>,
    },
    /// Read from partitions this core owns, without waiting, within what
    /// is left of the response's byte limit.
    Fetch {
        topic: String,
        partitions: Vec<FetchPartition>,
        max_bytes: FetchBudget,
        reply: Reply<Vec<FetchPartitionResponse>>,
    },
    /// Answer when any of these (topic, partition, offset) has data at or
    /// past the offset, or at the deadline.
    WaitForData {
        waits: Vec<(String, u32, u64)>,
        deadline: Instant,
        reply: Reply<()>,
    },
    ListOffsets {
        topic: String,
        partitions: Vec<(u32, OffsetSpec)>,
        reply: Reply<Vec<PartitionOffset>>,
    },
    Describe {
        topic: String,
        partitions: Vec<u32>,
        reply: Reply<Vec<PartitionDescription>>,
    },
    /// To core 0, the metadata owner.
    CreateTopic {
        name: String,
        config: TopicConfig,
        reply: Reply<AdminResult>,
    },
    /// To core 0, the metadata owner.
    DeleteTopic {
        name: String,
        reply: Reply<AdminResult>,
    },
    /// From core 0 to every core: the new topic map; open and close
    /// partitions to match, then reply: the error of a partition that
    /// could not be opened (core 0 then rolls the change back).
    TopicsChanged {
        map: TopicMap,
        reply: Reply<AdminResult>,
    },
    /// To a group's coordinator core: a group request (ListGroups: this
    /// core's groups).
    Group {
        request: GroupRequest,
        reply: Reply<GroupAnswer>,
    },
    /// To a group's coordinator core: a Kafka classic-group request
    /// (List: this core's groups).
    Classic {
        request: ClassicRequest,
        reply: Reply<ClassicResponse>,
    },
    /// This core's metrics; with `partitions`, every partition's too.
    Metrics {
        partitions: bool,
        reply: Reply<CoreSnapshot>,
    },
    /// Stop serving, close every partition cleanly, then reply.
    Shutdown { reply: Reply<()> },
}
