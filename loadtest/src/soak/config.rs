//! The soak's settings, as the command line of `shardlog-soak` (and
//! `scripts/soak.sh`) gives them, and the limits that bound its loops.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use shardlog::client::Acks;
use shardlog::units;

/// How long a started broker may take to write its ready file.
pub const BROKER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a broker may take to exit after SIGKILL.
pub const KILL_EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a broker may take to exit after SIGTERM before it gets SIGKILL
/// (its own shutdown drain is 5 s).
pub const TERM_EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to start a broker that exits before it serves, in a row.
pub const START_ATTEMPTS_MAX: u32 = 3;
/// How often the driver looks at the broker and the clock while waiting.
pub const TICK: Duration = Duration::from_millis(20);

/// When the broker acknowledges; the soak needs the offsets, so not `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SoakAcks {
    /// Written and fsync'd (the durable mode: nothing acknowledged may be lost).
    Durable,
    /// Written, fsync'd within the broker's flush interval.
    Written,
}

impl From<SoakAcks> for Acks {
    fn from(a: SoakAcks) -> Acks {
        match a {
            SoakAcks::Durable => Acks::Durable,
            SoakAcks::Written => Acks::Written,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct SoakArgs {
    /// How long the load runs, e.g. 90s, 30m, 1h (a bare number is seconds).
    #[arg(long, default_value = "60s", value_parser = units::duration_plain_seconds)]
    pub duration: Duration,
    /// SIGKILL the broker at a uniformly random moment within every interval of this length.
    #[arg(long, value_parser = units::duration_plain_seconds)]
    pub kill_every: Option<Duration>,
    /// SIGTERM the broker at a uniformly random moment within every interval of this length.
    #[arg(long, value_parser = units::duration_plain_seconds)]
    pub sigterm_every: Option<Duration>,
    /// Records per second, over all producers.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Partitions of the soak's topic.
    #[arg(long, default_value_t = 8)]
    pub partitions: u32,
    /// Producer threads (each with its own producer id).
    #[arg(long, default_value_t = 4)]
    pub producers: u32,
    /// Consumer threads reading during the load (each a share of the partitions).
    #[arg(long, default_value_t = 2)]
    pub consumers: u32,
    /// Consumers that long-poll a second topic nobody writes to (1 ms waits,
    /// many polls) for the whole run, then must read the one record per
    /// partition produced there at the end; 0 for none.
    #[arg(long, default_value_t = 1)]
    pub idle_consumers: u32,
    /// Bytes of each record's value (at least 24: the harness's header).
    #[arg(long, default_value = "256", value_parser = units::bytes_usize)]
    pub record_bytes: usize,
    /// When the broker acknowledges a produce.
    #[arg(long, value_enum, default_value = "durable")]
    pub acks: SoakAcks,
    /// Producers without idempotence (version 1 batches): a batch resent
    /// after a SIGKILL lost its answer may be written twice (`duplicates`).
    /// For comparison with the default, idempotent producers.
    #[arg(long)]
    pub no_idempotence: bool,
    /// Write soak.json, soak.md and the broker's log into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The broker's data directory; created by the soak (it must not exist
    /// or be empty) and removed at the end [default: ./tmp/soak-<pid>].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the data directory at the end (to inspect it after a failure).
    #[arg(long)]
    pub keep_data: bool,
    /// The shardlog binary to run [default: `shardlog` next to this program].
    #[arg(long)]
    pub broker_bin: Option<PathBuf>,
    /// Cores the broker runs on (`serve --cores`) [default: every CPU].
    #[arg(long)]
    pub cores: Option<usize>,
    /// One more argument for `shardlog serve` (repeat the flag for more),
    /// e.g. --broker-arg=--io-memory-bytes=1048576.
    #[arg(long = "broker-arg", allow_hyphen_values = true)]
    pub broker_args: Vec<String>,
    /// Seed of the random fault moments [default: from the clock; printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// After a restart, how long the first produce may take to be accepted.
    #[arg(long, default_value = "60s", value_parser = units::duration_plain_seconds)]
    pub recovery_timeout: Duration,
    /// After the load stops, how long producers may wait for their last answers.
    #[arg(long, default_value = "60s", value_parser = units::duration_plain_seconds)]
    pub drain_timeout: Duration,
    /// How long reading every partition back may take.
    #[arg(long, default_value = "300s", value_parser = units::duration_plain_seconds)]
    pub check_timeout: Duration,
    /// No live line every second.
    #[arg(long)]
    pub quiet: bool,
}

impl SoakArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.duration.is_zero() {
            return Err("--duration must be positive".into());
        }
        for (flag, every) in [
            ("--kill-every", self.kill_every),
            ("--sigterm-every", self.sigterm_every),
        ] {
            if every.is_some_and(|e| e < Duration::from_millis(100)) {
                return Err(format!("{flag} must be at least 100ms"));
            }
        }
        if !self.rate.is_finite() || self.rate <= 0.0 {
            return Err("--rate must be positive".into());
        }
        if self.partitions == 0 || self.producers == 0 {
            return Err("--partitions and --producers must be at least 1".into());
        }
        if self.rate / f64::from(self.producers) < 0.1 {
            return Err("--rate must give each producer at least 0.1 records/s".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations_take_units_and_a_plain_number_is_seconds() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: SoakArgs,
        }
        let args = Cli::parse_from(["soak", "--duration", "90", "--kill-every", "1.5m"]).args;
        assert_eq!(args.duration, Duration::from_secs(90));
        assert_eq!(args.kill_every, Some(Duration::from_secs(90)));
        assert_eq!(args.check_timeout, Duration::from_secs(300));
        assert!(Cli::try_parse_from(["soak", "--duration", "5 parsecs"]).is_err());
    }
}
