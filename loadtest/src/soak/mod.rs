//! The soak: `shardlog serve` as a child process, the verifying workload
//! ([`crate::verify`]) against it, and the broker killed (SIGKILL) or
//! stopped (SIGTERM) at random moments and restarted, while the producers
//! retry through the outages; at the end, the checker's verdict, the
//! recovery times and what was sampled every second.
//!
//! - [`config`]: the command line ([`config::SoakArgs`]) and the limits.
//! - [`broker`]: the broker child process, its ports and data dir.
//! - [`faults`]: when faults happen ([`faults::Schedule`]).
//! - [`idle`]: consumers long-polling a topic that receives nothing.
//! - [`probe`]: the recovery probe (restart until a produce is accepted).
//! - [`sampler`]: throughput, ack p99, RSS and open files every second.
//! - [`driver`]: one run, start to end ([`driver::run_soak`]).
//! - [`report`]: `soak.json`, `soak.md` and the printed report.

pub mod broker;
pub mod config;
pub mod driver;
pub mod faults;
pub mod idle;
pub mod probe;
pub mod report;
pub mod sampler;
