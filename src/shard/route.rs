//! The router's fan-out: a request's partitions split by owner core, each
//! part run here or sent to its owner, the replies merged back into the
//! request's order. Requests for local partitions never hop.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::messages::{Reply, ShardMessage};
use super::notify::{first_of, sleep_unless_raised, LocalFuture};
use super::partitions::FetchBudget;
use super::Shard;
use crate::config::{FETCH_BYTES_LIMIT, FETCH_WAIT_MS_LIMIT};
use crate::error::ErrorCode;
use crate::protocol::fetch::{FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse};
use crate::protocol::offsets::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetSpec, PartitionOffset,
};
use crate::protocol::produce::{
    ProducePartitionResponse, ProduceRequest, ProduceResponse, NO_OFFSET,
};
use crate::protocol::topics::PartitionDescription;
use crate::router::shard_for;

/// One topic's items split by owner: each group keeps the items' positions
/// in the request; items whose topic or partition does not exist are
/// answered at once with their error.
struct Split<T> {
    by_core: BTreeMap<usize, Vec<(usize, T)>>,
    missing: Vec<(usize, u32, ErrorCode)>,
}

/// One topic's items in request order, as runs of consecutive items with
/// the same owner core; items whose topic or partition does not exist are
/// answered at once with their error.
struct SplitInRuns<T> {
    runs: Vec<(usize, Vec<(usize, T)>)>,
    missing: Vec<(usize, u32, ErrorCode)>,
}

impl Shard {
    /// The core that owns `partition` of `topic`, or why there is none.
    fn owner(&self, topic: &str, partition: u32, count: Option<u32>) -> Result<usize, ErrorCode> {
        match count {
            None => Err(ErrorCode::UnknownTopic),
            Some(n) if partition >= n => Err(ErrorCode::UnknownPartition),
            Some(_) => Ok(shard_for(topic, partition, self.cores())),
        }
    }

    fn count_missing(&self, missing: &[(usize, u32, ErrorCode)]) {
        let mut metrics = self.metrics.borrow_mut();
        for (_, _, code) in missing {
            metrics.on_error(*code as u16);
        }
    }

    fn split<T>(&self, topic: &str, items: Vec<T>, partition_of: impl Fn(&T) -> u32) -> Split<T> {
        let count = self.partition_count(topic);
        let mut split = Split {
            by_core: BTreeMap::new(),
            missing: Vec::new(),
        };
        for (index, item) in items.into_iter().enumerate() {
            let partition = partition_of(&item);
            match self.owner(topic, partition, count) {
                Err(code) => split.missing.push((index, partition, code)),
                Ok(core) => split.by_core.entry(core).or_default().push((index, item)),
            }
        }
        self.count_missing(&split.missing);
        split
    }

    /// Like [`Shard::split`], but keeping the request's order: consecutive
    /// items with the same owner form one run (items without an owner
    /// neither join nor break a run).
    fn split_in_runs<T>(
        &self,
        topic: &str,
        items: Vec<T>,
        partition_of: impl Fn(&T) -> u32,
    ) -> SplitInRuns<T> {
        let count = self.partition_count(topic);
        let mut split = SplitInRuns {
            runs: Vec::new(),
            missing: Vec::new(),
        };
        for (index, item) in items.into_iter().enumerate() {
            let partition = partition_of(&item);
            match self.owner(topic, partition, count) {
                Err(code) => split.missing.push((index, partition, code)),
                Ok(core) => match split.runs.last_mut() {
                    Some((last, run)) if *last == core => run.push((index, item)),
                    _ => split.runs.push((core, vec![(index, item)])),
                },
            }
        }
        self.count_missing(&split.missing);
        split
    }

    /// Sends a message to another core; a closed channel means that core
    /// is stopping.
    async fn send_to(&self, core: usize, message: ShardMessage) -> Result<(), ErrorCode> {
        self.metrics.borrow_mut().on_message_sent();
        self.peers[core]
            .send_async(message)
            .await
            .map_err(|_| ErrorCode::ShuttingDown)
    }

