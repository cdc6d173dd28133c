//! The soak's report: [`SoakReport`] (written as `soak.json`; its field
//! names are a contract), the Markdown `soak.md`, and the text printed at
//! the end of a run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::faults::Signal;
use super::sampler::Sample;
use crate::verify::checker::Check;

/// One restart: the fault that caused it and how long recovery took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Restart {
    /// Seconds since the load started, when the signal was sent.
    pub at_s: f64,
    pub signal: Signal,
    /// How the broker exited ("signal: 9 (SIGKILL)", "exit status: 0").
    pub exit: String,
    /// From the spawn of the new broker to its ready file (it serves: its
    /// logs are recovered and its ports open).
    pub ready_ms: Option<u64>,
    /// From the spawn of the new broker to the first accepted produce;
    /// `None` if none was accepted within the recovery timeout.
    pub recovery_ms: Option<u64>,
}

/// Everything a soak found. `passed` is what the exit code says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SoakReport {
    pub passed: bool,
    /// Why the run failed, one line each (empty when it passed).
    pub failures: Vec<String>,
    pub seed: u64,
    /// The settings of the run.
    pub duration_s: f64,
    pub kill_every_s: Option<f64>,
    pub sigterm_every_s: Option<f64>,
    pub rate: f64,
    pub partitions: u32,
    pub producers: u32,
    pub consumers: u32,
    pub record_bytes: usize,
    pub acks: String,
    /// Whether the producers were idempotent (`--no-idempotence`); false
    /// in reports from before the flag, whose producers were not.
    #[serde(default)]
    pub idempotence: bool,
    pub broker_cores: usize,

    /// The checker's counts: the contract fields first.
    pub acknowledged: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub inconsistent_offsets: u64,
    pub non_monotonic_reads: u64,
    pub check: Check,

    pub restarts: u64,
    pub sigkills: u64,
    pub sigterms: u64,
    /// Exits nobody asked for (a crash).
    pub unexpected_exits: u64,
    /// Panics in the broker's log (a panic caught inside the broker, such as
    /// in a glommio waker, leaves it running but broken).
    pub broker_panics: u64,
    /// SIGTERMs the broker did not act on within the timeout (then killed).
    pub sigterm_timeouts: u64,
    /// Fault moments that passed while the broker was recovering.
    pub faults_skipped: u64,
    pub recovery_ms_p50: Option<u64>,
    pub recovery_ms_max: Option<u64>,
    /// Spawn to serving (the ready file), over the restarts.
    pub ready_ms_p50: Option<u64>,
    pub ready_ms_max: Option<u64>,
    pub restart_log: Vec<Restart>,

    /// Acknowledged records per second over the load, on average.
    pub throughput_per_s: f64,
    pub ack_p50_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
    pub ack_max_ms: Option<f64>,
    pub rss_bytes_max: Option<u64>,
    pub open_files_max: Option<u64>,

    /// The idle phase: consumers long-polling a topic that gets records
    /// only at the end ([`super::idle`]).
    pub idle_consumers: u32,
    /// Idle fetches answered over the run.
    pub idle_polls: u64,
    /// Records the idle consumers should have read at the end, in all.
    pub idle_records_expected: u64,
    pub idle_records_read: u64,
    /// One per second: throughput, ack p99, RSS, open files.
    pub samples: Vec<Sample>,
}

impl SoakReport {
    /// Fills `passed` and `failures` from the counts.
    pub fn judge(&mut self, errors: &[String]) {
        let mut failures: Vec<String> = errors.to_vec();
        let mut fail = |count: u64, what: &str| {
            if count > 0 {
                failures.push(format!("{count} {what}"));
            }
        };
        fail(self.lost, "acknowledged records lost");
        fail(self.inconsistent_offsets, "inconsistent offsets");
        fail(self.non_monotonic_reads, "non-monotonic reads");
        fail(
            self.check.unknown_records,
            "records in the log that nobody sent",
        );
        fail(self.unexpected_exits, "unexpected broker exits");
        let unrecovered = self
            .restart_log
            .iter()
            .filter(|r| r.recovery_ms.is_none())
            .count() as u64;
        fail(unrecovered, "restarts with no produce accepted in time");
        if self.acknowledged == 0 {
            failures.push("nothing was acknowledged".into());
        }
        if self.idle_records_read < self.idle_records_expected {
            failures.push(format!(
                "idle consumers read {} of the {} records produced to the idle topic at the end",
                self.idle_records_read, self.idle_records_expected
            ));
        }
        self.passed = failures.is_empty();
        self.failures = failures;
    }
}

