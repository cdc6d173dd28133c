//! The Prometheus text exposition format (version 0.0.4) of every core's
//! snapshot: each metric family once, with its `# HELP` and `# TYPE`, then
//! its samples from all cores, then the broker-wide families (the
//! standard `process_*`, the build, the data file system's free space).
//! Latencies are exported in seconds, as Prometheus names them.

use std::collections::HashMap;
use std::fmt::Write;

use super::core::{CoreSnapshot, GroupCommit, PartitionSnapshot, OTHER_API};
use super::histogram::Histogram;
use super::process::{ProcessSnapshot, COMMIT, VERSION};
use crate::error::ErrorCode;
use crate::protocol::ApiKey;

/// Reads one value of a core's snapshot.
type CoreValue = fn(&CoreSnapshot) -> u64;
/// Reads one value of a partition's snapshot.
type PartitionValue = fn(&PartitionSnapshot) -> u64;
/// Reads one histogram of a partition's snapshot.
type PartitionHistogram = fn(&PartitionSnapshot) -> &Histogram;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// How a histogram's values are scaled on the way out.
#[derive(Clone, Copy)]
enum Unit {
    /// Recorded in microseconds, exported in seconds.
    MicrosAsSeconds,
    Plain,
}

impl Unit {
    fn write(self, out: &mut String, value: u64) {
        match self {
            Unit::MicrosAsSeconds => {
                let _ = write!(out, "{}", value as f64 / 1e6);
            }
            Unit::Plain => {
                let _ = write!(out, "{value}");
            }
        }
    }
}

struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, labels: &[(&str, &str)]) {
        if labels.is_empty() {
            return;
        }
        self.out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(key);
            self.out.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.out, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram, unit: Unit) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in h.cumulative() {
            let mut le = String::new();
            match bound {
                Some(bound) => unit.write(&mut le, bound),
                None => le.push_str("+Inf"),
            }
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count);
        }
        let mut sum = String::new();
        unit.write(&mut sum, h.sum());
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, h.count());
    }
}

fn api_name(key: u16) -> String {
    if usize::from(key) == OTHER_API {
        return "unknown".to_string();
    }
    ApiKey::from_u16(key).map_or_else(|| format!("key_{key}"), |api| format!("{api:?}"))
}

fn code_name(code: u16) -> &'static str {
    ErrorCode::from_u16(code).map_or("unknown", ErrorCode::name)
}

/// What the broker as a whole shows beside its cores' snapshots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerSnapshot {
    /// `None` when `/proc/self` could not be read: no `process_*` families.
    pub process: Option<ProcessSnapshot>,
    /// Free bytes of the data directory's file system; `None` when statvfs
    /// failed.
    pub data_fs_free_bytes: Option<u64>,
    /// The free-space reserve (`min_free_bytes`; 0: off).
    pub min_free_bytes: u64,
}

/// Renders every core's snapshot (with its partitions) and the broker's
/// as one exposition.
pub fn render(cores: &[CoreSnapshot], broker: &BrokerSnapshot) -> String {
    let mut e = Exposition { out: String::new() };
    core_families(&mut e, cores);
    partition_families(&mut e, cores);
    group_families(&mut e, cores);
    broker_families(&mut e, broker);
    e.out
}

/// The broker-wide families, one sample each, without a `core` label.
fn broker_families(e: &mut Exposition, broker: &BrokerSnapshot) {
    e.family(
        "shardlog_build_info",
        Kind::Gauge,
        "The running build: its version and commit; always 1.",
    );
    e.sample(
        "shardlog_build_info",
        &[("version", VERSION), ("commit", COMMIT)],
        1,
    );
    if let Some(free) = broker.data_fs_free_bytes {
        e.family(
            "shardlog_data_fs_free_bytes",
            Kind::Gauge,
            "Bytes the broker may still allocate on the data directory's file system.",
        );
        e.sample("shardlog_data_fs_free_bytes", &[], free);
    }
    e.family(
        "shardlog_min_free_bytes",
        Kind::Gauge,
        "Free bytes kept on the data file system: appends below it fail with StorageFull (0: off).",
    );
    e.sample("shardlog_min_free_bytes", &[], broker.min_free_bytes);
    let Some(process) = &broker.process else {
        return;
    };
    e.family(
        "process_cpu_seconds_total",
        Kind::Counter,
        "Total user and system CPU time spent in seconds.",
    );
    e.sample("process_cpu_seconds_total", &[], process.cpu_seconds);
    let gauges: [(&str, &str, f64); 4] = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            process.resident_memory_bytes as f64,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            process.virtual_memory_bytes as f64,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            process.open_fds as f64,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            process.start_time_seconds,
        ),
    ];
    for (name, help, value) in gauges {
        e.family(name, Kind::Gauge, help);
        e.sample(name, &[], value);
    }
    if let Some(max_fds) = process.max_fds {
        e.family(
            "process_max_fds",
            Kind::Gauge,
            "Maximum number of open file descriptors.",
        );
        e.sample("process_max_fds", &[], max_fds);
    }
}

