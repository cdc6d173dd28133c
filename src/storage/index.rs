//! The sparse offset index and time index of one segment: in memory while
//! the segment is open, written to `<base>.index` and `<base>.timeindex` when
//! the segment is sealed and at a clean close, and always rebuildable from
//! the log (docs/STORAGE.md, "Index files").
//!
//! Offset entry `(relative offset, position)`: the batch at `position` starts
//! at that offset. Time entry `(timestamp, relative offset)`: every record
//! before that offset has a timestamp at most `timestamp`.

use crate::batch::header::{read_u32, read_u64, write_u32, write_u64};
use crate::batch::BatchHeader;

const OFFSET_MAGIC: [u8; 4] = *b"SLOX";
const TIME_MAGIC: [u8; 4] = *b"SLTX";
const INDEX_FORMAT_VERSION: u8 = 1;
/// Bytes of the index file header.
pub const INDEX_HEADER_LEN: usize = 48;
const OFFSET_ENTRY_LEN: usize = 8;
const TIME_ENTRY_LEN: usize = 12;
/// Timestamp of a segment with no records.
pub const NO_TIMESTAMP: i64 = i64::MIN;

/// What an index file says about the log it was built from; an index whose
/// meta disagrees with the log is stale and is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexMeta {
    pub base_offset: u64,
    /// Bytes of the segment the entries cover.
    pub covered_bytes: u64,
    /// The offset right after the last batch in the covered bytes.
    pub next_offset: u64,
    pub max_timestamp_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentIndex {
    base_offset: u64,
    offsets: Vec<(u32, u32)>,
    times: Vec<(i64, u32)>,
    /// Bytes appended since the last offset entry.
    bytes_since_entry: u64,
    /// Newest timestamp of any record in the segment.
    max_timestamp_ms: i64,
}

impl SegmentIndex {
    pub fn new(base_offset: u64) -> Self {
        SegmentIndex {
            base_offset,
            offsets: Vec::new(),
            times: Vec::new(),
            bytes_since_entry: 0,
            max_timestamp_ms: NO_TIMESTAMP,
        }
    }

    pub fn max_timestamp_ms(&self) -> i64 {
        self.max_timestamp_ms
    }

    pub fn entry_count(&self) -> usize {
        self.offsets.len()
    }

