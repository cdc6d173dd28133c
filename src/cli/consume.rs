//! `shardlog consume`: print records, as text or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, ValueEnum};

use shardlog::client::{ConsumedRecord, Consumer, ConsumerConfig, OffsetSpec, StartFrom};
use shardlog::config::{CONSUME_FOLLOW_WAIT_MS, CONSUME_WAIT_MS};
use shardlog::error::ErrorCode;

use super::outage::Outage;
use super::{BrokerArgs, CliError, CliResult};

/// Print the records of a topic.
#[derive(Args, Debug)]
#[command(
    after_help = "Without --follow, reads up to the newest record present when it starts,
then exits; with --follow, waits for new records until --count is reached
or it is interrupted. Once started, --follow outlives the broker: while it
is away (stopped, restarting, unreachable) it retries with a growing pause,
says so once on standard error, and goes on where it was when it is back.

A partition's valid positions are EARLIEST..=LATEST: the oldest record kept
up to the end, LATEST being the offset the next record produced will get
(`topic describe` shows both). Starting at LATEST reads nothing without
--follow and waits with it. A position outside that range (--from N past
the end or before retention's cut, or a lagging --follow overtaken by
retention) is handled the same way with and without --follow, as
--offset-reset says, like Kafka's auto.offset.reset: `error` (the default)
exits 1 naming the partition and its range; `earliest` or `latest` moves
that partition there and goes on. With --from N and no --partition, every
partition starts at N and is checked on its own.

--format text prints each value on its own line, as raw bytes.
--format json prints one object per line:
  {\"partition\":0,\"offset\":42,\"timestamp\":1700000000000,\"key\":\"user-1\",
   \"value\":\"paid\",\"headers\":[{\"name\":\"trace\",\"value\":\"abc\"}]}
Keys, values and header values are JSON strings when they are valid UTF-8;
otherwise the field is renamed with a _base64 suffix (\"key_base64\",
\"value_base64\") and holds the standard base64 of the bytes. A record
without a key has \"key\":null.

With --group G, reads as a member of consumer group G: the group's
partitions are shared with its other members, each partition starts at the
group's committed offset (or at --from, earliest or latest, if it has
none), and what was printed is committed before exiting, so the next run
continues where this one stopped.

Examples:
  shardlog consume orders
  shardlog consume orders --partition 3 --from 1200 --count 10
  shardlog consume orders --from latest --follow --format json
  shardlog consume orders --from 5000 --offset-reset latest --follow
  shardlog consume orders --group billing --count 100"
)]
pub struct ConsumeArgs {
    /// Topic to read.
    pub(super) topic: String,
    /// Read only this partition (default: every partition).
    #[arg(long, value_name = "P")]
    pub(super) partition: Option<u32>,
    /// Where to start: `earliest`, `latest`, or an offset (one outside a
    /// partition's range: see --offset-reset). With --group: where a
    /// partition without a committed offset starts.
    #[arg(long, value_name = "earliest|latest|OFFSET", default_value = "earliest", value_parser = parse_from)]
    pub(super) from: StartFrom,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub(super) count: Option<u64>,
    /// Keep waiting for new records instead of stopping at the end.
    #[arg(long)]
    pub(super) follow: bool,
    /// What a position outside a partition's records does, with or without
    /// --follow: `error` exits 1 naming the partition's range; `earliest`
    /// or `latest` moves there. (With --group, --from says it.)
    #[arg(long, value_enum, value_name = "earliest|latest|error", default_value_t = OffsetReset::Error, conflicts_with = "group")]
    pub(super) offset_reset: OffsetReset,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Read as a member of this consumer group, from its committed
    /// offsets, and commit what was printed.
    #[arg(long, value_name = "G", conflicts_with = "partition")]
    pub(super) group: Option<String>,
    #[command(flatten)]
    pub(super) broker: BrokerArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

/// What a position outside a partition's records does (`--offset-reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum OffsetReset {
    /// Move to the oldest record kept.
    Earliest,
    /// Move to the end: the next record produced.
    Latest,
    /// Fail, naming the partition and its range.
    Error,
}

/// A partition's valid positions: `earliest..=latest`, where `latest` is
/// the offset the next record produced will get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartitionRange {
    earliest: u64,
    latest: u64,
}

impl PartitionRange {
    fn holds(&self, position: u64) -> bool {
        (self.earliest..=self.latest).contains(&position)
    }
}

fn parse_from(s: &str) -> Result<StartFrom, String> {
    match s {
        "earliest" => Ok(StartFrom::Earliest),
        "latest" => Ok(StartFrom::Latest),
        offset => offset.parse().map(StartFrom::Offset).map_err(|_| {
            format!("expected `earliest`, `latest` or an offset (a whole number), not `{offset}`")
        }),
    }
}

