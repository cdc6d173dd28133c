//! The workload: every setting of a run, as the command line gives it.
//! `summary.json` records it typed (`workload_settings`), with the same
//! names as the flags (`--record-bytes` is `record_bytes`).

use std::time::Duration;

use clap::{Args, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use shardlog::client::Acks;
use shardlog::units;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcksArg {
    None,
    Written,
    Durable,
}

impl From<AcksArg> for Acks {
    fn from(a: AcksArg) -> Acks {
        match a {
            AcksArg::None => Acks::None,
            AcksArg::Written => Acks::Written,
            AcksArg::Durable => Acks::Durable,
        }
    }
}

/// Which protocol, and so which client, drives the broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// shardlog's own protocol, through the project's client.
    #[default]
    Native,
    /// The Kafka protocol through librdkafka (the `rdkafka` crate):
    /// shardlog's Kafka port, Apache Kafka or Redpanda.
    Kafka,
}

/// `--broker` when not given: shardlog's default native listener.
pub const BROKER_DEFAULT: &str = "127.0.0.1:9392";
/// `--broker` when not given with `--protocol kafka`: shardlog's default
/// Kafka listener (and Kafka's usual port).
pub const KAFKA_BROKER_DEFAULT: &str = "127.0.0.1:9092";

/// Most topics one run drives.
pub const TOPICS_MAX: u32 = 1_000;
/// Most produce requests one pipelined producer keeps in flight
/// (`--pipeline`): the client's own cap on requests in flight per
/// connection, `shardlog::client` `IN_FLIGHT_MAX`.
pub const PIPELINE_MAX: usize = 1_024;

/// Where consumers start reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsumersFrom {
    /// Where the partitions end when the run starts: only this run's
    /// records, read while they are produced (mostly from the cache).
    #[default]
    Tail,
    /// The oldest record kept: the topic's backlog first (catch-up reads
    /// from disk), then this run's records.
    Earliest,
}

