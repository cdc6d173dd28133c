//! Turns a finished run into what a person reads: the `.hgrm` percentile
//! distributions, `summary.json`, the plots (SVG, and PNG from the same SVG)
//! and the text report. It only reads what the run measured; it never
//! measures.
//!
//! - `hgrm`: the percentile distribution text HdrHistogram's tools read.
//! - the `.hlog` interval logs come from [`crate::interval_log`].
//! - `plot`: `latency.svg`, `throughput.svg` and the overlay of runs.
//! - `png`: a plot's SVG rasterised to PNG (`latency.png` beside
//!   `latency.svg`, `--out cmp.png`).
//! - `overlay`: `--plot A B C --out cmp.svg`, from report directories.
//! - `text`: the report printed at the end of a run.
//! - `units`: numbers with their units, shared with [`crate::compare`].

mod hgrm;
mod overlay;
mod plot;
mod png;
mod text;
pub(crate) mod units;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::run::Outcome;
use crate::summary::RunSummary;

pub use hgrm::{format_hgrm, parse_hgrm, write_hgrm, HgrmRow};
pub use overlay::{write_overlay, PlotLatency};
pub use plot::{
    footer_lines, latency_svg, overlay_svg, plotted_seconds, throughput_svg, OverlayRun,
    OVERLAY_RUNS_MAX,
};
pub use png::{render_png, write_png, Fonts, PNG_SCALE};
pub use text::format_report;

pub const PRODUCE_ACK_HGRM: &str = "produce_ack.hgrm";
pub const E2E_HGRM: &str = "e2e.hgrm";
pub const SUMMARY_JSON: &str = "summary.json";
pub const LATENCY_SVG: &str = "latency.svg";
pub const THROUGHPUT_SVG: &str = "throughput.svg";
pub const LATENCY_PNG: &str = "latency.png";
pub const THROUGHPUT_PNG: &str = "throughput.png";
pub const PRODUCE_ACK_HLOG: &str = "produce_ack.hlog";
pub const E2E_HLOG: &str = "e2e.hlog";

