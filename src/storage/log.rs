//! `PartitionLog`: one partition's log on the core that owns it. Appends go
//! through group commit ([`super::appender`]); reads come from the tail
//! cache or from segments on disk; offsets and timestamps are looked up in
//! the segment indexes. A record is visible to readers only once durable.
//!
//! Single-threaded by construction: the log lives on one glommio executor,
//! its state in `RefCell`s split by owner ([`super::log_state`] and the
//! appender's [`WriteState`]), none borrowed across an `.await`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use super::appender::{PendingAppend, WriteState};
use super::cache::{CacheKey, SharedTailCache};
use super::completion::{completion, Completer, Completion};
use super::error::{StorageError, StorageResult};
use super::io::{SegmentFile, Storage};
use super::log_state::{Lifecycle, Segments, Visible};
use super::preallocator::Space;
use super::producers::{ProducerLimits, ProducerStates, SequenceCheck};
use super::recovery::{
    index_files, open_active, open_sealed, remove_segment_files, RecoveryMode, ScanLimits,
};
use super::retention::{segments_to_delete, SegmentSummary};
use super::segment::{parse_segment_name, CursorItem, Segment, SegmentCursor};
use super::stats::LogStats;
use crate::batch::{validate, Batch};
use crate::config::{
    Durability, LogConfig, ShardStorageConfig, ACTIVE_SCAN_AT_OPEN_BYTES_MAX, BATCH_BYTES_MAX,
    PAGE_BYTES,
};
use crate::waiters::{WaiterSet, WaiterSlot};

/// Present after a clean close, renamed away at open: its presence means
/// the index files are current and the tail needs no scan.
pub const CLEAN_SHUTDOWN_MARKER: &str = "clean-shutdown";

/// The marker's name between an open and the next clean close: renamed
/// back and forth, so that a restart neither creates nor deletes an inode
/// (ext4 slows down when thousands of inodes are recycled at once).
pub const CLEAN_SHUTDOWN_MARKER_CONSUMED: &str = "clean-shutdown.consumed";

/// The idempotent producers' state as of an offset, written at segment roll
/// and clean close (docs/STORAGE.md, "Producer state"), in place into two
/// slots by turns: a torn write spoils one, the other is still whole.
pub const PRODUCER_SNAPSHOT: &str = "producers.snapshot";
pub const PRODUCER_SNAPSHOT_SECOND: &str = "producers.snapshot.1";
const PRODUCER_SNAPSHOT_SLOTS: [&str; 2] = [PRODUCER_SNAPSHOT, PRODUCER_SNAPSHOT_SECOND];

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A handle to one partition log; clones share it.
pub struct PartitionLog<S: Storage> {
    open: Rc<OpenLog<S>>,
}

impl<S: Storage> Clone for PartitionLog<S> {
    fn clone(&self) -> Self {
        PartitionLog {
            open: self.open.clone(),
        }
    }
}

/// An open partition log: its files, its state (split by owner, see the
/// module doc) and its waiters, shared by every [`PartitionLog`] handle and
/// the flush task. Every `RefCell` is borrowed briefly, never across an
/// `.await`.
pub struct OpenLog<S: Storage> {
    pub storage: S,
    pub dir: PathBuf,
    pub config: LogConfig,
    pub limits: ScanLimits,
    pub cache: SharedTailCache,
    pub cache_key: CacheKey,
    pub segments: RefCell<Segments<S::File>>,
    /// What readers may see; advanced only by [`OpenLog::make_visible`].
    pub visible: Cell<Visible>,
    pub lifecycle: RefCell<Lifecycle>,
    /// The appender's own state (queue, tail page, flush task).
    pub writer: RefCell<WriteState>,
    /// The active segment's allocated space and its preparation.
    pub space: RefCell<Space>,
    pub stats: RefCell<LogStats>,
    /// Readers waiting for new visible data: one waker per waiting future.
    pub data_waiters: WaiterSet,
    /// Idempotent producers' recent batches, checked at submit.
    pub producers: RefCell<ProducerStates>,
    /// The active segment's index files and the producer snapshot on disk
    /// still describe the log: it was opened clean and nothing changed
    /// since. A close then writes only the clean-shutdown marker.
    pub clean_files_current: Cell<bool>,
    /// The producer snapshot slot the next snapshot goes to (the one not
    /// holding the newest).
    snapshot_slot: Cell<usize>,
    /// Retries of a queued batch, by its ticket: answered with its result.
    pub duplicate_waiters: RefCell<HashMap<u64, Vec<Completer<StorageResult<u64>>>>>,
}

