//! `shardlog-loadtest`: drive a running broker and report throughput and
//! latency; or compare two runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use loadtest::compare::{compare_with, CompareOptions};
use loadtest::provenance::{DataDir, Limits};
use loadtest::report::{format_report, write_outcome, write_overlay, PlotLatency};
use loadtest::run::run;
use loadtest::workload::Workload;

const EXAMPLES: &str = "Examples:
  shardlog-loadtest --broker 127.0.0.1:9092 --partitions 16 --producers 4 --consumers 4 --duration 30
  shardlog-loadtest --rate 50000 --duration 60 --report reports/rate-50k
  shardlog-loadtest --compare reports/a/summary.json reports/b/summary.json
  shardlog-loadtest --compare reports/base reports/new --threshold 5
  shardlog-loadtest --plot reports/a reports/b reports/c --out cmp.svg

Exit status: 0 done; 1 error (a run failed, a file is unreadable, --compare
--threshold refused two different workloads); 2 bad arguments; 3 --compare
--threshold found B worse than A beyond the threshold.";

/// `--compare --threshold`: B is worse than A beyond the threshold.
const EXIT_REGRESSION: u8 = 3;

/// Load harness for shardlog: max-throughput (closed loop, --inflight) or
/// fixed-rate (open loop, --rate) produce and consume, with latency
/// histograms.
#[derive(Parser)]
#[command(version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    workload: Workload,
    /// Write histograms (.hgrm), interval logs (.hlog), summary.json and
    /// plots into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The broker's data directory, when it is on this machine: its file
    /// system (type, device, mount options) goes into summary.json.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The machine's limits measured in the same suite (a limits.json as
    /// scripts/bench.sh writes it), recorded in summary.json.
    #[arg(long, value_name = "FILE")]
    limits: Option<PathBuf>,
    /// Print two runs' summary.json side by side instead of running (a
    /// report directory stands for its summary.json).
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    compare: Option<Vec<PathBuf>>,
    /// With --compare: exit with status 3 when a gated metric of B
    /// (throughput, latency to p99, errors) is worse than A's by more than
    /// this percent; refuse (status 1) when the workloads differ in shape.
    #[arg(long, value_name = "PERCENT", requires = "compare")]
    threshold: Option<f64>,
    /// With --compare --threshold: gate even when the workloads differ.
    #[arg(long, requires = "threshold")]
    allow_different_workloads: bool,
    /// Overlay these runs' latency percentiles (report directories or
    /// .hgrm files) in one plot, --out, instead of running.
    #[arg(long, num_args = 1.., value_name = "RUN", requires = "out", conflicts_with = "compare")]
    plot: Option<Vec<PathBuf>>,
    /// The overlay's file (.svg).
    #[arg(long, value_name = "FILE", requires = "plot")]
    out: Option<PathBuf>,
    /// Which latency --plot draws from a report directory.
    #[arg(long, value_enum, default_value = "produce-ack", requires = "plot")]
    plot_latency: PlotLatency,
}

/// How `shardlog-loadtest` ended.
enum Ending {
    Done,
    Regression,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_cli(cli) {
        Ok(Ending::Done) => ExitCode::SUCCESS,
        Ok(Ending::Regression) => ExitCode::from(EXIT_REGRESSION),
        Err(message) => {
            eprintln!("shardlog-loadtest: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> Result<Ending, String> {
    if let (Some(runs), Some(out)) = (&cli.plot, &cli.out) {
        write_overlay(runs, cli.plot_latency, out)?;
        eprintln!("wrote {}", out.display());
        return Ok(Ending::Done);
    }
    if let Some(files) = cli.compare {
        let options = CompareOptions {
            threshold_percent: cli.threshold,
            allow_different_workloads: cli.allow_different_workloads,
        };
        let comparison = compare_with(&files[0], &files[1], &options)?;
        println!("{}", comparison.text);
        return Ok(if comparison.regressions.is_empty() {
            Ending::Done
        } else {
            Ending::Regression
        });
    }
    // Both are read before the run, so a typo fails at once.
    let data_dir = cli.data_dir.as_deref().map(DataDir::of).transpose()?;
    let limits = cli.limits.as_deref().map(Limits::read).transpose()?;
    // The live line goes to standard error, the final report to standard
    // output, so `> report.txt` keeps only the result.
    let mut outcome = run(&cli.workload, |line| eprintln!("{line}"))?;
    if let Some(provenance) = &mut outcome.summary.provenance {
        provenance.host.data_dir = data_dir;
        provenance.limits = limits;
    }
    println!("{}", format_report(&outcome.summary));
    if let Some(dir) = cli.report {
        let written = write_outcome(&dir, &outcome)
            .map_err(|e| format!("writing the report to {}: {e}", dir.display()))?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    }
    if outcome.summary.records_failed > 0 {
        return Err(format!("{} records failed", outcome.summary.records_failed));
    }
    Ok(Ending::Done)
}
