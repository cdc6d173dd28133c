//! Turns a finished run into what a person reads: the `.hgrm` percentile
//! distributions, `summary.json`, the SVG plots and the text report. It only
//! reads what the run measured; it never measures.
//!
//! - `hgrm`: the percentile distribution text HdrHistogram's tools read.

mod hgrm;

pub use hgrm::{format_hgrm, parse_hgrm, write_hgrm, HgrmRow};
