//! `shardlog group list|describe|reset`: consumer groups, their members,
//! assignment, committed offsets and lag.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use shardlog::client::{Admin, ConnectionConfig, OffsetSpec};
use shardlog::protocol::groups::NO_COMMITTED_OFFSET;

use super::topic::table;
use super::{BrokerArgs, CliError, CliResult};

/// List, describe and reset consumer groups.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  shardlog group list
  shardlog group describe billing
  shardlog group reset billing --topic orders --to earliest

A group exists once it has members or committed offsets; read with one
through `shardlog consume TOPIC --group G`.")]
pub struct GroupArgs {
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// List every group with its state, members and coordinator core.
    #[command(after_help = "Example:
  shardlog group list")]
    List {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Show a group's members and assignment, and per partition its
    /// committed offset, latest offset and lag.
    #[command(after_help = "Example:
  shardlog group describe billing

LAG is LATEST - COMMITTED: the records the group has not consumed yet.
COMMITTED is `-` for a partition the group never committed.
A group with no members and no committed offsets is not found: exit 1.")]
    Describe {
        /// The group's name.
        group: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Set a group's committed offsets of a topic. Refused while the group
    /// has members: stop its consumers first.
    #[command(after_help = "Examples:
  shardlog group reset billing --topic orders --to earliest
  shardlog group reset billing --topic orders --to latest
  shardlog group reset billing --topic orders --to 1200 --partition 3")]
    Reset {
        /// The group's name.
        group: String,
        /// The topic whose offsets to set.
        #[arg(long)]
        topic: String,
        /// `earliest`, `latest`, or an offset (the next record to consume).
        #[arg(long, value_name = "earliest|latest|OFFSET", value_parser = parse_to)]
        to: ResetTo,
        /// Only this partition (default: every partition of the topic).
        #[arg(long, value_name = "P")]
        partition: Option<u32>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResetTo {
    Earliest,
    Latest,
    Offset(u64),
}

fn parse_to(s: &str) -> Result<ResetTo, String> {
    match s {
        "earliest" => Ok(ResetTo::Earliest),
        "latest" => Ok(ResetTo::Latest),
        offset => offset.parse().map(ResetTo::Offset).map_err(|_| {
            format!("expected `earliest`, `latest` or an offset (a whole number), not `{offset}`")
        }),
    }
}

/// Writes the command's output; a reader that went away (`| head`) is not
/// an error.
fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError(format!("writing the output: {e}")))
        }
        _ => Ok(()),
    }
}

fn admin(broker: &BrokerArgs) -> Result<Admin, CliError> {
    Ok(Admin::connect(&broker.broker, ConnectionConfig::default())?)
}

