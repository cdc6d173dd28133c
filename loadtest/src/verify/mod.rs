//! The verifying workload and its checker: producers that write down what
//! became of every record, consumers that write down every record they
//! read during the run, a read-back of every partition at the end, and a
//! Jepsen-style checker over all three.
//!
//! - [`history`]: the records of a run ([`history::History`]).
//! - [`producer`]: one verifying producer thread.
//! - [`consumer`]: one verifying consumer thread.
//! - [`readback`]: every partition from its earliest offset to its end.
//! - [`checker`]: the anomalies ([`checker::check`]).

pub mod checker;
pub mod consumer;
pub mod history;
pub mod producer;
pub mod readback;
