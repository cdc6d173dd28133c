//! Fixed-bucket histograms, the shape Prometheus scrapes: a count per
//! bucket upper bound, a total count and a sum. Cheap enough to keep one
//! per partition (a few hundred bytes, no allocation per observation);
//! the precise percentiles of `shardlog stats` come from hdrhistogram in
//! [`super::window`] instead.

/// Bucket upper bounds (inclusive) for latencies, in microseconds.
pub const LATENCY_BOUNDS_US: &[u64] = &[
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Bucket upper bounds for the batches written by one group commit.
pub const BATCHES_PER_COMMIT_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Bucket upper bounds for the bytes written by one group commit.
pub const BYTES_PER_COMMIT_BOUNDS: &[u64] = &[
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
];

/// Counts of observations at or below each bound, plus the overflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    bounds: &'static [u64],
    /// Per bucket, not cumulative; one more than `bounds` (the +Inf bucket).
    counts: Vec<u64>,
    sum: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.counts[bucket] += 1;
        self.sum = self.sum.saturating_add(value);
    }

    pub fn bounds(&self) -> &'static [u64] {
        self.bounds
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// `(upper bound, observations at or below it)` for every bound, then
    /// `(None, count)` for +Inf: the cumulative series Prometheus expects.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        let mut running = 0;
        self.counts.iter().enumerate().map(move |(i, count)| {
            running += count;
            (self.bounds.get(i).copied(), running)
        })
    }

    /// Adds another histogram with the same bounds.
    pub fn merge(&mut self, other: &Histogram) {
        debug_assert_eq!(self.bounds, other.bounds);
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum = self.sum.saturating_add(other.sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let mut h = Histogram::new(&[10, 100]);
        for v in [0, 10, 11, 100, 101, 5_000] {
            h.record(v);
        }
        let cumulative: Vec<_> = h.cumulative().collect();
        assert_eq!(cumulative, vec![(Some(10), 2), (Some(100), 4), (None, 6)]);
        assert_eq!(h.count(), 6);
        assert_eq!(h.sum(), 5_222);
    }

    #[test]
    fn merge_adds_bucket_by_bucket() {
        let mut a = Histogram::new(&[10, 100]);
        let mut b = Histogram::new(&[10, 100]);
        a.record(5);
        b.record(50);
        b.record(500);
        a.merge(&b);
        let cumulative: Vec<_> = a.cumulative().collect();
        assert_eq!(cumulative, vec![(Some(10), 1), (Some(100), 2), (None, 3)]);
        assert_eq!(a.sum(), 555);
    }
}
