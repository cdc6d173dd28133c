//! Workload files: a suite of runs described in TOML and run with one
//! command, as the OpenMessaging Benchmark runs its workload files.
//!
//! ```toml
//! description = "what the suite measures"
//!
//! [defaults]            # any run setting, named as its flag (--record-bytes: record_bytes)
//! producers = 4
//! record_bytes = 1024
//!
//! [[runs]]
//! name = "p16-durable-max"
//! group = "p16-durable"  # runs of a group share a broker (scripts/bench.sh restarts it between groups)
//! partitions = 16
//! acks = "durable"
//!
//! [[runs]]
//! name = "p16-durable-r50"
//! group = "p16-durable"
//! partitions = 16
//! rate_percent_of = { run = "p16-durable-max", percent = 50 }
//! ```
//!
//! A run's settings are the command line's defaults, then `[defaults]`,
//! then its own table; unknown settings are errors (a typo must not fall
//! back to a default silently). Each run drives its own topic,
//! `<topic>-<name>`, unless it names one. `rate_percent_of` sets a fixed
//! rate from the produce records/s an earlier run of the suite measured,
//! read from that run's `summary.json`.
//!
//! Reports go to `<out>/runs/<name>/report/`, the layout of
//! scripts/bench.sh.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::compare::read_summary;
use crate::report::SUMMARY_JSON;
use crate::summary::RunSummary;
use crate::workload::Workload;

/// Most runs one file may hold.
pub const SUITE_RUNS_MAX: usize = 1_000;
/// Longest run name: it becomes a directory and a topic name.
pub const RUN_NAME_BYTES_MAX: usize = 100;

/// Keys of a `[[runs]]` table that are not run settings.
const RUN_KEYS: [&str; 3] = ["name", "group", "rate_percent_of"];

/// A suite file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    #[serde(default)]
    description: String,
    #[serde(default)]
    defaults: toml::Table,
    runs: Vec<toml::Table>,
}

/// A fixed rate taken from an earlier run's measured throughput.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePercentOf {
    /// The earlier run.
    pub run: String,
    /// Percent of its produce records/s.
    pub percent: f64,
}

/// One run of a suite, its settings resolved (but a relative rate not yet:
/// see [`Suite::workload_for`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteRun {
    pub name: String,
    /// `None`: a group of its own.
    pub group: Option<String>,
    pub workload: Workload,
    pub rate_percent_of: Option<RatePercentOf>,
}

impl SuiteRun {
    /// The group's name, or the run's when it has none.
    pub fn group_name(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.name)
    }
}

/// A suite, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    pub description: String,
    pub runs: Vec<SuiteRun>,
}

