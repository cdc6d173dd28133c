//! Group commit: the one task per partition that turns queued appends into
//! aligned DMA writes and `fdatasync`s (docs/STORAGE.md, "Group commit").
//!
//! Appends queue in [`WriteState`], which only this module changes. While no flush task runs, the first
//! append spawns one; it drains the queue in rounds. A round takes every
//! queued batch up to `write_bytes_max` that fits the active segment,
//! stamps offsets, copies them behind the partial tail page into one
//! page-aligned buffer and writes it with one DMA write. If any append of
//! the round asked for durability, that write is an O_DSYNC one (durable
//! when it completes), or, when earlier `written` rounds are still unsynced,
//! a plain write and one `fdatasync`. Only then are the round's appenders
//! answered. One task means one write in flight per partition, so
//! two writes never race for the tail page.
//!
//! A failed write or fsync fails the round and everything queued, and puts
//! the log in the failed state: an fsync is never retried and then
//! acknowledged. A full disk while allocating fails the round and what is
//! queued behind it (so no producer's sequence gets a hole), and so does
//! free space below `min_free_bytes`, checked before each preallocation
//! step and segment roll (where space is committed), never per append.
//! Space ahead of the rounds is the preallocator's (`preallocator.rs`).

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::completion::{completion, Completer, Completion};
use super::error::{StorageError, StorageResult};
use super::index::SegmentIndex;
use super::io::{SegmentFile, Storage};
use super::log::{now_ms, OpenLog};
use super::log_state::Visible;
use super::recovery::{index_files, write_index};
use super::segment::{segment_path, Segment, LOG_SUFFIX};
use crate::batch::ValidBatch;
use crate::config::{Durability, PAGE_BYTES, PREALLOCATE_FIRST_BYTES};

/// An append waiting for its round.
pub struct PendingAppend {
    pub batch: BytesMut,
    pub valid: ValidBatch,
    pub durability: Durability,
    pub done: Completer<StorageResult<u64>>,
    /// An idempotent producer's batch: its id and its ticket in the
    /// producer state, told the offset when the batch commits.
    pub producer: Option<(i64, u64)>,
    /// When it was queued: its append latency runs from here.
    pub queued_at: Instant,
}

/// The appender's own part of a log's state: the queue, what is written
/// but not yet durable, the tail page, and the flush task's flags.
pub struct WriteState {
    /// The bytes of the active segment's last partial page: always
    /// `data_bytes % PAGE_BYTES` of them.
    tail_page: Vec<u8>,
    pending: VecDeque<PendingAppend>,
    /// Written, not yet durable: `(base offset, next offset, batch)`.
    unsynced: Vec<(u64, u64, Bytes)>,
    /// The flush task runs.
    flushing: bool,
    sync_timer_armed: bool,
    sync_requested: bool,
    /// The last free-space check refused: appends get StorageFull.
    below_reserve: bool,
    /// Told when the flush task ends (a close waits for it).
    idle_waiters: Vec<Completer<()>>,
}

impl WriteState {
    /// The state of a log just opened, whose active segment ends in
    /// `tail_page`.
    pub fn new(tail_page: Vec<u8>) -> WriteState {
        assert!(tail_page.len() < PAGE_BYTES, "a partial page");
        WriteState {
            tail_page,
            pending: VecDeque::new(),
            unsynced: Vec::new(),
            flushing: false,
            sync_timer_armed: false,
            sync_requested: false,
            below_reserve: false,
            idle_waiters: Vec::new(),
        }
    }

    /// Queues an append for the next round.
    pub fn queue(&mut self, append: PendingAppend) {
        self.pending.push_back(append);
    }

    /// Nothing written waits for a sync.
    pub fn is_synced(&self) -> bool {
        self.unsynced.is_empty()
    }

    /// While the flush task runs, a completion for when it ends.
    pub fn when_idle(&mut self) -> Option<Completion<()>> {
        self.flushing.then(|| {
            let (done, wait) = completion();
            self.idle_waiters.push(done);
            wait
        })
    }
}

