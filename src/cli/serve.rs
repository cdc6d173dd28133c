//! `shardlog serve`: run the broker.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

use super::{CliError, CliResult};

use shardlog::config::{BrokerConfig, LogConfig, Preallocation, ShardStorageConfig};
use shardlog::shard::runtime::{run as run_broker, Ready};
use shardlog::units;

const EXAMPLES: &str = "Examples:
  shardlog serve            # ./data, native 127.0.0.1:9392, Kafka 127.0.0.1:9092, all cores
  shardlog serve --data-dir /var/lib/shardlog --listen 0.0.0.0:9392 \
      --kafka-listen 0.0.0.0:9092 --advertise-host 10.0.0.5 --cores 4
  shardlog serve --kafka-listen off                # the native protocol only
  shardlog serve --metrics-listen 127.0.0.1:9644    # Prometheus scrapes /metrics there
  shardlog serve --segment-bytes 256MiB --flush-interval-ms 20ms --min-free-bytes 5GiB
  RUST_LOG=shardlog=debug shardlog serve

Sizes take units (64KiB, 1GiB; 64KB is 64000) and durations too (500ms, 30s,
2m, 7d), in flags, SHARDLOG_* variables and the config file; a plain number
keeps the setting's unit: bytes for ..._bytes, milliseconds for ..._ms.";

/// Every setting of `serve`: from flags, `SHARDLOG_*` environment
/// variables, or the config file, in that order of precedence. The file's
/// keys are these names; unknown keys are refused, naming the key.
#[derive(Args, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory for topics, segments and the topic map [default: ./data].
    #[arg(long, env = "SHARDLOG_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Native protocol address every core listens on (SO_REUSEPORT) [default: 127.0.0.1:9392].
    #[arg(long, env = "SHARDLOG_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Cores to run on (CPUs 0..N) [default: every CPU this process may use].
    #[arg(long, env = "SHARDLOG_CORES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<usize>,
    /// Core i's own native port is BASE+i [default: the listen port + 1 + i; ephemeral when the listen port is 0].
    #[arg(long, env = "SHARDLOG_CORE_PORT_BASE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_port_base: Option<u16>,
    /// Host advertised for the per-core ports, native and Kafka [default: the listen IP].
    #[arg(long, env = "SHARDLOG_ADVERTISE_HOST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_host: Option<String>,
    /// Kafka clients' bootstrap address, or "off": core i is Kafka broker i on PORT+i (port 0: ephemeral ports) [default: 127.0.0.1:9092].
    #[arg(long, env = "SHARDLOG_KAFKA_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_listen: Option<KafkaListen>,
    /// Create a topic when a Kafka client produces to it or asks for its metadata, as Kafka does [default: true].
    #[arg(long, env = "SHARDLOG_AUTO_CREATE_TOPICS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_create_topics: Option<bool>,
    /// Partitions of a topic created automatically [default: 1].
    #[arg(long, env = "SHARDLOG_DEFAULT_PARTITIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_partitions: Option<u32>,
    /// Advertise only core 0 to Kafka clients, leader of every partition (other cores' partitions then hop across cores; for measuring the per-core brokers) [default: false].
    #[arg(long, env = "SHARDLOG_KAFKA_SINGLE_BROKER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_single_broker: Option<bool>,
    /// Largest request frame in bytes [default: 16MiB].
    #[arg(long, env = "SHARDLOG_FRAME_BYTES_MAX", value_parser = units::bytes_u32)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub frame_bytes_max: Option<u32>,
    /// Largest record batch in bytes [default: 1MiB].
    #[arg(long, env = "SHARDLOG_BATCH_BYTES_MAX", value_parser = units::bytes_u32)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_bytes_max: Option<u32>,
    /// Most simultaneous connections over all cores [default: 10000].
    #[arg(long, env = "SHARDLOG_CONNECTIONS_MAX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections_max: Option<usize>,
    /// Bytes of requests in flight per connection before the broker stops reading it [default: 64MiB].
    #[arg(long, env = "SHARDLOG_INFLIGHT_BYTES_PER_CONNECTION", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub inflight_bytes_per_connection: Option<usize>,
    /// Bytes of requests in flight per core [default: 512MiB].
    #[arg(long, env = "SHARDLOG_INFLIGHT_BYTES_PER_CORE", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub inflight_bytes_per_core: Option<usize>,
    /// Default segment size of new topics, in bytes [default: 1GiB].
    #[arg(long, env = "SHARDLOG_SEGMENT_BYTES", value_parser = units::bytes_u64)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment_bytes: Option<u64>,
    /// An index entry every this many bytes of log [default: 4KiB].
    #[arg(long, env = "SHARDLOG_INDEX_INTERVAL_BYTES", value_parser = units::bytes_u32)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub index_interval_bytes: Option<u32>,
    /// At most this many bytes of batches go into one group-commit write [default: 4MiB].
    #[arg(long, env = "SHARDLOG_WRITE_BYTES_MAX", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub write_bytes_max: Option<usize>,
    /// Segments are preallocated in steps of this many bytes [default: 8MiB].
    #[arg(long, env = "SHARDLOG_PREALLOCATE_BYTES", value_parser = units::bytes_u64)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub preallocate_bytes: Option<u64>,
    /// How segments are preallocated: auto (zeros ahead while rounds are small, fallocate for large ones), zero-fill or fallocate [default: auto].
    #[arg(long, env = "SHARDLOG_PREALLOCATION", value_parser = ["auto", "zero-fill", "fallocate"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preallocation: Option<String>,
    /// Free bytes kept on the data file system: appends that would go below it fail with StorageFull; 0: off [default: 1GiB].
    #[arg(long, env = "SHARDLOG_MIN_FREE_BYTES", value_parser = units::bytes_u64)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_free_bytes: Option<u64>,
    /// Appends with acks=written are made durable within this many milliseconds [default: 50ms].
    #[arg(long, env = "SHARDLOG_FLUSH_INTERVAL_MS", value_parser = units::milliseconds)]
    #[serde(
        default,
        deserialize_with = "units::de::option_milliseconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub flush_interval_ms: Option<u64>,
    /// Per-core memory for the tail cache of recent batches, in bytes [default: 64MiB].
    #[arg(long, env = "SHARDLOG_TAIL_CACHE_BYTES", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub tail_cache_bytes: Option<usize>,
    /// Size of one disk read for catch-up fetches, in bytes [default: 1MiB].
    #[arg(long, env = "SHARDLOG_READ_CHUNK_BYTES", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_chunk_bytes: Option<usize>,
    /// How often retention runs, in milliseconds [default: 1m].
    #[arg(long, env = "SHARDLOG_RETENTION_CHECK_INTERVAL_MS", value_parser = units::milliseconds)]
    #[serde(
        default,
        deserialize_with = "units::de::option_milliseconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub retention_check_interval_ms: Option<u64>,
    /// Memory each core registers with io_uring, in bytes [default: 10MiB].
    #[arg(long, env = "SHARDLOG_IO_MEMORY_BYTES", value_parser = units::bytes_usize)]
    #[serde(
        default,
        deserialize_with = "units::de::option_bytes_usize",
        skip_serializing_if = "Option::is_none"
    )]
    pub io_memory_bytes: Option<usize>,
    /// Serve Prometheus metrics at http://ADDR/metrics (port 0: any free port) [default: off].
    #[arg(long, env = "SHARDLOG_METRICS_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
}

