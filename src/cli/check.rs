//! `shardlog check`: offline verification of a data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use glommio::{LocalExecutorBuilder, Placement};

use shardlog::config::CHECK_IO_MEMORY_BYTES;
use shardlog::group_logic::{commit_log, OFFSETS_LOG};
use shardlog::shard::runtime::lock_data_dir;
use shardlog::storage::check::{check_partition, PartitionReport, RecordCheck};
use shardlog::storage::{prime_executor_io, DmaStorage};
use shardlog::topics::store::TOPICS_FILE;

use super::{CliError, CliResult};

const EXAMPLES: &str = "Examples:
  shardlog check --data-dir ./data
  shardlog check --data-dir ./data --repair     # truncate torn tails, as recovery would";

/// Where the topics' partitions live, under the data dir.
const TOPICS_DIR: &str = "topics";
/// Where the broker's internal logs (the committed offsets) live.
const INTERNAL_DIR: &str = "internal";

/// Verify every segment of a stopped broker's data directory, the topics'
/// partitions and the committed-offsets log (`internal/__consumer_offsets`):
/// batch CRCs, dense offsets, index consistency, and that every committed
/// offset decodes as the broker replays it. Exits non-zero on
/// problems, and when the directory is missing or holds no shardlog data.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    /// The broker's data directory (the broker must be stopped).
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Truncate a torn tail of a partition's last segment, as recovery
    /// would; damage elsewhere is only reported.
    #[arg(long)]
    repair: bool,
}

/// One partition directory to check.
struct PartitionToCheck {
    /// As printed: `topic/partition`, or `internal/<log>/<partition>`.
    name: String,
    dir: PathBuf,
    /// How its records are decoded, for a log with a record format of its
    /// own (the committed offsets).
    record_check: Option<RecordCheck>,
}

/// Every partition directory of every log: the topics'
/// (`<data>/topics/<topic>/<partition>`, named `topic/partition`) and the
/// broker's internal logs such as the committed offsets
/// (`<data>/internal/__consumer_offsets/<partition>`, named by that path),
/// whose records are decoded as the broker replays them.
fn partitions_to_check(data_dir: &Path) -> std::io::Result<Vec<PartitionToCheck>> {
    let topics = logs_under(&data_dir.join(TOPICS_DIR), "")?
        .into_iter()
        .map(|(_, name, dir)| PartitionToCheck {
            name,
            dir,
            record_check: None,
        });
    let internal = logs_under(&data_dir.join(INTERNAL_DIR), &format!("{INTERNAL_DIR}/"))?
        .into_iter()
        .map(|(log, name, dir)| PartitionToCheck {
            name,
            dir,
            record_check: (log == OFFSETS_LOG).then_some(commit_log::check_record as RecordCheck),
        });
    Ok(topics.chain(internal).collect())
}

/// The partition directories `<root>/<log>/<partition>` as (log, name,
/// dir), named `<prefix><log>/<partition>`, sorted; none if `root` does
/// not exist.
fn logs_under(root: &Path, prefix: &str) -> std::io::Result<Vec<(String, String, PathBuf)>> {
    let mut found = Vec::new();
    if !root.exists() {
        return Ok(found);
    }
    for log in std::fs::read_dir(root)? {
        let log = log?;
        if !log.path().is_dir() {
            continue;
        }
        let log_name = log.file_name().to_string_lossy().into_owned();
        for partition in std::fs::read_dir(log.path())? {
            let partition = partition?;
            let name = partition.file_name().to_string_lossy().into_owned();
            if partition.path().is_dir() && name.parse::<u32>().is_ok() {
                found.push((
                    log_name.clone(),
                    format!("{prefix}{log_name}/{name}"),
                    partition.path(),
                ));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `data_dir` holds anything a broker wrote: the topic map, topic
/// partitions or internal logs. A typo in `--data-dir` must not pass as
/// "0 problems".
fn holds_shardlog_data(data_dir: &Path) -> bool {
    [TOPICS_FILE, TOPICS_DIR, INTERNAL_DIR]
        .iter()
        .any(|name| data_dir.join(name).exists())
}

pub fn run(args: CheckArgs) -> CliResult {
    let data_dir = std::fs::canonicalize(&args.data_dir).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "not found"
        } else {
            "cannot be opened"
        };
        CliError(format!("data dir {} {what}: {e}", args.data_dir.display()))
    })?;
    // Before the lock, which would leave a lock file behind in a directory
    // that is not a broker's.
    if !holds_shardlog_data(&data_dir) {
        return Err(CliError(format!(
            "no shardlog data found in {} (no {TOPICS_FILE}, {TOPICS_DIR}/ or {INTERNAL_DIR}/): \
             is --data-dir the broker's data directory?",
            data_dir.display()
        )));
    }
    let _lock = lock_data_dir(&data_dir).map_err(CliError)?;
    let partitions = partitions_to_check(&data_dir)?;
    let repair = args.repair;
    let probe_dir = data_dir.clone();
    let reports: Vec<(String, std::io::Result<PartitionReport>)> =
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(CHECK_IO_MEMORY_BYTES)
            .make()
            .map_err(|e| CliError(format!("starting the I/O executor: {e}")))?
            .run(async move {
                if let Err(e) = prime_executor_io(&probe_dir).await {
                    return vec![("(setup)".to_string(), Err(e))];
                }
                let mut reports = Vec::new();
                for partition in partitions {
                    let report = check_partition(
                        &DmaStorage,
                        &partition.dir,
                        repair,
                        partition.record_check,
                    )
                    .await;
                    reports.push((partition.name, report));
                }
                reports
            });
    let mut problems = 0;
    let mut records = 0;
    for (name, report) in &reports {
        match report {
            Err(e) => {
                problems += 1;
                println!("{name}: cannot check: {e}");
            }
            Ok(r) => {
                records += r.records;
                let status = if r.problems.is_empty() {
                    "ok"
                } else {
                    "PROBLEMS"
                };
                println!(
                    "{name}: {} segments, {} batches, {} records, offsets {}..{}, {} bytes: {status}",
                    r.segments,
                    r.batches,
                    r.records,
                    r.first_offset.unwrap_or(0),
                    r.next_offset,
                    r.bytes
                );
                for p in &r.problems {
                    println!("  {p}");
                }
                problems += r.unrepaired();
            }
        }
    }
    println!(
        "checked {} partitions, {records} records: {problems} problems",
        reports.len()
    );
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
