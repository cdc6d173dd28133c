//! `shardlog-hostile`: a normal producer's latency and throughput with and
//! without hostile clients, and the broker's memory (loadtest::hostile).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use loadtest::hostile::report::{format_markdown, write_report};
use loadtest::hostile::{run, HostileArgs};

const EXAMPLES: &str = "Examples:
  shardlog-hostile --broker 127.0.0.1:9392 --report reports/hostile
  shardlog-hostile --idle-connections 200 --phase-s 5 --broker-pid 4242";

/// Measure how hostile clients (idle connections, slow senders, length
/// u32::MAX, garbage, truncated frames, reconnect churn) disturb a normal
/// fixed-rate producer, and the broker's RSS. Exits non-zero if the normal
/// producer had a failed record or the broker stopped answering.
#[derive(Parser)]
// No bare `about`: it would be the crate's description (the load
// harness's), not this tool's own, from the doc comment above.
#[command(version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    args: HostileArgs,
    /// Write hostile.json and hostile.md into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match run(&cli.args, |line| eprintln!("{line}")) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("shardlog-hostile: {message}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", format_markdown(&report));
    if let Some(dir) = &cli.report {
        match write_report(dir, &report) {
            Ok(paths) => paths
                .iter()
                .for_each(|p| eprintln!("wrote {}", p.display())),
            Err(e) => {
                eprintln!("shardlog-hostile: writing {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let failed = report.baseline.records_failed + report.hostile.records_failed;
    if failed > 0 || !report.broker_answers_after {
        eprintln!(
            "shardlog-hostile: {failed} records failed; broker answers after: {}",
            report.broker_answers_after
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_opens_with_this_tools_own_description() {
        for help in [
            Cli::command().render_help().to_string(),
            Cli::command().render_long_help().to_string(),
        ] {
            assert!(help.starts_with("Measure how hostile clients"), "{help}");
            assert!(!help.contains("load generator"), "{help}");
        }
    }
}
