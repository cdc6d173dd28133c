//! shardlog's formats, sans-IO: the binary protocol (docs/PROTOCOL.md) and
//! the record-batch format shared by the wire and the disk
//! (docs/STORAGE.md), used by the broker and the client alike, so there is
//! one implementation of each. Nothing here reads a socket or a file, and
//! nothing here is Linux-only: the crate builds on any OS.
//!
//! - [`frame`]: length prefix, request and response headers, `check`.
//! - [`wire`]: primitive encodings and the bounds-checked reader.
//! - [`api_key`]: the API keys and their versions (a leaf: uses nothing
//!   else here); [`api`]: the decoded [`api::Request`].
//! - one module per API group: [`metadata`] (ApiVersions, Metadata),
//!   [`topics`], [`produce`], [`fetch`], [`offsets`], [`stats`],
//!   [`groups`], [`producer`] (InitProducer).
//! - [`batch`]: the record-batch format.
//! - [`error`]: the stable wire error codes.
//! - [`placement`]: which core owns a partition (the documented hash).
//! - [`names`]: topic and group name rules; [`limits`]: the formats' limits.

// Everything here decodes bytes from the network or the disk: a panic on
// bad input would take a core down with every connection on it. Errors
// are returned instead; the few functions that assume a length their
// caller checked say so with an `allow` and a reason.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod api;
pub mod api_key;
pub mod batch;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod groups;
pub mod limits;
pub mod metadata;
pub mod names;
pub mod offsets;
pub mod placement;
pub mod produce;
pub mod producer;
pub mod stats;
pub mod topics;
pub mod wire;

pub use api::Request;
pub use api_key::ApiKey;
pub use frame::{FrameCheck, RequestHeader, ResponseHeader};
pub use wire::{DecodeError, WireReader};
