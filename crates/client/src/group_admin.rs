//! Consumer-group administration on [`Admin`]: list and describe groups,
//! read a group's committed offsets, set them (outside membership: refused
//! while the group has members), and the latest offsets to compute lag.
//! Every call goes to the bootstrap address; the broker forwards it to the
//! group's coordinator core.

use super::admin::Admin;
use super::error::{check_partition_code, ClientError, ClientResult};
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::groups::{
    decode_coordinator, CommitPartition, DescribeGroupResponse, GroupListing, GroupNameRequest,
    ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, NO_GENERATION,
};
use shardlog_protocol::metadata::CoreAddress;
use shardlog_protocol::offsets::{ListOffsetsRequest, ListOffsetsResponse, OffsetSpec};
use shardlog_protocol::ApiKey;

/// One committed offset of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub metadata: String,
}

impl Admin {
    /// The core that coordinates `group`, and its own address.
    pub fn find_coordinator(&mut self, group: &str) -> ClientResult<CoreAddress> {
        let request = GroupNameRequest {
            group: group.to_string(),
        };
        self.cluster.bootstrap_call(
            ApiKey::FindCoordinator,
            |b| request.encode(b),
            decode_coordinator,
        )
    }

    /// Every group with members or committed offsets, by name.
    pub fn list_groups(&mut self) -> ClientResult<Vec<GroupListing>> {
        let response =
            self.cluster
                .bootstrap_call(ApiKey::ListGroups, |_| {}, ListGroupsResponse::decode)?;
        Ok(response.groups)
    }

    /// A group's state, generation, members and their assignment.
    pub fn describe_group(&mut self, group: &str) -> ClientResult<DescribeGroupResponse> {
        let request = GroupNameRequest {
            group: group.to_string(),
        };
        self.cluster.bootstrap_call(
            ApiKey::DescribeGroup,
            |b| request.encode(b),
            DescribeGroupResponse::decode,
        )
    }

    /// Every offset the group has committed, by topic and partition.
    pub fn committed_offsets(&mut self, group: &str) -> ClientResult<Vec<CommittedOffset>> {
        let request = OffsetFetchRequest {
            group: group.to_string(),
            topics: Vec::new(),
        };
        let response = self.cluster.bootstrap_call(
            ApiKey::OffsetFetch,
            |b| request.encode(b),
            OffsetFetchResponse::decode,
        )?;
        let mut out = Vec::new();
        for (topic, partitions) in response.topics {
            for p in partitions {
                check_partition_code(self.cluster.bootstrap(), p.error_code, &topic, p.partition)?;
                out.push(CommittedOffset {
                    topic: topic.clone(),
                    partition: p.partition,
                    offset: p.offset,
                    metadata: p.metadata,
                });
            }
        }
        Ok(out)
    }

    /// Sets the group's committed offsets of `topic`'s partitions, outside
    /// any membership: `GroupNotEmpty` while the group has members.
    pub fn set_committed_offsets(
        &mut self,
        group: &str,
        topic: &str,
        offsets: &[(u32, u64)],
    ) -> ClientResult<()> {
        let request = OffsetCommitRequest {
            group: group.to_string(),
            member_id: String::new(),
            generation: NO_GENERATION,
            topics: vec![(
                topic.to_string(),
                offsets
                    .iter()
                    .map(|&(partition, offset)| CommitPartition {
                        partition,
                        offset,
                        metadata: String::new(),
                    })
                    .collect(),
            )],
        };
        let response = self.cluster.bootstrap_call(
            ApiKey::OffsetCommit,
            |b| request.encode(b),
            OffsetCommitResponse::decode,
        )?;
        check_commit_response(self.cluster.bootstrap(), &response)
    }

    /// Offsets of `partitions` of `topic` by `spec` (ListOffsets), in order.
    pub fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[u32],
        spec: OffsetSpec,
    ) -> ClientResult<Vec<(u32, Result<u64, ErrorCode>)>> {
        let request = ListOffsetsRequest {
            topics: vec![(
                topic.to_string(),
                partitions.iter().map(|&p| (p, spec)).collect(),
            )],
        };
        let response = self.cluster.bootstrap_call(
            ApiKey::ListOffsets,
            |b| request.encode(b),
            ListOffsetsResponse::decode,
        )?;
        let answers = response.topics.into_iter().flat_map(|(_, ps)| ps);
        Ok(answers
            .map(|p| {
                let result = match ErrorCode::from_u16(p.error_code) {
                    Some(ErrorCode::None) => Ok(p.offset),
                    Some(code) => Err(code),
                    None => Err(ErrorCode::Internal),
                };
                (p.partition, result)
            })
            .collect())
    }
}

/// The first per-partition refusal of a commit, if any.
pub(crate) fn check_commit_response(
    addr: &str,
    response: &OffsetCommitResponse,
) -> ClientResult<()> {
    for (topic, partitions) in &response.topics {
        for &(partition, code) in partitions {
            check_partition_code(addr, code, topic, partition)?;
        }
    }
    Ok(())
}

/// A refusal by code, for callers that build their own.
pub(crate) fn refused(code: ErrorCode, message: String) -> ClientError {
    ClientError::Broker { code, message }
}
