//! A fault-injecting [`Storage`] over the real DMA files, so that tests run
//! the production engine against failed and short writes, fsync errors and
//! a full disk (ENOSPC) or a nearly full one (little free space reported).
//! Faults follow a [`FaultPlan`] that the test holds.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::DmaBuffer;

use super::io::{DmaSegment, DmaStorage, SegmentFile, Storage};
use crate::config::PAGE_BYTES;

/// ENOSPC, as the kernel reports a full disk.
const ENOSPC: i32 = 28;
/// EIO, as the kernel reports a failed device write or flush.
const EIO: i32 = 5;

/// Which faults to inject. Shared by the storage and every file it opens;
/// change it at any time from the test.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Each segment write fails with EIO with this probability (per mille).
    pub write_error_per_mille: Cell<u32>,
    /// Each segment write writes only its first half, with this probability.
    pub short_write_per_mille: Cell<u32>,
    /// Each fdatasync fails with EIO with this probability (per mille).
    pub fsync_error_per_mille: Cell<u32>,
    /// Every allocation and file creation fails with ENOSPC while set.
    pub disk_full: Cell<bool>,
    /// The free space the file system reports, instead of the real one,
    /// while set: simulates a nearly full disk for the free-space reserve.
    pub free_bytes: Cell<Option<u64>>,
    /// Small-file writes (index files, markers) take this long: widens the
    /// windows in which other tasks run while the engine awaits them.
    pub small_write_delay_ms: Cell<u64>,
    rng: Cell<u64>,
    /// Faults injected so far.
    pub injected: Cell<u64>,
    writes: Cell<u64>,
    fsyncs: Cell<u64>,
    durable_writes: Cell<u64>,
}

impl FaultPlan {
    /// A plan with no faults, whose random choices follow `seed`.
    pub fn new(seed: u64) -> Rc<Self> {
        let plan = FaultPlan::default();
        plan.rng.set(seed | 1);
        Rc::new(plan)
    }

    /// Segment writes (plain and durable) and fdatasyncs attempted so far.
    pub fn io_counts(&self) -> (u64, u64) {
        (self.writes.get(), self.fsyncs.get())
    }

    /// Of those writes, the durable (O_DSYNC) ones.
    pub fn durable_writes(&self) -> u64 {
        self.durable_writes.get()
    }

    fn roll(&self, per_mille: &Cell<u32>) -> bool {
        let p = per_mille.get();
        if p == 0 {
            return false;
        }
        // xorshift64: a tiny deterministic generator, so runs replay by seed.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        let hit = (x % 1000) < u64::from(p);
        if hit {
            self.injected.set(self.injected.get() + 1);
        }
        hit
    }

    fn no_space(&self) -> io::Result<()> {
        if self.disk_full.get() {
            self.injected.set(self.injected.get() + 1);
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        Ok(())
    }
}

/// [`DmaStorage`] with faults injected per a [`FaultPlan`].
#[derive(Clone)]
pub struct FaultyStorage {
    inner: DmaStorage,
    plan: Rc<FaultPlan>,
}

impl FaultyStorage {
    pub fn new(plan: Rc<FaultPlan>) -> Self {
        FaultyStorage {
            inner: DmaStorage,
            plan,
        }
    }
}

/// A DMA file whose writes, syncs and allocations may fail.
pub struct FaultyFile {
    inner: DmaSegment,
    plan: Rc<FaultPlan>,
}

impl SegmentFile for FaultyFile {
    fn alloc_buffer(&self, len: usize) -> DmaBuffer {
        self.inner.alloc_buffer(len)
    }

    async fn write_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        self.plan.writes.set(self.plan.writes.get() + 1);
        if self.plan.roll(&self.plan.write_error_per_mille) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        if self.plan.roll(&self.plan.short_write_per_mille) && buf.len() >= 2 * PAGE_BYTES {
            let half = (buf.len() / 2 / PAGE_BYTES) * PAGE_BYTES;
            let mut part = self.inner.alloc_buffer(half);
            part.as_bytes_mut().copy_from_slice(&buf.as_bytes()[..half]);
            return SegmentFile::write_at(&self.inner, part, pos).await;
        }
        SegmentFile::write_at(&self.inner, buf, pos).await
    }

    /// A write and a sync in one: either fault may hit it.
    async fn write_durable_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        self.plan.writes.set(self.plan.writes.get() + 1);
        self.plan
            .durable_writes
            .set(self.plan.durable_writes.get() + 1);
        if self.plan.roll(&self.plan.write_error_per_mille)
            || self.plan.roll(&self.plan.fsync_error_per_mille)
        {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        if self.plan.roll(&self.plan.short_write_per_mille) && buf.len() >= 2 * PAGE_BYTES {
            let half = (buf.len() / 2 / PAGE_BYTES) * PAGE_BYTES;
            let mut part = self.inner.alloc_buffer(half);
            part.as_bytes_mut().copy_from_slice(&buf.as_bytes()[..half]);
            return self.inner.write_durable_at(part, pos).await;
        }
        self.inner.write_durable_at(buf, pos).await
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Bytes> {
        SegmentFile::read_at(&self.inner, pos, len).await
    }

    async fn fdatasync(&self) -> io::Result<()> {
        self.plan.fsyncs.set(self.plan.fsyncs.get() + 1);
        if self.plan.roll(&self.plan.fsync_error_per_mille) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        SegmentFile::fdatasync(&self.inner).await
    }

    async fn pre_allocate(&self, len: u64) -> io::Result<()> {
        self.plan.no_space()?;
        SegmentFile::pre_allocate(&self.inner, len).await
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        SegmentFile::truncate(&self.inner, len).await
    }

    async fn size(&self) -> io::Result<u64> {
        SegmentFile::size(&self.inner).await
    }

    async fn close(self) -> io::Result<()> {
        SegmentFile::close(self.inner).await
    }
}

impl Storage for FaultyStorage {
    type File = FaultyFile;

    async fn open_segment(&self, path: &Path, create: bool) -> io::Result<FaultyFile> {
        if create && !path.exists() {
            self.plan.no_space()?;
        }
        Ok(FaultyFile {
            inner: self.inner.open_segment(path, create).await?,
            plan: self.plan.clone(),
        })
    }

    async fn write_files_atomic(&self, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
        self.plan.no_space()?;
        let delay = self.plan.small_write_delay_ms.get();
        if delay > 0 {
            glommio::timer::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.inner.write_files_atomic(files).await
    }

    async fn write_file_in_place(&self, path: &Path, contents: Vec<u8>) -> io::Result<()> {
        self.plan.no_space()?;
        let delay = self.plan.small_write_delay_ms.get();
        if delay > 0 {
            glommio::timer::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.inner.write_file_in_place(path, contents).await
    }

    async fn touch(&self, path: &Path) -> io::Result<()> {
        self.plan.no_space()?;
        self.inner.touch(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to).await
    }

    async fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        self.inner.read_file(path).await
    }

    async fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path).await
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path).await
    }

    async fn free_bytes(&self, path: &Path) -> io::Result<u64> {
        match self.plan.free_bytes.get() {
            Some(free) => Ok(free),
            None => self.inner.free_bytes(path).await,
        }
    }
}
