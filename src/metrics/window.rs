//! Latency percentiles over the last whole second, for `shardlog stats`:
//! an hdrhistogram that is summed up and emptied once a second, lazily,
//! when something is recorded or read.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How long one window lasts.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Highest latency the window tracks, in microseconds (longer ones are
/// clamped to it).
const HIGHEST_US: u64 = 60_000_000;
/// Significant figures of the window's percentiles.
const SIGNIFICANT_FIGURES: u8 = 2;

/// One finished window: how many observations and their percentiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

pub struct LatencyWindow {
    current: Histogram<u64>,
    started: Instant,
    last: WindowSummary,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        LatencyWindow {
            current: Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_FIGURES)
                .expect("constant bounds are valid"),
            started: Instant::now(),
            last: WindowSummary::default(),
        }
    }
}

impl LatencyWindow {
    pub fn record(&mut self, now: Instant, latency: Duration) {
        self.roll(now);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.current.saturating_record(us.clamp(1, HIGHEST_US));
    }

    /// The last finished window.
    pub fn last(&mut self, now: Instant) -> WindowSummary {
        self.roll(now);
        self.last
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < WINDOW {
            return;
        }
        // A window that ended long ago says nothing about the last second.
        self.last = if elapsed < 2 * WINDOW {
            summarize(&self.current)
        } else {
            WindowSummary::default()
        };
        self.current.reset();
        self.started = now;
    }
}

fn summarize(h: &Histogram<u64>) -> WindowSummary {
    if h.is_empty() {
        return WindowSummary::default();
    }
    WindowSummary {
        count: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reports_once_it_has_ended() {
        let start = Instant::now();
        let mut w = LatencyWindow {
            started: start,
            ..Default::default()
        };
        for ms in 1..=100 {
            w.record(start, Duration::from_millis(ms));
        }
        assert_eq!(w.last(start).count, 0, "the window has not ended");
        let summary = w.last(start + WINDOW);
        assert_eq!(summary.count, 100);
        assert!((49_000..=51_000).contains(&summary.p50_us), "{summary:?}");
        assert!((98_000..=100_000).contains(&summary.p99_us), "{summary:?}");
        assert!((99_000..=101_000).contains(&summary.max_us), "{summary:?}");
    }

    #[test]
    fn a_stale_window_reports_nothing() {
        let start = Instant::now();
        let mut w = LatencyWindow {
            started: start,
            ..Default::default()
        };
        w.record(start, Duration::from_millis(5));
        assert_eq!(w.last(start + 3 * WINDOW), WindowSummary::default());
    }
}
