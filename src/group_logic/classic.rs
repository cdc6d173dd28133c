//! Kafka's classic consumer-group protocol, sans-IO: one group's members,
//! generation, leader and assignments as JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup and OffsetCommit change them (docs/KAFKA.md). Time is passed
//! in and nothing waits here; the coordinator (src/shard/coordinator/classic.rs)
//! parks the waiting requests and asks [`ClassicGroup::join_result`] and
//! [`ClassicGroup::sync_result`] whether they can be answered yet.
//!
//! Unlike native groups, the assignment is the clients': every member
//! sends its supported protocols (assignor names) with opaque metadata;
//! the group picks a protocol all support, names a leader, and sends the
//! member list only to it; the leader computes the assignment and hands
//! it back in SyncGroup, which the followers wait for. The broker never
//! looks inside metadata or assignments.
//!
//! States (Kafka's names): `Empty` (no members), `PreparingRebalance`
//! (waiting for every member to join again, until the rebalance deadline),
//! `CompletingRebalance` (the round is done, waiting for the leader's
//! SyncGroup), `Stable`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// Kafka's "no generation": a commit outside membership, from a consumer
/// that only assigns itself partitions.
pub const NO_GENERATION: i32 = -1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl ClassicState {
    /// Kafka's name, as DescribeGroups and ListGroups give it.
    pub fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
        }
    }
}

/// One protocol a member supports (an assignor name) with its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Clone, Debug)]
pub struct ClassicMember {
    pub client_id: String,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// What the leader assigned it in the current generation.
    pub assignment: Bytes,
    pub last_seen: Instant,
    /// Has joined the rebalance in progress.
    pub joined: bool,
    /// Has sent SyncGroup in the current generation.
    pub synced: bool,
    /// Counts this member's joins: a waiting join answered by a later one
    /// of the same member is superseded.
    pub join_serial: u64,
}

impl ClassicMember {
    fn metadata_of(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }
}

/// A JoinGroup, as the coordinator passes it in.
#[derive(Clone, Debug)]
pub struct JoinSpec {
    /// Empty for a new member.
    pub member_id: String,
    /// JoinGroup v4+: a new member first gets its id with
    /// MEMBER_ID_REQUIRED and joins again with it.
    pub require_known_member_id: bool,
    pub client_id: String,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
}

/// What a join did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joined {
    /// A new member must join again with this id (MEMBER_ID_REQUIRED).
    MemberIdRequired(String),
    /// The member waits for the round; ask [`ClassicGroup::join_result`]
    /// with this ticket.
    Waiting(JoinTicket),
}

/// Identifies one waiting join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinTicket {
    pub member_id: String,
    /// The generation the round will complete.
    pub generation: i32,
    pub join_serial: u64,
}

/// A completed round: the new generation as the JoinGroup answers tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub generation: i32,
    pub protocol_name: String,
    pub leader: String,
    /// Every member with its metadata for the chosen protocol: sent to
    /// the leader only.
    pub members: Vec<(String, Bytes)>,
}

/// One member's JoinGroup answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinAnswer {
    pub generation: i32,
    pub protocol_type: String,
    pub protocol_name: String,
    pub leader: String,
    pub member_id: String,
    /// Empty unless this member is the leader.
    pub members: Vec<(String, Bytes)>,
}

/// A SyncGroup, as the coordinator passes it in.
#[derive(Clone, Debug, Default)]
pub struct SyncSpec {
    pub member_id: String,
    pub generation: i32,
    /// v5: checked against the group's when present.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment, by member; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

pub type ClassicResult<T> = Result<T, ResponseError>;

#[derive(Clone, Debug)]
pub struct ClassicGroup {
    pub generation: i32,
    pub state: ClassicState,
    pub protocol_type: String,
    /// The protocol chosen for the current generation.
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, ClassicMember>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not joined yet: until when
    /// they may join.
    pending: BTreeMap<String, Instant>,
    /// PreparingRebalance: when absent members are removed;
    /// CompletingRebalance: when members that did not sync are.
    deadline: Option<Instant>,
    /// The last completed round, for the joins that wait for it.
    last_round: Option<Round>,
}

impl ClassicGroup {
    /// A group without members whose last generation was `generation`.
    pub fn after_generation(generation: i32) -> ClassicGroup {
        ClassicGroup {
            generation,
            state: ClassicState::Empty,
            protocol_type: String::new(),
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            deadline: None,
            last_round: None,
        }
    }

