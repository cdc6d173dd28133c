//! The two SVG plots of a run: latency by percentile (`latency.svg`) and
//! throughput and latency over time (`throughput.svg`). Rendered to a
//! String by plotters' SVG backend, which writes text as SVG `<text>`: no
//! font library is needed, the viewer picks the font.

use std::io;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::hgrm::{PERCENTILE_TICKS_PER_HALF_DISTANCE, VALUE_UNIT_SCALING_RATIO};
use super::units::group_thousands;
use crate::summary::Sample;

pub const LATENCY_SVG_SIZE: (u32, u32) = (1000, 600);
pub const THROUGHPUT_SVG_SIZE: (u32, u32) = (1000, 800);

/// The latency plot's x axis runs to at least 1/(1-99.9999%), so the
/// 99.999% tick is always inside it.
const INVERSE_TAIL_MIN: f64 = 1e6;

pub const LATENCY_X_DESC: &str = "Percentile (axis is 1/(1-percentile), log scale)";
pub const LATENCY_Y_DESC: &str = "Latency (ms, log scale)";
pub const TIME_X_DESC: &str = "Time since measurement start (s)";
pub const THROUGHPUT_Y_DESC: &str = "Throughput (MB/s)";
pub const TIMELINE_LATENCY_Y_DESC: &str = "Produce ack latency (ms)";

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
/// The first line is drawn wider, so where a later line lies on top of it
/// (consume on produce, end-to-end on produce ack) both stay visible.
const LINE_WIDTHS_PX: [u32; 4] = [4, 2, 2, 2];

/// One colour per line, in the order the lines are drawn.
const LINE_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
];

/// A line of a chart: its legend and its points.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

fn drawing_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(format!("drawing the plot failed: {e}"))
}

/// Latency (ms, log axis) against 1/(1-percentile) (log axis), one line
/// per distribution; ticks are labelled as percentiles. Both axes are
/// logarithmic so the median and the far tail are readable on one plot.
pub fn latency_svg(distributions: &[(&str, &Histogram<u64>)]) -> io::Result<String> {
    let lines: Vec<Line> = distributions
        .iter()
        .map(|(name, histogram)| Line {
            label: format!("{name} ({} records)", group_thousands(histogram.len())),
            points: percentile_points(histogram),
        })
        .collect();
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let x_max = points().map(|p| p.0 * 1.2).fold(INVERSE_TAIL_MIN, f64::max);
    let (y_min, y_max) = log_axis_bounds(points().map(|p| p.1));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, LATENCY_SVG_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let plot_area = legend_strip(&root, "Latency by percentile", &lines)?;
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
        draw_lines(&mut chart, &lines)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// Two panels over the run's seconds: produce and consume MB/s above,
/// produce ack p50 and p99 (ms) below.
pub fn throughput_svg(timeline: &[Sample]) -> io::Result<String> {
    let series = |label: &str, y: fn(&Sample) -> f64| Line {
        label: label.to_string(),
        points: timeline.iter().map(|s| (s.t_s, y(s))).collect(),
    };
    let throughput = [
        series("produce MB/s", |s| s.produce_mb_per_s),
        series("consume MB/s", |s| s.consume_mb_per_s),
    ];
    let latency = [
        series("produce ack p50 ms", |s| us_to_ms(s.produce_ack_p50_us)),
        series("produce ack p99 ms", |s| us_to_ms(s.produce_ack_p99_us)),
    ];
    let t_max = timeline.iter().map(|s| s.t_s).fold(0.0, f64::max).max(1.0);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, THROUGHPUT_SVG_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let (upper, lower) = root.split_vertically(THROUGHPUT_SVG_SIZE.1 / 2);
        let panels = [
            (&upper, "Throughput", THROUGHPUT_Y_DESC, &throughput[..]),
            (
                &lower,
                "Produce ack latency per second",
                TIMELINE_LATENCY_Y_DESC,
                &latency[..],
            ),
        ];
        for (area, caption, y_desc, lines) in panels {
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
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// The caption, then a one-row legend under it, so the legend never
/// covers data; returns the area left for the chart.
fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    lines: &[Line],
) -> io::Result<DrawingArea<DB, Shift>> {
    let below_caption = area
        .titled(caption, (FONT, CAPTION_FONT_SIZE))
        .map_err(drawing_error)?;
    let (strip, plot_area) = below_caption.split_vertically(LEGEND_STRIP_PX);
    let label_style = TextStyle::from((FONT, LABEL_FONT_SIZE).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    let y = LEGEND_STRIP_PX as i32 / 2;
    // Start where the plot starts, right of the y labels.
    let mut x = (MARGIN_PX + Y_LABEL_AREA_PX) as i32;
    for ((line, color), width) in lines.iter().zip(LINE_COLORS).zip(LINE_WIDTHS_PX) {
        strip
            .draw(&PathElement::new(
                vec![(x, y), (x + LEGEND_SWATCH_PX, y)],
                color.stroke_width(width),
            ))
            .map_err(drawing_error)?;
        x += LEGEND_SWATCH_PX + 8;
        strip
            .draw(&Text::new(line.label.clone(), (x, y), label_style.clone()))
            .map_err(drawing_error)?;
        let (label_width, _) = strip
            .estimate_text_size(&line.label, &label_style)
            .map_err(drawing_error)?;
        x += label_width as i32 + 40;
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
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(drawing_error)?;
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
