//! Consumer groups, sans-IO: where a group is coordinated, its name rule,
//! the membership state machine ([`membership`]), the assignment
//! strategies ([`assign`]) and the records of the committed-offsets log
//! ([`commit_log`]). The coordinator that runs them on a core lives in
//! `shard/coordinator/`; nothing here waits or touches a file.
//!
//! Placement: a group's committed offsets live in partition
//! `fnv1a_32(group) % OFFSETS_PARTITIONS` of the internal log
//! [`OFFSETS_LOG`], owned (like any partition) by core
//! `shard_for(OFFSETS_LOG, partition, cores)`; that core coordinates the
//! group. The partition does not depend on the core count, so a broker
//! restarted with other `--cores` finds every group's offsets.

pub mod assign;
pub mod classic;
pub mod commit_log;
pub mod membership;

use crate::config::OFFSETS_PARTITIONS;
use crate::router::{fnv1a_32, shard_for};

/// Topic names starting with this are refused: the broker's internal logs
/// ([`OFFSETS_LOG`]) use such names, and a user topic must never look like one.
pub const INTERNAL_PREFIX: &str = "__";

/// The internal log of committed offsets: `<data dir>/internal/<name>/<p>/`.
/// Not a topic: it is not in the topic map, so no topic API sees it.
pub const OFFSETS_LOG: &str = "__consumer_offsets";

/// The partition of the committed-offsets log that holds `group`.
pub fn offsets_partition(group: &str) -> u32 {
    fnv1a_32(group.as_bytes()) % OFFSETS_PARTITIONS
}

/// The core that coordinates `group` on a broker with `cores` cores.
pub fn coordinator_core(group: &str, cores: usize) -> usize {
    shard_for(OFFSETS_LOG, offsets_partition(group), cores)
}

pub use crate::protocol::names::validate_group_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_depends_on_the_name_only() {
        for group in ["a", "billing", "g-17"] {
            let p = offsets_partition(group);
            assert!(p < OFFSETS_PARTITIONS);
            assert_eq!(p, fnv1a_32(group.as_bytes()) % OFFSETS_PARTITIONS);
            for cores in 1..8 {
                assert_eq!(
                    coordinator_core(group, cores),
                    shard_for(OFFSETS_LOG, p, cores)
                );
            }
        }
    }

    #[test]
    fn the_documented_vectors_hold() {
        // docs/PROTOCOL.md, "The coordinator".
        assert_eq!(fnv1a_32(OFFSETS_LOG.as_bytes()), 0xda9a_6dc4);
        for (group, hash, partition, two, three) in [
            ("billing", 0x4170_00dc, 12, 0, 2),
            ("g", 0xe20c_2606, 6, 0, 2),
            ("orders-app", 0x2cf8_24e6, 6, 0, 2),
        ] {
            assert_eq!(fnv1a_32(group.as_bytes()), hash, "{group}");
            assert_eq!(offsets_partition(group), partition, "{group}");
            assert_eq!(coordinator_core(group, 2), two, "{group}");
            assert_eq!(coordinator_core(group, 3), three, "{group}");
        }
    }
}