/// A batch written in a round, waiting to be answered and made visible.
struct Written {
    base_offset: u64,
    next_offset: u64,
    bytes: Bytes,
    durability: Durability,
    done: Completer<StorageResult<u64>>,
    producer: Option<(i64, u64)>,
    queued_at: Instant,
    records: u32,
}

const PAGE: u64 = PAGE_BYTES as u64;

fn align_down(v: u64) -> u64 {
    v - v % PAGE
}

fn align_up(v: u64) -> u64 {
    v.div_ceil(PAGE) * PAGE
}

/// The flush task: runs rounds until the queue is empty.
pub async fn flush_task<S: Storage>(open: Rc<OpenLog<S>>) {
    loop {
        if open.lifecycle.borrow().failure().is_some() {
            open.fail_pending_after_failure();
            break;
        }
        let has_pending = !open.writer.borrow().pending.is_empty();
        if has_pending {
            open.run_round().await;
            continue;
        }
        let sync_requested = std::mem::take(&mut open.writer.borrow_mut().sync_requested);
        if sync_requested {
            open.sync_written().await;
            continue;
        }
        break;
    }
    let idle_waiters = {
        let mut writer = open.writer.borrow_mut();
        writer.flushing = false;
        std::mem::take(&mut writer.idle_waiters)
    };
    for waiter in idle_waiters {
        waiter.complete(());
    }
}

impl<S: Storage> OpenLog<S> {
    /// Starts the flush task unless one runs.
    pub fn kick_flush(self: &Rc<Self>) {
        let start = !std::mem::replace(&mut self.writer.borrow_mut().flushing, true);
        if start {
            // Not under the borrow: glommio may poll the new task right away.
            glommio::spawn_local(flush_task(self.clone())).detach();
        }
    }

