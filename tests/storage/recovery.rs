//! Recovery: torn tails cut at every byte, zeroed and garbage tails,
//! deleted and garbled indexes, damaged sealed segments, leftovers of an
//! interrupted roll, and the clean-shutdown marker.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use shardlog::config::{Durability, LogConfig};
use shardlog::storage::log::CLEAN_SHUTDOWN_MARKER;
use shardlog::storage::{DmaStorage, StorageError};

use crate::common::{batch, open, read_all, run, small_config, TempDir};

/// One segment large enough for the whole test log.
fn one_segment_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 1 << 20,
        ..small_config()
    }
}

fn log_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == suffix))
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Writes `batches` batches, then drops the log without closing it (a
/// crash). Returns each batch's (start position, end position, next offset).
fn crashed_log(dir: &Path, batches: u64) -> Vec<(u64, u64, u64)> {
    let path = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, one_segment_config()).await;
        let mut layout = Vec::new();
        let mut position = 0;
        for tag in 0..batches {
            let bytes = batch(tag, 1 + (tag % 3) as u32, 20 + tag as usize);
            let len = bytes.len() as u64;
            log.append(bytes, Durability::Durable).await.unwrap();
            layout.push((position, position + len, log.latest_offset()));
            position += len;
        }
        tx.send(layout).unwrap();
        drop(log);
    });
    rx.recv().unwrap()
}

/// Opens a copy of a damaged log; checks it ends at `expected_next`, reads
/// back densely, and takes the next append at exactly that offset.
fn assert_recovers_to(dir: &Path, expected_next: u64, what: &str) {
    assert_recovers_with(dir, one_segment_config(), expected_next, what)
}

fn assert_recovers_with(dir: &Path, config: LogConfig, expected_next: u64, what: &str) {
    let path = dir.to_path_buf();
    let what = what.to_string();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, config).await;
        assert_eq!(log.latest_offset(), expected_next, "{what}: recovered end");
        assert_eq!(
            read_all(&log, 0, 1 << 20).await.len() as u64,
            expected_next,
            "{what}"
        );
        let base = log
            .append(batch(999, 1, 10), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(base, expected_next, "{what}: next offset is dense");
        log.close().await.unwrap();
    });
}

#[test]
fn truncation_at_every_byte_of_the_last_two_batches_recovers_the_valid_prefix() {
    let dir = TempDir::new("torn-every-byte");
    let layout = crashed_log(dir.path(), 12);
    let segment = log_files(dir.path(), "log").remove(0);
    let (second_last_start, _, _) = layout[layout.len() - 2];
    let (_, end, _) = layout[layout.len() - 1];
    for cut in second_last_start..end {
        let copy = TempDir::new("torn-cut");
        copy_dir(dir.path(), copy.path());
        let file = copy.path().join(segment.file_name().unwrap());
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(cut)
            .unwrap();
        // The valid prefix: every batch that ends at or before the cut.
        let expected = layout
            .iter()
            .take_while(|(_, e, _)| *e <= cut)
            .last()
            .map_or(0, |b| b.2);
        assert_recovers_to(copy.path(), expected, &format!("cut at {cut}"));
    }
}

#[test]
fn zeroed_or_garbage_tails_end_the_log_at_the_last_valid_batch() {
    let dir = TempDir::new("torn-overwrite");
    let layout = crashed_log(dir.path(), 10);
    let segment = log_files(dir.path(), "log").remove(0);
    let (_, end, _) = layout[layout.len() - 1];
    let mut garbage_seed = 0x9E37_79B9_7F4A_7C15u64;
    for (i, &(start, _, _)) in layout.iter().enumerate().skip(5) {
        for fill in ["zeros", "garbage"] {
            let copy = TempDir::new("torn-fill");
            copy_dir(dir.path(), copy.path());
            let file = OpenOptions::new()
                .write(true)
                .open(copy.path().join(segment.file_name().unwrap()))
                .unwrap();
            // Damage from a byte inside batch i to the end of the data.
            let from = start + 3;
            let bytes: Vec<u8> = (from..end)
                .map(|_| match fill {
                    "zeros" => 0,
                    _ => {
                        garbage_seed ^= garbage_seed << 7;
                        garbage_seed ^= garbage_seed >> 9;
                        garbage_seed as u8
                    }
                })
                .collect();
            file.write_all_at(&bytes, from).unwrap();
            let expected = if i == 0 { 0 } else { layout[i - 1].2 };
            assert_recovers_to(copy.path(), expected, &format!("{fill} from batch {i}"));
        }
    }
}

/// Writes a multi-segment log and closes it cleanly; returns every record.
fn closed_multi_segment_log(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let path = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        for tag in 0..300 {
            log.append(batch(tag, 1 + (tag % 4) as u32, 60), Durability::Durable)
                .await
                .unwrap();
        }
        assert!(log.segment_count() >= 4);
        tx.send(read_all(&log, 0, 1 << 20).await).unwrap();
        log.close().await.unwrap();
    });
    rx.recv().unwrap()
}

