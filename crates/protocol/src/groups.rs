//! Consumer groups on the wire (docs/PROTOCOL.md, keys 10 to 17):
//! finding a group's coordinator core, membership (join, heartbeat,
//! leave), committed offsets (commit, fetch), and listing and describing
//! groups. One struct per request and response, each with its `encode`
//! and `decode`, shared by the broker and the client.
//!
//! Whole-request refusals (a stale generation, an unknown member, a
//! rebalance in progress) are error responses with their code; per
//! partition outcomes are in the body.

use bytes::{BufMut, BytesMut};

use super::api_key::ApiKey;
use super::metadata::CoreAddress;
use super::wire::{
    put_topic_array, read_topic_array, DecodeError, WireReader, WireWrite, ARRAY_MIN, STRING_MIN,
};

/// The generation of a commit made outside any membership (a simple
/// consumer, `group reset`): allowed only while the group has no members.
pub const NO_GENERATION: i32 = -1;

/// OffsetFetch answers this offset for a partition the group never
/// committed.
pub const NO_COMMITTED_OFFSET: u64 = u64::MAX;

/// Partitions of one topic, as assigned to a member.
pub type TopicPartitions = Vec<(String, Vec<u32>)>;

fn put_strings(buf: &mut BytesMut, strings: &[String]) {
    buf.put_array_len(strings.len());
    for s in strings {
        buf.put_string(s);
    }
}

fn read_strings(r: &mut WireReader, field: &'static str) -> Result<Vec<String>, DecodeError> {
    let count = r.array_len(field, STRING_MIN)?;
    (0..count).map(|_| r.string(field)).collect()
}

fn put_assignment(buf: &mut BytesMut, assignment: &TopicPartitions) {
    put_topic_array(buf, assignment, |buf, &p| buf.put_u32_le(p));
}

/// Bytes of one partition number in an assignment or an OffsetFetch
/// request.
pub const PARTITION_BYTES: usize = 4;

fn read_assignment(r: &mut WireReader) -> Result<TopicPartitions, DecodeError> {
    read_topic_array(r, PARTITION_BYTES, |r| r.u32("partition"))
}

/// FindCoordinator request: `string group`. Response: `u16 core | string
/// host | u16 port`, the core that coordinates the group and its own port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupNameRequest {
    pub group: String,
}

impl GroupNameRequest {
    /// An empty group name.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(GroupNameRequest {
            group: r.string("group")?,
        })
    }
}

pub fn encode_coordinator(coordinator: &CoreAddress, buf: &mut BytesMut) {
    buf.put_u16_le(coordinator.core);
    buf.put_string(&coordinator.host);
    buf.put_u16_le(coordinator.port);
}

pub fn decode_coordinator(r: &mut WireReader) -> Result<CoreAddress, DecodeError> {
    Ok(CoreAddress {
        core: r.u16("core")?,
        host: r.string("host")?,
        port: r.u16("port")?,
    })
}

/// JoinGroup request: `string group | string member_id (empty for a new
/// member) | u32 session_timeout_ms | u32 rebalance_timeout_ms | string
/// strategy | array { string topic }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGroupRequest {
    pub group: String,
    pub member_id: String,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    pub strategy: String,
    pub topics: Vec<String>,
}

impl JoinGroupRequest {
    /// Empty group, member id and strategy, the two timeouts, no topics.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + STRING_MIN + 4 + 4 + STRING_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        buf.put_string(&self.member_id);
        buf.put_u32_le(self.session_timeout_ms);
        buf.put_u32_le(self.rebalance_timeout_ms);
        buf.put_string(&self.strategy);
        put_strings(buf, &self.topics);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(JoinGroupRequest {
            group: r.string("group")?,
            member_id: r.string("member_id")?,
            session_timeout_ms: r.u32("session_timeout_ms")?,
            rebalance_timeout_ms: r.u32("rebalance_timeout_ms")?,
            strategy: r.string("strategy")?,
            topics: read_strings(r, "topics")?,
        })
    }
}

/// JoinGroup response: `u32 generation | string member_id | string
/// strategy | array { string topic | array { u32 partition } }`, the
/// partitions assigned to this member in this generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinGroupResponse {
    pub generation: u32,
    pub member_id: String,
    pub strategy: String,
    pub assignment: TopicPartitions,
}

