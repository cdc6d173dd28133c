//! When the broker is killed: time is cut into intervals of `--kill-every`
//! (and, apart, of `--sigterm-every`) from the start of the run, and each
//! interval gets one fault at a uniformly random moment within it. A moment
//! that passes while the broker is still recovering from the previous fault
//! is skipped (and counted), never postponed.

use std::time::{Duration, Instant};

/// How the broker is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// SIGKILL: no chance to flush or close anything.
    Kill,
    /// SIGTERM: the broker's graceful shutdown.
    Term,
}

/// One planned fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub at: Instant,
    pub signal: Signal,
}

/// splitmix64: a small, seedable generator; good enough to spread fault
/// moments, and the same seed gives the same moments.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One kind of fault and where its schedule is.
#[derive(Debug)]
struct Series {
    signal: Signal,
    every: Duration,
    /// The next interval to plan.
    interval: u32,
    planned: Option<Instant>,
}

/// The fault plan of a run.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    series: Vec<Series>,
    rng: Rng,
    /// Faults whose moment passed while the broker was not up to take them.
    pub skipped: u64,
}

impl Schedule {
    pub fn new(
        start: Instant,
        kill_every: Option<Duration>,
        term_every: Option<Duration>,
        seed: u64,
    ) -> Schedule {
        let series = [(Signal::Kill, kill_every), (Signal::Term, term_every)]
            .into_iter()
            .filter_map(|(signal, every)| {
                Some(Series {
                    signal,
                    every: every?,
                    interval: 0,
                    planned: None,
                })
            })
            .collect();
        Schedule {
            start,
            series,
            rng: Rng::new(seed),
            skipped: 0,
        }
    }

    /// The earliest fault at or after `not_before`; `None` without faults.
    /// Faults planned before `not_before` are skipped.
    pub fn next(&mut self, not_before: Instant) -> Option<Fault> {
        for s in &mut self.series {
            loop {
                if let Some(at) = s.planned {
                    if at >= not_before {
                        break;
                    }
                    self.skipped += 1;
                }
                let from = self.start + s.every * s.interval;
                s.interval += 1;
                s.planned = Some(from + s.every.mul_f64(self.rng.unit()));
            }
        }
        let next = self
            .series
            .iter_mut()
            .min_by_key(|s| s.planned.expect("planned above"))?;
        let at = next.planned.take().expect("planned above");
        Some(Fault {
            at,
            signal: next.signal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fault_per_interval_at_a_moment_within_it() {
        let start = Instant::now();
        let every = Duration::from_secs(10);
        let mut schedule = Schedule::new(start, Some(every), None, 7);
        let mut not_before = start;
        for k in 0..100u32 {
            let fault = schedule.next(not_before).unwrap();
            assert_eq!(fault.signal, Signal::Kill);
            assert!(fault.at >= start + every * k && fault.at < start + every * (k + 1));
            not_before = fault.at;
        }
        assert_eq!(schedule.skipped, 0);
    }

    #[test]
    fn moments_passed_while_recovering_are_skipped() {
        let start = Instant::now();
        let every = Duration::from_secs(1);
        let mut schedule = Schedule::new(start, Some(every), None, 1);
        let fault = schedule.next(start + Duration::from_millis(5_500)).unwrap();
        assert!(fault.at >= start + Duration::from_millis(5_500));
        assert!(fault.at < start + every * 7);
        assert!((5..=6).contains(&schedule.skipped), "{}", schedule.skipped);
    }

    #[test]
    fn two_kinds_interleave_and_the_seed_repeats() {
        let start = Instant::now();
        let plan = |seed| {
            let mut schedule = Schedule::new(
                start,
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(5)),
                seed,
            );
            let mut faults = Vec::new();
            let mut at = start;
            while let Some(f) = schedule.next(at) {
                if f.at > start + Duration::from_secs(60) {
                    break;
                }
                at = f.at;
                faults.push(f);
            }
            faults
        };
        let faults = plan(42);
        let kills = faults.iter().filter(|f| f.signal == Signal::Kill).count();
        let terms = faults.len() - kills;
        assert_eq!((kills, terms), (20, 12));
        assert!(faults.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(faults, plan(42));
        assert_ne!(faults, plan(43));
        assert!(Schedule::new(start, None, None, 1).next(start).is_none());
    }
}