impl Suite {
    /// Reads and checks a suite file; errors name the file and the run.
    pub fn read(path: &Path) -> Result<Suite, String> {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("--suite: cannot read {}: {e}", path.display()))?;
        Suite::parse(&text).map_err(|e| format!("--suite {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Suite, String> {
        let file: SuiteFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.runs.is_empty() {
            return Err("no [[runs]]".into());
        }
        if file.runs.len() > SUITE_RUNS_MAX {
            return Err(format!(
                "{} runs; a suite holds at most {SUITE_RUNS_MAX}",
                file.runs.len()
            ));
        }
        let base_topic = file
            .defaults
            .get("topic")
            .and_then(|t| t.as_str())
            .map_or_else(|| Workload::default().topic, str::to_string);
        let mut names = BTreeSet::new();
        let mut runs = Vec::with_capacity(file.runs.len());
        for (index, table) in file.runs.into_iter().enumerate() {
            let run = resolve_run(&file.defaults, table, &base_topic)
                .map_err(|e| format!("run {}: {e}", index + 1))?;
            if let Some(reference) = &run.rate_percent_of {
                if !names.contains(&reference.run) {
                    return Err(format!(
                        "run {}: rate_percent_of names `{}`, which is not an earlier run",
                        run.name, reference.run
                    ));
                }
            }
            if !names.insert(run.name.clone()) {
                return Err(format!("two runs are named `{}`", run.name));
            }
            runs.push(run);
        }
        Ok(Suite {
            description: file.description,
            runs,
        })
    }

    pub fn run(&self, name: &str) -> Result<&SuiteRun, String> {
        self.runs
            .iter()
            .find(|run| run.name == name)
            .ok_or_else(|| format!("the suite has no run named `{name}`"))
    }

    /// The run's workload, with a relative rate made absolute from the
    /// `summary.json` its reference run wrote under `out`.
    pub fn workload_for(&self, run: &SuiteRun, out: &Path) -> Result<Workload, String> {
        let mut workload = run.workload.clone();
        if let Some(reference) = &run.rate_percent_of {
            let summary_path = report_dir(out, &reference.run).join(SUMMARY_JSON);
            let measured = read_summary(&summary_path)
                .map_err(|e| {
                    format!(
                        "run {} takes its rate from run {}: {e}",
                        run.name, reference.run
                    )
                })?
                .produce_records_per_s;
            let rate = (measured * reference.percent / 100.0).floor();
            if rate < 1.0 {
                return Err(format!(
                    "run {}: {}% of run {}'s {measured:.0} records/s is no rate",
                    run.name, reference.percent, reference.run
                ));
            }
            workload.rate = Some(rate);
        }
        Ok(workload)
    }
}

/// The suite's results, one line per run that finished (a run that
/// failed says so).
pub fn format_suite_table(results: &[(String, Result<RunSummary, String>)]) -> String {
    use std::fmt::Write as _;

    use crate::report::units::{format_latency_us, format_rate};

    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(
        out,
        "{:<32}{:>15}{:>14}{:>14}{:>12}{:>12}{:>12}{:>12}  errors",
        "run",
        "produce rec/s",
        "produce MB/s",
        "consume MB/s",
        "ack p50",
        "ack p99",
        "ack p99.99",
        "e2e p99"
    );
    for (name, result) in results {
        match result {
            Ok(s) => {
                let errors: u64 = s.errors.values().sum();
                let _ = writeln!(
                    out,
                    "{name:<32}{:>15}{:>14.1}{:>14.1}{:>12}{:>12}{:>12}{:>12}  {errors}",
                    format_rate(s.produce_records_per_s),
                    s.produce_mb_per_s,
                    s.consume_mb_per_s,
                    format_latency_us(s.produce_ack_p50_us),
                    format_latency_us(s.produce_ack_p99_us),
                    format_latency_us(s.produce_ack_p9999_us),
                    format_latency_us(s.e2e_p99_us),
                );
            }
            Err(error) => {
                let _ = writeln!(out, "{name:<32}FAILED: {error}");
            }
        }
    }
    out
}

/// Where a run of a suite writes its report: `<out>/runs/<name>/report`.
pub fn report_dir(out: &Path, run: &str) -> PathBuf {
    out.join("runs").join(run).join("report")
}

fn resolve_run(
    defaults: &toml::Table,
    mut table: toml::Table,
    base_topic: &str,
) -> Result<SuiteRun, String> {
    let name = match table.remove("name") {
        Some(toml::Value::String(name)) => name,
        Some(_) => return Err("`name` must be a string".into()),
        None => return Err("has no `name`".into()),
    };
    let name_is_safe = !name.is_empty()
        && name.len() <= RUN_NAME_BYTES_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !name_is_safe {
        return Err(format!(
            "name `{name}`: a directory and topic name of 1 to {RUN_NAME_BYTES_MAX} \
             letters, digits, '-', '_' or '.', not starting with '.'"
        ));
    }
    let in_run = |e: String| format!("{name}: {e}");
    let group = match table.remove("group") {
        Some(toml::Value::String(group)) => Some(group),
        Some(_) => return Err(in_run("`group` must be a string".into())),
        None => None,
    };
    let rate_percent_of: Option<RatePercentOf> = table
        .remove("rate_percent_of")
        .map(|value| value.try_into::<RatePercentOf>())
        .transpose()
        .map_err(|e| in_run(format!("rate_percent_of: {e}")))?;
    if let Some(reference) = &rate_percent_of {
        if !reference.percent.is_finite() || reference.percent <= 0.0 {
            return Err(in_run("rate_percent_of.percent must be positive".into()));
        }
        if table.contains_key("rate") {
            return Err(in_run("both `rate` and `rate_percent_of`".into()));
        }
    }
    let mut settings = defaults.clone();
    for key in RUN_KEYS {
        if settings.contains_key(key) {
            return Err(format!("[defaults] cannot set `{key}`"));
        }
    }
    if !table.contains_key("topic") {
        settings.insert("topic".into(), format!("{base_topic}-{name}").into());
    }
    settings.extend(table);
    let workload: Workload = toml::Value::Table(settings)
        .try_into()
        .map_err(|e: toml::de::Error| in_run(e.to_string()))?;
    let mut checked = workload.clone();
    if rate_percent_of.is_some() {
        // Any rate passes validation until the reference run measured one.
        checked.rate = Some(1.0);
    }
    checked.validate().map_err(in_run)?;
    Ok(SuiteRun {
        name,
        group,
        workload,
        rate_percent_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{AcksArg, ConsumersFrom};

    const SMALL: &str = r#"
        description = "two runs"
        [defaults]
        producers = 2
        record_bytes = 512
        duration = 3

        [[runs]]
        name = "max"
        group = "p4"
        partitions = 4
        acks = "written"

        [[runs]]
        name = "half"
        group = "p4"
        partitions = 4
        rate_percent_of = { run = "max", percent = 50 }
        consumers_from = "earliest"
        topic = "shared"
    "#;

    #[test]
    fn settings_layer_defaults_then_the_run() {
        let suite = Suite::parse(SMALL).unwrap();
        assert_eq!(suite.description, "two runs");
        let max = suite.run("max").unwrap();
        let expected = Workload {
            producers: 2,
            record_bytes: 512,
            duration: 3.0,
            partitions: 4,
            acks: AcksArg::Written,
            topic: "loadtest-max".into(),
            ..Workload::default()
        };
        assert_eq!(max.workload, expected);
        assert_eq!(max.group_name(), "p4");
        let half = suite.run("half").unwrap();
        assert_eq!(half.workload.topic, "shared");
        assert_eq!(half.workload.consumers_from, ConsumersFrom::Earliest);
        assert_eq!(half.workload.acks, AcksArg::Durable, "the flag's default");
        assert_eq!(
            half.rate_percent_of,
            Some(RatePercentOf {
                run: "max".into(),
                percent: 50.0
            })
        );
        assert!(suite.run("nope").is_err());
    }

    #[test]
    fn a_relative_rate_comes_from_the_earlier_runs_summary() {
        let suite = Suite::parse(SMALL).unwrap();
        let out = tempfile::tempdir().unwrap();
        let half = suite.run("half").unwrap();
        let error = suite.workload_for(half, out.path()).unwrap_err();
        assert!(
            error.contains("max") && error.contains("summary.json"),
            "{error}"
        );

        let dir = report_dir(out.path(), "max");
        fs::create_dir_all(&dir).unwrap();
        let summary = RunSummary {
            produce_records_per_s: 12_345.6,
            ..RunSummary::default()
        };
        fs::write(
            dir.join(SUMMARY_JSON),
            serde_json::to_string(&summary).unwrap(),
        )
        .unwrap();
        let workload = suite.workload_for(half, out.path()).unwrap();
        assert_eq!(workload.rate, Some(6_172.0));
        let max = suite.run("max").unwrap();
        assert_eq!(suite.workload_for(max, out.path()).unwrap().rate, None);
    }

    #[test]
    fn mistakes_are_errors_that_say_where() {
        let cases = [
            ("runs = []", "no [[runs]]"),
            ("[[runs]]\npartitions = 1", "run 1: has no `name`"),
            ("[[runs]]\nname = \"a/b\"", "name `a/b`"),
            ("[[runs]]\nname = \"a\"\npartitons = 4", "partitons"),
            ("[[runs]]\nname = \"a\"\nacks = \"always\"", "always"),
            ("[[runs]]\nname = \"a\"\npartitions = 0", "--partitions"),
            (
                "[[runs]]\nname = \"a\"\n[[runs]]\nname = \"a\"",
                "two runs are named `a`",
            ),
            (
                "[[runs]]\nname = \"a\"\nrate_percent_of = { run = \"b\", percent = 5 }",
                "not an earlier run",
            ),
            (
                "[[runs]]\nname = \"b\"\n[[runs]]\nname = \"a\"\nrate = 5.0\n\
                 rate_percent_of = { run = \"b\", percent = 5 }",
                "both `rate` and `rate_percent_of`",
            ),
            (
                "[defaults]\nname = \"x\"\n[[runs]]\nname = \"a\"",
                "[defaults] cannot set",
            ),
            ("colour = 1\n[[runs]]\nname = \"a\"", "colour"),
        ];
        for (text, expected) in cases {
            let error = Suite::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let missing = Suite::read(Path::new("/no/such/suite.toml")).unwrap_err();
        assert!(missing.contains("/no/such/suite.toml"), "{missing}");
    }

    /// The standard suite in the repository reads, and is the suite of
    /// scripts/bench.sh: 6 groups of max + 25/50/75%, and one per request.
    #[test]
    fn the_standard_suite_file_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/standard.toml");
        let suite = Suite::read(&path).unwrap();
        assert_eq!(suite.runs.len(), 25);
        let groups: BTreeSet<&str> = suite.runs.iter().map(|r| r.group_name()).collect();
        assert_eq!(groups.len(), 7);
        for partitions in [1, 16, 64] {
            for acks in ["durable", "written"] {
                let max = suite.run(&format!("p{partitions}-{acks}-max")).unwrap();
                assert_eq!(max.workload.partitions, partitions);
                assert_eq!(max.workload.rate, None);
                for percent in [25, 50, 75] {
                    let name = format!("p{partitions}-{acks}-r{percent}");
                    let run = suite.run(&name).unwrap();
                    assert_eq!(
                        run.rate_percent_of
                            .as_ref()
                            .map(|r| (r.run.as_str(), r.percent)),
                        Some((max.name.as_str(), f64::from(percent))),
                        "{name}"
                    );
                    assert_eq!(run.group, max.group);
                }
            }
        }
        let one = suite.run("p64-durable-one-per-request").unwrap();
        assert_eq!(
            (
                one.workload.batch_bytes,
                one.workload.linger_ms,
                one.workload.inflight
            ),
            (1200, 0, 64)
        );
        for run in &suite.runs {
            let w = &run.workload;
            assert_eq!(
                (w.producers, w.consumers, w.record_bytes, w.key_bytes),
                (4, 4, 1024, 0),
                "{}",
                run.name
            );
            assert_eq!(w.topic, format!("bench-{}", run.name));
        }
    }

    /// The side-by-side suite of scripts/bench-kafka.sh holds the standard
    /// suite's two target workloads, with the same settings.
    #[test]
    fn the_kafka_side_by_side_suite_is_the_standard_targets() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let side = Suite::read(&dir.join("kafka-side-by-side.toml")).unwrap();
        let standard = Suite::read(&dir.join("standard.toml")).unwrap();
        let names: Vec<&str> = side.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["batched", "one-per-request"]);
        for (name, standard_name) in [
            ("batched", "p16-durable-max"),
            ("one-per-request", "p64-durable-one-per-request"),
        ] {
            let mut expected = standard.run(standard_name).unwrap().workload.clone();
            expected.topic = format!("side-{name}");
            assert_eq!(side.run(name).unwrap().workload, expected, "{name}");
        }
    }
}
