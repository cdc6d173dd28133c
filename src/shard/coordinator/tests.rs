//! The coordinator service alone: no broker, no other core, no file.
//! Joins are futures that wait for their rebalance; `block_on` and `zip`
//! run them, since nothing here needs the executor. Committed offsets are
//! put in as the log's replay does (`apply_commit`).

use std::time::{Duration, Instant};

use futures_lite::future::{block_on, zip};

use super::*;
use crate::group_logic::commit_log::{CommitKey, CommitValue};
use crate::protocol::groups::{
    CommitPartition, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    OffsetCommitRequest, OffsetFetchRequest, NO_COMMITTED_OFFSET, NO_GENERATION,
};
use crate::protocol::ApiKey;
use crate::topics::{TopicConfig, TopicId};

const SESSION_MS: u32 = 10_000;

/// A map with topic `t` of `partitions` partitions, incarnation `id`.
fn topics(partitions: u32, id: TopicId) -> TopicMap {
    let mut map = TopicMap::new();
    map.insert(
        "t".to_string(),
        TopicConfig {
            id,
            partitions,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: None,
        },
    );
    map
}

fn join_request(group: &str, member_id: &str) -> GroupRequest {
    GroupRequest::Join(JoinGroupRequest {
        group: group.into(),
        member_id: member_id.into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: 5_000,
        strategy: "range".into(),
        topics: vec!["t".into()],
    })
}

fn joined(answer: GroupAnswer) -> JoinGroupResponse {
    match answer {
        Ok(GroupResponse::Join(r)) => r,
        other => panic!("not a join answer: {other:?}"),
    }
}

fn code(answer: GroupAnswer) -> ErrorCode {
    answer.expect_err("an error answer").code
}

fn heartbeat(group: &str, member_id: &str, generation: u32) -> GroupRequest {
    GroupRequest::Heartbeat(HeartbeatRequest {
        group: group.into(),
        member_id: member_id.into(),
        generation,
    })
}

fn commit(group: &str, member_id: &str, generation: i32, offset: u64) -> GroupRequest {
    GroupRequest::OffsetCommit(OffsetCommitRequest {
        group: group.into(),
        member_id: member_id.into(),
        generation,
        topics: vec![(
            "t".into(),
            vec![CommitPartition {
                partition: 0,
                offset,
                metadata: String::new(),
            }],
        )],
    })
}

fn describe(coordinator: &GroupCoordinator, group: &str) -> DescribeGroupResponse {
    coordinator.describe_group(group)
}

/// A committed offset of `group` for partition 0 of `t`'s incarnation
/// `id`, as replaying the log would put it in.
fn committed(coordinator: &GroupCoordinator, group: &str, id: TopicId, offset: u64) {
    let key = CommitKey {
        group: group.into(),
        topic: "t".into(),
        topic_id: id,
        partition: 0,
    };
    let value = CommitValue {
        offset,
        metadata: String::new(),
    };
    coordinator.apply_commit(key, Some(value), offset);
}

#[test]
fn a_lone_member_joins_generation_one_and_gets_every_partition() {
    let coordinator = GroupCoordinator::new(3);
    let map = topics(4, 1);
    let first = joined(block_on(coordinator.handle(join_request("g", ""), &map)));
    assert_eq!(first.generation, 1);
    assert_eq!(first.assignment, [("t".to_string(), vec![0, 1, 2, 3])]);
    let listed = coordinator.list_local_groups();
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].core, 3, "the coordinator's own core");
    assert_eq!(listed.groups[0].members, 1);
    assert!(block_on(coordinator.handle(heartbeat("g", &first.member_id, 1), &map)).is_ok());
    assert_eq!(
        code(block_on(
            coordinator.handle(heartbeat("g", &first.member_id, 2), &map)
        )),
        ErrorCode::IllegalGeneration
    );
}

#[test]
fn a_second_member_rebalances_the_group_into_the_next_generation() {
    let coordinator = GroupCoordinator::new(0);
    let map = topics(4, 1);
    let a = joined(block_on(coordinator.handle(join_request("g", ""), &map)));
    // B's join waits until A has joined again; A learns of the rebalance
    // from its heartbeat.
    let (b, a_again) = block_on(zip(
        coordinator.handle(join_request("g", ""), &map),
        async {
            let beat = coordinator.handle(heartbeat("g", &a.member_id, 1), &map);
            assert_eq!(code(beat.await), ErrorCode::RebalanceInProgress);
            coordinator
                .handle(join_request("g", &a.member_id), &map)
                .await
        },
    ));
    let (b, a_again) = (joined(b), joined(a_again));
    assert_eq!((a_again.generation, b.generation), (2, 2));
    assert_eq!(a_again.member_id, a.member_id);
    let mut all: Vec<u32> = [&a_again, &b]
        .iter()
        .flat_map(|r| r.assignment.iter().flat_map(|(_, ps)| ps.clone()))
        .collect();
    all.sort();
    assert_eq!(all, [0, 1, 2, 3], "every partition to exactly one member");
    assert_eq!(describe(&coordinator, "g").members.len(), 2);
}

