//! Committed offsets on the coordinator core. Each group's offsets live in
//! one partition of the internal committed-offsets log (`group_logic::OFFSETS_LOG`,
//! `<data dir>/internal/__consumer_offsets/<p>/`), a `PartitionLog` like
//! any topic's: a commit is one or more record batches, answered once they
//! are durable; at start the log is replayed to rebuild the map (latest
//! record per key wins).
//! What keeps the log bounded is in [`super::cleanup`].
//!
//! Offsets are keyed by (group, topic, topic id, partition): a commit is
//! for the incarnation of the topic in this core's map, and a fetch sees
//! only that incarnation's offsets, so a topic deleted and created again
//! starts with none, whether or not the old ones were dropped yet.

use std::path::PathBuf;
use std::time::Instant;

use super::{GroupAnswer, GroupCoordinator, OffsetsLogError};
use crate::batch::Batches;
use crate::config::{
    Durability, LogConfig, BATCH_BYTES_MAX, GROUPS_PER_CORE_MAX, OFFSETS_SEGMENT_BYTES,
    OFFSET_METADATA_BYTES_MAX,
};
use crate::error::{ErrorCode, WireError};
use crate::group_logic::commit_log::{
    build_batches, decode_key, decode_value, CommitKey, CommitValue,
};
use crate::group_logic::membership::Group;
use crate::group_logic::{offsets_partition, OFFSETS_LOG};
use crate::protocol::groups::{
    CommitPartition, FetchedOffset, GroupResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, NO_COMMITTED_OFFSET,
};
use crate::shard::storage::ShardStorage;
use crate::storage::log::now_ms;
use crate::storage::{AppendTicket, PartitionLog, StorageResult};
use crate::topics::{TopicId, TopicMap, NO_TOPIC_ID};

/// One committed offset, durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub offset: u64,
    pub metadata: String,
    /// Where its record sits in the committed-offsets log: a later record
    /// of the same key replaces it, an earlier one never does.
    pub log_offset: u64,
}

/// Where partition `p` of the committed-offsets log lives.
pub fn offsets_dir(data_dir: &std::path::Path, partition: u32) -> PathBuf {
    data_dir
        .join("internal")
        .join(OFFSETS_LOG)
        .join(partition.to_string())
}

/// The settings of the committed-offsets log, from the broker's log
/// settings: its own segment size, no retention (compaction bounds it).
pub fn offsets_log_config(log: &LogConfig) -> LogConfig {
    LogConfig {
        segment_bytes_max: OFFSETS_SEGMENT_BYTES,
        batch_bytes_max: log.batch_bytes_max.min(OFFSETS_SEGMENT_BYTES as u32),
        preallocate_bytes: log.preallocate_bytes.min(OFFSETS_SEGMENT_BYTES),
        retention_ms: None,
        retention_bytes: None,
        ..log.clone()
    }
}

impl GroupCoordinator {
    /// Takes over a committed-offsets partition this core owns, opened by
    /// the caller, and replays it into the map (reads of `read_bytes`);
    /// returns the records read. `legacy_id` names the incarnation that a
    /// key written before topic ids belongs to, if it still exists.
    pub async fn add_log(
        &self,
        partition: u32,
        log: PartitionLog<ShardStorage>,
        read_bytes: usize,
        legacy_id: impl Fn(&str) -> Option<TopicId>,
    ) -> Result<usize, OffsetsLogError> {
        let records = self.replay(&log, read_bytes, legacy_id).await?;
        self.logs.borrow_mut().insert(partition, log);
        Ok(records)
    }

    /// Reads a committed-offsets partition from its start into the map;
    /// returns the records read. A key written before topic ids
    /// (`NO_TOPIC_ID`) belongs to the topic's incarnation that existed
    /// then, if it still does (`legacy_id`); else it is of a deleted
    /// incarnation and skipped.
    async fn replay(
        &self,
        log: &PartitionLog<ShardStorage>,
        read_bytes: usize,
        legacy_id: impl Fn(&str) -> Option<TopicId>,
    ) -> Result<usize, OffsetsLogError> {
        let mut offset = log.earliest_offset();
        let mut records = 0;
        while offset < log.latest_offset() {
            let read = log.read(offset, read_bytes).await?;
            if read.batches.is_empty() {
                break;
            }
            for bytes in read.batches {
                for batch in Batches::new(bytes, BATCH_BYTES_MAX) {
                    let batch = batch?;
                    offset = offset.max(batch.header.next_offset());
                    for record in batch.records() {
                        let at = record.offset;
                        let bad = |error| OffsetsLogError::Record { offset: at, error };
                        let key =
                            decode_key(record.key.clone().unwrap_or_default()).map_err(bad)?;
                        let value = decode_value(record.value.clone()).map_err(bad)?;
                        records += 1;
                        let key = if key.topic_id != NO_TOPIC_ID {
                            key
                        } else {
                            let Some(topic_id) = legacy_id(&key.topic) else {
                                continue;
                            };
                            CommitKey { topic_id, ..key }
                        };
                        self.apply_commit(key, value, at);
                    }
                }
            }
        }
        Ok(records)
    }

