//! One soak run, start to end:
//!
//! 1. a data dir and free ports; the broker starts; the topic is created;
//! 2. the verifying consumers and producers start, and the sampler;
//! 3. until the duration has passed: the broker gets the next fault of the
//!    [`Schedule`] (SIGKILL or SIGTERM), is waited for, and restarted; the
//!    probe measures the recovery; an exit nobody asked for is counted and
//!    restarted too;
//!    meanwhile idle consumers long-poll a topic nobody writes to;
//! 4. faults stop; the producers stop and drain; one record goes to each
//!    idle partition and the idle consumers must read it; the consumers stop;
//! 5. every partition is read back and checked; the broker is stopped.
//!
//! Every wait has a timeout, and `interrupted` (Ctrl-C) ends the run early
//! at any step. The broker is killed and the data dir removed on every way
//! out (their drops).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shardlog::client::{Acks, Admin, ConnectionConfig, TopicSettings};

use super::broker::{
    create_data_dir, create_log, default_broker_bin, BrokerProcess, BrokerSpec, OwnedDataDir, Ports,
};
use super::config::{
    SoakArgs, BROKER_START_TIMEOUT, KILL_EXIT_TIMEOUT, START_ATTEMPTS_MAX, TERM_EXIT_TIMEOUT, TICK,
};
use super::faults::{Rng, Schedule, Signal};
use super::idle::{
    end_the_idle_phase, run_idle_consumer, wait_for_idle_reads, IdleCounters, IdleOutcome,
    IDLE_TOPIC,
};
use super::probe::Probe;
use super::report::{recovery_summary, Restart, SoakReport};
use super::sampler::{run_sampler, Gauges, Sample};
use crate::verify::checker::{check, count_outcomes};
use crate::verify::consumer::run_verifying_consumer;
use crate::verify::history::History;
use crate::verify::producer::{run_verifying_producer, AckInterval, ProducerSettings};
use crate::verify::readback::read_back;

/// The soak's topic.
pub const TOPIC: &str = "soak";
/// How long creating the topic may take.
const CREATE_TOPIC_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a soak; `Err` when it could not run at all (no broker, no ports),
/// otherwise the report, which says whether it passed.
pub fn run_soak(args: &SoakArgs, interrupted: &AtomicBool) -> Result<SoakReport, String> {
    args.validate()?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = Rng::new(seed);
    let cores = args
        .cores
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bin = match &args.broker_bin {
        Some(bin) => bin.clone(),
        None => default_broker_bin()?,
    };
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("tmp/soak-{}", std::process::id())));
    let data_dir = OwnedDataDir {
        path: create_data_dir(&data_dir)?,
        keep: args.keep_data,
    };
    let log = match &args.report {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir.join("broker.log")
        }
        None => data_dir.path.with_extension("broker.log"),
    };
    create_log(&log)?;
    let spec = BrokerSpec {
        bin,
        data_dir: data_dir.path.clone(),
        ports: Ports::find_free(cores, &mut rng)?,
        cores,
        extra_args: args.broker_args.clone(),
        log: log.clone(),
    };
    let mut broker = BrokerProcess::new(spec);
    let broker_pid = AtomicU32::new(0);
    let soak = Soak {
        args,
        seed,
        rng,
        cores,
        broker: &mut broker,
        interrupted,
        broker_pid: &broker_pid,
        next_producer_id: 1,
        errors: Vec::new(),
        restarts: Vec::new(),
        unexpected_exits: 0,
        sigterm_timeouts: 0,
        faults_skipped: 0,
    };
    let mut result = soak.run();
    // Stop the broker before the data dir goes.
    if let Err(err) = broker.stop(TERM_EXIT_TIMEOUT) {
        tracing::warn!(%err, "stopping the broker");
    }
    if let Ok(report) = &mut result {
        // A panic that glommio catches (in a waker) leaves the broker
        // running but broken: only its log tells.
        let panics = std::fs::read_to_string(&log)
            .map_or(0, |text| text.matches("panicked at").count() as u64);
        if panics > 0 {
            report.broker_panics = panics;
            report.passed = false;
            report.failures.push(format!(
                "{panics} panics in the broker's log ({})",
                log.display()
            ));
        }
    }
    if args.report.is_none() && !args.keep_data {
        let _ = std::fs::remove_file(&log);
    }
    drop(data_dir);
    result
}

