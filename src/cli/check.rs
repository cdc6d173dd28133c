//! `shardlog check`: offline verification of a data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use glommio::{LocalExecutorBuilder, Placement};

use shardlog::shard::runtime::lock_data_dir;
use shardlog::storage::check::{check_partition, PartitionReport};
use shardlog::storage::{prime_executor_io, DmaStorage};

use super::{CliError, CliResult};

const EXAMPLES: &str = "Examples:
  shardlog check --data-dir ./data
  shardlog check --data-dir ./data --repair     # truncate torn tails, as recovery would";

/// Memory the checker registers with io_uring.
const CHECK_IO_MEMORY_BYTES: usize = 1 << 20;

/// Verify every segment of a stopped broker's data directory: batch CRCs,
/// dense offsets, index consistency. Exits non-zero on problems.
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

/// Every partition directory: `<data>/topics/<topic>/<partition>`.
fn partition_dirs(data_dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let topics = data_dir.join("topics");
    if !topics.exists() {
        return Ok(found);
    }
    for topic in std::fs::read_dir(&topics)? {
        let topic = topic?;
        for partition in std::fs::read_dir(topic.path())? {
            let partition = partition?;
            let name = partition.file_name().to_string_lossy().into_owned();
            if partition.path().is_dir() && name.parse::<u32>().is_ok() {
                found.push((
                    format!("{}/{name}", topic.file_name().to_string_lossy()),
                    partition.path(),
                ));
            }
        }
    }
    found.sort();
    Ok(found)
}

pub fn run(args: CheckArgs) -> CliResult {
    let data_dir = std::fs::canonicalize(&args.data_dir).map_err(|e| {
        CliError(format!(
            "cannot open data dir {}: {e}",
            args.data_dir.display()
        ))
    })?;
    let _lock = lock_data_dir(&data_dir).map_err(CliError)?;
    let partitions = partition_dirs(&data_dir)?;
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
                for (name, dir) in partitions {
                    let report = check_partition(&DmaStorage, &dir, repair).await;
                    reports.push((name, report));
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
