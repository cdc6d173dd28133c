//! Riding out a broker that goes away, for the commands that run until
//! interrupted (`consume --follow`, `stats`): as Kafka consumers do, they
//! keep retrying with a growing pause instead of exiting, and say so once
//! per outage on standard error (not once per retry), then once more when
//! the broker answers again. Ctrl-C still ends them.
//!
//! Only failures a broker coming back would cure count (a refused or
//! broken connection, a timeout, the broker's retriable codes); anything
//! else is still an error of the command.

use std::time::{Duration, Instant};

use shardlog::client::ClientError;
use shardlog::config::{CLI_RECONNECT_BACKOFF_MS_MAX, CLI_RECONNECT_BACKOFF_MS_MIN};

use super::describe;

/// The state of one command's connection to its broker: answering, or
/// away since some moment.
pub struct Outage {
    broker: String,
    /// When the current outage began; `None`: the broker answers.
    since: Option<Instant>,
    /// The next pause before a retry.
    backoff: Duration,
}

impl Outage {
    pub fn new(broker: &str) -> Outage {
        Outage {
            broker: broker.to_string(),
            since: None,
            backoff: Duration::from_millis(CLI_RECONNECT_BACKOFF_MS_MIN),
        }
    }

    /// After a failed request: `Err` (the error, for the command to return)
    /// unless the broker may come back; else, the first time in this
    /// outage, one line on standard error, then a pause that doubles
    /// from retry to retry up to [`CLI_RECONNECT_BACKOFF_MS_MAX`].
    /// `interrupted` ends the pause early.
    pub fn failed(
        &mut self,
        err: ClientError,
        interrupted: impl Fn() -> bool,
    ) -> Result<(), ClientError> {
        if !err.is_retriable() {
            return Err(err);
        }
        if self.since.is_none() {
            self.since = Some(Instant::now());
            eprintln!(
                "shardlog: {}; retrying until it is back (Ctrl-C to stop)",
                describe(&err)
            );
        }
        tracing::debug!(%err, backoff_ms = self.backoff.as_millis() as u64, "retrying");
        let until = Instant::now() + self.backoff;
        while Instant::now() < until && !interrupted() {
            std::thread::sleep(Duration::from_millis(50).min(self.backoff));
        }
        self.backoff = (self.backoff * 2).min(Duration::from_millis(CLI_RECONNECT_BACKOFF_MS_MAX));
        Ok(())
    }

    /// After a request that succeeded: ends an outage, saying so. Returns
    /// whether one ended (the broker may have restarted).
    pub fn succeeded(&mut self) -> bool {
        self.backoff = Duration::from_millis(CLI_RECONNECT_BACKOFF_MS_MIN);
        let Some(since) = self.since.take() else {
            return false;
        };
        eprintln!(
            "shardlog: the broker at {} is back after {:.1} s",
            self.broker,
            since.elapsed().as_secs_f64()
        );
        true
    }
}
