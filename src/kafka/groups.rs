//! Kafka's classic consumer-group APIs (FindCoordinator, JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
//! ListGroups, DescribeGroups), translated onto the group coordinator:
//! each request goes to its group's coordinator core
//! (`Shard::route_classic`, or the native route for OffsetFetch), where
//! `group_logic::classic` decides. A group's coordinator is the core that
//! coordinates it natively, so FindCoordinator names that core's Kafka
//! port and clients reach it without a hop. Metadata and assignments stay
//! opaque bytes: the clients' assignors (range, roundrobin,
//! cooperative-sticky) work unchanged.

use std::rc::Rc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, ResponseKind, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::door::Answer;
use super::errors::{kafka_code, kafka_code_of};
use crate::group_logic::classic::{JoinSpec, Protocol, SyncSpec};
use crate::group_logic::{coordinator_core, validate_group_name};
use crate::protocol::groups::{
    CommitPartition, GroupRequest, GroupResponse, OffsetFetchRequest as NativeOffsetFetch,
    NO_COMMITTED_OFFSET,
};
use crate::shard::coordinator::{ClassicRequest, ClassicResponse, JoinOutcome};
use crate::shard::{Shard, METADATA_CORE};

/// FindCoordinator's key types.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;
/// Kafka's "no offset" and "no leader epoch".
const NONE: i64 = -1;
const NO_LEADER_EPOCH: i32 = -1;

fn string(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// The answer of a response that did not come back as asked: a bug.
fn unexpected(response: &ClassicResponse) -> ResponseError {
    tracing::error!(
        ?response,
        "a classic-group request got another kind of answer"
    );
    ResponseError::UnknownServerError
}

pub fn find_coordinator(
    shard: &Rc<Shard>,
    request: FindCoordinatorRequest,
    version: i16,
) -> Answer {
    let keys = if version >= 4 {
        request.coordinator_keys
    } else {
        vec![request.key]
    };
    let found: Vec<Coordinator> = keys
        .into_iter()
        .map(|key| {
            let coordinator = Coordinator::default().with_key(key.clone());
            let refused = |error: ResponseError, message: &str| {
                coordinator
                    .clone()
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(error.code())
                    .with_error_message(Some(string(message)))
            };
            match request.key_type {
                KEY_TYPE_GROUP => {}
                KEY_TYPE_TRANSACTION => {
                    return refused(
                        ResponseError::CoordinatorNotAvailable,
                        "transactions are not served",
                    )
                }
                _ => return refused(ResponseError::InvalidRequest, "unknown key type"),
            }
            if let Err(e) = validate_group_name(&key) {
                return refused(ResponseError::InvalidGroupId, &e.to_string());
            }
            let core = if shard.config.kafka_single_broker {
                METADATA_CORE
            } else {
                coordinator_core(&key, shard.cores())
            };
            let address = &shard.kafka_addresses[core];
            coordinator
                .with_node_id(BrokerId(i32::from(address.core)))
                .with_host(string(address.host.clone()))
                .with_port(i32::from(address.port))
        })
        .collect();
    let response = if version >= 4 {
        FindCoordinatorResponse::default().with_coordinators(found)
    } else {
        let one = found.into_iter().next().unwrap_or_default();
        FindCoordinatorResponse::default()
            .with_error_code(one.error_code)
            .with_error_message(one.error_message)
            .with_node_id(one.node_id)
            .with_host(one.host)
            .with_port(one.port)
    };
    Answer::now(ResponseKind::FindCoordinator(response))
}

pub fn join_group(
    shard: &Rc<Shard>,
    request: JoinGroupRequest,
    version: i16,
    client_id: String,
) -> Answer {
    let session_timeout_ms = u32::try_from(request.session_timeout_ms).unwrap_or(0);
    // v0 has no rebalance timeout: the session timeout is it.
    let rebalance_timeout_ms = if version == 0 {
        session_timeout_ms
    } else {
        u32::try_from(request.rebalance_timeout_ms).unwrap_or(0)
    };
    let spec = JoinSpec {
        member_id: request.member_id.to_string(),
        require_known_member_id: version >= 4,
        client_id,
        session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: p.name.to_string(),
                metadata: p.metadata,
            })
            .collect(),
    };
    let asked_member = request.member_id;
    let routed = ClassicRequest::Join {
        group: request.group_id.to_string(),
        spec,
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let response = JoinGroupResponse::default();
        let response = match shard.route_classic(routed).await {
            ClassicResponse::Join(Ok(JoinOutcome::Joined(answer))) => response
                .with_generation_id(answer.generation)
                .with_protocol_type(Some(string(answer.protocol_type)))
                .with_protocol_name(Some(string(answer.protocol_name)))
                .with_leader(string(answer.leader))
                .with_member_id(string(answer.member_id))
                .with_members(
                    answer
                        .members
                        .into_iter()
                        .map(|(id, metadata)| {
                            JoinGroupResponseMember::default()
                                .with_member_id(string(id))
                                .with_metadata(metadata)
                        })
                        .collect(),
                ),
            ClassicResponse::Join(Ok(JoinOutcome::MemberIdRequired(id))) => response
                .with_error_code(ResponseError::MemberIdRequired.code())
                .with_member_id(string(id)),
            ClassicResponse::Join(Err(e)) => response
                .with_error_code(e.code())
                .with_member_id(asked_member),
            other => response.with_error_code(unexpected(&other).code()),
        };
        ResponseKind::JoinGroup(response)
    }))
}

