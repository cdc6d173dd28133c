//! Idle connections: opened before the hostile phase, held without a byte
//! sent, and checked at the end (still open, closed, or refused by the
//! connection limit). Also raises this process's open-file limit so that
//! it can hold them.

use std::io;
use std::net::{SocketAddr, TcpStream};

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use serde::Serialize;

use super::frames::connect;

/// Descriptors this process needs besides the idle connections: the
/// producer, the other hostile clients, files.
const FDS_BESIDES_IDLE: u64 = 1024;

/// Raises RLIMIT_NOFILE to cover `idle` connections: the soft limit up to
/// the hard one, and the hard one too when allowed (root). Returns the
/// soft limit in force.
pub fn raise_nofile_limit(idle: usize) -> Result<u64, String> {
    let wanted = idle as u64 + FDS_BESIDES_IDLE;
    let current = getrlimit(Resource::Nofile);
    let soft = current.current.unwrap_or(u64::MAX);
    if soft >= wanted {
        return Ok(soft);
    }
    let hard = current.maximum.unwrap_or(u64::MAX);
    let limit = Rlimit {
        current: Some(wanted),
        maximum: Some(hard.max(wanted)),
    };
    setrlimit(Resource::Nofile, limit).map_err(|e| {
        format!(
            "raising RLIMIT_NOFILE to {wanted} for {idle} idle connections (hard limit {hard}): {e}; \
             run as root or raise `ulimit -n`"
        )
    })?;
    Ok(wanted)
}

/// What became of the idle connections.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IdleFigures {
    pub wanted: usize,
    pub opened: usize,
    pub connect_errors: usize,
    /// Still open when the hostile phase ended, nothing received.
    pub open_at_end: usize,
    /// Closed by the broker before the end.
    pub closed_by_broker: usize,
    /// The broker sent something (the TooManyConnections error) and closed.
    pub answered: usize,
    /// The first connect error, if any.
    pub first_error: Option<String>,
}

/// The idle connections, held open until dropped.
pub struct IdleConnections {
    streams: Vec<TcpStream>,
    figures: IdleFigures,
}

impl IdleConnections {
    /// Opens `count` connections to `addr`, one after another.
    pub fn open(addr: SocketAddr, count: usize) -> IdleConnections {
        let mut figures = IdleFigures {
            wanted: count,
            ..IdleFigures::default()
        };
        let mut streams = Vec::with_capacity(count);
        for _ in 0..count {
            match connect(addr) {
                Ok(stream) => streams.push(stream),
                Err(e) => {
                    figures.connect_errors += 1;
                    figures.first_error.get_or_insert(e.to_string());
                }
            }
        }
        figures.opened = streams.len();
        IdleConnections { streams, figures }
    }

    /// Looks at every connection without blocking: open and silent, closed,
    /// or answered.
    pub fn check(&mut self) -> IdleFigures {
        let mut figures = self.figures.clone();
        for stream in &mut self.streams {
            match peek(stream) {
                Ok(Some(0)) => figures.closed_by_broker += 1,
                Ok(Some(_)) => figures.answered += 1,
                Ok(None) => figures.open_at_end += 1,
                Err(_) => figures.closed_by_broker += 1,
            }
        }
        figures
    }
}

/// `Some(bytes readable)` (0: closed), or `None` when nothing is there yet.
fn peek(stream: &mut TcpStream) -> io::Result<Option<usize>> {
    stream.set_nonblocking(true)?;
    let mut byte = [0u8; 1];
    let result = match stream.peek(&mut byte) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    };
    stream.set_nonblocking(false)?;
    result
}