/// p50 and max of the times there are.
pub fn recovery_summary(times: impl Iterator<Item = Option<u64>>) -> (Option<u64>, Option<u64>) {
    let mut times: Vec<u64> = times.flatten().collect();
    times.sort_unstable();
    let p50 = (!times.is_empty()).then(|| times[(times.len() - 1) / 2]);
    (p50, times.last().copied())
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v} ms"))
}

fn ms_f(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1} ms"))
}

fn mib(value: Option<u64>) -> String {
    value.map_or_else(
        || "-".to_string(),
        |v| format!("{:.1} MiB", v as f64 / 1048576.0),
    )
}

/// The rows of the summary, as (name, value).
fn summary_rows(r: &SoakReport) -> Vec<(&'static str, String)> {
    let c = &r.check;
    vec![
        ("result", if r.passed { "PASSED" } else { "FAILED" }.to_string()),
        ("acknowledged", r.acknowledged.to_string()),
        ("lost", r.lost.to_string()),
        ("duplicates", r.duplicates.to_string()),
        (
            "inconsistent offsets",
            format!(
                "{} (gaps {}, repeats {}, acked offset mismatches {})",
                r.inconsistent_offsets, c.offset_gaps, c.offset_repeats, c.acked_offset_mismatches
            ),
        ),
        (
            "non-monotonic reads",
            format!(
                "{} (backwards {}, skipping {}, not durable {}) of {} reads",
                r.non_monotonic_reads,
                c.reads_backwards,
                c.reads_skipping,
                c.reads_not_durable,
                c.reads
            ),
        ),
        (
            "sent / failed / unknown",
            format!("{} / {} / {}", c.sent, c.failed, c.unknown),
        ),
        (
            "present, never acknowledged",
            format!("{} (allowed)", c.unacknowledged_present),
        ),
        ("records nobody sent", c.unknown_records.to_string()),
        ("records in the log", c.records_in_log.to_string()),
        (
            "restarts",
            format!(
                "{} (SIGKILL {}, SIGTERM {}; unexpected exits {}, broker panics {}, SIGTERM timeouts {}, faults skipped {})",
                r.restarts, r.sigkills, r.sigterms, r.unexpected_exits, r.broker_panics, r.sigterm_timeouts, r.faults_skipped
            ),
        ),
        (
            "recovery p50 / max",
            format!("{} / {}", ms(r.recovery_ms_p50), ms(r.recovery_ms_max)),
        ),
        (
            "serving after restart p50 / max",
            format!("{} / {}", ms(r.ready_ms_p50), ms(r.ready_ms_max)),
        ),
        ("throughput", format!("{:.0} acknowledged/s", r.throughput_per_s)),
        (
            "ack latency p50 / p99 / max",
            format!(
                "{} / {} / {}",
                ms_f(r.ack_p50_ms),
                ms_f(r.ack_p99_ms),
                ms_f(r.ack_max_ms)
            ),
        ),
        (
            "broker RSS max / open files max",
            format!(
                "{} / {}",
                mib(r.rss_bytes_max),
                r.open_files_max.map_or("-".into(), |v| v.to_string())
            ),
        ),
        (
            "idle consumers: polls / end reads",
            format!(
                "{} consumers: {} polls / {} of {}",
                r.idle_consumers, r.idle_polls, r.idle_records_read, r.idle_records_expected
            ),
        ),
        ("seed", r.seed.to_string()),
    ]
}

/// The text printed at the end of a run.
pub fn format_text(r: &SoakReport) -> String {
    let mut out = String::new();
    for (name, value) in summary_rows(r) {
        let _ = writeln!(out, "{name:<32} {value}");
    }
    for failure in &r.failures {
        let _ = writeln!(out, "FAILURE: {failure}");
    }
    if !r.check.examples.is_empty() {
        let _ = writeln!(out, "examples (duplicates are allowed):");
    }
    for example in &r.check.examples {
        let _ = writeln!(out, "  {example}");
    }
    out
}

