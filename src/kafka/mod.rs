//! Kafka's wire protocol: the second front door (docs/KAFKA.md).
//!
//! Each core listens on its own Kafka port and appears to Kafka clients
//! as broker `core` (node id = core), the leader of exactly the
//! partitions it owns, so a client sends each partition's requests
//! straight to its owner. Requests are translated at the edge into the
//! same shard routes the native protocol uses; records are converted
//! between Kafka's RecordBatch v2 and the native batch format, so a
//! record produced through either protocol reads the same through both.
//!
//! - [`door`]: framing, request headers, the API table, response encoding.
//! - [`versions`]: the APIs and versions served; ApiVersions.
//! - [`errors`]: native error codes as Kafka's.
//! - [`records`]: RecordBatch v2 to native batches and back.
//! - [`metadata`]: Metadata and DescribeCluster (cores as brokers).
//! - [`produce`], [`fetch`], [`offsets`]: the data path.
//! - [`producer_id`]: InitProducerId, for idempotent producers.
//! - [`groups`]: the classic consumer-group APIs, on the group coordinator.
//! - [`topics`]: CreateTopics, DeleteTopics, DescribeConfigs, auto-creation.

pub mod door;
pub mod errors;
pub mod fetch;
pub mod groups;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod records;
pub mod topics;
pub mod versions;

pub use door::KafkaDoor;

/// The cluster id every Metadata and DescribeCluster response carries: a
/// single-node broker is its own cluster.
pub const CLUSTER_ID: &str = "shardlog-single-node";
