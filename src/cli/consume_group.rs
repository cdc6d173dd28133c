//! `shardlog consume TOPIC --group G`: read as a member of a consumer
//! group, starting where the group's committed offsets say, and commit
//! exactly what was printed before exiting (at the end, at --count, or on
//! SIGINT/SIGTERM), so the next run continues where this one stopped.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use shardlog::client::{
    Admin, ConnectionConfig, ConsumerConfig, GroupConsumer, GroupConsumerConfig, OffsetReset,
    OffsetSpec, StartFrom,
};
use shardlog::config::{CONSUME_FOLLOW_WAIT_MS, CONSUME_WAIT_MS};

use super::consume::{print_record, quiet_on_broken_pipe, ConsumeArgs};
use super::outage::Outage;
use super::{CliError, CliResult};

pub fn run(args: &ConsumeArgs, group: &str) -> CliResult {
    let auto_offset_reset = match args.from {
        StartFrom::Earliest => OffsetReset::Earliest,
        StartFrom::Latest => OffsetReset::Latest,
        _ => {
            return Err(CliError(
                "with --group, --from takes only `earliest` or `latest` (where a partition \
                 without a committed offset starts); set offsets with `shardlog group reset`"
                    .into(),
            ))
        }
    };
    let bootstrap = args.broker.broker.clone();
    // Without --follow, each partition ends at its latest offset now.
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default())?;
    let count = admin.describe_topic(&args.topic)?.settings.partitions;
    let all: Vec<u32> = (0..count).collect();
    let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
    for (p, end) in admin.list_offsets(&args.topic, &all, OffsetSpec::Latest)? {
        let end = end.map_err(|code| CliError(format!("{}/{p}: {code}", args.topic)))?;
        ends.insert(p, end);
    }
    drop(admin);

    let mut consumer = GroupConsumer::new(GroupConsumerConfig {
        consumer: ConsumerConfig {
            bootstrap,
            max_wait_ms: if args.follow {
                CONSUME_FOLLOW_WAIT_MS
            } else {
                CONSUME_WAIT_MS
            },
            ..ConsumerConfig::default()
        },
        group: group.to_string(),
        // Commits are of what was printed, at the end.
        auto_commit: false,
        auto_offset_reset,
        ..GroupConsumerConfig::default()
    })?;
    consumer.subscribe(&[&args.topic]);
    // Ctrl-C (or a service stop) ends the loop at the next poll, so what
    // was printed is still committed.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupted.clone())
            .map_err(|e| CliError(format!("installing the signal handler: {e}")))?;
    }

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    // Per partition, the offset after the last record printed.
    let mut printed_next: BTreeMap<u32, u64> = BTreeMap::new();
    let mut printed = 0u64;
    let wanted = args.count.unwrap_or(u64::MAX);
    let mut broken_pipe = None;
    let mut outage = Outage::new(&args.broker.broker);
    'reading: while printed < wanted && !interrupted.load(Ordering::Relaxed) {
        let records = match consumer.poll() {
            // --follow outlives the broker: retry until it is back.
            Err(err) if args.follow && err.is_retriable() => {
                outage.failed(err, || interrupted.load(Ordering::Relaxed))?;
                continue;
            }
            result => result?,
        };
        outage.succeeded();
        for record in records {
            if printed == wanted {
                break;
            }
            if !args.follow
                && ends
                    .get(&record.partition)
                    .is_none_or(|&end| record.offset >= end)
            {
                continue;
            }
            let written = print_record(&mut out, args.format, &record);
            if let Err(err) = written.and_then(|()| out.flush()) {
                broken_pipe = Some(err);
                break 'reading;
            }
            printed_next.insert(record.partition, record.offset + 1);
            printed += 1;
        }
        if let Err(err) = out.flush() {
            broken_pipe = Some(err);
            break;
        }
        let at_end = |(topic, p): &(String, u32)| {
            consumer
                .position(topic, *p)
                .zip(ends.get(p))
                .is_some_and(|(at, end)| at >= *end)
        };
        if !args.follow
            && consumer.generation().is_some()
            && consumer.assignment().iter().all(at_end)
        {
            break;
        }
    }
    // Commit what was printed, for the partitions still this member's.
    let offsets: Vec<(String, u32, u64)> = printed_next
        .into_iter()
        .filter(|(p, _)| consumer.assignment().iter().any(|(_, q)| q == p))
        .map(|(p, next)| (args.topic.clone(), p, next))
        .collect();
    consumer.commit_offsets(&offsets)?;
    consumer.close()?;
    match broken_pipe {
        Some(err) => quiet_on_broken_pipe(err),
        None => Ok(ExitCode::SUCCESS),
    }
}
