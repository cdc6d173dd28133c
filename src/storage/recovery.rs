//! Opening a partition's segments: loading or rebuilding their indexes and
//! recovering the tail after a crash (docs/STORAGE.md, "Recovery").
//!
//! Two modes. `Clean`: the clean-shutdown marker was found, so the index
//! files written at close are trusted and nothing is scanned. `Unclean`: the
//! last segment is scanned from its last index point; the first batch whose
//! length, CRC or offset is wrong, or an all-zero header, ends the log, and
//! the file is truncated there. Sealed segments are never truncated: damage
//! found in one is reported, and reads of it fail with a corruption error.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::error::StorageResult;
use super::index::{IndexMeta, SegmentIndex};
use super::io::{SegmentFile, Storage};
use super::segment::{
    segment_path, CursorItem, Segment, SegmentCursor, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use crate::batch::{BatchHeader, HEADER_LEN};
use crate::config::{ACTIVE_SCAN_AT_OPEN_BYTES_MAX, PAGE_BYTES, ZERO_TAIL_CHECK_BYTES_MAX};

/// Whether the last close was clean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryMode {
    Clean,
    Unclean,
    /// Unclean, and the active segment scanned from its start rather than
    /// its last index point: a producer snapshot slot was torn, so the
    /// state must be replayed from as far back as the segment goes.
    Rescan,
}

/// How to read segments while recovering.
#[derive(Clone, Copy, Debug)]
pub struct ScanLimits {
    pub index_interval_bytes: u32,
    pub read_chunk_bytes: usize,
    pub batch_bytes_limit: u32,
}

/// Where a scan ended and why.
pub struct ScanOutcome {
    pub end_position: u64,
    pub next_offset: u64,
    /// The first invalid bytes: their position and what was wrong.
    pub invalid: Option<(u64, String)>,
}

/// Told each valid batch a recovery scan passes (the producer state's
/// replay); may see a batch twice when a scan falls back to a full one.
pub type OnBatch<'a> = &'a mut dyn FnMut(&BatchHeader);

/// Validates batches from `(position, offset)` up to `end`, feeding the
/// index every batch at or past `index_from`, and `on_batch` every batch.
pub async fn scan<F: SegmentFile>(
    file: &F,
    index: &mut SegmentIndex,
    (position, offset): (u64, u64),
    index_from: u64,
    end: u64,
    limits: &ScanLimits,
    on_batch: OnBatch<'_>,
) -> std::io::Result<ScanOutcome> {
    let mut cursor = SegmentCursor::new(
        file,
        position,
        end,
        limits.read_chunk_bytes,
        limits.batch_bytes_limit,
    );
    let mut next_offset = offset;
    loop {
        match cursor.next().await? {
            CursorItem::Batch {
                position, header, ..
            } => {
                if header.base_offset != next_offset {
                    let reason = format!(
                        "batch base offset {} where {next_offset} was expected",
                        header.base_offset
                    );
                    return Ok(ScanOutcome {
                        end_position: position,
                        next_offset,
                        invalid: Some((position, reason)),
                    });
                }
                if position >= index_from {
                    index.on_batch(&header, position, limits.index_interval_bytes);
                }
                on_batch(&header);
                next_offset = header.next_offset();
            }
            CursorItem::End { position } => {
                return Ok(ScanOutcome {
                    end_position: position,
                    next_offset,
                    invalid: None,
                })
            }
            CursorItem::UnknownFormat { position, version } => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "batch format version {version} at byte {position}: written by a newer shardlog; \
                         refusing to open rather than truncate it"
                    ),
                ));
            }
            CursorItem::Invalid { position, reason } => {
                return Ok(ScanOutcome {
                    end_position: position,
                    next_offset,
                    invalid: Some((position, reason)),
                })
            }
        }
    }
}

/// Reads a segment's index files; `None` when missing or damaged.
pub async fn load_index<S: Storage>(
    storage: &S,
    dir: &Path,
    base_offset: u64,
) -> StorageResult<Option<(SegmentIndex, IndexMeta)>> {
    let offsets = storage
        .read_file(&segment_path(dir, base_offset, INDEX_SUFFIX))
        .await?;
    let times = storage
        .read_file(&segment_path(dir, base_offset, TIME_INDEX_SUFFIX))
        .await?;
    let (Some(offsets), Some(times)) = (offsets, times) else {
        return Ok(None);
    };
    let loaded =
        SegmentIndex::decode(&offsets, &times).filter(|(_, meta)| meta.base_offset == base_offset);
    if loaded.is_none() {
        tracing::warn!(dir = %dir.display(), base_offset, "index files damaged; rebuilding from the log");
    }
    Ok(loaded)
}

/// A segment's two index files, encoded: `(path, contents)` each.
pub type IndexFiles = [(PathBuf, Vec<u8>); 2];

