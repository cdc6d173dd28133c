//! `shardlog check`: a clean data dir passes; an injected bit flip in a
//! sealed segment and a torn tail are found; `--repair` truncates the torn
//! tail only; the committed-offsets log is checked too; a missing or empty
//! data dir is not found rather than passed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shardlog::batch::builder::NewRecord;
use shardlog::batch::header::stamp_base_offset;
use shardlog::batch::{BatchBuilder, BatchHeader, TimestampType};
use shardlog::client::{Admin, ConnectionConfig};
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::protocol::produce::Acks;

use crate::common::{batch, Broker, DataDir};
use crate::data::produce;

fn check(data_dir: &Path, repair: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shardlog"));
    command.args(["check", "--data-dir"]).arg(data_dir);
    if repair {
        command.arg("--repair");
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn segments(data_dir: &Path) -> Vec<PathBuf> {
    let dir = data_dir.join("topics/c/0");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// A stopped broker's data dir with one partition over several segments.
fn stopped_data_dir(name: &str) -> DataDir {
    let dir = DataDir::new(name);
    let broker = Broker::start_with(
        &dir.0,
        &["--segment-bytes", "16384", "--batch-bytes-max", "8192"],
    );
    let mut client = broker.connect();
    assert_eq!(client.create_topic("c", 1).header.error_code, 0);
    for i in 0..200 {
        produce(
            &mut client,
            "c",
            vec![(0, batch(&format!("b{i}"), 4))],
            Acks::Durable,
        );
    }
    drop(client);
    let (status, _) = broker.terminate();
    assert!(status.success());
    assert!(segments(&dir.0).len() >= 3, "several segments");
    dir
}

#[test]
fn a_clean_data_dir_passes() {
    let dir = stopped_data_dir("check-clean");
    let output = check(&dir.0, false);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("800 records"), "{}", text(&output));
    assert!(text(&output).contains(": 0 problems"));
    for p in 0..shardlog::config::OFFSETS_PARTITIONS {
        let line = format!("internal/__consumer_offsets/{p}: ");
        assert!(
            text(&output).contains(&line),
            "the committed-offsets log is checked: {line:?} in {}",
            text(&output)
        );
    }
}

#[test]
fn a_missing_or_empty_data_dir_is_not_found() {
    let dir = DataDir::new("check-empty");
    let missing = dir.0.join("no-such-dir");
    let output = check(&missing, false);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not found"), "{stderr}");

    let output = check(&dir.0, false);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no shardlog data found"), "{stderr}");
    assert!(!text(&output).contains("0 problems"), "{}", text(&output));
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        0,
        "check leaves nothing (no lock file) in a directory that is not a broker's"
    );
}

/// A stopped broker's data dir where group `billing` committed an offset;
/// returns it, the committed-offsets segment holding the commit, and the
/// name `check` prints for that partition.
fn stopped_data_dir_with_a_commit(name: &str) -> (DataDir, PathBuf, String) {
    let dir = DataDir::new(name);
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("c", 1).header.error_code, 0);
    drop(client);
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    admin
        .set_committed_offsets("billing", "c", &[(0, 0)])
        .unwrap();
    drop(admin);
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
    let clean = check(&dir.0, false);
    assert!(clean.status.success(), "{}", text(&clean));

    let partition = shardlog::group_logic::offsets_partition("billing");
    let log_dir = dir
        .0
        .join("internal/__consumer_offsets")
        .join(partition.to_string());
    let segment = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a segment of the committed-offsets partition");
    (
        dir,
        segment,
        format!("internal/__consumer_offsets/{partition}: "),
    )
}

/// The length of the batch at the start of a segment's bytes.
fn first_batch_length(segment: &[u8]) -> usize {
    let header = BatchHeader::parse(segment, BATCH_BYTES_MAX).expect("a batch");
    header.batch_length as usize
}

/// The line `check` printed for a partition, which must be there.
fn report_line(output: &Output, prefix: &str) -> String {
    let report = text(output);
    report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix:?} in {report}"))
        .to_string()
}

#[test]
fn damage_in_the_committed_offsets_log_is_found() {
    let (dir, segment, name) = stopped_data_dir_with_a_commit("check-offsets");
    let mut bytes = std::fs::read(&segment).unwrap();
    // Flip a bit of the commit's record, at the end of the batch.
    let end = first_batch_length(&bytes);
    bytes[end - 1] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let output = check(&dir.0, false);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        report_line(&output, &name).ends_with("PROBLEMS"),
        "{}",
        text(&output)
    );
}

/// A batch whose CRC holds but whose record is no commit would stop the
/// broker replaying the log at start: `check` decodes every record.
#[test]
fn a_committed_offsets_record_that_does_not_decode_is_found() {
    let (dir, segment, name) = stopped_data_dir_with_a_commit("check-offsets-record");
    let mut bytes = std::fs::read(&segment).unwrap();
    let end = first_batch_length(&bytes);
    let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
    builder
        .append(&NewRecord {
            key: Some(b"not a commit key"),
            value: b"",
            headers: &[],
            timestamp_ms: 1_700_000_000_000,
        })
        .unwrap();
    let mut garbage = builder.finish().unwrap();
    stamp_base_offset(&mut garbage, 0);
    assert!(garbage.len() <= end, "it fits where the commit was");
    bytes[..garbage.len()].copy_from_slice(&garbage);
    bytes[garbage.len()..end].fill(0);
    std::fs::write(&segment, &bytes).unwrap();

    let output = check(&dir.0, false);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        report_line(&output, &name).ends_with("PROBLEMS"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("record at offset 0 cannot be read: its key"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_bit_flip_in_a_sealed_segment_is_found_and_never_repaired() {
    let dir = stopped_data_dir("check-flip");
    let first = &segments(&dir.0)[0];
    let mut bytes = std::fs::read(first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(first, &bytes).unwrap();
    for repair in [false, true] {
        let output = check(&dir.0, repair);
        assert!(
            !output.status.success(),
            "the flip fails the check (repair: {repair})"
        );
        assert!(
            text(&output).contains("corrupt at byte"),
            "{}",
            text(&output)
        );
    }
    assert_eq!(
        std::fs::read(first).unwrap(),
        bytes,
        "a sealed segment is never changed"
    );
}

#[test]
fn a_torn_tail_is_found_and_repair_truncates_it() {
    let dir = stopped_data_dir("check-torn");
    let last = segments(&dir.0).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    // The data ends at the last non-zero byte (preallocated zeros follow).
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    for b in &mut bytes[end - 20..end] {
        *b = 0xFF;
    }
    std::fs::write(&last, &bytes).unwrap();
    std::fs::remove_file(dir.0.join("topics/c/0/clean-shutdown")).unwrap();

    let output = check(&dir.0, false);
    assert!(!output.status.success());
    assert!(text(&output).contains("torn tail"), "{}", text(&output));
    let repaired = check(&dir.0, true);
    assert!(
        repaired.status.success(),
        "repair leaves no problem: {}",
        text(&repaired)
    );
    let again = check(&dir.0, false);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("796 records"),
        "the torn batch is gone: {}",
        text(&again)
    );
    // The broker opens the repaired dir and continues densely.
    let broker = Broker::start(&dir.0);
    let answer = produce(
        &mut broker.connect(),
        "c",
        vec![(0, batch("after", 1))],
        Acks::Durable,
    );
    assert_eq!(answer.topics[0].1[0].base_offset, 796);
}
