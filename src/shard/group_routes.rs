//! Group requests on this shard: each to its group's coordinator core
//! (ListGroups to every core, FindCoordinator answered here), and the
//! coordinator service's start and timer on this core. The coordinator
//! itself (`coordinator/`) never sends to another core; this is where
//! its requests cross.

use std::rc::Rc;
use std::time::Duration;

use kafka_protocol::ResponseError;

use super::coordinator::{
    fill_latest, latest_offsets, latest_request, offsets_dir, offsets_log_config, refuse,
    ClassicRequest, ClassicResponse, GroupAnswer, GroupOffsetRow,
};
use super::messages::ShardMessage;
use super::notify::sleep_unless_raised;
use super::Shard;
use crate::config::{GROUP_TIMER_INTERVAL_MS, OFFSETS_PARTITIONS};
use crate::error::ErrorCode;
use crate::group_logic::{coordinator_core, validate_group_name, OFFSETS_LOG};
use crate::protocol::groups::{GroupRequest, GroupResponse, ListGroupsResponse};
use crate::router::shard_for;

impl Shard {
    /// Routes a group request: ListGroups asks every core; FindCoordinator
    /// is answered here; everything else runs on the group's coordinator.
    pub async fn route_group(self: &Rc<Self>, request: GroupRequest) -> GroupAnswer {
        if let Some(group) = request.group() {
            if let Err(e) = validate_group_name(group) {
                return refuse(ErrorCode::InvalidGroupId, e);
            }
        }
        match request {
            GroupRequest::ListGroups => self.list_all_groups().await,
            GroupRequest::FindCoordinator(r) => {
                let core = coordinator_core(&r.group, self.cores());
                Ok(GroupResponse::Coordinator(
                    self.core_addresses[core].clone(),
                ))
            }
            request => {
                let group = request.group().expect("every other request names a group");
                let core = coordinator_core(group, self.cores());
                if core == self.id {
                    // In its own task, as a forwarded request is: a commit
                    // or join runs to the end even if the connection that
                    // asked goes away.
                    let shard = self.clone();
                    let task =
                        glommio::spawn_local(
                            async move { shard.handle_group_local(request).await },
                        );
                    return task.detach().await.unwrap_or_else(|| {
                        refuse(ErrorCode::ShuttingDown, "the broker is shutting down")
                    });
                }
                let message = |reply| ShardMessage::Group { request, reply };
                self.peers.ask(core, message).await.unwrap_or_else(|| {
                    refuse(ErrorCode::ShuttingDown, "the broker is shutting down")
                })
            }
        }
    }

    /// Every core's groups, merged by name.
    async fn list_all_groups(self: &Rc<Self>) -> GroupAnswer {
        let every_core = (0..self.cores()).map(|core| (core, ())).collect();
        let answers = self
            .peers
            .scatter_gather(
                every_core,
                |()| {
                    let answer = Ok(GroupResponse::ListGroups(
                        self.coordinator.list_local_groups(),
                    ));
                    Box::pin(async move { answer })
                },
                |(), reply| ShardMessage::Group {
                    request: GroupRequest::ListGroups,
                    reply,
                },
            )
            .await;
        let mut all = ListGroupsResponse::default();
        for (core, answer) in answers.into_iter().enumerate() {
            let Some(answer) = answer else {
                return refuse(ErrorCode::ShuttingDown, "the broker is shutting down");
            };
            let GroupResponse::ListGroups(part) = answer? else {
                return refuse(
                    ErrorCode::Internal,
                    format!("core {core} answered ListGroups with another response"),
                );
            };
            all.groups.extend(part.groups);
        }
        all.groups.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(GroupResponse::ListGroups(all))
    }

    /// Routes a Kafka classic-group request to its group's coordinator
    /// core (List: answered by this core's coordinator, or by every core's
    /// when this core is the only Kafka broker advertised).
    pub async fn route_classic(self: &Rc<Self>, request: ClassicRequest) -> ClassicResponse {
        if let Some(group) = request.group() {
            if validate_group_name(group).is_err() {
                return request.refuse(ResponseError::InvalidGroupId);
            }
        }
        let core = match request.group() {
            Some(group) => coordinator_core(group, self.cores()),
            None if self.config.kafka_single_broker => return self.list_classic_everywhere().await,
            None => self.id,
        };
        let stopping = request.refuse(ResponseError::CoordinatorNotAvailable);
        if core == self.id {
            // In its own task, as a forwarded request is: a commit runs to
            // the end even if the connection that asked goes away.
            let shard = self.clone();
            let task =
                glommio::spawn_local(async move { shard.handle_classic_local(request).await });
            return task.detach().await.unwrap_or(stopping);
        }
        let message = |reply| ShardMessage::Classic { request, reply };
        self.peers.ask(core, message).await.unwrap_or(stopping)
    }