/// Encodes a segment's index files, covering its data so far. Encoding is
/// separate from writing so no borrow of the log state spans an `.await`.
pub fn index_files<F>(segment: &Segment<F>) -> IndexFiles {
    let meta = IndexMeta {
        base_offset: segment.base_offset,
        covered_bytes: segment.data_bytes,
        next_offset: segment.next_offset,
        max_timestamp_ms: segment.index.max_timestamp_ms(),
    };
    let (offsets, times) = segment.index.encode(&meta);
    let dir = segment.path.parent().unwrap_or(Path::new("."));
    [
        (
            segment_path(dir, segment.base_offset, INDEX_SUFFIX),
            offsets,
        ),
        (
            segment_path(dir, segment.base_offset, TIME_INDEX_SUFFIX),
            times,
        ),
    ]
}

/// Writes encoded index files, each atomically.
pub async fn write_index<S: Storage>(storage: &S, files: IndexFiles) -> std::io::Result<()> {
    storage.write_files_atomic(files.into()).await
}

/// Removes a segment's files (log and indexes).
pub async fn remove_segment_files<S: Storage>(
    storage: &S,
    dir: &Path,
    base_offset: u64,
) -> std::io::Result<()> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        storage
            .remove_file(&segment_path(dir, base_offset, suffix))
            .await?;
    }
    Ok(())
}

/// Opens a sealed segment whose successor starts at `next_base`. Its index
/// is loaded, or rebuilt by a full scan; damage is logged and left in place.
pub async fn open_sealed<S: Storage>(
    storage: &S,
    dir: &Path,
    base_offset: u64,
    next_base: u64,
    limits: &ScanLimits,
) -> StorageResult<Segment<S::File>> {
    let path = segment_path(dir, base_offset, LOG_SUFFIX);
    let file = storage.open_segment(&path, false).await?;
    let size = file.size().await?;
    let loaded = load_index(storage, dir, base_offset)
        .await?
        .filter(|(_, meta)| meta.covered_bytes == size && meta.next_offset == next_base);
    let (index, rebuilt) = match loaded {
        Some((index, _)) => (index, false),
        None => (
            rebuild_sealed_index(&file, &path, base_offset, next_base, size, limits).await?,
            true,
        ),
    };
    let segment = Segment {
        base_offset,
        file: Rc::new(file),
        path,
        data_bytes: size,
        next_offset: next_base,
        index,
    };
    if rebuilt {
        if let Err(e) = write_index(storage, index_files(&segment)).await {
            tracing::warn!(segment = %segment.path.display(), error = %e, "could not write the rebuilt index");
        }
    }
    Ok(segment)
}

/// Scans a whole sealed segment to rebuild its index. Damage (a bad batch,
/// zeros inside, an end that does not meet the next segment) is logged and
/// left in place: reads that reach it fail with a corruption error.
async fn rebuild_sealed_index<F: SegmentFile>(
    file: &F,
    path: &Path,
    base_offset: u64,
    next_base: u64,
    size: u64,
    limits: &ScanLimits,
) -> StorageResult<SegmentIndex> {
    let mut index = SegmentIndex::new(base_offset);
    let outcome = scan(
        file,
        &mut index,
        (0, base_offset),
        0,
        size,
        limits,
        &mut |_| {},
    )
    .await?;
    let damage = match outcome.invalid {
        Some(invalid) => Some(invalid),
        None if outcome.end_position != size => {
            Some((outcome.end_position, "zero bytes inside the segment".into()))
        }
        None if outcome.next_offset != next_base => Some((
            outcome.end_position,
            format!(
                "segment ends at offset {} but the next starts at {next_base}",
                outcome.next_offset
            ),
        )),
        None => None,
    };
    if let Some((position, reason)) = damage {
        tracing::error!(
            segment = %path.display(), position, %reason,
            "sealed segment is damaged; reads past the damage will fail"
        );
    }
    Ok(index)
}

/// The recovered active segment and how much of its file is allocated.
pub struct ActiveSegment<F> {
    /// `Unclean` also when a clean open found the index did not end the
    /// data.
    pub recovered_as: RecoveryMode,
    /// The file was cut back to its data, and synced.
    pub truncated: bool,
    pub segment: Segment<F>,
    pub allocated_bytes: u64,
    /// The bytes of the last, partial page, to be rewritten by the next write.
    pub tail_page: Vec<u8>,
}

/// Whether the data of a segment file of `size` bytes ends at `end`: the
/// file ends there, or a zero header (never written, or preallocated)
/// follows.
async fn data_ends_at<F: SegmentFile>(file: &F, end: u64, size: u64) -> std::io::Result<bool> {
    if end >= size {
        return Ok(true);
    }
    all_zeros(file, end, size.min(end + HEADER_LEN as u64)).await
}

/// Whether the file's bytes from `from` to `size` are all zeros, read back
/// when there are at most `ZERO_TAIL_CHECK_BYTES_MAX` (else `false`).
async fn zeros_from<F: SegmentFile>(file: &F, from: u64, size: u64) -> std::io::Result<bool> {
    if size - from > ZERO_TAIL_CHECK_BYTES_MAX {
        return Ok(false);
    }
    all_zeros(file, from, size).await
}