    /// Whether nothing is left of the membership (no members, no pending
    /// member ids).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty()
    }

    /// A JoinGroup. `new_id` makes the id of a new member.
    pub fn join(
        &mut self,
        spec: JoinSpec,
        new_id: impl FnOnce() -> String,
        members_max: usize,
        now: Instant,
    ) -> ClassicResult<Joined> {
        if spec.protocol_type.is_empty() || spec.protocols.is_empty() {
            return Err(ResponseError::InconsistentGroupProtocol);
        }
        if !self.members.is_empty() {
            let shared = spec
                .protocols
                .iter()
                .any(|p| self.members.values().all(|m| m.supports(&p.name)));
            if spec.protocol_type != self.protocol_type || !shared {
                // A member joining again may change its own protocols.
                let alone = self.members.len() == 1 && self.members.contains_key(&spec.member_id);
                if !alone {
                    return Err(ResponseError::InconsistentGroupProtocol);
                }
            }
        }
        let member_id = if spec.member_id.is_empty() {
            if self.members.len() + self.pending.len() >= members_max {
                return Err(ResponseError::GroupMaxSizeReached);
            }
            let id = new_id();
            if spec.require_known_member_id {
                let expires = now + Duration::from_millis(u64::from(spec.session_timeout_ms));
                self.pending.insert(id.clone(), expires);
                return Ok(Joined::MemberIdRequired(id));
            }
            id
        } else if self.pending.remove(&spec.member_id).is_some()
            || self.members.contains_key(&spec.member_id)
        {
            spec.member_id
        } else {
            return Err(ResponseError::UnknownMemberId);
        };
        self.protocol_type = spec.protocol_type;
        let join_serial = self.members.get(&member_id).map_or(0, |m| m.join_serial) + 1;
        let assignment = self
            .members
            .get(&member_id)
            .map(|m| m.assignment.clone())
            .unwrap_or_default();
        self.members.insert(
            member_id.clone(),
            ClassicMember {
                client_id: spec.client_id,
                session_timeout_ms: spec.session_timeout_ms,
                rebalance_timeout_ms: spec.rebalance_timeout_ms,
                protocols: spec.protocols,
                assignment,
                last_seen: now,
                joined: false,
                synced: false,
                join_serial,
            },
        );
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        self.start_rebalance(now);
        self.members
            .get_mut(&member_id)
            .expect("inserted above")
            .joined = true;
        let ticket = JoinTicket {
            member_id,
            generation: self.generation + 1,
            join_serial,
        };
        self.complete_join_if_ready(now);
        Ok(Joined::Waiting(ticket))
    }

    /// A waiting join's answer, once its round completed: `None` while it
    /// waits.
    pub fn join_result(&self, ticket: &JoinTicket) -> Option<ClassicResult<JoinAnswer>> {
        let Some(member) = self.members.get(&ticket.member_id) else {
            return Some(Err(ResponseError::UnknownMemberId));
        };
        if member.join_serial != ticket.join_serial {
            // The member joined again; the newer request gets the answer.
            return Some(Err(ResponseError::RebalanceInProgress));
        }
        if self.generation < ticket.generation {
            return None;
        }
        let round = self
            .last_round
            .as_ref()
            .filter(|r| r.generation == ticket.generation);
        let Some(round) = round else {
            return Some(Err(ResponseError::RebalanceInProgress));
        };
        let is_leader = round.leader == ticket.member_id;
        Some(Ok(JoinAnswer {
            generation: round.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: round.protocol_name.clone(),
            leader: round.leader.clone(),
            member_id: ticket.member_id.clone(),
            members: if is_leader {
                round.members.clone()
            } else {
                Vec::new()
            },
        }))
    }

