//! `topics.meta`: the topic map on disk, written atomically (temp file,
//! fsync, rename, fsync dir). Version 2, one line per topic:
//! `name partitions retention_ms retention_bytes segment_bytes id` (`-`
//! for no limit, or for the broker's default segment size), after the id
//! counter's two lines:
//!
//! ```text
//! # shardlog topics v2: name partitions retention_ms retention_bytes segment_bytes id
//! @next_topic_id 4
//! @legacy_topic_ids_below 3
//! orders 8 60000 - 1073741824 1
//! ```
//!
//! Topic names hold no spaces and no `@`, so the format needs no quoting.
//! Version 1 (no `@` lines, five fields, no ids) still loads: its topics
//! get ids 1, 2, ... in name order, and `@legacy_topic_ids_below` records
//! which ids those are (`TopicIds::legacy_below`); the caller saves the
//! map at once (`StoredTopics::upgraded`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{validate_topic_name, TopicConfig, TopicId, TopicIds, TopicMap, NO_TOPIC_ID};

pub const TOPICS_FILE: &str = "topics.meta";
const HEADER: &str =
    "# shardlog topics v2: name partitions retention_ms retention_bytes segment_bytes id";
const NEXT_ID: &str = "@next_topic_id";
const LEGACY_BELOW: &str = "@legacy_topic_ids_below";

/// What `topics.meta` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredTopics {
    pub map: TopicMap,
    pub ids: TopicIds,
    /// The file was version 1 and its topics were given ids now: save it.
    pub upgraded: bool,
}

pub fn topics_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOPICS_FILE)
}

/// Where a partition's log lives.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> PathBuf {
    data_dir
        .join("topics")
        .join(topic)
        .join(partition.to_string())
}

pub fn topic_dir(data_dir: &Path, topic: &str) -> PathBuf {
    data_dir.join("topics").join(topic)
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn parse_optional(field: &str) -> Result<Option<u64>, String> {
    match field {
        "-" => Ok(None),
        v => v.parse().map(Some).map_err(|e| format!("{v:?}: {e}")),
    }
}

pub fn encode(map: &TopicMap, ids: TopicIds) -> String {
    let mut out = format!(
        "{HEADER}\n{NEXT_ID} {}\n{LEGACY_BELOW} {}\n",
        ids.next, ids.legacy_below
    );
    for (name, t) in map {
        out.push_str(&format!(
            "{name} {} {} {} {} {}\n",
            t.partitions,
            optional(t.retention_ms),
            optional(t.retention_bytes),
            optional(t.segment_bytes),
            t.id
        ));
    }
    out
}

pub fn decode(text: &str) -> Result<StoredTopics, String> {
    let mut map = TopicMap::new();
    let mut next_id: Option<TopicId> = None;
    let mut legacy_below: Option<TopicId> = None;
    let mut without_id = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let bad = |why: String| format!("{TOPICS_FILE} line {}: {why}", number + 1);
        let parse_id = |field: &str| -> Result<TopicId, String> {
            field.parse().map_err(|e| bad(format!("id {field:?}: {e}")))
        };
        match fields[..] {
            [NEXT_ID, id] => next_id = Some(parse_id(id)?),
            [LEGACY_BELOW, id] => legacy_below = Some(parse_id(id)?),
            [name, partitions, retention_ms, retention_bytes, segment_bytes, ref id @ ..]
                if id.len() <= 1 =>
            {
                validate_topic_name(name).map_err(bad)?;
                let id = match id.first() {
                    Some(id) => parse_id(id)?,
                    None => {
                        without_id += 1;
                        NO_TOPIC_ID
                    }
                };
                let config = TopicConfig {
                    id,
                    partitions: partitions
                        .parse()
                        .map_err(|e| bad(format!("partitions: {e}")))?,
                    retention_ms: parse_optional(retention_ms).map_err(bad)?,
                    retention_bytes: parse_optional(retention_bytes).map_err(bad)?,
                    segment_bytes: parse_optional(segment_bytes).map_err(bad)?,
                };
                map.insert(name.to_string(), config);
            }
            _ => {
                return Err(bad(format!(
                    "expected a topic (5 or 6 fields) or an @ line, found {} fields",
                    fields.len()
                )))
            }
        }
    }
    match (next_id, legacy_below) {
        (None, None) if without_id == map.len() => Ok(upgrade(map)),
        (None, None) => Err(format!(
            "{TOPICS_FILE}: topics with ids but no {NEXT_ID} line"
        )),
        (Some(next), Some(legacy_below)) => {
            let ids = TopicIds { next, legacy_below };
            check_ids(&map, ids)?;
            Ok(StoredTopics {
                map,
                ids,
                upgraded: false,
            })
        }
        _ => Err(format!(
            "{TOPICS_FILE}: {NEXT_ID} and {LEGACY_BELOW} go together"
        )),
    }
}

/// A version 1 map: ids 1, 2, ... in name order, all of them legacy.
fn upgrade(mut map: TopicMap) -> StoredTopics {
    let mut ids = TopicIds::default();
    for topic in map.values_mut() {
        topic.id = ids.next;
        ids.next += 1;
    }
    ids.legacy_below = ids.next;
    StoredTopics {
        map,
        ids,
        upgraded: true,
    }
}

