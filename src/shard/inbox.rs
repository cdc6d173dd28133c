//! The loop that serves other cores' messages. Produce appends are queued
//! in arrival order before anything is awaited; everything that waits runs
//! in its own task so the loop stays responsive.

use std::rc::Rc;
use std::time::Duration;

use super::messages::ShardMessage;
use super::Shard;
use crate::config::SHUTDOWN_DRAIN_MS;

/// Serves messages until a `Shutdown`, which it carries out and answers.
pub async fn serve_inbox(shard: Rc<Shard>, inbox: flume::Receiver<ShardMessage>) {
    while let Ok(message) = inbox.recv_async().await {
        shard.metrics.borrow_mut().on_message_received();
        match message {
            ShardMessage::Produce {
                topic,
                partitions,
                acks,
                reply,
            } => {
                let answer = shard.partitions.produce(&topic, partitions, acks);
                glommio::spawn_local(async move {
                    let _ = reply.send(answer.await);
                })
                .detach();
            }
            ShardMessage::Fetch {
                topic,
                partitions,
                max_bytes,
                reply,
            } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.partitions.fetch(&topic, partitions, max_bytes).await);
                })
                .detach();
            }
            ShardMessage::WaitForData {
                waits,
                deadline,
                reply,
            } => {
                let arrival = shard.partitions.wait_for_data(&waits, deadline);
                glommio::spawn_local(async move {
                    arrival.await;
                    let _ = reply.send(());
                })
                .detach();
            }
            ShardMessage::ListOffsets {
                topic,
                partitions,
                reply,
            } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.partitions.list_offsets(&topic, partitions).await);
                })
                .detach();
            }
            ShardMessage::Describe {
                topic,
                partitions,
                reply,
            } => {
                let _ = reply.send(shard.partitions.describe(&topic, partitions));
            }
            ShardMessage::CreateTopic {
                name,
                config,
                reply,
            } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.create_topic(name, config).await);
                })
                .detach();
            }
            ShardMessage::DeleteTopic { name, reply } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.delete_topic(name).await);
                })
                .detach();
            }
            ShardMessage::TopicsChanged { map, reply } => {
                // Inline: later messages may be for the new topics. A
                // failure goes back to core 0, which rolls the change back.
                let _ = reply.send(shard.partitions.apply_topic_map(map).await);
            }
            ShardMessage::Group { request, reply } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.handle_group_local(request).await);
                })
                .detach();
            }
            ShardMessage::Classic { request, reply } => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(shard.handle_classic_local(request).await);
                })
                .detach();
            }
            ShardMessage::Metrics { partitions, reply } => {
                let _ = reply.send(shard.metrics_snapshot(partitions));
            }
            ShardMessage::Shutdown { reply } => {
                shut_down(&shard).await;
                let _ = reply.send(());
                return;
            }
        }
    }
}

/// Stops accepting, lets connections finish what they started, then closes
/// every partition cleanly.
async fn shut_down(shard: &Shard) {
    shard.shutdown.raise();
    // A join may wait for a whole rebalance: answer it now, not after the drain.
    shard.coordinator.stop_joins();
    let poll = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    while shard.local_connections.get() > 0 && waited < Duration::from_millis(SHUTDOWN_DRAIN_MS) {
        glommio::timer::sleep(poll).await;
        waited += poll;
    }
    if shard.local_connections.get() > 0 {
        tracing::warn!(
            core = shard.id,
            open = shard.local_connections.get(),
            "closing with connections still open"
        );
    }
    shard.partitions.close_all().await;
    shard.coordinator.close().await;
    tracing::info!(core = shard.id, "core stopped cleanly");
}
