//! The hostile-clients report: what the normal producer saw with and
//! without the hostile load (as ratios), what each hostile client did, and
//! the broker's memory. Written as `hostile.json` (field names are a
//! contract for scripts) and `hostile.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::attacks::{AttackFigures, HostileLoad};
use super::broker_process::ProcessSample;
use super::idle::IdleFigures;
use crate::summary::RunSummary;

/// The machine the run was on, and how busy it was around the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    /// /proc/loadavg before the baseline and after the run.
    pub loadavg_before: String,
    pub loadavg_after: String,
}

/// The normal producer in one phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhaseFigures {
    pub records_acknowledged: u64,
    pub records_failed: u64,
    pub records_per_s: f64,
    pub ack_p50_us: u64,
    pub ack_p99_us: u64,
    pub ack_max_us: u64,
    /// Failed records by error name.
    pub errors: BTreeMap<String, u64>,
}

impl PhaseFigures {
    pub fn of(summary: &RunSummary) -> PhaseFigures {
        PhaseFigures {
            records_acknowledged: summary.records_acknowledged,
            records_failed: summary.records_failed,
            records_per_s: summary.produce_records_per_s,
            ack_p50_us: summary.produce_ack.p50_us,
            ack_p99_us: summary.produce_ack.p99_us,
            ack_max_us: summary.produce_ack.max_us,
            errors: summary.errors.clone(),
        }
    }
}

/// Hostile phase over baseline: above 1 is slower (latency) or, for
/// throughput, faster.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratios {
    pub ack_p50: f64,
    pub ack_p99: f64,
    pub ack_max: f64,
    pub throughput: f64,
}

impl Ratios {
    pub fn of(baseline: &PhaseFigures, hostile: &PhaseFigures) -> Ratios {
        let ratio = |h: f64, b: f64| if b > 0.0 { h / b } else { f64::NAN };
        Ratios {
            ack_p50: ratio(hostile.ack_p50_us as f64, baseline.ack_p50_us as f64),
            ack_p99: ratio(hostile.ack_p99_us as f64, baseline.ack_p99_us as f64),
            ack_max: ratio(hostile.ack_max_us as f64, baseline.ack_max_us as f64),
            throughput: ratio(hostile.records_per_s, baseline.records_per_s),
        }
    }
}

/// The broker process before the hostile load, at its largest during it,
/// and after it ended (and the idle connections closed).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BrokerMemory {
    pub before: Option<ProcessSample>,
    /// Largest RSS and most descriptors seen during the hostile phase.
    pub during_max: Option<ProcessSample>,
    pub after: Option<ProcessSample>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct HostileReport {
    pub broker: String,
    pub broker_pid: Option<u32>,
    pub machine: Machine,
    /// RLIMIT_NOFILE of the tool while it held the idle connections.
    pub nofile_limit: u64,
    pub load: HostileLoad,
    /// The normal producer's workload, as `shardlog-loadtest` records it.
    pub producer: BTreeMap<String, String>,
    pub baseline: PhaseFigures,
    pub hostile: PhaseFigures,
    pub ratios: Ratios,
    pub idle: IdleFigures,
    pub attacks: BTreeMap<String, AttackFigures>,
    pub broker_memory: BrokerMemory,
    /// A new connection got its ApiVersions answered after the load ended.
    pub broker_answers_after: bool,
}

/// Writes `hostile.json` and `hostile.md` into `dir` (created).
pub fn write_report(dir: &Path, report: &HostileReport) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = dir.join("hostile.json");
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(&json, text + "\n")?;
    let markdown = dir.join("hostile.md");
    std::fs::write(&markdown, format_markdown(report))?;
    Ok(vec![json, markdown])
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn mib(sample: Option<ProcessSample>) -> String {
    sample.map_or("n/a".into(), |s| {
        format!("{:.1} MiB", s.rss_kib as f64 / 1024.0)
    })
}

fn fds(sample: Option<ProcessSample>) -> String {
    sample
        .and_then(|s| s.fds)
        .map_or("n/a".into(), |n| n.to_string())
}

