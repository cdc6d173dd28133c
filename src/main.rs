//! The `shardlog` command line: the client commands (`topic`, `produce`,
//! `consume`, in `cli/`, over `shardlog::client`). The broker's `serve`
//! command arrives with the broker: see the marked spots below.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// shardlog: a durable, Kafka-style message broker (thread-per-core, io_uring).
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "Examples:
  shardlog topic create orders --partitions 8
  printf 'user-1:paid\\n' | shardlog produce orders --key-separator :
  shardlog consume orders --from earliest --format json

Every client command takes --broker HOST:PORT (default 127.0.0.1:9092).
Set RUST_LOG=debug for the client's own log on standard error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // ---- Broker commands: the `serve` subcommand goes here. ----
    // MERGE(serve): add `Serve(cli::serve::ServeArgs)` (or the broker's own
    // args type) as a variant here and its arm in `main` below.
    //
    // ---- Client commands ----
    /// Create, list, describe and delete topics.
    Topic(cli::topic::TopicArgs),
    /// Send records, one per line of standard input.
    Produce(cli::produce::ProduceArgs),
    /// Print records of a topic.
    Consume(cli::consume::ConsumeArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        // MERGE(serve): `Command::Serve(args) => ...,`
        Command::Topic(args) => cli::topic::run(args),
        Command::Produce(args) => cli::produce::run(args),
        Command::Consume(args) => cli::consume::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