    /// Takes a durable record into the map, unless a later one is there.
    pub(super) fn apply_commit(&self, key: CommitKey, value: Option<CommitValue>, log_offset: u64) {
        let mut committed = self.committed.borrow_mut();
        let offsets = committed.entry(key.group.clone()).or_default();
        let slot = (key.topic, key.topic_id, key.partition);
        if offsets
            .get(&slot)
            .is_some_and(|c| c.log_offset > log_offset)
        {
            return;
        }
        match value {
            Some(v) => {
                offsets.insert(
                    slot,
                    Committed {
                        offset: v.offset,
                        metadata: v.metadata,
                        log_offset,
                    },
                );
            }
            None => {
                offsets.remove(&slot);
            }
        }
        if offsets.is_empty() {
            // Without members either, the group no longer exists: a later
            // join starts it again at generation 1.
            committed.remove(&key.group);
            self.last_generations.borrow_mut().remove(&key.group);
        }
    }

    fn offsets_log(&self, group: &str) -> Option<(u32, PartitionLog<ShardStorage>)> {
        let partition = offsets_partition(group);
        let log = self.logs.borrow().get(&partition).cloned()?;
        Some((partition, log))
    }

    pub(super) async fn commit(&self, r: OffsetCommitRequest, topics: &TopicMap) -> GroupAnswer {
        let now = Instant::now();
        if self.has_classic_members(&r.group) {
            return Err(super::classic::used_by_kafka(&r.group));
        }
        let checked = match self.groups.borrow_mut().get_mut(&r.group) {
            Some(group) => group.check_commit(&r.member_id, r.generation, now),
            None => Group::default().check_commit(&r.member_id, r.generation, now),
        };
        self.check_group_bound(&r.group)?;
        checked.map_err(|code| {
            let who = if r.member_id.is_empty() {
                "outside membership".to_string()
            } else {
                format!("by {} in generation {}", r.member_id, r.generation)
            };
            WireError::new(code, format!("commit to group {} {who}", r.group))
        })?;
        let response = self.write_commit(&r.group, r.topics, topics).await?;
        Ok(GroupResponse::OffsetCommit(response))
    }

    /// Refuses the committed offsets of one more group past
    /// `GROUPS_PER_CORE_MAX`.
    pub(super) fn check_group_bound(&self, group: &str) -> Result<(), WireError> {
        let committed = self.committed.borrow();
        if !committed.contains_key(group) && committed.len() >= GROUPS_PER_CORE_MAX {
            return Err(WireError::new(
                ErrorCode::TooManyGroups,
                format!("this core holds committed offsets of {GROUPS_PER_CORE_MAX} groups"),
            ));
        }
        Ok(())
    }

    /// Writes a commit that membership accepted, for either protocol:
    /// durable before it is answered; per partition its native code.
    pub(super) async fn write_commit(
        &self,
        group: &str,
        commits: Vec<(String, Vec<CommitPartition>)>,
        topics: &TopicMap,
    ) -> Result<OffsetCommitResponse, WireError> {
        // Per partition: its code, and its entry if it is to be written.
        let mut response = OffsetCommitResponse::default();
        let mut entries: Vec<(CommitKey, Option<CommitValue>)> = Vec::new();
        let mut slots: Vec<(usize, usize)> = Vec::new();
        for (topic, partitions) in commits {
            let mut codes = Vec::with_capacity(partitions.len());
            let current = topics.get(&topic).map(|t| (t.partitions, t.id));
            for p in partitions {
                let code = match current {
                    None => ErrorCode::UnknownTopic,
                    Some((n, _)) if p.partition >= n => ErrorCode::UnknownPartition,
                    Some(_) if p.metadata.len() > OFFSET_METADATA_BYTES_MAX => {
                        ErrorCode::OffsetMetadataTooLarge
                    }
                    Some((_, topic_id)) => {
                        slots.push((response.topics.len(), codes.len()));
                        entries.push((
                            CommitKey {
                                group: group.to_string(),
                                topic: topic.clone(),
                                topic_id,
                                partition: p.partition,
                            },
                            Some(CommitValue {
                                offset: p.offset,
                                metadata: p.metadata,
                            }),
                        ));
                        ErrorCode::None
                    }
                };
                codes.push((p.partition, code as u16));
            }
            response.topics.push((topic, codes));
        }
        if !entries.is_empty() {
            let Some((partition, log)) = self.offsets_log(group) else {
                return Err(WireError::new(
                    ErrorCode::Internal,
                    "the group's offsets partition is not open here",
                ));
            };
            let results = self.append_entries(partition, &log, &entries).await;
            for ((entry, result), (t, i)) in entries.into_iter().zip(results).zip(slots) {
                match result {
                    Ok(log_offset) => self.apply_commit(entry.0, entry.1, log_offset),
                    Err(code) => response.topics[t].1[i].1 = code as u16,
                }
            }
        }
        Ok(response)
    }

