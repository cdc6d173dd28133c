//! The `.hgrm` percentile distribution: the text that Java HdrHistogram's
//! `outputPercentileDistribution` prints, and that HdrHistogram's plotter
//! and `HistogramLogProcessor` users read. The layout is copied column for
//! column so those tools take our files as they take the Java tool's.
//!
//! Latencies are recorded in microseconds and written in milliseconds, the
//! same scaling (ratio 1000) the Java tool is given for µs → ms.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;

/// Recorded values per written value: µs recorded, ms written.
pub const VALUE_UNIT_SCALING_RATIO: f64 = 1000.0;

/// Percentile rows per halving of the distance to 100%: the Java default.
pub const PERCENTILE_TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The header, exactly as Java's `"%12s %14s %10s %14s"` lays it out.
const HEADER_COLUMNS: [&str; 4] = ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"];

/// One row of a `.hgrm` file: (value in ms, percentile as a fraction of 1,
/// total count at or below the value).
pub type HgrmRow = (f64, f64, u64);

/// The `.hgrm` text of `histogram`.
pub fn format_hgrm(histogram: &Histogram<u64>) -> String {
    // Java prints as many decimals as the histogram has significant digits.
    let decimals = usize::from(histogram.sigfig());
    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        HEADER_COLUMNS[0], HEADER_COLUMNS[1], HEADER_COLUMNS[2], HEADER_COLUMNS[3]
    );
    // The iterator gives the count since the previous row; the file carries
    // the running total.
    let mut total_count = 0u64;
    for v in histogram.iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE) {
        total_count += v.count_since_last_iteration();
        let value = v.value_iterated_to() as f64 / VALUE_UNIT_SCALING_RATIO;
        let quantile = v.quantile_iterated_to();
        if quantile < 1.0 {
            let _ = writeln!(
                out,
                "{value:12.decimals$} {quantile:2.12} {total_count:10} {:14.2}",
                1.0 / (1.0 - quantile)
            );
        } else {
            // 1/(1-1) is infinite: Java leaves the column out of the last row.
            let _ = writeln!(out, "{value:12.decimals$} {quantile:2.12} {total_count:10}");
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.decimals$}, StdDeviation   = {:12.decimals$}]",
        histogram.mean() / VALUE_UNIT_SCALING_RATIO,
        histogram.stdev() / VALUE_UNIT_SCALING_RATIO
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.decimals$}, Total count    = {:12}]",
        histogram.max() as f64 / VALUE_UNIT_SCALING_RATIO,
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_bucket_count(histogram)
    );
    out
}

/// Writes the `.hgrm` text of `histogram` to `path`.
pub fn write_hgrm(path: &Path, histogram: &Histogram<u64>) -> io::Result<()> {
    fs::write(path, format_hgrm(histogram))
}

/// The crate keeps the sub-bucket count private; it follows from the counts
/// array, which holds `(buckets + 1)` half-buckets of `sub_bucket_count / 2`.
fn sub_bucket_count(histogram: &Histogram<u64>) -> usize {
    2 * histogram.distinct_values() / (usize::from(histogram.buckets()) + 1)
}

/// Reads `.hgrm` text back into its rows. Checks the header, every row's
/// numbers (percentiles in [0, 1], values, percentiles and counts never
/// decreasing) and, when the footer is there, that its total count is the
/// last row's; anything else is an error naming the line.
pub fn parse_hgrm(text: &str) -> Result<Vec<HgrmRow>, String> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));

    let header = lines
        .by_ref()
        .map(|(n, line)| (n, line.trim()))
        .find(|(_, line)| !line.is_empty());
    match header {
        Some((_, line)) if line.split_whitespace().eq(HEADER_COLUMNS) => {}
        Some((n, line)) => {
            return Err(format!(
                "line {n}: expected the header `{}`, found `{line}`",
                HEADER_COLUMNS.join(" ")
            ))
        }
        None => return Err("empty: no header line".to_string()),
    }

    let mut rows: Vec<HgrmRow> = Vec::new();
    let mut footer_total_count: Option<u64> = None;
    let mut in_footer = false;
    for (n, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("#[") {
            in_footer = true;
            if let Some(total) = parse_footer(line).map_err(|e| format!("line {n}: {e}"))? {
                footer_total_count = Some(total);
            }
            continue;
        }
        if in_footer {
            return Err(format!(
                "line {n}: a percentile row after the footer: `{line}`"
            ));
        }
        let row = parse_row(line).map_err(|e| format!("line {n}: {e}: `{line}`"))?;
        if let Some(&(value, percentile, total_count)) = rows.last() {
            if row.0 < value || row.1 < percentile || row.2 < total_count {
                return Err(format!(
                    "line {n}: value, percentile and total count must not decrease: `{line}`"
                ));
            }
        }
        rows.push(row);
    }

    if let Some(total) = footer_total_count {
        let last = rows.last().map_or(0, |row| row.2);
        if last != total {
            return Err(format!(
                "the footer's total count {total} is not the last row's {last}"
            ));
        }
    }
    Ok(rows)
}

