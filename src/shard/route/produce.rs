//! Produce: every batch queued (here, or in its owner's inbox) before the
//! returned future is awaited, so one connection's pipelined produces keep
//! their order per partition.

use std::rc::Rc;

use bytes::BytesMut;

use crate::protocol::produce::{
    ProducePartitionResponse, ProduceRequest, ProduceResponse, NO_OFFSET,
};
use crate::shard::messages::ShardMessage;
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

impl Shard {
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
            let owners = self.owners(&topic.name, topic.partitions.iter().map(|p| p.partition));
            let batches: Vec<(u32, BytesMut)> = topic
                .partitions
                .into_iter()
                .map(|p| (p.partition, p.batch))
                .collect();
            let name = topic.name;
            let answers = self
                .scatter_topic(
                    batches,
                    &owners,
                    |(p, _)| *p,
                    |batches| Box::pin(self.partitions.produce(&name, batches, acks)),
                    |partitions, reply| ShardMessage::Produce {
                        topic: name.clone(),
                        partitions,
                        acks,
                        reply,
                    },
                    |partition, code| ProducePartitionResponse {
                        partition,
                        error_code: code as u16,
                        base_offset: NO_OFFSET,
                    },
                )
                .await;
            topics.push((name, answers));
        }
        Box::pin(async move {
            let mut response = ProduceResponse::default();
            for (name, answers) in topics {
                response.topics.push((name, answers.await));
            }
            response
        })
    }
}