/// Batches returned by a read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadBatches {
    /// Whole batches, the first holding the requested offset.
    pub batches: Vec<Bytes>,
    /// The next offset to be made visible (the high watermark).
    pub high_watermark: u64,
    /// The earliest offset still in the log.
    pub log_start_offset: u64,
}

impl ReadBatches {
    pub fn total_bytes(&self) -> usize {
        self.batches.iter().map(Bytes::len).sum()
    }
}

/// The answer to a queued append: its base offset once committed.
pub struct AppendTicket(Completion<StorageResult<u64>>);

impl Future for AppendTicket {
    type Output = StorageResult<u64>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(StorageError::Closed)))
    }
}

/// The part of one segment a read may cover.
struct SegmentSlice<F> {
    file: Rc<F>,
    path: PathBuf,
    /// A batch boundary at or before the offset sought.
    position: u64,
    /// The end of the visible data.
    end: u64,
    /// For a sealed segment, the offset its data must reach.
    sealed_next_offset: Option<u64>,
}

/// What retention deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
}

impl<S: Storage> PartitionLog<S> {
    /// Opens (or creates) the log in `dir`, recovering after a crash.
    pub async fn open(
        storage: S,
        dir: &Path,
        config: LogConfig,
        shard_config: &ShardStorageConfig,
        cache: SharedTailCache,
    ) -> StorageResult<Self> {
        config.validate().map_err(StorageError::InvalidConfig)?;
        // Blocking directory calls, once per open: not on the data path.
        std::fs::create_dir_all(dir)?;
        // glommio's file and directory calls fail with EBADF on relative
        // paths (seen with its Directory::sync); keep every path absolute.
        let dir = &std::path::absolute(dir)?;
        let limits = ScanLimits {
            index_interval_bytes: config.index_interval_bytes,
            read_chunk_bytes: shard_config.read_chunk_bytes,
            batch_bytes_limit: BATCH_BYTES_MAX,
        };
        let marker = dir.join(CLEAN_SHUTDOWN_MARKER);
        let marker_present = marker.exists();
        let mode = if marker_present {
            RecoveryMode::Clean
        } else {
            RecoveryMode::Unclean
        };
        let mut bases = list_segments(dir)?;
        drop_empty_trailing_segments(&storage, dir, &mut bases).await?;
        if bases.is_empty() {
            bases.push(0);
        }
        let mut sealed = BTreeMap::new();
        for pair in bases.windows(2) {
            let segment = open_sealed(&storage, dir, pair[0], pair[1], &limits).await?;
            sealed.insert(pair[0], segment);
        }
        let last = *bases.last().expect("at least one segment");
        let (mut producers, covered, snapshot_slot, snapshot_torn) =
            load_producer_snapshot(&storage, dir).await?;
        let mode = if snapshot_torn {
            RecoveryMode::Rescan
        } else {
            mode
        };
        let active = open_active(&storage, dir, last, mode, &limits, &mut |header| {
            if let Some(fields) = header.producer {
                if header.base_offset >= covered {
                    producers.replay(
                        fields,
                        header.record_count,
                        header.base_offset,
                        header.max_timestamp_ms,
                    );
                }
            }
        })
        .await?;
        if covered > active.segment.next_offset {
            tracing::warn!(dir = %dir.display(), covered, "producer snapshot covers more than the log; rebuilding from the active segment only");
            producers = ProducerStates::new(ProducerLimits::default());
        }
        if active.recovered_as == RecoveryMode::Unclean {
            // Recovered bytes may have been written but never synced (a
            // recovery that truncated has synced them), and the directory
            // may have lost or gained entries.
            if !active.truncated {
                active.segment.file.fdatasync().await?;
            }
            storage.sync_dir(dir).await?;
        }
        let consumed = dir.join(CLEAN_SHUTDOWN_MARKER_CONSUMED);
        if marker_present {
            // Gone before any append: a crash from now on must scan.
            storage.rename(&marker, &consumed).await?;
            storage.sync_dir(dir).await?;
        } else if !consumed.exists() {
            // A new partition: its marker's inode is made now, with its
            // directory and segment, so that no stop has to allocate
            // thousands of them at once. Unsynced: if lost, the close
            // creates the marker itself.
            storage.touch(&consumed).await?;
        }
        tracing::debug!(
            dir = %dir.display(), ?mode, segments = bases.len(),
            next_offset = active.segment.next_offset, "partition log opened"
        );
        let cache_key = cache.borrow_mut().register();
        let visible = Visible::all_of(&active.segment);
        let recovered_as = active.recovered_as;
        let writer = WriteState::new(active.tail_page);
        let space = Space::new(active.allocated_bytes);
        let data_bytes = active.segment.data_bytes;
        let segments = Segments::new(sealed, active.segment);
        let log = PartitionLog {
            open: Rc::new(OpenLog {
                storage,
                dir: dir.to_path_buf(),
                config,
                limits,
                cache,
                cache_key,
                segments: RefCell::new(segments),
                visible: Cell::new(visible),
                lifecycle: RefCell::default(),
                writer: RefCell::new(writer),
                space: RefCell::new(space),
                stats: RefCell::default(),
                data_waiters: WaiterSet::new(),
                producers: RefCell::new(producers),
                duplicate_waiters: RefCell::default(),
                clean_files_current: Cell::new(recovered_as == RecoveryMode::Clean),
                snapshot_slot: Cell::new(snapshot_slot),
            }),
        };
        // A new partition gets its first step prepared now, so that its
        // first append finds written space. Others wait for their next
        // append: thousands of partitions opening at once should not all
        // write zeros while the broker starts.
        if data_bytes == 0 {
            log.open.prepare_ahead(data_bytes);
        }
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.open.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.open.config
    }

