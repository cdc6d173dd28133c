//! The `shardlog` binary's client commands against the fake broker:
//! output, exit codes and messages.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use super::fake_broker::{closed_port, FakeBroker, Reply};

fn shardlog(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn broker() -> FakeBroker {
    FakeBroker::start(
        2,
        &[],
        vec![("orders".to_string(), vec![0, 1])],
        Box::new(|_, _| Reply::Normal),
    )
}

#[test]
fn produce_then_consume_round_trips_lines() {
    let broker = broker();
    let addr = broker.addrs[0].as_str();
    let input = b"a:one\nb:two\r\nthree\n\xFF:four\n";
    let out = shardlog(
        &[
            "produce",
            "orders",
            "--key-separator",
            ":",
            "--broker",
            addr,
        ],
        input,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.starts_with("acknowledged 4 of 4 records\n"),
        "{stdout}"
    );
    assert!(stdout.contains("partition 0:") || stdout.contains("partition 1:"));

    let out = shardlog(&["consume", "orders", "--broker", addr], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut values: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    values.sort();
    assert_eq!(values, ["four", "one", "three", "two"]);

    let out = shardlog(
        &[
            "consume", "orders", "--format", "json", "--count", "10", "--broker", addr,
        ],
        b"",
    );
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let four = lines.iter().find(|l| l["value"] == "four").unwrap();
    assert_eq!(four["key_base64"], "/w==", "a key that is not UTF-8");
    let three = lines.iter().find(|l| l["value"] == "three").unwrap();
    assert!(three["key"].is_null());
    assert!(three["offset"].is_u64() && three["partition"].is_u64());
}

#[test]
fn consume_from_an_offset_and_count() {
    let broker = broker();
    let addr = broker.addrs[0].as_str();
    let lines: String = (0..10).map(|i| format!("v{i}\n")).collect();
    let out = shardlog(
        &["produce", "orders", "--partition", "1", "--broker", addr],
        lines.as_bytes(),
    );
    assert!(
        text(&out.stdout).contains("partition 1: 10 records, offsets 0..=9"),
        "{}",
        text(&out.stdout)
    );
    let out = shardlog(
        &[
            "consume",
            "orders",
            "--partition",
            "1",
            "--from",
            "7",
            "--broker",
            addr,
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "v7\nv8\nv9\n");
    let out = shardlog(
        &[
            "consume",
            "orders",
            "--partition",
            "1",
            "--from",
            "2",
            "--count",
            "2",
            "--broker",
            addr,
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "v2\nv3\n");
    let out = shardlog(
        &["consume", "orders", "--from", "latest", "--broker", addr],
        b"",
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn topic_commands_print_tables() {
    let broker = broker();
    let addr = broker.addrs[0].as_str();
    shardlog(
        &["produce", "orders", "--partition", "1", "--broker", addr],
        b"x\ny\n",
    );
    let out = shardlog(&["topic", "list", "--broker", addr], b"");
    assert_eq!(text(&out.stdout), "TOPIC   PARTITIONS\norders  2\n");
    let out = shardlog(&["topic", "describe", "orders", "--broker", addr], b"");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 partitions, retention-ms 60000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PARTITION  CORE  EARLIEST  LATEST  BYTES"),
        "{stdout}"
    );
    let row = stdout.lines().find(|l| l.starts_with("1 ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..4], ["1", "1", "0", "2"]);
    let out = shardlog(
        &[
            "topic",
            "create",
            "new",
            "--partitions",
            "3",
            "--broker",
            addr,
        ],
        b"",
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "created topic new with 3 partitions\n");
    let out = shardlog(&["topic", "delete", "new", "--broker", addr], b"");
    assert!(out.status.success());
}

#[test]
fn failures_exit_non_zero_with_a_clear_message() {
    let broker = broker();
    let addr = broker.addrs[0].as_str();
    let out = shardlog(&["consume", "nope", "--broker", addr], b"");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown topic"),
        "{}",
        text(&out.stderr)
    );
    let out = shardlog(&["topic", "describe", "nope", "--broker", addr], b"");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no such topic"),
        "{}",
        text(&out.stderr)
    );
    let out = shardlog(
        &["produce", "orders", "--partition", "5", "--broker", addr],
        b"x\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has 2 partitions"),
        "{}",
        text(&out.stderr)
    );

    let down = format!("127.0.0.1:{}", closed_port());
    let out = shardlog(&["topic", "list", "--broker", &down], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the broker"),
        "{}",
        text(&out.stderr)
    );
    let out = shardlog(&["consume", "orders", "--from", "soon"], b"");
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}

#[test]
fn failed_records_make_produce_exit_non_zero() {
    let broker = FakeBroker::start(
        1,
        &[],
        vec![("orders".to_string(), vec![0])],
        Box::new(|_, request| match request {
            shardlog::protocol::Request::Produce(_) => {
                Reply::PartitionError(shardlog::error::ErrorCode::PartitionFailed)
            }
            _ => Reply::Normal,
        }),
    );
    let out = shardlog(
        &["produce", "orders", "--broker", &broker.addrs[0]],
        b"a\nb\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("acknowledged 0 of 2 records"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("partition failed"),
        "{}",
        text(&out.stderr)
    );
}