impl JoinGroupResponse {
    /// The generation, empty member id and strategy, no assignment.
    pub const WIRE_BYTES_MIN: usize = 4 + STRING_MIN + STRING_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32_le(self.generation);
        buf.put_string(&self.member_id);
        buf.put_string(&self.strategy);
        put_assignment(buf, &self.assignment);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(JoinGroupResponse {
            generation: r.u32("generation")?,
            member_id: r.string("member_id")?,
            strategy: r.string("strategy")?,
            assignment: read_assignment(r)?,
        })
    }
}

/// Heartbeat request: `string group | string member_id | u32 generation`.
/// Response: empty; `RebalanceInProgress` tells the member to join again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatRequest {
    pub group: String,
    pub member_id: String,
    pub generation: u32,
}

impl HeartbeatRequest {
    /// Empty group and member id, the generation.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + STRING_MIN + 4;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        buf.put_string(&self.member_id);
        buf.put_u32_le(self.generation);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(HeartbeatRequest {
            group: r.string("group")?,
            member_id: r.string("member_id")?,
            generation: r.u32("generation")?,
        })
    }
}

/// LeaveGroup request: `string group | string member_id`. Response: empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveGroupRequest {
    pub group: String,
    pub member_id: String,
}

impl LeaveGroupRequest {
    /// Empty group and member id.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + STRING_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        buf.put_string(&self.member_id);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(LeaveGroupRequest {
            group: r.string("group")?,
            member_id: r.string("member_id")?,
        })
    }
}

/// One partition's offset to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPartition {
    pub partition: u32,
    /// The offset of the next record to consume.
    pub offset: u64,
    pub metadata: String,
}

impl CommitPartition {
    /// `u32 partition | u64 offset | string metadata`, empty metadata.
    pub const WIRE_BYTES_MIN: usize = 4 + 8 + STRING_MIN;
}

/// OffsetCommit request: `string group | string member_id | i32 generation
/// (-1: no membership) | array { string topic | array { u32 partition | u64
/// offset | string metadata } }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    pub group: String,
    pub member_id: String,
    pub generation: i32,
    pub topics: Vec<(String, Vec<CommitPartition>)>,
}

impl OffsetCommitRequest {
    /// Empty group and member id, the generation, no topics.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + STRING_MIN + 4 + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        buf.put_string(&self.member_id);
        buf.put_i32_le(self.generation);
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u64_le(p.offset);
            buf.put_string(&p.metadata);
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(OffsetCommitRequest {
            group: r.string("group")?,
            member_id: r.string("member_id")?,
            generation: r.u32("generation")? as i32,
            topics: read_topic_array(r, CommitPartition::WIRE_BYTES_MIN, |r| {
                Ok(CommitPartition {
                    partition: r.u32("partition")?,
                    offset: r.u64("offset")?,
                    metadata: r.string("metadata")?,
                })
            })?,
        })
    }
}

/// OffsetCommit response: `array { string topic | array { u32 partition |
/// u16 error_code } }`, in the request's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetCommitResponse {
    pub topics: Vec<(String, Vec<(u32, u16)>)>,
}

/// Bytes of one partition entry of an OffsetCommit response: `u32
/// partition | u16 error_code`.
pub const COMMIT_RESULT_BYTES: usize = 4 + 2;

impl OffsetCommitResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, &(partition, code)| {
            buf.put_u32_le(partition);
            buf.put_u16_le(code);
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(OffsetCommitResponse {
            topics: read_topic_array(r, COMMIT_RESULT_BYTES, |r| {
                Ok((r.u32("partition")?, r.u16("error_code")?))
            })?,
        })
    }
}

/// OffsetFetch request: `string group | array { string topic | array { u32
/// partition } }`; an empty array asks for every partition the group has
/// committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    pub group: String,
    pub topics: TopicPartitions,
}

impl OffsetFetchRequest {
    /// An empty group name, no topics.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        put_assignment(buf, &self.topics);
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(OffsetFetchRequest {
            group: r.string("group")?,
            topics: read_assignment(r)?,
        })
    }
}

/// One partition's committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedOffset {
    pub partition: u32,
    pub error_code: u16,
    /// [`NO_COMMITTED_OFFSET`] when the group committed none.
    pub offset: u64,
    pub metadata: String,
}

