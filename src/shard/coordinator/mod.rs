//! The group coordinator on each core: the groups whose committed-offsets
//! partition this core owns (`group_logic::coordinator_core`), their membership
//! and their committed offsets. Requests for a group reach its coordinator
//! core through the router (`route_group`), by message, never by lock.
//!
//! - [`members`]: join, heartbeat, leave, and the timer that expires
//!   sessions and rebalance deadlines.
//! - [`offsets`]: the committed-offsets log: open and replay, commit
//!   (durable before acknowledged), fetch, close.
//! - [`cleanup`]: what keeps that log bounded: compaction, and dropping
//!   the offsets of deleted topics.
//! - [`lag`]: committed and latest offsets per (group, topic, partition),
//!   the rows of a lag metric.

mod cleanup;
mod lag;
mod members;
mod offsets;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::messages::ShardMessage;
use super::Shard;
use crate::error::ErrorCode;
use crate::group_logic::membership::Group;
use crate::group_logic::{coordinator_core, validate_group_name};
use crate::protocol::groups::{
    DescribeGroupResponse, GroupListing, GroupRequest, GroupResponse, ListGroupsResponse,
    MemberDescription, TopicPartitions,
};
use crate::shard::storage::ShardStorage;
use crate::storage::PartitionLog;
use crate::topics::TopicId;

pub use lag::{fill_latest, GroupOffsetRow};
pub use members::group_timer_loop;
pub use offsets::{offsets_dir, Committed};

/// A group request's answer, typed as it crosses cores (dispatch encodes
/// it once): the response, or the error code and message of an error
/// response.
pub type GroupAnswer = Result<GroupResponse, (ErrorCode, String)>;

/// One group's durable committed offsets, by (topic, topic id,
/// partition): the id tells a topic's incarnations apart.
type GroupOffsets = BTreeMap<(String, TopicId, u32), Committed>;

/// A sender of one join's answer.
type JoinReply = flume::Sender<GroupAnswer>;

/// The coordinator state of one core. Only its own executor touches it.
#[derive(Default)]
pub struct GroupCoordinator {
    /// The committed-offsets partitions this core owns.
    logs: RefCell<BTreeMap<u32, PartitionLog<ShardStorage>>>,
    /// Durable committed offsets by group, then (topic, partition).
    committed: RefCell<BTreeMap<String, GroupOffsets>>,
    /// Membership of the groups that have members.
    groups: RefCell<BTreeMap<String, Group>>,
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

fn refuse(code: ErrorCode, message: impl Into<String>) -> GroupAnswer {
    Err((code, message.into()))
}

impl Shard {
    /// Routes a group request: ListGroups asks every core; FindCoordinator
    /// is answered here; everything else runs on the group's coordinator.
    pub async fn route_group(self: &Rc<Self>, request: GroupRequest) -> GroupAnswer {
        if let Some(group) = request.group() {
            if let Err(e) = validate_group_name(group) {
                return refuse(ErrorCode::InvalidGroupId, e);
            }
        }
        match request {
            GroupRequest::ListGroups => self.list_all_groups().await,
            GroupRequest::FindCoordinator(r) => {
                let core = coordinator_core(&r.group, self.cores());
                Ok(GroupResponse::Coordinator(
                    self.core_addresses[core].clone(),
                ))
            }
            request => {
                let group = request.group().expect("every other request names a group");
                let core = coordinator_core(group, self.cores());
                if core == self.id {
                    // In its own task, as a forwarded request is: a commit
                    // or join runs to the end even if the connection that
                    // asked goes away.
                    let shard = self.clone();
                    let task =
                        glommio::spawn_local(
                            async move { shard.handle_group_local(request).await },
                        );
                    return task.detach().await.unwrap_or_else(|| {
                        refuse(ErrorCode::ShuttingDown, "the broker is shutting down")
                    });
                }
                let message = |reply| ShardMessage::Group { request, reply };
                self.peers.ask(core, message).await.unwrap_or_else(|| {
                    refuse(ErrorCode::ShuttingDown, "the broker is shutting down")
                })
            }
        }
    }

    /// A group request on the group's coordinator core (ListGroups: this
    /// core's groups only).
    pub async fn handle_group_local(self: &Rc<Self>, request: GroupRequest) -> GroupAnswer {
        match request {
            GroupRequest::Join(r) => self.join_group(r).await,
            GroupRequest::Heartbeat(r) => self.heartbeat(&r),
            GroupRequest::Leave(r) => self.leave_group(&r),
            GroupRequest::OffsetCommit(r) => self.commit_offsets(r).await,
            GroupRequest::OffsetFetch(r) => self.fetch_offsets(&r),
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
    fn list_local_groups(&self) -> ListGroupsResponse {
        let coordinator = &self.coordinator;
        let groups = coordinator.groups.borrow();
        let committed = coordinator.committed.borrow();
        let mut names: Vec<&String> = groups.keys().chain(committed.keys()).collect();
        names.sort();
        names.dedup();
        ListGroupsResponse {
            groups: names
                .into_iter()
                .map(|name| {
                    let group = groups.get(name);
                    GroupListing {
                        group: name.clone(),
                        core: self.id as u16,
                        state: group.map_or("Empty", |g| g.state.name()).to_string(),
                        members: group.map_or(0, |g| g.members.len() as u32),
                    }
                })
                .collect(),
        }
    }

    /// Every core's groups, merged by name.
    async fn list_all_groups(self: &Rc<Self>) -> GroupAnswer {
        let every_core = (0..self.cores()).map(|core| (core, ())).collect();
        let answers = self
            .peers
            .scatter_gather(
                every_core,
                |()| {
                    let answer = Ok(GroupResponse::ListGroups(self.list_local_groups()));
                    Box::pin(async move { answer })
                },
                |(), reply| ShardMessage::Group {
                    request: GroupRequest::ListGroups,
                    reply,
                },
            )
            .await;
        let mut all = ListGroupsResponse::default();
        for (core, answer) in answers.into_iter().enumerate() {
            let Some(answer) = answer else {
                return refuse(ErrorCode::ShuttingDown, "the broker is shutting down");
            };
            let GroupResponse::ListGroups(part) = answer? else {
                return refuse(
                    ErrorCode::Internal,
                    format!("core {core} answered ListGroups with another response"),
                );
            };
            all.groups.extend(part.groups);
        }
        all.groups.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(GroupResponse::ListGroups(all))
    }

    fn describe_group(&self, name: &str) -> DescribeGroupResponse {
        let groups = self.coordinator.groups.borrow();
        let Some(group) = groups.get(name) else {
            let known = self.coordinator.committed.borrow().contains_key(name);
            let generation = self.coordinator.last_generation(name);
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
