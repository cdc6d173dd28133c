//! The plots of a run: latency by percentile (`latency.svg`), throughput,
//! latency and consumer lag over time (`throughput.svg`), and several
//! runs' percentile curves overlaid (`--plot A B C --out cmp.svg`, in the
//! style of HdrHistogram's plotter). Under each plot, what produced it:
//! the workload and the provenance line of `summary.json`.
//!
//! Rendered by plotters' SVG backend to a String, which writes text as
//! SVG `<text>`: no font library is needed, the viewer picks the font.
//! The drawing is generic over the backend. The PNGs are these SVGs
//! rasterised (`png.rs`), which is where fonts are chosen.

use std::io;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::hgrm::{HgrmRow, PERCENTILE_TICKS_PER_HALF_DISTANCE, VALUE_UNIT_SCALING_RATIO};
use super::units::{format_rate, group_thousands};
use crate::summary::{RunSummary, Sample};

pub const LATENCY_SVG_SIZE: (u32, u32) = (1000, 650);
pub const THROUGHPUT_SVG_SIZE: (u32, u32) = (1000, 850);
/// With the consumer lag panel under the other two.
pub const THROUGHPUT_WITH_LAG_SVG_SIZE: (u32, u32) = (1000, 1250);
/// The overlay grows by one footer line per run.
pub const OVERLAY_SIZE: (u32, u32) = (1200, 700);
/// Runs one overlay can tell apart: one colour each.
pub const OVERLAY_RUNS_MAX: usize = LINE_COLORS.len();

/// The latency plot's x axis runs to at least 1/(1-99.9999%), so the
/// 99.999% tick is always inside it.
const INVERSE_TAIL_MIN: f64 = 1e6;

pub const LATENCY_X_DESC: &str = "Percentile (axis is 1/(1-percentile), log scale)";
pub const LATENCY_Y_DESC: &str = "Latency (ms, log scale)";
pub const TIME_X_DESC: &str = "Time since measurement start (s)";
pub const THROUGHPUT_Y_DESC: &str = "Throughput (MB/s)";
pub const TIMELINE_LATENCY_Y_DESC: &str = "Produce ack latency (ms)";
pub const LAG_Y_DESC: &str = "Consumer lag (records)";
pub const LAG_LABEL: &str = "acknowledged, not yet consumed";

/// The histogram's resolution: 1 µs.
const LATENCY_MS_MIN: f64 = 0.001;

const FONT: &str = "sans-serif";
const CAPTION_FONT_SIZE: u32 = 28;
const DESC_FONT_SIZE: u32 = 20;
const LABEL_FONT_SIZE: u32 = 18;
const MARGIN_PX: u32 = 15;
const X_LABEL_AREA_PX: u32 = 55;
const Y_LABEL_AREA_PX: u32 = 80;
const LEGEND_STRIP_PX: u32 = 28;
const LEGEND_SWATCH_PX: i32 = 28;
const LEGEND_GAP_PX: i32 = 40;
const FOOTER_FONT_SIZE: u32 = 14;
const FOOTER_LINE_PX: u32 = 20;
const DASH_PX: u32 = 10;
/// The first line is drawn wider, so where a later line lies on top of it
/// (consume on produce, end-to-end on produce ack) both stay visible.
const LINE_WIDTHS_PX: [u32; 10] = [4, 2, 2, 2, 2, 2, 2, 2, 2, 2];

/// One colour per line, in the order the lines are drawn (matplotlib's
/// "tab10", told apart by most colour-blind readers).
const LINE_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A line of a chart: its legend and its points.
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed: a reference (the target rate), not a measurement.
    pub dashed: bool,
}

impl Line {
    fn measured(label: String, points: Vec<(f64, f64)>) -> Line {
        Line {
            label,
            points,
            dashed: false,
        }
    }
}

/// What a plot's footer says about a run: its workload, then its
/// provenance (both when `summary.json` has them).
pub fn footer_lines(summary: &RunSummary) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(workload) = &summary.workload_settings {
        lines.push(format!("workload: {}", workload.one_line()));
    }
    if let Some(provenance) = &summary.provenance {
        lines.push(format!("run: {}", provenance.one_line()));
    }
    lines
}

fn drawing_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(format!("drawing the plot failed: {e}"))
}

