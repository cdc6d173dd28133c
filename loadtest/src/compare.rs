//! Two runs side by side: every headline metric of two `summary.json`
//! files with A, B, the ratio B/A and whether B is better or worse. It
//! reads summaries only; it never runs load.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

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
    let summary_a = read_summary(a)?;
    let summary_b = read_summary(b)?;
    Ok(format_comparison(
        (&a.display().to_string(), &summary_a),
        (&b.display().to_string(), &summary_b),
    ))
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

    let keys = summary_a.workload.keys().chain(summary_b.workload.keys());
    let mut differing: Vec<&String> = keys
        .filter(|key| summary_a.workload.get(*key) != summary_b.workload.get(*key))
        .collect();
    differing.sort();
    differing.dedup();
    for key in differing {
        let value = |s: &RunSummary| s.workload.get(key).cloned().unwrap_or("-".into());
        let _ = writeln!(
            out,
            "workload differs: {key}: A {} B {}",
            value(summary_a),
            value(summary_b)
        );
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

    fn row<'a>(rows: &'a [Row], metric: &str) -> &'a Row {
        rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn ratios_and_verdicts_know_which_way_is_better() {
        let a = summary(40_000.0, 4_000, 0);
        let b = summary(60_000.0, 8_000, 3);
        let rows = rows(&a, &b);
        assert_eq!(rows.len(), 17);

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
