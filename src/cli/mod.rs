//! The commands of the `shardlog` binary, one file per command group:
//! [`serve`] runs the broker; the client commands [`topic`], [`produce`],
//! [`consume`] (and [`consume_group`] for `--group`), [`group`] and
//! [`stats`] each take `--broker HOST:PORT` and work through
//! [`shardlog::client`]. [`outage`] keeps the long-running ones
//! (`consume --follow`, `stats`) going while the broker is away.

pub mod check;
pub mod consume;
pub mod consume_group;
pub mod group;
pub mod outage;
pub mod produce;
pub mod serve;
pub mod stats;
pub mod topic;

use std::fmt;
use std::process::ExitCode;

use clap::Args;

use shardlog::client::config::DEFAULT_BOOTSTRAP;
use shardlog::client::ClientError;

/// The broker to talk to, shared by every client command.
#[derive(Args, Debug, Clone)]
pub struct BrokerArgs {
    /// Address of any broker listener (`HOST:PORT`).
    #[arg(long, value_name = "HOST:PORT", env = "SHARDLOG_BROKER", default_value = DEFAULT_BOOTSTRAP)]
    pub broker: String,
}

/// What a command failed with: printed as `error: ...`, exit code 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ClientError> for CliError {
    fn from(err: ClientError) -> Self {
        CliError(describe(&err))
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError(err.to_string())
    }
}

/// A client error as a user should read it: what failed and what to check.
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Connection { addr, source } => {
            format!("cannot reach the broker at {addr}: {source} (is it running? see --broker)")
        }
        ClientError::Timeout { addr, timeout_ms } => {
            format!("the broker at {addr} did not answer within {timeout_ms} ms")
        }
        other => other.to_string(),
    }
}

pub type CliResult = Result<ExitCode, CliError>;

/// For a refused value that clap names by its flag: the `SHARDLOG_*`
/// variable it came from, when it was not on the command line, so that
/// `SHARDLOG_FLUSH_INTERVAL_MS=3x` is not reported as a bad
/// `--flush-interval-ms` alone.
pub fn value_from_environment(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let Some(ContextValue::String(value)) = err.get(ContextKind::InvalidValue) else {
        return None;
    };
    if std::env::args()
        .skip(1)
        .any(|arg| arg.ends_with(value.as_str()))
    {
        return None;
    }
    std::env::vars()
        .find(|(name, given)| name.starts_with("SHARDLOG_") && given == value)
        .map(|(name, _)| name)
}
