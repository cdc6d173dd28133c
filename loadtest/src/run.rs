//! A run: make sure the topic exists, start the consumers, then the
//! producers, print a live line every second, drain, and sum everything up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use shardlog::client::{Admin, ConnectionConfig, TopicSettings};
use shardlog::error::ErrorCode;

use crate::consumer::{run_consumer, ConsumerInterval};
use crate::interval_log::IntervalLog;
use crate::kafka;
use crate::pipeline::run_pipelined_producer;
use crate::producer::{run_producer, ProducerInterval};
use crate::provenance::{BrokerSettings, ClientLibrary, Provenance};
use crate::resources::{Probes, Reading};
use crate::summary::{latency_histogram, RunSummary, Sample};
use crate::workload::{ConsumersFrom, Protocol, Workload};

/// How often the live line prints and the timeline takes a sample: once a
/// second, on a grid anchored at the start of the measurement (so the
/// warmup ends on a second's boundary and seconds are whole).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How often producer and consumer threads report. A second of the
/// timeline counts the reports that arrived in it; with ten per thread per
/// second, which second a report lands in moves a figure by about a
/// tenth, where one report per second moved it by all of it (a second
/// with no report read as a tenfold dip).
pub const THREAD_REPORT_INTERVAL: Duration = Duration::from_millis(100);
/// A second is closed this long after it ends, so that the reports of
/// its last tenth, sent at its end, are in it.
const SECOND_CLOSE_GRACE: Duration = Duration::from_millis(20);
/// Longest wait for a report before the aggregator looks at the clock.
const REPORT_WAIT_MAX: Duration = Duration::from_millis(50);
/// After the producers finish, how long consumers may take to catch up.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Producers start this long after the clock is set, once consumers wait.
const START_DELAY: Duration = Duration::from_millis(100);

/// A consumer thread's body, whatever the protocol.
type ConsumerFn =
    fn(&Workload, Clock, Vec<(String, u32)>, Arc<Barrier>, Arc<AtomicBool>, Sender<Report>);
/// A producer thread's body, whatever the protocol.
type ProducerFn = fn(u32, &Workload, Clock, &[DrivenTopic], Option<u64>, Sender<Report>);

/// The run's schedule, shared by every thread.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub start: Instant,
    /// Measurement starts here (the end of warmup).
    pub measure_from: Instant,
    /// Producers stop sending here (`None` when a record count ends the run).
    pub stop_at: Option<Instant>,
    /// Wall clock, ns since the Unix epoch, before any record of this run
    /// was sent: older records are a backlog.
    pub started_unix_ns: u64,
}

/// What threads send the aggregator.
#[derive(Debug)]
pub enum Report {
    Producer(ProducerInterval),
    Consumer(ConsumerInterval),
    ProducerDone { error: Option<String> },
    ConsumerDone { error: Option<String> },
}

/// The outcome: the summary, the two full distributions and the same two
/// second by second.
pub struct Outcome {
    pub summary: RunSummary,
    pub produce_ack_us: Histogram<u64>,
    pub e2e_us: Histogram<u64>,
    /// `produce_ack_us`, one interval per second of the measured window
    /// (the last one shorter); the intervals add up to it.
    pub produce_ack_log: IntervalLog,
    /// `e2e_us` likewise, until the consumers drained.
    pub e2e_log: IntervalLog,
    /// When the measured window started, by the wall clock.
    pub measurement_start: SystemTime,
}

/// A topic the run drives and its partition count (an existing topic
/// keeps its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrivenTopic {
    pub name: String,
    pub partitions: u32,
}

/// Records and bytes the topics hold now: what consumers reading from the
/// earliest offset have to catch up on before this run's records.
fn backlog(w: &Workload, topics: &[DrivenTopic]) -> Result<(u64, u64), String> {
    let mut admin =
        Admin::connect(&w.broker, ConnectionConfig::default()).map_err(|e| e.to_string())?;
    let mut total = (0, 0);
    for topic in topics {
        let described = admin
            .describe_topic(&topic.name)
            .map_err(|e| e.to_string())?;
        for p in &described.partitions {
            total.0 += p.latest_offset.saturating_sub(p.earliest_offset);
            total.1 += p.size_bytes;
        }
    }
    Ok(total)
}

