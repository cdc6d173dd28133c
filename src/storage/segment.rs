//! One segment: a `<base offset:020>.log` file of whole batches, its index,
//! and a cursor that reads and validates its batches in large aligned reads.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use super::index::SegmentIndex;
use super::io::SegmentFile;
use crate::batch::header::{is_zero_header, BatchHeader};
use crate::batch::{validate, BatchError, HEADER_LEN, HEADER_LEN_PRODUCER};

pub const LOG_SUFFIX: &str = "log";
pub const INDEX_SUFFIX: &str = "index";
pub const TIME_INDEX_SUFFIX: &str = "timeindex";

/// `<dir>/<base offset, 20 digits>.<suffix>`.
pub fn segment_path(dir: &Path, base_offset: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// The base offset a segment file name stands for, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

pub struct Segment<F> {
    pub base_offset: u64,
    pub file: Rc<F>,
    pub path: PathBuf,
    /// Bytes of whole batches in the file. For the active segment this
    /// counts written batches, durable or not.
    pub data_bytes: u64,
    /// The offset right after the last batch.
    pub next_offset: u64,
    pub index: SegmentIndex,
}

/// What a [`SegmentCursor`] found next.
pub enum CursorItem {
    Batch {
        position: u64,
        header: BatchHeader,
        bytes: Bytes,
    },
    /// The end of the data: the end of the range, or an all-zero header.
    End { position: u64 },
    /// Bytes that are not a valid batch.
    Invalid { position: u64, reason: String },
    /// A batch header of a format version this build does not know: data
    /// from a newer shardlog, never to be mistaken for a torn tail.
    UnknownFormat { position: u64, version: u8 },
}

/// Reads validated batches of a segment in order, from a batch boundary up
/// to `end`, with reads of `chunk_bytes` (more when one batch is larger).
pub struct SegmentCursor<'a, F> {
    file: &'a F,
    position: u64,
    end: u64,
    chunk_bytes: usize,
    batch_bytes_limit: u32,
    buffer: Bytes,
    buffer_start: u64,
}

impl<'a, F: SegmentFile> SegmentCursor<'a, F> {
    pub fn new(
        file: &'a F,
        position: u64,
        end: u64,
        chunk_bytes: usize,
        batch_bytes_limit: u32,
    ) -> Self {
        SegmentCursor {
            file,
            position,
            end,
            chunk_bytes,
            batch_bytes_limit,
            buffer: Bytes::new(),
            buffer_start: position,
        }
    }

    /// Makes `[position, position + len)` available, reading if needed.
    /// Returns false if the file ends before that.
    async fn fill(&mut self, len: usize) -> std::io::Result<bool> {
        let offset_in_buffer = self.position - self.buffer_start;
        if offset_in_buffer + len as u64 <= self.buffer.len() as u64 {
            return Ok(true);
        }
        let remaining = self.end - self.position;
        let want = (len.max(self.chunk_bytes) as u64).min(remaining) as usize;
        self.buffer = self.file.read_at(self.position, want).await?;
        self.buffer_start = self.position;
        Ok(self.buffer.len() >= len)
    }

    fn view(&self, len: usize) -> Bytes {
        let start = (self.position - self.buffer_start) as usize;
        self.buffer.slice(start..start + len)
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub async fn next(&mut self) -> std::io::Result<CursorItem> {
        let position = self.position;
        let remaining = self.end.saturating_sub(position);
        if remaining == 0 {
            return Ok(CursorItem::End { position });
        }
        // Enough for the longest header (a version 2 batch's); a version 1
        // batch may be shorter, so fewer bytes may remain.
        let header_len = (HEADER_LEN_PRODUCER as u64).min(remaining) as usize;
        if !self.fill(header_len).await? {
            return Ok(invalid(position, "file ends inside the range"));
        }
        let head = self.view(header_len);
        if is_zero_header(&head) {
            return Ok(CursorItem::End { position });
        }
        if header_len < HEADER_LEN {
            return Ok(invalid(position, "torn batch header"));
        }
        let header = match BatchHeader::parse(&head, self.batch_bytes_limit) {
            Ok(header) => header,
            Err(BatchError::UnsupportedVersion(version)) => {
                return Ok(CursorItem::UnknownFormat { position, version })
            }
            Err(e) => return Ok(invalid(position, &e.to_string())),
        };
        let length = header.batch_length as usize;
        if length as u64 > remaining || !self.fill(length).await? {
            return Ok(invalid(
                position,
                "torn batch: its length runs past the data",
            ));
        }
        let bytes = self.view(length);
        if let Err(e) = validate(&bytes, self.batch_bytes_limit) {
            return Ok(invalid(position, &e.to_string()));
        }
        self.position += length as u64;
        Ok(CursorItem::Batch {
            position,
            header,
            bytes,
        })
    }
}

fn invalid(position: u64, reason: &str) -> CursorItem {
    CursorItem::Invalid {
        position,
        reason: reason.to_string(),
    }
}
