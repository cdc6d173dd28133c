//! The storage under a core's partitions: the real DMA files, or the
//! fault-injecting ones (`storage::faults`) so that tests run the shard's
//! own code (topic create, commits) against failed I/O and a full disk.
//! The broker always runs on [`ShardStorage::Dma`]; only a test builds a
//! shard on [`ShardStorage::Faulty`]. Each operation is a match and a
//! call: nothing beside the I/O it starts.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use glommio::io::DmaBuffer;

use crate::storage::faults::{FaultyFile, FaultyStorage};
use crate::storage::io::DmaSegment;
use crate::storage::{DmaStorage, SegmentFile, Storage};

#[derive(Clone)]
pub enum ShardStorage {
    Dma(DmaStorage),
    Faulty(FaultyStorage),
}

impl Default for ShardStorage {
    fn default() -> Self {
        ShardStorage::Dma(DmaStorage)
    }
}

/// A segment file of a [`ShardStorage`].
pub enum ShardFile {
    Dma(DmaSegment),
    Faulty(FaultyFile),
}

impl SegmentFile for ShardFile {
    fn alloc_buffer(&self, len: usize) -> DmaBuffer {
        match self {
            ShardFile::Dma(f) => f.alloc_buffer(len),
            ShardFile::Faulty(f) => f.alloc_buffer(len),
        }
    }

    async fn write_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        match self {
            ShardFile::Dma(f) => f.write_at(buf, pos).await,
            ShardFile::Faulty(f) => f.write_at(buf, pos).await,
        }
    }

    async fn write_durable_at(&self, buf: DmaBuffer, pos: u64) -> io::Result<usize> {
        match self {
            ShardFile::Dma(f) => f.write_durable_at(buf, pos).await,
            ShardFile::Faulty(f) => f.write_durable_at(buf, pos).await,
        }
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Bytes> {
        match self {
            ShardFile::Dma(f) => f.read_at(pos, len).await,
            ShardFile::Faulty(f) => f.read_at(pos, len).await,
        }
    }

    async fn fdatasync(&self) -> io::Result<()> {
        match self {
            ShardFile::Dma(f) => f.fdatasync().await,
            ShardFile::Faulty(f) => f.fdatasync().await,
        }
    }

    async fn pre_allocate(&self, len: u64) -> io::Result<()> {
        match self {
            ShardFile::Dma(f) => f.pre_allocate(len).await,
            ShardFile::Faulty(f) => f.pre_allocate(len).await,
        }
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        match self {
            ShardFile::Dma(f) => f.truncate(len).await,
            ShardFile::Faulty(f) => f.truncate(len).await,
        }
    }

    async fn size(&self) -> io::Result<u64> {
        match self {
            ShardFile::Dma(f) => f.size().await,
            ShardFile::Faulty(f) => f.size().await,
        }
    }

    async fn close(self) -> io::Result<()> {
        match self {
            ShardFile::Dma(f) => f.close().await,
            ShardFile::Faulty(f) => f.close().await,
        }
    }
}

impl Storage for ShardStorage {
    type File = ShardFile;

    async fn open_segment(&self, path: &Path, create: bool) -> io::Result<ShardFile> {
        match self {
            ShardStorage::Dma(s) => s.open_segment(path, create).await.map(ShardFile::Dma),
            ShardStorage::Faulty(s) => s.open_segment(path, create).await.map(ShardFile::Faulty),
        }
    }

    async fn write_files_atomic(&self, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.write_files_atomic(files).await,
            ShardStorage::Faulty(s) => s.write_files_atomic(files).await,
        }
    }

    async fn write_file_in_place(&self, path: &Path, contents: Vec<u8>) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.write_file_in_place(path, contents).await,
            ShardStorage::Faulty(s) => s.write_file_in_place(path, contents).await,
        }
    }

    async fn touch(&self, path: &Path) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.touch(path).await,
            ShardStorage::Faulty(s) => s.touch(path).await,
        }
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.rename(from, to).await,
            ShardStorage::Faulty(s) => s.rename(from, to).await,
        }
    }

    async fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match self {
            ShardStorage::Dma(s) => s.read_file(path).await,
            ShardStorage::Faulty(s) => s.read_file(path).await,
        }
    }

    async fn remove_file(&self, path: &Path) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.remove_file(path).await,
            ShardStorage::Faulty(s) => s.remove_file(path).await,
        }
    }

    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        match self {
            ShardStorage::Dma(s) => s.sync_dir(path).await,
            ShardStorage::Faulty(s) => s.sync_dir(path).await,
        }
    }

    async fn free_bytes(&self, path: &Path) -> io::Result<u64> {
        match self {
            ShardStorage::Dma(s) => s.free_bytes(path).await,
            ShardStorage::Faulty(s) => s.free_bytes(path).await,
        }
    }
}
