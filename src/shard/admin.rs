//! Topic creation and deletion, on core 0 (the metadata owner) only, one
//! at a time: validate, persist the new topic map atomically, then tell
//! every core and wait until each has opened or closed its partitions.

use std::rc::Rc;

use super::messages::{AdminResult, ShardMessage};
use super::Shard;
use crate::error::ErrorCode;
use crate::groups::INTERNAL_PREFIX;
use crate::topics::store::{save, topic_dir};
use crate::topics::{validate_name, TopicConfig, TopicMap};

impl Shard {
    pub async fn create_topic(self: &Rc<Self>, name: String, config: TopicConfig) -> AdminResult {
        let _turn = self.admin_lock.acquire_permit(1).await.map_err(internal)?;
        validate_name(&name).map_err(|e| (ErrorCode::InvalidTopicName, e))?;
        if name.starts_with(INTERNAL_PREFIX) {
            return Err((
                ErrorCode::InvalidTopicName,
                format!(
                    "topic names starting with {INTERNAL_PREFIX:?} are reserved for the broker"
                ),
            ));
        }
        let mut map: TopicMap = (**self.topics.borrow()).clone();
        if map.contains_key(&name) {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        map.insert(name.clone(), config.clone());
        save(&self.config.data_dir, &map)
            .map_err(|e| internal(format!("saving the topic map: {e}")))?;
        tracing::info!(topic = %name, partitions = config.partitions, "topic created");
        self.broadcast_topics(map).await
    }

    pub async fn delete_topic(self: &Rc<Self>, name: String) -> AdminResult {
        let _turn = self.admin_lock.acquire_permit(1).await.map_err(internal)?;
        let mut map: TopicMap = (**self.topics.borrow()).clone();
        if map.remove(&name).is_none() {
            return Err((
                ErrorCode::UnknownTopic,
                format!("topic {name} does not exist"),
            ));
        }
        save(&self.config.data_dir, &map)
            .map_err(|e| internal(format!("saving the topic map: {e}")))?;
        let result = self.broadcast_topics(map).await;
        match std::fs::remove_dir_all(topic_dir(&self.config.data_dir, &name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(topic = %name, error = %e, "removing the topic directory");
            }
            _ => {}
        }
        tracing::info!(topic = %name, "topic deleted");
        result
    }

    /// Sends the new map to every core (this one too, through its own
    /// inbox, so changes apply in order) and waits for all of them.
    async fn broadcast_topics(self: &Rc<Self>, map: TopicMap) -> AdminResult {
        let mut answers = Vec::with_capacity(self.cores());
        for peer in &self.peers {
            let (reply, answer) = flume::bounded(1);
            peer.send_async(ShardMessage::TopicsChanged {
                map: map.clone(),
                reply,
            })
            .await
            .map_err(|_| {
                (
                    ErrorCode::ShuttingDown,
                    "a core is shutting down".to_string(),
                )
            })?;
            answers.push(answer);
        }
        for answer in answers {
            answer.recv_async().await.map_err(|_| {
                (
                    ErrorCode::ShuttingDown,
                    "a core is shutting down".to_string(),
                )
            })?;
        }
        Ok(())
    }
}

fn internal(e: impl std::fmt::Display) -> (ErrorCode, String) {
    (ErrorCode::Internal, e.to_string())
}
