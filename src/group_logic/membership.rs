//! One group's membership, as its coordinator keeps it: members, their
//! sessions, the generation and the assignment. A pure state machine
//! (time is passed in, nothing waits here); the coordinator on the shard
//! (src/shard/coordinator/) holds the members' waiting joins and answers them
//! when a rebalance completes.
//!
//! The protocol is Kafka's eager rebalance with the assignment computed
//! here: any change of membership (a join, a leave, an expired session)
//! starts a rebalance; heartbeats then answer `RebalanceInProgress` and
//! every member joins again, giving up its partitions first. Once every
//! member has joined (or the rebalance deadline removes those that did
//! not), the generation goes up by one and each join is answered with that
//! member's partitions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::assign::{assign, AssignInput, Assignment, Strategy};
use crate::error::ErrorCode;
use crate::protocol::groups::NO_GENERATION;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members (the group may still have committed offsets).
    Empty,
    /// Waiting for every member to join again.
    Rebalancing,
    /// Every member has its partitions for the current generation.
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::Rebalancing => "Rebalancing",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Member {
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    pub topics: Vec<String>,
    pub last_seen: Instant,
    /// Has joined the rebalance in progress (and waits for its answer).
    pub joined: bool,
}

/// What a member asks when it joins.
#[derive(Clone, Debug)]
pub struct JoinSpec {
    /// Empty for a new member.
    pub member_id: String,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    pub strategy: Strategy,
    pub topics: Vec<String>,
}

/// A completed rebalance: every member's partitions in the new generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebalanced {
    pub generation: u32,
    pub assignment: Assignment,
}

/// What the clock did to a group.
#[derive(Debug, Default)]
pub struct Tick {
    /// Members removed (expired sessions, or absent at the deadline).
    pub removed: Vec<String>,
    pub rebalanced: Option<Rebalanced>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub generation: u32,
    pub strategy: Option<Strategy>,
    pub members: BTreeMap<String, Member>,
    pub assignment: Assignment,
    pub state: GroupState,
    rebalance_deadline: Option<Instant>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            generation: 0,
            strategy: None,
            members: BTreeMap::new(),
            assignment: Assignment::new(),
            state: GroupState::Empty,
            rebalance_deadline: None,
        }
    }
}

/// The partition count of a topic, if it exists.
pub type PartitionCounts<'a> = &'a dyn Fn(&str) -> Option<u32>;

impl Group {
    /// A group without members whose last generation was `generation`:
    /// its next rebalance completes generation `generation + 1`.
    pub fn after_generation(generation: u32) -> Group {
        Group {
            generation,
            ..Group::default()
        }
    }

    /// A member joins (or joins again). Returns its member id (a new one
    /// from `new_id` for a new member) and, if this join completed the
    /// rebalance, the new generation's assignment.
    pub fn join(
        &mut self,
        spec: JoinSpec,
        new_id: impl FnOnce() -> String,
        members_max: usize,
        now: Instant,
        counts: PartitionCounts<'_>,
    ) -> Result<(String, Option<Rebalanced>), ErrorCode> {
        if !self.members.is_empty() && self.strategy != Some(spec.strategy) {
            return Err(ErrorCode::InconsistentGroupStrategy);
        }
        let member_id = if spec.member_id.is_empty() {
            if self.members.len() >= members_max {
                return Err(ErrorCode::GroupFull);
            }
            new_id()
        } else if self.members.contains_key(&spec.member_id) {
            spec.member_id
        } else {
            return Err(ErrorCode::UnknownMemberId);
        };
        self.strategy = Some(spec.strategy);
        self.members.insert(
            member_id.clone(),
            Member {
                session_timeout_ms: spec.session_timeout_ms,
                rebalance_timeout_ms: spec.rebalance_timeout_ms,
                topics: spec.topics,
                last_seen: now,
                joined: false,
            },
        );
        self.start_rebalance(now);
        self.members
            .get_mut(&member_id)
            .expect("inserted above")
            .joined = true;
        Ok((member_id, self.complete_if_ready(now, counts)))
    }

    /// A member says it is alive. `RebalanceInProgress` tells it to join
    /// again.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        generation: u32,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        let member = self
            .members
            .get_mut(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        member.last_seen = now;
        if self.state == GroupState::Rebalancing {
            return Err(ErrorCode::RebalanceInProgress);
        }
        if generation != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        Ok(())
    }

