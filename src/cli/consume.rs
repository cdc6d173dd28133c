//! `shardlog consume`: print records, as text or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, ValueEnum};

use shardlog::client::{ConsumedRecord, Consumer, ConsumerConfig, OffsetSpec, StartFrom};

use super::{BrokerArgs, CliError, CliResult};

/// Print the records of a topic.
#[derive(Args, Debug)]
#[command(
    after_help = "Without --follow, reads up to the newest record present when it starts,
then exits; with --follow, waits for new records until --count is reached
or it is interrupted.

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
  shardlog consume orders --group billing --count 100"
)]
pub struct ConsumeArgs {
    /// Topic to read.
    pub(super) topic: String,
    /// Read only this partition (default: every partition).
    #[arg(long, value_name = "P")]
    pub(super) partition: Option<u32>,
    /// Where to start: `earliest`, `latest`, or an offset. With --group:
    /// where a partition without a committed offset starts.
    #[arg(long, value_name = "earliest|latest|OFFSET", default_value = "earliest", value_parser = parse_from)]
    pub(super) from: StartFrom,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub(super) count: Option<u64>,
    /// Keep waiting for new records instead of stopping at the end.
    #[arg(long)]
    pub(super) follow: bool,
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
        max_wait_ms: if args.follow { 1_000 } else { 100 },
        ..ConsumerConfig::default()
    })?;
    match args.partition {
        Some(partition) => {
            consumer.assign(&args.topic, partition, args.from)?;
        }
        None => consumer.assign_all(&args.topic, args.from)?,
    }
    // Without --follow, each partition ends at its latest offset now.
    let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
    if !args.follow {
        let partitions: Vec<u32> = consumer.assignment().into_iter().map(|(_, p)| p).collect();
        for (partition, end) in
            consumer.list_offsets(&args.topic, &partitions, OffsetSpec::Latest)?
        {
            if consumer
                .position(&args.topic, partition)
                .is_some_and(|at| at >= end)
            {
                consumer.unassign(&args.topic, partition);
            } else {
                ends.insert(partition, end);
            }
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let wanted = args.count.unwrap_or(u64::MAX);
    while printed < wanted && (args.follow || !ends.is_empty()) {
        let records = consumer.poll()?;
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
    fn from_accepts_names_and_offsets() {
        assert_eq!(parse_from("earliest"), Ok(StartFrom::Earliest));
        assert_eq!(parse_from("latest"), Ok(StartFrom::Latest));
        assert_eq!(parse_from("17"), Ok(StartFrom::Offset(17)));
        assert!(parse_from("-1").unwrap_err().contains("offset"));
    }
}