fn core_families(e: &mut Exposition, cores: &[CoreSnapshot]) {
    let ids: Vec<String> = cores.iter().map(|c| c.core.to_string()).collect();
    let values: [(&str, Kind, &str, CoreValue); 11] = [
        (
            "shardlog_received_bytes_total",
            Kind::Counter,
            "Request frame bytes read.",
            |c| c.bytes_received,
        ),
        (
            "shardlog_sent_bytes_total",
            Kind::Counter,
            "Response frame bytes written.",
            |c| c.bytes_sent,
        ),
        (
            "shardlog_produce_bytes_total",
            Kind::Counter,
            "Record-batch bytes in produce requests.",
            |c| c.produce_bytes,
        ),
        (
            "shardlog_fetch_bytes_total",
            Kind::Counter,
            "Record-batch bytes in fetch responses.",
            |c| c.fetch_bytes,
        ),
        (
            "shardlog_cross_core_messages_sent_total",
            Kind::Counter,
            "Requests this core sent to other cores.",
            |c| c.messages_sent,
        ),
        (
            "shardlog_cross_core_messages_received_total",
            Kind::Counter,
            "Requests this core served for other cores.",
            |c| c.messages_received,
        ),
        (
            "shardlog_connections_accepted_total",
            Kind::Counter,
            "Connections accepted.",
            |c| c.connections_accepted,
        ),
        (
            "shardlog_connections_refused_total",
            Kind::Counter,
            "Connections refused at the connection limit.",
            |c| c.connections_refused,
        ),
        (
            "shardlog_connections",
            Kind::Gauge,
            "Open client connections.",
            |c| c.gauges.connections as u64,
        ),
        (
            "shardlog_inflight_bytes",
            Kind::Gauge,
            "Bytes of requests being handled.",
            |c| c.gauges.inflight_bytes,
        ),
        (
            "shardlog_cache_bytes",
            Kind::Gauge,
            "Bytes held by the tail cache.",
            |c| c.gauges.cache_bytes as u64,
        ),
    ];
    for (name, kind, help, value) in values {
        e.family(name, kind, help);
        for (c, id) in cores.iter().zip(&ids) {
            e.sample(name, &[("core", id)], value(c));
        }
    }
    e.family(
        "shardlog_cache_reads_total",
        Kind::Counter,
        "Tail-cache lookups by result.",
    );
    for (c, id) in cores.iter().zip(&ids) {
        e.sample(
            "shardlog_cache_reads_total",
            &[("core", id), ("result", "hit")],
            c.gauges.cache_hits,
        );
        e.sample(
            "shardlog_cache_reads_total",
            &[("core", id), ("result", "miss")],
            c.gauges.cache_misses,
        );
    }
    e.family(
        "shardlog_cache_hit_ratio",
        Kind::Gauge,
        "Tail-cache hits over lookups since start.",
    );
    for (c, id) in cores.iter().zip(&ids) {
        let lookups = c.gauges.cache_hits + c.gauges.cache_misses;
        let ratio = if lookups == 0 {
            0.0
        } else {
            c.gauges.cache_hits as f64 / lookups as f64
        };
        e.sample("shardlog_cache_hit_ratio", &[("core", id)], ratio);
    }
    e.family(
        "shardlog_requests_total",
        Kind::Counter,
        "Requests answered, by API.",
    );
    for (c, id) in cores.iter().zip(&ids) {
        for (key, api) in &c.apis {
            e.sample(
                "shardlog_requests_total",
                &[("core", id), ("api", &api_name(*key))],
                api.requests,
            );
        }
    }
    e.family(
        "shardlog_request_duration_seconds",
        Kind::Histogram,
        "From reading a request to its response being ready, by API.",
    );
    for (c, id) in cores.iter().zip(&ids) {
        for (key, api) in &c.apis {
            let labels = [("core", id.as_str()), ("api", &api_name(*key))];
            e.histogram(
                "shardlog_request_duration_seconds",
                &labels,
                &api.latency_us,
                Unit::MicrosAsSeconds,
            );
        }
    }
    e.family(
        "shardlog_errors_total",
        Kind::Counter,
        "Error codes answered, for requests and partitions.",
    );
    for (c, id) in cores.iter().zip(&ids) {
        for (code, count) in &c.errors {
            let code_text = code.to_string();
            let labels = [
                ("core", id.as_str()),
                ("code", &code_text),
                ("name", code_name(*code)),
            ];
            e.sample("shardlog_errors_total", &labels, count);
        }
    }
}

