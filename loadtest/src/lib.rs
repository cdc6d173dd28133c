//! shardlog's load harness, as a library the `shardlog-loadtest` binary uses.
//!
//! # Layout
//!
//! - [`summary`]: what one run measured ([`summary::RunSummary`], written as
//!   `summary.json`), the latency histograms and the per-second timeline.
//! - [`report`]: turns a finished run into files a person reads: the `.hgrm`
//!   percentile distributions, `summary.json`, the SVG plots, and the text
//!   report printed at the end of a run.
//! - [`compare`]: two `summary.json` files side by side, with the ratio of
//!   every headline metric and whether it got better or worse.

pub mod compare;
pub mod report;
pub mod summary;
