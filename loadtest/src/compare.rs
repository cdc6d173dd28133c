//! Two runs side by side: every headline metric of two `summary.json`
//! files with A, B, the ratio B/A and whether B is better or worse. It
//! reads summaries only; it never runs load.
//!
//! Like with like: the workloads are compared setting by setting. A
//! difference is always printed; with a threshold (the CI gate) a
//! difference in the workload's shape refuses the comparison, since a
//! verdict between two different workloads means nothing. Differences
//! of the host or the broker's cores are printed as warnings.
//!
//! The gate: with `threshold_percent`, every gated metric of B that is
//! worse than A by more than that is a regression, and the caller exits
//! non-zero.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::report::units::{format_latency_us, format_rate, group_thousands};
use crate::summary::{Percentiles, RunSummary};

/// B within this fraction of A (of the larger of the two) counts as the
/// same: run-to-run noise, not a change.
pub const SAME_WITHIN_FRACTION: f64 = 0.01;

/// Which way is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Throughput.
    HigherIsBetter,
    /// Latency and errors.
    LowerIsBetter,
}

/// How a value is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    RecordsPerS,
    MbPerS,
    LatencyUs,
    Count,
    /// CPU microseconds per record or request.
    CpuUs,
    /// A plain ratio (bytes written per record byte).
    Ratio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    Same,
    /// One of the runs did not measure it (no records consumed).
    NotMeasured,
}

/// One metric of the comparison. `None` is "not measured in that run".
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub unit: Unit,
    pub direction: Direction,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl Row {
    /// B/A; `None` when either is not measured or both are 0, infinite
    /// when only A is 0.
    pub fn ratio(&self) -> Option<f64> {
        let (a, b) = (self.a?, self.b?);
        match (a == 0.0, b == 0.0) {
            (true, true) => None,
            (true, false) => Some(f64::INFINITY),
            _ => Some(b / a),
        }
    }

    pub fn verdict(&self) -> Verdict {
        let (Some(a), Some(b)) = (self.a, self.b) else {
            return Verdict::NotMeasured;
        };
        if (b - a).abs() <= SAME_WITHIN_FRACTION * a.abs().max(b.abs()) {
            return Verdict::Same;
        }
        match (self.direction, b > a) {
            (Direction::HigherIsBetter, true) | (Direction::LowerIsBetter, false) => {
                Verdict::Better
            }
            _ => Verdict::Worse,
        }
    }
}

/// Reads two `summary.json` files and lays them side by side.
pub fn compare(a: &Path, b: &Path) -> Result<String, String> {
    Ok(compare_with(a, b, &CompareOptions::default())?.text)
}

/// How strict a comparison is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompareOptions {
    /// Gate: a gated metric of B worse than A's by more than this percent
    /// is a regression. `None`: no gate, the table only.
    pub threshold_percent: Option<f64>,
    /// Gate even when the workloads' shapes differ (they are still
    /// printed).
    pub allow_different_workloads: bool,
}

/// A comparison: the text to print and the gate's findings.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub text: String,
    /// Gated metrics of B worse than A beyond the threshold (empty
    /// without a threshold).
    pub regressions: Vec<Regression>,
}

/// A gated metric of B worse than A beyond the threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    pub metric: &'static str,
    /// How much worse, in percent of A; infinite when A was 0 (errors)
    /// or B did not measure what A did.
    pub worse_by_percent: f64,
}