/// Everything a run writes: [`write_report`]'s files, then the interval
/// logs `produce_ack.hlog` and `e2e.hlog` (only when records were
/// consumed, as `e2e.hgrm`).
pub fn write_outcome(dir: &Path, outcome: &Outcome) -> io::Result<Vec<PathBuf>> {
    let mut written = write_report(
        dir,
        &outcome.summary,
        &outcome.produce_ack_us,
        &outcome.e2e_us,
    )?;
    let mut logs = vec![(PRODUCE_ACK_HLOG, "produce ack", &outcome.produce_ack_log)];
    if !outcome.e2e_us.is_empty() {
        logs.push((E2E_HLOG, "end-to-end", &outcome.e2e_log));
    }
    for (name, what, log) in logs {
        let comments = [
            format!("shardlog-loadtest {what} latency, microseconds, one interval per second"),
            outcome
                .summary
                .provenance
                .as_ref()
                .map_or_else(String::new, |p| p.one_line()),
        ];
        let comments: Vec<&str> = comments
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .collect();
        let path = dir.join(name);
        fs::write(&path, log.to_bytes(outcome.measurement_start, &comments)?)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes a run's files into `dir` (created if missing) and returns their
/// paths: `produce_ack.hgrm`, `e2e.hgrm` (only when records were consumed),
/// `summary.json`, `latency.svg`, `throughput.svg`, then `latency.png`
/// and `throughput.png` (each the SVG of its name, rasterised).
pub fn write_report(
    dir: &Path,
    summary: &RunSummary,
    produce_ack: &Histogram<u64>,
    e2e: &Histogram<u64>,
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut write = |name: &str, contents: String| -> io::Result<String> {
        let path = dir.join(name);
        fs::write(&path, &contents)?;
        written.push(path);
        Ok(contents)
    };

    write(PRODUCE_ACK_HGRM, format_hgrm(produce_ack))?;
    // A produce-only run has no end-to-end distribution, and an empty
    // .hgrm would read as one with no samples.
    let mut distributions = vec![("produce ack", produce_ack)];
    if !e2e.is_empty() {
        write(E2E_HGRM, format_hgrm(e2e))?;
        distributions.push(("end-to-end", e2e));
    }
    let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    write(SUMMARY_JSON, json + "\n")?;
    let latency = write(
        LATENCY_SVG,
        latency_svg(&distributions, &plot::footer_lines(summary))?,
    )?;
    let throughput = write(THROUGHPUT_SVG, throughput_svg(summary)?)?;
    for (svg, png_name) in [(latency, LATENCY_PNG), (throughput, THROUGHPUT_PNG)] {
        let path = dir.join(png_name);
        write_png(&svg, &path)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{latency_histogram, Sample};

    /// A small deterministic generator: the tests need run-like numbers,
    /// not good randomness.
    struct XorShift(u64);

    impl XorShift {
        /// Uniform in [0, 1).
        fn next_unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// What a one-minute run at 50k records/s of 1 KiB looks like: a
    /// sub-millisecond median, a long tail, and a stall at 30 s.
    pub(crate) fn run_like() -> (RunSummary, Histogram<u64>, Histogram<u64>) {
        let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut produce_ack = latency_histogram();
        let mut e2e = latency_histogram();
        for _ in 0..200_000 {
            // Pareto-like: most near 600 µs, a few hundred ms out.
            let ack_us = 600.0 / (1.0 - random.next_unit()).powf(0.45);
            let ack_us = (ack_us as u64).min(crate::summary::LATENCY_US_MAX);
            produce_ack.record(ack_us).unwrap();
            let fetch_us = 400.0 + 1_500.0 * random.next_unit();
            e2e.record(ack_us + fetch_us as u64).unwrap();
        }
        let mut timeline: Vec<Sample> = (1..=60)
            .map(|t| {
                let stalled = t == 30;
                let wobble = 1.0 + 0.04 * (random.next_unit() - 0.5);
                let records_per_s = if stalled { 21_000.0 } else { 50_000.0 * wobble };
                Sample {
                    t_s: f64::from(t),
                    produce_records_per_s: records_per_s,
                    produce_mb_per_s: records_per_s * 1024.0 / 1e6,
                    consume_records_per_s: records_per_s * 0.998,
                    consume_mb_per_s: records_per_s * 0.998 * 1024.0 / 1e6,
                    produce_ack_p50_us: 620 + (random.next_unit() * 60.0) as u64,
                    produce_ack_p99_us: if stalled { 48_000 } else { 3_800 },
                    consumer_lag: 120,
                }
            })
            .collect();
        // The second that straddles the end of the window: producers
        // stopped 0.4 s into it.
        timeline.push(Sample {
            t_s: 60.6,
            produce_records_per_s: 20_000.0,
            produce_mb_per_s: 20.5,
            ..timeline[59].clone()
        });
        let mut summary = RunSummary {
            produce_records_per_s: 49_512.0,
            produce_mb_per_s: 50.7,
            consume_records_per_s: 49_410.0,
            consume_mb_per_s: 50.6,
            records_sent: 3_000_000,
            records_acknowledged: 2_999_990,
            records_failed: 10,
            records_consumed: 2_999_990,
            measured_s: 60.0,
            target_records_per_s: Some(50_000.0),
            timeline,
            ..RunSummary::default()
        };
        summary.errors.insert("RequestTimedOut".into(), 10);
        summary.workload.insert("value_bytes".into(), "1024".into());
        summary.workload_settings = Some(crate::workload::Workload {
            rate: Some(50_000.0),
            duration: 60.0,
            ..crate::workload::Workload::default()
        });
        summary.provenance = Some(crate::provenance::Provenance {
            shardlog_version: "0.1.0".into(),
            git_commit: "0123456789abcdef0123456789abcdef01234567".into(),
            started_at: "2026-11-30T22:57:31Z".into(),
            host: crate::provenance::Host {
                cpu_model: Some("AMD EPYC 9B14".into()),
                cores: 2,
                kernel: Some("6.18.44".into()),
                ..crate::provenance::Host::default()
            },
            ..crate::provenance::Provenance::default()
        });
        summary.set_latencies(&produce_ack, &e2e);
        (summary, produce_ack, e2e)
    }

    fn names(paths: &[PathBuf]) -> Vec<&str> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect()
    }

    /// The contents of the SVG's `<text>` elements, trimmed.
    fn svg_texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|element| {
                let (_attributes, rest) = element.split_once('>')?;
                let (content, _) = rest.split_once("</text>")?;
                Some(content.trim())
            })
            .collect()
    }

    /// The most points of any polyline drawn in `color` (a legend swatch
    /// has 2; a chart line one per point).
    fn longest_polyline(svg: &str, color: &str) -> usize {
        svg.split("<polyline")
            .skip(1)
            .filter(|element| element.contains(&format!("stroke=\"{color}\"")))
            .filter_map(|element| {
                let points = element.split("points=\"").nth(1)?.split('"').next()?;
                Some(points.split_whitespace().count())
            })
            .max()
            .unwrap_or(0)
    }

    /// Well-formed enough for a viewer: one root element, closed, and
    /// every text element closed.
    fn assert_well_formed_svg(svg: &str) {
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn writes_every_file_and_they_read_back() {
        let (summary, produce_ack, e2e) = run_like();
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("runs").join("first");
        let written = write_report(&dir, &summary, &produce_ack, &e2e).unwrap();

        assert_eq!(
            names(&written),
            [
                PRODUCE_ACK_HGRM,
                E2E_HGRM,
                SUMMARY_JSON,
                LATENCY_SVG,
                THROUGHPUT_SVG,
                LATENCY_PNG,
                THROUGHPUT_PNG
            ]
        );
        for path in &written {
            assert_eq!(path.parent(), Some(dir.as_path()));
        }
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();

        for (name, histogram) in [(PRODUCE_ACK_HGRM, &produce_ack), (E2E_HGRM, &e2e)] {
            let rows = parse_hgrm(&read(name)).unwrap();
            assert_eq!(rows.last().unwrap().2, histogram.len(), "{name}");
        }
        let json = read(SUMMARY_JSON);
        assert_eq!(json, serde_json::to_string_pretty(&summary).unwrap() + "\n");
        // Read back, floats may be an ulp off (serde_json parses them fast,
        // not exactly); the rest is exact.
        let read_back: RunSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(read_back.produce_ack, summary.produce_ack);
        assert_eq!(read_back.e2e, summary.e2e);
        assert_eq!(read_back.errors, summary.errors);
        assert_eq!(read_back.records_consumed, summary.records_consumed);
        assert_eq!(read_back.timeline.len(), summary.timeline.len());

        let latency = read(LATENCY_SVG);
        assert_well_formed_svg(&latency);
        let texts = svg_texts(&latency);
        for text in [
            plot::LATENCY_X_DESC,
            plot::LATENCY_Y_DESC,
            "50%",
            "90%",
            "99%",
            "99.9%",
            "99.99%",
            "99.999%",
            "produce ack (200,000 records)",
            "end-to-end (200,000 records)",
        ] {
            assert!(
                texts.contains(&text),
                "latency.svg has no `{text}` in {texts:?}"
            );
        }

        let throughput = read(THROUGHPUT_SVG);
        assert_well_formed_svg(&throughput);
        let texts = svg_texts(&throughput);
        for text in [
            plot::TIME_X_DESC,
            plot::THROUGHPUT_Y_DESC,
            plot::TIMELINE_LATENCY_Y_DESC,
            plot::LAG_Y_DESC,
            plot::LAG_LABEL,
            "produce MB/s",
            "consume MB/s",
            "produce ack p99 ms",
            "target 50,000 records/s",
        ] {
            assert!(
                texts.contains(&text),
                "throughput.svg has no `{text}` in {texts:?}"
            );
        }

        // Both plots say what produced them.
        let footer = plot::footer_lines(&summary);
        assert_eq!(footer.len(), 2);
        assert!(
            footer[0].starts_with("workload: 16 partitions, 4 producers, 4 consumers at the tail")
        );
        assert!(
            footer[0].contains("fixed rate 50000 records/s"),
            "{}",
            footer[0]
        );
        assert_eq!(
            footer[1],
            "run: shardlog 0.1.0 (0123456789ab), 2026-11-30T22:57:31Z; 2 cores, AMD EPYC 9B14, Linux 6.18.44"
        );
        // Wrapped to the plot's width: the text elements, joined, hold
        // every footer line.
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        for svg in [&latency, &throughput] {
            let joined = words(&svg_texts(svg).join(" "));
            for line in &footer {
                assert!(joined.contains(&words(line)), "no `{line}` in {joined}");
            }
        }

        // Each PNG is its SVG at twice the size (the lag panel makes
        // throughput's taller).
        for (png, size) in [
            (LATENCY_PNG, plot::LATENCY_SVG_SIZE),
            (THROUGHPUT_PNG, plot::THROUGHPUT_WITH_LAG_SVG_SIZE),
        ] {
            let pixmap =
                resvg::tiny_skia::Pixmap::decode_png(&fs::read(dir.join(png)).unwrap()).unwrap();
            assert_eq!(
                (pixmap.width(), pixmap.height()),
                (size.0 * PNG_SCALE, size.1 * PNG_SCALE),
                "{png}"
            );
        }

        // The partial last second is in summary.json, not in the plot: 60
        // points per line, not 61.
        assert_eq!(summary.timeline.len(), 61);
        assert_eq!(plotted_seconds(&summary).len(), 60);
        assert_eq!(longest_polyline(&throughput, "#1F77B4"), 60);
        // The target is a dashed line, not a polyline of points.
        assert!(throughput.contains("stroke=\"#2CA02C\""));
    }

    #[test]
    fn overlay_of_runs_names_each_run_and_its_workload() {
        let (summary, produce_ack, e2e) = run_like();
        let scratch = tempfile::tempdir().unwrap();
        let run_a = scratch.path().join("a");
        let run_b = scratch.path().join("b");
        write_report(&run_a, &summary, &produce_ack, &e2e).unwrap();
        write_report(&run_b, &summary, &produce_ack, &latency_histogram()).unwrap();
        let bare_hgrm = scratch.path().join("c.hgrm");
        fs::write(&bare_hgrm, format_hgrm(&e2e)).unwrap();
        let out = scratch.path().join("cmp.svg");

        let runs = [run_a.clone(), run_b.clone(), bare_hgrm.clone()];
        write_overlay(&runs, PlotLatency::ProduceAck, &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        assert_well_formed_svg(&svg);
        let texts = svg_texts(&svg);
        for run in &runs {
            let label = format!("{} (200,000 records)", run.display());
            assert!(texts.contains(&label.as_str()), "no `{label}` in {texts:?}");
        }
        assert!(texts.contains(&"Produce ack latency by percentile"));
        let workload_line = format!("{}: {}", run_a.display(), plot::footer_lines(&summary)[0]);
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words(&texts.join(" ")).contains(&words(&workload_line)),
            "{texts:?}"
        );
        for color in ["#1F77B4", "#D62728", "#2CA02C"] {
            assert!(longest_polyline(&svg, color) > 10, "{color}");
        }

        // Errors name what is wrong.
        let error =
            write_overlay(std::slice::from_ref(&run_b), PlotLatency::E2e, &out).unwrap_err();
        assert!(error.contains("e2e.hgrm"), "{error}");
        let error = write_overlay(
            std::slice::from_ref(&run_a),
            PlotLatency::E2e,
            &scratch.path().join("x.pdf"),
        )
        .unwrap_err();
        assert!(error.contains("x.pdf"), "{error}");
        let too_many = vec![run_a.clone(); OVERLAY_RUNS_MAX + 1];
        let error = write_overlay(&too_many, PlotLatency::ProduceAck, &out).unwrap_err();
        assert!(error.contains(&OVERLAY_RUNS_MAX.to_string()), "{error}");
    }

    #[test]
    fn a_produce_only_run_has_no_lag_panel_and_a_max_run_no_target() {
        let (mut summary, _, _) = run_like();
        let workload = summary.workload_settings.as_mut().unwrap();
        workload.consumers = 0;
        workload.rate = None;
        summary.target_records_per_s = None;
        let texts_of = |svg: &str| svg_texts(svg).join("\n");
        let texts = texts_of(&throughput_svg(&summary).unwrap());
        assert!(!texts.contains(plot::LAG_Y_DESC), "{texts}");
        assert!(!texts.contains("target"), "{texts}");
    }

    #[test]
    fn produce_only_run_has_no_e2e_file_or_line() {
        let (mut summary, produce_ack, _) = run_like();
        let e2e = latency_histogram();
        summary.set_latencies(&produce_ack, &e2e);
        let scratch = tempfile::tempdir().unwrap();
        let written = write_report(scratch.path(), &summary, &produce_ack, &e2e).unwrap();

        assert_eq!(
            names(&written),
            [
                PRODUCE_ACK_HGRM,
                SUMMARY_JSON,
                LATENCY_SVG,
                THROUGHPUT_SVG,
                LATENCY_PNG,
                THROUGHPUT_PNG
            ]
        );
        assert!(!scratch.path().join(E2E_HGRM).exists());
        let latency = fs::read_to_string(scratch.path().join(LATENCY_SVG)).unwrap();
        assert!(svg_texts(&latency)
            .iter()
            .all(|t| !t.contains("end-to-end")));
    }

    #[test]
    fn a_run_with_no_samples_still_plots_its_axes() {
        let summary = RunSummary::default();
        let empty = latency_histogram();
        let scratch = tempfile::tempdir().unwrap();
        write_report(scratch.path(), &summary, &empty, &empty).unwrap();
        for name in [LATENCY_SVG, THROUGHPUT_SVG] {
            let svg = fs::read_to_string(scratch.path().join(name)).unwrap();
            assert_well_formed_svg(&svg);
            let texts = svg_texts(&svg);
            let y_desc = match name {
                LATENCY_SVG => plot::LATENCY_Y_DESC,
                _ => plot::THROUGHPUT_Y_DESC,
            };
            assert!(texts.contains(&y_desc), "{name}: {texts:?}");
        }
        let hgrm = fs::read_to_string(scratch.path().join(PRODUCE_ACK_HGRM)).unwrap();
        assert_eq!(parse_hgrm(&hgrm).unwrap(), vec![]);
    }

    #[test]
    fn a_file_in_the_way_of_the_directory_is_an_error() {
        let scratch = tempfile::tempdir().unwrap();
        let file = scratch.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let empty = latency_histogram();
        assert!(write_report(&file, &RunSummary::default(), &empty, &empty).is_err());
    }
}
