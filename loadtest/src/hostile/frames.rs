//! Raw protocol bytes for the hostile clients: well-formed request frames
//! built with the broker's own codec, and a bounded read of one response
//! header. Hostile clients talk TCP directly instead of through the client
//! library, because the library would never send what they send.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use shardlog::error::ErrorCode;
use shardlog::protocol::frame::{
    finish_frame, RequestHeader, ResponseHeader, LENGTH_BYTES, RESPONSE_HEADER_BYTES,
};
use shardlog::protocol::ApiKey;

/// How long a hostile client waits to connect, or for an answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// A response longer than this is not what any hostile request provokes.
const RESPONSE_BYTES_MAX: u32 = 1 << 20;

/// A complete ApiVersions request frame (no body), length prefix included.
pub fn api_versions_frame(correlation_id: u32) -> BytesMut {
    let mut buf = BytesMut::with_capacity(LENGTH_BYTES + 8);
    let start = RequestHeader {
        api_key: ApiKey::ApiVersions as u16,
        api_version: ApiKey::ApiVersions.versions().1,
        correlation_id,
    }
    .begin(&mut buf);
    finish_frame(&mut buf, start);
    buf
}

/// A TCP connection with no delay and bounded reads and writes.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// What the broker did after a hostile request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A whole response frame; its header.
    Response(ResponseHeader),
    /// The connection was closed (or reset) without a response.
    Closed,
    /// Nothing within the read timeout.
    Silent,
}

impl Answer {
    /// The error code of a response, if it was one.
    pub fn error_code(self) -> Option<ErrorCode> {
        match self {
            Answer::Response(header) => ErrorCode::from_u16(header.error_code),
            _ => None,
        }
    }
}

/// Reads one response frame from `stream`, within its read timeout.
pub fn read_answer(stream: &mut TcpStream) -> io::Result<Answer> {
    let mut prefix = [0u8; LENGTH_BYTES];
    match read_exact_or_end(stream, &mut prefix)? {
        Some(()) => {}
        None => return Ok(Answer::Closed),
    }
    let length = u32::from_le_bytes(prefix);
    if !(RESPONSE_HEADER_BYTES as u32..=RESPONSE_BYTES_MAX).contains(&length) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "response length {length} outside {RESPONSE_HEADER_BYTES}..={RESPONSE_BYTES_MAX}"
            ),
        ));
    }
    let mut frame = vec![0u8; LENGTH_BYTES + length as usize];
    frame[..LENGTH_BYTES].copy_from_slice(&prefix);
    match read_exact_or_end(stream, &mut frame[LENGTH_BYTES..])? {
        Some(()) => ResponseHeader::decode(&frame)
            .map(Answer::Response)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        None => Ok(Answer::Closed),
    }
}

/// `Some` once `buf` is full; `None` if the peer closed or reset first.
/// A read timeout is [`Answer::Silent`] for the caller: an `Err` of kind
/// `WouldBlock`/`TimedOut`.
fn read_exact_or_end(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<()>> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Ok(None),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some(()))
}

/// [`read_answer`], with a read timeout turned into [`Answer::Silent`].
pub fn answer_or_silence(stream: &mut TcpStream) -> io::Result<Answer> {
    match read_answer(stream) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(Answer::Silent)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_versions_frame_is_a_header_with_its_length() {
        let frame = api_versions_frame(7);
        assert_eq!(frame.len(), LENGTH_BYTES + 8);
        assert_eq!(&frame[..4], &8u32.to_le_bytes());
        let header = RequestHeader::decode(&frame).unwrap();
        assert_eq!(header.api_key, ApiKey::ApiVersions as u16);
        assert_eq!(header.correlation_id, 7);
    }
}
