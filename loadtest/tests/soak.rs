//! The short soak of the test suite: the debug `shardlog` broker as a child
//! process, killed with SIGKILL every few seconds for about two minutes
//! under the verifying workload; nothing acknowledged may be lost and the
//! log must stay consistent; an idle consumer long-polls a quiet topic all
//! along and still reads what arrives there at the end. The long runs are `scripts/soak.sh`
//! (docs/TESTING.md).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use loadtest::soak::config::SoakArgs;
use loadtest::soak::driver::run_soak;
use loadtest::soak::report::format_text;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    soak: SoakArgs,
}

/// The workspace's root (this crate is `loadtest/` in it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadtest/ has a parent")
        .to_path_buf()
}

/// The `shardlog` binary of this build: `cargo test --workspace` builds it
/// into the profile directory that holds this test's `deps/`. Only the root
/// package's tests get `CARGO_BIN_EXE_shardlog`, so it is found there, and
/// built with the same cargo if missing (`cargo test -p loadtest`).
fn broker_bin() -> PathBuf {
    let me = std::env::current_exe().expect("the test's own path");
    let profile_dir = me
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    let bin = profile_dir.join("shardlog");
    if !bin.exists() {
        let target_dir = profile_dir.parent().expect("<target>/<profile>");
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(workspace_root())
            .args([
                "build",
                "-p",
                "shardlog",
                "--bin",
                "shardlog",
                "--target-dir",
            ])
            .arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some(profile) => {
                build.args(["--profile", profile]);
            }
            None => panic!("no profile directory in {}", me.display()),
        }
        let status = build.status().expect("running cargo build");
        assert!(
            status.success(),
            "cargo build of the shardlog binary: {status}"
        );
    }
    assert!(bin.exists(), "{} after building it", bin.display());
    bin
}

#[test]
fn two_minutes_of_kill_9_lose_nothing_acknowledged() {
    let bin = broker_bin();
    let data_dir = workspace_root()
        .join("tmp/tests")
        .join(format!("soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2)
        .to_string();
    let cli = Cli::parse_from([
        "soak",
        "--duration",
        "100s",
        "--kill-every",
        "5s",
        "--rate",
        "500",
        "--partitions",
        "4",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--cores",
        &cores,
        "--broker-arg=--io-memory-bytes=1048576",
        "--quiet",
        "--broker-bin",
        bin.to_str().expect("a UTF-8 path"),
        "--data-dir",
        data_dir.to_str().expect("a UTF-8 path"),
    ]);
    let report = run_soak(&cli.soak, &AtomicBool::new(false)).expect("the soak ran");
    let text = format_text(&report);
    eprintln!("{text}");
    assert!(!data_dir.exists(), "the soak removed its data dir");
    assert!(report.acknowledged > 0, "the load ran:\n{text}");
    assert!(report.restarts > 0, "the broker was killed:\n{text}");
    assert!(
        report.idle_polls > 1000,
        "the idle consumer long-polled its quiet topic throughout:\n{text}"
    );
    assert_eq!(
        (report.idle_records_expected, report.idle_records_read),
        (4, 4),
        "after the idle phase the idle consumer read the closing records:\n{text}"
    );
    assert_eq!(report.lost, 0, "nothing acknowledged lost:\n{text}");
    assert_eq!(
        report.inconsistent_offsets, 0,
        "offsets consistent:\n{text}"
    );
    assert_eq!(report.non_monotonic_reads, 0, "reads monotonic:\n{text}");
    assert_eq!(report.unexpected_exits, 0, "no crash:\n{text}");
    assert_eq!(report.broker_panics, 0, "no panic in the broker:\n{text}");
    assert!(report.passed, "{text}");
}
