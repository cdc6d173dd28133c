//! `shardlog-hostile`: how much hostile clients disturb a normal producer.
//!
//! Against a running broker: the normal producer (the loadtest producer,
//! fixed rate, durable acks) runs a baseline phase alone, then the same
//! phase again while hostile clients run: idle connections, slow senders,
//! frames with length u32::MAX, random garbage, truncated frames and
//! reconnect churn. The report gives the producer's ack latency and
//! throughput in both phases (and their ratios), what each hostile client
//! saw, and the broker's RSS and descriptors before, during and after.
//!
//! - [`frames`]: raw request frames and bounded response reads.
//! - [`idle`]: the idle connections and the open-file limit.
//! - [`attacks`]: every other hostile client, one thread each.
//! - [`broker_process`]: the broker's pid, RSS and descriptors from /proc.
//! - [`report`]: `hostile.json` and `hostile.md`.

pub mod attacks;
pub mod broker_process;
pub mod frames;
pub mod idle;
pub mod report;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Args;
use shardlog::units;

use self::attacks::HostileLoad;
use self::broker_process::ProcessSample;
use self::frames::{answer_or_silence, api_versions_frame, connect, Answer};
use self::idle::IdleConnections;
use self::report::{BrokerMemory, HostileReport, Machine, PhaseFigures, Ratios};
use crate::workload::{AcksArg, ConsumersFrom, Protocol, Workload};

/// How often the broker's RSS is sampled during the hostile phase.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// Every setting of a hostile run.
#[derive(Args, Clone, Debug)]
pub struct HostileArgs {
    /// Broker address (any listener).
    #[arg(long, env = "SHARDLOG_BROKER", default_value = "127.0.0.1:9392")]
    pub broker: String,
    /// The broker's pid, for its RSS [default: the one `shardlog serve` running].
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Topic of the normal producer; created if missing.
    #[arg(long, default_value = "hostile-steady")]
    pub topic: String,
    /// Partitions of that topic when created.
    #[arg(long, default_value_t = 2)]
    pub partitions: u32,
    /// The normal producer's fixed rate, records/s.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Bytes of each of its records.
    #[arg(long, default_value = "1024", value_parser = units::bytes_usize)]
    pub record_bytes: usize,
    /// How long each phase (baseline, then hostile) is measured: 20s, 1m (a plain number is seconds).
    #[arg(long, default_value = "20", value_parser = units::seconds)]
    pub phase_s: f64,
    /// Warmup before each phase's measurement (a plain number is seconds).
    #[arg(long, default_value = "2", value_parser = units::seconds)]
    pub warmup_s: f64,
    /// Idle connections held open during the hostile phase.
    #[arg(long, default_value_t = 10_000)]
    pub idle_connections: usize,
    /// Slow senders: connections sending requests one byte at a time.
    #[arg(long, default_value_t = 100)]
    pub slow_senders: usize,
    /// Milliseconds between two bytes of a slow sender (or 1s, 250ms).
    #[arg(long, default_value = "100", value_parser = units::milliseconds)]
    pub slow_byte_interval_ms: u64,
    /// Attempts per second of each of: length u32::MAX, random garbage,
    /// truncated frame, reconnect churn (0: none of them).
    #[arg(long, default_value_t = 200)]
    pub attack_rate: u32,
    /// How long to wait after the hostile load before sampling RSS again (a plain number is seconds).
    #[arg(long, default_value = "3", value_parser = units::seconds)]
    pub settle_s: f64,
}

impl HostileArgs {
    /// The normal producer: one loadtest producer at a fixed rate, durable
    /// acks, no consumers.
    pub fn workload(&self) -> Workload {
        Workload {
            broker: self.broker.clone(),
            // The hostile clients speak the native protocol; so does the
            // normal producer beside them.
            protocol: Protocol::Native,
            topic: self.topic.clone(),
            topics: 1,
            partitions: self.partitions,
            producers: 1,
            consumers: 0,
            consumers_from: ConsumersFrom::Tail,
            record_bytes: self.record_bytes,
            key_bytes: 0,
            batch_bytes: 256 << 10,
            linger_ms: 1,
            acks: AcksArg::Durable,
            duration: self.phase_s,
            records: None,
            warmup: self.warmup_s,
            inflight: 4096,
            rate: Some(self.rate),
            pipeline: None,
        }
    }

    pub fn load(&self) -> HostileLoad {
        HostileLoad {
            idle_connections: self.idle_connections,
            slow_senders: self.slow_senders,
            slow_byte_interval_ms: self.slow_byte_interval_ms,
            attack_rate_per_s: self.attack_rate,
        }
    }
}

