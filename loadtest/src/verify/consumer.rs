//! One verifying consumer thread: follows its share of the partitions from
//! their earliest offset while the load runs, and writes down every record
//! it reads, in order ([`ConsumerHistory`]). Fetch errors during an outage
//! are waited out; a position that the broker says is past the end of the
//! log (a record it had shown is gone) moves back to the end, and the
//! checker sees the reads go backwards.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use shardlog::client::{ConnectionConfig, Consumer, ConsumerConfig, OffsetSpec, StartFrom};
use shardlog::error::ErrorCode;

use super::history::{ConsumerHistory, Read, RecordId};

/// How long one fetch waits on the broker for records.
const FETCH_WAIT_MS: u32 = 200;
/// Pause after a failed fetch before the next.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A consumer of the soak's broker: fetches that wait `max_wait_ms`, short
/// timeouts and few retries (outages are waited out by the caller's loop),
/// and room for a whole fetch response. Shared by the verifying and the
/// idle consumers.
pub fn soak_consumer_config(broker: &str, max_wait_ms: u32) -> ConsumerConfig {
    ConsumerConfig {
        bootstrap: broker.to_string(),
        max_wait_ms,
        retries: 2,
        retry_backoff_ms: 100,
        connection: ConnectionConfig {
            connect_timeout_ms: 1_000,
            request_timeout_ms: 10_000,
            ..ConnectionConfig::default()
        }
        .with_fetch_room(ConsumerConfig::default().max_bytes),
        ..ConsumerConfig::default()
    }
}

/// Reads `partitions` of `topic` until `stop`; `reads` counts what it read
/// (for the live line).
pub fn run_verifying_consumer(
    broker: &str,
    topic: &str,
    partitions: &[u32],
    stop: &AtomicBool,
    reads: &AtomicU64,
) -> ConsumerHistory {
    let mut history = ConsumerHistory::default();
    let config = soak_consumer_config(broker, FETCH_WAIT_MS);
    let mut consumer = match Consumer::new(config) {
        Ok(consumer) => consumer,
        Err(err) => {
            tracing::error!(%err, "verifying consumer");
            return history;
        }
    };
    let mut assigned = false;
    while !stop.load(Ordering::Relaxed) {
        if !assigned {
            // Offsets start at 0 in the soak's new topic.
            assigned = partitions
                .iter()
                .all(|&p| consumer.assign(topic, p, StartFrom::Offset(0)).is_ok());
            if !assigned {
                std::thread::sleep(ERROR_PAUSE);
                continue;
            }
        }
        match consumer.poll() {
            Ok(records) => {
                reads.fetch_add(records.len() as u64, Ordering::Relaxed);
                history.reads.extend(records.iter().map(|r| Read {
                    partition: r.partition,
                    offset: r.offset,
                    record: RecordId::of_value(&r.value),
                }));
            }
            Err(err) if err.code() == Some(ErrorCode::OffsetOutOfRange) => {
                tracing::warn!(%err, "a position is past the end of the log");
                back_to_the_end(&mut consumer, topic, partitions);
            }
            Err(err) => {
                tracing::debug!(%err, "fetch failed, trying again");
                std::thread::sleep(ERROR_PAUSE);
            }
        }
    }
    history
}

/// Moves every position past the end of its log back to the end.
fn back_to_the_end(consumer: &mut Consumer, topic: &str, partitions: &[u32]) {
    match consumer.list_offsets(topic, partitions, OffsetSpec::Latest) {
        Ok(ends) => {
            for (partition, end) in ends {
                let position = consumer.position(topic, partition).unwrap_or(0);
                if position > end {
                    consumer.seek(topic, partition, end);
                }
            }
        }
        Err(err) => {
            tracing::debug!(%err, "looking up the ends failed");
            std::thread::sleep(ERROR_PAUSE);
        }
    }
}
