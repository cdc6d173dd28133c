//! `shardlog-loadtest --compare` as CI runs it: the exit status says
//! whether B is worse than A beyond the threshold.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use loadtest::summary::{Percentiles, RunSummary};
use loadtest::workload::Workload;

fn summary(records_per_s: f64, partitions: u32) -> RunSummary {
    RunSummary {
        produce_records_per_s: records_per_s,
        produce_ack: Percentiles {
            p50_us: 500,
            p99_us: 4_000,
            count: 1_000,
            ..Percentiles::default()
        },
        workload_settings: Some(Workload {
            partitions,
            ..Workload::default()
        }),
        ..RunSummary::default()
    }
}

fn write(dir: &Path, name: &str, summary: &RunSummary) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(summary).unwrap()).unwrap();
    path
}

fn loadtest(args: &[&Path], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .arg("--compare")
        .args(args)
        .args(extra)
        .output()
        .expect("shardlog-loadtest runs")
}

#[test]
fn exit_status_is_the_gates_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &summary(100_000.0, 16));
    let slower = write(dir.path(), "slower.json", &summary(80_000.0, 16));
    let other = write(dir.path(), "other.json", &summary(100_000.0, 64));

    // No threshold: a table, whatever it says.
    let output = loadtest(&[&base, &slower], &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let output = loadtest(&[&base, &slower], &["--threshold", "10"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("REGRESSION: produce records/s worse by 20.0%"),
        "{stdout}"
    );

    let output = loadtest(&[&base, &slower], &["--threshold", "25"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // Faster is never a regression.
    let output = loadtest(&[&slower, &base], &["--threshold", "0"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let output = loadtest(&[&base, &other], &["--threshold", "10"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partitions: A 16 B 64"), "{stderr}");
    let output = loadtest(
        &[&base, &other],
        &["--threshold", "10", "--allow-different-workloads"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    // --threshold means nothing without --compare.
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .args(["--threshold", "5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn plot_overlays_report_directories_into_one_svg_or_png() {
    let dir = tempfile::tempdir().unwrap();
    let mut histogram = loadtest::summary::latency_histogram();
    for us in 1..=1_000 {
        histogram.record(us * 10).unwrap();
    }
    let empty = loadtest::summary::latency_histogram();
    let runs: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|name| {
            let run = dir.path().join(name);
            loadtest::report::write_report(&run, &summary(1.0, 16), &histogram, &empty).unwrap();
            run
        })
        .collect();
    let out = dir.path().join("cmp.svg");
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .arg("--plot")
        .args(&runs)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let svg = std::fs::read_to_string(&out).unwrap();
    for run in &runs {
        assert!(svg.contains(&format!("{} (1,000 records)", run.display())));
    }

    // The same overlay as a picture: a PNG at twice the SVG's size.
    let png = dir.path().join("cmp.png");
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .arg("--plot")
        .args(&runs)
        .arg("--out")
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("wrote {}", png.display())),
        "{stderr}"
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    // The IHDR chunk's width and height, big-endian, after the signature
    // and the chunk's length and type.
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    let svg_size = |name: &str| {
        let at = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        svg[at..].split('"').next().unwrap().parse::<u32>().unwrap()
    };
    assert_eq!(
        (be(16), be(20)),
        (2 * svg_size("width"), 2 * svg_size("height"))
    );

    // Any other format is refused, and nothing is written.
    let gif = dir.path().join("cmp.gif");
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .arg("--plot")
        .args(&runs)
        .arg("--out")
        .arg(&gif)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cmp.gif") && stderr.contains("*.svg or *.png"),
        "{stderr}"
    );
    assert!(!gif.exists());

    // --plot needs --out.
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .arg("--plot")
        .args(&runs)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
