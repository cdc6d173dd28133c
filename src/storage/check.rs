//! Offline verification of a partition's files (`shardlog check`): every
//! batch of every segment validated (length, CRC, records), offsets dense
//! from segment to segment, index entries pointing at batch starts with the
//! right offsets, and, for a log whose records have a format of their own
//! (the committed offsets), every record decoded by a [`RecordCheck`].
//! `repair` truncates a torn tail of the last segment, as recovery would;
//! damage anywhere else is reported, never changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::index::SegmentIndex;
use super::io::{SegmentFile, Storage};
use super::recovery::load_index;
use super::segment::{parse_segment_name, segment_path, CursorItem, SegmentCursor, LOG_SUFFIX};
use crate::batch::{Batch, Record};
use crate::config::{BATCH_BYTES_MAX, CHECK_READ_BYTES};

/// Checks one record's contents (its batch's CRC already held): `Err`
/// says why the log's reader would refuse it.
pub type RecordCheck = fn(&Record) -> Result<(), String>;

/// Something wrong in a partition's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A bad batch, or zeros, inside a sealed segment.
    Corrupt {
        segment: PathBuf,
        position: u64,
        reason: String,
    },
    /// The last segment ends in bytes that are not a whole valid batch.
    TornTail {
        segment: PathBuf,
        position: u64,
        repaired: bool,
    },
    /// A segment does not start where the previous one ended.
    OffsetGap {
        segment: PathBuf,
        expected: u64,
        found: u64,
    },
    /// An index entry that does not point at a batch start with its offset.
    IndexMismatch {
        segment: PathBuf,
        offset: u64,
        position: u64,
    },
    /// A record, in a valid batch, whose contents the log's reader refuses
    /// (the [`RecordCheck`]). Only the first of a segment is reported.
    BadRecord {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Corrupt { segment, position, reason } => {
                write!(f, "{}: corrupt at byte {position}: {reason}", segment.display())
            }
            Problem::TornTail { segment, position, repaired } => {
                let what = if *repaired { "truncated there" } else { "run with --repair to truncate" };
                write!(f, "{}: torn tail at byte {position} ({what})", segment.display())
            }
            Problem::OffsetGap { segment, expected, found } => {
                write!(f, "{}: starts at offset {found}, previous segment ends at {expected}", segment.display())
            }
            Problem::IndexMismatch { segment, offset, position } => write!(
                f,
                "{}: index entry (offset {offset}, byte {position}) is not a batch start with that offset",
                segment.display()
            ),
            Problem::BadRecord { segment, offset, reason } => write!(
                f,
                "{}: record at offset {offset} cannot be read: {reason} (never repaired)",
                segment.display()
            ),
        }
    }
}

/// What the check of one partition found.
#[derive(Clone, Debug, Default)]
pub struct PartitionReport {
    pub segments: usize,
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub first_offset: Option<u64>,
    pub next_offset: u64,
    pub problems: Vec<Problem>,
}

impl PartitionReport {
    /// Problems left after any repair.
    pub fn unrepaired(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| !matches!(p, Problem::TornTail { repaired: true, .. }))
            .count()
    }
}

fn segment_bases(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_segment_name(&e.file_name().to_string_lossy()))
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

/// Checks every segment of the partition in `dir`, and every record with
/// `record_check` if there is one.
pub async fn check_partition<S: Storage>(
    storage: &S,
    dir: &Path,
    repair: bool,
    record_check: Option<RecordCheck>,
) -> std::io::Result<PartitionReport> {
    let bases = segment_bases(dir)?;
    let mut report = PartitionReport {
        segments: bases.len(),
        first_offset: bases.first().copied(),
        next_offset: bases.first().copied().unwrap_or(0),
        ..PartitionReport::default()
    };
    for (i, &base) in bases.iter().enumerate() {
        let last = i + 1 == bases.len();
        let path = segment_path(dir, base, LOG_SUFFIX);
        if base != report.next_offset {
            report.problems.push(Problem::OffsetGap {
                segment: path.clone(),
                expected: report.next_offset,
                found: base,
            });
        }
        let file = storage.open_segment(&path, false).await?;
        let size = file.size().await?;
        let mut cursor = SegmentCursor::new(&file, 0, size, CHECK_READ_BYTES, BATCH_BYTES_MAX);
        let mut batch_starts: HashMap<u64, u64> = HashMap::new();
        let mut next_offset = base;
        let mut bad_record: Option<Problem> = None;
        let stop = loop {
            match cursor.next().await? {
                CursorItem::Batch {
                    position,
                    header,
                    bytes,
                } => {
                    if header.base_offset != next_offset {
                        break Some((
                            position,
                            format!(
                                "batch offset {} where {next_offset} was expected",
                                header.base_offset
                            ),
                        ));
                    }
                    if let (Some(check), None) = (record_check, &bad_record) {
                        bad_record = first_bad_record(check, header, &bytes, &path);
                    }
                    batch_starts.insert(position, header.base_offset);
                    report.batches += 1;
                    report.records += u64::from(header.record_count);
                    report.bytes += bytes.len() as u64;
                    next_offset = header.next_offset();
                }
                CursorItem::End { position } if last || position == size => break None,
                CursorItem::End { position } => {
                    break Some((position, "zeros inside a sealed segment".into()))
                }
                CursorItem::Invalid { position, reason } => break Some((position, reason)),
                CursorItem::UnknownFormat { position, version } => {
                    report.problems.push(Problem::Corrupt {
                        segment: path.clone(),
                        position,
                        reason: format!("batch format version {version}, unknown to this build (never repaired)"),
                    });
                    break None;
                }
            }
        };
        report.next_offset = next_offset;
        report.problems.extend(bad_record);
        if let Some((position, reason)) = stop {
            if last {
                if repair {
                    file.truncate(position).await?;
                    file.fdatasync().await?;
                }
                report.problems.push(Problem::TornTail {
                    segment: path.clone(),
                    position,
                    repaired: repair,
                });
            } else {
                report.problems.push(Problem::Corrupt {
                    segment: path.clone(),
                    position,
                    reason,
                });
            }
        }
        file.close().await?;
        let loaded = load_index(storage, dir, base)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some((index, _)) = loaded {
            check_index(&index, &batch_starts, &path, &mut report.problems);
        }
    }
    Ok(report)
}

/// The first record of a (valid) batch that `check` refuses.
fn first_bad_record(
    check: RecordCheck,
    header: crate::batch::BatchHeader,
    bytes: &bytes::Bytes,
    segment: &Path,
) -> Option<Problem> {
    let batch = Batch {
        header,
        bytes: bytes.clone(),
    };
    batch.records().find_map(|record| {
        check(&record).err().map(|reason| Problem::BadRecord {
            segment: segment.to_path_buf(),
            offset: record.offset,
            reason,
        })
    })
}

fn check_index(
    index: &SegmentIndex,
    batch_starts: &HashMap<u64, u64>,
    segment: &Path,
    problems: &mut Vec<Problem>,
) {
    for (offset, position) in index.offset_entries() {
        if batch_starts.get(&position) != Some(&offset) {
            problems.push(Problem::IndexMismatch {
                segment: segment.to_path_buf(),
                offset,
                position,
            });
            return;
        }
    }
}
