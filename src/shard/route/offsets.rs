//! ListOffsets and DescribeTopic: each partition asked of its owner.

use std::rc::Rc;

use crate::error::ErrorCode;
use crate::protocol::offsets::{ListOffsetsRequest, ListOffsetsResponse, PartitionOffset};
use crate::protocol::produce::NO_OFFSET;
use crate::protocol::topics::PartitionDescription;
use crate::router::shard_for;
use crate::shard::messages::ShardMessage;
use crate::shard::Shard;

impl Shard {
    /// Every partition's offset, asked of its owner.
    pub async fn route_list_offsets(
        self: &Rc<Self>,
        request: ListOffsetsRequest,
    ) -> ListOffsetsResponse {
        let mut topics = Vec::with_capacity(request.topics.len());
        for (name, partitions) in request.topics {
            let owners = self.owners(&name, partitions.iter().map(|(p, _)| *p));
            let answers = self
                .scatter_topic(
                    partitions,
                    &owners,
                    |(p, _)| *p,
                    |partitions| {
                        let (shard, name) = (self.clone(), name.clone());
                        Box::pin(
                            async move { shard.partitions.list_offsets(&name, partitions).await },
                        )
                    },
                    |partitions, reply| ShardMessage::ListOffsets {
                        topic: name.clone(),
                        partitions,
                        reply,
                    },
                    |partition, code| PartitionOffset {
                        partition,
                        error_code: code as u16,
                        offset: NO_OFFSET,
                    },
                )
                .await;
            topics.push((name, answers));
        }
        let mut response = ListOffsetsResponse::default();
        for (name, answers) in topics {
            response.topics.push((name, answers.await));
        }
        response
    }

    /// Every partition of a topic described by its owner, in order; a
    /// partition no longer in this core's map is left out.
    pub async fn route_describe(
        self: &Rc<Self>,
        topic: &str,
        partitions: u32,
    ) -> Vec<PartitionDescription> {
        let owners = self.owners(topic, 0..partitions);
        let (wanted, owners): (Vec<u32>, Vec<Result<usize, ErrorCode>>) = (0..partitions)
            .zip(owners)
            .filter(|(_, owner)| owner.is_ok())
            .unzip();
        let cores = self.cores();
        let name = topic.to_string();
        let described = self
            .scatter_topic(
                wanted,
                &owners,
                |p| *p,
                |partitions| {
                    let answer = self.partitions.describe(topic, partitions);
                    Box::pin(async move { answer })
                },
                |partitions, reply| ShardMessage::Describe {
                    topic: topic.to_string(),
                    partitions,
                    reply,
                },
                move |partition, code| PartitionDescription {
                    partition,
                    core: shard_for(&name, partition, cores) as u16,
                    error_code: code as u16,
                    earliest_offset: 0,
                    latest_offset: 0,
                    size_bytes: 0,
                },
            )
            .await;
        described.await
    }
}
