//! Broker tests, black-box: the built `shardlog` binary serving on
//! `127.0.0.1:0` with real files under `tmp/`, spoken to over TCP with raw
//! protocol frames.

mod common;

mod admin;
mod budgets;
mod check;
mod cli_e2e;
mod client_e2e;
mod config;
mod conformance;
mod data;
mod groups;
mod hostile;
mod idempotence;
mod idle;
mod kafka;
mod lifecycle;
mod metrics;
mod panic;