/// One percentile row: value, percentile, total count and, on every row
/// but the last, 1/(1-percentile).
fn parse_row(line: &str) -> Result<HgrmRow, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if !(3..=4).contains(&fields.len()) {
        return Err(format!("expected 3 or 4 columns, found {}", fields.len()));
    }
    let value = parse_finite(fields[0]).ok_or("the value is not a number")?;
    let percentile = parse_finite(fields[1]).ok_or("the percentile is not a number")?;
    if !(0.0..=1.0).contains(&percentile) {
        return Err("the percentile is outside [0, 1]".to_string());
    }
    let total_count: u64 = fields[2]
        .parse()
        .map_err(|_| "the total count is not a whole number")?;
    if let Some(inverse) = fields.get(3) {
        // Java leaves the column out at 100%; the CSV flavour spells it.
        let is_infinity = matches!(*inverse, "Infinity" | "inf");
        if !is_infinity && parse_finite(inverse).is_none() {
            return Err("1/(1-Percentile) is not a number".to_string());
        }
    }
    Ok((value, percentile, total_count))
}

fn parse_finite(field: &str) -> Option<f64> {
    field.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A footer line, `#[Key = number, Key = number]`. Returns the total count
/// when the line carries it.
fn parse_footer(line: &str) -> Result<Option<u64>, String> {
    let inner = line
        .strip_prefix("#[")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(|| format!("a footer line must be `#[...]`: `{line}`"))?;
    let mut total_count = None;
    for pair in inner.split(',') {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("a footer entry must be `Key = number`: `{pair}`"))?;
        let (key, value) = (key.trim(), value.trim());
        if parse_finite(value).is_none() {
            return Err(format!("footer `{key}` is not a number: `{value}`"));
        }
        if key == "Total count" {
            let total = value
                .parse()
                .map_err(|_| format!("footer `Total count` is not a whole number: `{value}`"))?;
            total_count = Some(total);
        }
    }
    Ok(total_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::latency_histogram;

    /// 1 ms to 10 ms in 1 µs steps: 9001 values, one each.
    fn uniform_histogram() -> Histogram<u64> {
        let mut h = latency_histogram();
        for us in 1_000..=10_000 {
            h.record(us).unwrap();
        }
        h
    }

    #[test]
    fn header_and_rows_have_the_java_column_widths() {
        let mut h = latency_histogram();
        h.record_n(1_000, 3).unwrap();
        h.record(3_000).unwrap();
        let text = format_hgrm(&h);
        let expected = "       Value     Percentile TotalCount 1/(1-Percentile)\n\
                        \n\
                        \x20      1.000 0.000000000000          3           1.00\n\
                        \x20      1.000 0.100000000000          3           1.11\n";
        assert!(
            text.starts_with(expected),
            "got:\n{text}\nwanted it to start with:\n{expected}"
        );
        let last_row = text
            .lines()
            .rfind(|l| !l.starts_with('#'))
            .expect("a last row");
        // 3000 µs is in a bucket 2 wide: its highest equivalent is 3001 µs.
        assert_eq!(last_row, "       3.001 1.000000000000          4");
        let footer: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            footer,
            [
                "#[Mean    =        1.500, StdDeviation   =        0.866]",
                "#[Max     =        3.001, Total count    =            4]",
                "#[Buckets =           16, SubBuckets     =         2048]",
            ]
        );
    }

    #[test]
    fn written_file_parses_back_with_the_histograms_percentiles() {
        let h = uniform_histogram();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uniform.hgrm");
        write_hgrm(&path, &h).unwrap();
        let rows = parse_hgrm(&fs::read_to_string(&path).unwrap()).unwrap();

        assert!(rows.len() > 50, "only {} rows", rows.len());
        let first = rows[0];
        assert_eq!((first.1, first.2), (0.0, 1));
        assert_eq!(first.0, 1.0);
        let last = *rows.last().unwrap();
        assert_eq!(last.1, 1.0);
        assert_eq!(last.2, h.len());
        assert_eq!(last.0, h.max() as f64 / 1000.0);

        // Every row's value is the histogram's value at that row's
        // percentile, and its count the values at or below it.
        for &(value_ms, percentile, total_count) in &rows[..rows.len() - 1] {
            let value_us = h.highest_equivalent(h.value_at_quantile(percentile));
            assert!(
                (value_ms - value_us as f64 / 1000.0).abs() < 0.0015,
                "at {percentile}: {value_ms} ms written, {value_us} µs in the histogram"
            );
            assert_eq!(total_count, h.count_between(0, value_us), "at {percentile}");
        }
        let p50 = rows.iter().find(|r| r.1 == 0.5).expect("a 50% row");
        assert!((p50.0 - 5.5).abs() < 0.01, "p50 {} ms", p50.0);
        let p99 = rows
            .iter()
            .find(|r| r.1 >= 0.99)
            .expect("a row at 99% or above");
        assert!((9.9..=10.01).contains(&p99.0), "p99 {} ms", p99.0);
    }

    #[test]
    fn empty_histogram_is_a_header_and_a_footer() {
        let text = format_hgrm(&latency_histogram());
        assert_eq!(parse_hgrm(&text).unwrap(), vec![]);
        assert!(text.contains("Total count    =            0]"));
    }

    #[test]
    fn rejects_garbage() {
        let row0 = "       1.000 0.000000000000          3           1.00\n";
        let row1 = "       1.000 0.100000000000          3           1.11\n";
        let last = "       2.000 1.000000000000          4\n";
        let footer = "#[Max     =        2.000, Total count    =            4]\n";
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("blank lines", "\n\n  \n".to_string()),
            ("not hgrm", "hello world\n1 2 3\n".to_string()),
            ("json", "{\"p50_us\": 10}".to_string()),
            ("no header", format!("{row0}{row1}{last}")),
            ("csv header", format!("\"Value\",\"Percentile\"\n{row0}")),
            (
                "word in a row",
                format!("{HEADER}       1.000 zero          3           1.00\n"),
            ),
            (
                "percentile above 1",
                format!("{HEADER}       1.000 1.5          3           1.00\n"),
            ),
            (
                "negative count",
                format!("{HEADER}       1.000 0.5          -3           2.00\n"),
            ),
            ("two columns", format!("{HEADER}       1.000 0.5\n")),
            (
                "five columns",
                format!("{HEADER}       1.000 0.5 3 2.00 7\n"),
            ),
            (
                "NaN value",
                format!("{HEADER}         NaN 0.5          3           2.00\n"),
            ),
            ("decreasing count", format!("{HEADER}{row1}{row0}")),
            ("decreasing value", format!("{HEADER}{last}{row1}")),
            (
                "footer disagrees",
                format!("{HEADER}{row0}{row1}{}", footer.replace(" 4]", " 9]")),
            ),
            ("bad footer", format!("{HEADER}{row0}#[Mean    = fast]\n")),
            (
                "unclosed footer",
                format!("{HEADER}{row0}#[Mean    = 1.0\n"),
            ),
            ("row after footer", format!("{HEADER}{row0}{footer}{last}")),
        ];
        for (name, text) in cases {
            assert!(parse_hgrm(&text).is_err(), "{name} was accepted:\n{text}");
        }
        // The pieces above are well-formed on their own.
        assert_eq!(
            parse_hgrm(&format!("{HEADER}{row0}{row1}{last}{footer}"))
                .unwrap()
                .len(),
            3
        );
    }

    const HEADER: &str = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";

    #[test]
    fn accepts_a_java_style_file_without_footer() {
        let text = format!(
            "{HEADER}       0.100 0.000000000000          1           1.00\n\
             \x20      0.200 0.500000000000          5           2.00\n\
             \x20      0.300 1.000000000000         10\n"
        );
        assert_eq!(
            parse_hgrm(&text).unwrap(),
            vec![(0.1, 0.0, 1), (0.2, 0.5, 5), (0.3, 1.0, 10)]
        );
    }
}