/// Latency (ms, log axis) against 1/(1-percentile) (log axis), one line
/// per distribution; ticks are labelled as percentiles. Both axes are
/// logarithmic so the median and the far tail are readable on one plot.
/// `footer`: lines of text under the plot ([`footer_lines`]).
pub fn latency_svg(
    distributions: &[(&str, &Histogram<u64>)],
    footer: &[String],
) -> io::Result<String> {
    let lines: Vec<Line> = distributions
        .iter()
        .map(|(name, histogram)| {
            Line::measured(
                format!("{name} ({} records)", group_thousands(histogram.len())),
                percentile_points(histogram),
            )
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, LATENCY_SVG_SIZE).into_drawing_area();
        draw_percentiles(&root, "Latency by percentile", &lines, footer)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// One run of an overlay: its label and its `.hgrm` rows.
pub struct OverlayRun {
    pub label: String,
    pub rows: Vec<HgrmRow>,
}

/// Several runs' percentile curves on one plot, as HdrHistogram's plotter
/// draws them, with one footer line per run. At most
/// [`OVERLAY_RUNS_MAX`] runs.
pub fn overlay_svg(title: &str, runs: &[OverlayRun], footer: &[String]) -> io::Result<String> {
    let lines = overlay_lines(runs)?;
    let size = (
        OVERLAY_SIZE.0,
        OVERLAY_SIZE.1 + FOOTER_LINE_PX * footer.len() as u32,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_percentiles(&root, title, &lines, footer)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// The overlay's lines: each run's rows below 100%, in ms against
/// 1/(1-percentile), labelled with the run and its record count.
pub fn overlay_lines(runs: &[OverlayRun]) -> io::Result<Vec<Line>> {
    if runs.is_empty() || runs.len() > OVERLAY_RUNS_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "an overlay draws 1 to {OVERLAY_RUNS_MAX} runs, not {}",
                runs.len()
            ),
        ));
    }
    Ok(runs
        .iter()
        .map(|run| {
            let records = run.rows.last().map_or(0, |row| row.2);
            Line::measured(
                format!("{} ({} records)", run.label, group_thousands(records)),
                run.rows
                    .iter()
                    .filter(|row| row.1 < 1.0)
                    .map(|&(value_ms, percentile, _)| (1.0 / (1.0 - percentile), value_ms))
                    .collect(),
            )
        })
        .collect())
}

/// The percentile chart on `root`: caption, legend, chart, footer.
pub fn draw_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    lines: &[Line],
    footer: &[String],
) -> io::Result<()> {
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let x_max = points().map(|p| p.0 * 1.2).fold(INVERSE_TAIL_MIN, f64::max);
    let (y_min, y_max) = log_axis_bounds(points().map(|p| p.1));
    {
        root.fill(&WHITE).map_err(drawing_error)?;
        let above_footer = footer_strip(root, footer)?;
        let plot_area = legend_strip(&above_footer, caption, lines)?;
        let x_axis = (1.0..x_max)
            .log_scale()
            .with_key_points(percentile_ticks(x_max));
        let y_axis = (y_min..y_max)
            .log_scale()
            .with_key_points(one_two_five_ticks(y_min, y_max));
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(MARGIN_PX)
            .x_label_area_size(X_LABEL_AREA_PX)
            .y_label_area_size(Y_LABEL_AREA_PX)
            .build_cartesian_2d(x_axis, y_axis)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc(LATENCY_X_DESC)
            .y_desc(LATENCY_Y_DESC)
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| format_axis_number(*y))
            .label_style((FONT, LABEL_FONT_SIZE))
            .axis_desc_style((FONT, DESC_FONT_SIZE))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.04))
            .draw()
            .map_err(drawing_error)?;
        draw_lines(&mut chart, lines)?;
    }
    Ok(())
}

/// The seconds of the timeline to draw: those inside the measured window.
/// The second that straddles its end (producers stopped part way) and the
/// drain after it would read as a drop in throughput that never was.
pub fn plotted_seconds(summary: &RunSummary) -> &[Sample] {
    let inside = summary
        .timeline
        .iter()
        .take_while(|s| s.t_s <= summary.measured_s)
        .count();
    &summary.timeline[..inside]
}

