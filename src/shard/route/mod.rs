//! The router's fan-out: a request's partitions split by owner core, each
//! part run here or sent to its owner, the replies merged back into the
//! request's order (`scatter_topic`, over the peers service's one
//! scatter/gather). Requests for local partitions never hop.
//!
//! - [`produce`]: every append queued before the answer is awaited.
//! - [`fetch`]: owners read in parallel, what overflowed is read again in
//!   request order; the long-poll wait.
//! - [`offsets`]: list offsets and describe.

mod fetch;
mod offsets;
mod produce;

use std::collections::BTreeMap;

use super::messages::{Reply, ShardMessage};
use super::notify::LocalFuture;
use super::peers::gather;
use super::Shard;
use crate::error::ErrorCode;
use crate::router::shard_for;

/// One owner's part of a topic's items: their positions in the request
/// and partitions, and the items.
type Part<I> = (Vec<(usize, u32)>, Vec<I>);

impl Shard {
    /// The core that owns `partition` of `topic`, or why there is none.
    fn owner(&self, topic: &str, partition: u32, count: Option<u32>) -> Result<usize, ErrorCode> {
        match count {
            None => Err(ErrorCode::UnknownTopic),
            Some(n) if partition >= n => Err(ErrorCode::UnknownPartition),
            Some(_) => Ok(shard_for(topic, partition, self.cores())),
        }
    }

    /// Each of a topic's partitions with its owner core, or the error that
    /// answers it at once (counted here).
    fn owners(
        &self,
        topic: &str,
        partitions: impl Iterator<Item = u32>,
    ) -> Vec<Result<usize, ErrorCode>> {
        let count = self.partitions.partition_count(topic);
        let owners: Vec<Result<usize, ErrorCode>> =
            partitions.map(|p| self.owner(topic, p, count)).collect();
        let mut metrics = self.metrics.borrow_mut();
        for code in owners.iter().filter_map(|o| o.err()) {
            metrics.on_error(code);
        }
        owners
    }

    /// The router's one fan-out: a topic's items, each with its owner
    /// (`owners`, in the same order), split by owner core and scattered
    /// ([`super::peers::Peers::scatter`]: this core's part runs now, the
    /// others are sent before this returns). The returned future gathers
    /// the answers back into the items' order; an item without an owner,
    /// or whose owner is stopping, is answered with `failed(partition,
    /// code)`.
    async fn scatter_topic<I, R: 'static>(
        &self,
        items: Vec<I>,
        owners: &[Result<usize, ErrorCode>],
        partition_of: impl Fn(&I) -> u32,
        local: impl FnMut(Vec<I>) -> LocalFuture<Vec<R>>,
        remote: impl FnMut(Vec<I>, Reply<Vec<R>>) -> ShardMessage,
        failed: impl Fn(u32, ErrorCode) -> R + 'static,
    ) -> LocalFuture<Vec<R>> {
        debug_assert_eq!(items.len(), owners.len());
        let total = items.len();
        let mut slots: Vec<Option<R>> = Vec::with_capacity(total);
        // Per owner core: the items' positions and partitions, and the items.
        let mut by_core: BTreeMap<usize, Part<I>> = BTreeMap::new();
        for (index, (item, owner)) in items.into_iter().zip(owners).enumerate() {
            let partition = partition_of(&item);
            match owner {
                Err(code) => slots.push(Some(failed(partition, *code))),
                Ok(core) => {
                    slots.push(None);
                    let (positions, items) = by_core.entry(*core).or_default();
                    positions.push((index, partition));
                    items.push(item);
                }
            }
        }
        let (positions, parts): (Vec<_>, Vec<_>) = by_core
            .into_iter()
            .map(|(core, (positions, items))| (positions, (core, items)))
            .unzip();
        let answers = self.peers.scatter(parts, local, remote).await;
        Box::pin(async move {
            for (positions, answer) in positions.into_iter().zip(gather(answers).await) {
                match answer {
                    Some(answers) => {
                        for ((index, _), answer) in positions.into_iter().zip(answers) {
                            slots[index] = Some(answer);
                        }
                    }
                    None => {
                        for (index, partition) in positions {
                            slots[index] = Some(failed(partition, ErrorCode::ShuttingDown));
                        }
                    }
                }
            }
            slots.into_iter().flatten().collect()
        })
    }
}