/// The report as Markdown (also printed at the end of a run).
pub fn format_markdown(r: &HostileReport) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("# Hostile clients report".into());
    line(String::new());
    let pid = r.broker_pid.map_or("unknown".into(), |p| p.to_string());
    line(format!(
        "Broker {} (pid {pid}); {} CPUs, kernel {}; load average before `{}`, after `{}`.",
        r.broker,
        r.machine.cpus,
        r.machine.kernel,
        r.machine.loadavg_before,
        r.machine.loadavg_after
    ));
    let p = |k: &str| r.producer.get(k).cloned().unwrap_or_default();
    line(format!(
        "Normal producer: {} producer(s), fixed rate {} records/s, {}-byte records, acks {}, {} partitions, {} s measured per phase.",
        p("producers"), p("rate"), p("record_bytes"), p("acks"), p("partitions"), p("duration_s")
    ));
    let load = &r.load;
    line(format!(
        "Hostile load: {} idle connections, {} slow senders (one byte every {} ms), and {} attempts/s each of length u32::MAX, random garbage, truncated frames and reconnect churn. Tool RLIMIT_NOFILE {}.",
        load.idle_connections, load.slow_senders, load.slow_byte_interval_ms, load.attack_rate_per_s, r.nofile_limit
    ));
    line(String::new());
    line("| normal producer | baseline | with hostile load | ratio |".into());
    line("|---|---:|---:|---:|".into());
    let (b, h, q) = (&r.baseline, &r.hostile, &r.ratios);
    line(format!(
        "| ack p50 | {} | {} | {:.2} |",
        ms(b.ack_p50_us),
        ms(h.ack_p50_us),
        q.ack_p50
    ));
    line(format!(
        "| ack p99 | {} | {} | {:.2} |",
        ms(b.ack_p99_us),
        ms(h.ack_p99_us),
        q.ack_p99
    ));
    line(format!(
        "| ack max | {} | {} | {:.2} |",
        ms(b.ack_max_us),
        ms(h.ack_max_us),
        q.ack_max
    ));
    line(format!(
        "| throughput | {:.0} rec/s | {:.0} rec/s | {:.2} |",
        b.records_per_s, h.records_per_s, q.throughput
    ));
    line(format!(
        "| records acknowledged / failed | {} / {} | {} / {} | |",
        b.records_acknowledged, b.records_failed, h.records_acknowledged, h.records_failed
    ));
    line(String::new());
    let errors: Vec<String> = b
        .errors
        .iter()
        .map(|(k, v)| format!("baseline {k}: {v}"))
        .chain(h.errors.iter().map(|(k, v)| format!("hostile {k}: {v}")))
        .collect();
    line(format!(
        "Producer errors: {}.",
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        }
    ));
    line(String::new());
    line(
        "| hostile client | attempts | broker answered as expected | unexpected | connect errors |"
            .into(),
    );
    line("|---|---:|---:|---:|---:|".into());
    for (name, a) in &r.attacks {
        line(format!(
            "| {name} | {} | {} | {} | {} |",
            a.attempts, a.as_expected, a.unexpected, a.connect_errors
        ));
    }
    for (name, a) in &r.attacks {
        if let Some(what) = &a.first_unexpected {
            line(format!("- {name}, first unexpected: {what}"));
        }
    }
    let i = &r.idle;
    line(format!(
        "- idle connections: {} wanted, {} opened ({} connect errors{}), {} still open and silent at the end, {} closed by the broker, {} answered (refused).",
        i.wanted,
        i.opened,
        i.connect_errors,
        i.first_error.as_ref().map_or(String::new(), |e| format!(", first: {e}")),
        i.open_at_end,
        i.closed_by_broker,
        i.answered
    ));
    line(String::new());
    let m = &r.broker_memory;
    line("| broker | before | during (max) | after |".into());
    line("|---|---:|---:|---:|".into());
    line(format!(
        "| RSS | {} | {} | {} |",
        mib(m.before),
        mib(m.during_max),
        mib(m.after)
    ));
    line(format!(
        "| open fds | {} | {} | {} |",
        fds(m.before),
        fds(m.during_max),
        fds(m.after)
    ));
    line(String::new());
    line(format!(
        "Broker answered a new connection after the load: {}.",
        if r.broker_answers_after { "yes" } else { "NO" }
    ));
    out
}
