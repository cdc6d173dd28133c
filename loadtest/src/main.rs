//! `shardlog-loadtest`: drive a running broker and report throughput and
//! latency; run a suite of workloads from a file; compare two runs; plot
//! several.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

use loadtest::compare::{compare_with, CompareOptions};
use loadtest::provenance::{DataDir, Limits};
use loadtest::report::{format_report, write_outcome, write_overlay, PlotLatency};
use loadtest::resources::{DataDisk, Probes};
use loadtest::run::{run_with, Outcome};
use loadtest::suite::{format_suite_table, report_dir, Suite};
use loadtest::workload::{Protocol, Workload};

const EXAMPLES: &str = "Examples:
  shardlog-loadtest --broker 127.0.0.1:9392 --partitions 16 --producers 4 --consumers 4 --duration 30s
  shardlog-loadtest --rate 50000 --duration 1m --batch-bytes 64KiB --report tmp/reports/rate-50k
  shardlog-loadtest --protocol kafka --broker 127.0.0.1:9092 --duration 30s --report tmp/reports/kafka
  shardlog-loadtest --pipeline 64 --partitions 1 --producers 1 --consumers 0 \\
      --broker-metrics 127.0.0.1:9644 --data-dir /var/lib/shardlog --report tmp/reports/p64
  shardlog-loadtest --compare tmp/reports/a/summary.json tmp/reports/b/summary.json
  shardlog-loadtest --compare tmp/reports/base tmp/reports/new --threshold 5
  shardlog-loadtest --plot tmp/reports/a tmp/reports/b tmp/reports/c --out cmp.svg
  shardlog-loadtest --plot tmp/reports/a tmp/reports/b --out cmp.png
  shardlog-loadtest --suite loadtest/suites/standard.toml --suite-out tmp/reports/suite --duration 5s

Durations take units (500ms, 30s, 2m; a plain number is seconds, or
milliseconds for --linger-ms), sizes too (64KiB, 1MiB; a plain number is
bytes). --broker defaults to $SHARDLOG_BROKER, then 127.0.0.1:9392 (with
--protocol kafka: 127.0.0.1:9092, shardlog's Kafka port).

Exit status: 0 done; 1 error (a run failed, a file is unreadable, --compare
--threshold refused two different workloads); 2 bad arguments; 3 --compare
--threshold found B worse than A beyond the threshold.";

/// `--version`: the crate's version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SHARDLOG_GIT_COMMIT"),
    ")"
);

/// `--compare --threshold`: B is worse than A beyond the threshold.
const EXIT_REGRESSION: u8 = 3;

/// Load harness for shardlog: max-throughput (closed loop, --inflight) or
/// fixed-rate (open loop, --rate) produce and consume, with latency
/// histograms.
#[derive(Parser)]
#[command(version = VERSION, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    workload: Workload,
    /// Write histograms (.hgrm), interval logs (.hlog), summary.json and
    /// plots (.svg, and each as .png) into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The broker's data directory, when it is on this machine: its file
    /// system (type, device, mount options) goes into summary.json, and
    /// its block device's writes and flushes over the measured window
    /// (/proc/diskstats): bytes written per record byte.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The broker's metrics endpoint (`shardlog serve --metrics-listen`):
    /// its process_cpu_seconds_total is read at the start and the end of
    /// the measured window, for the broker's CPU per record and per
    /// request.
    #[arg(long, value_name = "HOST:PORT")]
    broker_metrics: Option<String>,
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
    /// The overlay's file: .svg, or .png for the same plot as a picture.
    #[arg(long, value_name = "FILE", requires = "plot")]
    out: Option<PathBuf>,
    /// Which latency --plot draws from a report directory.
    #[arg(long, value_enum, default_value = "produce-ack", requires = "plot")]
    plot_latency: PlotLatency,
    /// Run the workloads of this suite file (TOML) one after the other,
    /// each on its own topic; --broker (or SHARDLOG_BROKER), --protocol, --duration
    /// and --warmup given on the command line override the file's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["compare", "plot", "report"])]
    suite: Option<PathBuf>,
    /// Where the suite's reports go: DIR/runs/NAME/report/ (needed to
    /// run a suite; a run's relative rate is read from there).
    #[arg(long, value_name = "DIR", requires = "suite")]
    suite_out: Option<PathBuf>,
    /// Run only these runs of the suite (repeat the flag), e.g. one group
    /// per fresh broker as scripts/bench.sh does.
    #[arg(long, value_name = "NAME", requires = "suite")]
    suite_run: Vec<String>,
    /// Print the suite's runs (group, name, partitions, acks, mode; tab
    /// separated) instead of running them.
    #[arg(long, requires = "suite")]
    suite_list: bool,
}

