//! Stats: every core's counters and last-second produce latency, for
//! `shardlog stats`. The request body is empty; the response is
//! `array<CoreStats>` (docs/PROTOCOL.md, "Stats").

use bytes::{BufMut, BytesMut};

use super::wire::{DecodeError, WireReader, WireWrite, ARRAY_MIN};

/// One core's counters: totals since the broker started (rates come from
/// two samples), plus the produce latency of the last whole second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    pub core: u16,
    pub connections: u32,
    pub requests: u64,
    pub produce_requests: u64,
    pub fetch_requests: u64,
    pub errors: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub produce_bytes: u64,
    pub fetch_bytes: u64,
    /// Produce requests answered in the last whole second, and their
    /// latency percentiles in microseconds (0 when there were none).
    pub window_produce_requests: u64,
    pub produce_p50_us: u64,
    pub produce_p99_us: u64,
    pub produce_max_us: u64,
}

/// Bytes of one encoded [`CoreStats`].
pub const CORE_STATS_BYTES: usize = 2 + 4 + 12 * 8;

impl CoreStats {
    /// A fixed size: [`CORE_STATS_BYTES`].
    pub const WIRE_BYTES_MIN: usize = CORE_STATS_BYTES;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsResponse {
    pub cores: Vec<CoreStats>,
}

impl StatsResponse {
    /// No cores.
    pub const WIRE_BYTES_MIN: usize = ARRAY_MIN;

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_array_len(self.cores.len());
        for c in &self.cores {
            buf.put_u16_le(c.core);
            buf.put_u32_le(c.connections);
            for value in [
                c.requests,
                c.produce_requests,
                c.fetch_requests,
                c.errors,
                c.bytes_received,
                c.bytes_sent,
                c.produce_bytes,
                c.fetch_bytes,
                c.window_produce_requests,
                c.produce_p50_us,
                c.produce_p99_us,
                c.produce_max_us,
            ] {
                buf.put_u64_le(value);
            }
        }
    }

    pub fn decode(r: &mut WireReader) -> Result<Self, DecodeError> {
        let count = r.array_len("cores", CoreStats::WIRE_BYTES_MIN)?;
        let mut cores = Vec::with_capacity(count);
        for _ in 0..count {
            cores.push(CoreStats {
                core: r.u16("core")?,
                connections: r.u32("connections")?,
                requests: r.u64("requests")?,
                produce_requests: r.u64("produce_requests")?,
                fetch_requests: r.u64("fetch_requests")?,
                errors: r.u64("errors")?,
                bytes_received: r.u64("bytes_received")?,
                bytes_sent: r.u64("bytes_sent")?,
                produce_bytes: r.u64("produce_bytes")?,
                fetch_bytes: r.u64("fetch_bytes")?,
                window_produce_requests: r.u64("window_produce_requests")?,
                produce_p50_us: r.u64("produce_p50_us")?,
                produce_p99_us: r.u64("produce_p99_us")?,
                produce_max_us: r.u64("produce_max_us")?,
            });
        }
        Ok(StatsResponse { cores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_truncation() {
        let response = StatsResponse {
            cores: (0..3)
                .map(|i| CoreStats {
                    core: i,
                    connections: 7,
                    requests: 1 << 40,
                    produce_p99_us: 830 + u64::from(i),
                    ..Default::default()
                })
                .collect(),
        };
        let mut buf = BytesMut::new();
        response.encode(&mut buf);
        assert_eq!(buf.len(), 4 + 3 * CORE_STATS_BYTES);
        let bytes = buf.freeze();
        let mut r = WireReader::new(bytes.clone());
        assert_eq!(StatsResponse::decode(&mut r).unwrap(), response);
        r.finish().unwrap();
        for cut in 0..bytes.len() {
            let mut r = WireReader::new(bytes.slice(..cut));
            assert!(StatsResponse::decode(&mut r).is_err(), "cut at {cut}");
        }
    }
}