    /// Appends the entries durably; per entry, its offset in the log or
    /// the error code of its batch.
    pub(super) async fn append_entries(
        &self,
        partition: u32,
        log: &PartitionLog<ShardStorage>,
        entries: &[(CommitKey, Option<CommitValue>)],
    ) -> Vec<Result<u64, ErrorCode>> {
        let batches = match build_batches(entries, log.config().batch_bytes_max, now_ms()) {
            Ok(batches) => batches,
            Err(e) => {
                // Only a broker batch limit below one record can do this.
                tracing::error!(error = %e, "a commit does not fit the offsets log's batches");
                return entries.iter().map(|_| Err(ErrorCode::Internal)).collect();
            }
        };
        let tickets: Vec<(StorageResult<AppendTicket>, u32)> = batches
            .into_iter()
            .map(|(batch, count)| (log.submit_append(batch, Durability::Durable), count))
            .collect();
        *self
            .commits_in_flight
            .borrow_mut()
            .entry(partition)
            .or_default() += 1;
        let mut results = Vec::with_capacity(entries.len());
        for (ticket, count) in tickets {
            let base = match ticket {
                Ok(ticket) => ticket.await,
                Err(e) => Err(e),
            };
            for i in 0..u64::from(count) {
                results.push(base.as_ref().map(|base| base + i).map_err(ErrorCode::from));
            }
        }
        if let Some(n) = self.commits_in_flight.borrow_mut().get_mut(&partition) {
            *n -= 1;
        }
        results
    }

    /// The offsets of each topic's current incarnation: none for a topic
    /// that does not exist, or was created again since the commit.
    pub(super) fn fetch_offsets(&self, r: &OffsetFetchRequest, topics: &TopicMap) -> GroupAnswer {
        let current_id = |topic: &str| topics.get(topic).map(|t| t.id);
        let committed = self.committed.borrow();
        let offsets = committed.get(&r.group);
        let fetched = |topic: &str, partition: u32| {
            let found = current_id(topic).and_then(|topic_id| {
                offsets.and_then(|o| o.get(&(topic.to_string(), topic_id, partition)))
            });
            FetchedOffset {
                partition,
                error_code: ErrorCode::None as u16,
                offset: found.map_or(NO_COMMITTED_OFFSET, |c| c.offset),
                metadata: found.map(|c| c.metadata.clone()).unwrap_or_default(),
            }
        };
        let mut response = OffsetFetchResponse::default();
        if r.topics.is_empty() {
            let current = offsets
                .into_iter()
                .flat_map(|o| o.keys())
                .filter(|(topic, topic_id, _)| current_id(topic) == Some(*topic_id));
            for (topic, _, partition) in current {
                match response.topics.last_mut() {
                    Some((t, ps)) if t == topic => ps.push(fetched(topic, *partition)),
                    _ => response
                        .topics
                        .push((topic.clone(), vec![fetched(topic, *partition)])),
                }
            }
        } else {
            for (topic, partitions) in &r.topics {
                let found = partitions.iter().map(|&p| fetched(topic, p)).collect();
                response.topics.push((topic.clone(), found));
            }
        }
        Ok(GroupResponse::OffsetFetch(response))
    }

    /// Refuses waiting joins and closes the committed-offsets partitions.
    pub async fn close(&self) {
        self.stop_joins();
        let logs: Vec<PartitionLog<ShardStorage>> = std::mem::take(&mut *self.logs.borrow_mut())
            .into_values()
            .collect();
        for log in logs {
            if let Err(e) = log.close().await {
                tracing::error!(dir = %log.dir().display(), error = %e, "closing committed offsets failed");
            }
        }
    }
}
