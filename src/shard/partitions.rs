//! The partitions service: the partitions this core owns and the
//! operations on them (produce, fetch, wait for data, list offsets,
//! describe, retention), with this core's copy of the topic map, the
//! files they are opened on and the core's tail cache.
//!
//! It owns the topic map copy, the open logs, the storage and the tail
//! cache; nothing else holds a log but for the length of one call. It
//! never sends to another core and never decides which core owns what
//! (the router does): it answers for the partitions it has, and
//! `UnknownTopic`/`UnknownPartition` for the others. Produce queues
//! appends in call order before it awaits anything, so one connection's
//! pipelined produces keep their order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use futures_lite::future;

use super::bounded::for_each_bounded;
use super::fetch_budget::FetchBudget;
use super::notify::{first_of, LocalFuture};
use super::storage::ShardStorage;
use crate::config::{
    BrokerConfig, Durability, LogConfig, ShardStorageConfig, PARTITION_OPENS_IN_FLIGHT,
};
use crate::error::{ErrorCode, WireError};
use crate::metrics::{CoreMetrics, PartitionSnapshot};
use crate::protocol::fetch::{FetchPartition, FetchPartitionResponse};
use crate::protocol::offsets::{OffsetSpec, PartitionOffset};
use crate::protocol::produce::{Acks, ProducePartitionResponse, NO_OFFSET};
use crate::protocol::topics::PartitionDescription;
use crate::router::shard_for;
use crate::storage::error::is_storage_full;
use crate::storage::{
    PartitionLog, SharedTailCache, Storage, StorageError, StorageResult, TailCache,
};
use crate::topics::store::partition_dir;
use crate::topics::{TopicConfig, TopicId, TopicMap};

/// The logs of one topic's partitions that this core owns, by partition.
pub type TopicLogs = Vec<Option<PartitionLog<ShardStorage>>>;

/// The partitions this core owns (see the module comment).
pub struct Partitions {
    /// This core's id, and how many cores the broker runs: which
    /// partitions of a topic are this core's to open.
    core: usize,
    cores: usize,
    data_dir: PathBuf,
    /// The broker's log settings, before a topic's own.
    log_config: LogConfig,
    storage_config: ShardStorageConfig,
    /// What this core's partitions are opened on.
    storage: ShardStorage,
    cache: SharedTailCache,
    /// This core's copy of the topic map.
    topics: RefCell<Rc<TopicMap>>,
    logs: RefCell<HashMap<String, TopicLogs>>,
    /// This core's counters (shared with the shard; never borrowed across
    /// an await).
    metrics: Rc<RefCell<CoreMetrics>>,
}

impl Partitions {
    /// No topics open yet: [`Partitions::apply_topic_map`] opens them.
    pub fn new(
        core: usize,
        cores: usize,
        config: &BrokerConfig,
        storage: ShardStorage,
        metrics: Rc<RefCell<CoreMetrics>>,
    ) -> Partitions {
        Partitions {
            core,
            cores,
            data_dir: config.data_dir.clone(),
            log_config: config.log.clone(),
            storage_config: config.shard_storage.clone(),
            storage,
            cache: TailCache::shared(config.shard_storage.tail_cache_bytes),
            topics: Default::default(),
            logs: Default::default(),
            metrics,
        }
    }

    /// This core's copy of the topic map, as it is now.
    pub fn topics(&self) -> Rc<TopicMap> {
        Rc::clone(&self.topics.borrow())
    }

    /// The log of a partition this core owns, if it exists.
    pub fn log(&self, topic: &str, partition: u32) -> Option<PartitionLog<ShardStorage>> {
        self.logs
            .borrow()
            .get(topic)
            .and_then(|logs| logs.get(partition as usize))
            .and_then(Clone::clone)
    }

    /// Whether this core has the topic's partitions open (those it owns).
    pub fn is_open(&self, topic: &str) -> bool {
        self.logs.borrow().contains_key(topic)
    }

