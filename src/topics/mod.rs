//! Topics: names, settings, ids, and the topic map every core holds a
//! copy of. The map is persisted atomically in `<data dir>/topics.meta` by
//! core 0, the metadata owner (docs/ARCHITECTURE.md).
//!
//! Every incarnation of a topic has its own id: a topic deleted and
//! created again under the same name gets a new one, and what is keyed by
//! the id (committed offsets) never carries over to the new incarnation.

pub mod store;

use std::collections::BTreeMap;

use crate::config::{LogConfig, PARTITIONS_MAX};
use crate::error::{ErrorCode, WireError};
use crate::protocol::topics::TopicSettings;

pub use crate::protocol::names::validate_topic_name;

/// The id of one incarnation of a topic, given by core 0 at creation from
/// a counter saved with the map: never given twice in a data directory.
pub type TopicId = u64;

/// Not a topic's id: what a committed-offsets record written before topic
/// ids existed holds (`group_logic::commit_log`). Ids start above it.
pub const NO_TOPIC_ID: TopicId = 0;

/// The id counter, saved with the map (`store`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicIds {
    /// The id the next created topic gets. Kept current on core 0 only,
    /// which alone creates topics.
    pub next: TopicId,
    /// Topics with an id below this one were created before topic ids
    /// existed and got theirs when their map was first loaded: committed
    /// offsets recorded without an id belong to them.
    pub legacy_below: TopicId,
}

impl Default for TopicIds {
    fn default() -> Self {
        TopicIds {
            next: NO_TOPIC_ID + 1,
            legacy_below: NO_TOPIC_ID + 1,
        }
    }
}

impl TopicIds {
    /// The id that a committed offset recorded without an id (for
    /// `topic`) belongs to: the topic's, if the topic in `map` is the one
    /// that existed before ids; `None` if that incarnation is gone.
    pub fn legacy_id(&self, map: &TopicMap, topic: &str) -> Option<TopicId> {
        map.get(topic)
            .map(|t| t.id)
            .filter(|id| *id != NO_TOPIC_ID && *id < self.legacy_below)
    }
}

/// One topic's settings, and the id of its incarnation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// [`NO_TOPIC_ID`] until core 0 gives it one at creation.
    pub id: TopicId,
    pub partitions: u32,
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    /// `None`: the broker's `segment_bytes_max`, whatever it is when the
    /// partition is opened.
    pub segment_bytes: Option<u64>,
}

impl TopicConfig {
    /// Settings from a CreateTopic request, defaults filled from the
    /// broker's log config, checked against the limits.
    pub fn from_request(settings: &TopicSettings, defaults: &LogConfig) -> Result<Self, WireError> {
        if settings.partitions == 0 || settings.partitions > PARTITIONS_MAX {
            return Err(WireError::new(
                ErrorCode::InvalidTopicConfig,
                format!(
                    "partitions must be 1 to {PARTITIONS_MAX}, not {}",
                    settings.partitions
                ),
            ));
        }
        if let Some(segment_bytes) = settings.segment_bytes {
            // Lowering the topic's batch limit to fit would refuse batches
            // that every other topic accepts: refuse the setting instead.
            if segment_bytes < u64::from(defaults.batch_bytes_max) {
                return Err(WireError::new(
                    ErrorCode::InvalidTopicConfig,
                    format!(
                        "segment_bytes {segment_bytes} is below the batch limit {} (batch_bytes_max)",
                        defaults.batch_bytes_max
                    ),
                ));
            }
        }
        let config = TopicConfig {
            id: NO_TOPIC_ID,
            partitions: settings.partitions,
            retention_ms: settings.retention_ms,
            retention_bytes: settings.retention_bytes,
            segment_bytes: settings.segment_bytes,
        };
        config
            .log_config(defaults)
            .validate()
            .map_err(|e| WireError::new(ErrorCode::InvalidTopicConfig, e))?;
        Ok(config)
    }

    /// The log config of this topic's partitions.
    pub fn log_config(&self, defaults: &LogConfig) -> LogConfig {
        let segment_bytes = self.segment_bytes.unwrap_or(defaults.segment_bytes_max);
        LogConfig {
            segment_bytes_max: segment_bytes,
            // Only a topic from before CreateTopic refused segments below
            // the batch limit (or a broker restarted with a larger one)
            // can have a segment smaller than a batch.
            batch_bytes_max: defaults
                .batch_bytes_max
                .min(segment_bytes.min(u64::from(u32::MAX)) as u32),
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
            ..defaults.clone()
        }
    }

    pub fn settings(&self) -> TopicSettings {
        TopicSettings {
            partitions: self.partitions,
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
            segment_bytes: self.segment_bytes,
        }
    }
}

/// Every topic, by name. Each core holds its own copy, replaced whole when
/// a topic is created or deleted; nothing about it is shared across threads.
pub type TopicMap = BTreeMap<String, TopicConfig>;
