//! The read-back at the end of a run: every partition from its earliest
//! offset to its end (the high watermark when the read-back starts, after
//! the producers have stopped), as the checker takes it.

use std::time::{Duration, Instant};

use shardlog::client::{ConnectionConfig, Consumer, ConsumerConfig, OffsetSpec};

use super::history::{PartitionLog, RecordId};

/// Pause after a failed call before the next.
const ERROR_PAUSE: Duration = Duration::from_millis(200);
/// A partition whose position has not moved for this many fetches in a
/// row, short of its end, is read no further (the checker counts the
/// missing offsets).
const STALLED_FETCHES_MAX: u32 = 50;

/// Reads partitions `0..partitions` of `topic` whole; fails if that takes
/// past `timeout`.
pub fn read_back(
    broker: &str,
    topic: &str,
    partitions: u32,
    timeout: Duration,
) -> Result<Vec<PartitionLog>, String> {
    let deadline = Instant::now() + timeout;
    let config = ConsumerConfig {
        bootstrap: broker.to_string(),
        max_wait_ms: 0,
        connection: ConnectionConfig {
            connect_timeout_ms: 1_000,
            request_timeout_ms: 30_000,
            ..ConnectionConfig::default()
        }
        .with_fetch_room(ConsumerConfig::default().max_bytes),
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(config).map_err(|e| e.to_string())?;
    let all: Vec<u32> = (0..partitions).collect();
    let starts = retry_until(deadline, || {
        consumer.list_offsets(topic, &all, OffsetSpec::Earliest)
    })?;
    let ends = retry_until(deadline, || {
        consumer.list_offsets(topic, &all, OffsetSpec::Latest)
    })?;
    let mut logs: Vec<PartitionLog> = starts
        .iter()
        .zip(&ends)
        .map(
            |(&(partition, start_offset), &(_, end_offset))| PartitionLog {
                partition,
                start_offset,
                end_offset,
                records: Vec::new(),
            },
        )
        .collect();
    for log in &logs {
        if log.start_offset < log.end_offset {
            consumer.seek(topic, log.partition, log.start_offset);
        }
    }
    let mut stalled = vec![0u32; logs.len()];
    let mut positions: Vec<u64> = logs.iter().map(|log| log.start_offset).collect();
    while !consumer.assignment().is_empty() {
        if Instant::now() >= deadline {
            return Err(format!(
                "reading back {topic} took longer than {} s",
                timeout.as_secs()
            ));
        }
        let records = match consumer.poll() {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(%err, "read-back fetch failed, trying again");
                std::thread::sleep(ERROR_PAUSE);
                continue;
            }
        };
        for record in records {
            let log = &mut logs[record.partition as usize];
            if record.offset < log.end_offset {
                log.records
                    .push((record.offset, RecordId::of_value(&record.value)));
            }
        }
        for (log, before) in logs.iter().zip(&mut positions) {
            let Some(position) = consumer.position(topic, log.partition) else {
                continue;
            };
            let stall = &mut stalled[log.partition as usize];
            *stall = if position == *before { *stall + 1 } else { 0 };
            *before = position;
            if position >= log.end_offset {
                consumer.unassign(topic, log.partition);
            } else if *stall >= STALLED_FETCHES_MAX {
                tracing::warn!(
                    partition = log.partition,
                    position,
                    end = log.end_offset,
                    "read-back stalled short of the end"
                );
                consumer.unassign(topic, log.partition);
            }
        }
    }
    Ok(logs)
}

fn retry_until<T>(
    deadline: Instant,
    mut call: impl FnMut() -> Result<T, shardlog::client::ClientError>,
) -> Result<T, String> {
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() >= deadline => return Err(err.to_string()),
            Err(err) => {
                tracing::warn!(%err, "read-back lookup failed, trying again");
                std::thread::sleep(ERROR_PAUSE);
            }
        }
    }
}
