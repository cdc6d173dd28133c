//! Primitive encodings shared by every message (docs/PROTOCOL.md,
//! "Primitives"): little-endian integers, `string` (u16 length + UTF-8),
//! `bytes` (u32 length + bytes), `array` (u32 count + elements). Decoding is
//! bounds-checked and zero-copy over `Bytes`.

use bytes::{BufMut, Bytes, BytesMut};

/// Why a message body did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: {field} needs {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{field} is not valid UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("{field}: {count} elements cannot fit in {available} bytes")]
    ArrayTooLong {
        field: &'static str,
        count: u32,
        available: usize,
    },
    #[error("{field}: invalid value {value}")]
    InvalidValue { field: &'static str, value: i64 },
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// A bounds-checked cursor over a message body.
pub struct WireReader {
    buf: Bytes,
    pos: usize,
}

impl WireReader {
    pub fn new(buf: Bytes) -> Self {
        WireReader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn truncated(&self, field: &'static str, needed: usize) -> DecodeError {
        DecodeError::Truncated {
            field,
            needed,
            available: self.remaining(),
        }
    }

    fn take(&mut self, len: usize, field: &'static str) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(len);
        let Some(taken) = end.and_then(|end| self.buf.get(self.pos..end)) else {
            return Err(self.truncated(field, len));
        };
        self.pos += len;
        Ok(taken)
    }

    /// The next `N` bytes, as an array (for the fixed-size integers).
    fn take_array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let Some(&taken) = rest.first_chunk::<N>() else {
            return Err(self.truncated(field, N));
        };
        self.pos += N;
        Ok(taken)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.take_array::<1>(field).map(u8::from_le_bytes)
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.take_array(field).map(u16::from_le_bytes)
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.take_array(field).map(u32::from_le_bytes)
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.take_array(field).map(u64::from_le_bytes)
    }

    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        self.take_array(field).map(i16::from_le_bytes)
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(self.u64(field)? as i64)
    }

    pub fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u16(field)?);
        let raw = self.take(len, field)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::NotUtf8 { field })
    }

    /// A `bytes` field, as a zero-copy slice.
    pub fn bytes(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let (start, end) = self.bytes_range(field)?;
        Ok(self.buf.slice(start..end))
    }

    /// A `bytes` field's position in the body, for callers that split the
    /// body's own buffer (produce batches are mutated in place).
    pub fn bytes_range(&mut self, field: &'static str) -> Result<(usize, usize), DecodeError> {
        let len = self.u32(field)? as usize;
        self.take(len, field)?;
        Ok((self.pos - len, self.pos))
    }

    /// An array's element count, refused if that many elements of at least
    /// `min_element_bytes` cannot fit in what is left: a hostile count never
    /// makes the decoder allocate.
    pub fn array_len(
        &mut self,
        field: &'static str,
        min_element_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let count = self.u32(field)?;
        let needed = (count as usize).checked_mul(min_element_bytes.max(1));
        if needed.is_none_or(|n| n > self.remaining()) {
            return Err(DecodeError::ArrayTooLong {
                field,
                count,
                available: self.remaining(),
            });
        }
        Ok(count as usize)
    }

    /// Fails unless the whole body was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends primitives to a message body.
pub trait WireWrite {
    fn put_string(&mut self, s: &str);
    fn put_bytes_field(&mut self, b: &[u8]);
    fn put_array_len(&mut self, len: usize);
}

impl WireWrite for BytesMut {
    /// Strings longer than `u16::MAX` bytes are a caller bug: every string
    /// on the wire is a topic name (at most 249 bytes) or a short message.
    /// A longer one is cut at a character boundary, so that it still
    /// decodes (an error message may quote a client's long name).
    fn put_string(&mut self, s: &str) {
        let mut len = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        self.put_u16_le(len as u16);
        self.put_slice(&s.as_bytes()[..len]);
    }

    fn put_bytes_field(&mut self, b: &[u8]) {
        self.put_u32_le(b.len() as u32);
        self.put_slice(b);
    }

    fn put_array_len(&mut self, len: usize) {
        self.put_u32_le(len as u32);
    }
}

/// Smallest encoding of a string field (its length).
pub const STRING_MIN: usize = 2;
/// Smallest encoding of a bytes field (its length).
pub const BYTES_MIN: usize = 4;
/// Smallest encoding of an array (its count).
pub const ARRAY_MIN: usize = 4;
/// Smallest entry of the `array { string topic | array { item } }` shape
/// most bodies share: an empty name and no items.
pub const TOPIC_ENTRY_BYTES_MIN: usize = STRING_MIN + ARRAY_MIN;

/// Writes the shape most bodies share: `array { string topic | array {
/// item } }`.
pub fn put_topic_array<T>(
    buf: &mut BytesMut,
    topics: &[(String, Vec<T>)],
    mut put_item: impl FnMut(&mut BytesMut, &T),
) {
    buf.put_array_len(topics.len());
    for (name, items) in topics {
        buf.put_string(name);
        buf.put_array_len(items.len());
        for item in items {
            put_item(buf, item);
        }
    }
}

/// Reads `array { string topic | array { item } }`; each item takes at
/// least `item_min_bytes`.
pub fn read_topic_array<T>(
    r: &mut WireReader,
    item_min_bytes: usize,
    mut read_item: impl FnMut(&mut WireReader) -> Result<T, DecodeError>,
) -> Result<Vec<(String, Vec<T>)>, DecodeError> {
    let count = r.array_len("topics", TOPIC_ENTRY_BYTES_MIN)?;
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.string("topic")?;
        let n = r.array_len("partitions", item_min_bytes)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(read_item(r)?);
        }
        topics.push((name, items));
    }
    Ok(topics)
}