/// The consumer lag panel is drawn when the run had consumers.
fn has_consumers(summary: &RunSummary) -> bool {
    match &summary.workload_settings {
        Some(workload) => workload.consumers > 0,
        None => summary.records_consumed > 0,
    }
}

/// Panels over the measured seconds: produce and consume MB/s (with the
/// target of a fixed-rate run, dashed), produce ack p50 and p99 (ms), and
/// when the run had consumers, the consumer lag (records).
pub fn throughput_svg(summary: &RunSummary) -> io::Result<String> {
    let size = if has_consumers(summary) {
        THROUGHPUT_WITH_LAG_SVG_SIZE
    } else {
        THROUGHPUT_SVG_SIZE
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_timeline(&root, summary)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// The target of a fixed-rate run in MB/s, at the bytes per record the
/// run acknowledged (or its settings, when nothing was acknowledged).
fn target_mb_per_s(summary: &RunSummary) -> Option<f64> {
    let target = summary.target_records_per_s?;
    let bytes_per_record = if summary.produce_records_per_s > 0.0 {
        summary.produce_mb_per_s * 1e6 / summary.produce_records_per_s
    } else {
        let workload = summary.workload_settings.as_ref()?;
        (workload.record_bytes.max(crate::payload::HEADER_BYTES) + workload.key_bytes) as f64
    };
    Some(target * bytes_per_record / 1e6)
}

/// The timeline panels on `root`, the footer under them.
pub fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    summary: &RunSummary,
) -> io::Result<()> {
    let timeline = plotted_seconds(summary);
    let series = |label: &str, y: fn(&Sample) -> f64| {
        Line::measured(
            label.to_string(),
            timeline.iter().map(|s| (s.t_s, y(s))).collect(),
        )
    };
    let t_max = timeline.iter().map(|s| s.t_s).fold(0.0, f64::max).max(1.0);
    let mut throughput = vec![
        series("produce MB/s", |s| s.produce_mb_per_s),
        series("consume MB/s", |s| s.consume_mb_per_s),
    ];
    if let (Some(target), Some(mb_per_s)) = (summary.target_records_per_s, target_mb_per_s(summary))
    {
        throughput.push(Line {
            label: format!("target {} records/s", format_rate(target)),
            points: vec![(0.0, mb_per_s), (t_max, mb_per_s)],
            dashed: true,
        });
    }
    let latency = [
        series("produce ack p50 ms", |s| us_to_ms(s.produce_ack_p50_us)),
        series("produce ack p99 ms", |s| us_to_ms(s.produce_ack_p99_us)),
    ];
    let lag = [series(LAG_LABEL, |s| s.consumer_lag as f64)];

    root.fill(&WHITE).map_err(drawing_error)?;
    let above_footer = footer_strip(root, &footer_lines(summary))?;
    let panel_count = if has_consumers(summary) { 3 } else { 2 };
    let panel_areas = above_footer.split_evenly((panel_count, 1));
    let mut panels = vec![
        (
            "Throughput",
            THROUGHPUT_Y_DESC,
            &throughput[..],
            &panel_areas[0],
        ),
        (
            "Produce ack latency per second",
            TIMELINE_LATENCY_Y_DESC,
            &latency[..],
            &panel_areas[1],
        ),
    ];
    if panel_count == 3 {
        panels.push(("Consumer lag", LAG_Y_DESC, &lag[..], &panel_areas[2]));
    }
    {
        for (caption, y_desc, lines, area) in panels {
            let plot_area = legend_strip(area, caption, lines)?;
            let y_max = linear_axis_max(
                lines
                    .iter()
                    .flat_map(|line| line.points.iter().map(|p| p.1)),
            );
            let mut chart = ChartBuilder::on(&plot_area)
                .margin(MARGIN_PX)
                .x_label_area_size(X_LABEL_AREA_PX)
                .y_label_area_size(Y_LABEL_AREA_PX)
                .build_cartesian_2d(0.0..t_max, 0.0..y_max)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .x_desc(TIME_X_DESC)
                .y_desc(y_desc)
                .x_label_formatter(&|x| format_axis_number(*x))
                .y_label_formatter(&|y| format_axis_number(*y))
                .label_style((FONT, LABEL_FONT_SIZE))
                .axis_desc_style((FONT, DESC_FONT_SIZE))
                .bold_line_style(BLACK.mix(0.15))
                .light_line_style(BLACK.mix(0.04))
                .draw()
                .map_err(drawing_error)?;
            draw_lines(&mut chart, lines)?;
        }
    }
    Ok(())
}

/// Lines of small text along the bottom of `area`, each wrapped to its
/// width; returns the area above.
fn footer_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    footer: &[String],
) -> io::Result<DrawingArea<DB, Shift>> {
    if footer.is_empty() {
        return Ok(area.clone());
    }
    let grey = BLACK.mix(0.7);
    let style = TextStyle::from((FONT, FOOTER_FONT_SIZE).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let (width, height) = area.dim_in_pixel();
    let width_px = width.saturating_sub(2 * MARGIN_PX);
    let mut rows = Vec::new();
    for line in footer {
        rows.extend(wrap_to_width(area, line, &style, width_px)?);
    }
    let strip_px = FOOTER_LINE_PX * rows.len() as u32 + MARGIN_PX / 2;
    let (above, strip) = area.split_vertically(height.saturating_sub(strip_px));
    for (row, line) in rows.iter().enumerate() {
        let y = (FOOTER_LINE_PX * row as u32) as i32;
        strip
            .draw(&Text::new(
                line.clone(),
                (MARGIN_PX as i32, y),
                style.clone(),
            ))
            .map_err(drawing_error)?;
    }
    Ok(above)
}

/// `text` cut after ", " or "; " into lines no wider than `width_px`;
/// continuation lines are indented. A piece wider than the line stays
/// whole.
fn wrap_to_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width_px: u32,
) -> io::Result<Vec<String>> {
    const CONTINUATION: &str = "    ";
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest
        .find([',', ';'])
        .filter(|&at| rest[at + 1..].starts_with(' '))
    {
        pieces.push(&rest[..at + 2]);
        rest = &rest[at + 2..];
    }
    pieces.push(rest);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let candidate = format!("{current}{piece}");
        let (candidate_px, _) = area
            .estimate_text_size(candidate.trim_end(), style)
            .map_err(drawing_error)?;
        if candidate_px > width_px && !current.trim().is_empty() {
            lines.push(current.trim_end().to_string());
            current = format!("{CONTINUATION}{piece}");
        } else {
            current = candidate;
        }
    }
    lines.push(current.trim_end().to_string());
    Ok(lines)
}

