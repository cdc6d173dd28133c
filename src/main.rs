//! The `shardlog` command line: `serve` runs the broker; the client
//! commands (`topic`, `produce`, `consume`) work over `shardlog::client`.
//! Each command lives in `cli/`.

mod cli;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// `--version`: the crate's version and the commit it was built from (as
/// the `shardlog_build_info` metric says them).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SHARDLOG_GIT_COMMIT"),
    ")"
);

/// shardlog: a durable, Kafka-style message broker (thread-per-core, io_uring).
#[derive(Parser)]
#[command(
    version = VERSION,
    about,
    after_help = "Examples:
  shardlog serve --data-dir ./data --listen 127.0.0.1:9392
  shardlog topic create orders --partitions 8
  printf 'user-1:paid\\n' | shardlog produce orders --key-separator :
  shardlog consume orders --from earliest --format json
  shardlog consume orders --group billing --count 100
  shardlog group describe billing

Every client command takes --broker HOST:PORT (or SHARDLOG_BROKER; default
127.0.0.1:9392). Durations take units (500ms, 30s, 2m, 7d) and sizes too
(64KiB, 1GiB); a plain number keeps the setting's unit.
Set RUST_LOG=debug for the client's own log on standard error; it is
coloured only on a terminal, and never with NO_COLOR set."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker.
    Serve(Box<cli::serve::ServeArgs>),
    /// Verify a stopped broker's data directory.
    Check(cli::check::CheckArgs),
    /// Create, list, describe and delete topics.
    Topic(cli::topic::TopicArgs),
    /// Send records, one per line of standard input.
    Produce(cli::produce::ProduceArgs),
    /// Print records of a topic.
    Consume(cli::consume::ConsumeArgs),
    /// Show per-core load live: requests/s, MB/s, p99, connections.
    Stats(cli::stats::StatsArgs),
    /// List, describe and reset consumer groups.
    Group(cli::group::GroupArgs),
}

fn main() -> ExitCode {
    let command = match Cli::try_parse() {
        Ok(cli) => cli.command,
        Err(err) => {
            let note = cli::value_from_environment(&err);
            let _ = err.print();
            if let Some(variable) = note {
                eprintln!("(the value comes from the environment variable {variable})");
            }
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    // The broker logs its startup and shutdown; client commands only warn.
    let default_level = if matches!(command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    shardlog::logging::init_stderr_logging(default_level);
    let result = match command {
        Command::Serve(args) => cli::serve::run(*args),
        Command::Check(args) => cli::check::run(args),
        Command::Topic(args) => cli::topic::run(args),
        Command::Produce(args) => cli::produce::run(args),
        Command::Consume(args) => cli::consume::run(args),
        Command::Stats(args) => cli::stats::run(args),
        Command::Group(args) => cli::group::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
