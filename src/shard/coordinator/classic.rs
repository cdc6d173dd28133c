//! Kafka's classic consumer groups on the coordinator core: runs
//! `group_logic::classic` for the groups Kafka clients join, parks the
//! JoinGroups waiting for their round and the SyncGroups waiting for the
//! leader's assignment, and writes their commits into the same
//! committed-offsets log as native groups.
//!
//! A waiting request holds one [`WaiterSlot`] in its group's
//! [`WaiterSet`]: at most one waker per waiting future, dropped with it.
//! Every change to a group wakes its waiters, which ask the state machine
//! whether they can be answered (`join_result`, `sync_result`): the wait
//! ends on an event, never on a timer. Shutdown wakes them all and they
//! answer COORDINATOR_NOT_AVAILABLE.
//!
//! A group is used by one protocol at a time: while it has native members
//! Kafka requests get INCONSISTENT_GROUP_PROTOCOL, and while it has Kafka
//! members native ones get `InconsistentGroupStrategy`.

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::GroupCoordinator;
use crate::config::{
    GROUPS_PER_CORE_MAX, GROUP_MEMBERS_MAX, GROUP_REBALANCE_TIMEOUT_MS_MAX,
    GROUP_SESSION_TIMEOUT_MS_MAX, GROUP_SESSION_TIMEOUT_MS_MIN,
};
use crate::error::ErrorCode;
use crate::group_logic::classic::{
    ClassicGroup, ClassicResult, JoinAnswer, JoinSpec, Joined, SyncSpec,
};
use crate::protocol::groups::{CommitPartition, OffsetCommitResponse};
use crate::topics::TopicMap;
use crate::waiters::WaiterSet;

/// The protocol type native groups are listed with over Kafka.
pub const NATIVE_PROTOCOL_TYPE: &str = "shardlog";

/// A classic-group request on its way to the coordinator core.
#[derive(Clone, Debug)]
pub enum ClassicRequest {
    Join {
        group: String,
        spec: JoinSpec,
    },
    Sync {
        group: String,
        spec: SyncSpec,
    },
    Heartbeat {
        group: String,
        member_id: String,
        generation: i32,
    },
    Leave {
        group: String,
        member_ids: Vec<String>,
    },
    Commit {
        group: String,
        member_id: String,
        generation: i32,
        topics: Vec<(String, Vec<CommitPartition>)>,
    },
    Describe {
        group: String,
    },
    /// The groups this core coordinates.
    List,
}

impl ClassicRequest {
    /// The group the request is about (List is about all of them).
    pub fn group(&self) -> Option<&str> {
        match self {
            ClassicRequest::Join { group, .. }
            | ClassicRequest::Sync { group, .. }
            | ClassicRequest::Heartbeat { group, .. }
            | ClassicRequest::Leave { group, .. }
            | ClassicRequest::Commit { group, .. }
            | ClassicRequest::Describe { group } => Some(group),
            ClassicRequest::List => None,
        }
    }

    /// The answer that refuses this request with `error`.
    pub fn refuse(&self, error: ResponseError) -> ClassicResponse {
        match self {
            ClassicRequest::Join { .. } => ClassicResponse::Join(Err(error)),
            ClassicRequest::Sync { .. } => ClassicResponse::Sync(Err(error)),
            ClassicRequest::Heartbeat { .. } => ClassicResponse::Heartbeat(Err(error)),
            ClassicRequest::Leave { .. } => ClassicResponse::Leave(Err(error)),
            ClassicRequest::Commit { .. } => ClassicResponse::Commit(Err(error)),
            ClassicRequest::Describe { .. } => ClassicResponse::Describe(Err(error)),
            ClassicRequest::List => ClassicResponse::List(Err(error)),
        }
    }
}

/// A JoinGroup's outcome.
#[derive(Clone, Debug)]
pub enum JoinOutcome {
    /// MEMBER_ID_REQUIRED, with the id to join again with.
    MemberIdRequired(String),
    Joined(JoinAnswer),
}

/// A SyncGroup's answer.
#[derive(Clone, Debug)]
pub struct SyncAnswer {
    pub protocol_type: String,
    pub protocol_name: String,
    pub assignment: Bytes,
}

/// A group as DescribeGroups tells it.
#[derive(Clone, Debug, Default)]
pub struct ClassicDescription {
    pub state: String,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Clone, Debug)]
