//! Space ahead of a partition's appends (docs/STORAGE.md, "Preallocation"):
//! how much of the active segment's file rounds may write into, the steps
//! it grows by, and the background task that prepares the next step while
//! rounds commit into the current one.
//!
//! Steps grow with the segment: the first is `PREALLOCATE_FIRST_BYTES`, each
//! next one as large as what the file already has, up to `preallocate_bytes`.
//! A lightly used partition therefore costs kilobytes of disk, and a busy
//! one reaches full steps after a few.
//!
//! A step is prepared off the commit path when the room left drops below
//! half a step: `fallocate`, and, when rounds are small, zeros written
//! durably over the step, so that later durable writes are plain
//! overwrites of written space (no journal commit). Large rounds skip the
//! zeros: they would write every byte twice to save a journal commit that
//! is small beside a large write. Rounds never write into a step being
//! prepared: the flush task waits for it only when it has caught up with
//! the preparation, and allocates inline (fallocate only) when nothing was
//! prepared in time.

use std::rc::Rc;

use super::completion::{completion, Completer};
use super::error::{StorageError, StorageResult};
use super::io::{SegmentFile, Storage};
use super::log::OpenLog;
use crate::config::{
    Preallocation, PAGE_BYTES, PREALLOCATE_FIRST_BYTES, ZERO_FILL_ROUND_BYTES_MAX,
    ZERO_FILL_WRITE_BYTES,
};

const PAGE: u64 = PAGE_BYTES as u64;

fn align_up(v: u64) -> u64 {
    v.div_ceil(PAGE) * PAGE
}

/// Weight of the newest round in the mean round size: 1/8.
const ROUND_MEAN_SHIFT: u32 = 3;

/// The next step is prepared once the room left is below 1/this of it.
const PREPARE_WHEN_ROOM_BELOW_STEP_DIVISOR: u64 = 2;

/// The active segment's space, as the appender and the preparation task
/// share it.
#[derive(Default)]
pub struct Space {
    /// Bytes of the active segment's file that rounds may write below.
    allocated_bytes: u64,
    /// The end of the step being prepared past `allocated_bytes`, while a
    /// preparation task runs.
    preparing_to: Option<u64>,
    /// Told when the running preparation ends: the flush task waiting for
    /// its space, a roll or a close waiting for it to finish.
    waiters: Vec<Completer<()>>,
    /// Mean bytes per round (exponentially weighted), deciding whether
    /// zeros are worth writing ahead.
    round_bytes_mean: u64,
}

impl Space {
    /// The space of a log just opened: `allocated_bytes` of its active
    /// segment's file are allocated.
    pub fn new(allocated_bytes: u64) -> Space {
        Space {
            allocated_bytes,
            ..Space::default()
        }
    }

    pub fn allocated_bytes(&self) -> u64 {
        self.allocated_bytes
    }

    /// Counts a round of `bytes` in the mean round size.
    pub fn on_round(&mut self, bytes: u64) {
        let mean = self.round_bytes_mean;
        self.round_bytes_mean = mean - (mean >> ROUND_MEAN_SHIFT) + (bytes >> ROUND_MEAN_SHIFT);
    }

    /// A new, empty active segment (after a roll); no preparation runs.
    fn reset(&mut self) {
        debug_assert!(
            self.preparing_to.is_none(),
            "a roll waits for the preparation"
        );
        self.allocated_bytes = 0;
    }

    /// Bytes the next step of a file with `allocated` bytes takes it to:
    /// as large as the file (at least `PREALLOCATE_FIRST_BYTES`, at most
    /// `step_max`), never past `cap`.
    fn next_step_end(allocated: u64, step_max: u64, cap: u64) -> u64 {
        let step = allocated.clamp(PREALLOCATE_FIRST_BYTES.min(step_max), step_max);
        align_up(allocated + step).min(cap).max(allocated)
    }
}

/// How one step is prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    /// fallocate only: instant, the blocks stay unwritten.
    Allocate,
    /// fallocate, zeros over the step, one fdatasync.
    ZeroFill,
}

impl<S: Storage> OpenLog<S> {
    fn segment_cap(&self) -> u64 {
        align_up(self.config.segment_bytes_max)
    }

    fn step_kind(&self) -> StepKind {
        match self.config.preallocation {
            Preallocation::Fallocate => StepKind::Allocate,
            Preallocation::ZeroFill => StepKind::ZeroFill,
            Preallocation::Auto => {
                if self.space.borrow().round_bytes_mean < ZERO_FILL_ROUND_BYTES_MAX {
                    StepKind::ZeroFill
                } else {
                    StepKind::Allocate
                }
            }
        }
    }

    /// Makes sure rounds may write the active segment up to `end`: waits
    /// for a preparation that covers it, or allocates inline when none
    /// does; then starts preparing the next step if the room is low.
    pub(super) async fn ensure_allocated(self: &Rc<Self>, end: u64) -> StorageResult<()> {
        let needed = align_up(end);
        loop {
            let wait = {
                let mut space = self.space.borrow_mut();
                if needed <= space.allocated_bytes {
                    break;
                }
                space.preparing_to.map(|_| {
                    let (done, wait) = completion();
                    space.waiters.push(done);
                    wait
                })
            };
            match wait {
                Some(wait) => {
                    wait.await;
                }
                None => self.allocate_inline(needed).await?,
            }
        }
        self.prepare_ahead(end);
        Ok(())
    }

