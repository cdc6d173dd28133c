//! The byte limit of one fetch response as its partitions are read in
//! request order (docs/PROTOCOL.md, Fetch, "Limits and the first batch"):
//! the one place that applies the keep-or-stop rule. Pure: the router
//! carries a budget from owner to owner, the partitions service spends it
//! while reading.

use bytes::Bytes;

/// What is left of one fetch response's byte limit as its partitions are
/// read in request order (docs/PROTOCOL.md, Fetch, "Limits and the first
/// batch"). The owner core of each run of partitions gets it, applies the
/// rule while reading, and the router carries what is left to the next run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchBudget {
    /// Bytes of records the response may still take (`max_bytes` minus
    /// what it holds).
    pub bytes_left: usize,
    /// The response holds no records yet: its first batch is kept whole,
    /// however large, so a consumer always makes progress.
    pub response_empty: bool,
}

impl FetchBudget {
    /// The budget of a response that holds nothing yet.
    pub fn new(max_bytes: usize) -> FetchBudget {
        FetchBudget {
            bytes_left: max_bytes,
            response_empty: true,
        }
    }

    /// No batch can be kept any more.
    pub fn is_spent(&self) -> bool {
        self.bytes_left == 0 && !self.response_empty
    }

    /// Counts batches that are in the response.
    pub fn spend(&mut self, bytes: usize) {
        if bytes > 0 {
            self.bytes_left = self.bytes_left.saturating_sub(bytes);
            self.response_empty = false;
        }
    }

    /// The batches of one partition's read (in offset order) that the
    /// response keeps, spending them: whole batches while they fit in what
    /// is left, and, after the partition's first, in its
    /// `partition_max_bytes`; the response's first batch is kept whatever
    /// its size. The first batch that is not kept ends the partition's
    /// records, since they must continue each other.
    pub fn keep(&mut self, batches: Vec<Bytes>, partition_max_bytes: usize) -> Vec<Bytes> {
        let mut kept = Vec::with_capacity(batches.len());
        let mut partition_bytes = 0usize;
        for batch in batches {
            let fits_response = batch.len() <= self.bytes_left;
            let fits_partition =
                kept.is_empty() || partition_bytes + batch.len() <= partition_max_bytes;
            if !(self.response_empty || (fits_response && fits_partition)) {
                break;
            }
            partition_bytes += batch.len();
            self.spend(batch.len());
            kept.push(batch);
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(sizes: &[usize]) -> Vec<Bytes> {
        sizes.iter().map(|&n| Bytes::from(vec![0u8; n])).collect()
    }

    fn sizes(kept: &[Bytes]) -> Vec<usize> {
        kept.iter().map(Bytes::len).collect()
    }

    #[test]
    fn the_response_first_batch_is_kept_whatever_the_limits() {
        let mut budget = FetchBudget::new(0);
        assert_eq!(sizes(&budget.keep(batches(&[500, 10]), 0)), [500]);
        assert!(budget.is_spent());
        assert_eq!(sizes(&budget.keep(batches(&[1]), 100)), Vec::<usize>::new());
    }

    #[test]
    fn a_partition_first_batch_needs_only_the_response_room() {
        let mut budget = FetchBudget::new(1000);
        budget.spend(100);
        // Past partition_max_bytes 0, but within what is left: kept; the
        // next one is held to partition_max_bytes.
        assert_eq!(sizes(&budget.keep(batches(&[300, 10]), 0)), [300]);
        assert_eq!(budget.bytes_left, 600);
        // Over what is left: not kept, and nothing after it either.
        assert_eq!(
            sizes(&budget.keep(batches(&[700, 5]), 1 << 20)),
            Vec::<usize>::new()
        );
        assert_eq!(budget.bytes_left, 600);
        // A later partition still gets what is left.
        assert_eq!(
            sizes(&budget.keep(batches(&[200, 300, 200]), 1 << 20)),
            [200, 300]
        );
        assert_eq!(budget.bytes_left, 100);
    }

    #[test]
    fn partition_max_bytes_bounds_the_batches_after_the_first() {
        let mut budget = FetchBudget::new(1 << 20);
        assert_eq!(
            sizes(&budget.keep(batches(&[100, 100, 100]), 250)),
            [100, 100]
        );
        assert_eq!(
            sizes(&budget.keep(batches(&[100, 100, 100]), 300)),
            [100, 100, 100]
        );
    }
}
