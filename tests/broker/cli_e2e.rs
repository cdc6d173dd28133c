//! The `shardlog` binary end to end: the README's quickstart exactly as
//! written, and the error cases a user meets.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Broker, DataDir};

/// The shell lines of the README's quickstart block.
fn quickstart_lines() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("<!-- quickstart:begin -->")
        .expect("quickstart markers");
    let end = readme
        .find("<!-- quickstart:end -->")
        .expect("quickstart markers");
    readme[start..end]
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with("<!--") && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs a shell line with the test's `shardlog` first on PATH and the
/// broker's address as the default `--broker`.
fn shell(line: &str, broker: &Broker) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_shardlog")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .env("SHARDLOG_BROKER", broker.addr.to_string())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_readme_quickstart_works_as_written() {
    let dir = DataDir::new("quickstart");
    let broker = Broker::start(&dir.0);
    let lines = quickstart_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("shardlog consume")),
        "{lines:?}"
    );
    let mut last = None;
    for line in &lines {
        // Building and PATH setup are the test harness's job here: the
        // binary under test is already built and put first on PATH.
        if line.starts_with("cargo build") || line.starts_with("export PATH") {
            continue;
        }
        let output = shell(line, &broker);
        assert!(
            output.status.success(),
            "{line}\nstdout: {}\nstderr: {}",
            text(&output.stdout),
            text(&output.stderr)
        );
        last = Some(output);
    }
    let consumed = text(&last.unwrap().stdout);
    let mut values: Vec<&str> = consumed.lines().collect();
    values.sort_unstable();
    assert_eq!(
        values,
        ["created", "created", "paid"],
        "the three records come back"
    );
}

#[test]
fn user_errors_exit_non_zero_with_a_clear_message() {
    let dir = DataDir::new("cli-errors");
    let broker = Broker::start(&dir.0);
    let cases = [
        ("shardlog consume nope --count 1", "does not exist"),
        ("shardlog topic describe nope", "does not exist"),
        (
            "shardlog topic create 'bad name' --partitions 1",
            "topic name",
        ),
        ("shardlog topic create t --partitions 0", "partitions"),
        ("echo x | shardlog produce nope", "nope"),
        (
            "shardlog topic list --broker 127.0.0.1:1",
            "cannot reach the broker",
        ),
        ("shardlog consume t --from sideways", "sideways"),
    ];
    for (line, expected) in cases {
        let output = shell(line, &broker);
        assert!(!output.status.success(), "{line} must fail");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{line}: stderr should mention {expected:?}: {stderr}"
        );
    }
    // --help on every command, with an example.
    for command in ["serve", "topic", "topic create", "produce", "consume"] {
        let output = shell(&format!("shardlog {command} --help"), &broker);
        assert!(output.status.success());
        assert!(
            text(&output.stdout).contains("Example"),
            "{command} --help shows an example"
        );
    }
}