/// Reads two runs (each a `summary.json` or a report directory holding
/// one), checks that they ran the same workload, lays them side by side
/// and, with a threshold, finds B's regressions.
pub fn compare_with(a: &Path, b: &Path, options: &CompareOptions) -> Result<Comparison, String> {
    let (path_a, path_b) = (summary_path(a), summary_path(b));
    let summary_a = read_summary(&path_a)?;
    let summary_b = read_summary(&path_b)?;
    if let Some(threshold) = options.threshold_percent {
        if !threshold.is_finite() || threshold < 0.0 {
            return Err(format!(
                "--threshold must be a percentage of at least 0, not {threshold}"
            ));
        }
        let refused: Vec<String> = workload_differences(&summary_a, &summary_b)
            .into_iter()
            .filter(|d| matches!(d.kind, DifferenceKind::Shape | DifferenceKind::Client))
            .map(|d| format!("{}: A {} B {}", d.setting, d.a, d.b))
            .collect();
        if !refused.is_empty() && !options.allow_different_workloads {
            return Err(format!(
                "{} and {} ran different workloads ({}); a verdict between them means \
                 nothing. Compare like with like, or pass --allow-different-workloads",
                path_a.display(),
                path_b.display(),
                refused.join(", ")
            ));
        }
    }
    let mut text = format_comparison(
        (&path_a.display().to_string(), &summary_a),
        (&path_b.display().to_string(), &summary_b),
    );
    let regressions = match options.threshold_percent {
        Some(threshold) => {
            let regressions = regressions(&rows(&summary_a, &summary_b), threshold);
            text.push_str(&format_gate(threshold, &regressions));
            regressions
        }
        None => Vec::new(),
    };
    Ok(Comparison { text, regressions })
}

/// A report directory stands for the `summary.json` in it.
fn summary_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(crate::report::SUMMARY_JSON)
    } else {
        path.to_path_buf()
    }
}

/// Metrics the gate looks at: throughput, latency up to p99, errors. The
/// far tail (p99.9 and beyond, max) of a short run is a handful of records
/// and moves by tens of percent between identical runs; it is printed,
/// not gated.
pub const GATED_METRICS: [&str; 11] = [
    "produce records/s",
    "produce MB/s",
    "consume records/s",
    "consume MB/s",
    "produce ack p50",
    "produce ack p90",
    "produce ack p99",
    "end-to-end p50",
    "end-to-end p90",
    "end-to-end p99",
    "errors total",
];

/// The gated rows of B worse than A by more than `threshold_percent`. A
/// metric A measured and B did not (no records consumed) is a regression.
pub fn regressions(rows: &[Row], threshold_percent: f64) -> Vec<Regression> {
    let threshold = threshold_percent / 100.0;
    rows.iter()
        .filter(|row| GATED_METRICS.contains(&row.metric))
        .filter_map(|row| {
            let worse_by = match (row.a, row.b) {
                (Some(_), None) => f64::INFINITY,
                (Some(a), Some(b)) => {
                    let worse = match row.direction {
                        Direction::HigherIsBetter => a - b,
                        Direction::LowerIsBetter => b - a,
                    };
                    match (worse > 0.0, a == 0.0) {
                        (false, _) => return None,
                        (true, true) => f64::INFINITY,
                        (true, false) => worse / a.abs(),
                    }
                }
                (None, _) => return None,
            };
            (worse_by > threshold).then_some(Regression {
                metric: row.metric,
                worse_by_percent: worse_by * 100.0,
            })
        })
        .collect()
}

fn format_gate(threshold_percent: f64, regressions: &[Regression]) -> String {
    let mut out = format!(
        "\ngate: B may be at most {threshold_percent}% worse than A in: {}\n",
        GATED_METRICS.join(", ")
    );
    if regressions.is_empty() {
        out.push_str("gate: passed, no gated metric of B is worse beyond the threshold\n");
    }
    for regression in regressions {
        let by = if regression.worse_by_percent.is_finite() {
            format!("{:.1}%", regression.worse_by_percent)
        } else {
            "inf (A was 0 or B did not measure it)".to_string()
        };
        let _ = writeln!(out, "REGRESSION: {} worse by {by}", regression.metric);
    }
    out
}

/// How much a difference between two runs' settings matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DifferenceKind {
    /// Where the load went (broker address, topic name): never matters.
    Place,
    /// How long it ran: rates and percentiles stay comparable.
    Length,
    /// What the load was: the runs measured different things.
    Shape,
    /// The same load through another protocol and client: the table
    /// compares the clients (and the broker's two front doors), which is
    /// worth reading but is no regression gate.
    Client,
}

/// One setting that differs between A and B.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub setting: String,
    pub a: String,
    pub b: String,
    pub kind: DifferenceKind,
}

