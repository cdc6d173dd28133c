//! `shardlog serve`: run the broker.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use std::process::ExitCode;

use super::{CliError, CliResult};

use shardlog::config::{BrokerConfig, LogConfig, Preallocation, ShardStorageConfig};
use shardlog::shard::runtime::{run as run_broker, Ready};

const EXAMPLES: &str = "Examples:
  shardlog serve                                   # ./data, 127.0.0.1:9092, all cores
  shardlog serve --data-dir /var/lib/shardlog --listen 0.0.0.0:9092 --cores 4
  RUST_LOG=shardlog=debug shardlog serve";

/// Run the broker: one pinned executor per core, each serving the shared
/// port and its own port.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Directory for topics, segments and the topic map.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Address every core listens on (SO_REUSEPORT).
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Cores to run on (CPUs 0..N); default: every CPU this process may use.
    #[arg(long)]
    cores: Option<usize>,
    /// Core i listens on BASE+i; default: an ephemeral port each, advertised in metadata.
    #[arg(long)]
    core_port_base: Option<u16>,
    /// Host advertised for the per-core ports; default: the --listen IP.
    #[arg(long)]
    advertise_host: Option<String>,
    /// Largest request frame in bytes.
    #[arg(long)]
    frame_bytes_max: Option<u32>,
    /// Largest record batch in bytes.
    #[arg(long)]
    batch_bytes_max: Option<u32>,
    /// Most simultaneous connections over all cores.
    #[arg(long)]
    connections_max: Option<usize>,
    /// Bytes of requests in flight per connection before the broker stops reading it.
    #[arg(long)]
    inflight_bytes_per_connection: Option<usize>,
    /// Bytes of requests in flight per core.
    #[arg(long)]
    inflight_bytes_per_core: Option<usize>,
    /// Default segment size of new topics, in bytes.
    #[arg(long)]
    segment_bytes: Option<u64>,
    /// An index entry every this many bytes of log.
    #[arg(long)]
    index_interval_bytes: Option<u32>,
    /// At most this many bytes of batches go into one group-commit write.
    #[arg(long)]
    write_bytes_max: Option<usize>,
    /// Segments are preallocated in steps of this many bytes.
    #[arg(long)]
    preallocate_bytes: Option<u64>,
    /// How segments are preallocated: zero-fill (faster commits) or fallocate.
    #[arg(long, value_parser = ["zero-fill", "fallocate"])]
    preallocation: Option<String>,
    /// Appends with acks=written are made durable within this many milliseconds.
    #[arg(long)]
    flush_interval_ms: Option<u64>,
    /// Per-core memory for the tail cache of recent batches, in bytes.
    #[arg(long)]
    tail_cache_bytes: Option<usize>,
    /// Size of one disk read for catch-up fetches, in bytes.
    #[arg(long)]
    read_chunk_bytes: Option<usize>,
    /// How often retention runs, in milliseconds.
    #[arg(long)]
    retention_check_interval_ms: Option<u64>,
    /// Memory each core registers with io_uring, in bytes.
    #[arg(long)]
    io_memory_bytes: Option<usize>,
    /// Write "HOST:PORT" of the shared listener to this file once serving (for scripts and tests).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

impl ServeArgs {
    fn config(&self) -> BrokerConfig {
        let defaults = BrokerConfig::default();
        let log_defaults = LogConfig::default();
        let storage_defaults = ShardStorageConfig::default();
        BrokerConfig {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            cores: self.cores.unwrap_or(defaults.cores),
            core_port_base: self.core_port_base,
            advertise_host: self.advertise_host.clone(),
            frame_bytes_max: self.frame_bytes_max.unwrap_or(defaults.frame_bytes_max),
            connections_max: self.connections_max.unwrap_or(defaults.connections_max),
            inflight_bytes_per_connection: self
                .inflight_bytes_per_connection
                .unwrap_or(defaults.inflight_bytes_per_connection),
            inflight_bytes_per_core: self
                .inflight_bytes_per_core
                .unwrap_or(defaults.inflight_bytes_per_core),
            log: LogConfig {
                segment_bytes_max: self.segment_bytes.unwrap_or(log_defaults.segment_bytes_max),
                batch_bytes_max: self.batch_bytes_max.unwrap_or(log_defaults.batch_bytes_max),
                preallocate_bytes: self
                    .preallocate_bytes
                    .unwrap_or(log_defaults.preallocate_bytes),
                preallocation: match self.preallocation.as_deref() {
                    Some("fallocate") => Preallocation::Fallocate,
                    _ => Preallocation::ZeroFill,
                },
                flush_interval_ms: self
                    .flush_interval_ms
                    .unwrap_or(log_defaults.flush_interval_ms),
                ..log_defaults
            },
            shard_storage: ShardStorageConfig {
                tail_cache_bytes: self
                    .tail_cache_bytes
                    .unwrap_or(storage_defaults.tail_cache_bytes),
                read_chunk_bytes: self
                    .read_chunk_bytes
                    .unwrap_or(storage_defaults.read_chunk_bytes),
            },
            retention_check_interval_ms: self
                .retention_check_interval_ms
                .unwrap_or(defaults.retention_check_interval_ms),
            io_memory_bytes: self.io_memory_bytes.unwrap_or(defaults.io_memory_bytes),
        }
    }
}

pub fn run(args: ServeArgs) -> CliResult {
    let ready_file = args.ready_file.clone();
    let mut ready_error = None;
    run_broker(args.config(), |ready: &Ready| {
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
    file.sync_all()?;
    std::fs::rename(&temp, path)
}