/// Whether the file holds `from..to` and all of it is zeros.
async fn all_zeros<F: SegmentFile>(file: &F, from: u64, to: u64) -> std::io::Result<bool> {
    let bytes = file.read_at(from, (to - from) as usize).await?;
    Ok(bytes.len() as u64 == to - from && bytes.iter().all(|&b| b == 0))
}

/// Opens the last segment, recovering its tail in `Unclean` mode; the
/// batches of the scanned tail go to `on_batch`.
pub async fn open_active<S: Storage>(
    storage: &S,
    dir: &Path,
    base_offset: u64,
    mode: RecoveryMode,
    limits: &ScanLimits,
    on_batch: OnBatch<'_>,
) -> StorageResult<ActiveSegment<S::File>> {
    let path = segment_path(dir, base_offset, LOG_SUFFIX);
    let file = storage.open_segment(&path, true).await?;
    let size = file.size().await?;
    // A torn producer snapshot asks for a scan from the start; a small
    // active segment is scanned even after a clean close, which did not
    // write its index (ACTIVE_SCAN_AT_OPEN_BYTES_MAX). Either way its
    // index files, if any, are old and not read.
    let use_index = match mode {
        RecoveryMode::Rescan => false,
        RecoveryMode::Clean => size > ACTIVE_SCAN_AT_OPEN_BYTES_MAX,
        RecoveryMode::Unclean => true,
    };
    let loaded = if use_index {
        load_index(storage, dir, base_offset)
            .await?
            .filter(|(_, meta)| meta.covered_bytes <= size)
    } else {
        None
    };
    let mut mode = match mode {
        RecoveryMode::Rescan => RecoveryMode::Unclean,
        other => other,
    };
    if let (RecoveryMode::Clean, Some((_, meta))) = (mode, &loaded) {
        if !data_ends_at(&file, meta.covered_bytes, size).await? {
            // The marker vouches for an index that does not end the data
            // (a marker whose index writes were lost): trust neither.
            tracing::warn!(segment = %path.display(), covered = meta.covered_bytes, "data goes on past the clean-shutdown index; recovering as after a crash");
            mode = RecoveryMode::Unclean;
        }
    }
    let (index, data_bytes, next_offset) = match (mode, loaded) {
        (RecoveryMode::Clean, Some((index, meta))) => (index, meta.covered_bytes, meta.next_offset),
        (_, loaded) => {
            recover_tail(&file, &path, base_offset, loaded, size, limits, on_batch).await?
        }
    };
    let mut allocated_bytes = size;
    let truncated = mode == RecoveryMode::Unclean
        && size > data_bytes
        && !zeros_from(&file, data_bytes, size).await?;
    if truncated {
        // Drop everything past the recovered end, so that no stale bytes of
        // a torn write can ever be read back as a batch.
        file.truncate(data_bytes).await?;
        file.fdatasync().await?;
        allocated_bytes = data_bytes;
    }
    let tail_start = data_bytes - data_bytes % PAGE_BYTES as u64;
    let tail_page = if tail_start < data_bytes {
        file.read_at(tail_start, (data_bytes - tail_start) as usize)
            .await?
            .to_vec()
    } else {
        Vec::new()
    };
    Ok(ActiveSegment {
        recovered_as: mode,
        truncated,
        segment: Segment {
            base_offset,
            file: Rc::new(file),
            path,
            data_bytes,
            next_offset,
            index,
        },
        allocated_bytes,
        tail_page,
    })
}

/// Scans the tail from the last index point; falls back to a full scan when
/// the index disagrees with the log.
async fn recover_tail<F: SegmentFile>(
    file: &F,
    path: &Path,
    base_offset: u64,
    loaded: Option<(SegmentIndex, IndexMeta)>,
    size: u64,
    limits: &ScanLimits,
    on_batch: OnBatch<'_>,
) -> StorageResult<(SegmentIndex, u64, u64)> {
    if let Some((mut index, meta)) = loaded {
        let start = index.last_entry().unwrap_or((base_offset, 0));
        let outcome = scan(
            file,
            &mut index,
            (start.1, start.0),
            meta.covered_bytes,
            size,
            limits,
            &mut *on_batch,
        )
        .await?;
        if outcome.end_position >= meta.covered_bytes {
            log_truncation(path, &outcome, size);
            return Ok((index, outcome.end_position, outcome.next_offset));
        }
        tracing::warn!(segment = %path.display(), "index covers more than the valid log; rebuilding it");
    }
    let mut index = SegmentIndex::new(base_offset);
    let outcome = scan(
        file,
        &mut index,
        (0, base_offset),
        0,
        size,
        limits,
        on_batch,
    )
    .await?;
    log_truncation(path, &outcome, size);
    Ok((index, outcome.end_position, outcome.next_offset))
}

fn log_truncation(path: &Path, outcome: &ScanOutcome, size: u64) {
    if let Some((position, reason)) = &outcome.invalid {
        tracing::warn!(
            segment = %path.display(), position, %reason, file_bytes = size,
            "torn tail: truncating the log at the last valid batch"
        );
    }
}