pub fn run(args: GroupArgs) -> CliResult {
    match args.command {
        GroupCommand::List { broker } => {
            let rows: Vec<Vec<String>> = admin(&broker)?
                .list_groups()?
                .into_iter()
                .map(|g| vec![g.group, g.state, g.members.to_string(), g.core.to_string()])
                .collect();
            emit(&table(&["GROUP", "STATE", "MEMBERS", "COORDINATOR"], &rows))?;
        }
        GroupCommand::Describe { group, broker } => describe(&mut admin(&broker)?, &group)?,
        GroupCommand::Reset {
            group,
            topic,
            to,
            partition,
            broker,
        } => reset(&mut admin(&broker)?, &group, &topic, to, partition)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(admin: &mut Admin, group: &str) -> Result<(), CliError> {
    let description = admin.describe_group(group)?;
    // "Dead" is how the coordinator answers for a group it does not know.
    if description.state == "Dead" {
        return Err(CliError(format!(
            "consumer group {group} not found: it has no members and no committed offsets \
             (see `shardlog group list`)"
        )));
    }
    let coordinator = admin.find_coordinator(group)?;
    let committed = admin.committed_offsets(group)?;
    let mut text = format!(
        "group {}: state {}, generation {}, strategy {}, coordinator core {}\n",
        description.group,
        description.state,
        description.generation,
        if description.strategy.is_empty() {
            "-"
        } else {
            &description.strategy
        },
        coordinator.core
    );
    // Who reads each partition, and every topic the group touches.
    let mut owner: BTreeMap<(String, u32), String> = BTreeMap::new();
    let mut topics: BTreeSet<String> = committed.iter().map(|c| c.topic.clone()).collect();
    let mut members = Vec::new();
    for m in &description.members {
        let mut assigned = Vec::new();
        for (topic, partitions) in &m.assignment {
            topics.insert(topic.clone());
            for p in partitions {
                owner.insert((topic.clone(), *p), m.member_id.clone());
                assigned.push(format!("{topic}/{p}"));
            }
        }
        topics.extend(m.topics.iter().cloned());
        members.push(vec![
            m.member_id.clone(),
            m.session_timeout_ms.to_string(),
            m.topics.join(","),
            if assigned.is_empty() {
                "-".to_string()
            } else {
                assigned.join(",")
            },
        ]);
    }
    if !members.is_empty() {
        text.push_str(&table(
            &["MEMBER", "SESSION-MS", "TOPICS", "PARTITIONS"],
            &members,
        ));
    }
    let committed: BTreeMap<(String, u32), u64> = committed
        .into_iter()
        .map(|c| ((c.topic, c.partition), c.offset))
        .collect();
    let mut rows = Vec::new();
    for topic in topics {
        let Ok(described) = admin.describe_topic(&topic) else {
            rows.push(vec![
                topic,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "(topic gone)".into(),
            ]);
            continue;
        };
        for p in described.partitions {
            let key = (topic.clone(), p.partition);
            let done = committed
                .get(&key)
                .copied()
                .filter(|&o| o != NO_COMMITTED_OFFSET);
            let lag = done.map_or("-".to_string(), |c| {
                p.latest_offset.saturating_sub(c).to_string()
            });
            rows.push(vec![
                topic.clone(),
                p.partition.to_string(),
                done.map_or("-".to_string(), |c| c.to_string()),
                p.latest_offset.to_string(),
                lag,
                owner.get(&key).cloned().unwrap_or_else(|| "-".to_string()),
            ]);
        }
    }
    text.push_str(&table(
        &["TOPIC", "PARTITION", "COMMITTED", "LATEST", "LAG", "MEMBER"],
        &rows,
    ));
    emit(&text)
}

fn reset(
    admin: &mut Admin,
    group: &str,
    topic: &str,
    to: ResetTo,
    partition: Option<u32>,
) -> Result<(), CliError> {
    let description = admin.describe_group(group)?;
    if !description.members.is_empty() {
        return Err(CliError(format!(
            "group {group} has {} active members: stop its consumers before resetting",
            description.members.len()
        )));
    }
    let count = admin.describe_topic(topic)?.settings.partitions;
    let partitions: Vec<u32> = match partition {
        Some(p) if p >= count => {
            return Err(CliError(format!(
                "topic {topic} has {count} partitions, not {p}"
            )))
        }
        Some(p) => vec![p],
        None => (0..count).collect(),
    };
    let offsets: Vec<(u32, u64)> = match to {
        ResetTo::Offset(offset) => partitions.iter().map(|&p| (p, offset)).collect(),
        ResetTo::Earliest | ResetTo::Latest => {
            let spec = if to == ResetTo::Earliest {
                OffsetSpec::Earliest
            } else {
                OffsetSpec::Latest
            };
            let mut found = Vec::new();
            for (p, offset) in admin.list_offsets(topic, &partitions, spec)? {
                let offset = offset.map_err(|code| CliError(format!("{topic}/{p}: {code}")))?;
                found.push((p, offset));
            }
            found
        }
    };
    // The broker refuses this too (GroupNotEmpty) if a member joined since.
    admin.set_committed_offsets(group, topic, &offsets)?;
    let text: String = offsets
        .iter()
        .map(|(p, offset)| format!("group {group}: {topic}/{p} committed offset set to {offset}\n"))
        .collect();
    emit(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_accepts_names_and_offsets() {
        assert_eq!(parse_to("earliest"), Ok(ResetTo::Earliest));
        assert_eq!(parse_to("latest"), Ok(ResetTo::Latest));
        assert_eq!(parse_to("12"), Ok(ResetTo::Offset(12)));
        assert!(parse_to("-3").is_err());
    }
}