/// Reads everything back (from every offset, in small and large steps) and
/// compares with `expected`.
fn assert_reads_identical(dir: &Path, expected: Vec<(u64, Vec<u8>)>) {
    let path = dir.to_path_buf();
    run(dir, move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        assert_eq!(read_all(&log, 0, 1 << 20).await, expected);
        assert_eq!(read_all(&log, 0, 100).await, expected);
        for from in (0..expected.len() as u64).step_by(37) {
            assert_eq!(read_all(&log, from, 700).await, expected[from as usize..]);
        }
        log.close().await.unwrap();
    });
}

#[test]
fn deleted_index_files_are_rebuilt_and_reads_stay_identical() {
    let dir = TempDir::new("index-deleted");
    let expected = closed_multi_segment_log(dir.path());
    for suffix in ["index", "timeindex"] {
        for file in log_files(dir.path(), suffix) {
            fs::remove_file(file).unwrap();
        }
    }
    assert_reads_identical(dir.path(), expected.clone());
    // The rebuilt indexes were written back and are used on the next open.
    assert!(!log_files(dir.path(), "index").is_empty());
    assert_reads_identical(dir.path(), expected);
}

#[test]
fn garbled_or_stale_index_files_are_rebuilt_and_reads_stay_identical() {
    let dir = TempDir::new("index-garbled");
    let expected = closed_multi_segment_log(dir.path());
    let indexes = log_files(dir.path(), "index");
    // Flip a byte in one entry, truncate another, swap a third for a
    // neighbour's (stale: another segment's).
    let mut first = fs::read(&indexes[0]).unwrap();
    let last_byte = first.len() - 1;
    first[last_byte] ^= 0xFF;
    fs::write(&indexes[0], first).unwrap();
    let second = fs::read(&indexes[1]).unwrap();
    fs::write(&indexes[1], &second[..second.len() / 2]).unwrap();
    fs::copy(&indexes[1], &indexes[2]).unwrap();
    let times = log_files(dir.path(), "timeindex");
    fs::write(&times[3], b"not an index").unwrap();
    assert_reads_identical(dir.path(), expected);
}

#[test]
fn a_bit_flip_in_a_sealed_segment_is_reported_never_truncated() {
    for drop_index in [false, true] {
        let dir = TempDir::new("sealed-flip");
        let expected = closed_multi_segment_log(dir.path());
        let segments = log_files(dir.path(), "log");
        let victim = &segments[1];
        let victim_base: u64 = victim
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut bytes = fs::read(victim).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x04;
        fs::write(victim, bytes).unwrap();
        if drop_index {
            for suffix in ["index", "timeindex"] {
                fs::remove_file(victim.with_extension(suffix)).unwrap();
            }
        }
        let path = dir.path().to_path_buf();
        let total = expected.len() as u64;
        run(dir.path(), move || async move {
            let log = open(DmaStorage, &path, small_config()).await;
            assert_eq!(log.latest_offset(), total, "nothing truncated");
            // Somewhere in the damaged segment a read fails with Corruption.
            let mut corruption_seen = false;
            for offset in victim_base..total {
                match log.read(offset, 1 << 20).await {
                    Err(StorageError::Corruption { segment, .. }) => {
                        assert!(segment.ends_with(format!("{victim_base:020}.log")));
                        corruption_seen = true;
                        break;
                    }
                    Ok(read) => assert!(!read.batches.is_empty()),
                    Err(other) => panic!("unexpected error {other}"),
                }
            }
            assert!(
                corruption_seen,
                "the flipped bit must be reported (index dropped: {drop_index})"
            );
            // Segments before it read fine, up to the damaged one.
            let mut offset = 0;
            while offset < victim_base {
                let read = log
                    .read(offset, 1000)
                    .await
                    .expect("undamaged segment reads");
                let last = read.batches.last().expect("data below the damage");
                offset = shardlog::batch::BatchHeader::parse(last, u32::MAX)
                    .unwrap()
                    .next_offset();
            }
            assert_eq!(offset, victim_base);
            // Appends continue densely.
            assert_eq!(
                log.append(batch(1, 1, 10), Durability::Durable)
                    .await
                    .unwrap(),
                total
            );
            log.close().await.unwrap();
        });
        assert_eq!(
            log_files(dir.path(), "log").len(),
            segments.len(),
            "no segment removed"
        );
    }
}

#[test]
fn an_empty_segment_left_by_an_interrupted_roll_is_dropped() {
    let dir = TempDir::new("roll-leftover");
    let expected = closed_multi_segment_log(dir.path());
    let next = expected.len() as u64;
    // A crash after the roll created the next file, before any write.
    fs::write(dir.path().join(format!("{:020}.log", next + 5)), []).unwrap();
    fs::remove_file(dir.path().join(CLEAN_SHUTDOWN_MARKER)).unwrap();
    assert_recovers_with(
        dir.path(),
        small_config(),
        next,
        "after an interrupted roll",
    );
}

