//! Which partition a record goes to.
//!
//! **Keyed records**: `fnv1a_32(key) % partitions`, where `fnv1a_32` is the
//! 32-bit FNV-1a hash (offset basis `0x811C9DC5`, prime `0x01000193`, one
//! byte at a time: `h ^= byte; h = h.wrapping_mul(prime)`). This is a stable
//! contract: every client of any language that hashes the same key bytes
//! this way puts the record in the same partition, so records with one key
//! stay in order in one partition as long as the partition count does not
//! change. It is the same hash the broker uses to spread a topic's
//! partitions over its cores (`(fnv1a_32(topic) + partition) % cores`, the
//! sum taken in 64 bits).
//!
//! **Records without a key** are sticky: they all go to one partition until
//! the batch being filled for it is closed, then to the next partition
//! (round-robin). Batches stay large, and load still spreads evenly.

use std::collections::HashMap;

/// The 32-bit FNV-1a hash, the one the broker's ownership rule uses.
pub use shardlog_protocol::placement::fnv1a_32;

/// The partition of a keyed record: `fnv1a_32(key) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    fnv1a_32(key) % partitions
}

/// Chooses partitions: by key hash, or sticky round-robin without a key.
#[derive(Debug, Default)]
pub struct Partitioner {
    /// Per topic, the partition that keyless records go to now.
    sticky: HashMap<String, u32>,
}

impl Partitioner {
    pub fn new() -> Self {
        Partitioner::default()
    }

    /// The partition of a record with `key` in a topic of `partitions`.
    pub fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: u32) -> u32 {
        assert!(partitions > 0, "a topic has at least one partition");
        match key {
            Some(key) => partition_for_key(key, partitions),
            None => match self.sticky.get(topic) {
                Some(&p) if p < partitions => p,
                _ => {
                    self.sticky.insert(topic.to_string(), 0);
                    0
                }
            },
        }
    }

    /// The batch for `partition` of `topic` was closed: if keyless records
    /// were sticking to it, move them to the next partition.
    pub fn batch_closed(&mut self, topic: &str, partition: u32, partitions: u32) {
        if let Some(sticky) = self.sticky.get_mut(topic) {
            if *sticky == partition {
                *sticky = (partition + 1) % partitions.max(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed vectors: the first three are the published FNV-1a test
    /// vectors; changing any of these results moves keys between partitions.
    #[test]
    fn fnv1a_32_vectors() {
        assert_eq!(fnv1a_32(b""), 0x811C_9DC5);
        assert_eq!(fnv1a_32(b"a"), 0xE40C_292C);
        assert_eq!(fnv1a_32(b"foobar"), 0xBF9C_F968);
        assert_eq!(fnv1a_32(b"user-42"), 0x0260_73AB);
        assert_eq!(fnv1a_32(b"orders"), 0x325E_96EC);
    }

    #[test]
    fn keyed_partition_vectors() {
        assert_eq!(partition_for_key(b"", 3), 1);
        assert_eq!(partition_for_key(b"a", 8), 4);
        assert_eq!(partition_for_key(b"foobar", 8), 0);
        assert_eq!(partition_for_key(b"user-42", 3), 0);
        assert_eq!(partition_for_key(b"user-42", 8), 3);
        assert_eq!(partition_for_key(b"orders", 1), 0);
        let mut partitioner = Partitioner::new();
        for _ in 0..3 {
            assert_eq!(partitioner.partition("t", Some(b"user-42"), 8), 3);
        }
    }

    #[test]
    fn keyless_records_stick_until_their_batch_closes() {
        let mut partitioner = Partitioner::new();
        assert_eq!(partitioner.partition("t", None, 3), 0);
        assert_eq!(partitioner.partition("t", None, 3), 0);
        partitioner.batch_closed("t", 1, 3); // another partition's batch
        assert_eq!(partitioner.partition("t", None, 3), 0);
        partitioner.batch_closed("t", 0, 3);
        assert_eq!(partitioner.partition("t", None, 3), 1);
        assert_eq!(partitioner.partition("u", None, 3), 0, "per topic");
        partitioner.batch_closed("t", 1, 3);
        partitioner.batch_closed("t", 2, 3);
        assert_eq!(partitioner.partition("t", None, 3), 0, "wraps around");
        // The topic shrank under the partitioner (recreated): start over.
        partitioner.batch_closed("t", 0, 3);
        assert_eq!(partitioner.partition("t", None, 1), 0);
    }
}
