//! The tail cache: recent durable batches of every partition of one shard,
//! bounded in bytes, so consumers that keep up are served from memory
//! (glommio's DMA files have no page cache).
//!
//! Per partition the cache holds a contiguous run of batches ending at the
//! partition's visible end; eviction is oldest-first across the shard.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;

/// Identifies a partition log within its shard's cache.
pub type CacheKey = u64;

/// The cache as the partition logs of one shard share it.
pub type SharedTailCache = Rc<RefCell<TailCache>>;

struct CachedBatch {
    base_offset: u64,
    next_offset: u64,
    bytes: Bytes,
}

pub struct TailCache {
    bytes_max: usize,
    bytes_used: usize,
    /// Insertion order across partitions, for eviction.
    order: VecDeque<CacheKey>,
    partitions: HashMap<CacheKey, VecDeque<CachedBatch>>,
    next_key: CacheKey,
    hits: u64,
    misses: u64,
}

impl TailCache {
    pub fn new(bytes_max: usize) -> Self {
        TailCache {
            bytes_max,
            bytes_used: 0,
            order: VecDeque::new(),
            partitions: HashMap::new(),
            next_key: 0,
            hits: 0,
            misses: 0,
        }
    }

    pub fn shared(bytes_max: usize) -> SharedTailCache {
        Rc::new(RefCell::new(TailCache::new(bytes_max)))
    }

    /// A key for a newly opened partition log.
    pub fn register(&mut self) -> CacheKey {
        self.next_key += 1;
        self.next_key
    }

    pub fn bytes_used(&self) -> usize {
        self.bytes_used
    }

    /// (hits, misses) of [`Self::read`].
    pub fn hit_counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Adds a batch that just became visible. A batch that does not follow
    /// the cached run empties that partition's entries first, so the run
    /// stays contiguous.
    pub fn insert(&mut self, key: CacheKey, base_offset: u64, next_offset: u64, bytes: Bytes) {
        if bytes.len() > self.bytes_max {
            self.remove_partition(key);
            return;
        }
        let follows = self
            .partitions
            .get(&key)
            .and_then(|run| run.back())
            .is_none_or(|last| last.next_offset == base_offset);
        if !follows {
            self.remove_partition(key);
        }
        self.bytes_used += bytes.len();
        self.order.push_back(key);
        self.partitions
            .entry(key)
            .or_default()
            .push_back(CachedBatch {
                base_offset,
                next_offset,
                bytes,
            });
        self.evict();
    }

    fn evict(&mut self) {
        while self.bytes_used > self.bytes_max {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            // `order` and each partition's run are both oldest-first, so the
            // oldest entry overall is the front of its partition's run.
            let run = self
                .partitions
                .get_mut(&key)
                .expect("ordered entry is cached");
            let oldest = run.pop_front().expect("ordered entry is cached");
            self.bytes_used -= oldest.bytes.len();
            if run.is_empty() {
                self.partitions.remove(&key);
            }
        }
    }

    /// Drops every cached batch of a partition (closed, deleted, failed).
    pub fn remove_partition(&mut self, key: CacheKey) {
        if let Some(run) = self.partitions.remove(&key) {
            let freed: usize = run.iter().map(|b| b.bytes.len()).sum();
            self.bytes_used -= freed;
            self.order.retain(|&k| k != key);
        }
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` (the
    /// first batch always); `None` if the cache does not reach back that far.
    pub fn read(&mut self, key: CacheKey, offset: u64, max_bytes: usize) -> Option<Vec<Bytes>> {
        let run = self.partitions.get(&key);
        let covered = run
            .and_then(|r| r.front())
            .is_some_and(|b| b.base_offset <= offset);
        let Some(run) = run.filter(|_| covered) else {
            self.misses += 1;
            return None;
        };
        let first = run.partition_point(|b| b.next_offset <= offset);
        let mut batches = Vec::new();
        let mut total = 0usize;
        for batch in run.iter().skip(first) {
            if !batches.is_empty() && total + batch.bytes.len() > max_bytes {
                break;
            }
            total += batch.bytes.len();
            batches.push(batch.bytes.clone());
        }
        self.hits += 1;
        Some(batches)
    }
}
