//! The group consumer: members of a group share the partitions of the
//! topics they subscribe to, and the group's committed offsets say where
//! each partition resumes (docs/CLIENT.md, "Group consumer").
//!
//! Everything happens inside the caller's calls, on its thread: `poll`
//! joins the group when needed (the broker assigns the partitions),
//! sends a heartbeat when one is due, commits on the auto-commit interval,
//! then fetches. A heartbeat answered `RebalanceInProgress` makes the
//! consumer give up its partitions (committing first if auto-commit is on)
//! and join again. Call `poll` at least every `session_timeout_ms` minus
//! `max_wait_ms`, or the coordinator removes the member.
//!
//! Requests to the coordinator go to its core's own port
//! (FindCoordinator), falling back to the bootstrap address.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::cluster::{Cluster, Route};
use super::config::{GroupConsumerConfig, OffsetReset};
use super::consumer::{ConsumedRecord, Consumer};
use super::error::{ClientError, ClientResult};
use super::group_admin::{check_commit_response, refused};
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::groups::{
    decode_coordinator, CommitPartition, GroupNameRequest, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, NO_COMMITTED_OFFSET,
};
use shardlog_protocol::offsets::OffsetSpec;
use shardlog_protocol::{ApiKey, DecodeError, WireReader};

/// A topic and one of its partitions.
pub type TopicPartition = (String, u32);

