//! The `shardlog` binary end to end: the README's quickstart exactly as
//! written, the error cases a user meets, and `consume --from` outside a
//! partition's range behaving the same with and without `--follow`, and
//! when retention overtakes a reader.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use shardlog::client::{Admin, ConnectionConfig, OffsetSpec};

use crate::common::{wait_for_exit, Broker, DataDir};

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

/// Runs `line`; returns (exit code, stdout, stderr). Lines that could wait
/// forever are run under `timeout`, so a hang fails with exit code 124.
fn run(line: &str, broker: &Broker) -> (Option<i32>, String, String) {
    let output = shell(line, broker);
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// Found by a new user: `--from N` past the end printed nothing and exited
/// 0, but failed with `--follow`. Now both follow `--offset-reset`
/// (default `error`), as Kafka's auto.offset.reset does.
#[test]
fn consume_from_outside_the_range_is_the_same_with_and_without_follow() {
    let dir = DataDir::new("cli-from-range");
    let broker = Broker::start(&dir.0);
    for line in [
        "shardlog topic create t --partitions 1",
        "printf 'a\\nb\\nc\\n' | shardlog produce t",
    ] {
        let (code, _, stderr) = run(line, &broker);
        assert_eq!(code, Some(0), "{line}: {stderr}");
    }
    for follow in ["", " --follow"] {
        let line = format!("timeout 30 shardlog consume t --from 10{follow}");
        let (code, stdout, stderr) = run(&line, &broker);
        assert_eq!(code, Some(1), "{line}: out of range is an error: {stderr}");
        assert_eq!(stdout, "", "{line}");
        assert!(
            stderr.contains("offset out of range: t/0 can be read from offsets 0..=3")
                && stderr.contains("--offset-reset"),
            "{line}: the message gives the range and the way out: {stderr}"
        );

        let line = format!(
            "timeout 30 shardlog consume t --from 10 --offset-reset earliest --count 3{follow}"
        );
        let (code, stdout, stderr) = run(&line, &broker);
        assert_eq!(code, Some(0), "{line}: {stderr}");
        assert_eq!(stdout, "a\nb\nc\n", "{line}: from the oldest record");
    }

    // The end itself is a valid start: nothing to print yet, and --follow
    // waits there for the next record, as --offset-reset latest does.
    let (code, stdout, stderr) = run("shardlog consume t --from 3", &broker);
    assert_eq!((code, stdout.as_str()), (Some(0), ""), "{stderr}");
    let (code, stdout, stderr) = run(
        "shardlog consume t --from 10 --offset-reset latest",
        &broker,
    );
    assert_eq!((code, stdout.as_str()), (Some(0), ""), "{stderr}");
    for start in ["--from 3", "--from 10 --offset-reset latest"] {
        let line = format!(
            "(sleep 1; echo next | shardlog produce t >/dev/null) & \
             timeout 30 shardlog consume t {start} --follow --count 1; \
             status=$?; wait; exit $status"
        );
        let (code, stdout, stderr) = run(&line, &broker);
        assert_eq!(code, Some(0), "{line}: {stderr}");
        assert_eq!(
            stdout, "next\n",
            "{line}: the record produced after the start"
        );
    }

    let (_, help, _) = run("shardlog consume --help", &broker);
    assert!(
        help.contains("--offset-reset <earliest|latest|error>")
            && help.contains("the same way with and without --follow"),
        "--help says what an out-of-range start does: {help}"
    );
}

/// `shardlog ARGS...` against `broker`, standard output piped.
fn shardlog(broker: &Broker, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shardlog"));
    command
        .args(args)
        .env("SHARDLOG_BROKER", broker.addr.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Produces `count` records of 100 bytes to partition 0 in one command.
fn produce_lines(broker: &Broker, topic: &str, count: usize) {
    let mut child = shardlog(broker, &["produce", topic, "--partition", "0"])
        .spawn()
        .unwrap();
    let line = format!("{}\n", "v".repeat(100));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.repeat(count).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// A `consume --follow` blocked on its output while retention deletes the
/// records after the ones it holds: when its reader comes back, its
/// position is below the partition's earliest offset. Returns the offsets
/// it printed, its exit code, its stderr, and the earliest and latest
/// offsets then.
fn follow_overtaken_by_retention(
    broker: &Broker,
    topic: &str,
    offset_reset: &str,
) -> (Vec<u64>, Option<i32>, String, (u64, u64)) {
    let created = shardlog(
        broker,
        &[
            "topic",
            "create",
            topic,
            "--partitions",
            "1",
            "--segment-bytes",
            "262144",
            "--retention-bytes",
            "262144",
        ],
    )
    .output()
    .unwrap();
    assert!(created.status.success(), "{}", text(&created.stderr));
    // Offsets 0..1000, one batch of about 130 KB in the active segment:
    // kept until it rolls.
    produce_lines(broker, topic, 1000);
    let mut consumer = shardlog(
        broker,
        &[
            "consume",
            topic,
            "--from",
            "0",
            "--follow",
            "--format",
            "json",
            "--count",
            "1100",
            "--offset-reset",
            offset_reset,
        ],
    )
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(consumer.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // It has fetched the 1000 records and blocks printing them (about
    // 170 KB, more than the pipe holds). About 760 KB more roll the
    // segment, and retention deletes what it holds and the records after.
    for _ in 0..20 {
        produce_lines(broker, topic, 300);
    }
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let started = Instant::now();
    let earliest = loop {
        let earliest = admin
            .list_offsets(topic, &[0], OffsetSpec::Earliest)
            .unwrap()[0]
            .1
            .unwrap();
        if earliest > 1000 {
            break earliest;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "retention did not pass offset 1000 (earliest {earliest})"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let latest = admin.list_offsets(topic, &[0], OffsetSpec::Latest).unwrap()[0]
        .1
        .unwrap();
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    consumer
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = consumer.wait().unwrap();
    let offsets = first
        .lines()
        .chain(rest.lines())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["offset"].as_u64().unwrap()
        })
        .collect();
    (offsets, status.code(), stderr, (earliest, latest))
}

#[test]
fn a_follow_overtaken_by_retention_goes_by_offset_reset() {
    let dir = DataDir::new("cli-overtaken");
    // Segments of 256 KiB need a batch limit no larger than that.
    let broker = Broker::start_with(&dir.0, &["--batch-bytes-max", "262144"]);

    let (offsets, code, stderr, (earliest, _)) =
        follow_overtaken_by_retention(&broker, "skips", "earliest");
    assert_eq!(code, Some(0), "{stderr}");
    let expected: Vec<u64> = (0..1000).chain(earliest..earliest + 100).collect();
    assert_eq!(
        offsets, expected,
        "what it held, then on from the earliest offset kept"
    );
    assert!(stderr.contains("moved as --offset-reset says"), "{stderr}");

    let (offsets, code, stderr, (earliest, latest)) =
        follow_overtaken_by_retention(&broker, "stops", "error");
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(offsets, (0..1000).collect::<Vec<u64>>(), "what it held");
    let message =
        format!("offset out of range: stops/0 can be read from offsets {earliest}..={latest}");
    assert!(
        stderr.contains(&message) && stderr.contains("not from 1000"),
        "{message:?} in {stderr}"
    );
}

/// Produces one text record to partition 0 of `topic`.
fn produce_one(broker: &Broker, topic: &str, value: &str) {
    let mut child = shardlog(broker, &["produce", topic, "--partition", "0"])
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{value}").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// `consume --follow` outlives a broker killed and restarted on the same
/// port: it says once that the broker is away, once that it is back, and
/// prints the records produced after the restart.
#[test]
fn consume_follow_rides_out_a_broker_restart() {
    let dir = DataDir::new("follow-restart");
    let broker = Broker::start(&dir.0);
    let listen = broker.addr.to_string();
    let created = shardlog(
        &broker,
        &["topic", "create", "restarts", "--partitions", "1"],
    )
    .output()
    .unwrap();
    assert!(created.status.success(), "{}", text(&created.stderr));
    produce_one(&broker, "restarts", "before");
    let mut consumer = shardlog(
        &broker,
        &["consume", "restarts", "--follow", "--count", "3"],
    )
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(consumer.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    assert_eq!(first, "before\n");

    broker.kill9();
    // Away for long enough that the client's own retries give up (the
    // command exited here before it retried forever).
    std::thread::sleep(Duration::from_secs(3));
    let broker = Broker::start_on(&dir.0, &listen, &[]);
    produce_one(&broker, "restarts", "after-1");
    produce_one(&broker, "restarts", "after-2");

    let (status, stderr) = wait_for_exit(
        &mut consumer,
        Duration::from_secs(60),
        "consume --follow did not print the records after the restart",
    );
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(rest, "after-1\nafter-2\n", "stderr: {stderr}");
    assert_eq!(
        stderr.matches("retrying until it is back").count(),
        1,
        "one line per outage: {stderr}"
    );
    assert_eq!(stderr.matches("is back after").count(), 1, "{stderr}");
    assert!(stderr.contains(&listen), "{stderr}");
}
