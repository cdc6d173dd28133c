//! Fetch: every owner reads its partitions in parallel (the scatter/gather
//! of [`super`]), then what overflowed `max_bytes` is read again in
//! request order; and the long-poll wait for data.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::config::{FETCH_BYTES_MAX, FETCH_WAIT_MS_MAX};
use crate::error::ErrorCode;
use crate::protocol::fetch::{FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse};
use crate::router::shard_for;
use crate::shard::fetch_budget::FetchBudget;
use crate::shard::messages::ShardMessage;
use crate::shard::notify::{first_of, sleep_unless_raised, LocalFuture};
use crate::shard::Shard;

/// One partition of a fetch, in request order.
struct FetchItem {
    /// Its topic's index in the request.
    topic: usize,
    partition: FetchPartition,
    owner: Result<usize, ErrorCode>,
}

impl Shard {
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
        for (topic, (name, partitions)) in topics.iter().enumerate() {
            let owners = self.owners(name, partitions.iter().map(|p| p.partition));
            for (p, owner) in partitions.iter().zip(owners) {
                items.push(FetchItem {
                    topic,
                    partition: *p,
                    owner,
                });
            }
        }
        items
    }

    /// Every owner reads its partitions at once, each owner with the whole
    /// budget; answers in the order of `items`. Every topic's parts are
    /// scattered (other cores' reads sent) before any is gathered, so
    /// they run while this core reads its own.
    async fn fetch_by_owner(
        self: &Rc<Self>,
        topics: &[(String, Vec<FetchPartition>)],
        items: &[FetchItem],
        max_bytes: usize,
    ) -> Vec<FetchPartitionResponse> {
        let budget = FetchBudget::new(max_bytes);
        let mut reads = Vec::with_capacity(topics.len());
        let mut items = items;
        for (name, partitions) in topics {
            let (these, rest) = items.split_at(partitions.len());
            items = rest;
            let owners: Vec<Result<usize, ErrorCode>> = these.iter().map(|i| i.owner).collect();
            let read = self
                .scatter_topic(
                    partitions.clone(),
                    &owners,
                    |p| p.partition,
                    |partitions| {
                        let (shard, name) = (self.clone(), name.clone());
                        Box::pin(
                            async move { shard.partitions.fetch(&name, partitions, budget).await },
                        )
                    },
                    |partitions, reply| ShardMessage::Fetch {
                        topic: name.clone(),
                        partitions,
                        max_bytes: budget,
                        reply,
                    },
                    fetch_error,
                )
                .await;
            reads.push(read);
        }
        let mut answers = Vec::new();
        for read in reads {
            answers.extend(read.await);
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
            return self.partitions.fetch(topic, partitions, budget).await;
        }
        let ids: Vec<u32> = partitions.iter().map(|p| p.partition).collect();
        let message = |reply| ShardMessage::Fetch {
            topic: topic.to_string(),
            partitions,
            max_bytes: budget,
            reply,
        };
        self.peers.ask(core, message).await.unwrap_or_else(|| {
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
                if self
                    .partitions
                    .partition_count(name)
                    .is_some_and(|n| p.partition < n)
                {
                    let core = shard_for(name, p.partition, self.cores());
                    by_core
                        .entry(core)
                        .or_default()
                        .push((name.clone(), p.partition, p.offset));
                }
            }
        }
        let arrivals = self
            .peers
            .scatter(
                by_core.into_iter().collect(),
                |waits| Box::pin(self.partitions.wait_for_data(&waits, deadline)),
                |waits, reply| ShardMessage::WaitForData {
                    waits,
                    deadline,
                    reply,
                },
            )
            .await;
        // A core that is stopping cannot tell of new data: the deadline or
        // this core's shutdown ends the wait.
        let arrivals: Vec<LocalFuture<()>> = arrivals
            .into_iter()
            .map(|arrival| -> LocalFuture<()> {
                Box::pin(async move {
                    if arrival.await.is_none() {
                        futures_lite::future::pending::<()>().await;
                    }
                })
            })
            .collect();
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
        let wait = Duration::from_millis(u64::from(request.max_wait_ms.min(FETCH_WAIT_MS_MAX)));
        let max_bytes = (request.max_bytes as usize).min(FETCH_BYTES_MAX);
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
}

fn fetch_error(partition: u32, code: ErrorCode) -> FetchPartitionResponse {
    FetchPartitionResponse {
        partition,
        error_code: code as u16,
        ..Default::default()
    }
}