    /// Nothing prepared in time: allocate up to `needed` (and the rest of
    /// its step) right away, without zeros, which would hold up the round.
    async fn allocate_inline(&self, needed: u64) -> StorageResult<()> {
        let allocated = self.space.borrow().allocated_bytes;
        let step_end =
            Space::next_step_end(allocated, self.config.preallocate_bytes, self.segment_cap());
        let target = needed.max(step_end);
        self.check_free_space(target - allocated).await?;
        let file = self.segments.borrow().active().file.clone();
        file.pre_allocate(target)
            .await
            .map_err(StorageError::from_write)?;
        self.space.borrow_mut().allocated_bytes = target;
        Ok(())
    }

    /// Starts preparing the next step when a round ending at `end` left
    /// less than half a step of room, unless one is being prepared.
    pub(super) fn prepare_ahead(self: &Rc<Self>, end: u64) {
        let (from, to) = {
            let space = self.space.borrow();
            let from = space.allocated_bytes;
            if space.preparing_to.is_some() || from >= self.segment_cap() {
                return;
            }
            let to = Space::next_step_end(from, self.config.preallocate_bytes, self.segment_cap());
            let room = from.saturating_sub(align_up(end));
            if room >= (to - from) / PREPARE_WHEN_ROOM_BELOW_STEP_DIVISOR {
                return;
            }
            (from, to)
        };
        if self.lifecycle.borrow().failure().is_some() {
            return;
        }
        self.space.borrow_mut().preparing_to = Some(to);
        let kind = self.step_kind();
        let open = self.clone();
        glommio::spawn_local(async move { open.prepare_step(from, to, kind).await }).detach();
    }

    /// The preparation task: one step of the active segment, `from..to`.
    async fn prepare_step(self: Rc<Self>, from: u64, to: u64, kind: StepKind) {
        let file = self.segments.borrow().active().file.clone();
        let result = async {
            self.check_free_space(to - from).await?;
            file.pre_allocate(to)
                .await
                .map_err(StorageError::from_write)?;
            if kind == StepKind::ZeroFill {
                write_zeros(&*file, from, to)
                    .await
                    .map_err(StorageError::from_write)?;
            }
            Ok::<(), StorageError>(())
        }
        .await;
        let waiters = {
            let mut space = self.space.borrow_mut();
            space.preparing_to = None;
            if result.is_ok() {
                space.allocated_bytes = space.allocated_bytes.max(to);
            }
            std::mem::take(&mut space.waiters)
        };
        match result {
            Ok(()) => {}
            // Not this task's to report: the round that needs the space
            // allocates inline and fails with the same error if it stays.
            Err(StorageError::StorageFull(e)) => {
                tracing::debug!(dir = %self.dir.display(), error = %e, "could not prepare the next step");
            }
            // A failed write or fsync of the file takes the log out of
            // service, as one of a round does: an fsync error may have
            // consumed what a later one would have reported.
            Err(err) => self.enter_failed(err),
        }
        for waiter in waiters {
            waiter.complete(());
        }
    }

    /// Waits until no preparation runs (a roll before it seals the file, a
    /// close before it closes it).
    pub(super) async fn preparation_idle(&self) {
        let wait = {
            let mut space = self.space.borrow_mut();
            space.preparing_to.map(|_| {
                let (done, wait) = completion();
                space.waiters.push(done);
                wait
            })
        };
        if let Some(wait) = wait {
            wait.await;
        }
    }

    /// The active segment rolled: its successor starts empty, and its first
    /// step is prepared right away so that its first round finds written
    /// space.
    pub(super) fn space_rolled(self: &Rc<Self>) {
        self.space.borrow_mut().reset();
        self.prepare_ahead(0);
    }
}

/// Writes zeros over `from..to` of `file` (page-aligned `to`), in
/// `ZERO_FILL_WRITE_BYTES` durable writes: when it returns, the zeros and
/// the extents they turned from unwritten to written are committed, so a
/// later durable write there is a plain overwrite. (Durable writes rather
/// than plain ones and an fdatasync: a plain write would need the segment's
/// second descriptor.)
async fn write_zeros<F: SegmentFile>(file: &F, from: u64, to: u64) -> std::io::Result<()> {
    let mut position = align_up(from);
    while position < to {
        let len = ((to - position) as usize).min(ZERO_FILL_WRITE_BYTES);
        let mut zeros = file.alloc_buffer(len);
        zeros.as_bytes_mut().fill(0);
        let written = file.write_durable_at(zeros, position).await?;
        if written != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("short zero-fill write: {written} of {len} bytes at {position}"),
            ));
        }
        position += len as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_start_small_and_double_up_to_the_step_limit() {
        let max = 8 << 20;
        let cap = 1 << 30;
        let mut allocated = 0;
        let mut steps = Vec::new();
        while allocated < 32 << 20 {
            let end = Space::next_step_end(allocated, max, cap);
            steps.push(end - allocated);
            allocated = end;
        }
        assert_eq!(steps[0], PREALLOCATE_FIRST_BYTES);
        assert_eq!(steps[1], PREALLOCATE_FIRST_BYTES);
        assert_eq!(steps[2], 2 * PREALLOCATE_FIRST_BYTES);
        assert!(steps.iter().all(|&s| s <= max));
        assert_eq!(*steps.last().unwrap(), max);
    }

    #[test]
    fn a_step_never_passes_the_segment() {
        let cap = 40 << 10;
        assert_eq!(Space::next_step_end(32 << 10, 8 << 20, cap), cap);
        assert_eq!(Space::next_step_end(cap, 8 << 20, cap), cap);
    }

    #[test]
    fn the_mean_round_follows_the_rounds() {
        let mut space = Space::new(0);
        for _ in 0..64 {
            space.on_round(1 << 20);
        }
        assert!(space.round_bytes_mean > ZERO_FILL_ROUND_BYTES_MAX);
        for _ in 0..64 {
            space.on_round(4096);
        }
        assert!(space.round_bytes_mean < ZERO_FILL_ROUND_BYTES_MAX);
    }
}