    async fn run_round(self: &Rc<Self>) {
        // From here on the files written at the last clean close are stale.
        self.clean_files_current.set(false);
        if let Err(err) = self.roll_if_full().await {
            self.fail_queue(err);
            return;
        }
        let round = self.take_round();
        let total: u64 = round.iter().map(|p| p.batch.len() as u64).sum();
        self.space.borrow_mut().on_round(total);
        let end = self.segments.borrow().active().data_bytes + total;
        if let Err(err) = self.ensure_allocated(end).await {
            for pending in round {
                self.answer(pending.done, pending.producer, Err(err.clone()));
            }
            // What was queued behind the round fails too: appending it
            // would leave a hole in a producer's sequence.
            self.fail_queue(err.clone());
            if matches!(err, StorageError::Failed(_)) {
                self.enter_failed(err);
            }
            return;
        }
        let (file, start, buf, written) = self.stamp_and_copy(round, total);
        let durable = written.iter().any(|w| w.durability == Durability::Durable);
        // A durable round whose write is the only thing not yet on stable
        // storage makes itself durable (O_DSYNC): one I/O, no fsync. With
        // `written` batches before it still unsynced it writes and then
        // fsyncs, since a durable write alone may leave those in the
        // disk's cache (a FUA write flushes nothing else).
        let durable_write = durable && self.writer.borrow().unsynced.is_empty();
        let len = buf.len();
        let started = Instant::now();
        let result = if durable_write {
            file.write_durable_at(buf, start).await
        } else {
            file.write_at(buf, start).await
        };
        let result = match result {
            Ok(n) if n == len => Ok(()),
            Ok(n) => Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("short write: {n} of {len} bytes at {start}"),
            )),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.fail_round(written, StorageError::Failed(Rc::new(e)));
            return;
        }
        if durable_write {
            self.stats.borrow_mut().on_fsync(started.elapsed());
        } else if durable {
            if let Err(e) = self.timed_fdatasync(&file).await {
                self.fail_round(written, StorageError::Failed(Rc::new(e)));
                return;
            }
        }
        let mut finished = Vec::with_capacity(written.len());
        {
            let mut writer = self.writer.borrow_mut();
            let mut stats = self.stats.borrow_mut();
            stats.on_commit(written.len(), total);
            let now = Instant::now();
            for w in written {
                let waited = now.saturating_duration_since(w.queued_at);
                stats.on_append(w.records, w.bytes.len(), waited);
                finished.push((w.done, w.producer, w.base_offset));
                writer
                    .unsynced
                    .push((w.base_offset, w.next_offset, w.bytes));
            }
        }
        if durable {
            self.make_visible();
        } else {
            self.arm_sync_timer();
        }
        for (done, producer, base_offset) in finished {
            self.answer(done, producer, Ok(base_offset));
        }
    }

    /// Answers an append, and the retries of it that came while it was
    /// queued; an idempotent producer's batch records its offset. A failed
    /// one takes every queued producer batch with it (they all fail at
    /// once), so the producers continue from what committed.
    fn answer(
        &self,
        done: Completer<StorageResult<u64>>,
        producer: Option<(i64, u64)>,
        result: StorageResult<u64>,
    ) {
        if let Some((producer_id, ticket)) = producer {
            match &result {
                Ok(base_offset) => {
                    self.producers
                        .borrow_mut()
                        .committed(producer_id, ticket, *base_offset)
                }
                Err(_) => self.producers.borrow_mut().abandon_in_flight(),
            }
            let retries = self.duplicate_waiters.borrow_mut().remove(&ticket);
            for retry in retries.into_iter().flatten() {
                retry.complete(result.clone());
            }
        }
        done.complete(result);
    }

    /// Takes the next round from the queue: at least one batch, then more
    /// while they fit `write_bytes_max` and the active segment.
    fn take_round(&self) -> Vec<PendingAppend> {
        let active_bytes = self.segments.borrow().active().data_bytes;
        let segment_room = self.config.segment_bytes_max.saturating_sub(active_bytes);
        let mut writer = self.writer.borrow_mut();
        let mut round = Vec::new();
        let mut total = 0u64;
        while let Some(next) = writer.pending.front() {
            let len = next.batch.len() as u64;
            let fits = total + len <= (self.config.write_bytes_max as u64).min(segment_room);
            if !round.is_empty() && !fits {
                break;
            }
            total += len;
            round.push(writer.pending.pop_front().expect("front exists"));
        }
        round
    }

    /// Refuses with `StorageFull` when committing `bytes` more would leave
    /// the file system with less than `min_free_bytes` free. Nothing has
    /// been written then, and the log stays in service: the next round
    /// checks again, so appends succeed once space is freed.
    pub(super) async fn check_free_space(&self, bytes: u64) -> StorageResult<()> {
        let reserve = self.config.min_free_bytes;
        if reserve == 0 {
            return Ok(());
        }
        let free = self
            .storage
            .free_bytes(&self.dir)
            .await
            .map_err(StorageError::from)?;
        let was_below = self.writer.borrow().below_reserve;
        if free >= reserve.saturating_add(bytes) {
            if was_below {
                self.writer.borrow_mut().below_reserve = false;
                tracing::info!(dir = %self.dir.display(), free, "free space is above the reserve again: appends resume");
            }
            return Ok(());
        }
        let message = format!(
            "{free} bytes free on the file system of {}: committing {bytes} more \
             would go below the reserve min_free_bytes = {reserve}",
            self.dir.display()
        );
        // Once per episode, not once per refused round: producers retry.
        if was_below {
            tracing::debug!("{message}");
        } else {
            self.writer.borrow_mut().below_reserve = true;
            tracing::warn!("{message}; appends get StorageFull until space is freed");
        }
        Err(StorageError::StorageFull(Rc::new(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            message,
        ))))
    }

    /// Stamps offsets and append time, updates the index, and copies the
    /// tail page and the batches into one aligned buffer.
    fn stamp_and_copy(
        &self,
        round: Vec<PendingAppend>,
        total: u64,
    ) -> (Rc<S::File>, u64, glommio::io::DmaBuffer, Vec<Written>) {
        let mut segments = self.segments.borrow_mut();
        let active = segments.active_mut();
        let mut writer = self.writer.borrow_mut();
        let data_start = active.data_bytes;
        let start = align_down(data_start);
        let end = data_start + total;
        assert!(
            align_up(end) <= self.space.borrow().allocated_bytes(),
            "the round fits the allocated file"
        );
        let file = active.file.clone();
        let mut buf = file.alloc_buffer((align_up(end) - start) as usize);
        let bytes = buf.as_bytes_mut();
        let tail_len = (data_start - start) as usize;
        assert_eq!(
            writer.tail_page.len(),
            tail_len,
            "the tail page is the partial page"
        );
        bytes[..tail_len].copy_from_slice(&writer.tail_page);
        let append_time_ms = now_ms();
        let mut position = data_start;
        let mut written = Vec::with_capacity(round.len());
        for mut pending in round {
            let base_offset = active.next_offset;
            pending
                .valid
                .stamp(&mut pending.batch, base_offset, append_time_ms);
            let at = (position - start) as usize;
            bytes[at..at + pending.batch.len()].copy_from_slice(&pending.batch);
            active.index.on_batch(
                &pending.valid.header,
                position,
                self.config.index_interval_bytes,
            );
            position += pending.batch.len() as u64;
            let next_offset = pending.valid.header.next_offset();
            active.next_offset = next_offset;
            written.push(Written {
                base_offset,
                next_offset,
                bytes: pending.batch.freeze(),
                durability: pending.durability,
                done: pending.done,
                producer: pending.producer,
                queued_at: pending.queued_at,
                records: pending.valid.header.record_count,
            });
        }
        // The padding past the data goes to disk: zero it, never stale heap.
        bytes[(end - start) as usize..].fill(0);
        active.data_bytes = end;
        let new_tail_start = (align_down(end) - start) as usize;
        writer.tail_page.clear();
        writer
            .tail_page
            .extend_from_slice(&bytes[new_tail_start..(end - start) as usize]);
        (file, start, buf, written)
    }

    /// Rolls to a new segment when the next queued batch would take the
    /// active one past `segment_bytes_max`. The new file is created first, so
    /// a full disk changes nothing; then the old one is truncated to its
    /// data, synced, and its index written.
    async fn roll_if_full(self: &Rc<Self>) -> StorageResult<()> {
        let next_len = self
            .writer
            .borrow()
            .pending
            .front()
            .map_or(0, |p| p.batch.len() as u64);
        let (needs_roll, next_offset) = {
            let segments = self.segments.borrow();
            let data = segments.active().data_bytes;
            (
                data > 0 && data + next_len > self.config.segment_bytes_max,
                segments.active().next_offset,
            )
        };
        if !needs_roll {
            return Ok(());
        }
        // The new segment's first preallocation step: refused here, before
        // any file is created, when it would break the reserve.
        let first_step = PREALLOCATE_FIRST_BYTES
            .min(self.config.preallocate_bytes)
            .min(align_up(self.config.segment_bytes_max));
        self.check_free_space(first_step).await?;
        let path = segment_path(&self.dir, next_offset, LOG_SUFFIX);
        let new_file = self
            .storage
            .open_segment(&path, true)
            .await
            .map_err(StorageError::from_write)?;
        self.storage
            .sync_dir(&self.dir)
            .await
            .map_err(StorageError::from_write)?;
        let (old_file, data_bytes) = {
            let segments = self.segments.borrow();
            (segments.active().file.clone(), segments.active().data_bytes)
        };
        // A step still being prepared would grow the file again after the
        // truncation below.
        self.preparation_idle().await;
        let sealed = async {
            old_file.truncate(data_bytes).await?;
            old_file.fdatasync().await
        };
        if let Err(e) = sealed.await {
            let err = StorageError::Failed(Rc::new(e));
            self.enter_failed(err.clone());
            return Err(err);
        }
        // Everything written to the old segment is durable now.
        self.make_visible();
        let (old_path, old_index) = {
            let fresh = Segment {
                base_offset: next_offset,
                file: Rc::new(new_file),
                path,
                data_bytes: 0,
                next_offset,
                index: SegmentIndex::new(next_offset),
            };
            let mut writer = self.writer.borrow_mut();
            writer.tail_page.clear();
            // Sealed in the same step as the switch: a reader must never see
            // the old segment in neither place (its offsets would read as
            // out of range while the index is written).
            let mut segments = self.segments.borrow_mut();
            let old = segments.roll(fresh);
            let written = (old.path.clone(), index_files(old));
            self.visible.set(Visible::all_of(segments.active()));
            written
        };
        self.space_rolled();
        if let Err(e) = write_index(&self.storage, old_index).await {
            // The index is rebuilt from the log at the next open.
            tracing::warn!(segment = %old_path.display(), error = %e, "could not write the sealed segment's index");
        }
        // Recovery replays the producers' batches from here on, so it never
        // scans more than the active segment.
        if let Err(e) = self.write_producer_snapshot().await {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the producer snapshot");
        }
        Ok(())
    }

    /// Makes written-but-unsynced batches durable (the `written` mode timer).
    async fn sync_written(&self) {
        if self.writer.borrow().unsynced.is_empty() {
            return;
        }
        let file = self.segments.borrow().active().file.clone();
        match self.timed_fdatasync(&file).await {
            Ok(()) => self.make_visible(),
            Err(e) => self.enter_failed(StorageError::Failed(Rc::new(e))),
        }
    }

    /// An `fdatasync` of a commit, its latency counted.
    async fn timed_fdatasync(&self, file: &S::File) -> std::io::Result<()> {
        let started = Instant::now();
        let result = file.fdatasync().await;
        self.stats.borrow_mut().on_fsync(started.elapsed());
        result
    }

    fn arm_sync_timer(self: &Rc<Self>) {
        let mut writer = self.writer.borrow_mut();
        if writer.sync_timer_armed {
            return;
        }
        writer.sync_timer_armed = true;
        let weak = Rc::downgrade(self);
        let interval = Duration::from_millis(self.config.flush_interval_ms);
        glommio::spawn_local(async move {
            glommio::timer::sleep(interval).await;
            if let Some(open) = weak.upgrade() {
                {
                    let mut writer = open.writer.borrow_mut();
                    writer.sync_timer_armed = false;
                    writer.sync_requested = true;
                }
                open.kick_flush();
            }
        })
        .detach();
    }

    /// Everything written so far is durable: publish it to readers.
    pub fn make_visible(&self) {
        let unsynced = {
            let visible = Visible::all_of(self.segments.borrow().active());
            let previous = self.visible.replace(visible);
            assert!(
                previous.next_offset <= visible.next_offset,
                "visibility only moves forward"
            );
            std::mem::take(&mut self.writer.borrow_mut().unsynced)
        };
        let mut cache = self.cache.borrow_mut();
        for (base_offset, next_offset, bytes) in unsynced {
            cache.insert(self.cache_key, base_offset, next_offset, bytes);
        }
        drop(cache);
        self.data_waiters.wake_all();
    }

    fn fail_round(&self, written: Vec<Written>, err: StorageError) {
        for w in written {
            self.answer(w.done, w.producer, Err(err.clone()));
        }
        self.enter_failed(err);
    }

    /// Fails every queued append with `err`; a non-fatal error leaves the
    /// log in service.
    fn fail_queue(&self, err: StorageError) {
        let queued = std::mem::take(&mut self.writer.borrow_mut().pending);
        for pending in queued {
            self.answer(pending.done, pending.producer, Err(err.clone()));
        }
    }

    /// Takes the log out of service: appends are refused from now on.
    pub fn enter_failed(&self, err: StorageError) {
        tracing::error!(dir = %self.dir.display(), error = %err, "partition log failed; refusing appends");
        self.lifecycle.borrow_mut().fail(err);
        self.data_waiters.wake_all();
    }

    fn fail_pending_after_failure(&self) {
        let err = self.lifecycle.borrow().failure().cloned().expect("failed");
        self.fail_queue(err);
    }
}