pub fn sync_group(shard: &Rc<Shard>, request: SyncGroupRequest) -> Answer {
    let spec = SyncSpec {
        member_id: request.member_id.to_string(),
        generation: request.generation_id,
        protocol_type: request.protocol_type.map(|t| t.to_string()),
        protocol_name: request.protocol_name.map(|n| n.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let routed = ClassicRequest::Sync {
        group: request.group_id.to_string(),
        spec,
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let response = SyncGroupResponse::default();
        let response = match shard.route_classic(routed).await {
            ClassicResponse::Sync(Ok(answer)) => response
                .with_protocol_type(Some(string(answer.protocol_type)))
                .with_protocol_name(Some(string(answer.protocol_name)))
                .with_assignment(answer.assignment),
            ClassicResponse::Sync(Err(e)) => response.with_error_code(e.code()),
            other => response.with_error_code(unexpected(&other).code()),
        };
        ResponseKind::SyncGroup(response)
    }))
}

pub fn heartbeat(shard: &Rc<Shard>, request: HeartbeatRequest) -> Answer {
    let routed = ClassicRequest::Heartbeat {
        group: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        generation: request.generation_id,
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let code = match shard.route_classic(routed).await {
            ClassicResponse::Heartbeat(Ok(())) => 0,
            ClassicResponse::Heartbeat(Err(e)) => e.code(),
            other => unexpected(&other).code(),
        };
        ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(code))
    }))
}

pub fn leave_group(shard: &Rc<Shard>, request: LeaveGroupRequest, version: i16) -> Answer {
    // v3+ names a batch of members; before, one.
    let member_ids: Vec<String> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect()
    } else {
        vec![request.member_id.to_string()]
    };
    let routed = ClassicRequest::Leave {
        group: request.group_id.to_string(),
        member_ids,
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let response = LeaveGroupResponse::default();
        let response = match shard.route_classic(routed).await {
            ClassicResponse::Leave(Ok(left)) if version >= 3 => response.with_members(
                left.into_iter()
                    .zip(request.members)
                    .map(|((id, result), asked)| {
                        MemberResponse::default()
                            .with_member_id(string(id))
                            .with_group_instance_id(asked.group_instance_id)
                            .with_error_code(result.err().map_or(0, |e| e.code()))
                    })
                    .collect(),
            ),
            ClassicResponse::Leave(Ok(left)) => {
                let code = left
                    .into_iter()
                    .next()
                    .and_then(|(_, result)| result.err())
                    .map_or(0, |e| e.code());
                response.with_error_code(code)
            }
            ClassicResponse::Leave(Err(e)) => response.with_error_code(e.code()),
            other => response.with_error_code(unexpected(&other).code()),
        };
        ResponseKind::LeaveGroup(response)
    }))
}

