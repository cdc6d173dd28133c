//! Keeping the committed-offsets log bounded, on the group timer:
//!
//! - Compaction: once a partition of the log holds more than
//!   `OFFSETS_COMPACT_RATIO` times the bytes of its live entries (and more
//!   than `OFFSETS_COMPACT_BYTES_MIN`), the live entries are appended anew
//!   and the sealed segments wholly before them are deleted. It runs only
//!   while no commit is in flight on that partition, and takes its
//!   snapshot and queues its appends without awaiting in between, so no
//!   commit can fall between the snapshot and its records.
//! - Deleted topics: tombstones for the committed offsets of topic
//!   incarnations that no longer exist (the topic is gone, or was created
//!   again with another id). They only keep the log small: a fetch never
//!   sees another incarnation's offsets anyway (`offsets.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{GroupCoordinator, OffsetsLogError};
use crate::config::{Durability, OFFSETS_DELETED_TOPICS_CHECK_MS};
use crate::group_logic::commit_log::{
    build_batches, compaction_due, encoded_len, CommitKey, CommitValue,
};
use crate::group_logic::offsets_partition;
use crate::shard::storage::ShardStorage;
use crate::storage::log::now_ms;
use crate::storage::{AppendTicket, PartitionLog, StorageResult};
use crate::topics::TopicMap;

/// Committed-offsets log entries, in log order.
type Entries = Vec<(CommitKey, Option<CommitValue>)>;

impl GroupCoordinator {
    /// Writes tombstones for the committed offsets of topic incarnations
    /// that no longer exist, every `OFFSETS_DELETED_TOPICS_CHECK_MS`. A
    /// tombstone names the old incarnation's id, so it never touches the
    /// offsets of a topic of the same name created again.
    pub async fn drop_offsets_of_deleted_topics_if_due(&self, topics: &TopicMap) {
        let now = Instant::now();
        let interval = Duration::from_millis(OFFSETS_DELETED_TOPICS_CHECK_MS);
        let checked = &self.deleted_topics_checked;
        if checked.get().is_some_and(|at| now < at + interval) {
            return;
        }
        checked.set(Some(now));
        let mut gone: BTreeMap<u32, Entries> = BTreeMap::new();
        for (group, offsets) in self.committed.borrow().iter() {
            for (topic, topic_id, partition) in offsets.keys() {
                if topics.get(topic).map(|t| t.id) != Some(*topic_id) {
                    let key = CommitKey {
                        group: group.clone(),
                        topic: topic.clone(),
                        topic_id: *topic_id,
                        partition: *partition,
                    };
                    gone.entry(offsets_partition(group))
                        .or_default()
                        .push((key, None));
                }
            }
        }
        for (partition, entries) in gone {
            let Some(log) = self.logs.borrow().get(&partition).cloned() else {
                continue;
            };
            let results = self.append_entries(partition, &log, &entries).await;
            for ((key, value), result) in entries.into_iter().zip(results) {
                match result {
                    Ok(log_offset) => self.apply_commit(key, value, log_offset),
                    Err(code) => {
                        tracing::warn!(group = %key.group, topic = %key.topic, %code, "dropping the offsets of a deleted topic failed");
                    }
                }
            }
        }
    }

    /// Compacts the committed-offsets partitions that grew past their
    /// bound (see the module comment).
    pub async fn compact_offsets_if_due(&self) {
        let logs: Vec<(u32, PartitionLog<ShardStorage>)> = self
            .logs
            .borrow()
            .iter()
            .map(|(p, log)| (*p, log.clone()))
            .collect();
        for (partition, log) in logs {
            let size = log.size_bytes();
            let busy = self
                .commits_in_flight
                .borrow()
                .get(&partition)
                .is_some_and(|n| *n > 0);
            if !compaction_due(size, 0) || busy {
                continue;
            }
            let (entries, live_bytes) = self.live_entries(partition);
            if !compaction_due(size, live_bytes) {
                continue;
            }
            if let Err(e) = self.compact(&log, &entries).await {
                tracing::warn!(partition, error = %e, "compacting committed offsets failed");
            }
        }
    }

    /// The live entries of a committed-offsets partition and their bytes.
    fn live_entries(&self, partition: u32) -> (Entries, u64) {
        let committed = self.committed.borrow();
        let mut bytes = 0;
        let mut entries = Vec::new();
        for (group, offsets) in committed.iter() {
            if offsets_partition(group) != partition {
                continue;
            }
            for ((topic, topic_id, p), c) in offsets {
                let key = CommitKey {
                    group: group.clone(),
                    topic: topic.clone(),
                    topic_id: *topic_id,
                    partition: *p,
                };
                let value = CommitValue {
                    offset: c.offset,
                    metadata: c.metadata.clone(),
                };
                bytes += encoded_len(&key, Some(&value)) as u64;
                entries.push((key, Some(value)));
            }
        }
        (entries, bytes)
    }

    async fn compact(
        &self,
        log: &PartitionLog<ShardStorage>,
        entries: &[(CommitKey, Option<CommitValue>)],
    ) -> Result<(), OffsetsLogError> {
        let batches = build_batches(entries, log.config().batch_bytes_max, now_ms())?;
        // Queued before any await: nothing can come between the snapshot
        // and its records.
        let start = log.latest_offset();
        let tickets: Vec<StorageResult<AppendTicket>> = batches
            .into_iter()
            .map(|(batch, _)| log.submit_append(batch, Durability::Durable))
            .collect();
        for ticket in tickets {
            ticket?.await?;
        }
        let report = log.delete_segments_before(start).await?;
        tracing::info!(
            dir = %log.dir().display(),
            live_entries = entries.len(),
            segments_deleted = report.segments_deleted,
            bytes_deleted = report.bytes_deleted,
            "committed offsets compacted"
        );
        Ok(())
    }
}
