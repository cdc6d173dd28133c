//! The `shardlog` command line. Subcommands arrive with the broker and client.

use clap::Parser;

/// shardlog: a durable, Kafka-style message broker (thread-per-core, io_uring).
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() {
    Cli::parse();
}
