//! The group coordinator service of one core: the groups whose
//! committed-offsets partition this core owns
//! (`group_logic::coordinator_core`), their membership and their committed
//! offsets, and the committed-offsets log partitions that hold them.
//!
//! It owns that state, private; a request reaches it through
//! [`GroupCoordinator::handle`] on its own core (the router forwards it
//! there, by message, never by lock: `shard/group_routes.rs`), and the
//! group timer calls [`GroupCoordinator::tick`] and the log's upkeep. It
//! never sends to another core, never opens a topic's partition, and
//! never reads the topic map but as the caller passes it (`topics`, this
//! core's copy at the time of the call), so it can be tested alone. The
//! rules themselves (membership, assignment, records) are
//! `group_logic`'s, sans-IO; this adds the waiting joins, durability and
//! bounds.
//!
//! - [`members`]: join, heartbeat, leave, and the timer's tick that expires
//!   sessions and rebalance deadlines.
//! - [`offsets`]: the committed-offsets log: open and replay, commit
//!   (durable before acknowledged), fetch, close.
//! - [`cleanup`]: what keeps that log bounded: compaction, and dropping
//!   the offsets of deleted topics.
//! - [`lag`]: committed and latest offsets per (group, topic, partition),
//!   the rows of a lag metric.

mod classic;
mod cleanup;
mod lag;
mod log_error;
mod members;
mod offsets;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

pub use log_error::OffsetsLogError;

use crate::error::{ErrorCode, WireError};
use crate::group_logic::membership::Group;
use crate::protocol::groups::{
    DescribeGroupResponse, GroupListing, GroupRequest, GroupResponse, ListGroupsResponse,
    MemberDescription, TopicPartitions,
};
use crate::shard::storage::ShardStorage;
use crate::storage::PartitionLog;
use crate::topics::{TopicId, TopicMap};

pub use classic::{
    ClassicDescription, ClassicRequest, ClassicResponse, DescribedMember, JoinOutcome, ListedGroup,
    SyncAnswer,
};
pub use lag::{fill_latest, latest_offsets, latest_request, GroupOffsetRow};
pub use offsets::{offsets_dir, offsets_log_config, Committed};

/// A group request's answer, typed as it crosses cores (dispatch encodes
/// it once): the response, or the error code and message of an error
/// response.
pub type GroupAnswer = Result<GroupResponse, WireError>;

/// One group's durable committed offsets, by (topic, topic id,
/// partition): the id tells a topic's incarnations apart.
type GroupOffsets = BTreeMap<(String, TopicId, u32), Committed>;

/// A sender of one join's answer.
type JoinReply = flume::Sender<GroupAnswer>;

/// The coordinator of one core's groups. Only its own executor touches it.
pub struct GroupCoordinator {
    /// This core's id (ListGroups tells which core coordinates a group).
    core: usize,
    /// Shutdown has begun: joins are refused (a join may wait for a whole
    /// rebalance, longer than the drain).
    stopping: Cell<bool>,
    /// The committed-offsets partitions this core owns.
    logs: RefCell<BTreeMap<u32, PartitionLog<ShardStorage>>>,
    /// Durable committed offsets by group, then (topic, partition).
    committed: RefCell<BTreeMap<String, GroupOffsets>>,
    /// Membership of the native groups that have members.
    groups: RefCell<BTreeMap<String, Group>>,
    /// Membership of the groups Kafka clients joined (classic protocol),
    /// with their waiting requests.
    classic: RefCell<BTreeMap<String, classic::ClassicEntry>>,
    /// The last generation of each group that has no members but has
    /// committed offsets (so it still exists): its next join continues
    /// from there. Bounded by the groups with committed offsets.
    last_generations: RefCell<HashMap<String, u32>>,
    /// Joins waiting for their rebalance to complete, by (group, member).
    waiting: RefCell<HashMap<(String, String), JoinReply>>,
    /// Commits appended and not yet answered, per offsets partition
    /// (compaction waits for none).
    commits_in_flight: RefCell<BTreeMap<u32, usize>>,
    /// Serial number of the next member id on this core.
    next_member: Cell<u64>,
    /// When the offsets of deleted topics were last dropped.
    deleted_topics_checked: Cell<Option<std::time::Instant>>,
}