impl Settings {
    /// Each setting from `self` where given, else from `lower`.
    fn or(self, lower: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            cores: self.cores.or(lower.cores),
            core_port_base: self.core_port_base.or(lower.core_port_base),
            advertise_host: self.advertise_host.or(lower.advertise_host),
            kafka_listen: self.kafka_listen.or(lower.kafka_listen),
            auto_create_topics: self.auto_create_topics.or(lower.auto_create_topics),
            default_partitions: self.default_partitions.or(lower.default_partitions),
            kafka_single_broker: self.kafka_single_broker.or(lower.kafka_single_broker),
            frame_bytes_max: self.frame_bytes_max.or(lower.frame_bytes_max),
            batch_bytes_max: self.batch_bytes_max.or(lower.batch_bytes_max),
            connections_max: self.connections_max.or(lower.connections_max),
            inflight_bytes_per_connection: self
                .inflight_bytes_per_connection
                .or(lower.inflight_bytes_per_connection),
            inflight_bytes_per_core: self
                .inflight_bytes_per_core
                .or(lower.inflight_bytes_per_core),
            segment_bytes: self.segment_bytes.or(lower.segment_bytes),
            index_interval_bytes: self.index_interval_bytes.or(lower.index_interval_bytes),
            write_bytes_max: self.write_bytes_max.or(lower.write_bytes_max),
            preallocate_bytes: self.preallocate_bytes.or(lower.preallocate_bytes),
            preallocation: self.preallocation.or(lower.preallocation),
            min_free_bytes: self.min_free_bytes.or(lower.min_free_bytes),
            flush_interval_ms: self.flush_interval_ms.or(lower.flush_interval_ms),
            tail_cache_bytes: self.tail_cache_bytes.or(lower.tail_cache_bytes),
            read_chunk_bytes: self.read_chunk_bytes.or(lower.read_chunk_bytes),
            retention_check_interval_ms: self
                .retention_check_interval_ms
                .or(lower.retention_check_interval_ms),
            io_memory_bytes: self.io_memory_bytes.or(lower.io_memory_bytes),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
        }
    }

    /// The broker config: these settings over the defaults.
    fn config(&self) -> Result<BrokerConfig, String> {
        let defaults = BrokerConfig::default();
        let log = LogConfig::default();
        let storage = ShardStorageConfig::default();
        let preallocation = match self.preallocation.as_deref() {
            None | Some("auto") => Preallocation::Auto,
            Some("zero-fill") => Preallocation::ZeroFill,
            Some("fallocate") => Preallocation::Fallocate,
            Some(other) => {
                return Err(format!(
                    "preallocation: {other:?} is not auto, zero-fill or fallocate"
                ))
            }
        };
        Ok(BrokerConfig {
            data_dir: self.data_dir.clone().unwrap_or(defaults.data_dir),
            listen: self.listen.unwrap_or(defaults.listen),
            cores: self.cores.unwrap_or(defaults.cores),
            core_port_base: self.core_port_base,
            advertise_host: self.advertise_host.clone(),
            kafka_listen: self.kafka_listen.map_or(defaults.kafka_listen, |k| k.0),
            auto_create_topics: self
                .auto_create_topics
                .unwrap_or(defaults.auto_create_topics),
            default_partitions: self
                .default_partitions
                .unwrap_or(defaults.default_partitions),
            kafka_single_broker: self
                .kafka_single_broker
                .unwrap_or(defaults.kafka_single_broker),
            frame_bytes_max: self.frame_bytes_max.unwrap_or(defaults.frame_bytes_max),
            connections_max: self.connections_max.unwrap_or(defaults.connections_max),
            inflight_bytes_per_connection: self
                .inflight_bytes_per_connection
                .unwrap_or(defaults.inflight_bytes_per_connection),
            inflight_bytes_per_core: self
                .inflight_bytes_per_core
                .unwrap_or(defaults.inflight_bytes_per_core),
            log: LogConfig {
                segment_bytes_max: self.segment_bytes.unwrap_or(log.segment_bytes_max),
                batch_bytes_max: self.batch_bytes_max.unwrap_or(log.batch_bytes_max),
                preallocate_bytes: self.preallocate_bytes.unwrap_or(log.preallocate_bytes),
                index_interval_bytes: self
                    .index_interval_bytes
                    .unwrap_or(log.index_interval_bytes),
                write_bytes_max: self.write_bytes_max.unwrap_or(log.write_bytes_max),
                preallocation,
                flush_interval_ms: self.flush_interval_ms.unwrap_or(log.flush_interval_ms),
                min_free_bytes: self.min_free_bytes.unwrap_or(log.min_free_bytes),
                ..log
            },
            shard_storage: ShardStorageConfig {
                tail_cache_bytes: self.tail_cache_bytes.unwrap_or(storage.tail_cache_bytes),
                read_chunk_bytes: self.read_chunk_bytes.unwrap_or(storage.read_chunk_bytes),
            },
            retention_check_interval_ms: self
                .retention_check_interval_ms
                .unwrap_or(defaults.retention_check_interval_ms),
            io_memory_bytes: self.io_memory_bytes.unwrap_or(defaults.io_memory_bytes),
            metrics_listen: self.metrics_listen,
        })
    }

    /// The effective settings, every one filled in, as the file would say them.
    fn effective(config: &BrokerConfig) -> Settings {
        Settings {
            data_dir: Some(config.data_dir.clone()),
            listen: Some(config.listen),
            cores: Some(config.cores),
            core_port_base: config.core_port_base,
            advertise_host: config.advertise_host.clone(),
            kafka_listen: Some(KafkaListen(config.kafka_listen)),
            auto_create_topics: Some(config.auto_create_topics),
            default_partitions: Some(config.default_partitions),
            kafka_single_broker: Some(config.kafka_single_broker),
            frame_bytes_max: Some(config.frame_bytes_max),
            batch_bytes_max: Some(config.log.batch_bytes_max),
            connections_max: Some(config.connections_max),
            inflight_bytes_per_connection: Some(config.inflight_bytes_per_connection),
            inflight_bytes_per_core: Some(config.inflight_bytes_per_core),
            segment_bytes: Some(config.log.segment_bytes_max),
            index_interval_bytes: Some(config.log.index_interval_bytes),
            write_bytes_max: Some(config.log.write_bytes_max),
            preallocate_bytes: Some(config.log.preallocate_bytes),
            preallocation: Some(
                match config.log.preallocation {
                    Preallocation::Auto => "auto",
                    Preallocation::ZeroFill => "zero-fill",
                    Preallocation::Fallocate => "fallocate",
                }
                .to_string(),
            ),
            min_free_bytes: Some(config.log.min_free_bytes),
            flush_interval_ms: Some(config.log.flush_interval_ms),
            tail_cache_bytes: Some(config.shard_storage.tail_cache_bytes),
            read_chunk_bytes: Some(config.shard_storage.read_chunk_bytes),
            retention_check_interval_ms: Some(config.retention_check_interval_ms),
            io_memory_bytes: Some(config.io_memory_bytes),
            metrics_listen: config.metrics_listen,
        }
    }
}

