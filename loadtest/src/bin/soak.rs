//! `shardlog-soak`: run a broker under the verifying workload, kill and
//! restart it at random moments, and check that nothing acknowledged was
//! lost. Exit code 0: passed; 1: an anomaly (loss, inconsistency, crash);
//! 2: the soak could not run.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use loadtest::soak::config::SoakArgs;
use loadtest::soak::driver::run_soak;
use loadtest::soak::report::{format_text, write_report};

const EXAMPLES: &str = "Examples:
  shardlog-soak --duration 2m --kill-every 5s
  shardlog-soak --duration 30m --kill-every 20s --sigterm-every 2m --rate 5000 --report target/soak-30m
  shardlog-soak --duration 10m --kill-every 10s --acks written --broker-arg=--flush-interval-ms=50";

/// Soak test for shardlog: a broker child process killed (SIGKILL) and/or
/// stopped (SIGTERM) at random moments and restarted under a verifying
/// load; a Jepsen-style checker reads everything back at the end.
#[derive(Parser)]
// No bare `about`: it would be the crate's description (the load
// harness's), not this tool's own, from the doc comment above.
#[command(version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    soak: SoakArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The client warns of every refused connection, and an outage is
    // full of them.
    shardlog::logging::init_stderr_logging("warn,shardlog::client=error");
    // Ctrl-C or SIGTERM: the soak stops what it started and reports.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, interrupted.clone()) {
            eprintln!("shardlog-soak: cannot handle signal {signal}: {e}");
            return ExitCode::from(2);
        }
    }
    let report = match run_soak(&cli.soak, &interrupted) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("shardlog-soak: {message}");
            return ExitCode::from(2);
        }
    };
    println!("{}", format_text(&report));
    if let Some(dir) = &cli.soak.report {
        match write_report(dir, &report) {
            Ok(paths) => {
                for path in paths {
                    eprintln!("wrote {}", path.display());
                }
            }
            Err(e) => {
                eprintln!(
                    "shardlog-soak: writing the report to {}: {e}",
                    dir.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    if interrupted.load(Ordering::Relaxed) {
        return ExitCode::from(130);
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
            assert!(help.starts_with("Soak test for shardlog"), "{help}");
            assert!(!help.contains("load generator"), "{help}");
        }
    }
}