/// Every field has the command line's default (see [`Default`]), so a
/// summary or a file that leaves a setting out means that default.
#[derive(Args, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Broker address (any listener); with --protocol kafka, the
    /// bootstrap server (shardlog's Kafka port, or any Kafka broker), and
    /// 127.0.0.1:9092 (shardlog's default Kafka port) when not given.
    #[arg(long, env = "SHARDLOG_BROKER", default_value = BROKER_DEFAULT)]
    pub broker: String,
    /// `native` (shardlog's protocol and client) or `kafka` (the Kafka
    /// protocol through librdkafka: shardlog's Kafka port, Apache Kafka,
    /// Redpanda).
    #[arg(long, value_enum, default_value = "native")]
    pub protocol: Protocol,
    /// Topic to drive; created if missing.
    #[arg(long, default_value = "loadtest")]
    pub topic: String,
    /// Topics to drive, each with --partitions partitions: --topic itself
    /// when 1, else <topic>-0 .. <topic>-<N-1>. Records go round-robin
    /// over every partition of every topic.
    #[arg(long, default_value_t = 1)]
    pub topics: u32,
    /// Partitions of the topic when the harness creates it.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Producer threads.
    #[arg(long, default_value_t = 4)]
    pub producers: u32,
    /// Consumer threads (each reads a share of the partitions).
    #[arg(long, default_value_t = 4)]
    pub consumers: u32,
    /// Where consumers start: `tail` (this run's records only) or
    /// `earliest` (the topic's backlog first: catch-up reads). With
    /// --producers 0, a catch-up read ends when the backlog is read or
    /// --duration is up.
    #[arg(long, value_enum, default_value = "tail")]
    pub consumers_from: ConsumersFrom,
    /// Bytes of each record's value (at least 24: the harness's header).
    #[arg(long, default_value = "1024", value_parser = units::bytes_usize)]
    #[serde(deserialize_with = "units::de::bytes_usize")]
    pub record_bytes: usize,
    /// Bytes of each record's key; 0 for no key (partitions round-robin).
    #[arg(long, default_value = "0", value_parser = units::bytes_usize)]
    #[serde(deserialize_with = "units::de::bytes_usize")]
    pub key_bytes: usize,
    /// Largest batch the client builds, in bytes.
    #[arg(long, default_value = "256KiB", value_parser = units::bytes_u32)]
    #[serde(deserialize_with = "units::de::bytes_u32")]
    pub batch_bytes: u32,
    /// How long the client waits to fill a batch, in milliseconds.
    #[arg(long, default_value = "1", value_parser = units::milliseconds)]
    #[serde(deserialize_with = "units::de::milliseconds")]
    pub linger_ms: u64,
    /// When the broker acknowledges.
    #[arg(long, value_enum, default_value = "durable")]
    pub acks: AcksArg,
    /// Measure this long after warmup: 30s, 2m, 1h (a plain number is seconds).
    #[arg(long, default_value = "10", value_parser = units::seconds)]
    #[serde(deserialize_with = "units::de::seconds")]
    pub duration: f64,
    /// Stop after this many records in total instead (warmup included).
    #[arg(long)]
    pub records: Option<u64>,
    /// Load before measuring starts: 2s, 500ms (a plain number is seconds).
    #[arg(long, default_value = "2", value_parser = units::seconds)]
    #[serde(deserialize_with = "units::de::seconds")]
    pub warmup: f64,
    /// Closed loop: most records sent and not yet acknowledged, per producer.
    #[arg(long, default_value_t = 4096)]
    pub inflight: usize,
    /// Open loop at this many records/s in total; latency counts from each
    /// record's intended send time (coordinated omission corrected).
    #[arg(long)]
    pub rate: Option<f64>,
    /// One produce request per record, N requests in flight per producer
    /// (redis-benchmark -P N): each record is its own batch and request,
    /// sent on the owning core's connection without the client's batching;
    /// not idempotent. Replaces --inflight, --batch-bytes and
    /// --linger-ms; with --rate, at most N in flight still. Native
    /// protocol only.
    #[arg(long, value_name = "N")]
    pub pipeline: Option<usize>,
}

impl Default for Workload {
    /// The command line's defaults: one source for them, the `#[arg]`s.
    fn default() -> Self {
        #[derive(Parser)]
        struct DefaultsOnly {
            #[command(flatten)]
            workload: Workload,
        }
        DefaultsOnly::parse_from(["shardlog-loadtest"]).workload
    }
}