/// Creates the topics when missing; returns them with their partition
/// counts.
fn ensure_topics(w: &Workload) -> Result<Vec<DrivenTopic>, String> {
    let mut admin =
        Admin::connect(&w.broker, ConnectionConfig::default()).map_err(|e| e.to_string())?;
    let mut topics = Vec::new();
    for name in w.topic_names() {
        let partitions = match admin.describe_topic(&name) {
            Ok(topic) => topic.partitions.len() as u32,
            Err(e) if e.code() == Some(ErrorCode::UnknownTopic) => {
                let settings = TopicSettings {
                    partitions: w.partitions,
                    retention_ms: None,
                    retention_bytes: None,
                    segment_bytes: None,
                };
                admin
                    .create_topic(&name, settings)
                    .map_err(|e| format!("creating topic {name}: {e}"))?;
                w.partitions
            }
            Err(e) => return Err(format!("topic {name}: {e}")),
        };
        topics.push(DrivenTopic { name, partitions });
    }
    Ok(topics)
}

/// Runs `workload`; `live` gets the line printed every second. The
/// summary's provenance has the harness, the host and the broker; the
/// caller adds the data dir and the limits when it knows them.
pub fn run(workload: &Workload, live: impl Fn(&str)) -> Result<Outcome, String> {
    run_with(workload, &Probes::default(), live)
}

/// [`run`], reading what the broker and its disk spent over the measured
/// window (`probes`) into the summary's `broker_usage` and `disk_usage`.
pub fn run_with(
    workload: &Workload,
    probes: &Probes,
    live: impl Fn(&str),
) -> Result<Outcome, String> {
    workload.validate()?;
    probes.check()?;
    let mut provenance = Provenance::now();
    let started_unix_ns = crate::payload::unix_now_ns();
    provenance.client = Some(ClientLibrary::of(workload.protocol));
    let topics = match workload.protocol {
        Protocol::Native => ensure_topics(workload)?,
        Protocol::Kafka => kafka::admin::ensure_topics(workload)?,
    };
    provenance.broker = Some(match workload.protocol {
        Protocol::Native => BrokerSettings::ask(&workload.broker, &topics[0].name)?,
        Protocol::Kafka => kafka::admin::broker_settings(workload, &topics[0])?,
    });
    let (backlog_records, backlog_bytes) = match workload.consumers_from {
        ConsumersFrom::Earliest if workload.consumers > 0 => match workload.protocol {
            Protocol::Native => backlog(workload, &topics)?,
            Protocol::Kafka => kafka::admin::backlog(workload, &topics)?,
        },
        _ => (0, 0),
    };
    // The same threads over either client: one function per protocol,
    // the same arguments.
    let (consumer_thread, producer_thread): (ConsumerFn, ProducerFn) =
        match (workload.protocol, workload.pipeline) {
            (Protocol::Native, None) => (run_consumer, run_producer),
            (Protocol::Native, Some(_)) => (run_consumer, run_pipelined_producer),
            (Protocol::Kafka, _) => (kafka::consumer::run_consumer, kafka::producer::run_producer),
        };
    // Every partition of every topic, in order: consumers share them out.
    let all_partitions: Vec<(String, u32)> = topics
        .iter()
        .flat_map(|t| (0..t.partitions).map(|p| (t.name.clone(), p)))
        .collect();
    let (reports_tx, reports) = channel();
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let consumers = workload
        .consumers
        .min(u32::try_from(all_partitions.len()).unwrap_or(u32::MAX));
    let ready = Arc::new(Barrier::new(consumers as usize + 1));
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    let start = now + START_DELAY;
    let measure_from = start + workload.warmup();
    let measurement_start = wall_now + (measure_from - now);
    let clock = Clock {
        start,
        measure_from,
        stop_at: workload
            .records
            .is_none()
            .then(|| measure_from + workload.duration()),
        started_unix_ns,
    };
    let mut threads = Vec::new();
    for c in 0..consumers {
        let mine: Vec<(String, u32)> = all_partitions
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % consumers == c)
            .map(|(_, tp)| tp.clone())
            .collect();
        let (w, tx, ready, stop) = (
            workload.clone(),
            reports_tx.clone(),
            ready.clone(),
            stop_consumers.clone(),
        );
        threads.push(std::thread::spawn(move || {
            consumer_thread(&w, clock, mine, ready, stop, tx)
        }));
    }
    ready.wait();
    for id in 0..workload.producers {
        let quota = workload.records.map(|total| {
            let share = total / u64::from(workload.producers);
            share + u64::from(id < (total % u64::from(workload.producers)) as u32)
        });
        let (w, tx, topics) = (workload.clone(), reports_tx.clone(), topics.clone());
        threads.push(std::thread::spawn(move || {
            producer_thread(id, &w, clock, &topics, quota, tx)
        }));
    }
    drop(reports_tx);
    let outcome = aggregate(
        workload,
        clock,
        consumers,
        backlog_records,
        probes,
        &reports,
        &stop_consumers,
        live,
    );
    stop_consumers.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let mut outcome = outcome?;
    outcome.summary.provenance = Some(provenance);
    outcome.measurement_start = measurement_start;
    outcome.summary.backlog_records = backlog_records;
    outcome.summary.backlog_bytes = backlog_bytes;
    Ok(outcome)
}