#[test]
fn commits_are_refused_from_another_generation_and_outside_a_group_with_members() {
    let coordinator = GroupCoordinator::new(0);
    let map = topics(1, 1);
    let a = joined(block_on(coordinator.handle(join_request("g", ""), &map)));
    let refused = |request| code(block_on(coordinator.handle(request, &map)));
    assert_eq!(
        refused(commit("g", &a.member_id, 2, 5)),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        refused(commit("g", "", NO_GENERATION, 5)),
        ErrorCode::GroupNotEmpty
    );
    assert_eq!(
        refused(commit("g", "stranger", 1, 5)),
        ErrorCode::UnknownMemberId
    );
    // A refused commit is written nowhere (this coordinator has no log:
    // an accepted one would be refused as Internal instead).
    assert_eq!(
        refused(commit("g", &a.member_id, 1, 5)),
        ErrorCode::Internal,
        "accepted, then found no offsets partition open here"
    );
}

#[test]
fn a_commit_to_an_unknown_topic_is_answered_per_partition_without_the_log() {
    let coordinator = GroupCoordinator::new(0);
    let answer = block_on(coordinator.handle(commit("g", "", NO_GENERATION, 5), &TopicMap::new()));
    let Ok(GroupResponse::OffsetCommit(response)) = answer else {
        panic!("{answer:?}");
    };
    assert_eq!(
        response.topics,
        [("t".to_string(), vec![(0, ErrorCode::UnknownTopic as u16)])]
    );
}

#[test]
fn a_group_with_committed_offsets_keeps_its_generation_when_its_members_leave() {
    let coordinator = GroupCoordinator::new(0);
    let map = topics(1, 1);
    committed(&coordinator, "kept", 1, 7);
    let a = joined(block_on(coordinator.handle(join_request("kept", ""), &map)));
    assert_eq!(a.generation, 1);
    let leave = GroupRequest::Leave(LeaveGroupRequest {
        group: "kept".into(),
        member_id: a.member_id.clone(),
    });
    assert_eq!(
        block_on(coordinator.handle(leave, &map)),
        Ok(GroupResponse::Empty(ApiKey::LeaveGroup))
    );
    let described = describe(&coordinator, "kept");
    assert_eq!(
        (described.state.as_str(), described.generation),
        ("Empty", 1)
    );
    let again = joined(block_on(coordinator.handle(join_request("kept", ""), &map)));
    assert_eq!(again.generation, 2, "continues from the last generation");

    // Without committed offsets, a group is gone with its last member.
    let b = joined(block_on(coordinator.handle(join_request("gone", ""), &map)));
    let leave = GroupRequest::Leave(LeaveGroupRequest {
        group: "gone".into(),
        member_id: b.member_id,
    });
    block_on(coordinator.handle(leave, &map)).unwrap();
    let described = describe(&coordinator, "gone");
    assert_eq!(
        (described.state.as_str(), described.generation),
        ("Dead", 0)
    );
    let fresh = joined(block_on(coordinator.handle(join_request("gone", ""), &map)));
    assert_eq!(fresh.generation, 1);
}

#[test]
fn the_timer_removes_a_member_whose_session_expired() {
    let coordinator = GroupCoordinator::new(0);
    let map = topics(1, 1);
    joined(block_on(coordinator.handle(join_request("g", ""), &map)));
    coordinator.tick_at(Instant::now(), &map);
    assert_eq!(describe(&coordinator, "g").members.len(), 1, "alive");
    let later = Instant::now() + Duration::from_millis(u64::from(SESSION_MS) + 1);
    coordinator.tick_at(later, &map);
    assert_eq!(describe(&coordinator, "g").state, "Dead");
    assert!(coordinator.list_local_groups().groups.is_empty());
}

#[test]
fn offset_fetch_sees_only_the_current_incarnation_of_a_topic() {
    let coordinator = GroupCoordinator::new(0);
    committed(&coordinator, "g", 1, 42);
    let fetch = || {
        GroupRequest::OffsetFetch(OffsetFetchRequest {
            group: "g".into(),
            topics: vec![("t".into(), vec![0])],
        })
    };
    let offset = |map: &TopicMap| match block_on(coordinator.handle(fetch(), map)) {
        Ok(GroupResponse::OffsetFetch(r)) => r.topics[0].1[0].offset,
        other => panic!("{other:?}"),
    };
    assert_eq!(offset(&topics(1, 1)), 42);
    assert_eq!(
        offset(&topics(1, 2)),
        NO_COMMITTED_OFFSET,
        "created again: starts afresh"
    );
    assert_eq!(
        coordinator.committed_offset_rows(&topics(1, 2)),
        Vec::<GroupOffsetRow>::new(),
        "no lag row for the old incarnation"
    );
    assert_eq!(coordinator.committed_offset_rows(&topics(1, 1)).len(), 1);
}

#[test]
fn stopping_answers_the_waiting_joins_and_refuses_new_ones() {
    let coordinator = GroupCoordinator::new(0);
    let map = topics(2, 1);
    joined(block_on(coordinator.handle(join_request("g", ""), &map)));
    let (waiting, ()) = block_on(zip(
        coordinator.handle(join_request("g", ""), &map),
        async { coordinator.stop_joins() },
    ));
    assert_eq!(code(waiting), ErrorCode::ShuttingDown);
    assert_eq!(
        code(block_on(coordinator.handle(join_request("h", ""), &map))),
        ErrorCode::ShuttingDown
    );
}