/// What a rebalance did to this member, told to the callback set with
/// [`GroupConsumer::on_rebalance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceEvent<'a> {
    /// These partitions are no longer this member's (after the auto-commit
    /// of their positions, if it is on).
    Revoked(&'a [TopicPartition]),
    /// These partitions are this member's now, positioned at the group's
    /// committed offsets (or per `auto_offset_reset`).
    Assigned(&'a [TopicPartition]),
}

type RebalanceCallback = Box<dyn FnMut(RebalanceEvent<'_>) + Send>;

/// A member of a consumer group.
pub struct GroupConsumer {
    config: GroupConsumerConfig,
    consumer: Consumer,
    /// Connections for the coordinator calls, apart from the fetches.
    coordinator: Cluster,
    coordinator_core: Option<u16>,
    topics: Vec<String>,
    member_id: String,
    /// `None` until joined, and after the group started a rebalance.
    generation: Option<u32>,
    assignment: Vec<TopicPartition>,
    /// What was last committed per partition, so that auto-commit sends
    /// only what moved.
    committed: BTreeMap<TopicPartition, u64>,
    last_heartbeat: Instant,
    last_commit: Instant,
    callback: Option<RebalanceCallback>,
}

impl GroupConsumer {
    /// Checks the config; talks to the broker on the first `poll`.
    pub fn new(config: GroupConsumerConfig) -> ClientResult<GroupConsumer> {
        config.validate().map_err(ClientError::Invalid)?;
        let consumer = Consumer::new(config.consumer.clone())?;
        let mut connection = config.consumer.connection.clone();
        // A join waits on the broker for the whole rebalance.
        connection.request_timeout_ms += u64::from(config.rebalance_timeout_ms);
        Ok(GroupConsumer {
            coordinator: Cluster::new(&config.consumer.bootstrap, connection),
            consumer,
            coordinator_core: None,
            topics: Vec::new(),
            member_id: String::new(),
            generation: None,
            assignment: Vec::new(),
            committed: BTreeMap::new(),
            last_heartbeat: Instant::now(),
            last_commit: Instant::now(),
            callback: None,
            config,
        })
    }

    /// Reads these topics as a member of the group; takes effect at the
    /// next `poll` (which joins, or joins again).
    pub fn subscribe(&mut self, topics: &[&str]) {
        let mut topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        topics.sort();
        topics.dedup();
        if topics != self.topics {
            self.topics = topics;
            self.generation = None;
        }
    }

    /// Calls `callback` when partitions are revoked or assigned.
    pub fn on_rebalance(&mut self, callback: impl FnMut(RebalanceEvent<'_>) + Send + 'static) {
        self.callback = Some(Box::new(callback));
    }

    /// The partitions this member reads now.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// The generation this member joined, if it is a member now.
    pub fn generation(&self) -> Option<u32> {
        self.generation
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The offset of the next record `poll` returns for a partition.
    pub fn position(&self, topic: &str, partition: u32) -> Option<u64> {
        self.consumer.position(topic, partition)
    }

    /// Joins if needed, heartbeats and auto-commits when due, then fetches
    /// from the assigned partitions (waiting up to `max_wait_ms`). Returns
    /// no record, after a short wait, while the member has no partition.
    pub fn poll(&mut self) -> ClientResult<Vec<ConsumedRecord>> {
        if self.topics.is_empty() {
            return Err(ClientError::Invalid(
                "no topic subscribed: call subscribe first".into(),
            ));
        }
        if self.generation.is_none() {
            self.join()?;
        }
        self.heartbeat_if_due()?;
        if self.generation.is_none() {
            self.join()?;
        }
        if self.config.auto_commit
            && self.last_commit.elapsed()
                >= Duration::from_millis(self.config.auto_commit_interval_ms)
        {
            self.commit_or_rejoin()?;
        }
        if self.assignment.is_empty() {
            let wait =
                u64::from(self.config.consumer.max_wait_ms).min(self.config.heartbeat_interval_ms);
            std::thread::sleep(Duration::from_millis(wait));
            return Ok(Vec::new());
        }
        match self.consumer.poll() {
            Err(err) if err.code() == Some(ErrorCode::OffsetOutOfRange) => {
                // A committed offset the log no longer has (retention):
                // start again by auto_offset_reset.
                self.reset_out_of_range()?;
                Ok(Vec::new())
            }
            Err(err)
                if matches!(
                    err.code(),
                    Some(ErrorCode::UnknownTopic | ErrorCode::UnknownPartition)
                ) =>
            {
                // A subscribed topic was deleted: join again, and the
                // coordinator assigns what still exists.
                tracing::warn!(%err, group = %self.config.group, "assigned partition gone; joining again");
                if self.config.auto_commit {
                    self.commit_or_rejoin()?;
                }
                self.revoke();
                Ok(Vec::new())
            }
            result => result,
        }
    }

    /// Moves every assigned partition whose position is outside its log
    /// to where `auto_offset_reset` says.
    fn reset_out_of_range(&mut self) -> ClientResult<()> {
        let mut by_topic: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (topic, p) in &self.assignment {
            by_topic.entry(topic.clone()).or_default().push(*p);
        }
        for (topic, partitions) in by_topic {
            let earliest = self
                .consumer
                .list_offsets(&topic, &partitions, OffsetSpec::Earliest)?;
            let latest = self
                .consumer
                .list_offsets(&topic, &partitions, OffsetSpec::Latest)?;
            for ((p, low), (_, high)) in earliest.into_iter().zip(latest) {
                let at = self.consumer.position(&topic, p);
                if at.is_some_and(|at| at < low || at > high) {
                    let start = self.reset_position(&topic, p)?;
                    tracing::warn!(%topic, partition = p, ?at, start, "position outside the log; reset");
                    self.consumer.seek(&topic, p, start);
                }
            }
        }
        Ok(())
    }

    /// Commits the position of every assigned partition: the offset after
    /// the last record `poll` returned.
    pub fn commit(&mut self) -> ClientResult<()> {
        let offsets: Vec<(String, u32, u64)> = self
            .assignment
            .iter()
            .filter_map(|(t, p)| self.consumer.position(t, *p).map(|at| (t.clone(), *p, at)))
            .collect();
        self.commit_offsets(&offsets)
    }

    /// Commits these offsets (each the next offset to consume) for the
    /// group, as the member of the current generation. A refusal because
    /// the group moved on (`IllegalGeneration`, `UnknownMemberId`) makes
    /// the next `poll` join again.
    pub fn commit_offsets(&mut self, offsets: &[(String, u32, u64)]) -> ClientResult<()> {
        let Some(generation) = self.generation else {
            return Err(refused(
                ErrorCode::RebalanceInProgress,
                format!(
                    "not a member of group {} now: poll joins again",
                    self.config.group
                ),
            ));
        };
        let mut topics: Vec<(String, Vec<CommitPartition>)> = Vec::new();
        for (topic, partition, offset) in offsets {
            if self.committed.get(&(topic.clone(), *partition)) == Some(offset) {
                continue;
            }
            let entry = CommitPartition {
                partition: *partition,
                offset: *offset,
                metadata: String::new(),
            };
            match topics.iter_mut().find(|(t, _)| t == topic) {
                Some((_, ps)) => ps.push(entry),
                None => topics.push((topic.clone(), vec![entry])),
            }
        }
        self.last_commit = Instant::now();
        if topics.is_empty() {
            return Ok(());
        }
        let request = OffsetCommitRequest {
            group: self.config.group.clone(),
            member_id: self.member_id.clone(),
            generation: generation as i32,
            topics,
        };
        let response = self.coordinator_call(
            ApiKey::OffsetCommit,
            |b| request.encode(b),
            OffsetCommitResponse::decode,
        );
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                if matches!(
                    err.code(),
                    Some(ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId)
                ) {
                    self.lose_membership(err.code() == Some(ErrorCode::UnknownMemberId));
                }
                return Err(err);
            }
        };
        check_commit_response(self.coordinator.bootstrap(), &response)?;
        for (topic, partitions) in &request.topics {
            for p in partitions {
                self.committed
                    .insert((topic.clone(), p.partition), p.offset);
            }
        }
        Ok(())
    }

    /// The group's committed offset of a partition, if any.
    pub fn committed(&mut self, topic: &str, partition: u32) -> ClientResult<Option<u64>> {
        let found = self.fetch_committed(&[(topic.to_string(), partition)])?;
        Ok(found.get(&(topic.to_string(), partition)).copied())
    }

    /// Commits (if auto-commit is on) and leaves the group, so that its
    /// partitions go to the other members at once.
    pub fn close(mut self) -> ClientResult<()> {
        let committed = if self.config.auto_commit && self.generation.is_some() {
            self.commit()
        } else {
            Ok(())
        };
        if !self.member_id.is_empty() {
            let request = LeaveGroupRequest {
                group: self.config.group.clone(),
                member_id: self.member_id.clone(),
            };
            let left = self.coordinator_call(ApiKey::LeaveGroup, |b| request.encode(b), |_| Ok(()));
            match left {
                // Already removed (its session expired): nothing to leave.
                Err(err) if err.code() == Some(ErrorCode::UnknownMemberId) => {}
                left => left?,
            }
        }
        committed
    }

    fn commit_or_rejoin(&mut self) -> ClientResult<()> {
        match self.commit() {
            Err(err) if self.generation.is_none() => {
                tracing::info!(%err, group = %self.config.group, "auto-commit refused; joining again");
                Ok(())
            }
            result => result,
        }
    }

    fn heartbeat_if_due(&mut self) -> ClientResult<()> {
        let Some(generation) = self.generation else {
            return Ok(());
        };
        if self.last_heartbeat.elapsed() < Duration::from_millis(self.config.heartbeat_interval_ms)
        {
            return Ok(());
        }
        let request = HeartbeatRequest {
            group: self.config.group.clone(),
            member_id: self.member_id.clone(),
            generation,
        };
        let answer = self.coordinator_call(ApiKey::Heartbeat, |b| request.encode(b), |_| Ok(()));
        self.last_heartbeat = Instant::now();
        match answer.as_ref().map_err(ClientError::code) {
            Ok(()) => Ok(()),
            Err(Some(ErrorCode::RebalanceInProgress)) => {
                tracing::debug!(group = %self.config.group, "rebalance: giving up partitions");
                if self.config.auto_commit {
                    self.commit_or_rejoin()?;
                }
                self.revoke();
                Ok(())
            }
            Err(Some(ErrorCode::IllegalGeneration)) => {
                self.lose_membership(false);
                Ok(())
            }
            Err(Some(ErrorCode::UnknownMemberId)) => {
                self.lose_membership(true);
                Ok(())
            }
            Err(_) => answer,
        }
    }

    /// The group moved on without this member's commits: give up the
    /// partitions without committing; a new member id if it was removed.
    fn lose_membership(&mut self, removed: bool) {
        tracing::info!(group = %self.config.group, member = %self.member_id, removed, "membership lost; joining again");
        if removed {
            self.member_id.clear();
        }
        self.revoke();
    }

    fn revoke(&mut self) {
        self.generation = None;
        let revoked = std::mem::take(&mut self.assignment);
        if let Some(callback) = self.callback.as_mut() {
            callback(RebalanceEvent::Revoked(&revoked));
        }
        for (topic, partition) in &revoked {
            self.consumer.unassign(topic, *partition);
        }
    }

    /// Joins (or joins again), then positions every assigned partition.
    fn join(&mut self) -> ClientResult<()> {
        if !self.assignment.is_empty() {
            self.revoke();
        }
        let response = loop {
            let request = JoinGroupRequest {
                group: self.config.group.clone(),
                member_id: self.member_id.clone(),
                session_timeout_ms: self.config.session_timeout_ms,
                rebalance_timeout_ms: self.config.rebalance_timeout_ms,
                strategy: self.config.strategy.clone(),
                topics: self.topics.clone(),
            };
            let answer = self.coordinator_call(
                ApiKey::JoinGroup,
                |b| request.encode(b),
                JoinGroupResponse::decode,
            );
            match answer {
                Err(err)
                    if err.code() == Some(ErrorCode::UnknownMemberId)
                        && !self.member_id.is_empty() =>
                {
                    self.member_id.clear();
                }
                answer => break answer?,
            }
        };
        self.member_id = response.member_id;
        let assignment: Vec<TopicPartition> = response
            .assignment
            .into_iter()
            .flat_map(|(topic, ps)| ps.into_iter().map(move |p| (topic.clone(), p)))
            .collect();
        let committed = self.fetch_committed(&assignment)?;
        let mut starts = Vec::with_capacity(assignment.len());
        for (topic, partition) in &assignment {
            let start = match committed.get(&(topic.clone(), *partition)) {
                Some(&offset) => offset,
                None => self.reset_position(topic, *partition)?,
            };
            starts.push(start);
        }
        for ((topic, partition), start) in assignment.iter().zip(starts) {
            self.consumer.seek(topic, *partition, start);
        }
        self.committed = committed;
        tracing::debug!(group = %self.config.group, member = %self.member_id, generation = response.generation, partitions = assignment.len(), "joined");
        self.generation = Some(response.generation);
        self.assignment = assignment;
        self.last_heartbeat = Instant::now();
        if let Some(callback) = self.callback.as_mut() {
            callback(RebalanceEvent::Assigned(&self.assignment));
        }
        Ok(())
    }

    /// Where a partition without a usable committed offset starts.
    fn reset_position(&mut self, topic: &str, partition: u32) -> ClientResult<u64> {
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
            OffsetReset::None => {
                return Err(ClientError::Invalid(format!(
                    "group {} has no usable committed offset for {topic}/{partition} \
                     (none, or outside the log) and auto_offset_reset is none",
                    self.config.group
                )))
            }
        };
        Ok(self.consumer.list_offsets(topic, &[partition], spec)?[0].1)
    }

    /// The group's committed offsets of these partitions.
    fn fetch_committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> ClientResult<BTreeMap<TopicPartition, u64>> {
        let mut topics: Vec<(String, Vec<u32>)> = Vec::new();
        for (topic, p) in partitions {
            match topics.iter_mut().find(|(t, _)| t == topic) {
                Some((_, ps)) => ps.push(*p),
                None => topics.push((topic.clone(), vec![*p])),
            }
        }
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request = OffsetFetchRequest {
            group: self.config.group.clone(),
            topics,
        };
        let response = self.coordinator_call(
            ApiKey::OffsetFetch,
            |b| request.encode(b),
            OffsetFetchResponse::decode,
        )?;
        let mut found = BTreeMap::new();
        for (topic, partitions) in response.topics {
            for p in partitions {
                super::error::check_partition_code(
                    self.coordinator.bootstrap(),
                    p.error_code,
                    &topic,
                    p.partition,
                )?;
                if p.offset != NO_COMMITTED_OFFSET {
                    found.insert((topic.clone(), p.partition), p.offset);
                }
            }
        }
        Ok(found)
    }

    /// One request to the group's coordinator core (found once, through
    /// the bootstrap address). A retriable failure (a broken connection, a
    /// broker restarting) drops the connection, looks the coordinator up
    /// again and resends, `retries` times at most (every group request
    /// may be sent twice).
    fn coordinator_call<T>(
        &mut self,
        api: ApiKey,
        encode: impl Fn(&mut bytes::BytesMut),
        decode: impl Fn(&mut WireReader) -> Result<T, DecodeError>,
    ) -> ClientResult<T> {
        let mut failed = 0;
        loop {
            match self.coordinator_call_once(api, &encode, &decode) {
                Err(err) if err.is_retriable() && failed < self.config.consumer.retries => {
                    tracing::debug!(%err, ?api, "retrying a group request");
                    failed += 1;
                    std::thread::sleep(Duration::from_millis(
                        self.config.consumer.retry_backoff_ms,
                    ));
                }
                result => return result,
            }
        }
    }

    fn coordinator_call_once<T>(
        &mut self,
        api: ApiKey,
        encode: impl FnOnce(&mut bytes::BytesMut),
        decode: impl FnOnce(&mut WireReader) -> Result<T, DecodeError>,
    ) -> ClientResult<T> {
        let route = match self.coordinator_core {
            Some(core) => Route::Core(core),
            None => {
                let request = GroupNameRequest {
                    group: self.config.group.clone(),
                };
                let found = self.coordinator.bootstrap_call(
                    ApiKey::FindCoordinator,
                    |b| request.encode(b),
                    decode_coordinator,
                )?;
                self.coordinator.refresh(&[])?;
                self.coordinator_core = Some(found.core);
                Route::Core(found.core)
            }
        };
        let (route, connection) = self.coordinator.connection(route)?;
        let result = connection.call(api, encode, decode);
        if let Err(err) = &result {
            if err.breaks_connection() {
                self.coordinator.drop_connection(route);
                self.coordinator_core = None;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_group_consumer_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<super::GroupConsumer>();
    }
}