pub struct DescribedMember {
    pub member_id: String,
    pub client_id: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as ListGroups tells it.
#[derive(Clone, Debug)]
pub struct ListedGroup {
    pub group: String,
    pub protocol_type: String,
    pub state: String,
}

#[derive(Clone, Debug)]
pub enum ClassicResponse {
    Join(ClassicResult<JoinOutcome>),
    Sync(ClassicResult<SyncAnswer>),
    Heartbeat(ClassicResult<()>),
    /// Per member in the request's order.
    Leave(ClassicResult<Vec<(String, ClassicResult<()>)>>),
    /// Per partition, a native error code.
    Commit(ClassicResult<OffsetCommitResponse>),
    Describe(ClassicResult<ClassicDescription>),
    List(ClassicResult<Vec<ListedGroup>>),
}

/// One classic group and the requests waiting on it.
pub(super) struct ClassicEntry {
    pub(super) group: ClassicGroup,
    waiters: WaiterSet,
}

impl GroupCoordinator {
    /// A classic-group request on the group's coordinator core (List:
    /// this core's groups).
    pub async fn handle_classic(
        &self,
        request: ClassicRequest,
        topics: &TopicMap,
    ) -> ClassicResponse {
        match request {
            ClassicRequest::Join { group, spec } => {
                ClassicResponse::Join(self.classic_join(group, spec).await)
            }
            ClassicRequest::Sync { group, spec } => {
                ClassicResponse::Sync(self.classic_sync(group, spec).await)
            }
            ClassicRequest::Heartbeat {
                group,
                member_id,
                generation,
            } => ClassicResponse::Heartbeat(self.classic_heartbeat(&group, &member_id, generation)),
            ClassicRequest::Leave { group, member_ids } => {
                ClassicResponse::Leave(self.classic_leave(&group, member_ids))
            }
            ClassicRequest::Commit {
                group,
                member_id,
                generation,
                topics: commits,
            } => ClassicResponse::Commit(
                self.classic_commit(&group, &member_id, generation, commits, topics)
                    .await,
            ),
            ClassicRequest::Describe { group } => {
                ClassicResponse::Describe(Ok(self.classic_describe(&group)))
            }
            ClassicRequest::List => ClassicResponse::List(Ok(self.classic_list())),
        }
    }

    /// Whether Kafka consumers are members of `group` (native requests
    /// are refused then).
    pub(super) fn has_classic_members(&self, group: &str) -> bool {
        self.classic
            .borrow()
            .get(group)
            .is_some_and(|e| !e.group.members.is_empty())
    }

    fn refuse_if_native(&self, group: &str) -> ClassicResult<()> {
        if self.groups.borrow().contains_key(group) {
            return Err(ResponseError::InconsistentGroupProtocol);
        }
        Ok(())
    }