pub fn offset_commit(shard: &Rc<Shard>, request: OffsetCommitRequest) -> Answer {
    let commits = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .filter_map(|p| {
                    Some(CommitPartition {
                        partition: u32::try_from(p.partition_index).ok()?,
                        offset: u64::try_from(p.committed_offset).ok()?,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map_or_else(String::new, |m| m.to_string()),
                    })
                })
                .collect();
            (t.name.0.to_string(), partitions)
        })
        .collect();
    let routed = ClassicRequest::Commit {
        group: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        generation: request.generation_id_or_member_epoch,
        topics: commits,
    };
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let answered = match shard.route_classic(routed).await {
            ClassicResponse::Commit(answered) => answered,
            other => Err(unexpected(&other)),
        };
        // Per (topic, partition) the code: the group's error for all, or
        // each partition's own; a partition the broker could not take
        // (negative index or offset) is refused alone.
        let code_of = |topic: &str, partition: i32, offset: i64| -> i16 {
            if partition < 0 {
                return ResponseError::UnknownTopicOrPartition.code();
            }
            if offset < 0 {
                return ResponseError::InvalidCommitOffsetSize.code();
            }
            match &answered {
                Err(e) => e.code(),
                Ok(response) => response
                    .topics
                    .iter()
                    .filter(|(t, _)| t == topic)
                    .flat_map(|(_, ps)| ps)
                    .find(|(p, _)| i64::from(*p) == i64::from(partition))
                    .map_or(ResponseError::UnknownServerError.code(), |(_, code)| {
                        kafka_code_of(*code)
                    }),
            }
        };
        let topics = request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code_of(
                                &t.name.0,
                                p.partition_index,
                                p.committed_offset,
                            ))
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics))
    }))
}

/// One group's committed offsets as OffsetFetch answers them: by topic,
/// (partition, offset, metadata, code); or the group's error.
type Fetched = Result<Vec<(String, Vec<(i32, i64, String, i16)>)>, i16>;

