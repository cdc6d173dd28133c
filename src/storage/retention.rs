//! Which sealed segments retention deletes: by age (newest record older than
//! `retention_ms`) and by size (oldest first while the log is larger than
//! `retention_bytes`). Whole sealed segments only; never the active one.

/// What retention needs to know of one sealed segment, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    pub base_offset: u64,
    pub bytes: u64,
    pub max_timestamp_ms: i64,
}

/// How many of the oldest sealed segments to delete.
pub fn segments_to_delete(
    sealed: &[SegmentSummary],
    total_bytes: u64,
    now_ms: i64,
    retention_ms: Option<u64>,
    retention_bytes: Option<u64>,
) -> usize {
    let expired_before =
        retention_ms.map(|ms| now_ms.saturating_sub(ms.min(i64::MAX as u64) as i64));
    let mut excess_bytes = retention_bytes.map_or(0, |limit| total_bytes.saturating_sub(limit));
    let mut count = 0;
    for segment in sealed {
        let expired = expired_before.is_some_and(|limit| segment.max_timestamp_ms < limit);
        let over_size = excess_bytes > 0;
        if !expired && !over_size {
            break;
        }
        excess_bytes = excess_bytes.saturating_sub(segment.bytes);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(spec: &[(u64, i64)]) -> Vec<SegmentSummary> {
        spec.iter()
            .enumerate()
            .map(|(i, &(bytes, ts))| SegmentSummary {
                base_offset: i as u64 * 100,
                bytes,
                max_timestamp_ms: ts,
            })
            .collect()
    }

    #[test]
    fn age_deletes_the_expired_prefix_only() {
        let sealed = segments(&[(10, 100), (10, 200), (10, 50), (10, 900)]);
        // Cutoff at 1000 - 750 = 250: the first three are older, the fourth is not.
        assert_eq!(segments_to_delete(&sealed, 50, 1000, Some(750), None), 3);
        // An unexpired segment stops deletion even if an older one follows.
        let sealed = segments(&[(10, 900), (10, 50)]);
        assert_eq!(segments_to_delete(&sealed, 30, 1000, Some(750), None), 0);
    }

    #[test]
    fn size_deletes_oldest_until_under_the_limit() {
        let sealed = segments(&[(100, 0), (100, 0), (100, 0)]);
        // 350 total (50 in the active segment), limit 200: delete two.
        assert_eq!(segments_to_delete(&sealed, 350, 0, None, Some(200)), 2);
        assert_eq!(segments_to_delete(&sealed, 350, 0, None, Some(350)), 0);
        // Never more than the sealed segments, even if still over.
        assert_eq!(segments_to_delete(&sealed, 1000, 0, None, Some(1)), 3);
    }

    #[test]
    fn no_policy_deletes_nothing() {
        let sealed = segments(&[(100, 0)]);
        assert_eq!(segments_to_delete(&sealed, 100, i64::MAX, None, None), 0);
    }
}
