//! Frames: the length prefix and the request and response headers
//! (docs/PROTOCOL.md, "Frames"). `check` says cheaply whether a whole frame
//! is buffered, so the connection reads exactly one frame at a time.
//!
//! ```text
//! request  = u32 length | u16 api_key | u16 api_version | u32 correlation_id | body
//! response = u32 length | u32 correlation_id | u16 error_code | body
//! ```
//! `length` counts the bytes after itself.

use bytes::{BufMut, BytesMut};

use crate::error::ErrorCode;
use crate::wire::{DecodeError, STRING_MIN};

/// Bytes of the length prefix.
pub const LENGTH_BYTES: usize = 4;
/// Bytes of a request header after the length prefix.
pub const REQUEST_HEADER_BYTES: usize = 8;
/// Bytes of a response header after the length prefix.
pub const RESPONSE_HEADER_BYTES: usize = 6;

/// What the buffered bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// More bytes are needed; `needed` is the whole frame's size if known.
    Incomplete { needed: Option<usize> },
    /// A whole frame of `len` bytes (prefix included) is buffered.
    Complete { len: usize },
    /// The length prefix exceeds the limit: close the connection.
    TooLarge { length: u32 },
    /// The length prefix is smaller than a header can be.
    TooSmall { length: u32 },
}

/// Checks the frame at the start of `buf` against `frame_bytes_max` (the
/// limit on `length`) and the smallest header that may follow.
pub fn check(buf: &[u8], frame_bytes_max: u32, header_bytes: usize) -> FrameCheck {
    let Some(&prefix) = buf.first_chunk::<LENGTH_BYTES>() else {
        return FrameCheck::Incomplete { needed: None };
    };
    let length = u32::from_le_bytes(prefix);
    if length > frame_bytes_max {
        return FrameCheck::TooLarge { length };
    }
    if (length as usize) < header_bytes {
        return FrameCheck::TooSmall { length };
    }
    let len = LENGTH_BYTES + length as usize;
    if buf.len() < len {
        FrameCheck::Incomplete { needed: Some(len) }
    } else {
        FrameCheck::Complete { len }
    }
}

/// The header of a request frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: u16,
    pub api_version: u16,
    pub correlation_id: u32,
}

impl RequestHeader {
    /// Decodes the header at the start of a frame (prefix included).
    /// `Truncated` if `frame` is shorter than a prefix and a header; the
    /// length prefix itself is not looked at ([`check`] judges it).
    pub fn decode(frame: &[u8]) -> Result<RequestHeader, DecodeError> {
        let [_, _, _, _, k0, k1, v0, v1, c0, c1, c2, c3] =
            *header_bytes::<{ LENGTH_BYTES + REQUEST_HEADER_BYTES }>(frame, "request header")?;
        Ok(RequestHeader {
            api_key: u16::from_le_bytes([k0, k1]),
            api_version: u16::from_le_bytes([v0, v1]),
            correlation_id: u32::from_le_bytes([c0, c1, c2, c3]),
        })
    }

    /// Starts a request frame: the length is patched by [`finish_frame`].
    pub fn begin(&self, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        buf.put_u32_le(0);
        buf.put_u16_le(self.api_key);
        buf.put_u16_le(self.api_version);
        buf.put_u32_le(self.correlation_id);
        start
    }
}

/// The header of a response frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub correlation_id: u32,
    /// Non-zero: the request failed as a whole; the body is a `string`
    /// message instead of the API's response body.
    pub error_code: u16,
}

impl ResponseHeader {
    /// Decodes the header at the start of a frame (prefix included).
    /// `Truncated` if `frame` is shorter than a prefix and a header.
    pub fn decode(frame: &[u8]) -> Result<ResponseHeader, DecodeError> {
        let [_, _, _, _, c0, c1, c2, c3, e0, e1] =
            *header_bytes::<{ LENGTH_BYTES + RESPONSE_HEADER_BYTES }>(frame, "response header")?;
        Ok(ResponseHeader {
            correlation_id: u32::from_le_bytes([c0, c1, c2, c3]),
            error_code: u16::from_le_bytes([e0, e1]),
        })
    }

    pub fn begin(&self, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        buf.put_u32_le(0);
        buf.put_u32_le(self.correlation_id);
        buf.put_u16_le(self.error_code);
        start
    }
}

/// The first `N` bytes of `frame`: the prefix and a header.
fn header_bytes<'a, const N: usize>(
    frame: &'a [u8],
    field: &'static str,
) -> Result<&'a [u8; N], DecodeError> {
    frame.first_chunk::<N>().ok_or(DecodeError::Truncated {
        field,
        needed: N,
        available: frame.len(),
    })
}

/// Writes the length prefix of the frame that starts at `start`.
pub fn finish_frame(buf: &mut BytesMut, start: usize) {
    let length = (buf.len() - start - LENGTH_BYTES) as u32;
    buf[start..start + LENGTH_BYTES].copy_from_slice(&length.to_le_bytes());
}

/// Smallest error response body: an empty `string` message.
pub const ERROR_BODY_BYTES_MIN: usize = STRING_MIN;

/// A whole error response: header with `code` and a message body.
pub fn error_response(correlation_id: u32, code: ErrorCode, message: &str) -> BytesMut {
    use super::wire::WireWrite;
    let mut buf = BytesMut::with_capacity(
        LENGTH_BYTES + RESPONSE_HEADER_BYTES + super::wire::STRING_MIN + message.len(),
    );
    let start = ResponseHeader {
        correlation_id,
        error_code: code as u16,
    }
    .begin(&mut buf);
    buf.put_string(message);
    finish_frame(&mut buf, start);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix shorter than a header is refused with `Truncated`; the
    /// whole header decodes to what `begin` wrote.
    #[test]
    fn headers_decode_or_refuse_short_input() {
        let request = RequestHeader {
            api_key: 0x0102,
            api_version: 0x0304,
            correlation_id: 0x0506_0708,
        };
        let mut buf = BytesMut::new();
        request.begin(&mut buf);
        let whole = LENGTH_BYTES + REQUEST_HEADER_BYTES;
        assert_eq!(buf.len(), whole);
        assert_eq!(RequestHeader::decode(&buf), Ok(request));
        for cut in 0..whole {
            assert_eq!(
                RequestHeader::decode(&buf[..cut]),
                Err(DecodeError::Truncated {
                    field: "request header",
                    needed: whole,
                    available: cut,
                })
            );
        }

        let response = ResponseHeader {
            correlation_id: 0x0102_0304,
            error_code: 0x0506,
        };
        let mut buf = BytesMut::new();
        response.begin(&mut buf);
        let whole = LENGTH_BYTES + RESPONSE_HEADER_BYTES;
        assert_eq!(buf.len(), whole);
        assert_eq!(ResponseHeader::decode(&buf), Ok(response));
        for cut in 0..whole {
            assert_eq!(
                ResponseHeader::decode(&buf[..cut]),
                Err(DecodeError::Truncated {
                    field: "response header",
                    needed: whole,
                    available: cut,
                })
            );
        }
    }
}