impl GroupCoordinator {
    /// The coordinator of core `core`, with no groups and no log open.
    pub fn new(core: usize) -> GroupCoordinator {
        GroupCoordinator {
            core,
            stopping: Cell::new(false),
            logs: Default::default(),
            committed: Default::default(),
            groups: Default::default(),
            classic: Default::default(),
            last_generations: Default::default(),
            waiting: Default::default(),
            commits_in_flight: Default::default(),
            next_member: Cell::new(0),
            deleted_topics_checked: Cell::new(None),
        }
    }

    /// A group request on the group's coordinator core (ListGroups: this
    /// core's groups only), with this core's topic map as it is now.
    pub async fn handle(&self, request: GroupRequest, topics: &TopicMap) -> GroupAnswer {
        match request {
            GroupRequest::Join(r) => self.join(r, topics).await,
            GroupRequest::Heartbeat(r) => self.heartbeat(&r),
            GroupRequest::Leave(r) => self.leave(&r, topics),
            GroupRequest::OffsetCommit(r) => self.commit(r, topics).await,
            GroupRequest::OffsetFetch(r) => self.fetch_offsets(&r, topics),
            GroupRequest::DescribeGroup(r) => {
                Ok(GroupResponse::DescribeGroup(self.describe_group(&r.group)))
            }
            GroupRequest::ListGroups => Ok(GroupResponse::ListGroups(self.list_local_groups())),
            GroupRequest::FindCoordinator(_) => refuse(
                ErrorCode::Internal,
                "FindCoordinator is answered by the router",
            ),
        }
    }

    /// Every group with members or committed offsets on this core.
    pub fn list_local_groups(&self) -> ListGroupsResponse {
        let groups = self.groups.borrow();
        let classic = self.classic.borrow();
        let committed = self.committed.borrow();
        let mut names: Vec<&String> = groups
            .keys()
            .chain(classic.keys())
            .chain(committed.keys())
            .collect();
        names.sort();
        names.dedup();
        ListGroupsResponse {
            groups: names
                .into_iter()
                .map(|name| {
                    let (state, members) = match (groups.get(name), classic.get(name)) {
                        (Some(g), _) => (g.state.name(), g.members.len()),
                        (None, Some(c)) => (c.group.state.name(), c.group.members.len()),
                        (None, None) => ("Empty", 0),
                    };
                    GroupListing {
                        group: name.clone(),
                        core: self.core as u16,
                        state: state.to_string(),
                        members: members as u32,
                    }
                })
                .collect(),
        }
    }

    fn describe_group(&self, name: &str) -> DescribeGroupResponse {
        if let Some(described) = self.describe_classic_natively(name) {
            return described;
        }
        let groups = self.groups.borrow();
        let Some(group) = groups.get(name) else {
            let known = self.committed.borrow().contains_key(name);
            let generation = self.last_generation(name);
            return DescribeGroupResponse {
                group: name.to_string(),
                state: if known { "Empty" } else { "Dead" }.to_string(),
                generation,
                ..Default::default()
            };
        };
        DescribeGroupResponse {
            group: name.to_string(),
            state: group.state.name().to_string(),
            generation: group.generation,
            strategy: group.strategy.map_or("", |s| s.name()).to_string(),
            members: group
                .members
                .iter()
                .map(|(id, m)| MemberDescription {
                    member_id: id.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    topics: m.topics.clone(),
                    assignment: by_topic(group.assignment.get(id).into_iter().flatten()),
                })
                .collect(),
        }
    }
}

pub(crate) fn refuse(code: ErrorCode, message: impl Into<String>) -> GroupAnswer {
    Err(WireError::new(code, message))
}

/// (topic, partition) pairs grouped by topic, in order.
fn by_topic<'a>(partitions: impl Iterator<Item = &'a (String, u32)>) -> TopicPartitions {
    let mut out: TopicPartitions = Vec::new();
    for (topic, p) in partitions {
        match out.last_mut() {
            Some((t, ps)) if t == topic => ps.push(*p),
            _ => out.push((topic.clone(), vec![*p])),
        }
    }
    out
}
