//! The client's errors: what the broker refused (with its stable
//! [`ErrorCode`] and message) kept apart from failures to talk to it at all.

use std::io;

use shardlog_protocol::batch::BatchError;
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::DecodeError;

/// Result of a client call.
pub type ClientResult<T> = Result<T, ClientError>;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker answered with an error code; `message` is its own text, or
    /// the client's description for an error found in a per-partition entry.
    #[error("{code}: {message}")]
    Broker { code: ErrorCode, message: String },
    /// The broker could not be reached, or the connection failed mid-request
    /// (reset, closed, refused). Whether a request in flight was applied is
    /// unknown.
    #[error("connection to {addr}: {source}")]
    Connection {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// No response within the request timeout; the connection is dropped.
    #[error("connection to {addr}: no response within {timeout_ms} ms")]
    Timeout { addr: String, timeout_ms: u64 },
    /// The broker sent something this client cannot understand: a body that
    /// does not decode, a response out of order, an unknown error code. The
    /// connection is dropped.
    #[error("protocol error from {addr}: {reason}")]
    Protocol { addr: String, reason: String },
    /// A fetched batch failed validation (CRC, lengths).
    #[error("corrupt batch from {topic}/{partition}: {source}")]
    CorruptBatch {
        topic: String,
        partition: u32,
        #[source]
        source: BatchError,
    },
    /// The caller asked for something the client refuses before sending:
    /// a bad setting, a record that can never fit a batch, a partition that
    /// the topic does not have.
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The broker's code, when the broker refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the connection the error came from must be dropped: it may be
    /// mid-frame, or its responses no longer match its requests.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            ClientError::Connection { .. }
                | ClientError::Timeout { .. }
                | ClientError::Protocol { .. }
        ) || self.code() == Some(ErrorCode::FrameTooLarge)
            || self.code() == Some(ErrorCode::TooManyConnections)
    }

    /// Whether sending the same request again may succeed: the broker's
    /// retriable codes ([`ErrorCode::is_retriable`]) and failed connections
    /// (reconnect and resend; the first attempt may have been applied).
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Broker { code, .. } => {
                code.is_retriable() || *code == ErrorCode::TooManyConnections
            }
            ClientError::Connection { .. } | ClientError::Timeout { .. } => true,
            ClientError::Protocol { .. }
            | ClientError::CorruptBatch { .. }
            | ClientError::Invalid(_) => false,
        }
    }

    /// A broker error with this code from a raw wire code; an unknown code
    /// is a protocol error.
    pub(crate) fn from_wire_code(addr: &str, code: u16, message: String) -> ClientError {
        match ErrorCode::from_u16(code) {
            Some(code) => ClientError::Broker { code, message },
            None => ClientError::Protocol {
                addr: addr.to_string(),
                reason: format!("unknown error code {code} ({message})"),
            },
        }
    }

    pub(crate) fn decode(addr: &str, what: &str, err: DecodeError) -> ClientError {
        ClientError::Protocol {
            addr: addr.to_string(),
            reason: format!("{what}: {err}"),
        }
    }
}

/// Turns a per-partition wire code into `Ok(())` or the broker's error,
/// naming the partition in the message.
pub(crate) fn check_partition_code(
    addr: &str,
    code: u16,
    topic: &str,
    partition: u32,
) -> ClientResult<()> {
    if code == ErrorCode::None as u16 {
        return Ok(());
    }
    let message = match ErrorCode::from_u16(code) {
        Some(known) => format!("{known} on {topic}/{partition}"),
        None => format!("on {topic}/{partition}"),
    };
    Err(ClientError::from_wire_code(addr, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_follows_the_wire_codes_and_connections() {
        let broker = |code| ClientError::Broker {
            code,
            message: String::new(),
        };
        assert!(broker(ErrorCode::StorageFull).is_retriable());
        assert!(broker(ErrorCode::ShuttingDown).is_retriable());
        assert!(!broker(ErrorCode::UnknownTopic).is_retriable());
        assert!(!broker(ErrorCode::UnknownTopic).breaks_connection());
        let refused = ClientError::Connection {
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert!(refused.is_retriable() && refused.breaks_connection());
        assert!(!ClientError::Invalid("x".into()).is_retriable());
    }

    #[test]
    fn unknown_wire_codes_are_protocol_errors() {
        let err = ClientError::from_wire_code("b:1", 999, "what".into());
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
        let err = check_partition_code("b:1", ErrorCode::UnknownPartition as u16, "t", 3)
            .expect_err("non-zero code");
        assert_eq!(err.code(), Some(ErrorCode::UnknownPartition));
        assert!(err.to_string().contains("t/3"), "{err}");
        assert!(check_partition_code("b:1", 0, "t", 3).is_ok());
    }
}