/// A partition's snapshot with its label values written out once.
struct Labelled<'a> {
    topic: &'a str,
    partition: String,
    core: String,
    snapshot: &'a PartitionSnapshot,
}

impl Labelled<'_> {
    fn labels(&self) -> Vec<(&str, &str)> {
        vec![
            ("topic", self.topic),
            ("partition", &self.partition),
            ("core", &self.core),
        ]
    }
}

fn partition_families(e: &mut Exposition, cores: &[CoreSnapshot]) {
    let partitions: Vec<Labelled> = cores
        .iter()
        .flat_map(|c| {
            c.partitions.iter().map(move |p| Labelled {
                topic: &p.topic,
                partition: p.partition.to_string(),
                core: c.core.to_string(),
                snapshot: p,
            })
        })
        .collect();
    let values: [(&str, Kind, &str, PartitionValue); 11] = [
        (
            "shardlog_partition_appends_total",
            Kind::Counter,
            "Record batches committed.",
            |p| p.stats.appends,
        ),
        (
            "shardlog_partition_append_records_total",
            Kind::Counter,
            "Records committed.",
            |p| p.stats.append_records,
        ),
        (
            "shardlog_partition_append_bytes_total",
            Kind::Counter,
            "Record-batch bytes committed.",
            |p| p.stats.append_bytes,
        ),
        (
            "shardlog_partition_commits_total",
            Kind::Counter,
            "Group-commit rounds (one write each).",
            |p| p.stats.commits,
        ),
        (
            "shardlog_partition_fsyncs_total",
            Kind::Counter,
            "fdatasync calls.",
            |p| p.stats.fsyncs,
        ),
        (
            "shardlog_partition_reads_total",
            Kind::Counter,
            "Reads that returned data.",
            |p| p.stats.reads,
        ),
        (
            "shardlog_partition_read_bytes_total",
            Kind::Counter,
            "Bytes returned by reads.",
            |p| p.stats.read_bytes,
        ),
        (
            "shardlog_partition_size_bytes",
            Kind::Gauge,
            "Bytes of data in all segments.",
            |p| p.size_bytes,
        ),
        (
            "shardlog_partition_segments",
            Kind::Gauge,
            "Segment files.",
            |p| p.segments as u64,
        ),
        (
            "shardlog_partition_log_start_offset",
            Kind::Gauge,
            "Earliest offset in the log.",
            |p| p.log_start_offset,
        ),
        (
            "shardlog_partition_high_watermark",
            Kind::Gauge,
            "Next offset to become visible.",
            |p| p.high_watermark,
        ),
    ];
    for (name, kind, help, value) in values {
        e.family(name, kind, help);
        for p in &partitions {
            e.sample(name, &p.labels(), value(p.snapshot));
        }
    }
    let histograms: [(&str, &str, Unit, PartitionHistogram); 4] = [
        (
            "shardlog_partition_append_duration_seconds",
            "From queueing an append to its commit.",
            Unit::MicrosAsSeconds,
            |p| &p.stats.append_latency_us,
        ),
        (
            "shardlog_partition_fsync_duration_seconds",
            "fdatasync latency.",
            Unit::MicrosAsSeconds,
            |p| &p.stats.fsync_latency_us,
        ),
        (
            "shardlog_partition_commit_batches",
            "Record batches per group commit.",
            Unit::Plain,
            |p| &p.stats.batches_per_commit,
        ),
        (
            "shardlog_partition_commit_bytes",
            "Bytes per group commit.",
            Unit::Plain,
            |p| &p.stats.bytes_per_commit,
        ),
    ];
    for (name, help, unit, histogram) in histograms {
        e.family(name, Kind::Histogram, help);
        for p in &partitions {
            e.histogram(name, &p.labels(), histogram(p.snapshot), unit);
        }
    }
    e.family(
        "shardlog_partition_errors_total",
        Kind::Counter,
        "Error codes a partition answered.",
    );
    for p in &partitions {
        for (code, count) in &p.snapshot.stats.errors {
            let code_text = code.to_string();
            let mut labels = p.labels();
            labels.push(("code", &code_text));
            labels.push(("name", code_name(*code)));
            e.sample("shardlog_partition_errors_total", &labels, count);
        }
    }
}