    /// Every offset entry, as (absolute offset, position).
    pub fn offset_entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.offsets
            .iter()
            .map(|&(rel, pos)| (self.base_offset + u64::from(rel), u64::from(pos)))
    }

    /// Records a batch appended at `position`; adds entries every
    /// `interval_bytes`.
    pub fn on_batch(&mut self, header: &BatchHeader, position: u64, interval_bytes: u32) {
        if position > 0 && self.bytes_since_entry >= u64::from(interval_bytes) {
            let relative = (header.base_offset - self.base_offset) as u32;
            self.offsets.push((relative, position as u32));
            let covered_max = self.max_timestamp_ms;
            if self.times.last().is_none_or(|&(ts, _)| covered_max > ts) {
                self.times.push((covered_max, relative));
            }
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += u64::from(header.batch_length);
        self.max_timestamp_ms = self.max_timestamp_ms.max(header.max_timestamp_ms);
    }

    /// Position of a batch at or before the one holding `offset`.
    pub fn position_for(&self, offset: u64) -> u64 {
        let relative = offset.saturating_sub(self.base_offset);
        let after = self
            .offsets
            .partition_point(|&(rel, _)| u64::from(rel) <= relative);
        after
            .checked_sub(1)
            .map_or(0, |i| u64::from(self.offsets[i].1))
    }

    /// An offset from which a scan for the first record with a timestamp at
    /// least `timestamp_ms` can start: every record before it is older.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> u64 {
        let after = self.times.partition_point(|&(ts, _)| ts < timestamp_ms);
        after.checked_sub(1).map_or(self.base_offset, |i| {
            self.base_offset + u64::from(self.times[i].1)
        })
    }

    /// Last indexed batch: its offset and position, to resume a scan from.
    pub fn last_entry(&self) -> Option<(u64, u64)> {
        self.offsets
            .last()
            .map(|&(rel, pos)| (self.base_offset + u64::from(rel), u64::from(pos)))
    }

    /// Encodes the offset index file and the time index file.
    pub fn encode(&self, meta: &IndexMeta) -> (Vec<u8>, Vec<u8>) {
        let mut offsets = header_bytes(OFFSET_MAGIC, meta, self.offsets.len());
        for &(rel, pos) in &self.offsets {
            offsets.extend_from_slice(&rel.to_le_bytes());
            offsets.extend_from_slice(&pos.to_le_bytes());
        }
        seal_crc(&mut offsets);
        let mut times = header_bytes(TIME_MAGIC, meta, self.times.len());
        for &(ts, rel) in &self.times {
            times.extend_from_slice(&ts.to_le_bytes());
            times.extend_from_slice(&rel.to_le_bytes());
        }
        seal_crc(&mut times);
        (offsets, times)
    }

    /// Decodes both index files; `None` if either is damaged, from another
    /// format, or disagrees with the other or with itself.
    pub fn decode(offsets_file: &[u8], times_file: &[u8]) -> Option<(SegmentIndex, IndexMeta)> {
        let (meta, offset_entries) = parse_file(offsets_file, OFFSET_MAGIC, OFFSET_ENTRY_LEN)?;
        let (time_meta, time_entries) = parse_file(times_file, TIME_MAGIC, TIME_ENTRY_LEN)?;
        if meta != time_meta || meta.next_offset < meta.base_offset {
            return None;
        }
        let offsets: Vec<(u32, u32)> = offset_entries
            .chunks_exact(OFFSET_ENTRY_LEN)
            .map(|e| (read_u32(e, 0), read_u32(e, 4)))
            .collect();
        let times: Vec<(i64, u32)> = time_entries
            .chunks_exact(TIME_ENTRY_LEN)
            .map(|e| (read_u64(e, 0) as i64, read_u32(e, 8)))
            .collect();
        let span = meta.next_offset - meta.base_offset;
        let offsets_ordered = offsets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1);
        let offsets_in_range = offsets
            .iter()
            .all(|&(rel, pos)| u64::from(rel) < span && u64::from(pos) < meta.covered_bytes);
        let times_ordered = times.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1);
        let times_in_range = times
            .iter()
            .all(|&(ts, rel)| u64::from(rel) < span && ts <= meta.max_timestamp_ms);
        if !(offsets_ordered && offsets_in_range && times_ordered && times_in_range) {
            return None;
        }
        let last_position = offsets.last().map_or(0, |&(_, pos)| u64::from(pos));
        let index = SegmentIndex {
            base_offset: meta.base_offset,
            offsets,
            times,
            bytes_since_entry: meta.covered_bytes - last_position,
            max_timestamp_ms: meta.max_timestamp_ms,
        };
        Some((index, meta))
    }
}

fn header_bytes(magic: [u8; 4], meta: &IndexMeta, entries: usize) -> Vec<u8> {
    let mut buf = vec![0u8; INDEX_HEADER_LEN];
    buf[0..4].copy_from_slice(&magic);
    buf[4] = INDEX_FORMAT_VERSION;
    write_u64(&mut buf, 8, meta.base_offset);
    write_u64(&mut buf, 16, meta.covered_bytes);
    write_u64(&mut buf, 24, meta.next_offset);
    write_u64(&mut buf, 32, meta.max_timestamp_ms as u64);
    write_u32(&mut buf, 40, entries as u32);
    buf
}

/// The CRC at bytes 44..48 covers the header before it and every entry.
fn seal_crc(buf: &mut [u8]) {
    let crc = file_crc(buf);
    write_u32(buf, 44, crc);
}

fn file_crc(buf: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&buf[..44]);
    hasher.update(&buf[INDEX_HEADER_LEN..]);
    hasher.finalize()
}

fn parse_file(buf: &[u8], magic: [u8; 4], entry_len: usize) -> Option<(IndexMeta, &[u8])> {
    if buf.len() < INDEX_HEADER_LEN || buf[0..4] != magic || buf[4] != INDEX_FORMAT_VERSION {
        return None;
    }
    let entries = read_u32(buf, 40) as usize;
    let expected_len = entries
        .checked_mul(entry_len)?
        .checked_add(INDEX_HEADER_LEN)?;
    if buf.len() != expected_len || read_u32(buf, 44) != file_crc(buf) {
        return None;
    }
    let meta = IndexMeta {
        base_offset: read_u64(buf, 8),
        covered_bytes: read_u64(buf, 16),
        next_offset: read_u64(buf, 24),
        max_timestamp_ms: read_u64(buf, 32) as i64,
    };
    Some((meta, &buf[INDEX_HEADER_LEN..]))
}