impl FetchedOffset {
    /// `u32 partition | u16 error_code | u64 offset | string metadata`,
    /// empty metadata.
    pub const WIRE_BYTES_MIN: usize = 4 + 2 + 8 + STRING_MIN;
}

/// OffsetFetch response: `array { string topic | array { u32 partition |
/// u16 error_code | u64 offset | string metadata } }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetFetchResponse {
    pub topics: Vec<(String, Vec<FetchedOffset>)>,
}

impl OffsetFetchResponse {
    /// No topics.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        put_topic_array(buf, &self.topics, |buf, p| {
            buf.put_u32_le(p.partition);
            buf.put_u16_le(p.error_code);
            buf.put_u64_le(p.offset);
            buf.put_string(&p.metadata);
        });
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        Ok(OffsetFetchResponse {
            topics: read_topic_array(r, FetchedOffset::WIRE_BYTES_MIN, |r| {
                Ok(FetchedOffset {
                    partition: r.u32("partition")?,
                    error_code: r.u16("error_code")?,
                    offset: r.u64("offset")?,
                    metadata: r.string("metadata")?,
                })
            })?,
        })
    }
}

/// One group in a ListGroups response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupListing {
    pub group: String,
    /// The core that coordinates it.
    pub core: u16,
    /// `Empty`, `Rebalancing` or `Stable`.
    pub state: String,
    pub members: u32,
}

impl GroupListing {
    /// `string group | u16 core | string state | u32 members`, empty
    /// strings.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + 2 + STRING_MIN + 4;
}

/// ListGroups request: empty. Response: `array { string group | u16 core |
/// string state | u32 members }`, every group with members or committed
/// offsets, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListGroupsResponse {
    pub groups: Vec<GroupListing>,
}

impl ListGroupsResponse {
    /// No groups.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.groups.len());
        for g in &self.groups {
            buf.put_string(&g.group);
            buf.put_u16_le(g.core);
            buf.put_string(&g.state);
            buf.put_u32_le(g.members);
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("groups", GroupListing::WIRE_BYTES_MIN)?;
        let mut groups = Vec::with_capacity(count);
        for _ in 0..count {
            groups.push(GroupListing {
                group: r.string("group")?,
                core: r.u16("core")?,
                state: r.string("state")?,
                members: r.u32("members")?,
            });
        }
        Ok(ListGroupsResponse { groups })
    }
}

/// One member in a DescribeGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub session_timeout_ms: u32,
    pub topics: Vec<String>,
    pub assignment: TopicPartitions,
}

impl MemberDescription {
    /// `string member_id | u32 session_timeout_ms | array topics | array
    /// assignment`, all empty.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + 4 + ARRAY_MIN + ARRAY_MIN;
}

/// DescribeGroup request: `string group`. Response: `string group | string
/// state | u32 generation | string strategy | array { string member_id |
/// u32 session_timeout_ms | array { string topic } | array { string topic
/// | array { u32 partition } } }`. A group the coordinator does not know
/// is `Dead` with no members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeGroupResponse {
    pub group: String,
    pub state: String,
    pub generation: u32,
    pub strategy: String,
    pub members: Vec<MemberDescription>,
}

impl DescribeGroupResponse {
    /// Empty group, state and strategy, the generation, no members.
    pub const WIRE_BYTES_MIN: usize = STRING_MIN + STRING_MIN + 4 + STRING_MIN + ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.group);
        buf.put_string(&self.state);
        buf.put_u32_le(self.generation);
        buf.put_string(&self.strategy);
        buf.put_array_len(self.members.len());
        for m in &self.members {
            buf.put_string(&m.member_id);
            buf.put_u32_le(m.session_timeout_ms);
            put_strings(buf, &m.topics);
            put_assignment(buf, &m.assignment);
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let group = r.string("group")?;
        let state = r.string("state")?;
        let generation = r.u32("generation")?;
        let strategy = r.string("strategy")?;
        let count = r.array_len("members", MemberDescription::WIRE_BYTES_MIN)?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(MemberDescription {
                member_id: r.string("member_id")?,
                session_timeout_ms: r.u32("session_timeout_ms")?,
                topics: read_strings(r, "topics")?,
                assignment: read_assignment(r)?,
            });
        }
        Ok(DescribeGroupResponse {
            group,
            state,
            generation,
            strategy,
            members,
        })
    }
}