pub fn run(args: ConsumeArgs) -> CliResult {
    if let Some(group) = &args.group {
        return super::consume_group::run(&args, group);
    }
    let mut consumer = Consumer::new(ConsumerConfig {
        bootstrap: args.broker.broker.clone(),
        max_wait_ms: if args.follow {
            CONSUME_FOLLOW_WAIT_MS
        } else {
            CONSUME_WAIT_MS
        },
        ..ConsumerConfig::default()
    })?;
    match args.partition {
        Some(partition) => {
            consumer.assign(&args.topic, partition, args.from)?;
        }
        None => consumer.assign_all(&args.topic, args.from)?,
    }
    // An explicit start is checked the same way with and without --follow
    // (a named one was just looked up: retention racing it is left to the
    // fetch's own answer below).
    let ranges = partition_ranges(&mut consumer, &args.topic)?;
    if matches!(args.from, StartFrom::Offset(_)) {
        reset_out_of_range(&mut consumer, &args.topic, &ranges, args.offset_reset)?;
    }
    // Without --follow, each partition ends at its latest offset now.
    let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
    if !args.follow {
        for (&partition, range) in &ranges {
            if consumer
                .position(&args.topic, partition)
                .is_some_and(|at| at >= range.latest)
            {
                consumer.unassign(&args.topic, partition);
            } else {
                ends.insert(partition, range.latest);
            }
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let wanted = args.count.unwrap_or(u64::MAX);
    let mut outage = Outage::new(&args.broker.broker);
    while printed < wanted && (args.follow || !ends.is_empty()) {
        let records = match consumer.poll() {
            // --follow outlives the broker: retry until it is back.
            Err(err) if args.follow && err.is_retriable() => {
                outage.failed(err, || false)?;
                continue;
            }
            Err(err) if err.code() == Some(ErrorCode::OffsetOutOfRange) => {
                // Retention overtook a position while reading.
                let ranges = partition_ranges(&mut consumer, &args.topic)?;
                let moved =
                    reset_out_of_range(&mut consumer, &args.topic, &ranges, args.offset_reset)?;
                if moved == 0 {
                    // The broker and its offsets disagree: say what it said.
                    return Err(err.into());
                }
                tracing::warn!(
                    topic = %args.topic,
                    partitions = moved,
                    "a position fell outside its partition's records while reading (retention); moved as --offset-reset says"
                );
                Vec::new()
            }
            result => result?,
        };
        outage.succeeded();
        for record in records {
            if printed == wanted {
                break;
            }
            if let Some(&end) = ends.get(&record.partition) {
                if record.offset >= end {
                    continue;
                }
            } else if !args.follow {
                continue;
            }
            if let Err(err) = print_record(&mut out, args.format, &record) {
                return quiet_on_broken_pipe(err);
            }
            printed += 1;
        }
        if let Err(err) = out.flush() {
            return quiet_on_broken_pipe(err);
        }
        if !args.follow {
            for (partition, end) in ends.clone() {
                if consumer
                    .position(&args.topic, partition)
                    .is_some_and(|at| at >= end)
                {
                    ends.remove(&partition);
                    consumer.unassign(&args.topic, partition);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The range of every assigned partition of `topic`, from the broker now.
fn partition_ranges(
    consumer: &mut Consumer,
    topic: &str,
) -> Result<BTreeMap<u32, PartitionRange>, CliError> {
    let partitions: Vec<u32> = consumer.assignment().into_iter().map(|(_, p)| p).collect();
    let earliest = consumer.list_offsets(topic, &partitions, OffsetSpec::Earliest)?;
    let latest = consumer.list_offsets(topic, &partitions, OffsetSpec::Latest)?;
    Ok(earliest
        .into_iter()
        .zip(latest)
        .map(|((partition, earliest), (_, latest))| {
            (partition, PartitionRange { earliest, latest })
        })
        .collect())
}

/// Moves every partition whose position is outside its range to where
/// `policy` says, and returns how many moved; with [`OffsetReset::Error`],
/// fails naming the first such partition and its range.
fn reset_out_of_range(
    consumer: &mut Consumer,
    topic: &str,
    ranges: &BTreeMap<u32, PartitionRange>,
    policy: OffsetReset,
) -> Result<usize, CliError> {
    let mut moved = 0;
    for (&partition, range) in ranges {
        let Some(position) = consumer.position(topic, partition) else {
            continue;
        };
        if range.holds(position) {
            continue;
        }
        let target = match policy {
            OffsetReset::Earliest => range.earliest,
            OffsetReset::Latest => range.latest,
            OffsetReset::Error => {
                return Err(CliError(out_of_range_message(
                    topic, partition, position, range,
                )))
            }
        };
        tracing::info!(
            topic,
            partition,
            position,
            earliest = range.earliest,
            latest = range.latest,
            to = target,
            "position out of range; moving it as --offset-reset says"
        );
        consumer.seek(topic, partition, target);
        moved += 1;
    }
    Ok(moved)
}

fn out_of_range_message(
    topic: &str,
    partition: u32,
    position: u64,
    range: &PartitionRange,
) -> String {
    format!(
        "offset out of range: {topic}/{partition} can be read from offsets {}..={} \
         (earliest {}; latest {}, where the next record will go), not from {position}; \
         start inside that range, or pass --offset-reset earliest|latest",
        range.earliest, range.latest, range.earliest, range.latest
    )
}

/// A reader that went away (`| head`) is not an error.
pub(super) fn quiet_on_broken_pipe(err: io::Error) -> CliResult {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError(format!("writing the output: {err}")))
    }
}

/// `"name":"text"` when `bytes` are UTF-8, else `"name_base64":"..."`.
fn bytes_field(name: &str, bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("\"{name}\":{}", json_string(text)),
        Err(_) => format!(
            "\"{name}_base64\":\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// Prints one record in `format`: its value and a newline, or a JSON line.
pub(super) fn print_record(
    out: &mut impl Write,
    format: Format,
    record: &ConsumedRecord,
) -> std::io::Result<()> {
    match format {
        Format::Text => out
            .write_all(&record.value)
            .and_then(|()| out.write_all(b"\n")),
        Format::Json => writeln!(out, "{}", json_line(record)),
    }
}

/// One record as a JSON object on one line, fields in a fixed order.
pub(super) fn json_line(record: &ConsumedRecord) -> String {
    let key = match &record.key {
        Some(key) => bytes_field("key", key),
        None => "\"key\":null".to_string(),
    };
    let headers: Vec<String> = record
        .headers
        .iter()
        .map(|h| {
            format!(
                "{{\"name\":{},{}}}",
                json_string(&h.name),
                bytes_field("value", &h.value)
            )
        })
        .collect();
    format!(
        "{{\"partition\":{},\"offset\":{},\"timestamp\":{},{key},{},\"headers\":[{}]}}",
        record.partition,
        record.offset,
        record.timestamp_ms,
        bytes_field("value", &record.value),
        headers.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use shardlog::batch::Header;

    fn record(key: Option<&'static [u8]>, value: &'static [u8]) -> ConsumedRecord {
        ConsumedRecord {
            topic: "t".into(),
            partition: 1,
            offset: 42,
            timestamp_ms: 1_700_000_000_000,
            key: key.map(Bytes::from_static),
            value: Bytes::from_static(value),
            headers: vec![Header {
                name: "trace \"id\"".into(),
                value: Bytes::from_static(&[0xFF, 0x00]),
            }],
        }
    }

    #[test]
    fn json_lines_use_strings_for_utf8_and_base64_otherwise() {
        let line = json_line(&record(Some(b"k\n1"), b"caf\xC3\xA9"));
        assert_eq!(
            line,
            "{\"partition\":1,\"offset\":42,\"timestamp\":1700000000000,\"key\":\"k\\n1\",\
             \"value\":\"caf\u{e9}\",\"headers\":[{\"name\":\"trace \\\"id\\\"\",\"value_base64\":\"/wA=\"}]}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["value"], "caf\u{e9}");
        let line = json_line(&record(None, &[0x80]));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(parsed["key"].is_null());
        assert_eq!(parsed["value_base64"], "gA==");
    }

    #[test]
    fn a_range_holds_its_ends_and_nothing_outside() {
        let range = PartitionRange {
            earliest: 5,
            latest: 10,
        };
        assert!(
            range.holds(5) && range.holds(10),
            "the end is a valid start"
        );
        assert!(!range.holds(4) && !range.holds(11));
        let message = out_of_range_message("orders", 3, 11, &range);
        assert!(
            message.contains("orders/3 can be read from offsets 5..=10"),
            "{message}"
        );
        assert!(message.contains("not from 11"), "{message}");
        assert!(message.contains("--offset-reset"), "{message}");
    }

    #[test]
    fn from_accepts_names_and_offsets() {
        assert_eq!(parse_from("earliest"), Ok(StartFrom::Earliest));
        assert_eq!(parse_from("latest"), Ok(StartFrom::Latest));
        assert_eq!(parse_from("17"), Ok(StartFrom::Offset(17)));
        assert!(parse_from("-1").unwrap_err().contains("offset"));
    }
}