    /// A SyncGroup: `Some` is the answer now (a follower of a stable
    /// group, or the leader, whose assignment completes the generation);
    /// `None`: ask [`ClassicGroup::sync_result`] until the leader's
    /// arrives.
    pub fn sync(&mut self, spec: SyncSpec, now: Instant) -> ClassicResult<Option<Bytes>> {
        self.check_member(&spec.member_id, spec.generation, now)?;
        let protocol_mismatch = spec
            .protocol_type
            .as_ref()
            .is_some_and(|t| *t != self.protocol_type)
            || spec
                .protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != self.protocol_name.as_ref());
        if protocol_mismatch {
            return Err(ResponseError::InconsistentGroupProtocol);
        }
        match self.state {
            ClassicState::Empty | ClassicState::PreparingRebalance => {
                Err(ResponseError::RebalanceInProgress)
            }
            ClassicState::Stable => Ok(Some(self.members[&spec.member_id].assignment.clone())),
            ClassicState::CompletingRebalance => {
                self.members
                    .get_mut(&spec.member_id)
                    .expect("checked")
                    .synced = true;
                if self.leader.as_ref() != Some(&spec.member_id) {
                    return Ok(None);
                }
                let mut assigned: BTreeMap<String, Bytes> = spec.assignments.into_iter().collect();
                for (id, member) in self.members.iter_mut() {
                    // Members the leader left out get an empty assignment.
                    member.assignment = assigned.remove(id).unwrap_or_default();
                }
                self.state = ClassicState::Stable;
                self.deadline = None;
                Ok(Some(self.members[&spec.member_id].assignment.clone()))
            }
        }
    }

    /// A waiting SyncGroup's answer: `None` while the leader's has not
    /// arrived.
    pub fn sync_result(&self, member_id: &str, generation: i32) -> Option<ClassicResult<Bytes>> {
        let Some(member) = self.members.get(member_id) else {
            return Some(Err(ResponseError::UnknownMemberId));
        };
        if generation != self.generation {
            return Some(Err(ResponseError::RebalanceInProgress));
        }
        match self.state {
            ClassicState::CompletingRebalance => None,
            ClassicState::Stable => Some(Ok(member.assignment.clone())),
            ClassicState::Empty | ClassicState::PreparingRebalance => {
                Some(Err(ResponseError::RebalanceInProgress))
            }
        }
    }

    /// A Heartbeat: REBALANCE_IN_PROGRESS tells the member to join again.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> ClassicResult<()> {
        self.check_member(member_id, generation, now)?;
        if self.state == ClassicState::PreparingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// A member leaves; the others rebalance.
    pub fn leave(&mut self, member_id: &str, now: Instant) -> ClassicResult<()> {
        if self.pending.remove(member_id).is_some() {
            return Ok(());
        }
        self.members
            .remove(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        self.after_removal(now);
        Ok(())
    }

    /// Whether an OffsetCommit from this member and generation is
    /// accepted (Kafka's rules): a commit outside membership
    /// ([`NO_GENERATION`], no member id) only while the group has no
    /// members; else the member's current generation, also while a
    /// rebalance prepares, but not while it completes.
    pub fn check_commit(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> ClassicResult<()> {
        if generation < 0 && member_id.is_empty() {
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        }
        self.check_member(member_id, generation, now)?;
        if self.state == ClassicState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Removes expired pending ids; members whose session expired (one
    /// waiting in a join or a sync is alive); past a rebalance's deadline,
    /// the members that did not join (or, completing it, sync). Returns
    /// the members removed.
    pub fn tick(&mut self, now: Instant) -> Vec<String> {
        self.pending.retain(|_, expires| *expires > now);
        let past_deadline = self.deadline.is_some_and(|d| now >= d);
        let state = self.state;
        let removed: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                let waiting = match state {
                    ClassicState::PreparingRebalance => m.joined,
                    ClassicState::CompletingRebalance => m.synced,
                    _ => false,
                };
                let expired =
                    now >= m.last_seen + Duration::from_millis(u64::from(m.session_timeout_ms));
                !waiting && (expired || past_deadline)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &removed {
            self.members.remove(id);
        }
        if !removed.is_empty() {
            self.after_removal(now);
        }
        removed
    }

    /// The member exists and is in `generation`; marks it alive.
    fn check_member(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> ClassicResult<()> {
        let member = self
            .members
            .get_mut(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        member.last_seen = now;
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    fn after_removal(&mut self, now: Instant) {
        if self
            .leader
            .as_ref()
            .is_some_and(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        if self.members.is_empty() {
            self.state = ClassicState::Empty;
            self.deadline = None;
            self.protocol_name = None;
            self.leader = None;
            return;
        }
        self.start_rebalance(now);
        self.complete_join_if_ready(now);
    }

    fn start_rebalance(&mut self, now: Instant) {
        if self.state == ClassicState::PreparingRebalance {
            return;
        }
        self.state = ClassicState::PreparingRebalance;
        self.deadline = Some(now + self.rebalance_timeout());
        for member in self.members.values_mut() {
            member.joined = false;
            member.synced = false;
        }
    }

    fn rebalance_timeout(&self) -> Duration {
        let ms = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        Duration::from_millis(u64::from(ms))
    }

    /// Once every member has joined: the protocol, the leader, the new
    /// generation.
    fn complete_join_if_ready(&mut self, now: Instant) {
        if self.state != ClassicState::PreparingRebalance
            || self.members.is_empty()
            || self.members.values().any(|m| !m.joined)
        {
            return;
        }
        let protocol = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().expect("the group has members");
        self.generation += 1;
        self.state = ClassicState::CompletingRebalance;
        self.deadline = Some(now + self.rebalance_timeout());
        self.protocol_name = Some(protocol.clone());
        for member in self.members.values_mut() {
            member.joined = false;
            member.synced = false;
            member.last_seen = now;
            member.assignment = Bytes::new();
        }
        self.last_round = Some(Round {
            generation: self.generation,
            members: self
                .members
                .iter()
                .map(|(id, m)| (id.clone(), m.metadata_of(&protocol)))
                .collect(),
            protocol_name: protocol,
            leader,
        });
    }

    /// Kafka's vote: of the protocols every member supports, each member
    /// votes for the one it prefers most; most votes wins (ties: the
    /// leader's order).
    fn choose_protocol(&self) -> String {
        let candidates: Vec<&str> = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())
            .map(|m| m.protocols.iter().map(|p| p.name.as_str()).collect())
            .unwrap_or_default();
        let candidates: Vec<&str> = candidates
            .into_iter()
            .filter(|c| self.members.values().all(|m| m.supports(c)))
            .collect();
        let votes = |candidate: &str| {
            self.members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .find(|p| candidates.contains(&p.name.as_str()))
                        .is_some_and(|p| p.name == candidate)
                })
                .count()
        };
        let mut best: Option<(&str, usize)> = None;
        for candidate in &candidates {
            let n = votes(candidate);
            if best.is_none_or(|(_, most)| n > most) {
                best = Some((candidate, n));
            }
        }
        best.map(|(name, _)| name.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(member_id: &str, protocols: &[&str]) -> JoinSpec {
        JoinSpec {
            member_id: member_id.into(),
            require_known_member_id: false,
            client_id: "test".into(),
            session_timeout_ms: 1_000,
            rebalance_timeout_ms: 5_000,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|name| Protocol {
                    name: name.to_string(),
                    metadata: Bytes::from(format!("meta-{member_id}-{name}")),
                })
                .collect(),
        }
    }

    fn join(g: &mut ClassicGroup, id: &str, new: &str, now: Instant) -> JoinTicket {
        match g
            .join(spec(id, &["range"]), || new.to_string(), 10, now)
            .unwrap()
        {
            Joined::Waiting(ticket) => ticket,
            other => panic!("{other:?}"),
        }
    }

    fn sync(
        g: &mut ClassicGroup,
        id: &str,
        generation: i32,
        assignments: &[(&str, &str)],
    ) -> ClassicResult<Option<Bytes>> {
        let spec = SyncSpec {
            member_id: id.into(),
            generation,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
            ..SyncSpec::default()
        };
        g.sync(spec, Instant::now())
    }

    #[test]
    fn the_member_id_required_join_and_a_lone_member() {
        let now = Instant::now();
        let mut g = ClassicGroup::after_generation(0);
        let first = JoinSpec {
            require_known_member_id: true,
            ..spec("", &["range"])
        };
        let id = match g.join(first, || "m1".into(), 10, now).unwrap() {
            Joined::MemberIdRequired(id) => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(g.state, ClassicState::Empty, "a pending id is no member");
        assert_eq!(
            g.join(spec("stranger", &["range"]), || unreachable!(), 10, now)
                .unwrap_err(),
            ResponseError::UnknownMemberId
        );
        let ticket = join(&mut g, &id, "unused", now);
        let answer = g.join_result(&ticket).unwrap().unwrap();
        assert_eq!((answer.generation, answer.leader.as_str()), (1, "m1"));
        assert_eq!(answer.protocol_name, "range");
        assert_eq!(
            answer.members,
            vec![("m1".to_string(), Bytes::from("meta-m1-range"))]
        );
        assert_eq!(g.state, ClassicState::CompletingRebalance);
        assert_eq!(
            sync(&mut g, "m1", 1, &[("m1", "all")]),
            Ok(Some(Bytes::from("all")))
        );
        assert_eq!(g.state, ClassicState::Stable);
        assert_eq!(g.heartbeat("m1", 1, now), Ok(()));
    }

    #[test]
    fn followers_wait_for_the_leader_and_only_the_leader_gets_the_members() {
        let now = Instant::now();
        let mut g = ClassicGroup::after_generation(0);
        let a = join(&mut g, "", "a", now);
        sync(&mut g, "a", 1, &[]).unwrap();
        // b joins: a learns by heartbeat and joins again.
        let b = join(&mut g, "", "b", now);
        assert_eq!(g.join_result(&b), None);
        assert_eq!(
            g.heartbeat("a", 1, now),
            Err(ResponseError::RebalanceInProgress)
        );
        g.check_commit("a", 1, now).unwrap();
        let a2 = join(&mut g, "a", "", now);
        assert_ne!(a, a2);
        let leader = g.join_result(&a2).unwrap().unwrap();
        let follower = g.join_result(&b).unwrap().unwrap();
        assert_eq!(leader.generation, 2);
        assert_eq!(leader.leader, "a");
        assert_eq!(leader.members.len(), 2);
        assert!(follower.members.is_empty());
        // The follower's sync waits for the leader's.
        assert_eq!(sync(&mut g, "b", 2, &[]), Ok(None));
        assert_eq!(g.sync_result("b", 2), None);
        assert_eq!(
            g.check_commit("b", 2, now),
            Err(ResponseError::RebalanceInProgress)
        );
        assert_eq!(
            sync(&mut g, "a", 2, &[("a", "A")]),
            Ok(Some(Bytes::from("A")))
        );
        // b was left out: empty.
        assert_eq!(g.sync_result("b", 2), Some(Ok(Bytes::new())));
        assert_eq!(
            g.check_commit("a", 1, now),
            Err(ResponseError::IllegalGeneration)
        );
        g.check_commit("b", 2, now).unwrap();
        assert_eq!(
            g.check_commit("", NO_GENERATION, now),
            Err(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn a_join_while_the_leader_assigns_restarts_the_rebalance() {
        let now = Instant::now();
        let mut g = ClassicGroup::after_generation(4);
        join(&mut g, "", "a", now);
        assert_eq!(g.generation, 5, "continues from the last generation");
        assert_eq!(sync(&mut g, "a", 5, &[]), Ok(Some(Bytes::new())));
        let b = join(&mut g, "", "b", now);
        let a = join(&mut g, "a", "", now);
        assert!(g.join_result(&a).is_some());
        assert_eq!(sync(&mut g, "b", 6, &[]), Ok(None));
        join(&mut g, "", "c", now);
        assert_eq!(
            g.sync_result("b", 6),
            Some(Err(ResponseError::RebalanceInProgress))
        );
        // b's answered join stays answered.
        assert_eq!(g.join_result(&b).unwrap().unwrap().generation, 6);
    }

    #[test]
    fn protocols_are_voted_and_inconsistent_ones_refused() {
        let now = Instant::now();
        let mut g = ClassicGroup::after_generation(0);
        g.join(
            spec("", &["cooperative-sticky", "range"]),
            || "a".into(),
            10,
            now,
        )
        .unwrap();
        assert_eq!(g.protocol_name.as_deref(), Some("cooperative-sticky"));
        sync(&mut g, "a", 1, &[]).unwrap();
        assert_eq!(
            g.join(spec("", &["roundrobin"]), || "x".into(), 10, now)
                .unwrap_err(),
            ResponseError::InconsistentGroupProtocol
        );
        let b = match g
            .join(spec("", &["range"]), || "b".into(), 10, now)
            .unwrap()
        {
            Joined::Waiting(t) => t,
            other => panic!("{other:?}"),
        };
        g.join(
            spec("a", &["cooperative-sticky", "range"]),
            || unreachable!(),
            10,
            now,
        )
        .unwrap();
        assert_eq!(g.join_result(&b).unwrap().unwrap().protocol_name, "range");
        let other_type = JoinSpec {
            protocol_type: "connect".into(),
            ..spec("", &["range"])
        };
        assert_eq!(
            g.join(other_type, || "y".into(), 10, now).unwrap_err(),
            ResponseError::InconsistentGroupProtocol
        );
        assert_eq!(
            g.join(spec("", &["range"]), || "z".into(), 2, now)
                .unwrap_err(),
            ResponseError::GroupMaxSizeReached
        );
    }

    #[test]
    fn expired_and_absent_members_are_removed() {
        let start = Instant::now();
        let mut g = ClassicGroup::after_generation(0);
        join(&mut g, "", "a", start);
        let b = join(&mut g, "", "b", start);
        join(&mut g, "a", "", start);
        sync(&mut g, "a", 2, &[]).unwrap();
        sync(&mut g, "b", 2, &[]).unwrap();
        // b stops heartbeating.
        g.heartbeat("a", 2, start + Duration::from_millis(800))
            .unwrap();
        assert_eq!(g.tick(start + Duration::from_millis(1_100)), ["b"]);
        assert_eq!(g.join_result(&b), Some(Err(ResponseError::UnknownMemberId)));
        assert_eq!(g.state, ClassicState::PreparingRebalance);
        // c joins; a never joins again and stops heartbeating.
        let at = start + Duration::from_millis(1_100);
        let c = join(&mut g, "", "c", at);
        for ms in (0..1_000).step_by(100) {
            let _ = g.heartbeat("a", 2, at + Duration::from_millis(ms));
        }
        assert_eq!(
            g.tick(at + Duration::from_millis(1_000)),
            Vec::<String>::new()
        );
        assert_eq!(g.tick(start + Duration::from_millis(5_000)), ["a"]);
        let answer = g.join_result(&c).unwrap().unwrap();
        assert_eq!((answer.generation, answer.leader.as_str()), (3, "c"));
        g.leave("c", start).unwrap();
        assert_eq!(g.state, ClassicState::Empty);
        assert!(g.is_empty());
        g.check_commit("", NO_GENERATION, start).unwrap();
        assert_eq!(g.leave("c", start), Err(ResponseError::UnknownMemberId));
    }

    #[test]
    fn a_leader_that_never_syncs_is_removed_at_the_deadline() {
        let start = Instant::now();
        let mut g = ClassicGroup::after_generation(0);
        join(&mut g, "", "a", start);
        sync(&mut g, "a", 1, &[]).unwrap();
        join(&mut g, "", "b", start);
        join(&mut g, "a", "", start);
        assert_eq!(sync(&mut g, "b", 2, &[]), Ok(None));
        // a keeps heartbeating (allowed while completing) but never syncs.
        for ms in (0..5_000).step_by(500) {
            g.heartbeat("a", 2, start + Duration::from_millis(ms))
                .unwrap();
        }
        assert_eq!(g.tick(start + Duration::from_millis(5_000)), ["a"]);
        assert_eq!(
            g.sync_result("b", 2),
            Some(Err(ResponseError::RebalanceInProgress))
        );
    }
}
