//! `shardlog produce`: one record per stdin line.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use shardlog::client::{Acks, ClientError, Delivery, Producer, ProducerConfig, ProducerRecord};

use super::{describe, BrokerArgs, CliResult};

/// Send each line of standard input as one record.
#[derive(Args, Debug)]
#[command(
    after_help = "Each line (without its trailing newline, or CRLF) is a record's value.
With --key-separator, the part of a line before the first SEP is the key
and the rest the value; a line without SEP has no key. Keyed records go to
partition fnv1a_32(key) % partitions; records without a key fill one
partition at a time.

Prints how many records were acknowledged and, per partition, the offsets
they got; exits non-zero if any record failed.

The producer is idempotent: a batch resent after a lost answer (a broker
restart, a timeout) is written once. --no-idempotence sends plain batches
instead (at-least-once), for a broker without InitProducer.

Examples:
  printf 'a\\nb\\n' | shardlog produce orders
  printf 'user-1:signed up\\nuser-2:paid\\n' | shardlog produce orders --key-separator :
  shardlog produce orders --partition 3 --acks written < events.txt"
)]
pub struct ProduceArgs {
    /// Topic to write to.
    topic: String,
    /// Write every record to this partition instead of choosing by key.
    #[arg(long, value_name = "P")]
    partition: Option<u32>,
    /// Split each line at the first SEP into key and value.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// When the broker acknowledges: `none` (queued, offsets unknown),
    /// `written` (written, before fsync), `durable` (after fsync).
    #[arg(long, value_enum, default_value_t = AcksArg::Durable)]
    acks: AcksArg,
    /// Send batches without a producer id: a resend after a lost answer
    /// may write them twice (at-least-once).
    #[arg(long)]
    no_idempotence: bool,
    #[command(flatten)]
    broker: BrokerArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum AcksArg {
    None,
    Written,
    Durable,
}

impl From<AcksArg> for Acks {
    fn from(acks: AcksArg) -> Acks {
        match acks {
            AcksArg::None => Acks::None,
            AcksArg::Written => Acks::Written,
            AcksArg::Durable => Acks::Durable,
        }
    }
}

/// Deliveries collected so far, per partition.
#[derive(Default)]
struct Summary {
    acknowledged: BTreeMap<u32, PartitionSummary>,
    failed: BTreeMap<u32, (u64, String)>,
}

#[derive(Default)]
struct PartitionSummary {
    records: u64,
    /// Lowest and highest offset acknowledged, when the broker said.
    offsets: Option<(u64, u64)>,
}

impl Summary {
    fn add(&mut self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            let offsets = delivery.offsets();
            match delivery.result {
                Ok(_) => {
                    let p = self.acknowledged.entry(delivery.partition).or_default();
                    p.records += u64::from(delivery.record_count);
                    if let Some((first, last)) = offsets {
                        p.offsets = Some(match p.offsets {
                            Some((lo, hi)) => (lo.min(first), hi.max(last)),
                            None => (first, last),
                        });
                    }
                }
                Err(err) => {
                    let entry = self.failed.entry(delivery.partition).or_default();
                    entry.0 += u64::from(delivery.record_count);
                    entry.1 = describe(&err);
                }
            }
        }
    }

    fn print(&self, read: u64) {
        let acknowledged: u64 = self.acknowledged.values().map(|p| p.records).sum();
        println!("acknowledged {acknowledged} of {read} records");
        for (partition, p) in &self.acknowledged {
            match p.offsets {
                Some((first, last)) => println!(
                    "  partition {partition}: {} records, offsets {first}..={last}",
                    p.records
                ),
                None => println!(
                    "  partition {partition}: {} records, offsets not reported (acks none)",
                    p.records
                ),
            }
        }
        for (partition, (records, error)) in &self.failed {
            eprintln!("failed: partition {partition}: {records} records: {error}");
        }
    }
}

pub fn run(args: ProduceArgs) -> CliResult {
    let mut producer = Producer::new(ProducerConfig {
        bootstrap: args.broker.broker.clone(),
        acks: args.acks.into(),
        idempotence: !args.no_idempotence,
        ..ProducerConfig::default()
    })?;
    // Unknown topic, bad partition, unreachable broker: before reading input.
    let partitions = producer.partition_count(&args.topic)?;
    if let Some(p) = args.partition.filter(|&p| p >= partitions) {
        return Err(super::CliError(format!(
            "topic '{}' has {partitions} partitions (0..={}), not {p}",
            args.topic,
            partitions - 1
        )));
    }
    let mut summary = Summary::default();
    let mut read = 0u64;
    let mut refused = 0u64;
    let mut fatal: Option<ClientError> = None;
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        read += 1;
        let record = record_of(
            trim_newline(&line),
            args.key_separator.as_deref(),
            args.partition,
        );
        match producer.send(&args.topic, record) {
            Ok(()) => {}
            Err(err @ ClientError::Invalid(_)) => {
                eprintln!("line {read}: {}", describe(&err));
                refused += 1;
            }
            Err(err) => {
                fatal = Some(err);
                break;
            }
        }
        if read.is_multiple_of(4096) {
            summary.add(producer.poll());
        }
    }
    summary.add(producer.flush());
    summary.print(read);
    if let Some(err) = fatal {
        return Err(err.into());
    }
    let failed = refused + summary.failed.values().map(|(n, _)| n).sum::<u64>();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The record of one input line.
fn record_of(line: &[u8], separator: Option<&str>, partition: Option<u32>) -> ProducerRecord {
    let mut record = match separator.map(str::as_bytes).filter(|s| !s.is_empty()) {
        Some(sep) => match line.windows(sep.len()).position(|w| w == sep) {
            Some(at) => ProducerRecord::new(&line[at + sep.len()..]).key(&line[..at]),
            None => ProducerRecord::new(line),
        },
        None => ProducerRecord::new(line),
    };
    record.partition = partition;
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        let record = record_of(b"user-1::a::b", Some("::"), None);
        assert_eq!(record.key.as_deref(), Some(&b"user-1"[..]));
        assert_eq!(record.value, b"a::b");
        let record = record_of(b"no separator", Some(":"), Some(2));
        assert_eq!(record.key, None);
        assert_eq!(record.value, b"no separator");
        assert_eq!(record.partition, Some(2));
        assert_eq!(record_of(b"k:v", None, None).value, b"k:v");
        assert_eq!(trim_newline(b"v\r\n"), b"v");
        assert_eq!(trim_newline(b"v"), b"v");
    }
}
