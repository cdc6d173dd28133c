//! Command-line parsing and the commands. One file per command group.

mod serve;

use clap::{Parser, Subcommand};

/// shardlog: a durable, Kafka-style message broker (thread-per-core, io_uring).
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(serve::ServeArgs),
}

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
    }
}
