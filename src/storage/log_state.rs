//! A partition log's state, split by owner so that each part keeps its own
//! invariants (the appender's write state is in [`super::appender`]):
//!
//! - [`Segments`]: the sealed segments and the active one. The appender
//!   grows the active segment and rolls it; retention takes sealed ones;
//!   readers locate batches in them.
//! - [`Visible`]: what readers may see, behind the appender's writes: only
//!   durable data (or written data, in the `written` mode, once synced).
//! - [`Lifecycle`]: in service, failed (appends refused for good), closed.
//!
//! None of them is borrowed across an `.await`.

use std::collections::BTreeMap;

use super::error::StorageError;
use super::segment::Segment;

/// The sealed segments, by base offset, and the active one after them.
pub struct Segments<F> {
    sealed: BTreeMap<u64, Segment<F>>,
    active: Segment<F>,
}

/// Where the batch holding an offset is, in one segment.
pub struct Located<'a, F> {
    pub segment: &'a Segment<F>,
    /// The end of the bytes a reader may read.
    pub end: u64,
    /// For a sealed segment, the offset its data must reach.
    pub sealed_next_offset: Option<u64>,
}

impl<F> Segments<F> {
    pub fn new(sealed: BTreeMap<u64, Segment<F>>, active: Segment<F>) -> Self {
        let segments = Segments { sealed, active };
        segments.assert_contiguous();
        segments
    }

    /// Each segment starts where the one before it ends.
    fn assert_contiguous(&self) {
        let mut next = None;
        for segment in self.sealed.values().chain(std::iter::once(&self.active)) {
            if let Some(next) = next {
                assert_eq!(segment.base_offset, next, "segments are contiguous");
            }
            next = Some(segment.next_offset);
        }
    }

    pub fn active(&self) -> &Segment<F> {
        &self.active
    }

    /// For the appender: the segment it writes to.
    pub fn active_mut(&mut self) -> &mut Segment<F> {
        &mut self.active
    }

    pub fn sealed(&self) -> impl Iterator<Item = &Segment<F>> {
        self.sealed.values()
    }

    /// Every segment, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &Segment<F>> {
        self.sealed.values().chain(std::iter::once(&self.active))
    }

    pub fn earliest_offset(&self) -> u64 {
        self.sealed
            .keys()
            .next()
            .copied()
            .unwrap_or(self.active.base_offset)
    }

    /// Bytes of all segments' data.
    pub fn size_bytes(&self) -> u64 {
        self.all().map(|s| s.data_bytes).sum()
    }

    pub fn count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// The segment holding `offset`; in the active one, readers stop at
    /// `visible_active_bytes`.
    pub fn locate(&self, offset: u64, visible_active_bytes: u64) -> Located<'_, F> {
        match self.sealed.range(..=offset).next_back() {
            Some((_, segment)) if offset < segment.next_offset => Located {
                segment,
                end: segment.data_bytes,
                sealed_next_offset: Some(segment.next_offset),
            },
            _ => Located {
                segment: &self.active,
                end: visible_active_bytes,
                sealed_next_offset: None,
            },
        }
    }

    /// Seals the active segment and makes `fresh`, which starts where it
    /// ends, the active one; returns the sealed segment. One step, so that
    /// a reader never finds the old segment in neither place.
    pub fn roll(&mut self, fresh: Segment<F>) -> &Segment<F> {
        assert_eq!(
            fresh.base_offset, self.active.next_offset,
            "the new segment starts where the active one ends"
        );
        assert_eq!(fresh.data_bytes, 0, "the new segment is empty");
        let old = std::mem::replace(&mut self.active, fresh);
        let base = old.base_offset;
        self.sealed.insert(base, old);
        &self.sealed[&base]
    }

    /// Takes the sealed segments with these base offsets out (for deletion).
    pub fn take_sealed(&mut self, bases: &[u64]) -> Vec<Segment<F>> {
        bases
            .iter()
            .filter_map(|base| self.sealed.remove(base))
            .collect()
    }
}

/// What readers may see. Never ahead of what the appender wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visible {
    /// Offsets below this are durable and visible (the high watermark).
    pub next_offset: u64,
    /// Bytes of the active segment that are durable and visible.
    pub active_bytes: u64,
}

impl Visible {
    /// Everything the active segment holds, as visible.
    pub fn all_of<F>(active: &Segment<F>) -> Visible {
        Visible {
            next_offset: active.next_offset,
            active_bytes: active.data_bytes,
        }
    }
}

/// In service, failed, or closed.
#[derive(Default)]
pub struct Lifecycle {
    /// Set once, by the first fatal error; appends are refused from then on.
    failed: Option<StorageError>,
    closed: bool,
}

impl Lifecycle {
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn failure(&self) -> Option<&StorageError> {
        self.failed.as_ref()
    }

    /// `Ok` while appends are taken: not closed, not failed.
    pub fn accepting_appends(&self) -> Result<(), StorageError> {
        if self.closed {
            return Err(StorageError::Closed);
        }
        match &self.failed {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// Marks the log closed; `Err(Closed)` if it already was.
    pub fn close(&mut self) -> Result<(), StorageError> {
        if self.closed {
            return Err(StorageError::Closed);
        }
        self.closed = true;
        Ok(())
    }

    /// Takes the log out of service; the first failure is the one kept.
    pub fn fail(&mut self, err: StorageError) {
        self.failed.get_or_insert(err);
    }
}