    /// Appends one encoded batch; answers with its base offset once the
    /// batch is durable (`Durable`) or written (`Written`).
    pub async fn append(&self, batch: BytesMut, durability: Durability) -> StorageResult<u64> {
        self.submit_append(batch, durability)?.await
    }

    /// Validates and queues a batch now, in call order, and returns the
    /// answer to await. Callers that must keep the order of appends across
    /// awaits (one connection's pipelined produces) queue with this first.
    pub fn submit_append(
        &self,
        batch: BytesMut,
        durability: Durability,
    ) -> StorageResult<AppendTicket> {
        let limit = self.open.config.batch_bytes_max;
        if batch.len() > limit as usize {
            return Err(StorageError::BatchTooLarge {
                size: batch.len(),
                limit,
            });
        }
        let valid = validate(&batch, limit)?;
        self.open.lifecycle.borrow().accepting_appends()?;
        let (done, answer) = completion();
        let mut producer = None;
        if let Some(fields) = valid.header.producer {
            // Here, in queue order: the check counts every batch queued
            // before this one.
            let check = self.open.producers.borrow_mut().check(
                fields,
                valid.header.record_count,
                now_ms(),
            )?;
            match check {
                SequenceCheck::Append { ticket } => producer = Some((fields.producer_id, ticket)),
                SequenceCheck::Duplicate { base_offset } => {
                    done.complete(Ok(base_offset));
                    return Ok(AppendTicket(answer));
                }
                SequenceCheck::DuplicateInFlight { ticket } => {
                    self.open
                        .duplicate_waiters
                        .borrow_mut()
                        .entry(ticket)
                        .or_default()
                        .push(done);
                    return Ok(AppendTicket(answer));
                }
            }
        }
        self.open.writer.borrow_mut().queue(PendingAppend {
            batch,
            valid,
            durability,
            done,
            producer,
            queued_at: Instant::now(),
        });
        self.open.kick_flush();
        Ok(AppendTicket(answer))
    }