    /// Partition count of a topic in this core's map.
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.topics.borrow().get(topic).map(|t| t.partitions)
    }

    /// The id of a topic's current incarnation in this core's map.
    pub fn topic_id(&self, topic: &str) -> Option<TopicId> {
        self.topics.borrow().get(topic).map(|t| t.id)
    }

    /// Opens a log that is not a topic's partition (the committed-offsets
    /// log) on this core's storage and tail cache.
    pub async fn open_log(
        &self,
        dir: &Path,
        config: LogConfig,
    ) -> StorageResult<PartitionLog<ShardStorage>> {
        PartitionLog::open(
            self.storage.clone(),
            dir,
            config,
            &self.storage_config,
            Rc::clone(&self.cache),
        )
        .await
    }

    /// The tail cache's bytes in use, hits and misses.
    pub fn cache_gauges(&self) -> (usize, u64, u64) {
        let cache = self.cache.borrow();
        let (hits, misses) = cache.hit_counts();
        (cache.bytes_used(), hits, misses)
    }

    /// Every partition this core owns, by (topic, partition).
    pub fn snapshots(&self) -> Vec<PartitionSnapshot> {
        let mut snapshots = Vec::new();
        for (topic, logs) in self.logs.borrow().iter() {
            for (partition, log) in logs.iter().enumerate() {
                let Some(log) = log else { continue };
                snapshots.push(PartitionSnapshot {
                    topic: topic.clone(),
                    partition: partition as u32,
                    stats: log.stats(),
                    size_bytes: log.size_bytes(),
                    segments: log.segment_count(),
                    log_start_offset: log.earliest_offset(),
                    high_watermark: log.latest_offset(),
                });
            }
        }
        snapshots.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        snapshots
    }

    fn missing_partition(&self, topic: &str) -> ErrorCode {
        if self.partition_count(topic).is_some() {
            ErrorCode::UnknownPartition
        } else {
            ErrorCode::UnknownTopic
        }
    }

    /// Counts a partition's answer that is an error: for the core, and for
    /// the partition's log when it has one.
    fn count_error(&self, log: Option<&PartitionLog<ShardStorage>>, code: ErrorCode) {
        count_error(&self.metrics, log, code);
    }

    /// Queues each batch on its partition now; the returned future answers
    /// once they are committed (or at once for `acks` none).
    pub fn produce(
        &self,
        topic: &str,
        partitions: Vec<(u32, BytesMut)>,
        acks: Acks,
    ) -> impl Future<Output = Vec<ProducePartitionResponse>> + 'static {
        super::panic::debug_panic_on_produce(topic);
        let durability = Durability::from(acks);
        let submitted: Vec<_> = partitions
            .into_iter()
            .map(|(partition, batch)| {
                let log = self.log(topic, partition);
                let ticket = match &log {
                    Some(log) => log
                        .submit_append(batch, durability)
                        .map_err(|e| ErrorCode::from(&e)),
                    None => Err(self.missing_partition(topic)),
                };
                (partition, log, ticket)
            })
            .collect();
        let metrics = Rc::clone(&self.metrics);
        async move {
            let mut responses = Vec::with_capacity(submitted.len());
            for (partition, log, ticket) in submitted {
                let (error_code, base_offset) = match ticket {
                    Err(code) => (code, NO_OFFSET),
                    Ok(_) if acks == Acks::None => (ErrorCode::None, NO_OFFSET),
                    Ok(ticket) => match ticket.await {
                        Ok(base) => (ErrorCode::None, base),
                        Err(e) => (ErrorCode::from(&e), NO_OFFSET),
                    },
                };
                count_error(&metrics, log.as_ref(), error_code);
                responses.push(ProducePartitionResponse {
                    partition,
                    error_code: error_code as u16,
                    base_offset,
                });
            }
            responses
        }
    }

    /// Reads each partition from its offset, without waiting, in the
    /// order given, keeping what the fetch rule allows with `budget` (what
    /// the partitions before them in the request left). The caller spends
    /// what comes back on its own copy of the budget.
    pub async fn fetch(
        &self,
        topic: &str,
        partitions: Vec<FetchPartition>,
        mut budget: FetchBudget,
    ) -> Vec<FetchPartitionResponse> {
        let mut responses = Vec::with_capacity(partitions.len());
        for p in partitions {
            let mut response = FetchPartitionResponse {
                partition: p.partition,
                ..Default::default()
            };
            let log = self.log(topic, p.partition);
            let mut error = ErrorCode::None;
            match &log {
                None => error = self.missing_partition(topic),
                Some(log) => {
                    response.high_watermark = log.latest_offset();
                    response.log_start_offset = log.earliest_offset();
                    if budget.is_spent() {
                        // Nothing more fits: offsets only; read next time.
                        responses.push(response);
                        continue;
                    }
                    // A read returns at least its first batch, whatever the
                    // limit; the limit bounds the batches after it.
                    let read_limit = (p.max_bytes as usize).min(budget.bytes_left).max(1);
                    match log.read(p.offset, read_limit).await {
                        Ok(read) => {
                            response.high_watermark = read.high_watermark;
                            response.log_start_offset = read.log_start_offset;
                            response.records = budget.keep(read.batches, p.max_bytes as usize);
                        }
                        Err(e) => error = ErrorCode::from(&e),
                    }
                }
            }
            response.error_code = error as u16;
            self.count_error(log.as_ref(), error);
            responses.push(response);
        }
        responses
    }

    /// Resolves when any of the partitions has data at or past its offset,
    /// or at the deadline.
    pub fn wait_for_data(
        &self,
        waits: &[(String, u32, u64)],
        deadline: Instant,
    ) -> impl Future<Output = ()> + 'static {
        let mut arrivals: Vec<LocalFuture<()>> = Vec::with_capacity(waits.len());
        for (topic, partition, offset) in waits {
            if let Some(log) = self.log(topic, *partition) {
                arrivals.push(Box::pin(log.wait_for_data(*offset)));
            }
        }
        let timeout = glommio::timer::sleep(deadline.saturating_duration_since(Instant::now()));
        async move {
            future::or(first_of(arrivals), async move {
                timeout.await;
            })
            .await
        }
    }

    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: Vec<(u32, OffsetSpec)>,
    ) -> Vec<PartitionOffset> {
        let mut responses = Vec::with_capacity(partitions.len());
        for (partition, spec) in partitions {
            let log = self.log(topic, partition);
            let (error_code, offset) = match &log {
                None => (self.missing_partition(topic), NO_OFFSET),
                Some(log) => match spec {
                    OffsetSpec::Earliest => (ErrorCode::None, log.earliest_offset()),
                    OffsetSpec::Latest => (ErrorCode::None, log.latest_offset()),
                    OffsetSpec::Timestamp(ts) => match log.offset_for_timestamp(ts).await {
                        Ok(found) => (
                            ErrorCode::None,
                            found.unwrap_or_else(|| log.latest_offset()),
                        ),
                        Err(e) => (ErrorCode::from(&e), NO_OFFSET),
                    },
                },
            };
            self.count_error(log.as_ref(), error_code);
            responses.push(PartitionOffset {
                partition,
                error_code: error_code as u16,
                offset,
            });
        }
        responses
    }

    pub fn describe(&self, topic: &str, partitions: Vec<u32>) -> Vec<PartitionDescription> {
        partitions
            .into_iter()
            .map(|partition| {
                let mut d = PartitionDescription {
                    partition,
                    core: self.core as u16,
                    error_code: 0,
                    earliest_offset: 0,
                    latest_offset: 0,
                    size_bytes: 0,
                };
                match self.log(topic, partition) {
                    None => d.error_code = self.missing_partition(topic) as u16,
                    Some(log) => {
                        if let Some(err) = log.failure() {
                            d.error_code = ErrorCode::from(&err) as u16;
                        }
                        d.earliest_offset = log.earliest_offset();
                        d.latest_offset = log.latest_offset();
                        d.size_bytes = log.size_bytes();
                    }
                }
                d
            })
            .collect()
    }

    /// Opens this core's partitions of a topic, `PARTITION_OPENS_IN_FLIGHT`
    /// at once. If one fails, those opened are closed again and the error
    /// says which failed (the lowest-numbered): `StorageFull` for a full
    /// disk, else `PartitionFailed`.
    async fn open_topic(&self, name: &str, topic: &TopicConfig) -> Result<TopicLogs, WireError> {
        let owned: Vec<u32> = (0..topic.partitions)
            .filter(|&partition| shard_for(name, partition, self.cores) == self.core)
            .collect();
        let config = topic.log_config(&self.log_config);
        let opened = for_each_bounded(owned, PARTITION_OPENS_IN_FLIGHT, |partition| {
            let dir = partition_dir(&self.data_dir, name, partition);
            let storage = self.storage.clone();
            let config = config.clone();
            let storage_config = self.storage_config.clone();
            let cache = Rc::clone(&self.cache);
            async move {
                let opened =
                    PartitionLog::open(storage, &dir, config, &storage_config, cache).await;
                (partition, dir, opened)
            }
        })
        .await;
        let mut logs: TopicLogs = (0..topic.partitions).map(|_| None).collect();
        let mut failure = None;
        for (partition, dir, opened) in opened {
            match opened {
                Ok(log) => logs[partition as usize] = Some(log),
                Err(e) if failure.is_none() => failure = Some((partition, dir, e)),
                Err(_) => {}
            }
        }
        if let Some((partition, dir, e)) = failure {
            close_logs(name, logs).await;
            let message = format!(
                "core {}: opening {name}/{partition} in {}: {e}",
                self.core,
                dir.display()
            );
            return Err(WireError::new(open_failure_code(&e), message));
        }
        Ok(logs)
    }

    /// Makes this core's open partitions match `map`: opens new topics'
    /// partitions, closes and deletes those of topics gone from it (or
    /// deleted and created again: another id). On an error the map is
    /// this core's copy all the same, with the failed topic's partitions
    /// not open: core 0 then rolls the change back (`shard/admin.rs`).
    pub async fn apply_topic_map(&self, map: TopicMap) -> Result<(), WireError> {
        let previous = self.topics.borrow().clone();
        let same_incarnation =
            |name: &String| map.get(name).map(|t| t.id) == previous.get(name).map(|t| t.id);
        let gone: Vec<String> = self
            .logs
            .borrow()
            .keys()
            .filter(|name| !same_incarnation(name))
            .cloned()
            .collect();
        for name in gone {
            let logs = self.logs.borrow_mut().remove(&name).unwrap_or_default();
            let logs: Vec<_> = logs.into_iter().flatten().collect();
            for_each_bounded(logs, PARTITION_OPENS_IN_FLIGHT, |log| {
                let name = name.clone();
                async move {
                    if let Err(e) = log.close().await {
                        tracing::warn!(topic = %name, error = %e, "closing a deleted topic's partition");
                    }
                    if let Err(e) = super::blocking::remove_dir_all(log.dir().to_path_buf()).await
                    {
                        tracing::warn!(dir = %log.dir().display(), error = %e, "removing a deleted partition");
                    }
                }
            })
            .await;
        }
        let new: Vec<(String, TopicConfig)> = map
            .iter()
            .filter(|(name, _)| !self.logs.borrow().contains_key(*name))
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        *self.topics.borrow_mut() = Rc::new(map);
        for (name, config) in new {
            let logs = self.open_topic(&name, &config).await?;
            self.logs.borrow_mut().insert(name, logs);
        }
        Ok(())
    }

    /// Closes every partition cleanly (flush, fsync, clean-shutdown
    /// marker), `PARTITION_OPENS_IN_FLIGHT` at once.
    pub async fn close_all(&self) {
        let all: Vec<(String, PartitionLog<ShardStorage>)> = self
            .logs
            .borrow_mut()
            .drain()
            .flat_map(|(topic, logs)| {
                logs.into_iter()
                    .flatten()
                    .map(move |log| (topic.clone(), log))
            })
            .collect();
        let last_closed: Rc<RefCell<Option<PathBuf>>> = Rc::default();
        for_each_bounded(all, PARTITION_OPENS_IN_FLIGHT, |(topic, log)| {
            let last_closed = last_closed.clone();
            async move {
                match log.close().await {
                    Ok(()) => *last_closed.borrow_mut() = Some(log.dir().to_path_buf()),
                    Err(e) => {
                        tracing::error!(%topic, dir = %log.dir().display(), error = %e, "closing a partition failed")
                    }
                }
            }
        })
        .await;
        // The markers were left unsynced (a lost one only makes the next
        // start scan more). One fsync of the directory closed last commits
        // the file system journal up to its marker, and the journal
        // commits in order: every marker of this core is durable then.
        let last_closed = last_closed.borrow_mut().take();
        if let Some(dir) = last_closed {
            if let Err(e) = self.storage.sync_dir(&dir).await {
                tracing::warn!(dir = %dir.display(), error = %e, "syncing the clean-shutdown markers");
            }
        }
    }

    /// Applies retention to every partition this core owns.
    pub async fn apply_retention(&self) {
        let logs: Vec<PartitionLog<ShardStorage>> = self
            .logs
            .borrow()
            .values()
            .flatten()
            .flatten()
            .cloned()
            .collect();
        let now = crate::storage::log::now_ms();
        for log in logs {
            if let Err(e) = log.apply_retention(now).await {
                tracing::warn!(dir = %log.dir().display(), error = %e, "retention failed");
            }
        }
    }
}

