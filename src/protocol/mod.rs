//! The binary protocol, sans-IO (docs/PROTOCOL.md): frames, primitives and
//! every request and response body, shared by the server and the client so
//! there is one implementation of the format. Nothing here reads a socket.
//!
//! - [`frame`]: length prefix, request and response headers, `check`.
//! - [`wire`]: primitive encodings and the bounds-checked reader.
//! - [`api`]: API keys, versions, and the decoded [`api::Request`].
//! - one module per API group: [`metadata`] (ApiVersions, Metadata),
//!   [`topics`], [`produce`], [`fetch`], [`offsets`], [`stats`],
//!   [`groups`].

pub mod api;
pub mod fetch;
pub mod frame;
pub mod groups;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod stats;
pub mod topics;
pub mod wire;

pub use api::{ApiKey, Request};
pub use frame::{FrameCheck, RequestHeader, ResponseHeader};
pub use wire::{DecodeError, WireReader};
