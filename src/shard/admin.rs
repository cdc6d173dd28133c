//! Topic creation and deletion, on core 0 (the metadata owner) only, one
//! at a time: validate, persist the new topic map atomically, then tell
//! every core and wait until each has opened or closed its partitions.
//! A create that some core cannot carry out (its partitions fail to
//! open) is rolled back: the topic is created fully or not at all.

use std::rc::Rc;

use super::blocking::{remove_dir_all, save_topic_map};
use super::messages::{AdminResult, ShardMessage};
use super::Shard;
use crate::error::{ErrorCode, WireError};
use crate::group_logic::INTERNAL_PREFIX;
use crate::topics::store::topic_dir;
use crate::topics::{validate_topic_name, TopicConfig, TopicMap};

impl Shard {
    pub async fn create_topic(self: &Rc<Self>, name: String, config: TopicConfig) -> AdminResult {
        let _turn = self.admin_lock.acquire_permit(1).await.map_err(internal)?;
        validate_topic_name(&name).map_err(|e| WireError::new(ErrorCode::InvalidTopicName, e))?;
        if name.starts_with(INTERNAL_PREFIX) {
            return Err(WireError::new(
                ErrorCode::InvalidTopicName,
                format!(
                    "topic names starting with {INTERNAL_PREFIX:?} are reserved for the broker"
                ),
            ));
        }
        let previous: TopicMap = (*self.partitions.topics()).clone();
        if previous.contains_key(&name) {
            return Err(WireError::new(
                ErrorCode::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        // A new id for every incarnation, never given before: what is
        // keyed by it (committed offsets) starts afresh.
        let mut ids = self.topic_ids.get();
        let config = TopicConfig {
            id: ids.next,
            ..config
        };
        ids.next += 1;
        let mut map = previous.clone();
        map.insert(name.clone(), config.clone());
        save_topic_map(self.config.data_dir.clone(), map.clone(), ids)
            .await
            .map_err(|e| internal(format!("saving the topic map: {e}")))?;
        self.topic_ids.set(ids);
        if let Err(failed) = self.broadcast_topics(map).await {
            tracing::warn!(topic = %name, error = %failed, "creating a topic failed: rolling it back");
            return Err(self.roll_back_create(&name, previous, failed).await);
        }
        tracing::info!(topic = %name, id = config.id, partitions = config.partitions, "topic created");
        Ok(())
    }

    /// Undoes a create that a core could not carry out: the map without
    /// the topic is saved, then applied on every core (those that opened
    /// partitions close and delete them), then what is left of the
    /// topic's files is removed. Saved first, so that a crash in between
    /// leaves a map without the topic and the next start removes its
    /// files. Answers the create's own error, or `Internal` when the
    /// rollback failed as well (the message says what is left).
    async fn roll_back_create(
        self: &Rc<Self>,
        name: &str,
        previous: TopicMap,
        failed: WireError,
    ) -> WireError {
        let mut not_undone = Vec::new();
        let saved = save_topic_map(
            self.config.data_dir.clone(),
            previous.clone(),
            self.topic_ids.get(),
        );
        if let Err(e) = saved.await {
            not_undone.push(format!("saving the topic map without it: {e}"));
        }
        if let Err(e) = self.broadcast_topics(previous).await {
            not_undone.push(format!("closing its partitions: {}", e.message));
        }
        if let Err(e) = remove_dir_all(topic_dir(&self.config.data_dir, name)).await {
            not_undone.push(format!("removing its directory: {e}"));
        }
        if not_undone.is_empty() {
            tracing::info!(topic = %name, "topic creation rolled back");
            WireError::new(
                failed.code,
                format!("topic {name} not created: {}", failed.message),
            )
        } else {
            let left = not_undone.join("; ");
            tracing::error!(topic = %name, error = %left, "rolling back a failed topic creation failed");
            WireError::internal(format!(
                "topic {name} not created: {}; rolling it back failed: {left}",
                failed.message
            ))
        }
    }

    pub async fn delete_topic(self: &Rc<Self>, name: String) -> AdminResult {
        let _turn = self.admin_lock.acquire_permit(1).await.map_err(internal)?;
        let mut map: TopicMap = (*self.partitions.topics()).clone();
        if map.remove(&name).is_none() {
            return Err(WireError::new(
                ErrorCode::UnknownTopic,
                format!("topic {name} does not exist"),
            ));
        }
        save_topic_map(
            self.config.data_dir.clone(),
            map.clone(),
            self.topic_ids.get(),
        )
        .await
        .map_err(|e| internal(format!("saving the topic map: {e}")))?;
        let result = self.broadcast_topics(map).await;
        if let Err(e) = remove_dir_all(topic_dir(&self.config.data_dir, &name)).await {
            tracing::warn!(topic = %name, error = %e, "removing the topic directory");
        }
        tracing::info!(topic = %name, "topic deleted");
        result
    }

    /// Sends the new map to every core (this one too, through its own
    /// inbox, so changes apply in order) and waits for all of them, even
    /// after one has failed: a rollback must come after every core's
    /// answer. Answers the first core's error.
    async fn broadcast_topics(self: &Rc<Self>, map: TopicMap) -> AdminResult {
        let mut answers = Vec::with_capacity(self.cores());
        for peer in self.peers.inboxes() {
            let (reply, answer) = flume::bounded(1);
            peer.send_async(ShardMessage::TopicsChanged {
                map: map.clone(),
                reply,
            })
            .await
            .map_err(|_| WireError::new(ErrorCode::ShuttingDown, "a core is shutting down"))?;
            answers.push(answer);
        }
        let mut outcome = Ok(());
        for answer in answers {
            let applied = answer.recv_async().await.unwrap_or_else(|_| {
                Err(WireError::new(
                    ErrorCode::ShuttingDown,
                    "a core is shutting down",
                ))
            });
            if outcome.is_ok() {
                outcome = applied;
            }
        }
        outcome
    }
}

fn internal(e: impl std::fmt::Display) -> WireError {
    WireError::internal(e)
}
