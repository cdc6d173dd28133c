//! The Kafka APIs this broker serves and the versions of each: from the
//! oldest that Kafka 4.x, librdkafka 2.x and kafka-python send up to the
//! newest that still name topics (Produce 13 and Fetch 13 switch to topic
//! ids; DeleteTopics 6 too). ApiVersions lists exactly this table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::ResponseError;

/// (API, oldest version, newest version) served.
pub const SUPPORTED: [(ApiKey, i16, i16); 19] = [
    (ApiKey::Produce, 3, 12),
    // Idempotent producers (src/kafka/producer_id.rs); 6 adds two-phase
    // commit, a transactions feature.
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 6),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::DescribeCluster, 0, 1),
    // Classic consumer groups (src/kafka/groups.rs). OffsetCommit and
    // OffsetFetch stop before topic ids (10).
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
];

/// Whether `version` of `api` is served.
pub fn is_supported(api: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|(key, min, max)| *key == api && (*min..=*max).contains(&version))
}

/// The ApiVersions response: the table, and `error` (UNSUPPORTED_VERSION
/// when answering a version this broker does not know, in v0 encoding).
pub fn api_versions(error: Option<ResponseError>) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_api_keys(api_keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every version listed is one the codec crate can decode and encode.
    #[test]
    fn every_listed_version_is_within_the_codecs() {
        for (key, min, max) in SUPPORTED {
            let valid = key.valid_versions();
            assert!(
                valid.min <= min && max <= valid.max,
                "{key:?} {min}..={max}"
            );
        }
    }

    #[test]
    fn the_minimums_current_clients_send_are_served() {
        // Kafka 4.x removed older versions; these are what its clients,
        // librdkafka 2.x and kafka-python send at the least.
        for (key, version) in [
            (ApiKey::Produce, 3),
            (ApiKey::Fetch, 4),
            (ApiKey::ListOffsets, 1),
            (ApiKey::Metadata, 0),
            (ApiKey::Metadata, 4),
            (ApiKey::ApiVersions, 3),
            (ApiKey::OffsetCommit, 2),
            (ApiKey::OffsetFetch, 1),
            (ApiKey::FindCoordinator, 0),
            (ApiKey::JoinGroup, 0),
            (ApiKey::SyncGroup, 0),
            (ApiKey::Heartbeat, 0),
            (ApiKey::LeaveGroup, 0),
            (ApiKey::InitProducerId, 0),
            (ApiKey::InitProducerId, 2),
        ] {
            assert!(is_supported(key, version), "{key:?} v{version}");
        }
        assert!(
            !is_supported(ApiKey::Produce, 13),
            "topic ids are not served"
        );
    }
}