/// `soak.md`: the summary, the restarts, and the samples a minute at a time.
pub fn format_markdown(r: &SoakReport) -> String {
    let mut out = String::new();
    let every = |e: Option<f64>| e.map_or("-".to_string(), |s| format!("{s} s"));
    let _ = writeln!(out, "# Soak report\n");
    let _ = writeln!(
        out,
        "{} s of load at {} records/s ({} producers{}, {} consumers, {} B records, acks {}) \
         on {} partitions; SIGKILL every {}, SIGTERM every {}; broker on {} cores.\n",
        r.duration_s,
        r.rate,
        r.producers,
        if r.idempotence {
            ""
        } else {
            " without idempotence"
        },
        r.consumers,
        r.record_bytes,
        r.acks,
        r.partitions,
        every(r.kill_every_s),
        every(r.sigterm_every_s),
        r.broker_cores,
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    for (name, value) in summary_rows(r) {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\n## Failures\n");
        for failure in &r.failures {
            let _ = writeln!(out, "- {failure}");
        }
    }
    if !r.check.examples.is_empty() {
        let _ = writeln!(
            out,
            "\n## Examples\n\nThe first few of each kind (duplicates are allowed).\n"
        );
        for example in &r.check.examples {
            let _ = writeln!(out, "- `{example}`");
        }
    }
    let _ = writeln!(out, "\n## Restarts\n");
    let _ = writeln!(
        out,
        "| at (s) | signal | exit | recovery |\n|---|---|---|---|"
    );
    for restart in &r.restart_log {
        let _ = writeln!(
            out,
            "| {:.1} | {:?} | {} | {} |",
            restart.at_s,
            restart.signal,
            restart.exit,
            ms(restart.recovery_ms)
        );
    }
    let _ = writeln!(out, "\n## Over time (per minute)\n");
    let _ = writeln!(
        out,
        "| minute | acknowledged/s | ack p99 max | broker RSS max | open files max |\n|---|---|---|---|---|"
    );
    for (minute, chunk) in r.samples.chunks(60).enumerate() {
        let acknowledged: u64 = chunk.iter().map(|s| s.acknowledged).sum();
        let p99 = chunk.iter().filter_map(|s| s.ack_p99_ms).reduce(f64::max);
        let rss = chunk.iter().filter_map(|s| s.rss_bytes).max();
        let files = chunk.iter().filter_map(|s| s.open_files).max();
        let _ = writeln!(
            out,
            "| {minute} | {:.0} | {} | {} | {} |",
            acknowledged as f64 / chunk.len() as f64,
            ms_f(p99),
            mib(rss),
            files.map_or("-".into(), |v| v.to_string())
        );
    }
    out
}

/// Writes `soak.json` and `soak.md` into `dir`; returns their paths.
pub fn write_report(dir: &Path, r: &SoakReport) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = dir.join("soak.json");
    let text = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(&json, text + "\n")?;
    let md = dir.join("soak.md");
    std::fs::write(&md, format_markdown(r))?;
    Ok(vec![json, md])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_the_contract_fields_and_a_loss_fails() {
        let mut r = SoakReport {
            acknowledged: 10,
            restarts: 2,
            restart_log: vec![
                Restart {
                    at_s: 1.0,
                    signal: Signal::Kill,
                    exit: "signal: 9".into(),
                    ready_ms: Some(200),
                    recovery_ms: Some(300),
                },
                Restart {
                    at_s: 2.0,
                    signal: Signal::Term,
                    exit: "exit status: 0".into(),
                    ready_ms: Some(50),
                    recovery_ms: Some(100),
                },
            ],
            ..SoakReport::default()
        };
        (r.recovery_ms_p50, r.recovery_ms_max) =
            recovery_summary(r.restart_log.iter().map(|x| x.recovery_ms));
        assert_eq!(
            (r.recovery_ms_p50, r.recovery_ms_max),
            (Some(100), Some(300))
        );
        r.judge(&[]);
        assert!(r.passed, "{:?}", r.failures);
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        for field in [
            "acknowledged",
            "lost",
            "duplicates",
            "inconsistent_offsets",
            "restarts",
            "recovery_ms_p50",
            "recovery_ms_max",
        ] {
            assert!(json.get(field).is_some(), "soak.json lacks {field}");
        }
        r.lost = 1;
        r.judge(&[]);
        assert!(!r.passed);
        assert!(format_markdown(&r).contains("1 acknowledged records lost"));
    }
}
