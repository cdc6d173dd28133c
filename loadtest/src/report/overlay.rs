//! `shardlog-loadtest --plot A B C --out cmp.svg`: several runs' latency
//! percentiles on one plot, as HdrHistogram's plotter overlays `.hgrm`
//! files. A run is a report directory (its `produce_ack.hgrm` or
//! `e2e.hgrm`) or a `.hgrm` file; a `summary.json` beside it puts the
//! run's workload and provenance under the plot. `--out cmp.png` writes
//! the same plot rasterised.

use std::fs;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::hgrm::parse_hgrm;
use super::plot::{footer_lines, overlay_svg, OverlayRun};
use super::png::write_png;
use super::{E2E_HGRM, PRODUCE_ACK_HGRM, SUMMARY_JSON};
use crate::compare::read_summary;

/// Which distribution of a report directory the overlay draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PlotLatency {
    #[default]
    ProduceAck,
    E2e,
}

impl PlotLatency {
    fn file_name(self) -> &'static str {
        match self {
            PlotLatency::ProduceAck => PRODUCE_ACK_HGRM,
            PlotLatency::E2e => E2E_HGRM,
        }
    }

    fn title(self) -> &'static str {
        match self {
            PlotLatency::ProduceAck => "Produce ack latency by percentile",
            PlotLatency::E2e => "End-to-end latency by percentile",
        }
    }
}

/// The `.hgrm` a run argument stands for, and the `summary.json` beside it.
fn run_files(run: &Path, latency: PlotLatency) -> (PathBuf, PathBuf) {
    if run.is_dir() {
        (run.join(latency.file_name()), run.join(SUMMARY_JSON))
    } else {
        let beside = run.parent().unwrap_or(Path::new(".")).join(SUMMARY_JSON);
        (run.to_path_buf(), beside)
    }
}

/// What `--out` writes, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutFormat {
    Svg,
    Png,
}

impl OutFormat {
    fn of(out: &Path) -> Result<OutFormat, String> {
        let extension = out.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension.eq_ignore_ascii_case("svg") {
            Ok(OutFormat::Svg)
        } else if extension.eq_ignore_ascii_case("png") {
            Ok(OutFormat::Png)
        } else {
            Err(format!(
                "--out {}: the overlay is written as SVG or PNG; name the file *.svg or *.png",
                out.display()
            ))
        }
    }
}

/// Reads every run and writes the overlay to `out`: SVG for `.svg`, PNG
/// (the same SVG, rasterised) for `.png`.
pub fn write_overlay(runs: &[PathBuf], latency: PlotLatency, out: &Path) -> Result<(), String> {
    let format = OutFormat::of(out)?;
    let mut overlay_runs = Vec::with_capacity(runs.len());
    let mut footer = Vec::new();
    for run in runs {
        let (hgrm, summary) = run_files(run, latency);
        let text = fs::read_to_string(&hgrm)
            .map_err(|e| format!("--plot: cannot read {}: {e}", hgrm.display()))?;
        let rows = parse_hgrm(&text)
            .map_err(|e| format!("--plot: {} is not a .hgrm: {e}", hgrm.display()))?;
        let label = run.display().to_string();
        if summary.exists() {
            for (n, line) in footer_lines(&read_summary(&summary)?)
                .into_iter()
                .enumerate()
            {
                let lead = if n == 0 {
                    format!("{label}: ")
                } else {
                    "  ".into()
                };
                footer.push(format!("{lead}{line}"));
            }
        }
        overlay_runs.push(OverlayRun { label, rows });
    }
    let svg =
        overlay_svg(latency.title(), &overlay_runs, &footer).map_err(|e| format!("--plot: {e}"))?;
    match format {
        OutFormat::Svg => {
            fs::write(out, svg).map_err(|e| format!("--out: cannot write {}: {e}", out.display()))
        }
        OutFormat::Png => write_png(&svg, out).map_err(|e| format!("--out: {e}")),
    }
}
