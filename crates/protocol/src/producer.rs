//! InitProducer: an idempotent producer's id and epoch
//! (docs/PROTOCOL.md, "InitProducer (key 18)"). The producer stamps them,
//! with a per-partition sequence, into the version 2 batches it sends
//! (docs/STORAGE.md, "Producer block"), so the partition recognises a
//! retried batch.
//!
//! Request: `i64 producer_id | i16 producer_epoch`, both -1 for a new
//! producer; a producer's own pair asks for its next epoch.
//! Response: `i64 producer_id | i16 producer_epoch`, both at least 0.

use bytes::{BufMut, BytesMut};

use super::wire::{DecodeError, WireReader};

/// `producer_id` and `producer_epoch` of a request that asks for a new
/// producer.
pub const NO_PRODUCER: i64 = -1;
pub const NO_EPOCH: i16 = -1;

/// Bytes of an id and an epoch: `i64 | i16`.
const ID_AND_EPOCH_BYTES: usize = 8 + 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitProducerRequest {
    /// [`NO_PRODUCER`] for a new producer, else the id the broker gave.
    pub producer_id: i64,
    /// [`NO_EPOCH`] for a new producer, else the epoch the broker gave.
    pub producer_epoch: i16,
}

impl InitProducerRequest {
    /// A fixed size.
    pub const WIRE_BYTES_MIN: usize = ID_AND_EPOCH_BYTES;

    /// The request of a producer that has no id yet.
    pub fn new_producer() -> Self {
        InitProducerRequest {
            producer_id: NO_PRODUCER,
            producer_epoch: NO_EPOCH,
        }
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64_le(self.producer_id);
        buf.put_i16_le(self.producer_epoch);
    }

    /// Refuses values below -1: -1 is the only "none".
    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let producer_id = r.i64("producer_id")?;
        if producer_id < NO_PRODUCER {
            return Err(DecodeError::InvalidValue {
                field: "producer_id",
                value: producer_id,
            });
        }
        let producer_epoch = r.i16("producer_epoch")?;
        if producer_epoch < NO_EPOCH {
            return Err(DecodeError::InvalidValue {
                field: "producer_epoch",
                value: i64::from(producer_epoch),
            });
        }
        Ok(InitProducerRequest {
            producer_id,
            producer_epoch,
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitProducerResponse {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

impl InitProducerResponse {
    /// A fixed size.
    pub const WIRE_BYTES_MIN: usize = ID_AND_EPOCH_BYTES;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64_le(self.producer_id);
        buf.put_i16_le(self.producer_epoch);
    }

    /// Refuses negative values: a batch may not carry them
    /// (`BatchError::BadProducer`).
    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let producer_id = r.i64("producer_id")?;
        if producer_id < 0 {
            return Err(DecodeError::InvalidValue {
                field: "producer_id",
                value: producer_id,
            });
        }
        let producer_epoch = r.i16("producer_epoch")?;
        if producer_epoch < 0 {
            return Err(DecodeError::InvalidValue {
                field: "producer_epoch",
                value: i64::from(producer_epoch),
            });
        }
        Ok(InitProducerResponse {
            producer_id,
            producer_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn decode<T>(
        bytes: &[u8],
        decode: fn(&mut WireReader) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut r = WireReader::new(Bytes::copy_from_slice(bytes));
        let value = decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }

    #[test]
    fn round_trip_and_the_bytes() {
        let mut buf = BytesMut::new();
        InitProducerRequest::new_producer().encode(&mut buf);
        assert_eq!(&buf[..], &[0xff; 10]);
        assert_eq!(
            decode(&buf, InitProducerRequest::decode).unwrap(),
            InitProducerRequest::new_producer()
        );
        let response = InitProducerResponse {
            producer_id: 0x0102_0304_0506_0708,
            producer_epoch: 3,
        };
        let mut buf = BytesMut::new();
        response.encode(&mut buf);
        assert_eq!(&buf[..], &[8, 7, 6, 5, 4, 3, 2, 1, 3, 0]);
        assert_eq!(
            decode(&buf, InitProducerResponse::decode).unwrap(),
            response
        );
    }

    #[test]
    fn values_below_their_range_are_refused() {
        let request = |id: i64, epoch: i16| {
            let mut buf = BytesMut::new();
            InitProducerRequest {
                producer_id: id,
                producer_epoch: epoch,
            }
            .encode(&mut buf);
            decode(&buf, InitProducerRequest::decode)
        };
        assert!(request(-2, -1).is_err());
        assert!(request(-1, -2).is_err());
        assert!(request(7, 0).is_ok());
        let response = |id: i64, epoch: i16| {
            let mut buf = BytesMut::new();
            InitProducerResponse {
                producer_id: id,
                producer_epoch: epoch,
            }
            .encode(&mut buf);
            decode(&buf, InitProducerResponse::decode)
        };
        assert!(response(-1, 0).is_err());
        assert!(response(0, -1).is_err());
        assert!(response(0, 0).is_ok());
    }
}