/// Runs the baseline and the hostile phase; `live` gets progress lines.
pub fn run(args: &HostileArgs, live: impl Fn(&str)) -> Result<HostileReport, String> {
    let workload = args.workload();
    workload.validate()?;
    let addr = resolve(&args.broker)?;
    let broker_pid = match args.broker_pid {
        Some(pid) => Some(pid),
        None => match broker_process::discover() {
            Ok(pid) => Some(pid),
            Err(e) => {
                live(&format!("no broker RSS: {e}"));
                None
            }
        },
    };
    let sample = || broker_pid.and_then(|pid| broker_process::sample(pid).ok());
    let nofile_limit = idle::raise_nofile_limit(args.idle_connections)?;
    let loadavg_before = loadavg();

    live("baseline: the normal producer alone");
    let baseline = crate::run::run(&workload, &live)?;
    let before = sample();

    live(&format!(
        "hostile: opening {} idle connections",
        args.idle_connections
    ));
    let mut idle = IdleConnections::open(addr, args.idle_connections);
    let load = args.load();
    let running = attacks::start(addr, &load);
    let sampler = Sampler::start(broker_pid);
    live("hostile: the normal producer with the hostile load");
    let hostile = crate::run::run(&workload, &live);
    let idle_figures = idle.check();
    let attacks = running.stop();
    let during_max = sampler.stop();
    drop(idle);
    let hostile = hostile?;

    let broker_answers_after = answers_api_versions(addr);
    std::thread::sleep(Duration::from_secs_f64(args.settle_s.max(0.0)));
    let after = sample();

    let baseline = PhaseFigures::of(&baseline.summary);
    let hostile = PhaseFigures::of(&hostile.summary);
    Ok(HostileReport {
        broker: args.broker.clone(),
        broker_pid,
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            loadavg_before,
            loadavg_after: loadavg(),
        },
        nofile_limit,
        load,
        producer: workload.describe(),
        ratios: Ratios::of(&baseline, &hostile),
        baseline,
        hostile,
        idle: idle_figures,
        attacks: [
            ("slow_senders", &attacks.slow_senders),
            ("huge_length", &attacks.huge_length),
            ("garbage", &attacks.garbage),
            ("truncated", &attacks.truncated),
            ("churn", &attacks.churn),
        ]
        .into_iter()
        .map(|(name, stats)| (name.to_string(), stats.figures()))
        .collect(),
        broker_memory: BrokerMemory {
            before,
            during_max,
            after,
        },
        broker_answers_after,
    })
}

fn resolve(broker: &str) -> Result<SocketAddr, String> {
    broker
        .to_socket_addrs()
        .map_err(|e| format!("--broker {broker}: {e}"))?
        .next()
        .ok_or_else(|| format!("--broker {broker}: no address"))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new connection's ApiVersions request is answered successfully.
pub fn answers_api_versions(addr: SocketAddr) -> bool {
    use std::io::Write;
    let Ok(mut stream) = connect(addr) else {
        return false;
    };
    if stream.write_all(&api_versions_frame(42)).is_err() {
        return false;
    }
    matches!(
        answer_or_silence(&mut stream),
        Ok(Answer::Response(h)) if h.error_code == 0 && h.correlation_id == 42
    )
}

/// Samples the broker every [`SAMPLE_INTERVAL`] on a thread; keeps the
/// largest RSS and descriptor count.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<ProcessSample>>>,
}

impl Sampler {
    fn start(pid: Option<u32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = pid.map(|pid| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut max: Option<ProcessSample> = None;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(s) = broker_process::sample(pid) {
                        let m = max.get_or_insert(s);
                        m.rss_kib = m.rss_kib.max(s.rss_kib);
                        m.fds = m.fds.max(s.fds);
                    }
                    std::thread::sleep(SAMPLE_INTERVAL);
                }
                max
            })
        });
        Sampler { stop, thread }
    }

    fn stop(mut self) -> Option<ProcessSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> HostileArgs {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: HostileArgs,
        }
        Cli::parse_from(std::iter::once("hostile").chain(args.iter().copied())).args
    }

    #[test]
    fn durations_and_sizes_take_units_or_plain_numbers() {
        let with_units = parse(&[
            "--phase-s",
            "1m",
            "--warmup-s",
            "500ms",
            "--settle-s",
            "3s",
            "--slow-byte-interval-ms",
            "1s",
            "--record-bytes",
            "1KiB",
        ]);
        let plain = parse(&[
            "--phase-s",
            "60",
            "--warmup-s",
            "0.5",
            "--settle-s",
            "3",
            "--slow-byte-interval-ms",
            "1000",
            "--record-bytes",
            "1024",
        ]);
        for args in [with_units, plain] {
            assert_eq!(
                (args.phase_s, args.warmup_s, args.settle_s),
                (60.0, 0.5, 3.0)
            );
            assert_eq!(
                (args.slow_byte_interval_ms, args.record_bytes),
                (1000, 1024)
            );
        }
    }
}