    /// A member leaves; the others rebalance.
    pub fn leave(
        &mut self,
        member_id: &str,
        now: Instant,
        counts: PartitionCounts<'_>,
    ) -> Result<Option<Rebalanced>, ErrorCode> {
        self.members
            .remove(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        Ok(self.after_removal(now, counts))
    }

    /// Whether a commit from this member and generation is accepted. A
    /// commit outside membership ([`NO_GENERATION`]) is, while the group
    /// has no members.
    pub fn check_commit(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        if generation == NO_GENERATION {
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ErrorCode::GroupNotEmpty)
            };
        }
        let member = self
            .members
            .get_mut(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        member.last_seen = now;
        if generation < 0 || generation as u32 != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        Ok(())
    }

    /// Removes members whose session expired (a member waiting in a join
    /// is alive) and, past the rebalance deadline, members that did not
    /// join; completes the rebalance if it can.
    pub fn tick(&mut self, now: Instant, counts: PartitionCounts<'_>) -> Tick {
        let past_deadline = self.rebalance_deadline.is_some_and(|d| now >= d);
        let removed: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                let expired =
                    now >= m.last_seen + Duration::from_millis(u64::from(m.session_timeout_ms));
                !m.joined && (expired || past_deadline)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &removed {
            self.members.remove(id);
        }
        let rebalanced = if removed.is_empty() {
            None
        } else {
            self.after_removal(now, counts)
        };
        Tick {
            removed,
            rebalanced,
        }
    }

