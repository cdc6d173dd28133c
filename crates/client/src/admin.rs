//! Topic administration: create, delete, list, describe, and the raw
//! Metadata and ApiVersions answers. Every call goes to the bootstrap
//! address (the broker routes it), one request at a time; a failed
//! connection is reopened by the next call. Nothing is retried: the caller
//! decides whether a create that may or may not have happened is repeated.

use super::cluster::Cluster;
use super::config::ConnectionConfig;
use super::error::{ClientError, ClientResult};
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::metadata::{ApiVersionsResponse, MetadataRequest, MetadataResponse};
use shardlog_protocol::stats::StatsResponse;
use shardlog_protocol::topics::{
    CreateTopicRequest, DescribeTopicResponse, ListTopicsResponse, TopicNameRequest, TopicSettings,
};
use shardlog_protocol::ApiKey;

/// A topic as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicListing {
    pub name: String,
    pub partitions: u32,
}

/// Administers topics over one connection to the bootstrap address.
pub struct Admin {
    pub(super) cluster: Cluster,
}

impl Admin {
    /// Connects to `bootstrap` (`HOST:PORT`) at once, so that an
    /// unreachable broker is reported here.
    pub fn connect(bootstrap: &str, config: ConnectionConfig) -> ClientResult<Admin> {
        config.validate().map_err(ClientError::Invalid)?;
        let mut cluster = Cluster::new(bootstrap, config);
        cluster.connect_control()?;
        Ok(Admin { cluster })
    }

    /// The APIs and versions the broker speaks, its version, and its
    /// limits. Asks with ApiVersions version 1; a broker from before
    /// version 1 answers `UnsupportedVersion`, and is then asked with
    /// version 0, whose answer has no limits (`limits` is `None`).
    pub fn api_versions(&mut self) -> ClientResult<ApiVersionsResponse> {
        let newest = self.cluster.bootstrap_call(
            ApiKey::ApiVersions,
            |_| {},
            ApiVersionsResponse::decode_v1,
        );
        match newest {
            Err(err) if err.code() == Some(ErrorCode::UnsupportedVersion) => self
                .cluster
                .bootstrap_call_at(ApiKey::ApiVersions, 0, |_| {}, ApiVersionsResponse::decode),
            answer => answer,
        }
    }

    /// Creates a topic; `TopicAlreadyExists` if it does.
    pub fn create_topic(&mut self, name: &str, settings: TopicSettings) -> ClientResult<()> {
        let request = CreateTopicRequest {
            name: name.to_string(),
            settings,
        };
        self.cluster
            .bootstrap_call(ApiKey::CreateTopic, |buf| request.encode(buf), |_| Ok(()))
    }

    /// Deletes a topic and its records; `UnknownTopic` if there is none.
    pub fn delete_topic(&mut self, name: &str) -> ClientResult<()> {
        let request = TopicNameRequest {
            name: name.to_string(),
        };
        self.cluster
            .bootstrap_call(ApiKey::DeleteTopic, |buf| request.encode(buf), |_| Ok(()))
    }

    /// Every topic with its partition count, as the broker orders them.
    pub fn list_topics(&mut self) -> ClientResult<Vec<TopicListing>> {
        let response =
            self.cluster
                .bootstrap_call(ApiKey::ListTopics, |_| {}, ListTopicsResponse::decode)?;
        Ok(response
            .topics
            .into_iter()
            .map(|(name, partitions)| TopicListing { name, partitions })
            .collect())
    }

    /// A topic's settings and, per partition, its owner core, offsets and
    /// size (each partition carries its own error code).
    pub fn describe_topic(&mut self, name: &str) -> ClientResult<DescribeTopicResponse> {
        let request = TopicNameRequest {
            name: name.to_string(),
        };
        self.cluster.bootstrap_call(
            ApiKey::DescribeTopic,
            |buf| request.encode(buf),
            DescribeTopicResponse::decode,
        )
    }

    /// Every core's counters since the broker started, and its produce
    /// latency over the last whole second.
    pub fn stats(&mut self) -> ClientResult<StatsResponse> {
        self.cluster
            .bootstrap_call(ApiKey::Stats, |_| {}, StatsResponse::decode)
    }

    /// Cores and partition owners for `topics` (all topics when empty).
    pub fn metadata(&mut self, topics: &[String]) -> ClientResult<MetadataResponse> {
        let request = MetadataRequest {
            topics: topics.to_vec(),
        };
        self.cluster.bootstrap_call(
            ApiKey::Metadata,
            |buf| request.encode(buf),
            MetadataResponse::decode,
        )
    }
}