/// Each group's committed offset and lag per partition. The lag joins the
/// coordinator core's committed offset with the owner core's high
/// watermark from the same scrape; a partition with no watermark (its topic
/// deleted) shows no lag.
fn group_families(e: &mut Exposition, cores: &[CoreSnapshot]) {
    let watermarks: HashMap<(&str, u32), u64> = cores
        .iter()
        .flat_map(|c| &c.partitions)
        .map(|p| ((p.topic.as_str(), p.partition), p.high_watermark))
        .collect();
    let mut commits: Vec<_> = cores.iter().flat_map(|c| &c.group_commits).collect();
    commits
        .sort_by(|a, b| (&a.group, &a.topic, a.partition).cmp(&(&b.group, &b.topic, b.partition)));
    let labelled: Vec<(String, &GroupCommit)> = commits
        .iter()
        .map(|c| (c.partition.to_string(), *c))
        .collect();
    e.family(
        "shardlog_group_committed_offset",
        Kind::Gauge,
        "The next offset a consumer group will consume, as committed.",
    );
    for entry in &labelled {
        e.sample(
            "shardlog_group_committed_offset",
            &group_labels(entry),
            entry.1.committed,
        );
    }
    e.family(
        "shardlog_group_lag",
        Kind::Gauge,
        "Records between a group's committed offset and the partition's high watermark.",
    );
    for entry in &labelled {
        let c = entry.1;
        if let Some(watermark) = watermarks.get(&(c.topic.as_str(), c.partition)) {
            e.sample(
                "shardlog_group_lag",
                &group_labels(entry),
                watermark.saturating_sub(c.committed),
            );
        }
    }
}

fn group_labels<'a>((partition, c): &'a (String, &GroupCommit)) -> Vec<(&'static str, &'a str)> {
    vec![
        ("group", &c.group),
        ("topic", &c.topic),
        ("partition", partition),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_families_are_one_sample_each_without_a_core() {
        let broker = BrokerSnapshot {
            process: Some(ProcessSnapshot {
                cpu_seconds: 1.5,
                resident_memory_bytes: 4096,
                virtual_memory_bytes: 8192,
                open_fds: 12,
                max_fds: Some(1024),
                start_time_seconds: 1_700_000_000.25,
            }),
            data_fs_free_bytes: Some(5 << 30),
            min_free_bytes: 1 << 30,
        };
        let text = render(&[], &broker);
        for line in [
            "# TYPE process_cpu_seconds_total counter",
            "process_cpu_seconds_total 1.5",
            "process_resident_memory_bytes 4096",
            "process_virtual_memory_bytes 8192",
            "process_open_fds 12",
            "process_max_fds 1024",
            "process_start_time_seconds 1700000000.25",
            "shardlog_data_fs_free_bytes 5368709120",
            "shardlog_min_free_bytes 1073741824",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        let build = format!("shardlog_build_info{{version=\"{VERSION}\",commit=\"{COMMIT}\"}} 1");
        assert!(text.lines().any(|l| l == build), "{text}");

        // What could not be read is left out, not shown as zero.
        let text = render(
            &[],
            &BrokerSnapshot {
                process: None,
                data_fs_free_bytes: None,
                min_free_bytes: 0,
            },
        );
        assert!(!text.contains("process_"), "{text}");
        assert!(!text.contains("shardlog_data_fs_free_bytes"), "{text}");
        assert!(text.contains("shardlog_min_free_bytes 0"), "{text}");
    }
}