impl Workload {
    pub fn validate(&self) -> Result<(), String> {
        if self.producers == 0 && self.consumers == 0 {
            return Err("nothing to run: --producers and --consumers are both 0".into());
        }
        if self.producers == 0 && self.consumers_from == ConsumersFrom::Tail {
            return Err(
                "nothing to read: --producers 0 with consumers at the tail; \
                 read a topic's backlog with --consumers-from earliest"
                    .into(),
            );
        }
        if !(1..=TOPICS_MAX).contains(&self.topics) {
            return Err(format!("--topics must be 1 to {TOPICS_MAX}"));
        }
        if self.partitions == 0 {
            return Err("--partitions must be at least 1".into());
        }
        if self.inflight == 0 {
            return Err("--inflight must be at least 1".into());
        }
        if !self.duration.is_finite()
            || self.duration <= 0.0
            || !self.warmup.is_finite()
            || self.warmup < 0.0
        {
            return Err("--duration must be positive and --warmup not negative".into());
        }
        if let Some(rate) = self.rate {
            if !rate.is_finite() || rate <= 0.0 {
                return Err("--rate must be positive".into());
            }
        }
        if let Some(pipeline) = self.pipeline {
            if !(1..=PIPELINE_MAX).contains(&pipeline) {
                return Err(format!("--pipeline must be 1 to {PIPELINE_MAX}"));
            }
            if self.protocol == Protocol::Kafka {
                return Err(
                    "--pipeline drives shardlog's own protocol only: one request \
                     per record needs the raw connection, which librdkafka does not give \
                     (--protocol kafka with --batch-bytes 1200 --linger-ms 0 comes close)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// With `--protocol kafka` and no broker given (the native default),
    /// shardlog's default Kafka port instead. The caller knows whether
    /// the broker was given; a given one is never changed.
    pub fn use_kafka_default_broker(&mut self) {
        if self.protocol == Protocol::Kafka && self.broker == BROKER_DEFAULT {
            self.broker = KAFKA_BROKER_DEFAULT.to_string();
        }
    }

    /// The topics the run drives.
    pub fn topic_names(&self) -> Vec<String> {
        match self.topics {
            1 => vec![self.topic.clone()],
            n => (0..n).map(|i| format!("{}-{i}", self.topic)).collect(),
        }
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }

    /// The workload in one line, for plots: "16 partitions, 4 producers,
    /// ...".
    pub fn one_line(&self) -> String {
        let consumers = match (self.consumers, self.consumers_from) {
            (0, _) => "no consumers".to_string(),
            (n, ConsumersFrom::Tail) => format!("{n} consumers at the tail"),
            (n, ConsumersFrom::Earliest) => format!("{n} consumers from the earliest"),
        };
        let keys = match self.key_bytes {
            0 => "no keys".to_string(),
            n => format!("{n} B keys"),
        };
        let mode = match (self.rate, self.pipeline) {
            (Some(rate), None) => format!("fixed rate {rate} records/s"),
            (None, None) => format!("max throughput, {} in flight", self.inflight),
            (Some(rate), Some(n)) => {
                format!(
                    "fixed rate {rate} records/s, one request per record, at most {n} in flight"
                )
            }
            (None, Some(n)) => format!("max throughput, one request per record, {n} in flight"),
        };
        let length = match self.records {
            Some(records) => format!("{records} records"),
            None => format!("{} s + {} s warmup", self.duration, self.warmup),
        };
        let batches = if self.pipeline.is_some() {
            "batches of one record".to_string()
        } else if self.batch_bytes.is_multiple_of(1024) {
            format!(
                "batches {} KiB, linger {} ms",
                self.batch_bytes / 1024,
                self.linger_ms
            )
        } else {
            format!(
                "batches {} B, linger {} ms",
                self.batch_bytes, self.linger_ms
            )
        };
        let topics = match self.topics {
            1 => String::new(),
            n => format!("{n} topics x "),
        };
        let over = match self.protocol {
            Protocol::Native => "",
            Protocol::Kafka => " (over Kafka)",
        };
        format!(
            "{topics}{} partitions, {} producers, {consumers}, {} B values, {keys}, acks {}, {mode}, \
             {batches}, {length}{over}",
            self.partitions,
            self.producers,
            self.record_bytes,
            format!("{:?}", self.acks).to_lowercase(),
        )
    }

    /// The workload as `summary.json` records it.
    pub fn describe(&self) -> std::collections::BTreeMap<String, String> {
        let mut m = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("protocol", format!("{:?}", self.protocol).to_lowercase());
        put("topic", self.topic.clone());
        put("topics", self.topics.to_string());
        put("partitions", self.partitions.to_string());
        put("producers", self.producers.to_string());
        put("consumers", self.consumers.to_string());
        put(
            "consumers_from",
            format!("{:?}", self.consumers_from).to_lowercase(),
        );
        put("record_bytes", self.record_bytes.to_string());
        put("key_bytes", self.key_bytes.to_string());
        put("batch_bytes", self.batch_bytes.to_string());
        put("linger_ms", self.linger_ms.to_string());
        put("acks", format!("{:?}", self.acks).to_lowercase());
        put("duration_s", self.duration.to_string());
        put("warmup_s", self.warmup.to_string());
        put("inflight", self.inflight.to_string());
        put(
            "mode",
            if self.rate.is_some() {
                "fixed-rate"
            } else {
                "max-throughput"
            }
            .into(),
        );
        if let Some(rate) = self.rate {
            put("rate", rate.to_string());
        }
        if let Some(records) = self.records {
            put("records", records.to_string());
        }
        // Only when given: summaries of batched runs read as before.
        if let Some(pipeline) = self.pipeline {
            put("pipeline", pipeline.to_string());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Workload, clap::Error> {
        #[derive(Parser)]
        struct Args {
            #[command(flatten)]
            workload: Workload,
        }
        let argv = std::iter::once("shardlog-loadtest").chain(args.iter().copied());
        Args::try_parse_from(argv).map(|args| args.workload)
    }

    #[test]
    fn durations_and_sizes_take_units_or_plain_numbers() {
        let with_units = parse(&[
            "--duration",
            "2m",
            "--warmup",
            "500ms",
            "--linger-ms",
            "1s",
            "--batch-bytes",
            "64KiB",
            "--record-bytes",
            "1KiB",
        ])
        .unwrap();
        let plain = parse(&[
            "--duration",
            "120",
            "--warmup",
            "0.5",
            "--linger-ms",
            "1000",
            "--batch-bytes",
            "65536",
            "--record-bytes",
            "1024",
        ])
        .unwrap();
        assert_eq!(with_units, plain);
        assert_eq!(plain.duration, 120.0);
        assert_eq!(plain.warmup, 0.5);
        assert_eq!(plain.linger_ms, 1000);
        assert_eq!(plain.batch_bytes, 65_536);
        let refused = parse(&["--batch-bytes", "64k"]).unwrap_err().to_string();
        assert!(
            refused.contains("--batch-bytes") && refused.contains("ambiguous"),
            "{refused}"
        );
    }

    #[test]
    fn the_protocol_is_native_unless_kafka_is_asked_for() {
        assert_eq!(parse(&[]).unwrap().protocol, Protocol::Native);
        let kafka = parse(&["--protocol", "kafka", "--broker", "127.0.0.1:19092"]).unwrap();
        assert_eq!(kafka.protocol, Protocol::Kafka);
        assert_eq!(kafka.broker, "127.0.0.1:19092", "--broker is the bootstrap");
        let mut not_given = parse(&["--protocol", "kafka"]).unwrap();
        assert_eq!(not_given.broker, BROKER_DEFAULT);
        not_given.use_kafka_default_broker();
        assert_eq!(not_given.broker, KAFKA_BROKER_DEFAULT);
        let mut native = parse(&[]).unwrap();
        native.use_kafka_default_broker();
        assert_eq!(native.broker, BROKER_DEFAULT, "native keeps its port");
        assert!(parse(&["--protocol", "amqp"]).is_err());
        assert_eq!(kafka.describe()["protocol"], "kafka");
        assert!(kafka.one_line().ends_with("(over Kafka)"));
        // A suite file names it as the flag; a summary written before the
        // flag existed ran the native client.
        let file: Workload = toml::from_str("protocol = \"kafka\"").unwrap();
        assert_eq!(file.protocol, Protocol::Kafka);
        let old: Workload = serde_json::from_str(r#"{"partitions": 8}"#).unwrap();
        assert_eq!(old.protocol, Protocol::Native);
    }

    #[test]
    fn a_file_takes_units_or_plain_numbers() {
        let with_units: Workload =
            toml::from_str("duration = \"30s\"\nwarmup = \"1s\"\nbatch_bytes = \"64KiB\"").unwrap();
        let plain: Workload =
            toml::from_str("duration = 30\nwarmup = 1.0\nbatch_bytes = 65536").unwrap();
        assert_eq!(with_units, plain);
        assert_eq!(plain.duration, 30.0);
        // summary.json's workload_settings read back as written.
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(serde_json::from_str::<Workload>(&json).unwrap(), plain);
    }
}
