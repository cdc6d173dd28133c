//! The network side of a core: accepting connections on the shared and
//! the per-core port, reading frames, dispatching requests, writing
//! responses in request order.
//!
//! - [`listener`]: accept loops and the connection limit.
//! - [`connection`]: one connection: frame reading with limits, ordered,
//!   pipelined responses, for either front door.
//! - [`native`]: the native protocol's front door.
//! - [`dispatch`]: a decoded request to its handler and its response bytes.
//! - [`stream`]: a TCP stream shared by a connection's reader and writer.
//! - [`metrics_http`]: the Prometheus metrics endpoint on core 0.

pub mod connection;
pub mod dispatch;
pub mod listener;
pub mod metrics_http;
pub mod native;
pub mod stream;
