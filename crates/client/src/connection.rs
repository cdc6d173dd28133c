//! One blocking TCP connection to a broker listener: framing, correlation
//! ids, pipelining and timeouts, over `std::net` (no async runtime).
//!
//! Pipelining: [`Connection::send`] writes a request and returns at once;
//! [`Connection::receive`] reads the answer to the oldest request still in
//! flight. The broker answers a connection's requests in order, so a
//! response whose correlation id is not the oldest one's means the stream is
//! out of step: the connection reports a protocol error and must be dropped.
//!
//! Bodies are encoded and decoded by [`shardlog_protocol`]; this file only
//! moves frames.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::config::{ConnectionConfig, READ_CHUNK_BYTES, REQUEST_BUFFER_BYTES_INITIAL};
use super::error::{ClientError, ClientResult};
use shardlog_protocol::frame::{self, FrameCheck, LENGTH_BYTES, RESPONSE_HEADER_BYTES};
use shardlog_protocol::{ApiKey, RequestHeader, ResponseHeader, WireReader};

/// A request this connection sent and has not had an answer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub correlation_id: u32,
    pub api: ApiKey,
}

/// The answer to the oldest request in flight.
#[derive(Debug)]
pub struct Response {
    pub correlation_id: u32,
    pub api: ApiKey,
    /// The API's response body (the header is stripped).
    pub body: Bytes,
}

