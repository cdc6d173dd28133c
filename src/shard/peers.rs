//! The peers service: this core's ends of the cross-core channels, and the
//! one way a request reaches other cores: [`Peers::ask`] one core, or
//! [`Peers::scatter`] parts to their cores and gather the answers.
//!
//! It owns the senders to every core's inbox (this one's included) and
//! counts the messages it sends. It never looks inside a message, never
//! holds partition or group state, and never blocks: a core that is
//! stopping (its inbox or a reply channel closed) is an answer, `None`,
//! that the caller turns into its own `ShuttingDown`.

use std::cell::RefCell;
use std::rc::Rc;

use super::messages::{Reply, ShardMessage};
use super::notify::LocalFuture;
use crate::error::ErrorCode;
use crate::metrics::CoreMetrics;

pub struct Peers {
    /// This core's id.
    core: usize,
    /// Senders to every core's inbox, this one's included, by core id.
    senders: Vec<flume::Sender<ShardMessage>>,
    /// This core's counters (shared with the shard; never borrowed across
    /// an await).
    metrics: Rc<RefCell<CoreMetrics>>,
}

impl Peers {
    pub fn new(
        core: usize,
        senders: Vec<flume::Sender<ShardMessage>>,
        metrics: Rc<RefCell<CoreMetrics>>,
    ) -> Peers {
        assert!(core < senders.len(), "core {core} of {}", senders.len());
        Peers {
            core,
            senders,
            metrics,
        }
    }

    /// How many cores the broker runs.
    pub fn cores(&self) -> usize {
        self.senders.len()
    }

    /// This core's id.
    pub fn core(&self) -> usize {
        self.core
    }

    /// A core's inbox, for the messages that are not counted as
    /// cross-core traffic: topic-map changes and their broadcast, and
    /// shutdown.
    pub fn inbox(&self, core: usize) -> &flume::Sender<ShardMessage> {
        &self.senders[core]
    }

    /// Every core's inbox, by core id (see [`Peers::inbox`]).
    pub fn inboxes(&self) -> &[flume::Sender<ShardMessage>] {
        &self.senders
    }

    /// Sends a message to a core's inbox (this one's too); a closed
    /// channel means that core is stopping.
    pub async fn send(&self, core: usize, message: ShardMessage) -> Result<(), ErrorCode> {
        self.metrics.borrow_mut().on_message_sent();
        self.senders[core]
            .send_async(message)
            .await
            .map_err(|_| ErrorCode::ShuttingDown)
    }

    /// Asks a core and waits for its reply; `None` when that core is
    /// stopping (its inbox or the reply channel closed).
    pub async fn ask<T>(
        &self,
        core: usize,
        message: impl FnOnce(Reply<T>) -> ShardMessage,
    ) -> Option<T> {
        let (reply, answer) = flume::bounded(1);
        self.send(core, message(reply)).await.ok()?;
        answer.recv_async().await.ok()
    }

    /// The scatter half of the one scatter/gather: each part goes to its
    /// core, in the order given: `local` runs this core's parts (called
    /// now: whatever it does before its first await happens before this
    /// returns, which is how a produce queues its appends in order);
    /// `remote` makes the message that carries another core's part, sent
    /// before this returns. Answers one future per part, in the order of
    /// `parts`: its answer, or `None` when its core is stopping. Await
    /// them all with [`gather`], or the first with `first_of`.
    pub async fn scatter<X, T: 'static>(
        &self,
        parts: Vec<(usize, X)>,
        mut local: impl FnMut(X) -> LocalFuture<T>,
        mut remote: impl FnMut(X, Reply<T>) -> ShardMessage,
    ) -> Vec<LocalFuture<Option<T>>> {
        let mut answers: Vec<LocalFuture<Option<T>>> = Vec::with_capacity(parts.len());
        for (core, part) in parts {
            if core == self.core {
                let answer = local(part);
                answers.push(Box::pin(async move { Some(answer.await) }));
                continue;
            }
            let (reply, answer) = flume::bounded(1);
            let sent = self.send(core, remote(part, reply)).await.is_ok();
            answers.push(Box::pin(async move {
                match sent {
                    true => answer.recv_async().await.ok(),
                    false => None,
                }
            }));
        }
        answers
    }

    /// [`Peers::scatter`], then [`gather`].
    pub async fn scatter_gather<X, T: 'static>(
        &self,
        parts: Vec<(usize, X)>,
        local: impl FnMut(X) -> LocalFuture<T>,
        remote: impl FnMut(X, Reply<T>) -> ShardMessage,
    ) -> Vec<Option<T>> {
        gather(self.scatter(parts, local, remote).await).await
    }
}

/// The gather half: every part's answer, in the parts' order. The parts
/// run at once (other cores' already run); awaiting them in order only
/// orders the answers.
pub async fn gather<T>(parts: Vec<LocalFuture<Option<T>>>) -> Vec<Option<T>> {
    let mut answers = Vec::with_capacity(parts.len());
    for part in parts {
        answers.push(part.await);
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::topics::PartitionDescription;
    use glommio::{LocalExecutorBuilder, Placement};

    fn description(partition: u32, core: usize) -> PartitionDescription {
        PartitionDescription {
            partition,
            core: core as u16,
            error_code: 0,
            earliest_offset: 0,
            latest_offset: 0,
            size_bytes: 0,
        }
    }

    /// Core 0 scatters to itself, to core 1 (which answers) and to core 2
    /// (stopped: its inbox is gone); the answers come back in the parts'
    /// order, the stopped core's as `None`, and the local part ran before
    /// scatter returned.
    #[test]
    fn scatter_gather_answers_in_the_parts_order_and_a_stopped_core_is_none() {
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(512 << 10)
            .make()
            .expect("executor")
            .run(async {
                let (s0, _r0) = flume::bounded(4);
                let (s1, r1) = flume::bounded(4);
                let (s2, r2) = flume::bounded::<ShardMessage>(4);
                drop(r2);
                let metrics = Rc::new(RefCell::new(CoreMetrics::default()));
                let peers = Peers::new(0, vec![s0, s1, s2], metrics);
                glommio::spawn_local(async move {
                    while let Ok(message) = r1.recv_async().await {
                        if let ShardMessage::Describe {
                            partitions, reply, ..
                        } = message
                        {
                            let _ =
                                reply.send(partitions.iter().map(|&p| description(p, 1)).collect());
                        }
                    }
                })
                .detach();
                let local_ran = Rc::new(std::cell::Cell::new(false));
                let parts = vec![(1, vec![1, 4]), (0, vec![0, 3]), (2, vec![2])];
                let answers = peers
                    .scatter(
                        parts,
                        |partitions: Vec<u32>| {
                            local_ran.set(true);
                            let answer: Vec<PartitionDescription> =
                                partitions.iter().map(|&p| description(p, 0)).collect();
                            Box::pin(async move { answer })
                        },
                        |partitions, reply| ShardMessage::Describe {
                            topic: "t".into(),
                            partitions,
                            reply,
                        },
                    )
                    .await;
                assert!(local_ran.get(), "the local part runs during scatter");
                let answers = gather(answers).await;
                let cores: Vec<Option<Vec<(u32, u16)>>> = answers
                    .into_iter()
                    .map(|a| a.map(|ds| ds.iter().map(|d| (d.partition, d.core)).collect()))
                    .collect();
                assert_eq!(
                    cores,
                    [Some(vec![(1, 1), (4, 1)]), Some(vec![(0, 0), (3, 0)]), None]
                );
            });
    }
}