/// Asks one group's committed offsets: `None` topics for all of them.
async fn fetch_group(
    shard: &Rc<Shard>,
    group: String,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Fetched {
    let topics = match topics {
        // An empty list asks for nothing (null asks for everything).
        Some(topics) if topics.is_empty() => return Ok(Vec::new()),
        Some(topics) => topics
            .into_iter()
            .map(|(t, ps)| {
                (
                    t,
                    ps.into_iter()
                        .filter_map(|p| u32::try_from(p).ok())
                        .collect(),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    let request = GroupRequest::OffsetFetch(NativeOffsetFetch { group, topics });
    match shard.route_group(request).await {
        Ok(GroupResponse::OffsetFetch(response)) => Ok(response
            .topics
            .into_iter()
            .map(|(topic, offsets)| {
                let offsets = offsets
                    .into_iter()
                    .map(|o| {
                        let offset = if o.offset == NO_COMMITTED_OFFSET {
                            NONE
                        } else {
                            o.offset as i64
                        };
                        (
                            o.partition as i32,
                            offset,
                            o.metadata,
                            kafka_code_of(o.error_code),
                        )
                    })
                    .collect();
                (topic, offsets)
            })
            .collect()),
        Ok(_) => Err(ResponseError::UnknownServerError.code()),
        Err(e) => Err(kafka_code(e.code)),
    }
}

pub fn offset_fetch(shard: &Rc<Shard>, request: OffsetFetchRequest, version: i16) -> Answer {
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        if version >= 8 {
            let mut groups = Vec::with_capacity(request.groups.len());
            for asked in request.groups {
                let topics = asked.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                let fetched = fetch_group(&shard, asked.group_id.to_string(), topics).await;
                let group = OffsetFetchResponseGroup::default().with_group_id(asked.group_id);
                groups.push(match fetched {
                    Err(code) => group.with_error_code(code),
                    Ok(topics) => group.with_topics(
                        topics
                            .into_iter()
                            .map(|(topic, offsets)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(TopicName(string(topic)))
                                    .with_partitions(
                                        offsets
                                            .into_iter()
                                            .map(|(p, offset, metadata, code)| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(p)
                                                    .with_committed_offset(offset)
                                                    .with_committed_leader_epoch(NO_LEADER_EPOCH)
                                                    .with_metadata(Some(string(metadata)))
                                                    .with_error_code(code)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    ),
                });
            }
            return ResponseKind::OffsetFetch(OffsetFetchResponse::default().with_groups(groups));
        }
        let topics = request.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect()
        });
        let fetched = fetch_group(&shard, request.group_id.to_string(), topics).await;
        let response = OffsetFetchResponse::default();
        let response = match fetched {
            // v1 has no group error: it goes on a response without topics.
            Err(code) => response.with_error_code(code),
            Ok(topics) => response.with_topics(
                topics
                    .into_iter()
                    .map(|(topic, offsets)| {
                        OffsetFetchResponseTopic::default()
                            .with_name(TopicName(string(topic)))
                            .with_partitions(
                                offsets
                                    .into_iter()
                                    .map(|(p, offset, metadata, code)| {
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(offset)
                                            .with_committed_leader_epoch(NO_LEADER_EPOCH)
                                            .with_metadata(Some(string(metadata)))
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        };
        ResponseKind::OffsetFetch(response)
    }))
}

pub fn list_groups(shard: &Rc<Shard>, request: ListGroupsRequest) -> Answer {
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let response = ListGroupsResponse::default();
        let listed = match shard.route_classic(ClassicRequest::List).await {
            ClassicResponse::List(listed) => listed,
            other => Err(unexpected(&other)),
        };
        let response = match listed {
            Err(e) => response.with_error_code(e.code()),
            Ok(groups) => {
                let states: Vec<String> = request
                    .states_filter
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect();
                let types_ok = request.types_filter.is_empty()
                    || request
                        .types_filter
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case("classic"));
                response.with_groups(
                    groups
                        .into_iter()
                        .filter(|g| {
                            states.is_empty() || states.contains(&g.state.to_ascii_lowercase())
                        })
                        .filter(|_| types_ok)
                        .map(|g| {
                            ListedGroup::default()
                                .with_group_id(GroupId(string(g.group)))
                                .with_protocol_type(string(g.protocol_type))
                                .with_group_state(string(g.state))
                                .with_group_type(string("classic"))
                        })
                        .collect(),
                )
            }
        };
        ResponseKind::ListGroups(response)
    }))
}

pub fn describe_groups(shard: &Rc<Shard>, request: DescribeGroupsRequest) -> Answer {
    let shard = shard.clone();
    Answer::later(Box::pin(async move {
        let mut described = Vec::with_capacity(request.groups.len());
        for group_id in request.groups {
            let routed = ClassicRequest::Describe {
                group: group_id.to_string(),
            };
            let group = DescribedGroup::default().with_group_id(group_id);
            let answer = match shard.route_classic(routed).await {
                ClassicResponse::Describe(answer) => answer,
                other => Err(unexpected(&other)),
            };
            described.push(match answer {
                Err(e) => group.with_error_code(e.code()),
                Ok(d) => group
                    .with_group_state(string(d.state))
                    .with_protocol_type(string(d.protocol_type))
                    .with_protocol_data(string(d.protocol_name))
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(string(m.member_id))
                                    .with_client_id(string(m.client_id))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect(),
                    ),
            });
        }
        ResponseKind::DescribeGroups(DescribeGroupsResponse::default().with_groups(described))
    }))
}