struct Soak<'a> {
    args: &'a SoakArgs,
    seed: u64,
    rng: Rng,
    cores: usize,
    broker: &'a mut BrokerProcess,
    interrupted: &'a AtomicBool,
    /// The running broker's pid for the sampler, 0 while none runs.
    broker_pid: &'a AtomicU32,
    /// Producer ids are unique over the whole run.
    next_producer_id: u32,
    errors: Vec<String>,
    restarts: Vec<Restart>,
    unexpected_exits: u64,
    sigterm_timeouts: u64,
    faults_skipped: u64,
}

impl Soak<'_> {
    fn address(&self) -> String {
        self.broker.spec().address()
    }

    fn acks(&self) -> Acks {
        self.args.acks.into()
    }

    fn new_producer_id(&mut self) -> u32 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    fn run(mut self) -> Result<SoakReport, String> {
        self.start_broker()?;
        self.create_topics()?;
        let address = self.address();
        let args = self.args;
        let settings = ProducerSettings {
            broker: address.clone(),
            topic: TOPIC.to_string(),
            partitions: args.partitions,
            acks: self.acks(),
            idempotence: !args.no_idempotence,
            rate: args.rate / f64::from(args.producers),
            record_bytes: args.record_bytes,
            retry_for: args.recovery_timeout * 2,
            drain_timeout: args.drain_timeout,
        };
        let producer_ids: Vec<u32> = (0..args.producers)
            .map(|_| self.new_producer_id())
            .collect();
        let mut probe = Probe::new(
            self.new_producer_id(),
            &address,
            TOPIC,
            args.partitions,
            self.acks(),
            args.record_bytes,
        );
        let acks = Mutex::new(AckInterval::default());
        let consumed = AtomicU64::new(0);
        let idle = IdleCounters::default();
        let mut idle_records_read = 0;
        let stop_producers = AtomicBool::new(false);
        let stop_consumers = AtomicBool::new(false);
        let stop_sampler = AtomicBool::new(false);
        let consumers = args.consumers.min(args.partitions);
        let load_started = Instant::now();
        let broker_pid = self.broker_pid;

        let (histories, reads, (samples, latency)) = std::thread::scope(|scope| {
            let sampler = scope.spawn(|| {
                let gauges = Gauges {
                    acks: &acks,
                    consumed: &consumed,
                    broker_pid,
                };
                let quiet = args.quiet;
                run_sampler(&gauges, &stop_sampler, |s| {
                    if !quiet {
                        eprintln!("{}", live_line(s));
                    }
                })
            });
            let consumer_threads: Vec<_> = (0..consumers)
                .map(|c| {
                    let mine: Vec<u32> = (0..args.partitions)
                        .filter(|p| p % consumers == c)
                        .collect();
                    let (address, consumed, stop) = (&address, &consumed, &stop_consumers);
                    scope.spawn(move || {
                        run_verifying_consumer(address, TOPIC, &mine, stop, consumed)
                    })
                })
                .collect();
            let idle_threads: Vec<_> = (0..args.idle_consumers)
                .map(|_| {
                    let (address, stop, idle) = (&address, &stop_consumers, &idle);
                    scope.spawn(move || run_idle_consumer(address, args.partitions, stop, idle))
                })
                .collect();
            let producer_threads: Vec<_> = producer_ids
                .iter()
                .map(|&id| {
                    let (settings, stop, acks) = (&settings, &stop_producers, &acks);
                    scope.spawn(move || run_verifying_producer(id, settings, stop, acks))
                })
                .collect();

            self.inject_faults(load_started, &mut probe);

            // The broker must be up to take the last records.
            if self.broker.pid().is_none() && !self.interrupted.load(Ordering::Relaxed) {
                if let Err(err) = self.restart(&mut probe, None) {
                    self.errors.push(err);
                }
            }
            stop_producers.store(true, Ordering::Relaxed);
            let mut histories = Vec::new();
            for t in producer_threads {
                match t.join() {
                    Ok(Ok(history)) => histories.push(history),
                    Ok(Err(err)) => self.errors.push(err),
                    Err(_) => self.errors.push("a producer thread panicked".into()),
                }
            }
            if args.idle_consumers > 0 && !self.interrupted.load(Ordering::Relaxed) {
                match end_the_idle_phase(&address, args.partitions) {
                    Ok(()) => {
                        let expected = u64::from(args.idle_consumers * args.partitions);
                        idle_records_read = wait_for_idle_reads(&idle, expected);
                    }
                    Err(err) => self.errors.push(err),
                }
            }
            // Consumers read on a moment so they see the last records.
            self.sleep_until(Instant::now() + Duration::from_secs(1));
            stop_consumers.store(true, Ordering::Relaxed);
            for t in idle_threads {
                if t.join().is_err() {
                    self.errors.push("an idle consumer thread panicked".into());
                }
            }
            let mut reads = Vec::new();
            for t in consumer_threads {
                match t.join() {
                    Ok(history) => reads.push(history),
                    Err(_) => self.errors.push("a consumer thread panicked".into()),
                }
            }
            stop_sampler.store(true, Ordering::Relaxed);
            // A panicked sampler leaves no samples, not a failed run.
            let sampled = sampler
                .join()
                .unwrap_or_else(|_| (Vec::new(), crate::summary::latency_histogram()));
            (histories, reads, sampled)
        });
        let load_s = load_started.elapsed().as_secs_f64();

        let mut history = History {
            producers: histories,
            consumers: reads,
            partitions: Vec::new(),
        };
        history.producers.push(probe.history);
        if self.interrupted.load(Ordering::Relaxed) {
            self.errors.push("interrupted".into());
        }
        eprintln!("reading every partition back and checking");
        let read = if self.broker.pid().is_some() {
            read_back(&address, TOPIC, args.partitions, args.check_timeout)
        } else {
            Err("no broker is running to read from".to_string())
        };
        let checked = match read {
            Ok(logs) => {
                history.partitions = logs;
                check(&history)
            }
            Err(err) => {
                // Without the log, only the producers' side can be counted.
                self.errors
                    .push(format!("read-back: {err}; nothing was checked"));
                count_outcomes(&history)
            }
        };
        drop(history);
        let idle = IdleOutcome {
            polls: idle.polls.load(Ordering::Relaxed),
            records_read: idle_records_read,
            // An interrupted run never produced the closing records.
            records_expected: if self.interrupted.load(Ordering::Relaxed) {
                0
            } else {
                u64::from(args.idle_consumers * args.partitions)
            },
        };
        Ok(self.report(checked, samples, &latency, load_s, idle))
    }

    /// Until the duration is over: wait for the next fault, deliver it,
    /// restart. Unasked exits are restarted as they are seen.
    fn inject_faults(&mut self, load_started: Instant, probe: &mut Probe) {
        let end = load_started + self.args.duration;
        let mut schedule = Schedule::new(
            load_started,
            self.args.kill_every,
            self.args.sigterm_every,
            self.rng.next_u64(),
        );
        let mut not_before = Instant::now();
        while Instant::now() < end && !self.interrupted.load(Ordering::Relaxed) {
            let fault = schedule.next(not_before).filter(|f| f.at < end);
            let wake = fault.map_or(end, |f| f.at);
            // Waiting, and watching the broker meanwhile.
            let mut crashed = false;
            while Instant::now() < wake && !self.interrupted.load(Ordering::Relaxed) {
                if let Some(status) = self.broker.exited() {
                    self.broker_pid.store(0, Ordering::Relaxed);
                    self.unexpected_exits += 1;
                    let message = format!(
                        "the broker exited by itself ({status}) at {:.1} s",
                        load_started.elapsed().as_secs_f64()
                    );
                    tracing::error!("{message}");
                    self.errors.push(message);
                    crashed = true;
                    break;
                }
                std::thread::sleep(TICK.min(wake.saturating_duration_since(Instant::now())));
            }
            if self.interrupted.load(Ordering::Relaxed) {
                break;
            }
            if crashed {
                if let Err(err) = self.restart(probe, None) {
                    self.errors.push(err);
                    return;
                }
                not_before = Instant::now();
                continue;
            }
            let Some(fault) = fault else { break };
            let at_s = load_started.elapsed().as_secs_f64();
            let exit = match self.stop_with(fault.signal) {
                Ok(exit) => exit,
                Err(err) => {
                    self.errors.push(err);
                    return;
                }
            };
            let restart = Restart {
                at_s,
                signal: fault.signal,
                exit,
                ready_ms: None,
                recovery_ms: None,
            };
            if let Err(err) = self.restart(probe, Some(restart)) {
                self.errors.push(err);
                return;
            }
            not_before = Instant::now();
        }
        if schedule.skipped > 0 {
            tracing::info!(
                skipped = schedule.skipped,
                "fault moments passed during recoveries"
            );
        }
        self.faults_skipped = schedule.skipped;
    }

    /// Sends `signal` and waits for the exit; returns how it exited.
    fn stop_with(&mut self, signal: Signal) -> Result<String, String> {
        self.broker.signal(signal)?;
        let timeout = match signal {
            Signal::Kill => KILL_EXIT_TIMEOUT,
            Signal::Term => TERM_EXIT_TIMEOUT,
        };
        let (status, timed_out) = self.broker.wait_exit(timeout)?;
        self.broker_pid.store(0, Ordering::Relaxed);
        if timed_out {
            if signal == Signal::Kill {
                return Err(format!(
                    "the broker did not die within {timeout:?} of SIGKILL"
                ));
            }
            self.sigterm_timeouts += 1;
        }
        Ok(status.to_string())
    }

    /// Starts the broker again and measures its recovery with the probe;
    /// `restart` (a fault's) is logged with it.
    fn restart(&mut self, probe: &mut Probe, restart: Option<Restart>) -> Result<(), String> {
        let (spawned, ready_at) = self.start_broker()?;
        let deadline = spawned + self.args.recovery_timeout;
        let broker = &mut *self.broker;
        let interrupted = self.interrupted;
        let accepted = probe.until_accepted(deadline, || {
            !interrupted.load(Ordering::Relaxed) && broker.pid().is_some() && {
                // `exited` forgets a dead broker: the caller sees it gone.
                broker.exited().is_none()
            }
        });
        let recovery_ms = accepted.map(|at| (at - spawned).as_millis() as u64);
        if recovery_ms.is_none() && !self.interrupted.load(Ordering::Relaxed) {
            tracing::error!("no produce accepted within the recovery timeout");
        }
        if let Some(mut restart) = restart {
            restart.ready_ms = Some((ready_at - spawned).as_millis() as u64);
            restart.recovery_ms = recovery_ms;
            self.restarts.push(restart);
        }
        if self.broker.pid().is_none() {
            self.broker_pid.store(0, Ordering::Relaxed);
            self.unexpected_exits += 1;
            return Err("the broker exited while recovering".into());
        }
        Ok(())
    }

    /// Spawns the broker and waits until it serves, a few attempts if it
    /// exits at once; returns when the serving one was spawned and when it
    /// was seen serving.
    fn start_broker(&mut self) -> Result<(Instant, Instant), String> {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS_MAX {
            let spawned = self.broker.spawn()?;
            self.broker_pid
                .store(self.broker.pid().unwrap_or(0), Ordering::Relaxed);
            match self.broker.wait_ready(BROKER_START_TIMEOUT) {
                Ok(()) => return Ok((spawned, Instant::now())),
                Err(err) => {
                    tracing::warn!(%err, "the broker did not start");
                    last_error = err;
                    let _ = self.broker.wait_exit(KILL_EXIT_TIMEOUT);
                    self.broker_pid.store(0, Ordering::Relaxed);
                    if self.interrupted.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        Err(format!("starting the broker: {last_error}"))
    }

    /// The soak's topic and the idle topic, with `--partitions` each.
    fn create_topics(&mut self) -> Result<(), String> {
        self.create_topic(TOPIC)?;
        if self.args.idle_consumers > 0 {
            self.create_topic(IDLE_TOPIC)?;
        }
        Ok(())
    }

    fn create_topic(&mut self, name: &str) -> Result<(), String> {
        let deadline = Instant::now() + CREATE_TOPIC_TIMEOUT;
        let settings = TopicSettings {
            partitions: self.args.partitions,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: None,
        };
        loop {
            let created = Admin::connect(&self.address(), ConnectionConfig::default())
                .and_then(|mut admin| admin.create_topic(name, settings.clone()));
            match created {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() >= deadline => {
                    return Err(format!("creating the topic {name}: {err}"))
                }
                Err(err) => {
                    tracing::warn!(%err, "creating the topic, trying again");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn sleep_until(&self, until: Instant) {
        while Instant::now() < until && !self.interrupted.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
        }
    }

    fn report(
        self,
        checked: crate::verify::checker::Check,
        samples: Vec<Sample>,
        latency: &hdrhistogram::Histogram<u64>,
        load_s: f64,
        idle: IdleOutcome,
    ) -> SoakReport {
        let args = self.args;
        let (recovery_ms_p50, recovery_ms_max) =
            recovery_summary(self.restarts.iter().map(|r| r.recovery_ms));
        let (ready_ms_p50, ready_ms_max) =
            recovery_summary(self.restarts.iter().map(|r| r.ready_ms));
        let quantile_ms =
            |q: f64| (!latency.is_empty()).then(|| latency.value_at_quantile(q) as f64 / 1_000.0);
        let mut report = SoakReport {
            seed: self.seed,
            duration_s: args.duration.as_secs_f64(),
            kill_every_s: args.kill_every.map(|d| d.as_secs_f64()),
            sigterm_every_s: args.sigterm_every.map(|d| d.as_secs_f64()),
            rate: args.rate,
            partitions: args.partitions,
            producers: args.producers,
            consumers: args.consumers,
            record_bytes: args.record_bytes,
            acks: format!("{:?}", args.acks).to_lowercase(),
            idempotence: !args.no_idempotence,
            broker_cores: self.cores,
            acknowledged: checked.acknowledged,
            lost: checked.lost,
            duplicates: checked.duplicates,
            inconsistent_offsets: checked.inconsistent_offsets(),
            non_monotonic_reads: checked.non_monotonic_reads(),
            restarts: self.restarts.len() as u64,
            sigkills: self
                .restarts
                .iter()
                .filter(|r| r.signal == Signal::Kill)
                .count() as u64,
            sigterms: self
                .restarts
                .iter()
                .filter(|r| r.signal == Signal::Term)
                .count() as u64,
            unexpected_exits: self.unexpected_exits,
            sigterm_timeouts: self.sigterm_timeouts,
            faults_skipped: self.faults_skipped,
            recovery_ms_p50,
            recovery_ms_max,
            ready_ms_p50,
            ready_ms_max,
            restart_log: self.restarts,
            throughput_per_s: checked.acknowledged as f64 / load_s.max(1e-9),
            ack_p50_ms: quantile_ms(0.5),
            ack_p99_ms: quantile_ms(0.99),
            ack_max_ms: (!latency.is_empty()).then(|| latency.max() as f64 / 1_000.0),
            rss_bytes_max: samples.iter().filter_map(|s| s.rss_bytes).max(),
            open_files_max: samples.iter().filter_map(|s| s.open_files).max(),
            samples,
            check: checked,
            idle_consumers: args.idle_consumers,
            idle_polls: idle.polls,
            idle_records_expected: idle.records_expected,
            idle_records_read: idle.records_read,
            ..SoakReport::default()
        };
        report.judge(&self.errors);
        report
    }
}

/// The line printed every second.
fn live_line(s: &Sample) -> String {
    format!(
        "{:>7.1}s  acked {:>7}/s  failed {:>5}  read {:>7}/s  p99 {:>9}  rss {:>9}  fds {:>5}",
        s.t_s,
        s.acknowledged,
        s.failed,
        s.consumed,
        s.ack_p99_ms
            .map_or_else(|| "-".to_string(), |v| format!("{v:.1}ms")),
        s.rss_bytes.map_or_else(
            || "down".to_string(),
            |v| format!("{:.1}MiB", v as f64 / 1048576.0)
        ),
        s.open_files
            .map_or_else(|| "-".to_string(), |v| v.to_string()),
    )
}
