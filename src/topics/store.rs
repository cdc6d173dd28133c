//! `topics.meta`: the topic map on disk, one line per topic:
//! `name partitions retention_ms retention_bytes segment_bytes` (`-` for
//! no limit, or for the broker's default segment size), written atomically
//! (temp file, fsync, rename, fsync dir).
//! Topic names hold no spaces, so the format needs no quoting.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{validate_name, TopicConfig, TopicMap};

pub const TOPICS_FILE: &str = "topics.meta";
const HEADER: &str =
    "# shardlog topics v1: name partitions retention_ms retention_bytes segment_bytes";

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

pub fn encode(map: &TopicMap) -> String {
    let mut out = format!("{HEADER}\n");
    for (name, t) in map {
        out.push_str(&format!(
            "{name} {} {} {} {}\n",
            t.partitions,
            optional(t.retention_ms),
            optional(t.retention_bytes),
            optional(t.segment_bytes)
        ));
    }
    out
}

pub fn decode(text: &str) -> Result<TopicMap, String> {
    let mut map = TopicMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let bad = |why: String| format!("{TOPICS_FILE} line {}: {why}", number + 1);
        let [name, partitions, retention_ms, retention_bytes, segment_bytes] = fields[..] else {
            return Err(bad(format!("expected 5 fields, found {}", fields.len())));
        };
        validate_name(name).map_err(bad)?;
        let config = TopicConfig {
            partitions: partitions
                .parse()
                .map_err(|e| bad(format!("partitions: {e}")))?,
            retention_ms: parse_optional(retention_ms).map_err(bad)?,
            retention_bytes: parse_optional(retention_bytes).map_err(bad)?,
            segment_bytes: parse_optional(segment_bytes).map_err(bad)?,
        };
        map.insert(name.to_string(), config);
    }
    Ok(map)
}

/// Reads the topic map; an absent file is an empty map.
pub fn load(data_dir: &Path) -> io::Result<TopicMap> {
    match fs::read_to_string(topics_path(data_dir)) {
        Ok(text) => decode(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(TopicMap::new()),
        Err(e) => Err(e),
    }
}

/// Replaces the topic map on disk atomically. Blocking: called on core 0
/// for topic creation and deletion only, never on the data path.
pub fn save(data_dir: &Path, map: &TopicMap) -> io::Result<()> {
    let path = topics_path(data_dir);
    let temp = path.with_extension("meta.tmp");
    let mut file = File::create(&temp)?;
    file.write_all(encode(map).as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, &path)?;
    File::open(data_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut map = TopicMap::new();
        map.insert(
            "orders".into(),
            TopicConfig {
                partitions: 8,
                retention_ms: Some(60_000),
                retention_bytes: None,
                segment_bytes: None,
            },
        );
        map.insert(
            "a.b".into(),
            TopicConfig {
                partitions: 1,
                retention_ms: None,
                retention_bytes: Some(1 << 20),
                segment_bytes: Some(4096),
            },
        );
        assert_eq!(decode(&encode(&map)), Ok(map));
        assert!(decode("orders 8 - -").is_err());
        assert!(decode("bad/name 1 - - 4096").is_err());
        assert!(decode("t x - - 4096").is_err());
    }
}