    /// Every core's groups, for Kafka's ListGroups.
    async fn list_classic_everywhere(self: &Rc<Self>) -> ClassicResponse {
        let every_core = (0..self.cores()).map(|core| (core, ())).collect();
        let answers = self
            .peers
            .scatter_gather(
                every_core,
                |()| {
                    let shard = self.clone();
                    Box::pin(async move { shard.handle_classic_local(ClassicRequest::List).await })
                },
                |(), reply| ShardMessage::Classic {
                    request: ClassicRequest::List,
                    reply,
                },
            )
            .await;
        let mut all = Vec::new();
        for answer in answers {
            match answer {
                Some(ClassicResponse::List(Ok(groups))) => all.extend(groups),
                _ => return ClassicResponse::List(Err(ResponseError::CoordinatorNotAvailable)),
            }
        }
        ClassicResponse::List(Ok(all))
    }

    /// A classic-group request on this core, the group's coordinator.
    pub async fn handle_classic_local(&self, request: ClassicRequest) -> ClassicResponse {
        let topics = self.partitions.topics();
        self.coordinator.handle_classic(request, &topics).await
    }

    /// A group request on this core, the group's coordinator (ListGroups:
    /// this core's groups only).
    pub async fn handle_group_local(&self, request: GroupRequest) -> GroupAnswer {
        let topics = self.partitions.topics();
        self.coordinator.handle(request, &topics).await
    }

    /// Opens the committed-offsets partitions this core owns, on its
    /// storage, and hands them to the coordinator, which replays them.
    pub async fn open_offsets_logs(&self) -> Result<(), String> {
        let config = offsets_log_config(&self.config.log);
        let read_bytes = self.config.shard_storage.read_chunk_bytes;
        for partition in 0..OFFSETS_PARTITIONS {
            if shard_for(OFFSETS_LOG, partition, self.cores()) != self.id {
                continue;
            }
            let dir = offsets_dir(&self.config.data_dir, partition);
            let log = self
                .partitions
                .open_log(&dir, config.clone())
                .await
                .map_err(|e| format!("opening {}: {e}", dir.display()))?;
            let topics = self.partitions.topics();
            let topic_ids = self.topic_ids.get();
            let entries = self
                .coordinator
                .add_log(partition, log, read_bytes, |topic| {
                    topic_ids.legacy_id(&topics, topic)
                })
                .await
                .map_err(|e| format!("replaying {}: {e}", dir.display()))?;
            tracing::debug!(
                core = self.id,
                partition,
                entries,
                "committed offsets replayed"
            );
        }
        Ok(())
    }

    /// The committed offsets of the groups this core coordinates, each
    /// with its partition's latest offset asked of its owner: call it on
    /// every core for the whole broker.
    pub async fn group_offset_rows(self: &Rc<Self>) -> Vec<GroupOffsetRow> {
        let mut rows = self
            .coordinator
            .committed_offset_rows(&self.partitions.topics());
        let response = self.route_list_offsets(latest_request(&rows)).await;
        let latest = latest_offsets(response);
        fill_latest(&mut rows, |topic, partition| {
            latest.get(&(topic.to_string(), partition)).copied()
        });
        rows
    }
}

/// Runs the group timer until shutdown: expired sessions and rebalance
/// deadlines, then the committed-offsets log's upkeep.
pub async fn group_timer_loop(shard: Rc<Shard>) {
    let interval = Duration::from_millis(GROUP_TIMER_INTERVAL_MS);
    while !sleep_unless_raised(&shard.shutdown, interval).await {
        shard.coordinator.tick(&shard.partitions.topics());
        let topics = shard.partitions.topics();
        shard
            .coordinator
            .drop_offsets_of_deleted_topics_if_due(&topics)
            .await;
        shard.coordinator.compact_offsets_if_due().await;
    }
}