    async fn classic_join(&self, group: String, mut spec: JoinSpec) -> ClassicResult<JoinOutcome> {
        if self.stopping.get() {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        self.refuse_if_native(&group)?;
        let session = GROUP_SESSION_TIMEOUT_MS_MIN..=GROUP_SESSION_TIMEOUT_MS_MAX;
        if !session.contains(&spec.session_timeout_ms) {
            return Err(ResponseError::InvalidSessionTimeout);
        }
        spec.rebalance_timeout_ms = spec
            .rebalance_timeout_ms
            .clamp(1, GROUP_REBALANCE_TIMEOUT_MS_MAX);
        let known = self.classic.borrow().contains_key(&group);
        if !known && self.classic.borrow().len() >= GROUPS_PER_CORE_MAX {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        let serial = self.next_member.get();
        let client_id = spec.client_id.clone();
        let new_id = || {
            self.next_member.set(serial + 1);
            format!("{client_id}-{}-{serial}", super::members::started_ms())
        };
        let joined = {
            let mut classic = self.classic.borrow_mut();
            let entry = classic
                .entry(group.clone())
                .or_insert_with(|| ClassicEntry {
                    group: ClassicGroup::after_generation(self.take_last_generation(&group) as i32),
                    waiters: WaiterSet::new(),
                });
            entry
                .group
                .join(spec, new_id, GROUP_MEMBERS_MAX, Instant::now())
        };
        self.wake(&group);
        let ticket = match joined {
            Err(e) => {
                self.forget_classic_if_unused(&group);
                return Err(e);
            }
            Ok(Joined::MemberIdRequired(id)) => return Ok(JoinOutcome::MemberIdRequired(id)),
            Ok(Joined::Waiting(ticket)) => ticket,
        };
        let answer = self.wait(&group, |g| g.join_result(&ticket)).await?;
        tracing::debug!(%group, member = %answer.member_id, generation = answer.generation, "Kafka member joined");
        Ok(JoinOutcome::Joined(answer))
    }

    async fn classic_sync(&self, group: String, spec: SyncSpec) -> ClassicResult<SyncAnswer> {
        if self.stopping.get() {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        self.refuse_if_native(&group)?;
        let member_id = spec.member_id.clone();
        let generation = spec.generation;
        let synced = match self.classic.borrow_mut().get_mut(&group) {
            Some(entry) => entry.group.sync(spec, Instant::now()),
            None => Err(ResponseError::UnknownMemberId),
        };
        let answer = |g: &ClassicGroup, assignment: Bytes| SyncAnswer {
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone().unwrap_or_default(),
            assignment,
        };
        match synced? {
            Some(assignment) => {
                // The leader's: the followers can be answered.
                self.wake(&group);
                let classic = self.classic.borrow();
                let entry = classic.get(&group).expect("synced above");
                Ok(answer(&entry.group, assignment))
            }
            None => {
                self.wait(&group, |g| {
                    g.sync_result(&member_id, generation)
                        .map(|r| r.map(|assignment| answer(g, assignment)))
                })
                .await
            }
        }
    }

    fn classic_heartbeat(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
    ) -> ClassicResult<()> {
        self.refuse_if_native(group)?;
        match self.classic.borrow_mut().get_mut(group) {
            Some(entry) => entry.group.heartbeat(member_id, generation, Instant::now()),
            None => Err(ResponseError::UnknownMemberId),
        }
    }

    fn classic_leave(
        &self,
        group: &str,
        member_ids: Vec<String>,
    ) -> ClassicResult<Vec<(String, ClassicResult<()>)>> {
        self.refuse_if_native(group)?;
        let left = {
            let mut classic = self.classic.borrow_mut();
            let Some(entry) = classic.get_mut(group) else {
                return Err(ResponseError::UnknownMemberId);
            };
            let now = Instant::now();
            member_ids
                .into_iter()
                .map(|id| {
                    let left = entry.group.leave(&id, now);
                    (id, left)
                })
                .collect()
        };
        tracing::debug!(%group, ?left, "Kafka members left");
        self.wake(group);
        self.forget_classic_if_unused(group);
        Ok(left)
    }

    async fn classic_commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
        commits: Vec<(String, Vec<CommitPartition>)>,
        topics: &TopicMap,
    ) -> ClassicResult<OffsetCommitResponse> {
        self.refuse_if_native(group)?;
        let checked = match self.classic.borrow_mut().get_mut(group) {
            Some(entry) => entry
                .group
                .check_commit(member_id, generation, Instant::now()),
            // No membership (a broker restart forgets it): only a commit
            // outside membership.
            None if generation < 0 && member_id.is_empty() => Ok(()),
            None => Err(ResponseError::IllegalGeneration),
        };
        checked?;
        self.check_group_bound(group)
            .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
        self.write_commit(group, commits, topics)
            .await
            .map_err(|e| {
                tracing::error!(%group, error = %e.message, "a Kafka commit failed");
                ResponseError::UnknownServerError
            })
    }

    fn classic_describe(&self, group: &str) -> ClassicDescription {
        if let Some(entry) = self.classic.borrow().get(group) {
            let g = &entry.group;
            let protocol = g.protocol_name.clone().unwrap_or_default();
            return ClassicDescription {
                state: g.state.name().to_string(),
                protocol_type: g.protocol_type.clone(),
                members: g
                    .members
                    .iter()
                    .map(|(id, m)| DescribedMember {
                        member_id: id.clone(),
                        client_id: m.client_id.clone(),
                        metadata: m
                            .protocols
                            .iter()
                            .find(|p| p.name == protocol)
                            .map(|p| p.metadata.clone())
                            .unwrap_or_default(),
                        assignment: m.assignment.clone(),
                    })
                    .collect(),
                protocol_name: protocol,
            };
        }
        if let Some(native) = self.groups.borrow().get(group) {
            return ClassicDescription {
                state: native.state.name().to_string(),
                protocol_type: NATIVE_PROTOCOL_TYPE.to_string(),
                protocol_name: native.strategy.map_or("", |s| s.name()).to_string(),
                members: native
                    .members
                    .keys()
                    .map(|id| DescribedMember {
                        member_id: id.clone(),
                        client_id: String::new(),
                        metadata: Bytes::new(),
                        assignment: Bytes::new(),
                    })
                    .collect(),
            };
        }
        let known = self.committed.borrow().contains_key(group);
        ClassicDescription {
            state: if known { "Empty" } else { "Dead" }.to_string(),
            ..ClassicDescription::default()
        }
    }

    /// A classic group as the native DescribeGroup tells it: members and
    /// the protocol, not the assignments (the broker cannot read them).
    pub(super) fn describe_classic_natively(
        &self,
        group: &str,
    ) -> Option<crate::protocol::groups::DescribeGroupResponse> {
        let classic = self.classic.borrow();
        let g = &classic.get(group)?.group;
        Some(crate::protocol::groups::DescribeGroupResponse {
            group: group.to_string(),
            state: g.state.name().to_string(),
            generation: g.generation.max(0) as u32,
            strategy: g.protocol_name.clone().unwrap_or_default(),
            members: g
                .members
                .iter()
                .map(|(id, m)| crate::protocol::groups::MemberDescription {
                    member_id: id.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    topics: Vec::new(),
                    assignment: Vec::new(),
                })
                .collect(),
        })
    }

    fn classic_list(&self) -> Vec<ListedGroup> {
        self.list_local_groups()
            .groups
            .into_iter()
            .map(|listing| {
                let protocol_type = if let Some(e) = self.classic.borrow().get(&listing.group) {
                    e.group.protocol_type.clone()
                } else if self.groups.borrow().contains_key(&listing.group) {
                    NATIVE_PROTOCOL_TYPE.to_string()
                } else {
                    String::new()
                };
                ListedGroup {
                    group: listing.group,
                    protocol_type,
                    state: listing.state,
                }
            })
            .collect()
    }

    /// Waits until `check` answers (asked again on every change to the
    /// group), the group is gone, or shutdown.
    async fn wait<T>(
        &self,
        group: &str,
        check: impl Fn(&ClassicGroup) -> Option<ClassicResult<T>>,
    ) -> ClassicResult<T> {
        let Some(waiters) = self.classic.borrow().get(group).map(|e| e.waiters.clone()) else {
            return Err(ResponseError::UnknownMemberId);
        };
        let mut slot = waiters.slot();
        std::future::poll_fn(|cx| {
            if self.stopping.get() {
                return std::task::Poll::Ready(Err(ResponseError::CoordinatorNotAvailable));
            }
            let classic = self.classic.borrow();
            let Some(entry) = classic.get(group) else {
                return std::task::Poll::Ready(Err(ResponseError::UnknownMemberId));
            };
            match check(&entry.group) {
                Some(answer) => std::task::Poll::Ready(answer),
                None => {
                    slot.register(cx.waker());
                    std::task::Poll::Pending
                }
            }
        })
        .await
    }

    fn wake(&self, group: &str) {
        if let Some(entry) = self.classic.borrow().get(group) {
            entry.waiters.wake_all();
        }
    }

    /// Wakes every waiting classic request (shutdown: they answer
    /// COORDINATOR_NOT_AVAILABLE).
    pub(super) fn wake_all_classic(&self) {
        for entry in self.classic.borrow().values() {
            entry.waiters.wake_all();
        }
    }

    /// The timer's round for classic groups: expired sessions and
    /// pending ids, rebalance deadlines.
    pub(super) fn tick_classic(&self, now: Instant) {
        let changed: Vec<String> = self
            .classic
            .borrow_mut()
            .iter_mut()
            .filter_map(|(name, entry)| {
                let had_pending = !entry.group.is_empty();
                let removed = entry.group.tick(now);
                for member in &removed {
                    tracing::info!(group = %name, %member, "Kafka member removed: session expired or absent from the rebalance");
                }
                let changed = !removed.is_empty() || (had_pending && entry.group.is_empty());
                changed.then(|| name.clone())
            })
            .collect();
        for name in changed {
            self.wake(&name);
            self.forget_classic_if_unused(&name);
        }
    }

    /// Drops a classic group without members or pending ids (its waiters
    /// were woken: they find it gone); keeps its generation if it still
    /// exists through committed offsets.
    fn forget_classic_if_unused(&self, group: &str) {
        let mut classic = self.classic.borrow_mut();
        if !classic.get(group).is_some_and(|e| e.group.is_empty()) {
            return;
        }
        let Some(emptied) = classic.remove(group) else {
            return;
        };
        emptied.waiters.wake_all();
        if emptied.group.generation > 0 && self.committed.borrow().contains_key(group) {
            self.last_generations
                .borrow_mut()
                .insert(group.to_string(), emptied.group.generation as u32);
        }
    }
}

/// The native refusal of a request for a group Kafka consumers are members of.
pub(super) fn used_by_kafka(group: &str) -> crate::error::WireError {
    crate::error::WireError::new(
        ErrorCode::InconsistentGroupStrategy,
        format!("group {group} has Kafka consumers as members"),
    )
}
