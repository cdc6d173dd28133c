//! Membership on the coordinator core: join (which waits until the
//! rebalance completes), heartbeat, leave, and the timer's tick that
//! removes members whose session expired and ends rebalances at their
//! deadline.
//! The state machine itself is `group_logic::membership`; this file holds the
//! waiting joins and answers them.

use std::time::Instant;

use super::{by_topic, refuse, GroupAnswer, GroupCoordinator};
use crate::config::{
    GROUPS_PER_CORE_MAX, GROUP_MEMBERS_MAX, GROUP_REBALANCE_TIMEOUT_MS_MAX,
    GROUP_SESSION_TIMEOUT_MS_MAX, GROUP_SESSION_TIMEOUT_MS_MIN,
};
use crate::error::{ErrorCode, WireError};
use crate::group_logic::assign::Strategy;
use crate::group_logic::membership::{Group, JoinSpec, Rebalanced};
use crate::protocol::groups::{
    GroupResponse, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
};
use crate::protocol::ApiKey;
use crate::topics::TopicMap;

/// The partition count of a topic, as the assignors need it.
fn counts(topics: &TopicMap) -> impl Fn(&str) -> Option<u32> + '_ {
    move |topic| topics.get(topic).map(|t| t.partitions)
}

impl GroupCoordinator {
    /// A join: answered once the rebalance it starts (or joins) completes,
    /// with the member's generation and partitions.
    pub(super) async fn join(&self, r: JoinGroupRequest, topics: &TopicMap) -> GroupAnswer {
        if self.stopping.get() {
            return refuse(ErrorCode::ShuttingDown, "the broker is shutting down");
        }
        let Some(strategy) = Strategy::from_name(&r.strategy) else {
            let known: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
            return refuse(
                ErrorCode::InconsistentGroupStrategy,
                format!(
                    "unknown strategy {:?}; known: {}",
                    r.strategy,
                    known.join(", ")
                ),
            );
        };
        let session = GROUP_SESSION_TIMEOUT_MS_MIN..=GROUP_SESSION_TIMEOUT_MS_MAX;
        if !session.contains(&r.session_timeout_ms) {
            return refuse(
                ErrorCode::InvalidSessionTimeout,
                format!(
                    "session_timeout_ms {} outside {GROUP_SESSION_TIMEOUT_MS_MIN}..={GROUP_SESSION_TIMEOUT_MS_MAX}",
                    r.session_timeout_ms
                ),
            );
        }
        if !(1..=GROUP_REBALANCE_TIMEOUT_MS_MAX).contains(&r.rebalance_timeout_ms) {
            return refuse(
                ErrorCode::InvalidSessionTimeout,
                format!(
                    "rebalance_timeout_ms {} outside 1..={GROUP_REBALANCE_TIMEOUT_MS_MAX}",
                    r.rebalance_timeout_ms
                ),
            );
        }
        if self.has_classic_members(&r.group) {
            return Err(super::classic::used_by_kafka(&r.group));
        }
        let spec = JoinSpec {
            member_id: r.member_id,
            session_timeout_ms: r.session_timeout_ms,
            rebalance_timeout_ms: r.rebalance_timeout_ms,
            strategy,
            topics: r.topics,
        };
        let coordinator = self;
        let serial = coordinator.next_member.get();
        let new_id = || {
            coordinator.next_member.set(serial + 1);
            format!("{}-{}-{serial}", r.group, started_ms())
        };
        let counts = counts(topics);
        let known = coordinator.groups.borrow().contains_key(&r.group);
        if !known && coordinator.groups.borrow().len() >= GROUPS_PER_CORE_MAX {
            return refuse(
                ErrorCode::TooManyGroups,
                format!("this core coordinates {GROUPS_PER_CORE_MAX} groups with members"),
            );
        }
        // A group that still exists (it has committed offsets) continues
        // its generations: a join always answers one more than the last.
        let joined = coordinator
            .groups
            .borrow_mut()
            .entry(r.group.clone())
            .or_insert_with(|| Group::after_generation(coordinator.take_last_generation(&r.group)))
            .join(spec, new_id, GROUP_MEMBERS_MAX, Instant::now(), &counts);
        let (member_id, done) = match joined {
            Ok(joined) => joined,
            Err(code) => {
                coordinator.forget_if_unused(&r.group);
                return refuse(code, format!("joining group {}", r.group));
            }
        };
        let (reply, answer) = flume::bounded(1);
        let replaced = coordinator
            .waiting
            .borrow_mut()
            .insert((r.group.clone(), member_id.clone()), reply);
        if let Some(older) = replaced {
            let _ = older.send(refuse(
                ErrorCode::RebalanceInProgress,
                "the member joined again with a newer request",
            ));
        }
        if let Some(done) = done {
            coordinator.answer_joins(&r.group, done);
        }
        answer
            .recv_async()
            .await
            .unwrap_or_else(|_| refuse(ErrorCode::ShuttingDown, "the broker is shutting down"))
    }

    pub(super) fn heartbeat(&self, r: &HeartbeatRequest) -> GroupAnswer {
        let mut groups = self.groups.borrow_mut();
        let Some(group) = groups.get_mut(&r.group) else {
            return refuse(
                ErrorCode::UnknownMemberId,
                format!("group {} has no members", r.group),
            );
        };
        group
            .heartbeat(&r.member_id, r.generation, Instant::now())
            .map_err(|code| {
                WireError::new(
                    code,
                    format!("heartbeat of {} in group {}", r.member_id, r.group),
                )
            })?;
        Ok(GroupResponse::Empty(ApiKey::Heartbeat))
    }