/// Every id given, below the counter, and each once.
fn check_ids(map: &TopicMap, ids: TopicIds) -> Result<(), String> {
    if ids.next == NO_TOPIC_ID || ids.legacy_below > ids.next {
        return Err(format!("{TOPICS_FILE}: id counter {ids:?} out of order"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, t) in map {
        if t.id == NO_TOPIC_ID || t.id >= ids.next || !seen.insert(t.id) {
            return Err(format!(
                "{TOPICS_FILE}: topic {name} has id {}, not one given once below {}",
                t.id, ids.next
            ));
        }
    }
    Ok(())
}

/// Reads the topic map; an absent file is an empty map.
pub fn load(data_dir: &Path) -> io::Result<StoredTopics> {
    match fs::read_to_string(topics_path(data_dir)) {
        Ok(text) => decode(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(StoredTopics::default()),
        Err(e) => Err(e),
    }
}

/// Replaces the topic map on disk atomically. Blocking: at start, and on
/// core 0's blocking pool for topic creation and deletion
/// (`shard::blocking`), never on a reactor.
pub fn save(data_dir: &Path, map: &TopicMap, ids: TopicIds) -> io::Result<()> {
    let path = topics_path(data_dir);
    let temp = path.with_extension("meta.tmp");
    let mut file = File::create(&temp)?;
    file.write_all(encode(map, ids).as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, &path)?;
    File::open(data_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_topics() -> TopicMap {
        let mut map = TopicMap::new();
        map.insert(
            "orders".into(),
            TopicConfig {
                id: 7,
                partitions: 8,
                retention_ms: Some(60_000),
                retention_bytes: None,
                segment_bytes: None,
            },
        );
        map.insert(
            "a.b".into(),
            TopicConfig {
                id: 2,
                partitions: 1,
                retention_ms: None,
                retention_bytes: Some(1 << 20),
                segment_bytes: Some(4096),
            },
        );
        map
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let stored = StoredTopics {
            map: two_topics(),
            ids: TopicIds {
                next: 9,
                legacy_below: 3,
            },
            upgraded: false,
        };
        assert_eq!(decode(&encode(&stored.map, stored.ids)), Ok(stored));
        let counter = "@next_topic_id 9\n@legacy_topic_ids_below 1\n";
        assert!(decode(&format!("{counter}orders 8 - -")).is_err());
        assert!(decode(&format!("{counter}bad/name 1 - - 4096 1")).is_err());
        assert!(decode(&format!("{counter}t x - - 4096 1")).is_err());
        assert!(decode(&format!("{counter}t 1 - - 4096 x")).is_err());
        assert!(decode(&format!("{counter}t 1 - - 4096 1 1")).is_err());
    }

    #[test]
    fn ids_are_checked() {
        let counter = "@next_topic_id 3\n@legacy_topic_ids_below 1\n";
        assert!(decode(&format!("{counter}t 1 - - 4096 2")).is_ok());
        for bad in [
            format!("{counter}t 1 - - 4096 0"),
            format!("{counter}t 1 - - 4096 3"),
            format!("{counter}t 1 - - 4096 2\nu 1 - - 4096 2"),
            format!("{counter}t 1 - - 4096"),
            "@next_topic_id 3\nt 1 - - 4096 2".to_string(),
            "t 1 - - 4096 2".to_string(),
            "@next_topic_id 3\n@legacy_topic_ids_below 4\n".to_string(),
        ] {
            assert!(decode(&bad).is_err(), "{bad}");
        }
    }

    /// A map written before topic ids loads with ids 1, 2, ... in name
    /// order, all legacy, and is marked to be saved.
    #[test]
    fn a_version_1_map_gets_ids() {
        let v1 =
            "# shardlog topics v1: name partitions retention_ms retention_bytes segment_bytes\n\
                  orders 8 60000 - 1073741824\n\
                  a.b 1 - 1048576 4096\n";
        let stored = decode(v1).unwrap();
        assert!(stored.upgraded);
        assert_eq!(stored.map["a.b"].id, 1);
        assert_eq!(stored.map["orders"].id, 2);
        assert_eq!(
            stored.ids,
            TopicIds {
                next: 3,
                legacy_below: 3
            }
        );
        assert_eq!(stored.ids.legacy_id(&stored.map, "orders"), Some(2));
        let mut expected = two_topics();
        expected.get_mut("a.b").unwrap().id = 1;
        expected.get_mut("orders").unwrap().id = 2;
        // Version 1 stored every segment size as a number.
        expected.get_mut("orders").unwrap().segment_bytes = Some(1 << 30);
        assert_eq!(stored.map, expected);
        let again = decode(&encode(&stored.map, stored.ids)).unwrap();
        assert_eq!((again.map, again.ids), (stored.map, stored.ids));
        assert!(!again.upgraded, "saved once, loaded as is");
        assert_eq!(decode("").unwrap().ids, TopicIds::default());
    }
}
