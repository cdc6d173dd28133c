//! The file operations the storage engine needs, behind a small trait, so
//! that tests run the same engine on a fault-injecting implementation
//! ([`super::faults`]). [`DmaStorage`] is the real one: O_DIRECT segment files
//! on glommio's io_uring reactor, buffered io_uring files for the small index
//! and marker files.
//!
//! Everything here runs on one executor; nothing is `Send`.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{BufferedFile, Directory, DmaBuffer, DmaFile, OpenOptions};
use glommio::GlommioError;

use crate::config::PAGE_BYTES;

/// `O_DSYNC` as `open(2)` takes it (glommio's `custom_flags`).
const O_DSYNC: i32 = rustix::fs::OFlags::DSYNC.bits() as i32;

/// One segment file, opened for O_DIRECT reads and writes.
#[allow(async_fn_in_trait)]
pub trait SegmentFile: 'static {
    /// A page-aligned buffer of `len` bytes (a multiple of a page). Its
    /// contents are unspecified: the caller writes or zeroes every byte.
    fn alloc_buffer(&self, len: usize) -> DmaBuffer;
    /// Writes the whole buffer at `pos` (page-aligned); returns bytes written.
    async fn write_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize>;
    /// [`Self::write_at`], durable when it returns (an O_DSYNC write): the
    /// data, and whatever metadata reading it back needs, is on stable
    /// storage, without a separate `fdatasync`. Only this write: what
    /// earlier plain writes left unsynced may still be in the disk's cache.
    async fn write_durable_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize>;
    /// Reads up to `len` bytes at `pos` (any alignment); fewer at end of file.
    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Bytes>;
    async fn fdatasync(&self) -> io::Result<()>;
    /// Makes the file at least `len` bytes long, the new space allocated.
    async fn pre_allocate(&self, len: u64) -> io::Result<()>;
    async fn truncate(&self, len: u64) -> io::Result<()>;
    async fn size(&self) -> io::Result<u64>;
    async fn close(self) -> io::Result<()>;
}

