//! Each group's progress per partition, for a lag metric: what the group
//! committed and the partition's latest offset. The committed offsets are
//! this core's (the groups it coordinates); the latest offsets belong to
//! the partitions' owners: either from their metrics snapshots
//! (`committed_offset_rows` + `fill_latest`, all synchronous) or asked
//! of them (`Shard::group_offset_rows`, as ListOffsets does).

use std::collections::{BTreeMap, HashMap};

use super::GroupCoordinator;
use crate::error::ErrorCode;
use crate::protocol::offsets::{ListOffsetsRequest, ListOffsetsResponse, OffsetSpec};
use crate::topics::TopicMap;

/// One row of a group's progress on a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffsetRow {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    /// The offset of the next record the group will consume.
    pub committed: u64,
    /// The partition's latest offset; `None` when its owner could not say
    /// (topic deleted, partition failed, shutting down).
    pub latest: Option<u64>,
}

impl GroupOffsetRow {
    /// Records the group has not consumed yet (0 if it is ahead).
    pub fn lag(&self) -> Option<u64> {
        self.latest.map(|l| l.saturating_sub(self.committed))
    }
}

impl GroupCoordinator {
    /// Every (group, topic, partition) this core coordinates with its
    /// committed offset, `latest` not yet known: fill it with
    /// [`fill_latest`]. Only the topics' current incarnations in `topics`:
    /// the offsets of a deleted one are not the new one's progress.
    /// Synchronous, like the metrics snapshot.
    pub fn committed_offset_rows(&self, topics: &TopicMap) -> Vec<GroupOffsetRow> {
        let topic_id = |topic: &str| topics.get(topic).map(|t| t.id);
        self.committed
            .borrow()
            .iter()
            .flat_map(|(group, offsets)| {
                offsets
                    .iter()
                    .filter(|((topic, topic_id_then, _), _)| {
                        topic_id(topic) == Some(*topic_id_then)
                    })
                    .map(move |((topic, _, partition), c)| GroupOffsetRow {
                        group: group.clone(),
                        topic: topic.clone(),
                        partition: *partition,
                        committed: c.offset,
                        latest: None,
                    })
            })
            .collect()
    }
}

/// ListOffsets (latest) of every partition the rows name, each once.
pub fn latest_request(rows: &[GroupOffsetRow]) -> ListOffsetsRequest {
    let mut wanted: BTreeMap<&str, Vec<(u32, OffsetSpec)>> = BTreeMap::new();
    for row in rows {
        let partitions = wanted.entry(&row.topic).or_default();
        if !partitions.iter().any(|(p, _)| *p == row.partition) {
            partitions.push((row.partition, OffsetSpec::Latest));
        }
    }
    ListOffsetsRequest {
        topics: wanted
            .into_iter()
            .map(|(topic, partitions)| (topic.to_string(), partitions))
            .collect(),
    }
}

/// Sets each row's latest offset from `latest(topic, partition)`, e.g.
/// the `high_watermark` of the partitions' metrics snapshots.
pub fn fill_latest(rows: &mut [GroupOffsetRow], latest: impl Fn(&str, u32) -> Option<u64>) {
    for row in rows {
        row.latest = latest(&row.topic, row.partition);
    }
}

/// The offsets of a ListOffsets answer, without the partitions in error.
pub fn latest_offsets(response: ListOffsetsResponse) -> HashMap<(String, u32), u64> {
    response
        .topics
        .into_iter()
        .flat_map(|(topic, partitions)| {
            partitions
                .into_iter()
                .filter(|p| p.error_code == ErrorCode::None as u16)
                .map(move |p| ((topic.clone(), p.partition), p.offset))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::offsets::PartitionOffset;

    fn row(group: &str, topic: &str, partition: u32, committed: u64) -> GroupOffsetRow {
        GroupOffsetRow {
            group: group.into(),
            topic: topic.into(),
            partition,
            committed,
            latest: None,
        }
    }

    #[test]
    fn rows_get_their_latest_offset_and_lag() {
        let mut rows = vec![
            row("a", "t", 0, 5),
            row("b", "t", 0, 12),
            row("a", "t", 1, 0),
            row("a", "u", 0, 3),
        ];
        let request = latest_request(&rows);
        assert_eq!(
            request.topics,
            [
                (
                    "t".to_string(),
                    vec![(0, OffsetSpec::Latest), (1, OffsetSpec::Latest)]
                ),
                ("u".to_string(), vec![(0, OffsetSpec::Latest)]),
            ],
            "each partition asked once"
        );
        let answer = |partition, error_code, offset| PartitionOffset {
            partition,
            error_code,
            offset,
        };
        let response = ListOffsetsResponse {
            topics: vec![
                ("t".into(), vec![answer(0, 0, 10), answer(1, 0, 7)]),
                (
                    "u".into(),
                    vec![answer(0, ErrorCode::UnknownTopic as u16, u64::MAX)],
                ),
            ],
        };
        let latest = latest_offsets(response);
        fill_latest(&mut rows, |t, p| latest.get(&(t.to_string(), p)).copied());
        let lags: Vec<Option<u64>> = rows.iter().map(GroupOffsetRow::lag).collect();
        assert_eq!(
            lags,
            [Some(5), Some(0), Some(7), None],
            "ahead is 0; unknown is None"
        );
    }
}