#[test]
fn the_clean_shutdown_marker_is_written_at_close_and_consumed_at_open() {
    let dir = TempDir::new("marker");
    let expected = closed_multi_segment_log(dir.path());
    let marker = dir.path().join(CLEAN_SHUTDOWN_MARKER);
    assert!(marker.exists(), "close writes the marker");
    let path = dir.path().to_path_buf();
    let marker_in = marker.clone();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path, small_config()).await;
        assert!(
            !marker_in.exists(),
            "open consumes the marker before any append"
        );
        assert_eq!(read_all(&log, 0, 1 << 20).await, expected);
        // Crash: no marker, so the next open scans.
        drop(log);
    });
    assert!(!marker.exists());
}

#[test]
fn a_batch_of_an_unknown_format_version_is_refused_never_truncated() {
    let dir = TempDir::new("unknown-format");
    let layout = crashed_log(dir.path(), 5);
    let segment = log_files(dir.path(), "log").remove(0);
    let (last_start, _, _) = layout[layout.len() - 1];
    // A newer shardlog's batch: format version 3 at byte 16 of the header.
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.write_all_at(&[3], last_start + 16).unwrap();
    let size = fs::metadata(&segment).unwrap().len();
    let path = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let shard = shardlog::config::ShardStorageConfig::default();
        let cache = shardlog::storage::TailCache::shared(0);
        let opened = shardlog::storage::PartitionLog::open(
            DmaStorage,
            &path,
            one_segment_config(),
            &shard,
            cache,
        )
        .await;
        let err = opened.err().expect("the open is refused");
        assert!(err.to_string().contains("format version 3"), "{err}");
    });
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        size,
        "nothing truncated"
    );
}

/// A marker whose index was lost (the index writes of a close not
/// durable, the marker's rename is): the data past the stale index is
/// found by a scan, not cut off. (An active segment larger than
/// ACTIVE_SCAN_AT_OPEN_BYTES_MAX, whose index a clean open trusts.)
#[test]
fn a_marker_vouching_for_a_stale_index_is_not_trusted() {
    let dir = TempDir::new("stale-index");
    let path = dir.path().to_path_buf();
    let saved = dir.path().join("saved-index");
    let config = LogConfig {
        segment_bytes_max: 16 << 20,
        ..one_segment_config()
    };
    let first = 1200u64;
    let (path_in, saved_in, config_in) = (path.clone(), saved.clone(), config.clone());
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path_in, config_in.clone()).await;
        for tag in 0..first {
            log.append(batch(tag, 1, 1000), Durability::Durable)
                .await
                .unwrap();
        }
        log.close().await.unwrap();
        fs::create_dir_all(&saved_in).unwrap();
        let indexes = [
            log_files(&path_in, "index"),
            log_files(&path_in, "timeindex"),
        ];
        assert_eq!(
            indexes.concat().len(),
            2,
            "a large active segment gets its index at close"
        );
        for index in indexes.concat() {
            fs::copy(&index, saved_in.join(index.file_name().unwrap())).unwrap();
        }
        let log = open(DmaStorage, &path_in, config_in).await;
        for tag in first..first + 2 {
            log.append(batch(tag, 1, 1000), Durability::Durable)
                .await
                .unwrap();
        }
        log.close().await.unwrap();
    });
    let segment_bytes = fs::metadata(&log_files(&path, "log")[0]).unwrap().len();
    assert!(segment_bytes > shardlog::config::ACTIVE_SCAN_AT_OPEN_BYTES_MAX);
    for index in fs::read_dir(&saved).unwrap() {
        let index = index.unwrap().path();
        fs::copy(&index, path.join(index.file_name().unwrap())).unwrap();
    }
    fs::remove_dir_all(&saved).unwrap();
    assert!(path.join(CLEAN_SHUTDOWN_MARKER).exists());
    let path_in = path.clone();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path_in, config).await;
        assert_eq!(
            log.latest_offset(),
            first + 2,
            "every record, not the stale index's"
        );
        assert_eq!(read_all(&log, 0, 1 << 20).await.len() as u64, first + 2);
        log.close().await.unwrap();
    });
}

/// A lightly used partition's clean close writes no index files and no
/// producer snapshot for its small active segment; the next open scans it
/// and serves the same records.
#[test]
fn a_small_active_segment_is_scanned_at_open_instead_of_indexed_at_close() {
    let dir = TempDir::new("small-active");
    let path = dir.path().to_path_buf();
    let path_in = path.clone();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path_in, LogConfig::default()).await;
        for tag in 0..10 {
            log.append(batch(tag, 1, 100), Durability::Durable)
                .await
                .unwrap();
        }
        log.close().await.unwrap();
    });
    assert!(path.join(CLEAN_SHUTDOWN_MARKER).exists());
    assert!(
        log_files(&path, "index").is_empty(),
        "no index written at close"
    );
    let path_in = path.clone();
    run(dir.path(), move || async move {
        let log = open(DmaStorage, &path_in, LogConfig::default()).await;
        assert_eq!(log.latest_offset(), 10);
        assert_eq!(read_all(&log, 0, 1 << 20).await.len(), 10);
        let base = log
            .append(batch(10, 1, 100), Durability::Durable)
            .await
            .unwrap();
        assert_eq!(base, 10, "appends continue where the scan ended");
        log.close().await.unwrap();
    });
}
