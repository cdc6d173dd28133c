//! `shardlog stats`: a live view of the broker, one row per core, refreshed
//! every interval from the Stats API: requests/s, produce and fetch MB/s,
//! errors/s, connections, and produce latency over the last second.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use shardlog::client::{Admin, ConnectionConfig};
use shardlog::config::STATS_INTERVAL_MS_MIN;
use shardlog::protocol::stats::CoreStats;
use shardlog::units;

use super::outage::Outage;
use super::{BrokerArgs, CliError, CliResult};

/// Show per-core load live: requests/s, MB/s, p99, connections.
#[derive(Args, Debug)]
#[command(
    after_help = "Rates are over the last interval; p50/p99/max are produce request
latencies (read to answered) over the broker's last whole second.
On a terminal the view redraws in place; otherwise one table per interval,
its first line saying when (UTC). While the broker is away (stopped,
restarting) stats retries with a growing pause and says so once on
standard error; rates start again when it is back.

Examples:
  shardlog stats
  shardlog stats --broker 10.0.0.5:9392 --interval-ms 5s
  shardlog stats --count 3 > stats.txt"
)]
pub struct StatsArgs {
    /// Refresh every this many milliseconds (or 5s, 1m, ...; at least 100ms).
    #[arg(long, default_value = "1000", value_parser = interval_ms)]
    interval_ms: u64,
    /// Stop after this many refreshes [default: run until interrupted].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    #[command(flatten)]
    broker: BrokerArgs,
}

pub fn run(args: StatsArgs) -> CliResult {
    let mut admin = Admin::connect(&args.broker.broker, ConnectionConfig::default())?;
    let interval = Duration::from_millis(args.interval_ms);
    let redraw = std::io::stdout().is_terminal();
    let mut previous = (Instant::now(), admin.stats()?.cores);
    let mut outage = Outage::new(&args.broker.broker);
    let mut shown = 0;
    while args.count.is_none_or(|count| shown < count) {
        std::thread::sleep(interval);
        let now = match admin.stats() {
            Ok(stats) => (Instant::now(), stats.cores),
            // Outlive the broker: retry until it is back.
            Err(err) => {
                outage.failed(err, || false)?;
                continue;
            }
        };
        if outage.succeeded() {
            // Its counters may have restarted: rates start again from here.
            previous = now;
            continue;
        }
        let elapsed = now.0.saturating_duration_since(previous.0);
        let table = render(&previous.1, &now.1, elapsed);
        let mut out = std::io::stdout().lock();
        if redraw {
            // Home the cursor and clear the screen, then draw.
            write!(out, "\x1b[H\x1b[2J")?;
            writeln!(
                out,
                "shardlog stats: {} every {} ms",
                args.broker.broker, args.interval_ms
            )?;
        } else {
            // Piped or logged: each table says when it was taken (UTC).
            writeln!(
                out,
                "shardlog stats: {} every {} ms at {}",
                args.broker.broker,
                args.interval_ms,
                humantime::format_rfc3339_millis(std::time::SystemTime::now())
            )?;
        }
        write!(out, "{table}")?;
        out.flush().map_err(CliError::from)?;
        previous = now;
        shown += 1;
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per core of `now`, rates from its difference to `before`.
fn render(before: &[CoreStats], now: &[CoreStats], elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / seconds;
    let mut out = format!(
        "{:>5} {:>6} {:>10} {:>12} {:>12} {:>9} {:>10} {:>10} {:>10}\n",
        "core", "conns", "req/s", "produce MB/s", "fetch MB/s", "errors/s", "p50", "p99", "max"
    );
    for core in now {
        let zero = CoreStats::default();
        let was = before.iter().find(|b| b.core == core.core).unwrap_or(&zero);
        out.push_str(&format!(
            "{:>5} {:>6} {:>10.0} {:>12.1} {:>12.1} {:>9.0} {:>10} {:>10} {:>10}\n",
            core.core,
            core.connections,
            rate(core.requests, was.requests),
            rate(core.produce_bytes, was.produce_bytes) / 1e6,
            rate(core.fetch_bytes, was.fetch_bytes) / 1e6,
            rate(core.errors, was.errors),
            latency(core, core.produce_p50_us),
            latency(core, core.produce_p99_us),
            latency(core, core.produce_max_us),
        ));
    }
    out
}

/// A latency for the table: `-` when the core answered no produce in the
/// last second.
fn latency(core: &CoreStats, us: u64) -> String {
    match (core.window_produce_requests, us) {
        (0, _) => "-".to_string(),
        (_, us) if us < 1_000 => format!("{us} us"),
        (_, us) if us < 1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        (_, us) => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// `--interval-ms`: a duration, at least [`STATS_INTERVAL_MS_MIN`].
fn interval_ms(text: &str) -> Result<u64, String> {
    let ms = units::parse_milliseconds(text)?;
    if ms < STATS_INTERVAL_MS_MIN {
        return Err(format!("{ms} ms is below {STATS_INTERVAL_MS_MIN} ms"));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_differences_over_the_interval() {
        let before = vec![CoreStats {
            core: 0,
            requests: 100,
            produce_bytes: 1_000_000,
            ..Default::default()
        }];
        let now = vec![CoreStats {
            core: 0,
            connections: 4,
            requests: 300,
            produce_bytes: 5_000_000,
            window_produce_requests: 10,
            produce_p50_us: 450,
            produce_p99_us: 2_500,
            produce_max_us: 1_500_000,
            ..Default::default()
        }];
        let table = render(&before, &now, Duration::from_secs(2));
        let row = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            ["0", "4", "100", "2.0", "0.0", "0", "450", "us", "2.5", "ms", "1.50", "s"]
        );
    }

    #[test]
    fn no_produce_in_the_window_shows_no_latency() {
        let now = vec![CoreStats::default()];
        let table = render(&[], &now, Duration::from_secs(1));
        assert!(table.lines().nth(1).unwrap().ends_with('-'), "{table}");
    }
}