    pub(super) fn leave(&self, r: &LeaveGroupRequest, topics: &TopicMap) -> GroupAnswer {
        let coordinator = self;
        let counts = counts(topics);
        let left = match coordinator.groups.borrow_mut().get_mut(&r.group) {
            Some(group) => group.leave(&r.member_id, Instant::now(), &counts),
            None => Err(ErrorCode::UnknownMemberId),
        };
        let done = left.map_err(|code| {
            WireError::new(code, format!("{} leaving group {}", r.member_id, r.group))
        })?;
        tracing::debug!(group = %r.group, member = %r.member_id, "member left");
        coordinator.drop_waiting(&r.group, &r.member_id);
        if let Some(done) = done {
            coordinator.answer_joins(&r.group, done);
        }
        coordinator.forget_if_unused(&r.group);
        Ok(GroupResponse::Empty(ApiKey::LeaveGroup))
    }

    /// One round of the group timer: expired sessions, rebalance
    /// deadlines.
    pub fn tick(&self, topics: &TopicMap) {
        self.tick_at(Instant::now(), topics);
    }

    /// [`GroupCoordinator::tick`] at `now`.
    pub(super) fn tick_at(&self, now: Instant, topics: &TopicMap) {
        self.tick_classic(now);
        let coordinator = self;
        let counts = counts(topics);
        let ticks: Vec<_> = coordinator
            .groups
            .borrow_mut()
            .iter_mut()
            .map(|(name, group)| (name.clone(), group.tick(now, &counts)))
            .filter(|(_, tick)| !tick.removed.is_empty() || tick.rebalanced.is_some())
            .collect();
        for (name, tick) in ticks {
            for member in &tick.removed {
                tracing::info!(group = %name, %member, "member removed: session expired or absent from the rebalance");
                coordinator.drop_waiting(&name, member);
            }
            if let Some(done) = tick.rebalanced {
                coordinator.answer_joins(&name, done);
            }
            coordinator.forget_if_unused(&name);
        }
    }

    /// Answers every waiting join of a completed rebalance.
    fn answer_joins(&self, group: &str, done: Rebalanced) {
        let strategy = self
            .groups
            .borrow()
            .get(group)
            .and_then(|g| g.strategy)
            .map_or("", |s| s.name())
            .to_string();
        tracing::info!(%group, generation = done.generation, members = done.assignment.len(), "group rebalanced");
        let mut waiting = self.waiting.borrow_mut();
        for (member_id, partitions) in done.assignment {
            let Some(reply) = waiting.remove(&(group.to_string(), member_id.clone())) else {
                continue;
            };
            let response = JoinGroupResponse {
                generation: done.generation,
                member_id,
                strategy: strategy.clone(),
                assignment: by_topic(partitions.iter()),
            };
            let _ = reply.send(Ok(GroupResponse::Join(response)));
        }
    }

    /// A member that is gone: its waiting join, if any, is refused.
    fn drop_waiting(&self, group: &str, member: &str) {
        let reply = self
            .waiting
            .borrow_mut()
            .remove(&(group.to_string(), member.to_string()));
        if let Some(reply) = reply {
            let _ = reply.send(refuse(
                ErrorCode::UnknownMemberId,
                format!("{member} is no longer a member of {group}"),
            ));
        }
    }

    /// Drops the membership state of a group without members; if the
    /// group still exists (it has committed offsets), keeps its generation.
    fn forget_if_unused(&self, group: &str) {
        let mut groups = self.groups.borrow_mut();
        if !groups.get(group).is_some_and(|g| g.is_empty()) {
            return;
        }
        let Some(emptied) = groups.remove(group) else {
            return;
        };
        if emptied.generation > 0 && self.committed.borrow().contains_key(group) {
            self.last_generations
                .borrow_mut()
                .insert(group.to_string(), emptied.generation);
        }
    }

    /// The last generation of a group without members (0: none).
    pub(super) fn last_generation(&self, group: &str) -> u32 {
        self.last_generations
            .borrow()
            .get(group)
            .copied()
            .unwrap_or(0)
    }

    /// The last generation of a group without members, for a new member
    /// state that continues from it.
    pub(super) fn take_last_generation(&self, group: &str) -> u32 {
        self.last_generations
            .borrow_mut()
            .remove(group)
            .unwrap_or(0)
    }

    /// Shutdown has begun: every waiting join is answered
    /// `ShuttingDown` now (so connections can drain), and later joins are
    /// refused.
    pub fn stop_joins(&self) {
        self.stopping.set(true);
        self.wake_all_classic();
        for (_, reply) in self.waiting.borrow_mut().drain() {
            let _ = reply.send(refuse(
                ErrorCode::ShuttingDown,
                "the broker is shutting down",
            ));
        }
    }
}

/// The broker's start time in ms, so that member ids stay unique across
/// restarts.
pub(super) fn started_ms() -> i64 {
    use std::sync::OnceLock;
    static STARTED: OnceLock<i64> = OnceLock::new();
    *STARTED.get_or_init(crate::storage::log::now_ms)
}
