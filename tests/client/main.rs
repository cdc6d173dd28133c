//! Client tests that need no broker: a fake broker thread on 127.0.0.1:0
//! speaking the shared codec (`fake_broker`), and raw servers that send
//! exactly the bytes a test needs.

mod cli;
mod connection;
mod consumer;
mod fake_broker;
mod producer;