/// Counts a partition's answer that is an error: for the core, and for
/// the partition's log when it has one.
fn count_error(
    metrics: &RefCell<CoreMetrics>,
    log: Option<&PartitionLog<ShardStorage>>,
    code: ErrorCode,
) {
    if code == ErrorCode::None {
        return;
    }
    if let Some(log) = log {
        log.record_error(code);
    }
    metrics.borrow_mut().on_error(code);
}

/// Closes the partitions of a topic opened before one of them failed.
async fn close_logs(topic: &str, logs: TopicLogs) {
    let logs: Vec<_> = logs.into_iter().flatten().collect();
    for_each_bounded(logs, PARTITION_OPENS_IN_FLIGHT, |log| {
        let topic = topic.to_string();
        async move {
            if let Err(e) = log.close().await {
                tracing::warn!(%topic, dir = %log.dir().display(), error = %e, "closing a partition of a topic that failed to open");
            }
        }
    })
    .await;
}

/// The wire code of a partition that could not be opened: a full disk is
/// retriable (`StorageFull`); anything else took the partition out of
/// service before it served (`PartitionFailed`).
fn open_failure_code(err: &StorageError) -> ErrorCode {
    match err {
        StorageError::StorageFull(_) => ErrorCode::StorageFull,
        StorageError::Io(io) | StorageError::Failed(io) if is_storage_full(io) => {
            ErrorCode::StorageFull
        }
        _ => ErrorCode::PartitionFailed,
    }
}