/// The caption, then the legend under it (wrapped onto as many rows as
/// it needs), so the legend never covers data; returns the area left for
/// the chart.
fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    lines: &[Line],
) -> io::Result<DrawingArea<DB, Shift>> {
    let below_caption = area
        .titled(caption, (FONT, CAPTION_FONT_SIZE))
        .map_err(drawing_error)?;
    let label_style = TextStyle::from((FONT, LABEL_FONT_SIZE).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    // Start where the plot starts, right of the y labels.
    let x_start = (MARGIN_PX + Y_LABEL_AREA_PX) as i32;
    let x_end = below_caption.dim_in_pixel().0 as i32 - MARGIN_PX as i32;
    let mut places = Vec::with_capacity(lines.len());
    let (mut x, mut row) = (x_start, 0);
    for line in lines {
        let (label_width, _) = below_caption
            .estimate_text_size(&line.label, &label_style)
            .map_err(drawing_error)?;
        let width = LEGEND_SWATCH_PX + 8 + label_width as i32;
        if x > x_start && x + width > x_end {
            (x, row) = (x_start, row + 1);
        }
        places.push((x, row));
        x += width + LEGEND_GAP_PX;
    }
    let rows = places.last().map_or(1, |&(_, row)| row + 1);
    let (strip, plot_area) = below_caption.split_vertically(LEGEND_STRIP_PX * rows);
    for (((line, color), width), (x, row)) in lines
        .iter()
        .zip(LINE_COLORS)
        .zip(LINE_WIDTHS_PX)
        .zip(places)
    {
        let y = (LEGEND_STRIP_PX * row + LEGEND_STRIP_PX / 2) as i32;
        let swatch = vec![(x, y), (x + LEGEND_SWATCH_PX, y)];
        if line.dashed {
            strip
                .draw(&DashedPathElement::new(
                    swatch,
                    DASH_PX / 2,
                    DASH_PX / 2,
                    color.stroke_width(width),
                ))
                .map_err(drawing_error)?;
        } else {
            strip
                .draw(&PathElement::new(swatch, color.stroke_width(width)))
                .map_err(drawing_error)?;
        }
        strip
            .draw(&Text::new(
                line.label.clone(),
                (x + LEGEND_SWATCH_PX + 8, y),
                label_style.clone(),
            ))
            .map_err(drawing_error)?;
    }
    Ok(plot_area)
}

fn draw_lines<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> io::Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    // One colour each: `zip` below would drop a line silently.
    assert!(lines.len() <= LINE_COLORS.len(), "{} lines", lines.len());
    for ((line, color), width) in lines.iter().zip(LINE_COLORS).zip(LINE_WIDTHS_PX) {
        let style = color.stroke_width(width);
        if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    line.points.iter().copied(),
                    DASH_PX,
                    DASH_PX,
                    style,
                ))
                .map_err(drawing_error)?;
        } else {
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), style))
                .map_err(drawing_error)?;
        }
    }
    Ok(())
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / VALUE_UNIT_SCALING_RATIO
}

