//! Records inside a batch: layout, zero-copy decoding, and iteration over a
//! run of concatenated batches (a fetch response, a read from a segment).
//!
//! A record, little-endian, right after the batch header or the previous
//! record:
//!
//! ```text
//! u32 record_length       bytes of this record after this field
//! u32 offset_delta        offset - base_offset; equals the record's index
//! i64 timestamp_delta_ms  timestamp - first_timestamp_ms
//! i32 key_length          -1 = no key
//! [key_length] key
//! u32 value_length
//! [value_length] value
//! u16 header_count
//! header_count × { u16 name_length, [name_length] name (UTF-8),
//!                  u32 value_length, [value_length] value }
//! ```

use std::ops::Range;

use bytes::Bytes;

use super::error::BatchError;
use super::header::BatchHeader;

/// Bytes of a record that carry no key, value or header data.
pub const RECORD_OVERHEAD: usize = 4 + 4 + 8 + 4 + 4 + 2;
/// Bytes of one header entry besides its name and value.
pub const HEADER_OVERHEAD: usize = 2 + 4;

/// One decoded record; its key, value and headers share the batch's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Bytes,
    /// The encoded header entries; iterate with [`Record::headers`].
    headers_raw: Bytes,
    header_count: u16,
}

/// One record header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Bytes,
}

impl Record {
    pub fn header_count(&self) -> usize {
        usize::from(self.header_count)
    }

    /// Decodes the headers. The batch was validated, so this cannot fail
    /// for a batch that came through [`super::validate`] or [`Batches`].
    pub fn headers(&self) -> impl Iterator<Item = Header> + '_ {
        let mut reader = Reader::new(&self.headers_raw);
        (0..self.header_count).map_while(move |_| {
            let (name, value) = reader.header().ok()?;
            Some(Header {
                name: String::from_utf8_lossy(&self.headers_raw[name]).into_owned(),
                value: self.headers_raw.slice(value),
            })
        })
    }
}

/// Where the parts of one record sit, relative to the slice it was read from.
pub(crate) struct RecordSpans {
    pub end: usize,
    pub offset_delta: u32,
    pub timestamp_delta_ms: i64,
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
    pub headers: Range<usize>,
    pub header_count: u16,
}

/// Decodes the record that starts at `start` in `body`, checking every length
/// against the record's own length and the body.
pub(crate) fn decode_record(body: &[u8], start: usize) -> Result<RecordSpans, &'static str> {
    let mut outer = Reader::at(body, start);
    let record_length = outer.u32()? as usize;
    let inner_start = outer.pos;
    let end = inner_start
        .checked_add(record_length)
        .filter(|&end| end <= body.len())
        .ok_or("record length runs past the batch")?;
    let mut reader = Reader {
        buf: &body[..end],
        pos: inner_start,
    };
    let offset_delta = reader.u32()?;
    let timestamp_delta_ms = reader.u64()? as i64;
    let key_length = reader.u32()? as i32;
    let key = match key_length {
        -1 => None,
        n if n < 0 => return Err("negative key length"),
        n => Some(reader.take(n as usize)?),
    };
    let value_length = reader.u32()? as usize;
    let value = reader.take(value_length)?;
    let header_count = reader.u16()?;
    let headers_start = reader.pos;
    for _ in 0..header_count {
        let (name, _) = reader.header()?;
        if std::str::from_utf8(&reader.buf[name]).is_err() {
            return Err("header name is not UTF-8");
        }
    }
    if reader.pos != end {
        return Err("record length disagrees with its contents");
    }
    Ok(RecordSpans {
        end,
        offset_delta,
        timestamp_delta_ms,
        key,
        value,
        headers: headers_start..end,
        header_count,
    })
}

/// A bounds-checked little-endian cursor over a byte slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    fn take(&mut self, len: usize) -> Result<Range<usize>, &'static str> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or("field runs past the record")?;
        let range = self.pos..end;
        self.pos = end;
        Ok(range)
    }

    /// The next `N` bytes, as an array (for the fixed-size integers).
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let r = self.take(N)?;
        self.buf
            .get(r)
            .and_then(|taken| taken.first_chunk::<N>())
            .copied()
            .ok_or("field runs past the record")
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        self.take_array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        self.take_array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        self.take_array().map(u64::from_le_bytes)
    }

    /// One header entry: the name's and the value's ranges.
    fn header(&mut self) -> Result<(Range<usize>, Range<usize>), &'static str> {
        let name_length = usize::from(self.u16()?);
        let name = self.take(name_length)?;
        let value_length = self.u32()? as usize;
        let value = self.take(value_length)?;
        Ok((name, value))
    }
}

/// One batch, validated, with its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub header: BatchHeader,
    /// The whole encoded batch, header included.
    pub bytes: Bytes,
}

impl Batch {
    /// Validates one whole batch (length, CRC, every record) and wraps it.
    pub fn decode(bytes: Bytes, batch_bytes_limit: u32) -> Result<Batch, BatchError> {
        let valid = super::validate::validate(&bytes, batch_bytes_limit)?;
        Ok(Batch {
            header: valid.header,
            bytes,
        })
    }

    /// The records, decoded lazily and zero-copy.
    pub fn records(&self) -> Records {
        Records {
            batch: self.bytes.clone(),
            header: self.header,
            pos: self.header.header_len(),
            index: 0,
        }
    }
}

/// Iterator over the records of a validated batch.
pub struct Records {
    batch: Bytes,
    header: BatchHeader,
    pos: usize,
    index: u32,
}

impl Iterator for Records {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.index == self.header.record_count {
            return None;
        }
        // The batch was validated whole, so decoding cannot fail here; a
        // failure would end the iteration rather than yield garbage.
        let spans = decode_record(&self.batch, self.pos).ok()?;
        self.pos = spans.end;
        self.index += 1;
        Some(Record {
            offset: self.header.base_offset + u64::from(spans.offset_delta),
            timestamp_ms: self
                .header
                .first_timestamp_ms
                .wrapping_add(spans.timestamp_delta_ms),
            key: spans.key.map(|r| self.batch.slice(r)),
            value: self.batch.slice(spans.value),
            headers_raw: self.batch.slice(spans.headers),
            header_count: spans.header_count,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.header.record_count - self.index) as usize;
        (left, Some(left))
    }
}

/// Iterator over a run of concatenated batches, each validated as it is
/// reached. Stops at the end of the buffer; yields an error (and then stops)
/// at the first bad batch.
pub struct Batches {
    rest: Bytes,
    batch_bytes_limit: u32,
    failed: bool,
}

impl Batches {
    pub fn new(bytes: Bytes, batch_bytes_limit: u32) -> Self {
        Batches {
            rest: bytes,
            batch_bytes_limit,
            failed: false,
        }
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let result = BatchHeader::parse(&self.rest, self.batch_bytes_limit).and_then(|header| {
            let length = header.batch_length as usize;
            if length > self.rest.len() {
                return Err(BatchError::Truncated {
                    needed: length,
                    available: self.rest.len(),
                });
            }
            Batch::decode(self.rest.split_to(length), self.batch_bytes_limit)
        });
        self.failed = result.is_err();
        Some(result)
    }
}
