//! `shardlog topic create|list|describe|delete`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use shardlog::client::{Admin, ConnectionConfig, TopicSettings};
use shardlog::error::ErrorCode;
use shardlog::units;

use super::{BrokerArgs, CliResult};

/// Create, list, describe and delete topics.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  shardlog topic create orders --partitions 8
  shardlog topic list --broker 10.0.0.5:9392
  shardlog topic describe orders
  shardlog topic delete orders")]
pub struct TopicArgs {
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Subcommand, Debug)]
enum TopicCommand {
    /// Create a topic.
    #[command(after_help = "Example:
  shardlog topic create orders --partitions 8 --retention-ms 7d --segment-bytes 256MiB

Durations take units (500ms, 30s, 2m, 7d; a plain number is milliseconds),
sizes too (64KiB, 1GiB; a plain number is bytes).")]
    Create {
        /// Topic name: [a-zA-Z0-9._-]{1,249}, not `.` or `..`.
        name: String,
        /// Number of partitions.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        partitions: u32,
        /// Delete sealed segments whose newest record is older than this.
        #[arg(long, value_name = "MS", value_parser = units::milliseconds)]
        retention_ms: Option<u64>,
        /// Delete the oldest sealed segments while a partition is larger.
        #[arg(long, value_name = "B", value_parser = units::bytes_u64)]
        retention_bytes: Option<u64>,
        /// Roll a partition's segment file at this size (broker default if
        /// absent).
        #[arg(long, value_name = "B", value_parser = units::bytes_u64)]
        segment_bytes: Option<u64>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// List every topic with its partition count.
    #[command(after_help = "Example:
  shardlog topic list")]
    List {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Show a topic's settings and, per partition, its owner core, earliest
    /// and latest offsets and size.
    #[command(after_help = "Example:
  shardlog topic describe orders")]
    Describe {
        name: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Delete a topic and all its records.
    #[command(after_help = "Example:
  shardlog topic delete orders")]
    Delete {
        name: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

fn admin(broker: &BrokerArgs) -> Result<Admin, super::CliError> {
    Ok(Admin::connect(&broker.broker, ConnectionConfig::default())?)
}

pub fn run(args: TopicArgs) -> CliResult {
    match args.command {
        TopicCommand::Create {
            name,
            partitions,
            retention_ms,
            retention_bytes,
            segment_bytes,
            broker,
        } => {
            let settings = TopicSettings {
                partitions,
                retention_ms,
                retention_bytes,
                segment_bytes,
            };
            admin(&broker)?.create_topic(&name, settings)?;
            println!("created topic {name} with {partitions} partitions");
        }
        TopicCommand::List { broker } => {
            let topics = admin(&broker)?.list_topics()?;
            let rows: Vec<Vec<String>> = topics
                .into_iter()
                .map(|t| vec![t.name, t.partitions.to_string()])
                .collect();
            print!("{}", table(&["TOPIC", "PARTITIONS"], &rows));
        }
        TopicCommand::Describe { name, broker } => {
            let topic = admin(&broker)?.describe_topic(&name)?;
            let setting = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
            println!(
                "topic {}: {} partitions, retention-ms {}, retention-bytes {}, segment-bytes {}",
                topic.name,
                topic.settings.partitions,
                setting(topic.settings.retention_ms),
                setting(topic.settings.retention_bytes),
                topic
                    .settings
                    .segment_bytes
                    .map_or_else(|| "default".to_string(), |v| v.to_string()),
            );
            let rows: Vec<Vec<String>> = topic
                .partitions
                .iter()
                .map(|p| {
                    let status = match ErrorCode::from_u16(p.error_code) {
                        Some(ErrorCode::None) => "ok".to_string(),
                        Some(code) => code.name().to_string(),
                        None => format!("error {}", p.error_code),
                    };
                    vec![
                        p.partition.to_string(),
                        p.core.to_string(),
                        p.earliest_offset.to_string(),
                        p.latest_offset.to_string(),
                        p.size_bytes.to_string(),
                        status,
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["PARTITION", "CORE", "EARLIEST", "LATEST", "BYTES", "STATUS"],
                    &rows
                )
            );
        }
        TopicCommand::Delete { name, broker } => {
            admin(&broker)?.delete_topic(&name)?;
            println!("deleted topic {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Left-aligned columns separated by two spaces, a header line first.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["0".to_string(), "12345".to_string()],
            vec!["10".to_string(), "7".to_string()],
        ];
        assert_eq!(
            super::table(&["P", "BYTES"], &rows),
            "P   BYTES\n0   12345\n10  7\n"
        );
    }
}
