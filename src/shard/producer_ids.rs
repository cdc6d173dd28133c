//! Producer ids for idempotent producers (Kafka's InitProducerId, the
//! native InitProducer): unique over every core and across restarts,
//! without shared state or a file. An id is
//! `ms << 20 | core << 12 | counter`: the wall clock in milliseconds, the
//! core (`PRODUCER_ID_CORE_BITS`), and a per-core counter of
//! `PRODUCER_ID_COUNTER_BITS`. Past 4096 ids in one millisecond a core
//! borrows the next millisecond, so ids stay unique across a restart as
//! long as the wall clock does not step back past the last id handed out.
//! Must never block or touch another core.

use std::cell::Cell;

use crate::config::{PRODUCER_ID_CORE_BITS, PRODUCER_ID_COUNTER_BITS};

/// One core's producer-id allocator.
#[derive(Debug)]
pub struct ProducerIds {
    core: i64,
    /// The millisecond and the count handed out in it.
    last: Cell<(i64, i64)>,
}

impl ProducerIds {
    pub fn new(core: usize) -> Self {
        assert!(core < 1 << PRODUCER_ID_CORE_BITS, "core {core} fits the id");
        ProducerIds {
            core: core as i64,
            last: Cell::new((0, 0)),
        }
    }

    /// A new producer id (epoch 0) at wall-clock time `now_ms`.
    pub fn next(&self, now_ms: i64) -> i64 {
        let (last_ms, count) = self.last.get();
        let (ms, count) = if now_ms > last_ms {
            (now_ms, 0)
        } else if count + 1 < 1 << PRODUCER_ID_COUNTER_BITS {
            (last_ms, count + 1)
        } else {
            (last_ms + 1, 0)
        };
        self.last.set((ms, count));
        (ms << (PRODUCER_ID_CORE_BITS + PRODUCER_ID_COUNTER_BITS))
            | (self.core << PRODUCER_ID_COUNTER_BITS)
            | count
    }

    /// The id and epoch for a producer that asks again with its current
    /// ones (KIP-360): the same id with the next epoch, or a new id when
    /// the epoch is exhausted or the pair is not a valid one.
    pub fn bump(&self, producer_id: i64, producer_epoch: i16, now_ms: i64) -> (i64, i16) {
        if producer_id >= 0 && (0..i16::MAX - 1).contains(&producer_epoch) {
            (producer_id, producer_epoch + 1)
        } else {
            (self.next(now_ms), 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_cores_and_bursts() {
        let a = ProducerIds::new(0);
        let b = ProducerIds::new(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(a.next(1_700_000_000_000)));
            assert!(seen.insert(b.next(1_700_000_000_000)));
        }
        // A later start (a restart) never reuses an earlier id.
        let restarted = ProducerIds::new(0);
        let later = restarted.next(1_700_000_000_010);
        assert!(!seen.contains(&later));
        assert!(later > 0);
    }

    #[test]
    fn a_known_producer_gets_the_next_epoch() {
        let ids = ProducerIds::new(3);
        assert_eq!(ids.bump(77, 4, 1), (77, 5));
        let (id, epoch) = ids.bump(77, i16::MAX - 1, 1);
        assert_ne!(id, 77);
        assert_eq!(epoch, 0);
        assert_eq!(ids.bump(-1, -1, 1).1, 0);
    }
}