/// The file system under one shard's partitions.
#[allow(async_fn_in_trait)]
pub trait Storage: Clone + 'static {
    type File: SegmentFile;
    /// Opens a segment file for reading and writing, creating it if asked.
    async fn open_segment(&self, path: &Path, create: bool) -> io::Result<Self::File>;
    /// Replaces each file of one directory with its contents atomically:
    /// every temp file written and fsynced (all at once), then renamed in
    /// the order given, then one fsync of the directory. After a crash each
    /// file is whole, old or new.
    async fn write_files_atomic(&self, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()>;
    /// Writes `contents` over `path` in place (created if missing),
    /// truncates it to their length and fsyncs it: no new inode once the
    /// file exists. Not atomic: only for files whose readers detect a torn
    /// write (a CRC) and can do without them.
    async fn write_file_in_place(&self, path: &Path, contents: Vec<u8>) -> io::Result<()>;
    /// Creates `path` empty if it does not exist, without a sync: its
    /// directory's fsync makes it durable.
    async fn touch(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to` (one directory; the caller syncs it).
    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Reads a small whole file; `None` if it does not exist.
    async fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Removes a file; a missing file is not an error.
    async fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    async fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Bytes an unprivileged writer may still allocate on the file system
    /// that holds `path` (statvfs `f_bavail` × `f_frsize`). Called only
    /// where the log commits new space, never per append.
    async fn free_bytes(&self, path: &Path) -> io::Result<u64>;
}

/// The real storage: glommio DMA files.
#[derive(Clone, Copy, Debug, Default)]
pub struct DmaStorage;

/// Unwraps glommio's error into the `io::Error` underneath, keeping the OS
/// error code (ENOSPC must stay recognisable).
pub(crate) fn into_io(err: GlommioError<()>) -> io::Error {
    match err {
        GlommioError::IoError(e) => e,
        GlommioError::EnhancedIoError { source, .. } => source,
        other => other.into(),
    }
}

/// A segment file of [`DmaStorage`]: one O_DIRECT descriptor opened with
/// O_DSYNC, for reads, durable writes and syncs, and a plain one for
/// `written`-mode writes, opened at the first of them.
///
/// Why O_DSYNC: a durable round's O_DSYNC write into space that is already
/// written needs no journal commit and no separate `fdatasync` (which
/// io_uring always runs on a worker thread): the kernel completes it with
/// one device flush, and flushes that several partitions' writes need at
/// once are merged by the block layer. Why the second descriptor only on
/// demand: O_DSYNC cannot be switched per write (glommio has no RWF_DSYNC,
/// and `fcntl` cannot change it), and a partition that only takes durable
/// appends should cost one descriptor, so that 10,000 partitions fit in
/// 20,000.
pub struct DmaSegment {
    file: DmaFile,
    path: PathBuf,
    plain: RefCell<Option<Rc<DmaFile>>>,
}

impl DmaSegment {
    async fn plain_file(&self) -> io::Result<Rc<DmaFile>> {
        if let Some(file) = self.plain.borrow().as_ref() {
            return Ok(file.clone());
        }
        let opened = OpenOptions::new()
            .write(true)
            .dma_open(&self.path)
            .await
            .map_err(into_io)?;
        let opened = Rc::new(opened);
        // Two rounds never race here (one flush task per log), but keep
        // the first if one did.
        let mut slot = self.plain.borrow_mut();
        Ok(slot.get_or_insert(opened).clone())
    }
}

impl SegmentFile for DmaSegment {
    fn alloc_buffer(&self, len: usize) -> DmaBuffer {
        debug_assert!(len.is_multiple_of(PAGE_BYTES));
        self.file.alloc_dma_buffer(len)
    }

    async fn write_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        let plain = self.plain_file().await?;
        plain.write_at(buf, pos).await.map_err(into_io)
    }

    async fn write_durable_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        self.file.write_at(buf, pos).await.map_err(into_io)
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Bytes> {
        let result = self.file.read_at(pos, len).await.map_err(into_io)?;
        Ok(Bytes::copy_from_slice(&result))
    }

    async fn fdatasync(&self) -> io::Result<()> {
        self.file.fdatasync().await.map_err(into_io)
    }

    async fn pre_allocate(&self, len: u64) -> io::Result<()> {
        self.file.pre_allocate(len, false).await.map_err(into_io)
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.truncate(len).await.map_err(into_io)
    }

    async fn size(&self) -> io::Result<u64> {
        self.file.file_size().await.map_err(into_io)
    }

    async fn close(self) -> io::Result<()> {
        let plain = self.plain.borrow_mut().take();
        let plain_closed = match plain.map(Rc::try_unwrap) {
            Some(Ok(file)) => file.close().await.map_err(into_io),
            // A write still holds it (cannot happen at close: the flush task
            // has ended); the descriptor closes when that write drops it.
            Some(Err(_)) | None => Ok(()),
        };
        let closed = self.file.close().await.map_err(into_io);
        closed.and(plain_closed)
    }
}

impl Storage for DmaStorage {
    type File = DmaSegment;

    async fn open_segment(&self, path: &Path, create: bool) -> io::Result<DmaSegment> {
        // `DmaFile::create` opens write-only; reads need read(true).
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .custom_flags(O_DSYNC)
            .dma_open(path)
            .await
            .map_err(into_io)?;
        Ok(DmaSegment {
            file,
            path: path.to_path_buf(),
            plain: RefCell::new(None),
        })
    }

    async fn write_files_atomic(&self, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
        let Some(dir) = files.first().map(|(path, _)| parent_of(path).to_path_buf()) else {
            return Ok(());
        };
        let mut paths = Vec::with_capacity(files.len());
        let mut writes = Vec::with_capacity(files.len());
        for (path, contents) in files {
            debug_assert_eq!(parent_of(&path), dir, "one directory");
            writes.push(glommio::spawn_local(write_synced(
                temp_path(&path),
                contents,
            )));
            paths.push(path);
        }
        // Every write is awaited, so no temp file is left being written.
        let mut first_error = None;
        for write in writes {
            if let Err(e) = write.await {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        for path in &paths {
            glommio::io::rename(temp_path(path), path)
                .await
                .map_err(into_io)?;
        }
        self.sync_dir(&dir).await
    }

    async fn write_file_in_place(&self, path: &Path, contents: Vec<u8>) -> io::Result<()> {
        let file = open_or_create(path).await?;
        let len = contents.len() as u64;
        write_all_at_start(&file, contents, path).await?;
        file.truncate(len).await.map_err(into_io)?;
        file.fdatasync().await.map_err(into_io)?;
        file.close().await.map_err(into_io)
    }

    async fn touch(&self, path: &Path) -> io::Result<()> {
        open_or_create(path).await?.close().await.map_err(into_io)
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        glommio::io::rename(from, to).await.map_err(into_io)
    }

    async fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let file = match BufferedFile::open(path).await.map_err(into_io) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = file.file_size().await.map_err(into_io)?;
        let size = usize::try_from(size)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        let contents = file.read_at(0, size).await.map_err(into_io)?.to_vec();
        file.close().await.map_err(into_io)?;
        Ok(Some(contents))
    }

    async fn remove_file(&self, path: &Path) -> io::Result<()> {
        match glommio::io::remove(path).await.map_err(into_io) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = Directory::open(path).await.map_err(into_io)?;
        dir.sync().await.map_err(into_io)?;
        dir.close().await.map_err(into_io)
    }

    async fn free_bytes(&self, path: &Path) -> io::Result<u64> {
        // A blocking call, but one that only reads the superblock's counters
        // (no I/O), made once per preallocation step or segment roll;
        // io_uring has no statfs operation.
        free_bytes_of(path)
    }
}

/// Bytes an unprivileged writer may still allocate on the file system that
/// holds `path` (statvfs `f_bavail` × `f_frsize`): what the free-space
/// reserve is checked against, and what the metrics show beside it.
pub fn free_bytes_of(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Opens `path` for buffered writes, creating it if missing (keeping its
/// contents otherwise).
async fn open_or_create(path: &Path) -> io::Result<BufferedFile> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .buffered_open(path)
        .await
        .map_err(into_io)
}

/// Writes all of `contents` at the start of `file` (at `path`); a short
/// write is an error.
async fn write_all_at_start(file: &BufferedFile, contents: Vec<u8>, path: &Path) -> io::Result<()> {
    let len = contents.len();
    let written = file.write_at(contents, 0).await.map_err(into_io)?;
    if written != len {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "short write of {}: {written} of {len} bytes",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Writes `contents` to a new file at `temp` and fsyncs it.
async fn write_synced(temp: PathBuf, contents: Vec<u8>) -> io::Result<()> {
    let file = BufferedFile::create(&temp).await.map_err(into_io)?;
    write_all_at_start(&file, contents, &temp).await?;
    file.fdatasync().await.map_err(into_io)?;
    file.close().await.map_err(into_io)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Works around glommio 0.9's polled-I/O probe (DESIGN.md §5): the first DMA
/// file an executor opens decides whether polled I/O is used, and a new,
/// empty file makes later DMA reads fail with EOPNOTSUPP. Opening a 4 KiB
/// non-zero file first makes the probe see a real file. Call once per
/// executor, before any other DMA file is opened; `dir` is on the data disk.
pub async fn prime_executor_io(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Unique per thread: several executors may prime the same directory.
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let path = dir.join(format!(".io-probe-{}-{thread}", std::process::id()));
    std::fs::write(&path, [0xA5u8; PAGE_BYTES])?;
    let file = DmaFile::open(&path).await.map_err(into_io)?;
    file.close().await.map_err(into_io)?;
    std::fs::remove_file(&path)
}
