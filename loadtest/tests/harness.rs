//! The harness against a real broker (run in this process) for a few
//! seconds: counts add up, the histograms parse, and the fixed-rate mode
//! holds its rate.

mod common;

use clap::Parser;
use common::Broker;
use loadtest::interval_log::read_interval_log;
use loadtest::report::{parse_hgrm, write_outcome};
use loadtest::run::run;
use loadtest::workload::Workload;

fn workload(broker: &Broker, args: &[&str]) -> Workload {
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        workload: Workload,
    }
    let mut argv = vec!["loadtest", "--broker", &broker.addr];
    argv.extend_from_slice(args);
    Args::parse_from(argv).workload
}

#[test]
fn counts_add_up_and_the_reports_parse() {
    let broker = Broker::start("counts");
    let w = workload(
        &broker,
        &[
            "--partitions",
            "4",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--inflight",
            "256",
        ],
    );
    let outcome = run(&w, |_| {}).expect("run");
    let s = &outcome.summary;
    assert!(s.records_sent > 0);
    assert_eq!(
        s.records_sent,
        s.records_acknowledged + s.records_failed,
        "produced = acknowledged + failed"
    );
    assert_eq!(
        s.records_consumed, s.records_acknowledged,
        "consumed = acknowledged (drained)"
    );
    assert_eq!(s.records_failed, 0);
    assert!(s.produce_records_per_s > 0.0 && s.produce_ack_p99_us > 0 && s.e2e_p99_us > 0);
    assert!(!s.timeline.is_empty(), "one sample per second");

    let dir = broker.dir.join("report");
    write_outcome(&dir, &outcome).expect("report");
    for name in ["produce_ack.hgrm", "e2e.hgrm"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let rows = parse_hgrm(&text).expect("hgrm parses");
        let last = rows.last().unwrap();
        assert!(last.1 >= 0.999, "{name} reaches the top percentile");
        assert_eq!(
            last.2,
            if name == "e2e.hgrm" {
                outcome.e2e_us.len()
            } else {
                outcome.produce_ack_us.len()
            }
        );
    }
    // The interval logs read back with the hdrhistogram crate's reader,
    // and their seconds add up to the whole distributions.
    for (name, whole) in [
        ("produce_ack.hlog", &outcome.produce_ack_us),
        ("e2e.hlog", &outcome.e2e_us),
    ] {
        let log = read_interval_log(&std::fs::read(dir.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(log.start_time.is_some(), "{name} has a StartTime");
        assert!(log.intervals.len() >= 2, "{name}: a 2 s run has 2 seconds");
        let mut sum = loadtest::summary::latency_histogram();
        for interval in &log.intervals {
            assert!(
                interval.duration.as_secs_f64() <= 1.5,
                "{name}: {interval:?}"
            );
            sum.add(&interval.histogram).unwrap();
        }
        assert_eq!(sum, *whole, "{name}: the intervals add up to the run");
        let starts: Vec<_> = log.intervals.iter().map(|i| i.start).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{name}: {starts:?}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for field in [
        "produce_records_per_s",
        "produce_mb_per_s",
        "consume_mb_per_s",
        "produce_ack_p50_us",
        "produce_ack_p99_us",
        "produce_ack_p9999_us",
        "e2e_p99_us",
        "errors",
    ] {
        assert!(json.get(field).is_some(), "summary.json has {field}");
    }

    // The workload, typed: numbers are numbers, acks is its flag's value.
    let settings = &json["workload_settings"];
    assert_eq!(settings["partitions"], 4);
    assert_eq!(settings["producers"], 2);
    assert_eq!(settings["inflight"], 256);
    assert_eq!(settings["duration"], 2.0);
    assert_eq!(settings["acks"], "durable");
    assert_eq!(settings["rate"], serde_json::Value::Null);
    let read_back: loadtest::workload::Workload =
        serde_json::from_value(settings.clone()).expect("workload_settings reads back");
    assert_eq!(read_back, w);

    // What produced it: the harness's build, the host, the broker.
    let provenance = &json["provenance"];
    assert_eq!(provenance["shardlog_version"], env!("CARGO_PKG_VERSION"));
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.git");
    let commit_chars = if checkout.exists() {
        40
    } else {
        "unknown".len()
    };
    assert_eq!(
        provenance["git_commit"].as_str().map(str::len),
        Some(commit_chars),
        "{provenance}"
    );
    assert!(provenance["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(provenance["host"]["cores"].as_u64().unwrap() >= 1);
    assert!(provenance["host"]["kernel"].is_string());
    let broker_settings = &provenance["broker"];
    assert_eq!(broker_settings["address"], broker.addr.as_str());
    assert_eq!(broker_settings["version"], env!("CARGO_PKG_VERSION"));
    assert!(broker_settings["cores"].as_u64().unwrap() >= 1);
    assert_eq!(broker_settings["topic"]["name"], "loadtest");
    assert_eq!(broker_settings["topic"]["partitions"], 4);
    assert!(broker_settings["not_reported"].is_string());
}

#[test]
fn fixed_rate_holds_its_rate_within_five_percent() {
    let broker = Broker::start("rate");
    let rate = 2000.0;
    let w = workload(
        &broker,
        &[
            "--partitions",
            "4",
            "--producers",
            "2",
            "--consumers",
            "1",
            "--rate",
            "2000",
            "--duration",
            "3",
            "--warmup",
            "0.5",
        ],
    );
    let outcome = run(&w, |_| {}).expect("run");
    let achieved = outcome.summary.produce_records_per_s;
    assert!(
        (achieved - rate).abs() <= rate * 0.05,
        "asked {rate}/s, achieved {achieved:.0}/s"
    );
    assert_eq!(outcome.summary.records_failed, 0);
    // The timeline's seconds are whole seconds of the measured window; the
    // one after it (producers stopped, consumers drained) is not plotted.
    let seconds: Vec<f64> = loadtest::report::plotted_seconds(&outcome.summary)
        .iter()
        .map(|s| s.t_s)
        .collect();
    assert_eq!(seconds, [1.0, 2.0, 3.0]);
}

/// `shardlog-loadtest` itself, with `args` after `--broker`.
fn loadtest_command(broker: &Broker, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .args(["--broker", &broker.addr])
        .args(args)
        .output()
        .expect("shardlog-loadtest runs")
}

/// `--pipeline`: every record its own request, several in flight on the
/// core connections, every one answered; with --broker-metrics and
/// --data-dir the broker's CPU and the disk's writes are in summary.json.
#[test]
fn pipelined_requests_are_all_answered_with_several_in_flight() {
    let broker = Broker::start("pipeline");
    let report = broker.dir.join("pipelined");
    let data_dir = broker.dir.join("data");
    let output = loadtest_command(
        &broker,
        &[
            "--pipeline",
            "16",
            "--partitions",
            "4",
            "--producers",
            "1",
            "--consumers",
            "1",
            "--records",
            "4000",
            "--warmup",
            "0",
            "--broker-metrics",
            &broker.metrics_addr,
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["records_sent"], 4000);
    assert_eq!(json["records_acknowledged"], 4000, "every record answered");
    assert_eq!(json["records_failed"], 0);
    assert_eq!(json["records_consumed"], 4000);
    let in_flight = json["requests_in_flight_max"].as_u64().unwrap();
    assert!(
        (2..=16).contains(&in_flight),
        "more than one request in flight, at most --pipeline: {in_flight}"
    );
    assert!(json["produce_requests_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(json["workload_settings"]["pipeline"], 16);
    assert_eq!(json["workload"]["pipeline"], "16");
    // One request per record: as many requests as records acknowledged in
    // the measured window (which starts 100 ms after the producer does),
    // and the broker answered about as many.
    let usage = &json["broker_usage"];
    assert_eq!(usage["metrics_endpoint"], broker.metrics_addr.as_str());
    assert_eq!(usage["requests_counted_by"], "harness");
    let requests = usage["requests"].as_u64().unwrap();
    let measured_records =
        json["produce_records_per_s"].as_f64().unwrap() * json["measured_s"].as_f64().unwrap();
    assert!(
        requests > 0 && (requests as f64 - measured_records).abs() < 1.0,
        "{requests} requests, {measured_records} records"
    );
    // The broker's counter is read over HTTP at the window's edges, a
    // moment apart from the harness's own count: how far apart depends on
    // the machine, so only the gross agreement is asserted (it counts
    // produce requests, at most one per record sent).
    let broker_requests = usage["broker_produce_requests"].as_u64().unwrap();
    assert!(
        broker_requests * 2 >= requests && broker_requests <= 4000,
        "the broker answered {broker_requests}, the harness counted {requests}"
    );
    assert!(usage["cpu_seconds"].as_f64().unwrap() >= 0.0);
    assert!(usage["cpu_us_per_record"].is_number());
    assert!(usage["cpu_us_per_request"].is_number());
    let disk = &json["disk_usage"];
    assert_eq!(
        disk["record_bytes"].as_u64().unwrap(),
        requests * 1024,
        "record bytes of the window"
    );
    assert!(disk["device"].is_string());
    if disk["device"] != "unknown" {
        assert!(disk["bytes_written"].is_u64(), "{disk}");
        assert!(disk["bytes_per_record_byte"].is_number(), "{disk}");
    }
    for needle in [
        "requests/s, one record each",
        "broker CPU",
        "per request",
        "disk ",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
    }
    // Open loop: paced at the rate (never above it; how close it comes
    // below depends on the machine, which a test must not assert), with
    // at most N in flight.
    let w = workload(
        &broker,
        &[
            "--pipeline",
            "4",
            "--partitions",
            "2",
            "--producers",
            "1",
            "--consumers",
            "0",
            "--rate",
            "2000",
            "--duration",
            "2",
            "--warmup",
            "0.5",
        ],
    );
    let outcome = run(&w, |_| {}).expect("a fixed-rate pipelined run");
    let achieved = outcome.summary.produce_records_per_s;
    assert!(
        achieved > 0.0 && achieved <= 2100.0,
        "asked 2000/s, achieved {achieved:.0}/s"
    );
    assert_eq!(outcome.summary.target_records_per_s, Some(2000.0));
    assert_eq!(outcome.summary.records_failed, 0);
    assert!(outcome.summary.requests_in_flight_max.unwrap() <= 4);
    // Over Kafka there is no raw connection to pipeline on.
    let kafka = Workload {
        protocol: loadtest::workload::Protocol::Kafka,
        ..w
    };
    let refused = run(&kafka, |_| {}).err().expect("refused");
    assert!(refused.contains("--pipeline"), "{refused}");
}

#[test]
fn the_command_line_records_the_data_dir_and_the_limits() {
    let broker = Broker::start("provenance");
    let limits = broker.dir.join("limits.json");
    std::fs::write(
        &limits,
        r#"{"limit_mb_per_s": 512.5, "limit_name": "fio O_DIRECT+fdatasync 1 MiB"}"#,
    )
    .unwrap();
    let report = broker.dir.join("report");
    let data_dir = broker.dir.join("data");
    let output = loadtest_command(
        &broker,
        &[
            "--partitions",
            "2",
            "--producers",
            "1",
            "--consumers",
            "1",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--report",
            report.to_str().unwrap(),
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--limits",
            limits.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("limit 512.5 MB/s"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let provenance = &json["provenance"];
    let recorded = &provenance["host"]["data_dir"];
    assert_eq!(
        recorded["path"].as_str(),
        data_dir.canonicalize().unwrap().to_str()
    );
    assert!(!recorded["fs_type"].as_str().unwrap().is_empty());
    assert_eq!(provenance["limits"]["limit_mb_per_s"], 512.5);
    // Each plot as SVG and, beside it, as PNG; the command says so.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in [
        "latency.svg",
        "latency.png",
        "throughput.svg",
        "throughput.png",
    ] {
        let path = report.join(name);
        assert!(
            stderr.contains(&format!("wrote {}", path.display())),
            "{stderr}"
        );
    }
    for name in ["latency.png", "throughput.png"] {
        let png = std::fs::read(report.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
    }

    // A limits file that cannot be read stops the run before it starts.
    let output = loadtest_command(&broker, &["--limits", "/no/such/limits.json"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/no/such/limits.json"), "{stderr}");
}

/// Every shardlog tool takes the broker from SHARDLOG_BROKER, and
/// durations and sizes with units.
#[test]
fn the_broker_comes_from_shardlog_broker_and_durations_take_units() {
    let broker = Broker::start("broker-env");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .env("SHARDLOG_BROKER", &broker.addr)
        .args([
            "--partitions",
            "1",
            "--producers",
            "1",
            "--consumers",
            "1",
            "--duration",
            "1s",
            "--warmup",
            "0ms",
            "--batch-bytes",
            "64KiB",
            "--linger-ms",
            "1ms",
        ])
        .output()
        .expect("shardlog-loadtest runs");
    assert!(output.status.success(), "{output:?}");

    // A bad value is refused naming the flag, before any connection.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardlog-loadtest"))
        .env("SHARDLOG_BROKER", &broker.addr)
        .args(["--duration", "30 parsecs"])
        .output()
        .expect("shardlog-loadtest runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--duration"), "{stderr}");
}

#[test]
fn earliest_consumers_read_the_backlog_apart_from_produce() {
    let broker = Broker::start("catch-up");
    let common = ["--partitions", "4", "--topic", "backlog", "--warmup", "0"];
    let with = |extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        workload(&broker, &args)
    };
    // Fill the topic; nobody reads.
    let fill = run(
        &with(&["--producers", "2", "--consumers", "0", "--records", "4000"]),
        |_| {},
    )
    .expect("fill");
    assert_eq!(fill.summary.records_acknowledged, 4000);

    // Read it back from disk, no producer: a read throughput of its own.
    let catch_up = with(&[
        "--producers",
        "0",
        "--consumers",
        "2",
        "--consumers-from",
        "earliest",
        "--duration",
        "60",
    ]);
    let s = run(&catch_up, |_| {}).expect("catch-up").summary;
    assert_eq!(s.backlog_records, 4000);
    assert!(s.backlog_bytes >= 4000 * 1024, "{}", s.backlog_bytes);
    assert_eq!(s.records_consumed, 4000, "the whole backlog, then stop");
    assert_eq!((s.records_sent, s.produce_records_per_s), (0, 0.0));
    assert!(s.consume_records_per_s > 0.0 && s.consume_mb_per_s > 0.0);
    assert_eq!(
        s.e2e.count, 0,
        "backlog records were waiting before the run: no end-to-end latency"
    );
    assert_eq!(
        s.workload_settings.as_ref().unwrap().consumers_from,
        loadtest::workload::ConsumersFrom::Earliest
    );

    // Backlog and new records together: every record read once, and only
    // this run's have an end-to-end latency.
    let both = run(
        &with(&[
            "--producers",
            "1",
            "--consumers",
            "2",
            "--consumers-from",
            "earliest",
            "--records",
            "1000",
        ]),
        |_| {},
    )
    .expect("catch-up while producing")
    .summary;
    assert_eq!(both.backlog_records, 4000);
    assert_eq!(both.records_acknowledged, 1000);
    assert_eq!(both.records_consumed, 5000);
    assert_eq!(both.e2e.count, 1000);

    // Nothing to read: no producer and consumers at the tail.
    let error = run(&with(&["--producers", "0"]), |_| {}).err().unwrap();
    assert!(error.contains("--consumers-from earliest"), "{error}");
}

#[test]
fn a_suite_file_runs_with_one_command() {
    let broker = Broker::start("suite");
    let file = broker.dir.join("suite.toml");
    std::fs::write(
        &file,
        r#"
        description = "a max run, then half of it"
        [defaults]
        partitions = 2
        producers = 1
        consumers = 1
        duration = 60
        warmup = 0
        inflight = 64

        [[runs]]
        name = "max"
        group = "g"

        [[runs]]
        name = "half"
        group = "g"
        rate_percent_of = { run = "max", percent = 50 }
        "#,
    )
    .unwrap();
    let out = broker.dir.join("suite-out");
    let suite_args = ["--suite", file.to_str().unwrap()];

    let listed = loadtest_command(&broker, &[&suite_args[..], &["--suite-list"]].concat());
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "g\tmax\t2\tdurable\tmax\ng\thalf\t2\tdurable\trate 50% of max\n"
    );

    // --duration on the command line overrides the file's 60 s.
    let output = loadtest_command(
        &broker,
        &[
            &suite_args[..],
            &["--suite-out", out.to_str().unwrap(), "--duration", "1"],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{output:?}");
    let summary = |run: &str| {
        let path = loadtest::suite::report_dir(&out, run).join("summary.json");
        loadtest::compare::read_summary(&path).unwrap()
    };
    let (max, half) = (summary("max"), summary("half"));
    let settings = |s: &loadtest::summary::RunSummary| s.workload_settings.clone().unwrap();
    assert_eq!(settings(&max).topic, "loadtest-max");
    assert_eq!(settings(&half).topic, "loadtest-half");
    assert_eq!(settings(&max).duration, 1.0);
    assert_eq!(settings(&max).broker, broker.addr);
    assert!(max.produce_records_per_s > 0.0);
    assert_eq!(
        half.target_records_per_s,
        Some((max.produce_records_per_s * 0.5).floor())
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("run "))
        .collect();
    assert_eq!(table.len(), 3, "{stdout}");
    assert!(table[1].starts_with("max ") && table[2].starts_with("half "));

    // Only the runs named; a name the file lacks is an error.
    let output = loadtest_command(
        &broker,
        &[
            &suite_args[..],
            &["--suite-out", "x", "--suite-run", "nope"],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no run named `nope`"));
}

#[test]
fn several_topics_share_the_records_round_robin() {
    let broker = Broker::start("topics");
    let w = workload(
        &broker,
        &[
            "--topic",
            "many",
            "--topics",
            "3",
            "--partitions",
            "2",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--records",
            "3000",
            "--warmup",
            "0",
        ],
    );
    let s = run(&w, |_| {}).expect("run").summary;
    assert_eq!(s.records_acknowledged, 3000);
    assert_eq!(s.records_consumed, 3000, "consumers read every topic");
    assert_eq!(s.workload_settings.as_ref().unwrap().topics, 3);
    assert_eq!(s.workload["topics"], "3");
    let mut admin = shardlog::client::Admin::connect(
        &broker.addr,
        shardlog::client::ConnectionConfig::default(),
    )
    .unwrap();
    for name in ["many-0", "many-1", "many-2"] {
        let topic = admin.describe_topic(name).unwrap();
        assert_eq!(topic.partitions.len(), 2, "{name}");
        let records: u64 = topic.partitions.iter().map(|p| p.latest_offset).sum();
        assert_eq!(records, 1000, "{name}: a third of the records");
    }
    assert!(
        admin.describe_topic("many").is_err(),
        "no topic of the bare name"
    );
}

/// `--protocol kafka` against the broker's own Kafka port, through
/// librdkafka: every record sent is acknowledged and consumed, keyed
/// records included; then a catch-up read from the earliest offset finds
/// them all as the backlog. Counts only: no figure depends on the clock.
#[test]
fn the_kafka_protocol_drives_the_kafka_port() {
    let broker = Broker::start("kafka");
    let args = [
        "--protocol",
        "kafka",
        "--topic",
        "over-kafka",
        "--partitions",
        "4",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--records",
        "4000",
        "--warmup",
        "0",
        "--key-bytes",
        "8",
    ];
    let mut w = workload(&broker, &args);
    w.broker = broker.kafka_addr.clone();
    let s = run(&w, |_| {}).expect("run over kafka").summary;
    assert_eq!(
        (s.records_sent, s.records_acknowledged, s.records_failed),
        (4000, 4000, 0)
    );
    assert_eq!(
        s.records_consumed, 4000,
        "consumed = acknowledged (drained)"
    );
    assert!(
        s.e2e.count > 0,
        "end-to-end latency from the payload's stamp"
    );
    let provenance = s.provenance.expect("provenance");
    let client = provenance.client.expect("the client is recorded");
    assert_eq!(
        (client.protocol.as_str(), client.library.as_str()),
        ("kafka", "librdkafka")
    );
    let reported = provenance.broker.expect("broker settings");
    assert_eq!(reported.topic.partitions, 4);
    assert!(reported.cores >= 1, "brokers in Metadata: one per core");
    assert_eq!(
        s.workload_settings.map(|w| w.protocol),
        Some(loadtest::workload::Protocol::Kafka)
    );

    let mut catch_up = workload(
        &broker,
        &[
            "--protocol",
            "kafka",
            "--topic",
            "over-kafka",
            "--producers",
            "0",
            "--consumers",
            "2",
            "--consumers-from",
            "earliest",
            "--warmup",
            "0",
        ],
    );
    catch_up.broker = broker.kafka_addr.clone();
    let s = run(&catch_up, |_| {}).expect("catch-up over kafka").summary;
    assert_eq!(s.backlog_records, 4000, "from the watermarks");
    assert_eq!(s.records_consumed, 4000);
}