/// Settings that only say where the load went.
const PLACE_SETTINGS: [&str; 2] = ["broker", "topic"];
/// Settings that only say how long the load ran (`duration_s` and
/// `warmup_s` are the string map's names).
const LENGTH_SETTINGS: [&str; 5] = ["duration", "warmup", "records", "duration_s", "warmup_s"];
/// Settings that say which client drove the load.
const CLIENT_SETTINGS: [&str; 1] = ["protocol"];

/// Every setting that differs, from the typed workloads when both runs
/// have them, else from the string maps of older summaries.
pub fn workload_differences(a: &RunSummary, b: &RunSummary) -> Vec<Difference> {
    let as_strings = |summary: &RunSummary| -> BTreeMap<String, String> {
        match &summary.workload_settings {
            Some(settings) => match serde_json::to_value(settings) {
                Ok(serde_json::Value::Object(fields)) => fields
                    .into_iter()
                    .map(|(name, value)| {
                        let text = match value {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (name, text)
                    })
                    .collect(),
                _ => summary.workload.clone(),
            },
            None => summary.workload.clone(),
        }
    };
    let both_typed = a.workload_settings.is_some() && b.workload_settings.is_some();
    let (map_a, map_b) = if both_typed {
        (as_strings(a), as_strings(b))
    } else {
        // A setting added after a summary was written is missing from it;
        // that summary's run had the setting's default (consumers read the
        // tail before --consumers-from existed).
        let with_defaults = |summary: &RunSummary| {
            let mut map = summary.workload.clone();
            for (name, value) in crate::workload::Workload::default().describe() {
                map.entry(name).or_insert(value);
            }
            map
        };
        (with_defaults(a), with_defaults(b))
    };
    let mut names: Vec<&String> = map_a.keys().chain(map_b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| map_a.get(*name) != map_b.get(*name))
        .map(|name| {
            let kind = if PLACE_SETTINGS.contains(&name.as_str()) {
                DifferenceKind::Place
            } else if LENGTH_SETTINGS.contains(&name.as_str()) {
                DifferenceKind::Length
            } else if CLIENT_SETTINGS.contains(&name.as_str()) {
                DifferenceKind::Client
            } else {
                DifferenceKind::Shape
            };
            let value = |map: &BTreeMap<String, String>| map.get(name).cloned();
            Difference {
                setting: name.clone(),
                a: value(&map_a).unwrap_or_else(|| "-".into()),
                b: value(&map_b).unwrap_or_else(|| "-".into()),
                kind,
            }
        })
        .collect()
}

/// Facts of the hosts and brokers that differ: the figures may differ
/// for that reason alone.
pub fn host_differences(a: &RunSummary, b: &RunSummary) -> Vec<(String, String, String)> {
    let (Some(pa), Some(pb)) = (&a.provenance, &b.provenance) else {
        return Vec::new();
    };
    let text = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let facts = |p: &crate::provenance::Provenance| {
        [
            ("CPU", p.host.cpu_model.clone()),
            ("cores", Some(p.host.cores.to_string())),
            ("kernel", p.host.kernel.clone()),
            (
                "data dir file system",
                p.host.data_dir.as_ref().map(|d| d.fs_type.clone()),
            ),
            (
                "broker cores",
                p.broker.as_ref().map(|b| b.cores.to_string()),
            ),
        ]
    };
    facts(pa)
        .into_iter()
        .zip(facts(pb))
        .filter(|((_, va), (_, vb))| va != vb)
        .map(|((name, va), (_, vb))| (name.to_string(), text(va), text(vb)))
        .collect()
}

/// A `summary.json`, or an error that names the file.
pub fn read_summary(path: &Path) -> Result<RunSummary, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a loadtest summary.json: {e}", path.display()))
}