/// How `shardlog-loadtest` ended.
enum Ending {
    Done,
    Regression,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    // SHARDLOG_BROKER, as for every shardlog tool, over a suite file's.
    let broker_given =
        given("broker") || matches.value_source("broker") == Some(ValueSource::EnvVariable);
    let overrides = Overrides {
        broker: broker_given.then(|| cli.workload.broker.clone()),
        protocol: given("protocol").then_some(cli.workload.protocol),
        duration: given("duration").then_some(cli.workload.duration),
        warmup: given("warmup").then_some(cli.workload.warmup),
    };
    // A suite file's runs carry their own settings; the command line's
    // (flag defaults included) apply to a single run only.
    if cli.suite.is_some() {
        cli.workload = Workload::default();
    } else if !broker_given {
        cli.workload.use_kafka_default_broker();
    }
    match run_cli(cli, &overrides) {
        Ok(Ending::Done) => ExitCode::SUCCESS,
        Ok(Ending::Regression) => ExitCode::from(EXIT_REGRESSION),
        Err(message) => {
            eprintln!("shardlog-loadtest: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Settings given on the command line that override a suite file's.
struct Overrides {
    broker: Option<String>,
    protocol: Option<Protocol>,
    duration: Option<f64>,
    warmup: Option<f64>,
}

impl Overrides {
    fn apply(&self, workload: &mut Workload) {
        if let Some(broker) = &self.broker {
            workload.broker = broker.clone();
        }
        if let Some(protocol) = self.protocol {
            workload.protocol = protocol;
        }
        if let Some(duration) = self.duration {
            workload.duration = duration;
        }
        if let Some(warmup) = self.warmup {
            workload.warmup = warmup;
        }
    }
}

fn run_cli(cli: Cli, overrides: &Overrides) -> Result<Ending, String> {
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
    if let Some(file) = &cli.suite {
        return run_suite(&cli, file, overrides);
    }
    let outcome = run_one(&cli, &cli.workload, cli.report.as_deref())?;
    if outcome.summary.records_failed > 0 {
        return Err(format!("{} records failed", outcome.summary.records_failed));
    }
    Ok(Ending::Done)
}

/// One run: the live line on standard error, the report on standard
/// output (so `> report.txt` keeps only the result), the files in
/// `report` when given.
fn run_one(cli: &Cli, workload: &Workload, report: Option<&Path>) -> Result<Outcome, String> {
    // Both are read before the run, so a typo fails at once.
    let data_dir = cli.data_dir.as_deref().map(DataDir::of).transpose()?;
    let limits = cli.limits.as_deref().map(Limits::read).transpose()?;
    let probes = Probes {
        broker_metrics: cli.broker_metrics.clone(),
        disk: cli.data_dir.as_deref().map(DataDisk::of).transpose()?,
    };
    let mut outcome = run_with(workload, &probes, |line| eprintln!("{line}"))?;
    if let Some(provenance) = &mut outcome.summary.provenance {
        provenance.host.data_dir = data_dir;
        provenance.limits = limits;
    }
    println!("{}", format_report(&outcome.summary));
    if let Some(dir) = report {
        let written = write_outcome(dir, &outcome)
            .map_err(|e| format!("writing the report to {}: {e}", dir.display()))?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(outcome)
}

/// The runs of a suite file in order (or those --suite-run names). A run
/// that fails is reported and the suite goes on; runs whose rate comes
/// from it fail in turn. Ends with a table of every run.
fn run_suite(cli: &Cli, file: &Path, overrides: &Overrides) -> Result<Ending, String> {
    let suite = Suite::read(file)?;
    for name in &cli.suite_run {
        suite.run(name)?;
    }
    let selected: Vec<_> = suite
        .runs
        .iter()
        .filter(|run| cli.suite_run.is_empty() || cli.suite_run.contains(&run.name))
        .collect();
    if cli.suite_list {
        for run in selected {
            let mode = match (&run.rate_percent_of, run.workload.rate) {
                (Some(of), _) => format!("rate {}% of {}", of.percent, of.run),
                (None, Some(rate)) => format!("rate {rate}"),
                (None, None) => "max".to_string(),
            };
            println!(
                "{}\t{}\t{}\t{}\t{mode}",
                run.group_name(),
                run.name,
                run.workload.partitions,
                format!("{:?}", run.workload.acks).to_lowercase(),
            );
        }
        return Ok(Ending::Done);
    }
    let out = cli
        .suite_out
        .as_deref()
        .ok_or("--suite needs --suite-out DIR for the reports")?;
    let mut results = Vec::with_capacity(selected.len());
    for suite_run in selected {
        eprintln!("suite {}: run {}", file.display(), suite_run.name);
        let result = suite.workload_for(suite_run, out).and_then(|mut workload| {
            overrides.apply(&mut workload);
            if overrides.broker.is_none() {
                workload.use_kafka_default_broker();
            }
            let dir = report_dir(out, &suite_run.name);
            let outcome = run_one(cli, &workload, Some(&dir))?;
            match outcome.summary.records_failed {
                0 => Ok(outcome.summary),
                failed => Err(format!("{failed} records failed")),
            }
        });
        if let Err(error) = &result {
            eprintln!("suite: run {} failed: {error}", suite_run.name);
        }
        results.push((suite_run.name.clone(), result));
    }
    print!("{}", format_suite_table(&results));
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    if failed > 0 {
        return Err(format!("{failed} of {} runs failed", results.len()));
    }
    Ok(Ending::Done)
}
