//! The numeric API keys and the versions this build speaks of each
//! (docs/PROTOCOL.md, "APIs"). A leaf: it uses nothing else in the crate,
//! so every message module can name an API without a cycle through the
//! request enum in [`crate::api`].

/// An API's number on the wire (`api_key` in the request header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ApiKey {
    ApiVersions = 0,
    Metadata = 1,
    CreateTopic = 2,
    DeleteTopic = 3,
    ListTopics = 4,
    DescribeTopic = 5,
    Produce = 6,
    Fetch = 7,
    ListOffsets = 8,
    Stats = 9,
    // Consumer groups (protocol/groups.rs).
    FindCoordinator = 10,
    JoinGroup = 11,
    Heartbeat = 12,
    LeaveGroup = 13,
    OffsetCommit = 14,
    OffsetFetch = 15,
    ListGroups = 16,
    DescribeGroup = 17,
    // Idempotent producers (protocol/producer.rs).
    InitProducer = 18,
}

impl ApiKey {
    /// Every key, in key order: what ApiVersions lists.
    pub const ALL: [ApiKey; 19] = [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::CreateTopic,
        ApiKey::DeleteTopic,
        ApiKey::ListTopics,
        ApiKey::DescribeTopic,
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Stats,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ListGroups,
        ApiKey::DescribeGroup,
        ApiKey::InitProducer,
    ];

    /// The key with this number; numbers may have gaps.
    pub fn from_u16(key: u16) -> Option<ApiKey> {
        Some(match key {
            0 => ApiKey::ApiVersions,
            1 => ApiKey::Metadata,
            2 => ApiKey::CreateTopic,
            3 => ApiKey::DeleteTopic,
            4 => ApiKey::ListTopics,
            5 => ApiKey::DescribeTopic,
            6 => ApiKey::Produce,
            7 => ApiKey::Fetch,
            8 => ApiKey::ListOffsets,
            9 => ApiKey::Stats,
            10 => ApiKey::FindCoordinator,
            11 => ApiKey::JoinGroup,
            12 => ApiKey::Heartbeat,
            13 => ApiKey::LeaveGroup,
            14 => ApiKey::OffsetCommit,
            15 => ApiKey::OffsetFetch,
            16 => ApiKey::ListGroups,
            17 => ApiKey::DescribeGroup,
            18 => ApiKey::InitProducer,
            _ => return None,
        })
    }

    /// The versions this build speaks: (min, max). ApiVersions has a
    /// version 1 (the broker's limits); every other API is at version 0.
    /// Every key is listed, so a new key does not compile until its
    /// versions are decided.
    pub fn versions(self) -> (u16, u16) {
        match self {
            ApiKey::ApiVersions => (0, 1),
            ApiKey::Metadata
            | ApiKey::CreateTopic
            | ApiKey::DeleteTopic
            | ApiKey::ListTopics
            | ApiKey::DescribeTopic
            | ApiKey::Produce
            | ApiKey::Fetch
            | ApiKey::ListOffsets
            | ApiKey::Stats
            | ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::ListGroups
            | ApiKey::DescribeGroup
            | ApiKey::InitProducer => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL`, `from_u16` and the enum agree: every number `from_u16` knows
    /// is listed in `ALL` at its own index, and nothing else is.
    #[test]
    fn all_lists_exactly_the_known_numbers_in_order() {
        let known: Vec<ApiKey> = (0..=u16::MAX).filter_map(ApiKey::from_u16).collect();
        assert_eq!(known, ApiKey::ALL);
        for (index, api) in ApiKey::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(api as u16), index, "{api:?}");
            let (min, max) = api.versions();
            assert!(min <= max, "{api:?}");
        }
    }
}
