//! The report printed at the end of a run: throughput, latency percentiles,
//! record counts and errors, each with its unit.

use std::fmt::Write as _;

use super::units::{format_latency_us, format_rate, group_thousands};
use crate::summary::{Percentiles, RunSummary};

/// The achieved rate counts as on target above this fraction of it.
const ON_TARGET_FRACTION: f64 = 0.99;

/// The human-readable report of a run.
pub fn format_report(summary: &RunSummary) -> String {
    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(
        out,
        "shardlog load test: {:.1} s measured",
        summary.measured_s
    );
    if !summary.workload.is_empty() {
        let workload: Vec<String> = summary
            .workload
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let _ = writeln!(out, "workload: {}", workload.join(" "));
    }
    let over_kafka = summary
        .provenance
        .as_ref()
        .and_then(|p| p.client.as_ref())
        .is_some_and(|c| c.protocol == "kafka");
    if summary.backlog_records > 0 {
        // The Kafka protocol's offsets count records, not bytes.
        let bytes = match summary.backlog_bytes {
            0 if over_kafka => "bytes not reported over Kafka".to_string(),
            bytes => format!("{:.1} MB", bytes as f64 / 1e6),
        };
        let _ = writeln!(
            out,
            "backlog: {} records ({bytes}) in the topic at the start, read first",
            group_thousands(summary.backlog_records),
        );
    }
    if let Some(provenance) = &summary.provenance {
        let _ = writeln!(out, "run: {}", provenance.one_line());
        match &provenance.broker {
            // Kafka has no broker version to ask, and Metadata counts
            // brokers (shardlog's Kafka port: one per core).
            Some(broker) if over_kafka => {
                let _ = writeln!(
                    out,
                    "broker: at {} over Kafka, {} brokers in Metadata, topic {} with {} partitions",
                    broker.address, broker.cores, broker.topic.name, broker.topic.partitions
                );
            }
            Some(broker) => {
                let _ = writeln!(
                    out,
                    "broker: {} at {}, {} cores, topic {} with {} partitions",
                    broker.version,
                    broker.address,
                    broker.cores,
                    broker.topic.name,
                    broker.topic.partitions
                );
            }
            None => {}
        }
    }

    // Columns: a 14-wide name ("  " and 12), then the numbers right-aligned.
    let _ = writeln!(
        out,
        "\n{:<14} {:>17} {:>12}",
        "throughput", "records/s", "MB/s"
    );
    let throughput = [
        (
            "produce",
            summary.produce_records_per_s,
            summary.produce_mb_per_s,
        ),
        (
            "consume",
            summary.consume_records_per_s,
            summary.consume_mb_per_s,
        ),
    ];
    for (name, records_per_s, mb_per_s) in throughput {
        let _ = writeln!(
            out,
            "  {name:<12} {:>17} {mb_per_s:>12.2}",
            format_rate(records_per_s)
        );
    }
    if let Some(target) = summary.target_records_per_s {
        let _ = writeln!(out, "  {:<12} {:>17}", "target", format_rate(target));
        let achieved = summary.produce_records_per_s;
        if target > 0.0 {
            let fraction = achieved / target;
            let verdict = if fraction >= ON_TARGET_FRACTION {
                "on target"
            } else {
                "BELOW TARGET"
            };
            let _ = writeln!(
                out,
                "  achieved {} of {} records/s asked for: {:.1}%, {verdict}",
                format_rate(achieved),
                format_rate(target),
                fraction * 100.0
            );
        }
    }

    if let Some(requests_per_s) = summary.produce_requests_per_s {
        let in_flight = summary
            .requests_in_flight_max
            .map_or_else(String::new, |n| format!(", at most {n} in flight"));
        let _ = writeln!(
            out,
            "  {:<12} {:>17} requests/s, one record each{in_flight}",
            "requests",
            format_rate(requests_per_s)
        );
    }
    usage_lines(&mut out, summary);

    let _ = writeln!(
        out,
        "\n{:<14}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}{:>14}",
        "latency", "p50", "p90", "p99", "p99.9", "p99.99", "max", "records"
    );
    latency_row(&mut out, "produce ack", &summary.produce_ack);
    latency_row(&mut out, "end-to-end", &summary.e2e);

    let _ = writeln!(out, "\nrecords");
    let counts = [
        ("sent", summary.records_sent),
        ("acknowledged", summary.records_acknowledged),
        ("failed", summary.records_failed),
        ("consumed", summary.records_consumed),
    ];
    for (name, count) in counts {
        let _ = writeln!(out, "  {name:<12} {:>17}", group_thousands(count));
    }

    if summary.errors.is_empty() {
        let _ = writeln!(out, "\nerrors: none");
    } else {
        let _ = writeln!(out, "\nerrors");
        for (code, count) in &summary.errors {
            let _ = writeln!(out, "  {code:<24} {:>5}", group_thousands(*count));
        }
    }
    out
}