/// A connection to one listener.
pub struct Connection {
    addr: String,
    stream: TcpStream,
    read_buf: BytesMut,
    write_buf: BytesMut,
    next_correlation_id: u32,
    in_flight: VecDeque<InFlight>,
    request_timeout_ms: u64,
    response_bytes_max: u32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl Connection {
    /// Connects to `addr` (`HOST:PORT`), trying each address it resolves to
    /// within the connect timeout.
    pub fn connect(addr: &str, config: &ConnectionConfig) -> ClientResult<Connection> {
        let connection_error = |source| ClientError::Connection {
            addr: addr.to_string(),
            source,
        };
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address resolved");
        let mut stream = None;
        for socket_addr in addr.to_socket_addrs().map_err(connection_error)? {
            match TcpStream::connect_timeout(&socket_addr, connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let stream = stream.ok_or_else(|| connection_error(last_error))?;
        // Small requests must not wait for Nagle's timer.
        stream.set_nodelay(true).map_err(connection_error)?;
        let timeout = Some(Duration::from_millis(config.request_timeout_ms));
        stream.set_read_timeout(timeout).map_err(connection_error)?;
        stream
            .set_write_timeout(timeout)
            .map_err(connection_error)?;
        Ok(Connection {
            addr: addr.to_string(),
            stream,
            read_buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            write_buf: BytesMut::with_capacity(REQUEST_BUFFER_BYTES_INITIAL),
            next_correlation_id: 1,
            in_flight: VecDeque::new(),
            request_timeout_ms: config.request_timeout_ms,
            response_bytes_max: config.response_bytes_max,
        })
    }

    /// The address this connection was opened with.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Requests sent and not yet answered, oldest first.
    pub fn in_flight(&self) -> &VecDeque<InFlight> {
        &self.in_flight
    }

    /// Sends one request whose body `encode` writes, at the newest version
    /// this build knows; returns its correlation id without waiting for the
    /// answer.
    pub fn send(&mut self, api: ApiKey, encode: impl FnOnce(&mut BytesMut)) -> ClientResult<u32> {
        let (_, newest) = api.versions();
        self.send_at(api, newest, encode)
    }

    /// [`Connection::send`] at `api_version` (an older broker's version).
    pub fn send_at(
        &mut self,
        api: ApiKey,
        api_version: u16,
        encode: impl FnOnce(&mut BytesMut),
    ) -> ClientResult<u32> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        self.write_buf.clear();
        let start = RequestHeader {
            api_key: api as u16,
            api_version,
            correlation_id,
        }
        .begin(&mut self.write_buf);
        encode(&mut self.write_buf);
        frame::finish_frame(&mut self.write_buf, start);
        if let Err(e) = self.stream.write_all(&self.write_buf) {
            return Err(self.io_error(e));
        }
        self.in_flight.push_back(InFlight {
            correlation_id,
            api,
        });
        Ok(correlation_id)
    }

    /// Reads the answer to the oldest request in flight. `Err(Broker)` is
    /// that request's error response (the connection stays usable); any
    /// other error leaves the connection unusable.
    pub fn receive(&mut self) -> ClientResult<Response> {
        let Some(&expected) = self.in_flight.front() else {
            return Err(ClientError::Invalid(format!(
                "receive on {} with no request in flight",
                self.addr
            )));
        };
        let mut frame = self.read_frame()?;
        let header = ResponseHeader::decode(&frame)
            .map_err(|e| self.protocol_error(format!("response frame: {e}")))?;
        if header.correlation_id != expected.correlation_id {
            return Err(self.protocol_error(format!(
                "response has correlation id {}, the oldest request in flight has {}",
                header.correlation_id, expected.correlation_id
            )));
        }
        self.in_flight.pop_front();
        let body = frame
            .split_off(LENGTH_BYTES + RESPONSE_HEADER_BYTES)
            .freeze();
        if header.error_code != 0 {
            let mut r = WireReader::new(body);
            let message = r
                .string("error message")
                .unwrap_or_else(|_| "(no message)".to_string());
            return Err(ClientError::from_wire_code(
                &self.addr,
                header.error_code,
                message,
            ));
        }
        Ok(Response {
            correlation_id: header.correlation_id,
            api: expected.api,
            body,
        })
    }

    /// Sends one request and waits for its answer, decoded by `decode`
    /// (which must consume the whole body). Only with nothing in flight.
    pub fn call<T>(
        &mut self,
        api: ApiKey,
        encode: impl FnOnce(&mut BytesMut),
        decode: impl FnOnce(&mut WireReader) -> Result<T, shardlog_protocol::DecodeError>,
    ) -> ClientResult<T> {
        let (_, newest) = api.versions();
        self.call_at(api, newest, encode, decode)
    }

    /// [`Connection::call`] at `api_version`.
    pub fn call_at<T>(
        &mut self,
        api: ApiKey,
        api_version: u16,
        encode: impl FnOnce(&mut BytesMut),
        decode: impl FnOnce(&mut WireReader) -> Result<T, shardlog_protocol::DecodeError>,
    ) -> ClientResult<T> {
        if !self.in_flight.is_empty() {
            return Err(ClientError::Invalid(format!(
                "call on {} with {} requests in flight",
                self.addr,
                self.in_flight.len()
            )));
        }
        self.send_at(api, api_version, encode)?;
        let response = self.receive()?;
        self.decode_body(api, response.body, decode)
    }

    /// Decodes a response body of `api` that must be consumed whole.
    pub fn decode_body<T>(
        &self,
        api: ApiKey,
        body: Bytes,
        decode: impl FnOnce(&mut WireReader) -> Result<T, shardlog_protocol::DecodeError>,
    ) -> ClientResult<T> {
        decode_response(&self.addr, api, body, decode)
    }

    /// Reads whatever has already arrived, without waiting, and returns the
    /// answer to the oldest request if it is all there. Errors as
    /// [`Connection::receive`].
    pub fn try_receive(&mut self) -> ClientResult<Option<Response>> {
        if self.in_flight.is_empty() {
            return Ok(None);
        }
        if self.buffered_frame_len()?.is_none() {
            let set = |stream: &TcpStream, on| stream.set_nonblocking(on);
            set(&self.stream, true).map_err(|e| self.io_error(e))?;
            let filled = self.fill();
            set(&self.stream, false).map_err(|e| self.io_error(e))?;
            match filled {
                Err(ClientError::Timeout { .. }) => return Ok(None), // WouldBlock: nothing yet
                other => other?,
            }
            if self.buffered_frame_len()?.is_none() {
                return Ok(None);
            }
        }
        self.receive().map(Some)
    }

    /// The answer to the oldest request if all of it has already been
    /// read from the socket; never touches the socket (no system call).
    /// For a caller that drains what one blocking [`Connection::receive`]
    /// brought in. Errors as [`Connection::receive`].
    pub fn receive_buffered(&mut self) -> ClientResult<Option<Response>> {
        if self.in_flight.is_empty() || self.buffered_frame_len()?.is_none() {
            return Ok(None);
        }
        self.receive().map(Some)
    }

    /// Reads exactly one response frame (prefix included).
    fn read_frame(&mut self) -> ClientResult<BytesMut> {
        loop {
            if let Some(len) = self.buffered_frame_len()? {
                return Ok(self.read_buf.split_to(len));
            }
            self.fill()?;
        }
    }

    /// The length of the whole frame at the start of the read buffer, once
    /// it is all there.
    fn buffered_frame_len(&self) -> ClientResult<Option<usize>> {
        match frame::check(
            &self.read_buf,
            self.response_bytes_max,
            RESPONSE_HEADER_BYTES,
        ) {
            FrameCheck::Complete { len } => Ok(Some(len)),
            FrameCheck::Incomplete { .. } => Ok(None),
            FrameCheck::TooLarge { length } => Err(self.protocol_error(format!(
                "response of {length} bytes exceeds response_bytes_max {}",
                self.response_bytes_max
            ))),
            FrameCheck::TooSmall { length } => Err(self.protocol_error(format!(
                "response length {length} is smaller than a response header"
            ))),
        }
    }

    /// One read from the socket into the read buffer: at least a chunk, and
    /// the rest of a large frame in one go.
    fn fill(&mut self) -> ClientResult<()> {
        let needed = match frame::check(&self.read_buf, u32::MAX, 0) {
            FrameCheck::Incomplete { needed } => needed,
            _ => None,
        };
        let filled = self.read_buf.len();
        let want = needed
            .unwrap_or(LENGTH_BYTES)
            .max(filled + READ_CHUNK_BYTES);
        self.read_buf.resize(want, 0);
        let read = self.stream.read(&mut self.read_buf[filled..]);
        self.read_buf
            .truncate(filled + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => Err(self.io_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the broker closed the connection",
            ))),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(self.io_error(e)),
        }
    }

    fn io_error(&self, source: io::Error) -> ClientError {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout {
                addr: self.addr.clone(),
                timeout_ms: self.request_timeout_ms,
            },
            _ => ClientError::Connection {
                addr: self.addr.clone(),
                source,
            },
        }
    }

    fn protocol_error(&self, reason: String) -> ClientError {
        ClientError::Protocol {
            addr: self.addr.clone(),
            reason,
        }
    }
}

/// Decodes a response body of `api` from `addr` that must be consumed whole.
pub fn decode_response<T>(
    addr: &str,
    api: ApiKey,
    body: Bytes,
    decode: impl FnOnce(&mut WireReader) -> Result<T, shardlog_protocol::DecodeError>,
) -> ClientResult<T> {
    let mut r = WireReader::new(body);
    let what = format!("{api:?} response");
    let value = decode(&mut r).map_err(|e| ClientError::decode(addr, &what, e))?;
    r.finish()
        .map_err(|e| ClientError::decode(addr, &what, e))?;
    Ok(value)
}
