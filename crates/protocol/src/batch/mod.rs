//! The record-batch format, shared by the wire and the disk (docs/STORAGE.md).
//!
//! Sans-IO and zero-copy: decoding slices a `bytes::Bytes`, encoding writes
//! into one `BytesMut`. Every length read from a buffer is checked against
//! what remains before it is used. This module never touches a file or a
//! socket.
//!
//! - [`header`]: the batch header (40 bytes, 56 with a producer) and the CRC.
//! - [`validate`]: full validation of a batch from outside, and stamping.
//! - [`record`]: records inside a batch, and iteration over a run of batches.
//! - [`builder`]: encoding records into a batch.

pub mod builder;
pub mod error;
pub mod header;
pub mod record;
pub mod validate;

pub use builder::BatchBuilder;
pub use error::BatchError;
pub use header::{
    BatchHeader, ProducerFields, TimestampType, FORMAT_VERSION, FORMAT_VERSION_PRODUCER,
    HEADER_LEN, HEADER_LEN_PRODUCER,
};
pub use record::{Batch, Batches, Header, Record, Records};
pub use validate::{validate, ValidBatch};