/// A decoded group request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRequest {
    FindCoordinator(GroupNameRequest),
    Join(JoinGroupRequest),
    Heartbeat(HeartbeatRequest),
    Leave(LeaveGroupRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    ListGroups,
    DescribeGroup(GroupNameRequest),
}

impl GroupRequest {
    pub fn api(&self) -> ApiKey {
        match self {
            GroupRequest::FindCoordinator(_) => ApiKey::FindCoordinator,
            GroupRequest::Join(_) => ApiKey::JoinGroup,
            GroupRequest::Heartbeat(_) => ApiKey::Heartbeat,
            GroupRequest::Leave(_) => ApiKey::LeaveGroup,
            GroupRequest::OffsetCommit(_) => ApiKey::OffsetCommit,
            GroupRequest::OffsetFetch(_) => ApiKey::OffsetFetch,
            GroupRequest::ListGroups => ApiKey::ListGroups,
            GroupRequest::DescribeGroup(_) => ApiKey::DescribeGroup,
        }
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            GroupRequest::FindCoordinator(r) | GroupRequest::DescribeGroup(r) => r.encode(buf),
            GroupRequest::Join(r) => r.encode(buf),
            GroupRequest::Heartbeat(r) => r.encode(buf),
            GroupRequest::Leave(r) => r.encode(buf),
            GroupRequest::OffsetCommit(r) => r.encode(buf),
            GroupRequest::OffsetFetch(r) => r.encode(buf),
            GroupRequest::ListGroups => {}
        }
    }

    /// The group the request is about (ListGroups is about all of them).
    pub fn group(&self) -> Option<&str> {
        match self {
            GroupRequest::FindCoordinator(r) | GroupRequest::DescribeGroup(r) => Some(&r.group),
            GroupRequest::Join(r) => Some(&r.group),
            GroupRequest::Heartbeat(r) => Some(&r.group),
            GroupRequest::Leave(r) => Some(&r.group),
            GroupRequest::OffsetCommit(r) => Some(&r.group),
            GroupRequest::OffsetFetch(r) => Some(&r.group),
            GroupRequest::ListGroups => None,
        }
    }

    /// Partition entries the request names.
    pub fn partition_count(&self) -> usize {
        match self {
            GroupRequest::OffsetCommit(r) => r.topics.iter().map(|(_, ps)| ps.len()).sum(),
            GroupRequest::OffsetFetch(r) => r.topics.iter().map(|(_, ps)| ps.len()).sum(),
            GroupRequest::Join(r) => r.topics.len(),
            _ => 0,
        }
    }
}

/// A decoded group response body (Heartbeat and LeaveGroup answer with an
/// empty one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupResponse {
    Coordinator(CoreAddress),
    Join(JoinGroupResponse),
    Empty(ApiKey),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    ListGroups(ListGroupsResponse),
    DescribeGroup(DescribeGroupResponse),
}

impl GroupResponse {
    pub fn api(&self) -> ApiKey {
        match self {
            GroupResponse::Coordinator(_) => ApiKey::FindCoordinator,
            GroupResponse::Join(_) => ApiKey::JoinGroup,
            GroupResponse::Empty(api) => *api,
            GroupResponse::OffsetCommit(_) => ApiKey::OffsetCommit,
            GroupResponse::OffsetFetch(_) => ApiKey::OffsetFetch,
            GroupResponse::ListGroups(_) => ApiKey::ListGroups,
            GroupResponse::DescribeGroup(_) => ApiKey::DescribeGroup,
        }
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            GroupResponse::Coordinator(c) => encode_coordinator(c, buf),
            GroupResponse::Join(r) => r.encode(buf),
            GroupResponse::Empty(_) => {}
            GroupResponse::OffsetCommit(r) => r.encode(buf),
            GroupResponse::OffsetFetch(r) => r.encode(buf),
            GroupResponse::ListGroups(r) => r.encode(buf),
            GroupResponse::DescribeGroup(r) => r.encode(buf),
        }
    }

    /// Decodes the body of a group API's response; `None` for other APIs.
    pub fn decode(api: ApiKey, r: &mut WireReader) -> Option<Result<Self, DecodeError>> {
        let response = match api {
            ApiKey::FindCoordinator => decode_coordinator(r).map(Self::Coordinator),
            ApiKey::JoinGroup => JoinGroupResponse::decode(r).map(Self::Join),
            ApiKey::Heartbeat | ApiKey::LeaveGroup => Ok(Self::Empty(api)),
            ApiKey::OffsetCommit => OffsetCommitResponse::decode(r).map(Self::OffsetCommit),
            ApiKey::OffsetFetch => OffsetFetchResponse::decode(r).map(Self::OffsetFetch),
            ApiKey::ListGroups => ListGroupsResponse::decode(r).map(Self::ListGroups),
            ApiKey::DescribeGroup => DescribeGroupResponse::decode(r).map(Self::DescribeGroup),
            // Listed, not a wildcard: a new key must say whether it is a
            // group API.
            ApiKey::ApiVersions
            | ApiKey::Metadata
            | ApiKey::CreateTopic
            | ApiKey::DeleteTopic
            | ApiKey::ListTopics
            | ApiKey::DescribeTopic
            | ApiKey::Produce
            | ApiKey::Fetch
            | ApiKey::ListOffsets
            | ApiKey::Stats
            | ApiKey::InitProducer => return None,
        };
        Some(response)
    }
}