/// Every headline metric of the two runs, throughput first.
pub fn rows(a: &RunSummary, b: &RunSummary) -> Vec<Row> {
    use Direction::{HigherIsBetter, LowerIsBetter};

    let mut rows = Vec::new();
    let mut push = |metric, unit, direction, value: fn(&RunSummary) -> Option<f64>| {
        rows.push(Row {
            metric,
            unit,
            direction,
            a: value(a),
            b: value(b),
        });
    };
    push(
        "produce records/s",
        Unit::RecordsPerS,
        HigherIsBetter,
        |s| Some(s.produce_records_per_s),
    );
    push("produce MB/s", Unit::MbPerS, HigherIsBetter, |s| {
        Some(s.produce_mb_per_s)
    });
    push(
        "consume records/s",
        Unit::RecordsPerS,
        HigherIsBetter,
        |s| Some(s.consume_records_per_s),
    );
    push("consume MB/s", Unit::MbPerS, HigherIsBetter, |s| {
        Some(s.consume_mb_per_s)
    });
    push("produce ack p50", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.p50_us)
    });
    push("produce ack p90", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.p90_us)
    });
    push("produce ack p99", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.p99_us)
    });
    push("produce ack p99.9", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.p999_us)
    });
    push("produce ack p99.99", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.p9999_us)
    });
    push("produce ack max", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.produce_ack, s.produce_ack.max_us)
    });
    push("end-to-end p50", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.p50_us)
    });
    push("end-to-end p90", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.p90_us)
    });
    push("end-to-end p99", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.p99_us)
    });
    push("end-to-end p99.9", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.p999_us)
    });
    push("end-to-end p99.99", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.p9999_us)
    });
    push("end-to-end max", Unit::LatencyUs, LowerIsBetter, |s| {
        measured(&s.e2e, s.e2e.max_us)
    });
    push("errors total", Unit::Count, LowerIsBetter, |s| {
        Some(s.errors.values().sum::<u64>() as f64)
    });
    // Read only with --pipeline, --broker-metrics and --data-dir; not gated.
    push(
        "produce requests/s",
        Unit::RecordsPerS,
        HigherIsBetter,
        |s| s.produce_requests_per_s,
    );
    push("broker CPU/record", Unit::CpuUs, LowerIsBetter, |s| {
        s.broker_usage.as_ref()?.cpu_us_per_record
    });
    push("broker CPU/request", Unit::CpuUs, LowerIsBetter, |s| {
        s.broker_usage.as_ref()?.cpu_us_per_request
    });
    push("disk B/record B", Unit::Ratio, LowerIsBetter, |s| {
        s.disk_usage.as_ref()?.bytes_per_record_byte
    });
    // Records made durable per disk flush: the group commit's reach.
    push("records per flush", Unit::Ratio, HigherIsBetter, |s| {
        let flushes_per_s = s.disk_usage.as_ref()?.flushes_per_s?;
        (flushes_per_s > 0.0).then(|| s.produce_records_per_s / flushes_per_s)
    });
    rows
}

/// A percentile of a distribution that has samples; a run that consumed
/// nothing has no end-to-end latency, which is not a latency of 0.
fn measured(distribution: &Percentiles, us: u64) -> Option<f64> {
    (distribution.count > 0).then_some(us as f64)
}

/// The side-by-side table, headed by which file is A and which is B and
/// by any difference in their workloads.
pub fn format_comparison(a: (&str, &RunSummary), b: (&str, &RunSummary)) -> String {
    let (name_a, summary_a) = a;
    let (name_b, summary_b) = b;
    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(out, "A: {name_a} ({:.1} s measured)", summary_a.measured_s);
    let _ = writeln!(out, "B: {name_b} ({:.1} s measured)", summary_b.measured_s);

    for difference in workload_differences(summary_a, summary_b) {
        let note = match difference.kind {
            // Every run has its own broker address or topic.
            DifferenceKind::Place => continue,
            DifferenceKind::Length => " (run length only)",
            DifferenceKind::Shape => " (NOT LIKE WITH LIKE)",
            DifferenceKind::Client => " (another client: the same load, compared client to client)",
        };
        let _ = writeln!(
            out,
            "workload differs: {}: A {} B {}{note}",
            difference.setting, difference.a, difference.b
        );
    }
    for (fact, a, b) in host_differences(summary_a, summary_b) {
        let _ = writeln!(out, "host differs: {fact}: A {a} B {b}");
    }

    let _ = writeln!(
        out,
        "verdict on B: higher throughput and lower latency and errors are better; \
         within {}% of A is the same",
        SAME_WITHIN_FRACTION * 100.0
    );
    let _ = writeln!(
        out,
        "\n{:<20}{:>14}{:>14}{:>9}  verdict",
        "metric", "A", "B", "B/A"
    );
    for row in rows(summary_a, summary_b) {
        let ratio = match row.ratio() {
            Some(r) if r.is_infinite() => "inf".to_string(),
            Some(r) => format!("{r:.3}"),
            None => "-".to_string(),
        };
        let verdict = match row.verdict() {
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
            Verdict::Same => "same",
            Verdict::NotMeasured => "n/a",
        };
        let _ = writeln!(
            out,
            "{:<20}{:>14}{:>14}{ratio:>9}  {verdict}",
            row.metric,
            format_value(row.a, row.unit),
            format_value(row.b, row.unit)
        );
    }
    out
}

