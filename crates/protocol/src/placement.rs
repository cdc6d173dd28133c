//! Partition ownership: which core owns a partition, by a documented,
//! stable rule (docs/PROTOCOL.md, "Partition ownership"):
//!
//! `core = (fnv1a_32(topic name bytes) + partition) % cores`
//!
//! FNV-1a 32-bit (offset basis 0x811C9DC5, prime 0x01000193) in wrapping
//! u32 arithmetic, then widened to 64 bits before the partition is added,
//! so the sum never wraps. The partitions of one topic go round-robin over the
//! cores, starting at a core that depends on the name, so partition 0 of
//! every topic does not land on core 0.

const FNV_OFFSET_BASIS: u32 = 0x811C_9DC5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a, 32-bit.
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The core that owns `partition` of `topic` on a broker with `cores` cores.
pub fn shard_for(topic: &str, partition: u32, cores: usize) -> usize {
    core_for_hash(fnv1a_32(topic.as_bytes()), partition, cores)
}

/// The rule on a topic's hash: widened, so `hash + partition` never wraps.
fn core_for_hash(hash: u32, partition: u32, cores: usize) -> usize {
    ((u64::from(hash) + u64::from(partition)) % cores as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_vectors_hold() {
        // docs/PROTOCOL.md, "Partition ownership".
        let table: [(&str, [usize; 4], [usize; 4]); 4] = [
            ("", [1, 0, 1, 0], [1, 2, 0, 1]),
            ("a", [0, 1, 0, 1], [1, 2, 0, 1]),
            ("events", [0, 1, 0, 1], [2, 0, 1, 2]),
            ("foobar", [0, 1, 0, 1], [1, 2, 0, 1]),
        ];
        for (name, two, three) in table {
            for p in 0..4u32 {
                assert_eq!(
                    shard_for(name, p, 2),
                    two[p as usize],
                    "{name:?} p{p} on 2 cores"
                );
                assert_eq!(
                    shard_for(name, p, 3),
                    three[p as usize],
                    "{name:?} p{p} on 3 cores"
                );
            }
        }
    }

    #[test]
    fn the_sum_is_widened_not_wrapped() {
        // The documented example: wrapping in 32 bits would give core 1.
        assert_eq!(core_for_hash(0xFFFF_FFF0, 32, 3), 2);
    }

    #[test]
    fn partitions_spread_round_robin_over_cores() {
        let cores = 4;
        let first = shard_for("orders", 0, cores);
        for p in 0..16u32 {
            assert_eq!(shard_for("orders", p, cores), (first + p as usize) % cores);
        }
    }
}