/// The broker's CPU and the disk's writes over the measured window, when
/// they were read.
fn usage_lines(out: &mut String, summary: &RunSummary) {
    if let Some(broker) = &summary.broker_usage {
        let per = |us: Option<f64>| us.map_or_else(|| "-".to_string(), |us| format!("{us:.2} µs"));
        let per_request = match (&broker.requests_counted_by, broker.cpu_us_per_request) {
            (Some(by), Some(us)) => format!(
                "{:.2} µs per request ({} requests, counted by the {by})",
                us,
                group_thousands(broker.requests.unwrap_or(0))
            ),
            _ => "per request not known (neither the harness nor the broker counted requests)"
                .to_string(),
        };
        let _ = writeln!(
            out,
            "\nbroker CPU     {:.2} s over {:.1} s ({:.0}% of a core): {} per record, {per_request}",
            broker.cpu_seconds,
            broker.window_s,
            if broker.window_s > 0.0 {
                100.0 * broker.cpu_seconds / broker.window_s
            } else {
                0.0
            },
            per(broker.cpu_us_per_record),
        );
    }
    if let Some(disk) = &summary.disk_usage {
        match (disk.bytes_written, disk.bytes_per_record_byte) {
            (Some(written), ratio) => {
                let ratio = ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.2}"));
                let flushes = match (disk.flushes, disk.flushes_per_s) {
                    (Some(n), Some(per_s)) => {
                        format!(", {} flushes ({per_s:.0}/s)", group_thousands(n))
                    }
                    _ => ", flushes not reported".to_string(),
                };
                let _ = writeln!(
                    out,
                    "disk {} ({}): {ratio} bytes written per record byte ({:.1} MB written, \
                     {:.1} MB of records){flushes}",
                    disk.device,
                    disk.kind,
                    written as f64 / 1e6,
                    disk.record_bytes as f64 / 1e6,
                );
            }
            (None, _) => {
                let _ = writeln!(
                    out,
                    "disk {}: bytes written unknown{}",
                    disk.device,
                    disk.note
                        .as_deref()
                        .map_or_else(String::new, |n| format!(" ({n})"))
                );
            }
        }
    }
}

fn latency_row(out: &mut String, name: &str, p: &Percentiles) {
    if p.count == 0 {
        let _ = writeln!(out, "  {name:<12} no records measured");
        return;
    }
    let _ = write!(out, "  {name:<12}");
    for us in [
        p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.p9999_us, p.max_us,
    ] {
        let _ = write!(out, "{:>11}", format_latency_us(us));
    }
    let _ = writeln!(out, "{:>14}", group_thousands(p.count));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_rate_summary() -> RunSummary {
        let mut summary = RunSummary {
            produce_records_per_s: 48_500.4,
            produce_mb_per_s: 47.36,
            consume_records_per_s: 48_490.0,
            consume_mb_per_s: 47.35,
            records_sent: 2_910_024,
            records_acknowledged: 2_910_000,
            records_failed: 24,
            records_consumed: 2_909_990,
            measured_s: 60.0,
            target_records_per_s: Some(50_000.0),
            ..RunSummary::default()
        };
        summary.errors.insert("NotLeader".into(), 20);
        summary.errors.insert("RequestTimedOut".into(), 4);
        summary.workload.insert("acks".into(), "all".into());
        summary.workload.insert("value_bytes".into(), "1024".into());
        summary.produce_ack = Percentiles {
            p50_us: 850,
            p90_us: 1_234,
            p99_us: 4_560,
            p999_us: 12_300,
            p9999_us: 45_600,
            max_us: 1_234_000,
            count: 2_910_000,
        };
        summary
    }

    #[test]
    fn report_has_every_section_with_units() {
        let text = format_report(&fixed_rate_summary());
        for needle in [
            "60.0 s measured",
            "workload: acks=all value_bytes=1024",
            "records/s",
            "MB/s",
            "48,500",
            "47.36",
            "48,490",
            "47.35",
            "850 µs",
            "1.23 ms",
            "4.56 ms",
            "12.3 ms",
            "45.6 ms",
            "1.234 s",
            "2,910,024",
            "2,909,990",
            "NotLeader",
            "RequestTimedOut",
            "achieved 48,500 of 50,000 records/s asked for: 97.0%, BELOW TARGET",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        let e2e = text.lines().find(|l| l.contains("end-to-end")).unwrap();
        assert!(e2e.contains("no records measured"), "{e2e}");
        let failed = text
            .lines()
            .find(|l| l.trim_start().starts_with("failed"))
            .unwrap();
        assert!(failed.trim_end().ends_with(" 24"), "{failed}");
    }

    #[test]
    fn unbounded_run_has_no_target_line_and_no_errors() {
        let summary = RunSummary {
            target_records_per_s: None,
            errors: Default::default(),
            ..fixed_rate_summary()
        };
        let text = format_report(&summary);
        assert!(!text.contains("target"), "{text}");
        assert!(text.contains("errors: none"), "{text}");
    }

    #[test]
    fn provenance_broker_and_backlog_lines() {
        use crate::provenance::{BrokerSettings, Host, Provenance, TopicSettingsReported};
        let summary = RunSummary {
            backlog_records: 1_500_000,
            backlog_bytes: 1_560_000_000,
            provenance: Some(Provenance {
                shardlog_version: "0.1.0".into(),
                git_commit: "unknown".into(),
                started_at: "2026-11-30T22:57:31Z".into(),
                host: Host {
                    cores: 2,
                    ..Host::default()
                },
                broker: Some(BrokerSettings {
                    address: "127.0.0.1:9392".into(),
                    version: "0.1.0".into(),
                    cores: 2,
                    topic: TopicSettingsReported {
                        name: "loadtest".into(),
                        partitions: 16,
                        ..TopicSettingsReported::default()
                    },
                    not_reported: String::new(),
                }),
                ..Provenance::default()
            }),
            ..fixed_rate_summary()
        };
        let text = format_report(&summary);
        for needle in [
            "run: shardlog 0.1.0 (unknown), 2026-11-30T22:57:31Z; 2 cores, unknown CPU",
            "broker: 0.1.0 at 127.0.0.1:9392, 2 cores, topic loadtest with 16 partitions",
            "backlog: 1,500,000 records (1560.0 MB) in the topic at the start, read first",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(!format_report(&fixed_rate_summary()).contains("backlog"));
    }

    #[test]
    fn on_target_when_within_one_percent() {
        let summary = RunSummary {
            produce_records_per_s: 49_800.0,
            ..fixed_rate_summary()
        };
        assert!(format_report(&summary).contains("99.6%, on target"));
    }
}