    /// Asks another core and waits for its reply; `None` when that core is
    /// stopping (its inbox or the reply channel closed).
    pub(super) async fn ask<T>(
        &self,
        core: usize,
        message: impl FnOnce(Reply<T>) -> ShardMessage,
    ) -> Option<T> {
        let (reply, answer) = flume::bounded(1);
        self.send_to(core, message(reply)).await.ok()?;
        answer.recv_async().await.ok()
    }

    /// Queues every batch (locally or on its owner) before returning, so
    /// one connection's produces keep their order; the returned future
    /// merges the answers.
    pub async fn route_produce(
        self: &Rc<Self>,
        request: ProduceRequest,
    ) -> LocalFuture<ProduceResponse> {
        let acks = request.acks;
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let total = topic.partitions.len();
            let split = self.split(&topic.name, topic.partitions, |p| p.partition);
            let mut parts: Vec<(Vec<usize>, LocalFuture<Vec<ProducePartitionResponse>>)> =
                Vec::new();
            for (core, items) in split.by_core {
                let (indexes, batches): (Vec<usize>, Vec<(u32, bytes::BytesMut)>) = items
                    .into_iter()
                    .map(|(i, p)| (i, (p.partition, p.batch)))
                    .unzip();
                if core == self.id {
                    parts.push((
                        indexes,
                        Box::pin(self.produce_local(&topic.name, batches, acks)),
                    ));
                    continue;
                }
                let partitions: Vec<u32> = batches.iter().map(|(p, _)| *p).collect();
                let (reply, answer) = flume::bounded(1);
                let sent = self
                    .send_to(
                        core,
                        ShardMessage::Produce {
                            topic: topic.name.clone(),
                            partitions: batches,
                            acks,
                            reply,
                        },
                    )
                    .await;
                parts.push((
                    indexes,
                    Box::pin(async move {
                        match sent {
                            Ok(()) => answer
                                .recv_async()
                                .await
                                .unwrap_or_else(|_| failed(&partitions)),
                            Err(_) => failed(&partitions),
                        }
                    }),
                ));
            }
            topics.push((topic.name, total, split.missing, parts));
        }
        Box::pin(async move {
            let mut response = ProduceResponse::default();
            for (name, total, missing, parts) in topics {
                let mut slots: Vec<Option<ProducePartitionResponse>> = vec![None; total];
                for (index, partition, code) in missing {
                    slots[index] = Some(ProducePartitionResponse {
                        partition,
                        error_code: code as u16,
                        base_offset: NO_OFFSET,
                    });
                }
                for (indexes, part) in parts {
                    for (index, answer) in indexes.into_iter().zip(part.await) {
                        slots[index] = Some(answer);
                    }
                }
                response
                    .topics
                    .push((name, slots.into_iter().flatten().collect()));
            }
            response
        })
    }

    /// Reads every requested partition once, without waiting, within
    /// `max_bytes` over the whole request, in request order: each run of
    /// consecutive partitions with the same owner is read by that owner
    /// with what the runs before it left of the budget, so a partition
    /// never loses bytes to one listed after it, whichever cores own them.
    /// A client that sends each core only its own partitions (the
    /// per-core ports) gets one local run per topic and no hop.
    async fn fetch_once(
        self: &Rc<Self>,
        topics: &[(String, Vec<FetchPartition>)],
        max_bytes: usize,
    ) -> Vec<(String, Vec<FetchPartitionResponse>)> {
        let mut budget = FetchBudget::new(max_bytes);
        let mut merged = Vec::with_capacity(topics.len());
        for (name, partitions) in topics {
            let split = self.split_in_runs(name, partitions.clone(), |p| p.partition);
            let mut slots: Vec<Option<FetchPartitionResponse>> = vec![None; partitions.len()];
            for (index, partition, code) in split.missing {
                slots[index] = Some(fetch_error(partition, code));
            }
            for (core, items) in split.runs {
                let (indexes, wanted): (Vec<usize>, Vec<FetchPartition>) =
                    items.into_iter().unzip();
                let answers = if core == self.id {
                    self.fetch_local(name, wanted, budget).await
                } else {
                    let ids: Vec<u32> = wanted.iter().map(|p| p.partition).collect();
                    let message = |reply| ShardMessage::Fetch {
                        topic: name.clone(),
                        partitions: wanted,
                        max_bytes: budget,
                        reply,
                    };
                    self.ask(core, message).await.unwrap_or_else(|| {
                        ids.iter()
                            .map(|&p| fetch_error(p, ErrorCode::ShuttingDown))
                            .collect()
                    })
                };
                for (index, answer) in indexes.into_iter().zip(answers) {
                    budget.spend(answer.records_bytes());
                    slots[index] = Some(answer);
                }
            }
            merged.push((name.clone(), slots.into_iter().flatten().collect()));
        }
        merged
    }

    /// Resolves when any requested partition has data past its offset, at
    /// the deadline, or when the broker starts shutting down.
    async fn wait_any(
        self: &Rc<Self>,
        topics: &[(String, Vec<FetchPartition>)],
        deadline: Instant,
    ) {
        let mut by_core: BTreeMap<usize, Vec<(String, u32, u64)>> = BTreeMap::new();
        for (name, partitions) in topics {
            for p in partitions {
                if self.partition_count(name).is_some_and(|n| p.partition < n) {
                    let core = shard_for(name, p.partition, self.cores());
                    by_core
                        .entry(core)
                        .or_default()
                        .push((name.clone(), p.partition, p.offset));
                }
            }
        }
        let mut arrivals: Vec<LocalFuture<()>> = Vec::new();
        for (core, waits) in by_core {
            if core == self.id {
                arrivals.push(Box::pin(self.wait_local(&waits, deadline)));
                continue;
            }
            let (reply, answer) = flume::bounded(1);
            if self
                .send_to(
                    core,
                    ShardMessage::WaitForData {
                        waits,
                        deadline,
                        reply,
                    },
                )
                .await
                .is_ok()
            {
                arrivals.push(Box::pin(async move {
                    let _ = answer.recv_async().await;
                }));
            }
        }
        // Shutdown ends the wait too: the fetch is then answered with what
        // it has, instead of holding the drain for the rest of max_wait_ms.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let shutdown = Rc::clone(&self.shutdown);
        futures_lite::future::or(first_of(arrivals), async move {
            sleep_unless_raised(&shutdown, remaining).await;
        })
        .await;
    }

    /// A fetch with long-poll: answers once `min_bytes` are there, at
    /// `max_wait_ms`, at once if a partition has an error, or when the
    /// broker starts shutting down; woken by appends rather than by polling.
    pub async fn route_fetch(self: &Rc<Self>, request: FetchRequest) -> FetchResponse {
        let wait = Duration::from_millis(u64::from(request.max_wait_ms.min(FETCH_WAIT_MS_LIMIT)));
        let max_bytes = (request.max_bytes as usize).min(FETCH_BYTES_LIMIT);
        let deadline = Instant::now() + wait;
        loop {
            let topics = self.fetch_once(&request.topics, max_bytes).await;
            let total: usize = topics
                .iter()
                .flat_map(|(_, ps)| ps)
                .map(FetchPartitionResponse::records_bytes)
                .sum();
            let errors = topics
                .iter()
                .flat_map(|(_, ps)| ps)
                .any(|p| p.error_code != 0);
            if total >= request.min_bytes as usize
                || errors
                || Instant::now() >= deadline
                || self.shutdown.is_raised()
            {
                return FetchResponse { topics };
            }
            // Wait for data past the requested offsets (or past the data
            // already there, for partitions that had some).
            let mut waits = request.topics.clone();
            for ((_, wanted), (_, got)) in waits.iter_mut().zip(&topics) {
                for (w, g) in wanted.iter_mut().zip(got) {
                    w.offset = w.offset.max(g.high_watermark);
                }
            }
            self.wait_any(&waits, deadline).await;
            if self.shutdown.is_raised() {
                // Answer with what the last read found: other cores may
                // have closed their partitions (and stopped answering)
                // already, so a new read could wait out the drain.
                return FetchResponse { topics };
            }
        }
    }

    pub async fn route_list_offsets(
        self: &Rc<Self>,
        request: ListOffsetsRequest,
    ) -> ListOffsetsResponse {
        let mut response = ListOffsetsResponse::default();
        for (name, partitions) in request.topics {
            let total = partitions.len();
            let split = self.split(&name, partitions, |(p, _)| *p);
            let mut slots: Vec<Option<PartitionOffset>> = vec![None; total];
            for (index, partition, code) in split.missing {
                slots[index] = Some(PartitionOffset {
                    partition,
                    error_code: code as u16,
                    offset: NO_OFFSET,
                });
            }
            for (core, items) in split.by_core {
                let (indexes, wanted): (Vec<usize>, Vec<(u32, OffsetSpec)>) =
                    items.into_iter().unzip();
                let answers = if core == self.id {
                    self.list_offsets_local(&name, wanted).await
                } else {
                    let ids: Vec<u32> = wanted.iter().map(|(p, _)| *p).collect();
                    let message = |reply| ShardMessage::ListOffsets {
                        topic: name.clone(),
                        partitions: wanted,
                        reply,
                    };
                    self.ask(core, message).await.unwrap_or_else(|| {
                        ids.iter()
                            .map(|&partition| PartitionOffset {
                                partition,
                                error_code: ErrorCode::ShuttingDown as u16,
                                offset: NO_OFFSET,
                            })
                            .collect()
                    })
                };
                for (index, answer) in indexes.into_iter().zip(answers) {
                    slots[index] = Some(answer);
                }
            }
            response
                .topics
                .push((name, slots.into_iter().flatten().collect()));
        }
        response
    }

    /// Every partition of a topic described by its owner, in order.
    pub async fn route_describe(
        self: &Rc<Self>,
        topic: &str,
        partitions: u32,
    ) -> Vec<PartitionDescription> {
        let split = self.split(topic, (0..partitions).collect(), |p| *p);
        let mut all = Vec::with_capacity(partitions as usize);
        for (core, items) in split.by_core {
            let wanted: Vec<u32> = items.into_iter().map(|(_, p)| p).collect();
            if core == self.id {
                all.extend(self.describe_local(topic, wanted));
                continue;
            }
            let ids = wanted.clone();
            let message = |reply| ShardMessage::Describe {
                topic: topic.to_string(),
                partitions: wanted,
                reply,
            };
            all.extend(self.ask(core, message).await.unwrap_or_else(|| {
                ids.iter()
                    .map(|&partition| PartitionDescription {
                        partition,
                        core: core as u16,
                        error_code: ErrorCode::ShuttingDown as u16,
                        earliest_offset: 0,
                        latest_offset: 0,
                        size_bytes: 0,
                    })
                    .collect()
            }));
        }
        all.sort_by_key(|d| d.partition);
        all
    }
}

fn failed(partitions: &[u32]) -> Vec<ProducePartitionResponse> {
    partitions
        .iter()
        .map(|&partition| ProducePartitionResponse {
            partition,
            error_code: ErrorCode::ShuttingDown as u16,
            base_offset: NO_OFFSET,
        })
        .collect()
}

fn fetch_error(partition: u32, code: ErrorCode) -> FetchPartitionResponse {
    FetchPartitionResponse {
        partition,
        error_code: code as u16,
        ..Default::default()
    }
}
