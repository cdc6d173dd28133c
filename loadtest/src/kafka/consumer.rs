//! One consumer thread over Kafka: the native consumer's loop through
//! librdkafka. Its partitions are assigned (`assign()`: no group joined,
//! no commits) at explicit offsets read before the producers start: the
//! high watermark for `--consumers-from tail`, the low for `earliest`.
//! (`Offset::End` would be resolved later, in the background, and could
//! skip the run's first records.) End-to-end latency is the native path's:
//! consume time minus the send time the record's value carries.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::admin::watermarks;
use super::consumer_config;
use crate::consumer::{ConsumerInterval, FETCH_WAIT_MS};
use crate::payload;
use crate::run::{Clock, Report, THREAD_REPORT_INTERVAL};
use crate::workload::{ConsumersFrom, Workload};

/// Most records taken from librdkafka's queue between two looks at the
/// clock and the stop flag.
const RECORDS_PER_POLL_MAX: usize = 10_000;

/// A consumer assigned `partitions` at the offsets the run starts from.
fn assigned(workload: &Workload, partitions: &[(String, u32)]) -> Result<BaseConsumer, String> {
    let consumer: BaseConsumer = consumer_config(workload)
        .create()
        .map_err(|e| format!("kafka consumer: {e}"))?;
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        let (low, high) = watermarks(consumer.client(), topic, *partition)
            .map_err(|e| format!("kafka consumer: {e}"))?;
        let start = match workload.consumers_from {
            ConsumersFrom::Tail => high,
            ConsumersFrom::Earliest => low,
        };
        list.add_partition_offset(topic, *partition as i32, Offset::Offset(start))
            .map_err(|e| format!("kafka consumer: {e}"))?;
    }
    consumer
        .assign(&list)
        .map_err(|e| format!("kafka consumer: assign: {e}"))?;
    Ok(consumer)
}

/// The Kafka twin of [`crate::consumer::run_consumer`], same arguments.
pub fn run_consumer(
    workload: &Workload,
    clock: Clock,
    partitions: Vec<(String, u32)>,
    ready: Arc<Barrier>,
    stop: Arc<AtomicBool>,
    reports: Sender<Report>,
) {
    let assigned = assigned(workload, &partitions);
    ready.wait();
    let consumer = match assigned {
        Ok(c) => c,
        Err(error) => {
            let _ = reports.send(Report::ConsumerDone { error: Some(error) });
            return;
        }
    };
    std::thread::sleep(clock.start.saturating_duration_since(Instant::now()));
    let fetch_wait = Duration::from_millis(u64::from(FETCH_WAIT_MS));
    let mut interval_started = Instant::now();
    let mut interval = ConsumerInterval::new(interval_started >= clock.measure_from);
    let mut error = None;
    // Passing errors already printed: each is said once.
    let mut reported = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        let mut wait = fetch_wait;
        for _ in 0..RECORDS_PER_POLL_MAX {
            match consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => {
                    let value = message.payload().unwrap_or_default();
                    let key_bytes = message.key().map_or(0, <[u8]>::len);
                    interval.count(value, key_bytes, payload::unix_now_ns(), clock);
                }
                // librdkafka reports passing trouble (a connection lost,
                // a broker down) and retries by itself; only a fatal error
                // ends the consumer.
                Some(Err(e)) => {
                    if consumer.client().fatal_error().is_some() {
                        error = Some(format!("kafka consumer: {e}"));
                    } else if reported.insert(e.to_string()) {
                        eprintln!("kafka consumer: {e} (librdkafka retries; said once)");
                    }
                    break;
                }
            }
            wait = Duration::ZERO;
        }
        if error.is_some() {
            break;
        }
        let now = Instant::now();
        let warmup_ends = !interval.measured && now >= clock.measure_from;
        if warmup_ends || now.duration_since(interval_started) >= THREAD_REPORT_INTERVAL {
            let done = std::mem::replace(
                &mut interval,
                ConsumerInterval::new(now >= clock.measure_from),
            );
            let _ = reports.send(Report::Consumer(done));
            interval_started = now;
        }
    }
    let _ = reports.send(Report::Consumer(interval));
    let _ = reports.send(Report::ConsumerDone { error });
}