    /// The earliest offset in the log.
    pub fn earliest_offset(&self) -> u64 {
        self.open.segments.borrow().earliest_offset()
    }

    /// The offset the next record will get once visible: the end of what
    /// readers can see (the high watermark).
    pub fn latest_offset(&self) -> u64 {
        self.open.visible.get().next_offset
    }

    /// Bytes of all segments' data.
    pub fn size_bytes(&self) -> u64 {
        self.open.segments.borrow().size_bytes()
    }

    pub fn segment_count(&self) -> usize {
        self.open.segments.borrow().count()
    }

    /// What the log has counted about its work so far.
    pub fn stats(&self) -> LogStats {
        self.open.stats.borrow().clone()
    }

    /// Counts an error answer (a wire error code) about this partition.
    pub fn record_error(&self, code: crate::error::ErrorCode) {
        self.open.stats.borrow_mut().on_error(code);
    }

    /// Why the log is out of service, if it is.
    pub fn failure(&self) -> Option<StorageError> {
        self.open.lifecycle.borrow().failure().cloned()
    }

    fn check_range(&self, offset: u64) -> StorageResult<(u64, u64)> {
        let earliest = self.earliest_offset();
        let latest = self.latest_offset();
        if offset < earliest || offset > latest {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                earliest,
                latest,
            });
        }
        Ok((earliest, latest))
    }

    /// Whole visible batches from the one holding `offset`, up to
    /// `max_bytes` (the first batch always, however large).
    pub async fn read(&self, offset: u64, max_bytes: usize) -> StorageResult<ReadBatches> {
        if self.open.lifecycle.borrow().is_closed() {
            return Err(StorageError::Closed);
        }
        let (log_start_offset, high_watermark) = self.check_range(offset)?;
        let mut result = ReadBatches {
            batches: Vec::new(),
            high_watermark,
            log_start_offset,
        };
        if offset == high_watermark {
            return Ok(result);
        }
        let cached = self
            .open
            .cache
            .borrow_mut()
            .read(self.open.cache_key, offset, max_bytes);
        result.batches = match cached {
            Some(batches) => batches,
            None => self.read_from_disk(offset, max_bytes).await?,
        };
        self.open.stats.borrow_mut().on_read(result.total_bytes());
        Ok(result)
    }

    /// Where on disk the batch holding `offset` is.
    fn locate(&self, offset: u64) -> SegmentSlice<S::File> {
        let segments = self.open.segments.borrow();
        let located = segments.locate(offset, self.open.visible.get().active_bytes);
        SegmentSlice {
            file: located.segment.file.clone(),
            path: located.segment.path.clone(),
            position: located.segment.index.position_for(offset),
            end: located.end,
            sealed_next_offset: located.sealed_next_offset,
        }
    }

    async fn read_from_disk(&self, offset: u64, max_bytes: usize) -> StorageResult<Vec<Bytes>> {
        let SegmentSlice {
            file,
            path,
            position,
            end,
            sealed_next_offset,
        } = self.locate(offset);
        let chunk = max_bytes.clamp(PAGE_BYTES, self.open.limits.read_chunk_bytes);
        let mut cursor = SegmentCursor::new(&*file, position, end, chunk, BATCH_BYTES_MAX);
        let mut batches = Vec::new();
        let mut total = 0usize;
        loop {
            match cursor.next().await? {
                CursorItem::Batch { header, bytes, .. } => {
                    if header.next_offset() <= offset {
                        continue;
                    }
                    if !batches.is_empty() && total + bytes.len() > max_bytes {
                        break;
                    }
                    total += bytes.len();
                    batches.push(bytes);
                }
                CursorItem::End { position } => {
                    if batches.is_empty() && sealed_next_offset.is_some() {
                        return Err(StorageError::Corruption {
                            segment: path,
                            position,
                            reason: "segment ends before its last offset".into(),
                        });
                    }
                    break;
                }
                CursorItem::UnknownFormat { position, version } => {
                    return Err(StorageError::Corruption {
                        segment: path,
                        position,
                        reason: format!("unknown batch format version {version}"),
                    });
                }
                CursorItem::Invalid { position, reason } => {
                    if !batches.is_empty() {
                        // Serve what is valid; the next read reports the damage.
                        break;
                    }
                    return Err(StorageError::Corruption {
                        segment: path,
                        position,
                        reason,
                    });
                }
            }
        }
        Ok(batches)
    }

    /// The offset of the first record whose timestamp is at least
    /// `timestamp_ms`, or `None` if every visible record is older.
    pub async fn offset_for_timestamp(&self, timestamp_ms: i64) -> StorageResult<Option<u64>> {
        let start = {
            let segments = self.open.segments.borrow();
            let candidate = segments
                .all()
                .find(|seg| seg.index.max_timestamp_ms() >= timestamp_ms);
            match candidate {
                Some(seg) => seg.index.offset_for_timestamp(timestamp_ms),
                None => return Ok(None),
            }
        };
        let high_watermark = self.latest_offset();
        let mut offset = start.max(self.earliest_offset());
        while offset < high_watermark {
            let read = self.read(offset, self.open.limits.read_chunk_bytes).await?;
            let Some(last) = read.batches.last() else {
                break;
            };
            for bytes in &read.batches {
                let batch = Batch::decode(bytes.clone(), BATCH_BYTES_MAX)?;
                if batch.header.max_timestamp_ms < timestamp_ms {
                    continue;
                }
                let found = batch
                    .records()
                    .find(|r| r.offset >= offset && r.timestamp_ms >= timestamp_ms)
                    .map(|r| r.offset);
                if found.is_some() {
                    return Ok(found);
                }
            }
            offset = crate::batch::BatchHeader::parse(last, BATCH_BYTES_MAX)?.next_offset();
        }
        Ok(None)
    }

    /// Resolves once data at or past `offset` is visible, or the log is
    /// closed or failed. For long-poll fetches: woken by appends, not polled.
    pub fn wait_for_data(&self, offset: u64) -> DataArrival<S> {
        DataArrival {
            slot: self.open.data_waiters.slot(),
            open: self.open.clone(),
            offset,
        }
    }

    /// Deletes whole sealed segments past the retention limits.
    pub async fn apply_retention(&self, now_ms: i64) -> StorageResult<RetentionReport> {
        let (victims, mut report) = {
            let mut segments = self.open.segments.borrow_mut();
            let summaries: Vec<SegmentSummary> = segments
                .sealed()
                .map(|s| SegmentSummary {
                    base_offset: s.base_offset,
                    bytes: s.data_bytes,
                    max_timestamp_ms: s.index.max_timestamp_ms(),
                })
                .collect();
            let total = segments.size_bytes();
            let count = segments_to_delete(
                &summaries,
                total,
                now_ms,
                self.open.config.retention_ms,
                self.open.config.retention_bytes,
            );
            let mut report = RetentionReport::default();
            let bases: Vec<u64> = summaries[..count].iter().map(|s| s.base_offset).collect();
            let victims = segments.take_sealed(&bases);
            report.segments_deleted = victims.len();
            (victims, report)
        };
        report.bytes_deleted = self.remove_segments(victims).await?;
        let log_start_offset = self.earliest_offset();
        let expired = self
            .open
            .producers
            .borrow_mut()
            .expire(now_ms, log_start_offset);
        if expired > 0 {
            self.open.clean_files_current.set(false);
        }
        if report.segments_deleted > 0 {
            tracing::info!(dir = %self.open.dir.display(), ?report, "retention deleted segments");
        }
        Ok(report)
    }

    /// Deletes the sealed segments that hold only offsets below `offset`:
    /// for a log that has written everything it keeps again at or past
    /// `offset` (compaction of the committed-offsets log).
    pub async fn delete_segments_before(&self, offset: u64) -> StorageResult<RetentionReport> {
        let victims: Vec<Segment<S::File>> = {
            let mut segments = self.open.segments.borrow_mut();
            let bases: Vec<u64> = segments
                .sealed()
                .take_while(|s| s.next_offset <= offset)
                .map(|s| s.base_offset)
                .collect();
            segments.take_sealed(&bases)
        };
        let segments_deleted = victims.len();
        let bytes_deleted = self.remove_segments(victims).await?;
        Ok(RetentionReport {
            segments_deleted,
            bytes_deleted,
        })
    }

    /// Removes the files of segments already taken out of the state, then
    /// syncs the directory; returns their data bytes.
    async fn remove_segments(&self, victims: Vec<Segment<S::File>>) -> StorageResult<u64> {
        if victims.is_empty() {
            return Ok(0);
        }
        let mut bytes = 0;
        for segment in victims {
            bytes += segment.data_bytes;
            remove_segment_files(&self.open.storage, &self.open.dir, segment.base_offset).await?;
        }
        self.open.storage.sync_dir(&self.open.dir).await?;
        Ok(bytes)
    }

    /// Waits for queued appends, makes everything durable, writes the
    /// indexes and the clean-shutdown marker, and closes the files.
    pub async fn close(&self) -> StorageResult<()> {
        self.open.lifecycle.borrow_mut().close()?;
        let idle = self.open.writer.borrow_mut().when_idle();
        // Long-polls on this partition answer now rather than at their deadline.
        self.open.data_waiters.wake_all();
        if let Some(idle) = idle {
            idle.await;
        }
        self.open.preparation_idle().await;
        self.open
            .cache
            .borrow_mut()
            .remove_partition(self.open.cache_key);
        let failed = self.open.lifecycle.borrow().failure().cloned();
        // The files close when the last handle drops (glommio closes a
        // dropped file asynchronously); readers may still hold them.
        match failed {
            Some(err) => Err(err),
            None => self.write_clean_state().await,
        }
    }

    async fn write_clean_state(&self) -> StorageResult<()> {
        let open = &self.open;
        // Durable rounds are durable when written; only `written` ones
        // may wait for a sync.
        if !open.writer.borrow().is_synced() {
            let file = open.segments.borrow().active().file.clone();
            file.fdatasync()
                .await
                .map_err(|e| StorageError::Failed(Rc::new(e)))?;
        }
        open.make_visible();
        // The active segment's index files and the producer snapshot, when
        // they changed, written in place at once (each is checked by its
        // CRC when read, and the snapshot has two slots); then, once they
        // are durable, the marker that vouches for them.
        // A small active segment is scanned at open instead (with the
        // producers' batches replayed from the last snapshot, which covers
        // at least its start): nothing to write for it.
        let scanned_at_open =
            open.space.borrow().allocated_bytes() <= ACTIVE_SCAN_AT_OPEN_BYTES_MAX;
        if !open.clean_files_current.get() && !scanned_at_open {
            let [offsets, times] = index_files(open.segments.borrow().active());
            let ((index, time_index), snapshot) = futures_lite::future::zip(
                futures_lite::future::zip(
                    open.storage.write_file_in_place(&offsets.0, offsets.1),
                    open.storage.write_file_in_place(&times.0, times.1),
                ),
                open.write_producer_snapshot(),
            )
            .await;
            index?;
            time_index?;
            snapshot?;
        }
        // The marker needs no sync of its own: lost in a crash, it only
        // makes the next open a scanning one. (After closing every
        // partition of a core, the broker fsyncs the directory closed
        // last, which commits the journal and every marker before it.)
        // Only its name matters: no contents.
        let marker = open.dir.join(CLEAN_SHUTDOWN_MARKER);
        let consumed = open.dir.join(CLEAN_SHUTDOWN_MARKER_CONSUMED);
        if consumed.exists() {
            open.storage.rename(&consumed, &marker).await?;
        } else {
            open.storage.touch(&marker).await?;
        }
        Ok(())
    }
}

