//! This core's metrics snapshot, and every core's, gathered over the
//! cross-core channels for the metrics endpoint and the Stats API.

use std::rc::Rc;

use super::messages::ShardMessage;
use super::Shard;
use crate::metrics::{CoreGauges, CoreSnapshot, GroupCommit};

impl Shard {
    /// This core's counters and gauges; with `partitions`, every partition
    /// it owns too.
    pub fn metrics_snapshot(&self, partitions: bool) -> CoreSnapshot {
        let (cache_bytes, cache_hits, cache_misses) = self.partitions.cache_gauges();
        let gauges = CoreGauges {
            connections: self.local_connections.get(),
            inflight_bytes: (self.config.inflight_bytes_per_core as u64)
                .saturating_sub(self.inflight_bytes.available()),
            cache_bytes,
            cache_hits,
            cache_misses,
        };
        let mut snapshot = self.metrics.borrow_mut().snapshot(self.id, gauges);
        if partitions {
            snapshot.partitions = self.partitions.snapshots();
            snapshot.group_commits = self
                .coordinator
                .committed_offset_rows(&self.partitions.topics())
                .into_iter()
                .map(|row| GroupCommit {
                    group: row.group,
                    topic: row.topic,
                    partition: row.partition,
                    committed: row.committed,
                })
                .collect();
        }
        snapshot
    }

    /// Every core's snapshot, by core id; a core that is stopping is left
    /// out.
    pub async fn gather_metrics(self: &Rc<Self>, partitions: bool) -> Vec<CoreSnapshot> {
        let every_core = (0..self.cores()).map(|core| (core, ())).collect();
        self.peers
            .scatter_gather(
                every_core,
                |()| {
                    let snapshot = self.metrics_snapshot(partitions);
                    Box::pin(async move { snapshot })
                },
                |(), reply| ShardMessage::Metrics { partitions, reply },
            )
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