/// `--kafka-listen`: an address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KafkaListen(pub Option<SocketAddr>);

impl std::str::FromStr for KafkaListen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(KafkaListen(None));
        }
        text.parse()
            .map(|addr| KafkaListen(Some(addr)))
            .map_err(|_| format!("{text:?} is not an IP:PORT address or \"off\""))
    }
}

impl TryFrom<String> for KafkaListen {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<KafkaListen> for String {
    fn from(listen: KafkaListen) -> String {
        listen
            .0
            .map_or_else(|| "off".to_string(), |addr| addr.to_string())
    }
}

/// Run the broker: one pinned executor per core, each serving the shared
/// port and its own port.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: Settings,
    /// A TOML file with any of the settings above (keys as the flags, with
    /// underscores); flags and SHARDLOG_* variables override it.
    #[arg(long, env = "SHARDLOG_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective settings as TOML and exit, without serving (and
    /// without checking them against this machine's CPUs).
    #[arg(long)]
    print_config: bool,
    /// Write "HOST:PORT" of the shared listener to this file once serving,
    /// then "kafka HOST:PORT" (core 0's Kafka address, the bootstrap) when
    /// Kafka is on, and "metrics HOST:PORT" with --metrics-listen (for scripts and tests).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

impl ServeArgs {
    /// Flags and environment over the config file over the defaults,
    /// refused (naming the key) if the file has unknown keys or bad values
    /// or the result breaks a limit on any machine. Whether this machine
    /// can run it (cores against CPUs) is checked before serving only.
    fn config(&self) -> Result<BrokerConfig, String> {
        let file = match &self.config {
            None => Settings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        let config = self.settings.clone().or(file).config()?;
        config.validate_on_any_machine()?;
        Ok(config)
    }
}

pub fn run(args: ServeArgs) -> CliResult {
    let config = args.config().map_err(CliError)?;
    if args.print_config {
        let text =
            toml::to_string(&Settings::effective(&config)).map_err(|e| CliError(e.to_string()))?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    config.validate().map_err(CliError)?;
    let ready_file = args.ready_file.clone();
    let mut ready_error = None;
    shardlog::shard::panic::exit_process_on_panic();
    run_broker(config, |ready: &Ready| {
        if let Some(path) = &ready_file {
            if let Err(e) = write_ready_file(path, ready) {
                ready_error = Some(format!("writing {}: {e}", path.display()));
            }
        }
    })
    .map_err(CliError)?;
    match ready_error {
        Some(message) => Err(CliError(message)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Written whole, then renamed, so a reader never sees half of it.
fn write_ready_file(path: &PathBuf, ready: &Ready) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    writeln!(file, "{}", ready.listen)?;
    if let Some(kafka) = ready.kafka.first() {
        writeln!(file, "kafka {}:{}", kafka.host, kafka.port)?;
    }
    if let Some(metrics) = ready.metrics {
        writeln!(file, "metrics {metrics}")?;
    }
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct ServeOnly {
        #[command(flatten)]
        serve: ServeArgs,
    }

    /// Every tunable's help says its default, and the default it says is
    /// the one the broker uses.
    #[test]
    fn help_shows_every_default_as_the_broker_uses_it() {
        let defaults =
            toml::Value::try_from(Settings::effective(&BrokerConfig::default())).unwrap();
        let command = ServeOnly::command();
        let settings = command.get_arguments().filter(|arg| {
            !["config", "print_config", "ready_file"].contains(&arg.get_id().as_str())
        });
        for arg in settings {
            let key = arg.get_id().as_str();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let said = help
                .split("[default: ")
                .nth(1)
                .and_then(|rest| rest.split(']').next())
                .unwrap_or_else(|| panic!("--{key}'s help says no default: {help:?}"));
            let said_number = if key.ends_with("_ms") {
                units::parse_milliseconds(said).ok()
            } else {
                units::parse_bytes(said).ok()
            };
            match defaults.get(key) {
                Some(toml::Value::Integer(value)) if key != "cores" => {
                    assert_eq!(said_number, Some(*value as u64), "--{key}: {help:?}")
                }
                Some(toml::Value::String(value)) => {
                    assert_eq!(said, value, "--{key}: {help:?}")
                }
                _ => {}
            }
        }
    }
}