/// The newest whole producer snapshot in `dir`'s two slots, the offset it
/// covers up to, the slot the next one goes to, and whether a slot was
/// torn (then the newest state may be older than the log's end, and the
/// active segment must be replayed from its start); empty state covering
/// nothing when there is none or both are damaged.
async fn load_producer_snapshot<S: Storage>(
    storage: &S,
    dir: &Path,
) -> StorageResult<(ProducerStates, u64, usize, bool)> {
    let limits = ProducerLimits::default();
    let mut torn = false;
    let mut newest: Option<(ProducerStates, u64, usize)> = None;
    for (slot, name) in PRODUCER_SNAPSHOT_SLOTS.iter().enumerate() {
        let Some(bytes) = storage.read_file(&dir.join(name)).await? else {
            continue;
        };
        match ProducerStates::decode_snapshot(&bytes, limits) {
            Some((state, covered)) => {
                if newest.as_ref().is_none_or(|(_, c, _)| covered > *c) {
                    newest = Some((state, covered, slot));
                }
            }
            None => {
                torn = true;
                tracing::warn!(dir = %dir.display(), file = name, "producer snapshot damaged; using the other slot and replaying the active segment");
            }
        }
    }
    Ok(match newest {
        Some((state, covered, slot)) => (state, covered, 1 - slot, torn),
        None => (ProducerStates::new(limits), 0, 0, torn),
    })
}