/// Totals and the live view, fed by the threads' reports.
#[derive(Default)]
struct Totals {
    sent: u64,
    acknowledged: u64,
    failed: u64,
    consumed: u64,
    measured_acknowledged: u64,
    measured_acknowledged_bytes: u64,
    measured_consumed: u64,
    measured_consumed_bytes: u64,
    /// Produce requests answered with success in the measured window, when
    /// every producer counts them.
    measured_requests: Option<u64>,
    requests_in_flight_max: u64,
    errors: std::collections::BTreeMap<String, u64>,
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    w: &Workload,
    clock: Clock,
    consumers: u32,
    backlog_records: u64,
    probes: &Probes,
    reports: &Receiver<Report>,
    stop_consumers: &AtomicBool,
    live: impl Fn(&str),
) -> Result<Outcome, String> {
    let mut totals = Totals::default();
    let mut produce_ack_us = latency_histogram();
    let mut e2e_us = latency_histogram();
    let mut produce_ack_log = IntervalLog::new();
    let mut e2e_log = IntervalLog::new();
    let mut second = Second::new(Instant::now());
    let mut timeline = Vec::new();
    let mut producers_left = w.producers;
    let mut consumers_left = consumers;
    let mut producers_done_at = None;
    let mut errors = Vec::new();
    let mut second_ends = first_grid_point_after(Instant::now(), clock.measure_from);
    // The broker's and the disk's counters at the window's start (read
    // when it starts) and end (when the last producer is done).
    let mut window_start: Option<Reading> = None;
    let mut window_end: Option<Reading> = None;
    totals.measured_requests = (w.producers > 0).then_some(0);
    while producers_left > 0 || consumers_left > 0 {
        let mut wake = second_ends + SECOND_CLOSE_GRACE;
        if window_start.is_none() {
            wake = wake.min(clock.measure_from);
        }
        let wait = wake
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), REPORT_WAIT_MAX);
        match reports.recv_timeout(wait) {
            Ok(Report::Producer(i)) => {
                totals.sent += i.sent;
                totals.acknowledged += i.acknowledged;
                let failed: u64 = i.failed.values().sum();
                totals.failed += failed;
                for (name, n) in &i.failed {
                    *totals.errors.entry(name.clone()).or_default() += n;
                }
                second.acknowledged += i.acknowledged;
                second.acknowledged_bytes += i.acknowledged_bytes;
                second
                    .ack_us
                    .add(&i.ack_latency_us)
                    .map_err(|e| e.to_string())?;
                if i.measured {
                    totals.measured_requests = totals
                        .measured_requests
                        .filter(|_| i.requests_counted)
                        .map(|n| n + i.requests_acknowledged);
                    totals.requests_in_flight_max =
                        totals.requests_in_flight_max.max(i.requests_in_flight_max);
                    totals.measured_acknowledged += i.acknowledged;
                    totals.measured_acknowledged_bytes += i.acknowledged_bytes;
                    produce_ack_us
                        .add(&i.ack_latency_us)
                        .map_err(|e| e.to_string())?;
                    second
                        .measured_ack_us
                        .add(&i.ack_latency_us)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(Report::Consumer(i)) => {
                totals.consumed += i.consumed;
                second.consumed += i.consumed;
                second.consumed_bytes += i.bytes;
                if i.measured {
                    totals.measured_consumed += i.consumed;
                    totals.measured_consumed_bytes += i.bytes;
                    e2e_us.add(&i.e2e_latency_us).map_err(|e| e.to_string())?;
                    second
                        .measured_e2e_us
                        .add(&i.e2e_latency_us)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(Report::ProducerDone { error }) => {
                producers_left -= 1;
                errors.extend(error);
                if producers_left == 0 {
                    producers_done_at = Some(Instant::now());
                    if window_start.is_some() {
                        window_end = Some(probes.read());
                    }
                }
            }
            Ok(Report::ConsumerDone { error }) => {
                consumers_left -= 1;
                errors.extend(error);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if window_start.is_none() && now >= clock.measure_from {
            window_start = Some(probes.read());
        }
        let drained = totals.consumed >= backlog_records + totals.acknowledged || consumers == 0;
        let stop = match producers_done_at {
            Some(done) => drained || now.duration_since(done) >= DRAIN_TIMEOUT,
            // A catch-up read alone: until the backlog is read or the
            // measured time is up.
            None if w.producers == 0 => drained || clock.stop_at.is_some_and(|s| now >= s),
            None => false,
        };
        if stop {
            stop_consumers.store(true, Ordering::Relaxed);
        }
        if now >= second_ends + SECOND_CLOSE_GRACE {
            let elapsed = second_ends.duration_since(second.started).as_secs_f64();
            let lag = (backlog_records + totals.acknowledged).saturating_sub(totals.consumed);
            let sample = second.sample(
                second_ends
                    .saturating_duration_since(clock.measure_from)
                    .as_secs_f64(),
                elapsed.max(f64::EPSILON),
                lag,
            );
            let warmup = second_ends <= clock.measure_from;
            live(&live_line(&sample, warmup, consumers > 0));
            if !warmup {
                timeline.push(sample);
            }
            second.log_intervals(clock, second_ends, &mut produce_ack_log, &mut e2e_log)?;
            second = Second::new(second_ends);
            second_ends += REPORT_INTERVAL;
            // After a stall of the aggregator itself, skip the seconds it
            // missed rather than emit empty ones late.
            while now >= second_ends + SECOND_CLOSE_GRACE {
                second_ends += REPORT_INTERVAL;
            }
        }
    }
    // The last, partial second: its records are in the distributions, so
    // they go into the interval logs too.
    if !second.measured_ack_us.is_empty() || !second.measured_e2e_us.is_empty() {
        second.log_intervals(clock, Instant::now(), &mut produce_ack_log, &mut e2e_log)?;
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    // A catch-up read alone (no producers) ends its window here.
    let window_end = window_end.unwrap_or_else(|| probes.read());
    let end = producers_done_at.unwrap_or_else(Instant::now);
    // A catch-up read alone measures until it read the backlog.
    let measured_s = match clock.stop_at {
        Some(stop) if w.producers > 0 => stop
            .saturating_duration_since(clock.measure_from)
            .as_secs_f64(),
        _ => end
            .saturating_duration_since(clock.measure_from)
            .as_secs_f64(),
    }
    .max(f64::EPSILON);
    let consume_s = Instant::now()
        .saturating_duration_since(clock.measure_from)
        .as_secs_f64()
        .max(f64::EPSILON);
    let mut summary = RunSummary {
        produce_records_per_s: totals.measured_acknowledged as f64 / measured_s,
        produce_mb_per_s: totals.measured_acknowledged_bytes as f64 / measured_s / 1e6,
        consume_records_per_s: totals.measured_consumed as f64 / consume_s,
        consume_mb_per_s: totals.measured_consumed_bytes as f64 / consume_s / 1e6,
        errors: totals.errors,
        records_sent: totals.sent,
        records_acknowledged: totals.acknowledged,
        records_failed: totals.failed,
        records_consumed: totals.consumed,
        measured_s,
        target_records_per_s: w.rate,
        workload: w.describe(),
        workload_settings: Some(w.clone()),
        timeline,
        ..RunSummary::default()
    };
    summary.set_latencies(&produce_ack_us, &e2e_us);
    if w.pipeline.is_some() {
        summary.produce_requests_per_s = totals.measured_requests.map(|n| n as f64 / measured_s);
        summary.requests_in_flight_max = Some(totals.requests_in_flight_max);
    }
    if let Some(window_start) = &window_start {
        let mut warnings = Vec::new();
        let (broker, disk) = probes.usage(
            window_start,
            &window_end,
            totals.measured_acknowledged,
            totals.measured_acknowledged_bytes,
            totals.measured_requests,
            &mut warnings,
        );
        for warning in warnings {
            live(&format!("warning: {warning}"));
        }
        summary.broker_usage = broker;
        summary.disk_usage = disk;
    }
    Ok(Outcome {
        summary,
        produce_ack_us,
        e2e_us,
        produce_ack_log,
        e2e_log,
        // run() sets it; the aggregator only sees the monotonic clock.
        measurement_start: SystemTime::now(),
    })
}

/// The first point of the one-second grid through `anchor` at or after
/// `now`.
fn first_grid_point_after(now: Instant, anchor: Instant) -> Instant {
    let step = REPORT_INTERVAL.as_nanos();
    if now <= anchor {
        let whole_steps = (anchor - now).as_nanos() / step;
        anchor - REPORT_INTERVAL * whole_steps as u32
    } else {
        let whole_steps = (now - anchor).as_nanos().div_ceil(step);
        anchor + REPORT_INTERVAL * whole_steps as u32
    }
}

/// What the last second brought, for the live line, the timeline and the
/// interval logs.
struct Second {
    started: Instant,
    acknowledged: u64,
    acknowledged_bytes: u64,
    consumed: u64,
    consumed_bytes: u64,
    ack_us: Histogram<u64>,
    /// What of `ack_us` lies in the measured window.
    measured_ack_us: Histogram<u64>,
    measured_e2e_us: Histogram<u64>,
}

impl Second {
    fn new(started: Instant) -> Self {
        Second {
            started,
            acknowledged: 0,
            acknowledged_bytes: 0,
            consumed: 0,
            consumed_bytes: 0,
            ack_us: latency_histogram(),
            measured_ack_us: latency_histogram(),
            measured_e2e_us: latency_histogram(),
        }
    }

    /// Appends this second's measured part, ending at `end`, to the
    /// interval logs; a second wholly in the warmup appends nothing.
    fn log_intervals(
        &self,
        clock: Clock,
        end: Instant,
        produce_ack_log: &mut IntervalLog,
        e2e_log: &mut IntervalLog,
    ) -> Result<(), String> {
        if end <= clock.measure_from {
            return Ok(());
        }
        let from = self.started.max(clock.measure_from);
        let start = from - clock.measure_from;
        let duration = end - from;
        produce_ack_log.push(&self.measured_ack_us, start, duration)?;
        e2e_log.push(&self.measured_e2e_us, start, duration)?;
        Ok(())
    }

    fn sample(&self, t_s: f64, elapsed_s: f64, lag: u64) -> Sample {
        Sample {
            t_s,
            produce_records_per_s: self.acknowledged as f64 / elapsed_s,
            produce_mb_per_s: self.acknowledged_bytes as f64 / elapsed_s / 1e6,
            consume_records_per_s: self.consumed as f64 / elapsed_s,
            consume_mb_per_s: self.consumed_bytes as f64 / elapsed_s / 1e6,
            produce_ack_p50_us: self.ack_us.value_at_quantile(0.5),
            produce_ack_p99_us: self.ack_us.value_at_quantile(0.99),
            consumer_lag: lag,
        }
    }
}

fn live_line(s: &Sample, warmup: bool, consuming: bool) -> String {
    let phase = if warmup { "warmup " } else { "" };
    let mut line = format!(
        "{phase}t={:>5.1}s  produce {:>10.0} rec/s {:>8.1} MB/s  ack p50 {:>7.2} ms p99 {:>7.2} ms",
        s.t_s,
        s.produce_records_per_s,
        s.produce_mb_per_s,
        s.produce_ack_p50_us as f64 / 1000.0,
        s.produce_ack_p99_us as f64 / 1000.0,
    );
    if consuming {
        line.push_str(&format!(
            "  consume {:>10.0} rec/s {:>8.1} MB/s  lag {}",
            s.consume_records_per_s, s.consume_mb_per_s, s.consumer_lag
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_end_on_a_grid_through_the_measurement_start() {
        let anchor = Instant::now() + Duration::from_secs(10);
        let ms = Duration::from_millis;
        // Before the anchor: the next whole second before it.
        assert_eq!(
            first_grid_point_after(anchor - ms(2_300), anchor),
            anchor - ms(2_000)
        );
        assert_eq!(first_grid_point_after(anchor - ms(300), anchor), anchor);
        assert_eq!(first_grid_point_after(anchor, anchor), anchor);
        // After it: the next whole second after it.
        assert_eq!(
            first_grid_point_after(anchor + ms(1), anchor),
            anchor + ms(1_000)
        );
        assert_eq!(
            first_grid_point_after(anchor + ms(2_000), anchor),
            anchor + ms(2_000)
        );
    }
}