fn format_value(value: Option<f64>, unit: Unit) -> String {
    let Some(value) = value else {
        return "not measured".to_string();
    };
    match unit {
        Unit::RecordsPerS => format_rate(value),
        Unit::MbPerS => format!("{value:.2}"),
        // Latencies and counts were whole numbers before they became f64.
        Unit::LatencyUs => format_latency_us(value as u64),
        Unit::Count => group_thousands(value as u64),
        Unit::CpuUs => format!("{value:.2} µs"),
        Unit::Ratio => format!("{value:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(records_per_s: f64, p99_us: u64, errors: u64) -> RunSummary {
        let mut s = RunSummary {
            produce_records_per_s: records_per_s,
            produce_mb_per_s: records_per_s / 1000.0,
            consume_records_per_s: records_per_s,
            consume_mb_per_s: records_per_s / 1000.0,
            measured_s: 30.0,
            produce_ack: Percentiles {
                p50_us: 500,
                p90_us: 800,
                p99_us,
                p999_us: 2 * p99_us,
                p9999_us: 3 * p99_us,
                max_us: 10 * p99_us,
                count: 1_000,
            },
            e2e: Percentiles {
                p50_us: 900,
                p99_us: 2 * p99_us,
                count: 1_000,
                ..Percentiles::default()
            },
            ..RunSummary::default()
        };
        if errors > 0 {
            s.errors.insert("NotLeader".into(), errors);
        }
        s.workload.insert("partitions".into(), "8".into());
        s
    }

    fn rows_of(a: &RunSummary, b: &RunSummary) -> Vec<Row> {
        rows(a, b)
    }

    fn row<'a>(rows: &'a [Row], metric: &str) -> &'a Row {
        rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn ratios_and_verdicts_know_which_way_is_better() {
        let a = summary(40_000.0, 4_000, 0);
        let b = summary(60_000.0, 8_000, 3);
        let rows = rows(&a, &b);
        assert_eq!(rows.len(), 22);

        let produce = row(&rows, "produce records/s");
        assert_eq!(produce.ratio(), Some(1.5));
        assert_eq!(produce.verdict(), Verdict::Better);
        assert_eq!(row(&rows, "consume MB/s").ratio(), Some(1.5));

        let p99 = row(&rows, "produce ack p99");
        assert_eq!((p99.a, p99.b), (Some(4_000.0), Some(8_000.0)));
        assert_eq!(p99.ratio(), Some(2.0));
        assert_eq!(p99.verdict(), Verdict::Worse);
        assert_eq!(row(&rows, "produce ack max").ratio(), Some(2.0));
        assert_eq!(row(&rows, "end-to-end p99").ratio(), Some(2.0));

        let p50 = row(&rows, "produce ack p50");
        assert_eq!(p50.ratio(), Some(1.0));
        assert_eq!(p50.verdict(), Verdict::Same);

        let errors = row(&rows, "errors total");
        assert_eq!(errors.ratio(), Some(f64::INFINITY));
        assert_eq!(errors.verdict(), Verdict::Worse);

        // Without --pipeline, --broker-metrics and --data-dir: not measured.
        for metric in [
            "produce requests/s",
            "broker CPU/record",
            "broker CPU/request",
            "disk B/record B",
            "records per flush",
        ] {
            assert_eq!(
                row(&rows, metric).verdict(),
                Verdict::NotMeasured,
                "{metric}"
            );
        }
        let mut cheaper = b.clone();
        cheaper.broker_usage = Some(crate::resources::BrokerUsage {
            cpu_us_per_record: Some(2.0),
            ..Default::default()
        });
        let mut dearer = a.clone();
        dearer.broker_usage = Some(crate::resources::BrokerUsage {
            cpu_us_per_record: Some(4.0),
            ..Default::default()
        });
        let cpu = rows_of(&dearer, &cheaper);
        assert_eq!(row(&cpu, "broker CPU/record").ratio(), Some(0.5));
        assert_eq!(row(&cpu, "broker CPU/record").verdict(), Verdict::Better);

        // The other way round, each verdict flips.
        let rows = super::rows(&b, &a);
        assert_eq!(row(&rows, "produce records/s").verdict(), Verdict::Worse);
        assert_eq!(row(&rows, "produce ack p99").ratio(), Some(0.5));
        assert_eq!(row(&rows, "produce ack p99").verdict(), Verdict::Better);
        assert_eq!(row(&rows, "errors total").ratio(), Some(0.0));
        assert_eq!(row(&rows, "errors total").verdict(), Verdict::Better);
    }

    #[test]
    fn small_differences_are_the_same_and_zero_to_zero_has_no_ratio() {
        let rows = rows(&summary(40_000.0, 4_000, 0), &summary(40_200.0, 4_030, 0));
        assert_eq!(row(&rows, "produce records/s").verdict(), Verdict::Same);
        assert_eq!(row(&rows, "produce ack p99").verdict(), Verdict::Same);
        let errors = row(&rows, "errors total");
        assert_eq!(errors.ratio(), None);
        assert_eq!(errors.verdict(), Verdict::Same);
    }

    #[test]
    fn a_run_that_consumed_nothing_has_no_end_to_end_latency() {
        let a = summary(40_000.0, 4_000, 0);
        let b = RunSummary {
            e2e: Percentiles::default(),
            ..summary(40_000.0, 4_000, 0)
        };
        let rows = rows(&a, &b);
        let e2e = row(&rows, "end-to-end p99");
        assert_eq!(e2e.b, None);
        assert_eq!(e2e.ratio(), None);
        assert_eq!(e2e.verdict(), Verdict::NotMeasured);
    }

    #[test]
    fn compares_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let path_a = dir.path().join("a.json");
        let path_b = dir.path().join("b.json");
        let a = summary(40_000.0, 4_000, 0);
        let mut b = summary(60_000.0, 8_000, 3);
        b.workload.insert("partitions".into(), "16".into());
        fs::write(&path_a, serde_json::to_string_pretty(&a).unwrap()).unwrap();
        fs::write(&path_b, serde_json::to_string_pretty(&b).unwrap()).unwrap();

        let text = compare(&path_a, &path_b).unwrap();
        let line = |metric: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{metric} ")))
                .unwrap_or_else(|| panic!("no {metric} line in:\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(text.contains(&format!("A: {}", path_a.display())), "{text}");
        assert!(text.contains(&format!("B: {}", path_b.display())), "{text}");
        assert!(
            text.contains("workload differs: partitions: A 8 B 16"),
            "{text}"
        );
        assert_eq!(
            line("produce records/s"),
            "produce records/s 40,000 60,000 1.500 better"
        );
        assert_eq!(
            line("produce MB/s"),
            "produce MB/s 40.00 60.00 1.500 better"
        );
        assert_eq!(
            line("produce ack p99"),
            "produce ack p99 4.00 ms 8.00 ms 2.000 WORSE"
        );
        assert_eq!(
            line("produce ack p50"),
            "produce ack p50 500 µs 500 µs 1.000 same"
        );
        assert_eq!(line("errors total"), "errors total 0 3 inf WORSE");
    }

    fn typed(mut summary: RunSummary, partitions: u32, broker: &str) -> RunSummary {
        summary.workload_settings = Some(crate::workload::Workload {
            partitions,
            broker: broker.into(),
            ..crate::workload::Workload::default()
        });
        summary
    }

    #[test]
    fn the_gate_finds_what_is_worse_beyond_the_threshold() {
        let a = summary(40_000.0, 4_000, 0);
        // 4% less throughput, 10% more p99, 3 errors where A had none.
        let b = summary(38_400.0, 4_400, 3);
        let found = |threshold| {
            regressions(&rows(&a, &b), threshold)
                .into_iter()
                .map(|r| (r.metric, (r.worse_by_percent * 10.0).round() / 10.0))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found(5.0),
            [
                ("produce ack p99", 10.0),
                ("end-to-end p99", 10.0),
                ("errors total", f64::INFINITY)
            ]
        );
        let at_three = found(3.0);
        assert!(
            at_three.contains(&("produce records/s", 4.0)),
            "{at_three:?}"
        );
        assert!(at_three.contains(&("consume MB/s", 4.0)), "{at_three:?}");
        // Better is never a regression, however far; the far tail is not
        // gated (p99.9 is 10% worse here too).
        assert_eq!(regressions(&rows(&b, &a), 0.0).len(), 0);
        assert!(!found(0.0).iter().any(|(m, _)| m.contains("99.9")));
        // A measured end-to-end latency, B did not: a regression.
        let b_consumed_nothing = RunSummary {
            e2e: Percentiles::default(),
            ..summary(40_000.0, 4_000, 0)
        };
        assert_eq!(
            regressions(&rows(&a, &b_consumed_nothing), 50.0)
                .iter()
                .map(|r| r.metric)
                .collect::<Vec<_>>(),
            ["end-to-end p50", "end-to-end p90", "end-to-end p99"]
        );
    }

    #[test]
    fn settings_differences_are_sorted_by_what_they_change() {
        let a = typed(summary(1.0, 1, 0), 8, "127.0.0.1:1000");
        let mut b = typed(summary(1.0, 1, 0), 16, "127.0.0.1:2000");
        b.workload_settings.as_mut().unwrap().duration = 60.0;
        let kinds: Vec<(String, DifferenceKind)> = workload_differences(&a, &b)
            .into_iter()
            .map(|d| (d.setting, d.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("broker".to_string(), DifferenceKind::Place),
                ("duration".to_string(), DifferenceKind::Length),
                ("partitions".to_string(), DifferenceKind::Shape),
            ]
        );
        // Older summaries have the string map only.
        let mut old_b = summary(1.0, 1, 0);
        old_b.workload.insert("partitions".into(), "16".into());
        let differences = workload_differences(&summary(1.0, 1, 0), &old_b);
        assert_eq!(differences.len(), 1);
        assert_eq!(
            (differences[0].a.as_str(), differences[0].b.as_str()),
            ("8", "16")
        );
        // A summary from before --consumers-from read the tail: the same as
        // a new one that says so, a different shape from one that did not.
        let mut new_tail = typed(summary(1.0, 1, 0), 8, "x:1");
        new_tail.workload = new_tail.workload_settings.as_ref().unwrap().describe();
        let mut old = summary(1.0, 1, 0);
        old.workload = new_tail.workload.clone();
        old.workload.remove("consumers_from");
        let shapes = |a: &RunSummary, b: &RunSummary| -> Vec<String> {
            workload_differences(a, b)
                .into_iter()
                .filter(|d| d.kind == DifferenceKind::Shape)
                .map(|d| d.setting)
                .collect()
        };
        assert_eq!(shapes(&old, &new_tail), Vec::<String>::new());
        let mut new_earliest = new_tail.clone();
        new_earliest
            .workload
            .insert("consumers_from".into(), "earliest".into());
        assert_eq!(shapes(&old, &new_earliest), ["consumers_from"]);
    }

    #[test]
    fn the_gate_refuses_different_workloads_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, summary: &RunSummary| {
            let path = dir.path().join(name);
            fs::write(&path, serde_json::to_string(summary).unwrap()).unwrap();
            path
        };
        let a = write("a.json", &typed(summary(40_000.0, 4_000, 0), 8, "x:1"));
        let same_shape = write("b.json", &typed(summary(30_000.0, 4_000, 0), 8, "y:2"));
        let other_shape = write("c.json", &typed(summary(40_000.0, 4_000, 0), 16, "x:1"));
        let gate = |threshold| CompareOptions {
            threshold_percent: Some(threshold),
            allow_different_workloads: false,
        };

        let comparison = compare_with(&a, &same_shape, &gate(10.0)).unwrap();
        assert_eq!(comparison.regressions.len(), 4, "{}", comparison.text);
        assert!(comparison
            .text
            .contains("REGRESSION: produce records/s worse by 25.0%"));
        assert!(!comparison.text.contains("workload differs: broker"));
        assert!(compare_with(&a, &same_shape, &gate(30.0))
            .unwrap()
            .text
            .contains("gate: passed"));

        let refused = compare_with(&a, &other_shape, &gate(10.0)).unwrap_err();
        assert!(refused.contains("partitions: A 8 B 16"), "{refused}");
        assert!(refused.contains("--allow-different-workloads"), "{refused}");
        let allowed = CompareOptions {
            allow_different_workloads: true,
            ..gate(10.0)
        };
        let comparison = compare_with(&a, &other_shape, &allowed).unwrap();
        assert!(comparison.regressions.is_empty());
        assert!(comparison
            .text
            .contains("workload differs: partitions: A 8 B 16 (NOT LIKE WITH LIKE)"));
        // Without a gate, a difference is printed, not refused.
        assert!(compare(&a, &other_shape).is_ok());
        assert!(compare_with(&a, &same_shape, &gate(-1.0)).is_err());
    }

    #[test]
    fn another_protocol_is_another_client_and_no_gate() {
        let dir = tempfile::tempdir().unwrap();
        let native = typed(summary(40_000.0, 4_000, 0), 8, "x:1");
        let mut kafka = typed(summary(30_000.0, 4_000, 0), 8, "x:2");
        kafka.workload_settings.as_mut().unwrap().protocol = crate::workload::Protocol::Kafka;
        let kinds: Vec<(String, DifferenceKind)> = workload_differences(&native, &kafka)
            .into_iter()
            .map(|d| (d.setting, d.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("broker".to_string(), DifferenceKind::Place),
                ("protocol".to_string(), DifferenceKind::Client),
            ]
        );
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        fs::write(&a, serde_json::to_string(&native).unwrap()).unwrap();
        fs::write(&b, serde_json::to_string(&kafka).unwrap()).unwrap();
        let table = compare(&a, &b).unwrap();
        assert!(
            table.contains("workload differs: protocol: A native B kafka (another client"),
            "{table}"
        );
        let gate = CompareOptions {
            threshold_percent: Some(10.0),
            allow_different_workloads: false,
        };
        let refused = compare_with(&a, &b, &gate).unwrap_err();
        assert!(refused.contains("protocol: A native B kafka"), "{refused}");
    }

    #[test]
    fn a_report_directory_stands_for_its_summary() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        fs::write(
            run.join("summary.json"),
            serde_json::to_string(&summary(1.0, 1, 0)).unwrap(),
        )
        .unwrap();
        let text = compare(&run, &run).unwrap();
        assert!(text.contains("summary.json"), "{text}");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        fs::write(&good, serde_json::to_string(&summary(1.0, 1, 0)).unwrap()).unwrap();
        let missing = dir.path().join("missing.json");
        let garbage = dir.path().join("garbage.json");
        fs::write(&garbage, "not json at all").unwrap();
        let wrong_shape = dir.path().join("wrong_shape.json");
        fs::write(&wrong_shape, r#"{"produce_records_per_s": "fast"}"#).unwrap();

        for bad in [&missing, &garbage, &wrong_shape] {
            let name = bad.display().to_string();
            let error = compare(&good, bad).unwrap_err();
            assert!(error.contains(&name), "{error}");
            let error = compare(bad, &good).unwrap_err();
            assert!(error.contains(&name), "{error}");
        }
        assert!(compare(&good, &missing)
            .unwrap_err()
            .starts_with("cannot read"));
        assert!(compare(&good, &garbage)
            .unwrap_err()
            .contains("is not a loadtest summary.json"));
    }
}