impl<S: Storage> OpenLog<S> {
    /// Writes the producer snapshot covering everything committed so far
    /// into the slot not holding the newest one.
    pub async fn write_producer_snapshot(&self) -> std::io::Result<()> {
        let covered = self.segments.borrow().active().next_offset;
        let bytes = self.producers.borrow().encode_snapshot(covered);
        let slot = self.snapshot_slot.get();
        let path = self.dir.join(PRODUCER_SNAPSHOT_SLOTS[slot]);
        self.storage.write_file_in_place(&path, bytes).await?;
        self.snapshot_slot.set(1 - slot);
        Ok(())
    }
}

/// Base offsets of the segment files in `dir`, ascending. Leftover temp
/// files of an interrupted index write are removed.
fn list_segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(base) = parse_segment_name(&name) {
            bases.push(base);
        } else if name.ends_with(".tmp") {
            std::fs::remove_file(entry.path())?;
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// A crash right after a roll leaves an empty newest segment; the tail to
/// recover is in the one before it. Empty trailing segments are removed.
async fn drop_empty_trailing_segments<S: Storage>(
    storage: &S,
    dir: &Path,
    bases: &mut Vec<u64>,
) -> StorageResult<()> {
    while bases.len() >= 2 {
        let last = *bases.last().expect("len >= 2");
        let path = super::segment::segment_path(dir, last, super::segment::LOG_SUFFIX);
        let file = storage.open_segment(&path, false).await?;
        let head = file.read_at(0, crate::batch::HEADER_LEN).await?;
        file.close().await?;
        if !crate::batch::header::is_zero_header(&head) {
            break;
        }
        tracing::warn!(segment = %path.display(), "removing an empty trailing segment left by a roll");
        remove_segment_files(storage, dir, last).await?;
        bases.pop();
    }
    Ok(())
}

/// Future of [`PartitionLog::wait_for_data`].
pub struct DataArrival<S: Storage> {
    open: Rc<OpenLog<S>>,
    offset: u64,
    /// This future's one registration, withdrawn when it is dropped.
    slot: WaiterSlot,
}

impl<S: Storage> Future for DataArrival<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let arrived = self.open.visible.get().next_offset > self.offset || {
            let lifecycle = self.open.lifecycle.borrow();
            lifecycle.is_closed() || lifecycle.failure().is_some()
        };
        if arrived {
            return Poll::Ready(());
        }
        self.get_mut().slot.register(cx.waker());
        Poll::Pending
    }
}