    /// Whether the group has nothing left: no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn after_removal(&mut self, now: Instant, counts: PartitionCounts<'_>) -> Option<Rebalanced> {
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.assignment.clear();
            self.rebalance_deadline = None;
            self.strategy = None;
            return None;
        }
        self.start_rebalance(now);
        self.complete_if_ready(now, counts)
    }

    fn start_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::Rebalancing {
            return;
        }
        self.state = GroupState::Rebalancing;
        let timeout_ms = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        self.rebalance_deadline = Some(now + Duration::from_millis(u64::from(timeout_ms)));
        for member in self.members.values_mut() {
            member.joined = false;
        }
    }

    fn complete_if_ready(
        &mut self,
        now: Instant,
        counts: PartitionCounts<'_>,
    ) -> Option<Rebalanced> {
        if self.state != GroupState::Rebalancing
            || self.members.is_empty()
            || self.members.values().any(|m| !m.joined)
        {
            return None;
        }
        let subscriptions: BTreeMap<String, Vec<String>> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.topics.clone()))
            .collect();
        let partitions: BTreeMap<String, u32> = subscriptions
            .values()
            .flatten()
            .filter_map(|t| counts(t).map(|n| (t.clone(), n)))
            .collect();
        let strategy = self.strategy.unwrap_or(Strategy::Range);
        self.assignment = assign(
            strategy,
            &AssignInput {
                subscriptions: &subscriptions,
                partitions: &partitions,
                previous: &self.assignment,
            },
        );
        self.generation += 1;
        self.state = GroupState::Stable;
        self.rebalance_deadline = None;
        for member in self.members.values_mut() {
            member.joined = false;
            member.last_seen = now;
        }
        Some(Rebalanced {
            generation: self.generation,
            assignment: self.assignment.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(topic: &str) -> Option<u32> {
        (topic == "t").then_some(12)
    }

    fn spec(member_id: &str) -> JoinSpec {
        JoinSpec {
            member_id: member_id.into(),
            session_timeout_ms: 1_000,
            rebalance_timeout_ms: 5_000,
            strategy: Strategy::Range,
            topics: vec!["t".into()],
        }
    }

    fn join(
        group: &mut Group,
        id: &str,
        name: &str,
        now: Instant,
    ) -> Result<(String, Option<Rebalanced>), ErrorCode> {
        group.join(spec(id), || name.to_string(), 10, now, &counts)
    }

    #[test]
    fn a_second_member_rebalances_the_first() {
        let now = Instant::now();
        let mut g = Group::default();
        let (a, done) = join(&mut g, "", "a", now).unwrap();
        let done = done.expect("alone: completes at once");
        assert_eq!(done.generation, 1);
        assert_eq!(done.assignment[&a].len(), 12);
        g.heartbeat(&a, 1, now).unwrap();

        let (b, done) = join(&mut g, "", "b", now).unwrap();
        assert!(done.is_none(), "waits for a");
        assert_eq!(g.heartbeat(&a, 1, now), Err(ErrorCode::RebalanceInProgress));
        // a may still commit what it processed before joining again.
        g.check_commit(&a, 1, now).unwrap();
        let (_, done) = join(&mut g, &a, "unused", now).unwrap();
        let done = done.expect("both joined");
        assert_eq!(done.generation, 2);
        assert_eq!(done.assignment[&a].len() + done.assignment[&b].len(), 12);
        assert_eq!(
            g.check_commit(&a, 1, now),
            Err(ErrorCode::IllegalGeneration)
        );
        assert_eq!(g.heartbeat(&a, 1, now), Err(ErrorCode::IllegalGeneration));
        g.check_commit(&b, 2, now).unwrap();
        assert_eq!(
            g.check_commit("nobody", 2, now),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.check_commit("", NO_GENERATION, now),
            Err(ErrorCode::GroupNotEmpty)
        );
    }

    #[test]
    fn an_expired_member_is_removed_and_the_rest_rebalance() {
        let start = Instant::now();
        let mut g = Group::default();
        let (a, _) = join(&mut g, "", "a", start).unwrap();
        let (b, _) = join(&mut g, "", "b", start).unwrap();
        join(&mut g, &a, "", start).unwrap().1.expect("complete");
        // b stops heartbeating; a goes on.
        let later = start + Duration::from_millis(800);
        g.heartbeat(&a, 2, later).unwrap();
        let tick = g.tick(start + Duration::from_millis(1_100), &counts);
        assert_eq!(tick.removed, [b]);
        assert!(tick.rebalanced.is_none(), "a must join again");
        assert_eq!(g.state, GroupState::Rebalancing);
        let (_, done) = join(&mut g, &a, "", later).unwrap();
        let done = done.unwrap();
        assert_eq!(done.generation, 3);
        assert_eq!(done.assignment[&a].len(), 12);
    }

    #[test]
    fn members_absent_at_the_deadline_are_removed() {
        let start = Instant::now();
        let mut g = Group::default();
        let (a, _) = join(&mut g, "", "a", start).unwrap();
        let (b, _) = join(&mut g, "", "b", start).unwrap();
        join(&mut g, &a, "", start).unwrap().1.unwrap();
        // c joins; b keeps heartbeating but never joins again.
        let (c, _) = join(&mut g, "", "c", start).unwrap();
        join(&mut g, &a, "", start).unwrap();
        for ms in (100..5_000).step_by(100) {
            let _ = g.heartbeat(&b, 2, start + Duration::from_millis(ms));
        }
        let tick = g.tick(start + Duration::from_millis(5_000), &counts);
        assert_eq!(tick.removed, [b]);
        let done = tick.rebalanced.unwrap();
        assert_eq!(done.assignment.keys().collect::<Vec<_>>(), [&a, &c]);
    }

    #[test]
    fn leaving_and_unknown_members() {
        let now = Instant::now();
        let mut g = Group::default();
        assert_eq!(
            join(&mut g, "ghost", "x", now).unwrap_err(),
            ErrorCode::UnknownMemberId
        );
        let (a, _) = join(&mut g, "", "a", now).unwrap();
        let other = JoinSpec {
            strategy: Strategy::Sticky,
            ..spec("")
        };
        assert_eq!(
            g.join(other, || "b".into(), 10, now, &counts).unwrap_err(),
            ErrorCode::InconsistentGroupStrategy
        );
        assert_eq!(g.leave(&a, now, &counts), Ok(None));
        assert_eq!(g.state, GroupState::Empty);
        g.check_commit("", NO_GENERATION, now).unwrap();
        assert_eq!(g.leave(&a, now, &counts), Err(ErrorCode::UnknownMemberId));
        let full = g.join(spec(""), || "m".into(), 0, now, &counts);
        assert_eq!(full.unwrap_err(), ErrorCode::GroupFull);
    }
}