/// (1/(1-percentile), latency in ms) at the `.hgrm` rows' percentiles. The
/// 100% row is left out: it is infinitely far right, and the row before
/// it already reaches the max.
fn percentile_points(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    histogram
        .iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE)
        .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
        .filter(|&(quantile, _)| quantile < 1.0)
        .map(|(quantile, value_us)| {
            (
                1.0 / (1.0 - quantile),
                value_us as f64 / VALUE_UNIT_SCALING_RATIO,
            )
        })
        .collect()
}

/// Ticks at 50%, 90%, 99%, ... A tick is labelled only where its label
/// fits inside the axis: up to half the axis' end.
fn percentile_ticks(x_max: f64) -> Vec<f64> {
    let mut ticks = vec![2.0];
    let mut x = 10.0;
    while x <= x_max / 2.0 {
        ticks.push(x);
        x *= 10.0;
    }
    ticks
}

/// 2 → "50%", 10 → "90%", 1000 → "99.9%".
fn percentile_label(inverse_tail: f64) -> String {
    let percent = 100.0 - 100.0 / inverse_tail;
    let text = format!("{percent:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// 1, 2, 5, 10, 20, 50, ... between `min` and `max`.
fn one_two_five_ticks(min: f64, max: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(min.log10().floor());
    while decade <= max {
        for step in [1.0, 2.0, 5.0] {
            let tick = decade * step;
            if (min..=max).contains(&tick) {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// Axis numbers without float noise: "0.5", "12", "1500".
fn format_axis_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The top of a linear axis from 0: a little above the largest value,
/// never zero.
fn linear_axis_max(values: impl Iterator<Item = f64>) -> f64 {
    let largest = values.fold(0.0, f64::max);
    if largest > 0.0 {
        largest * 1.1
    } else {
        1.0
    }
}

/// A log axis around the values, from a decade-ish below the smallest to
/// a little above the largest. Latencies under the histogram's 1 µs
/// resolution are drawn at 1 µs.
fn log_axis_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = values
        .map(|v| v.max(LATENCY_MS_MIN))
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if max == 0.0 {
        return (0.1, 10.0);
    }
    let min = 10f64.powf(min.log10().floor()).max(LATENCY_MS_MIN);
    (min, (max * 1.3).max(min * 10.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = percentile_ticks(INVERSE_TAIL_MIN)
            .into_iter()
            .map(percentile_label)
            .collect();
        assert_eq!(labels, ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert_eq!(percentile_ticks(3e7).len(), 8);
    }

    #[test]
    fn axis_numbers_have_no_float_noise() {
        assert_eq!(format_axis_number(0.30000000000000004), "0.3");
        assert_eq!(format_axis_number(12.0), "12");
        assert_eq!(format_axis_number(0.0), "0");
    }

    #[test]
    fn log_axis_ticks_cover_the_values() {
        let (min, max) = log_axis_bounds([0.61, 3.8, 314.0].into_iter());
        assert_eq!((min, max), (0.1, 314.0 * 1.3));
        assert_eq!(
            one_two_five_ticks(min, max),
            [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
        );
        assert_eq!(log_axis_bounds([0.0].into_iter()).0, LATENCY_MS_MIN);
        assert_eq!(log_axis_bounds(std::iter::empty()), (0.1, 10.0));
    }
}
