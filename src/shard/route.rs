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
/// One partition of a fetch, in request order.
struct FetchItem {
    /// Its topic's index in the request.
    topic: usize,
    partition: FetchPartition,
    owner: Result<usize, ErrorCode>,
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
    /// `max_bytes` over the whole request, in request order: a partition
    /// gets what the partitions listed before it left of the budget, so it
    /// never loses bytes to one listed after it, whichever cores own them.
    ///
    /// Every owner first reads all its partitions at once, in parallel,
    /// each with the whole budget. A partition reads at least as much that
    /// way as in request order, and exactly as much while the bytes of the
    /// partitions up to it fit in `max_bytes` (the usual case: a tail
    /// read); only the partitions after that point are read again, in
    /// request order, one run of consecutive partitions of one owner at a
    /// time, with what is left. A client that sends each core only its
    /// own partitions (the per-core ports) makes no hop at all.
    async fn fetch_once(
        self: &Rc<Self>,
        topics: &[(String, Vec<FetchPartition>)],
        max_bytes: usize,
    ) -> Vec<(String, Vec<FetchPartitionResponse>)> {
        let wanted = self.fetch_items(topics);
        let mut answers = self.fetch_by_owner(topics, &wanted, max_bytes).await;
        let mut budget = FetchBudget::new(max_bytes);
        let mut exact = 0;
        for answer in &answers {
            let bytes = answer.records_bytes();
            // The response's first batch is kept whatever its size.
            if exact > 0 && bytes > budget.bytes_left {
                break;
            }
            budget.spend(bytes);
            exact += 1;
        }
        let mut next = exact;
        while next < wanted.len() {
            let item = &wanted[next];
            let Ok(core) = item.owner else {
                next += 1;
                continue;
            };
            // A run: the following partitions of the same topic and owner.
            let run_end = next
                + wanted[next..]
                    .iter()
                    .take_while(|w| w.topic == item.topic && w.owner == Ok(core))
                    .count();
            let run: Vec<FetchPartition> =
                wanted[next..run_end].iter().map(|w| w.partition).collect();
            let name = &topics[item.topic].0;
            let read = self.fetch_run(core, name, run, budget).await;
            for (slot, answer) in answers[next..run_end].iter_mut().zip(read) {
                budget.spend(answer.records_bytes());
                *slot = answer;
            }
            next = run_end;
        }
        let mut answers = answers.into_iter();
        topics
            .iter()
            .map(|(name, partitions)| {
                let answered = answers.by_ref().take(partitions.len()).collect();
                (name.clone(), answered)
            })
            .collect()
    }

    /// The request's partitions in request order, each with its owner (or
    /// why it has none); the missing ones are counted as errors.
    fn fetch_items(&self, topics: &[(String, Vec<FetchPartition>)]) -> Vec<FetchItem> {
        let mut items = Vec::new();
        let mut missing = Vec::new();
        for (topic, (name, partitions)) in topics.iter().enumerate() {
            let count = self.partition_count(name);
            for (index, p) in partitions.iter().enumerate() {
                let owner = self.owner(name, p.partition, count);
                if let Err(code) = owner {
                    missing.push((index, p.partition, code));
                }
                items.push(FetchItem {
                    topic,
                    partition: *p,
                    owner,
                });
            }
        }
        self.count_missing(&missing);
        items
    }

    /// Every owner reads its partitions at once, each owner with the whole
    /// budget; answers in the order of `items`.
    async fn fetch_by_owner(
        self: &Rc<Self>,
        topics: &[(String, Vec<FetchPartition>)],
        items: &[FetchItem],
        max_bytes: usize,
    ) -> Vec<FetchPartitionResponse> {
        let mut answers: Vec<FetchPartitionResponse> = items
            .iter()
            .map(|item| match item.owner {
                Ok(_) => FetchPartitionResponse::default(),
                Err(code) => fetch_error(item.partition.partition, code),
            })
            .collect();
        // Per owner and topic, the indexes of its partitions in `items`.
        let mut groups: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            if let Ok(core) = item.owner {
                groups.entry((core, item.topic)).or_default().push(index);
            }
        }
        // Other cores' reads are sent first, so that they run while this
        // core reads its own.
        let mut remote = Vec::new();
        let mut local = Vec::new();
        for ((core, topic), indexes) in groups {
            let wanted: Vec<FetchPartition> = indexes.iter().map(|&i| items[i].partition).collect();
            if core == self.id {
                local.push((topic, indexes, wanted));
                continue;
            }
            let (reply, answer) = flume::bounded(1);
            let sent = self
                .send_to(
                    core,
                    ShardMessage::Fetch {
                        topic: topics[topic].0.clone(),
                        partitions: wanted,
                        max_bytes: FetchBudget::new(max_bytes),
                        reply,
                    },
                )
                .await
                .is_ok();
            remote.push((indexes, sent.then_some(answer)));
        }
        for (topic, indexes, wanted) in local {
            let read = self
                .fetch_local(&topics[topic].0, wanted, FetchBudget::new(max_bytes))
                .await;
            for (index, answer) in indexes.into_iter().zip(read) {
                answers[index] = answer;
            }
        }
        for (indexes, answer) in remote {
            let read = match answer {
                Some(answer) => answer.recv_async().await.ok(),
                None => None,
            };
            match read {
                Some(read) => {
                    for (&index, answer) in indexes.iter().zip(read) {
                        answers[index] = answer;
                    }
                }
                None => {
                    for index in indexes {
                        answers[index] =
                            fetch_error(items[index].partition.partition, ErrorCode::ShuttingDown);
                    }
                }
            }
        }
        answers
    }

    /// One owner reads `partitions` of `topic` with `budget`.
    async fn fetch_run(
        self: &Rc<Self>,
        core: usize,
        topic: &str,
        partitions: Vec<FetchPartition>,
        budget: FetchBudget,
    ) -> Vec<FetchPartitionResponse> {
        if core == self.id {
            return self.fetch_local(topic, partitions, budget).await;
        }
        let ids: Vec<u32> = partitions.iter().map(|p| p.partition).collect();
        let message = |reply| ShardMessage::Fetch {
            topic: topic.to_string(),
            partitions,
            max_bytes: budget,
            reply,
        };
        self.ask(core, message).await.unwrap_or_else(|| {
            ids.iter()
                .map(|&p| fetch_error(p, ErrorCode::ShuttingDown))
                .collect()
        })
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