/// A server-side assignment strategy, by the name JoinGroup carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Range,
    RoundRobin,
    Sticky,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Range, Strategy::RoundRobin, Strategy::Sticky];

    /// The name on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
            Strategy::Sticky => "sticky",
        }
    }

    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn round_trip<T: PartialEq + std::fmt::Debug>(
        value: &T,
        encode: impl Fn(&T, &mut BytesMut),
        decode: impl Fn(&mut WireReader) -> Result<T, DecodeError>,
    ) {
        let mut buf = BytesMut::new();
        encode(value, &mut buf);
        let bytes = Bytes::from(buf);
        let mut r = WireReader::new(bytes.clone());
        assert_eq!(&decode(&mut r).unwrap(), value);
        r.finish().unwrap();
        for cut in 0..bytes.len() {
            let mut r = WireReader::new(bytes.slice(..cut));
            assert!(
                decode(&mut r).and_then(|_| r.finish()).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_message_round_trips_and_refuses_truncation() {
        round_trip(
            &JoinGroupRequest {
                group: "g".into(),
                member_id: "m-1".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 30_000,
                strategy: "range".into(),
                topics: vec!["a".into(), "b".into()],
            },
            JoinGroupRequest::encode,
            JoinGroupRequest::decode,
        );
        round_trip(
            &JoinGroupResponse {
                generation: 3,
                member_id: "m-1".into(),
                strategy: "sticky".into(),
                assignment: vec![("a".into(), vec![0, 2]), ("b".into(), vec![])],
            },
            JoinGroupResponse::encode,
            JoinGroupResponse::decode,
        );
        round_trip(
            &OffsetCommitRequest {
                group: "g".into(),
                member_id: String::new(),
                generation: NO_GENERATION,
                topics: vec![(
                    "a".into(),
                    vec![CommitPartition {
                        partition: 1,
                        offset: 42,
                        metadata: "meta".into(),
                    }],
                )],
            },
            OffsetCommitRequest::encode,
            OffsetCommitRequest::decode,
        );
        round_trip(
            &OffsetFetchResponse {
                topics: vec![(
                    "a".into(),
                    vec![FetchedOffset {
                        partition: 0,
                        error_code: 0,
                        offset: NO_COMMITTED_OFFSET,
                        metadata: String::new(),
                    }],
                )],
            },
            OffsetFetchResponse::encode,
            OffsetFetchResponse::decode,
        );
        round_trip(
            &DescribeGroupResponse {
                group: "g".into(),
                state: "Stable".into(),
                generation: 7,
                strategy: "range".into(),
                members: vec![MemberDescription {
                    member_id: "m".into(),
                    session_timeout_ms: 1_000,
                    topics: vec!["a".into()],
                    assignment: vec![("a".into(), vec![0, 1])],
                }],
            },
            DescribeGroupResponse::encode,
            DescribeGroupResponse::decode,
        );
        round_trip(
            &ListGroupsResponse {
                groups: vec![GroupListing {
                    group: "g".into(),
                    core: 1,
                    state: "Empty".into(),
                    members: 0,
                }],
            },
            ListGroupsResponse::encode,
            ListGroupsResponse::decode,
        );
    }
}
