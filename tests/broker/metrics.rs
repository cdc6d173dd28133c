//! The metrics endpoint scraped over HTTP during load and parsed as the
//! Prometheus text format; the counters checked against what the test did;
//! HTTP errors; the Stats API and `shardlog stats`.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use shardlog::client::{Admin, ConnectionConfig};
use shardlog::protocol::produce::Acks;

use crate::common::{batch, wait_for_exit, Broker, DataDir};
use crate::data::{fetch, produce};

/// One sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed strictly: every sample belongs to a family declared
/// once with HELP and TYPE, histograms' buckets ascend to +Inf = count.
struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helped: Vec<String> = Vec::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(!helped.contains(&name), "HELP twice for {name}");
                helped.push(name);
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap().to_string();
                let kind = parts.next().expect("a type").to_string();
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind.as_str()),
                    "{line}"
                );
                assert!(types.insert(name, kind).is_none(), "TYPE twice: {line}");
                continue;
            }
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "stray line {line:?}"
            );
            samples.push(parse_sample(line));
        }
        for sample in &samples {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let base = sample.name.strip_suffix(suffix)?;
                    (types.get(base).map(String::as_str) == Some("histogram"))
                        .then(|| base.to_string())
                })
                .unwrap_or_else(|| sample.name.clone());
            assert!(types.contains_key(&family), "undeclared {}", sample.name);
            assert!(helped.contains(&family), "no HELP for {}", sample.name);
            if types[&family] == "counter" {
                assert!(sample.name.ends_with("_total"), "{}", sample.name);
            }
        }
        let scrape = Scrape { samples };
        scrape.check_histograms(&types);
        scrape
    }

    fn check_histograms(&self, types: &HashMap<String, String>) {
        for (family, _) in types.iter().filter(|(_, kind)| *kind == "histogram") {
            let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self
                .samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket"))
            {
                let mut labels = s.labels.clone();
                let le = labels.remove("le").expect("buckets have le");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                series
                    .entry(format!("{labels:?}"))
                    .or_default()
                    .push((le, s.value));
            }
            for (labels, buckets) in series {
                assert!(
                    buckets
                        .windows(2)
                        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                    "{family}{labels}: buckets ascend and accumulate: {buckets:?}"
                );
                let (last_le, last_count) = *buckets.last().unwrap();
                assert_eq!(last_le, f64::INFINITY, "{family}{labels} ends at +Inf");
                let count = self
                    .samples
                    .iter()
                    .find(|s| {
                        s.name == format!("{family}_count") && format!("{:?}", s.labels) == labels
                    })
                    .expect("a _count per series")
                    .value;
                assert_eq!(count, last_count, "{family}{labels}: +Inf = _count");
            }
        }
    }

    /// Sum of a metric over the samples whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').expect("name and value");
    let value: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("value in {line:?}"));
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest.strip_suffix('}').expect("labels close");
            (name, parse_labels(body))
        }
    };
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "metric name {name:?}"
    );
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {key} is quoted");
        let mut value = String::new();
        loop {
            match chars.next().expect("label value closes") {
                '"' => break,
                '\\' => value.push(match chars.next().unwrap() {
                    'n' => '\n',
                    c => c,
                }),
                c => value.push(c),
            }
        }
        assert!(labels.insert(key, value).is_none(), "label twice in {body}");
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// Sends `request` as is and returns the whole answer (the server closes).
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn scrape(addr: SocketAddr) -> Scrape {
    let answer = http(addr, b"GET /metrics HTTP/1.1\r\nHost: shardlog\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    Scrape::parse(body)
}

const PARTITIONS: u32 = 4;
const RECORDS_PER_BATCH: u32 = 3;
const ROUNDS: u32 = 150;

#[test]
fn scraped_during_load_the_counters_match_what_was_done() {
    let dir = DataDir::new("metrics-load");
    let broker = Broker::start_with(&dir.0, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics = broker.metrics.expect("the ready file names the endpoint");
    let mut client = broker.connect();
    client.create_topic("metered", PARTITIONS);

    let addr = broker.addr;
    let load = std::thread::spawn(move || {
        let mut client = crate::common::Client::connect(addr);
        for round in 0..ROUNDS {
            let batches = (0..PARTITIONS)
                .map(|p| (p, batch(&format!("r{round}"), RECORDS_PER_BATCH)))
                .collect();
            let response = produce(&mut client, "metered", batches, Acks::Durable);
            for (_, partitions) in &response.topics {
                assert!(partitions.iter().all(|p| p.error_code == 0));
            }
        }
    });
    let mut appends_seen = 0.0;
    loop {
        let finished = load.is_finished();
        let during = scrape(metrics);
        let appends = during.sum("shardlog_partition_appends_total", &[("topic", "metered")]);
        assert!(appends >= appends_seen, "counters never go back");
        appends_seen = appends;
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    load.join().unwrap();

    // An unknown partition and a corrupt batch, each answered with its code.
    produce(
        &mut client,
        "metered",
        vec![(9, batch("x", 1))],
        Acks::Durable,
    );
    let mut corrupt = batch("bad", 2);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xFF;
    produce(&mut client, "metered", vec![(0, corrupt)], Acks::Durable);
    let read = fetch(&mut client, "metered", &[(1, 0)], 0, 0);
    assert!(!read.topics[0].1[0].records.is_empty());

    let after = scrape(metrics);
    for p in 0..PARTITIONS {
        let labels = [("topic", "metered"), ("partition", &p.to_string())];
        let labels = &labels[..];
        let appends = f64::from(ROUNDS);
        assert_eq!(
            after.sum("shardlog_partition_appends_total", labels),
            appends
        );
        assert_eq!(
            after.sum("shardlog_partition_append_records_total", labels),
            appends * f64::from(RECORDS_PER_BATCH)
        );
        assert_eq!(
            after.sum("shardlog_partition_high_watermark", labels),
            appends * f64::from(RECORDS_PER_BATCH)
        );
        assert_eq!(
            after.sum("shardlog_partition_append_duration_seconds_count", labels),
            appends
        );
        let commits = after.sum("shardlog_partition_commits_total", labels);
        let fsyncs = after.sum("shardlog_partition_fsyncs_total", labels);
        assert!(commits >= 1.0 && commits <= appends, "{commits} commits");
        assert!(
            fsyncs >= 1.0 && fsyncs <= commits,
            "{fsyncs} fsyncs, durable acks"
        );
        assert_eq!(
            after.sum("shardlog_partition_commit_batches_sum", labels),
            appends,
            "every batch in exactly one commit"
        );
        assert!(after.sum("shardlog_partition_size_bytes", labels) > 0.0);
        assert_eq!(after.sum("shardlog_partition_segments", labels), 1.0);
    }
    let produces = after.sum("shardlog_requests_total", &[("api", "Produce")]);
    assert_eq!(produces, f64::from(ROUNDS) + 2.0);
    let corrupt_labels = [("topic", "metered"), ("partition", "0"), ("code", "7")];
    assert_eq!(
        after.sum("shardlog_partition_errors_total", &corrupt_labels),
        1.0
    );
    assert!(after.sum("shardlog_errors_total", &[("code", "5")]) >= 1.0);
    assert!(after.sum("shardlog_errors_total", &[("code", "7")]) >= 1.0);
    assert!(
        after.sum("shardlog_connections", &[]) >= 1.0,
        "this client is open"
    );
    assert!(after.sum("shardlog_produce_bytes_total", &[]) > 0.0);
    assert!(after.sum("shardlog_fetch_bytes_total", &[]) > 0.0);
    assert!(after.sum("shardlog_cache_reads_total", &[("result", "hit")]) >= 1.0);
    assert!(after.has("shardlog_cache_hit_ratio", &[("core", "0")]));
    // Four partitions over the cores: some produce hopped to another core.
    let cores = after
        .samples
        .iter()
        .filter(|s| s.name == "shardlog_connections")
        .count();
    if cores > 1 {
        assert!(after.sum("shardlog_cross_core_messages_sent_total", &[]) >= 1.0);
        assert!(after.sum("shardlog_cross_core_messages_received_total", &[]) >= 1.0);
    }
}

impl Scrape {
    /// The one sample of a broker-wide family (no `core` label).
    fn only(&self, name: &str) -> &Sample {
        let found: Vec<&Sample> = self.samples.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "one sample of {name}: {found:?}");
        found[0]
    }
}

/// The standard process family, the build, and the data file system's
/// free space beside the reserve, each once for the whole broker.
#[test]
fn the_process_the_build_and_the_free_space_are_exposed() {
    let dir = DataDir::new("metrics-process");
    let broker = Broker::start_with(
        &dir.0,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--min-free-bytes",
            "1MiB",
        ],
    );
    let scrape = scrape(broker.metrics.expect("the ready file names the endpoint"));

    let rss = scrape.only("process_resident_memory_bytes").value;
    let virtual_memory = scrape.only("process_virtual_memory_bytes").value;
    assert!(rss > 0.0 && virtual_memory >= rss, "{rss} {virtual_memory}");
    assert!(scrape.only("process_cpu_seconds_total").value >= 0.0);
    let open_fds = scrape.only("process_open_fds").value;
    let max_fds = scrape.only("process_max_fds").value;
    // At least the listeners, the data files and the endpoint's socket.
    assert!(
        open_fds >= 4.0 && open_fds <= max_fds,
        "{open_fds} of {max_fds}"
    );
    let started = scrape.only("process_start_time_seconds").value;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started <= now + 1.0 && started > now - 120.0,
        "started {started}, now {now}"
    );

    let build = scrape.only("shardlog_build_info");
    assert_eq!(build.value, 1.0);
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    let head = Command::new("git").args(["rev-parse", "HEAD"]).output();
    match head {
        Ok(head) if head.status.success() => assert_eq!(
            build.labels["commit"],
            String::from_utf8_lossy(&head.stdout).trim()
        ),
        _ => assert_eq!(build.labels["commit"], "unknown"),
    }

    assert_eq!(scrape.only("shardlog_min_free_bytes").value, 1048576.0);
    let free = scrape.only("shardlog_data_fs_free_bytes").value;
    let stat = rustix::fs::statvfs(&dir.0).unwrap();
    let free_now = (stat.f_bavail * stat.f_frsize) as f64;
    // Others write to the same disk: near, not equal.
    assert!(
        free > 0.0 && (free - free_now).abs() <= free_now * 0.1,
        "scraped {free}, statvfs says {free_now}"
    );
}

#[test]
fn the_endpoint_answers_http_errors_and_keeps_serving() {
    let dir = DataDir::new("metrics-http");
    let broker = Broker::start_with(&dir.0, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics = broker.metrics.unwrap();
    let status = |request: &[u8]| {
        let answer = http(metrics, request);
        answer.lines().next().unwrap_or_default().to_string()
    };
    assert_eq!(
        status(b"GET /nope HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        status(b"\x00\x01garbage\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.resize(huge.len() + (16 << 10), b'a');
    assert_eq!(
        status(&huge),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // A client that connects and says nothing does not block others.
    let _idle = TcpStream::connect(metrics).unwrap();
    let ok = scrape(metrics);
    assert!(ok.has("shardlog_requests_total", &[]) || ok.has("shardlog_connections", &[]));
}

#[test]
fn a_taken_metrics_port_is_refused_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = DataDir::new("metrics-taken");
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kafka-listen",
            "off",
            "--metrics-listen",
            &addr,
        ])
        .arg("--data-dir")
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&addr) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn stats_api_and_cli_show_every_core() {
    let dir = DataDir::new("metrics-stats");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    client.create_topic("watched", 2);
    for round in 0..5 {
        let batches = vec![(0, batch(&format!("s{round}"), 2)), (1, batch("t", 2))];
        produce(&mut client, "watched", batches, Acks::Durable);
    }
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let stats = admin.stats().unwrap();
    let cores: Vec<u16> = stats.cores.iter().map(|c| c.core).collect();
    assert_eq!(
        cores,
        (0..cores.len() as u16).collect::<Vec<_>>(),
        "every core, in order"
    );
    let produce_requests: u64 = stats.cores.iter().map(|c| c.produce_requests).sum();
    assert_eq!(produce_requests, 5);
    assert!(stats.cores.iter().map(|c| c.produce_bytes).sum::<u64>() > 0);
    assert!(
        stats
            .cores
            .iter()
            .map(|c| u64::from(c.connections))
            .sum::<u64>()
            >= 2
    );

    let output = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["stats", "--count", "2", "--interval-ms", "200", "--broker"])
        .arg(broker.addr.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let headers = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("core"))
        .count();
    assert_eq!(headers, 2, "one table per refresh:\n{stdout}");
    for core in &cores {
        let rows = stdout
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&core.to_string()))
            .count();
        assert_eq!(rows, 2, "core {core} in every table:\n{stdout}");
    }
    // Piped, each table says when it was taken.
    let titles: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("shardlog stats:"))
        .collect();
    assert_eq!(titles.len(), 2, "{stdout}");
    for title in titles {
        let (_, at) = title.rsplit_once(" at ").expect("a timestamp");
        assert!(
            at.len() == "2026-01-01T00:00:00.000Z".len() && at.ends_with('Z'),
            "{title}"
        );
    }
}

/// `stats` outlives a broker killed and restarted on the same port.
#[test]
fn stats_rides_out_a_broker_restart() {
    use std::io::{BufRead, BufReader};
    let dir = DataDir::new("stats-restart");
    let broker = Broker::start(&dir.0);
    let listen = broker.addr.to_string();
    let mut stats = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["stats", "--count", "2", "--interval-ms", "200ms"])
        .env("SHARDLOG_BROKER", &listen)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(stats.stdout.take().unwrap());
    let mut title = String::new();
    lines.read_line(&mut title).unwrap();
    assert!(title.starts_with("shardlog stats:"), "{title}");
    broker.kill9();
    std::thread::sleep(Duration::from_secs(3));
    let _broker = Broker::start_on(&dir.0, &listen, &[]);
    let (status, stderr) = wait_for_exit(
        &mut stats,
        Duration::from_secs(60),
        "stats did not go on after the restart",
    );
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(rest.matches("shardlog stats:").count(), 1, "{rest}");
    assert_eq!(
        stderr.matches("retrying until it is back").count(),
        1,
        "one line per outage: {stderr}"
    );
    assert_eq!(stderr.matches("is back after").count(), 1, "{stderr}");
}

#[test]
fn group_lag_is_the_watermark_minus_the_committed_offset() {
    let dir = DataDir::new("metrics-lag");
    let broker = Broker::start_with(&dir.0, &["--metrics-listen", "127.0.0.1:0"]);
    let mut client = broker.connect();
    client.create_topic("lagged", 2);
    produce(
        &mut client,
        "lagged",
        vec![(0, batch("a", 10))],
        Acks::Durable,
    );
    produce(
        &mut client,
        "lagged",
        vec![(1, batch("b", 3))],
        Acks::Durable,
    );
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    admin
        .set_committed_offsets("billing", "lagged", &[(0, 4), (1, 3)])
        .unwrap();

    let scrape = scrape(broker.metrics.unwrap());
    let p0 = [
        ("group", "billing"),
        ("topic", "lagged"),
        ("partition", "0"),
    ];
    let p1 = [
        ("group", "billing"),
        ("topic", "lagged"),
        ("partition", "1"),
    ];
    assert_eq!(scrape.sum("shardlog_group_committed_offset", &p0), 4.0);
    assert_eq!(scrape.sum("shardlog_group_lag", &p0), 6.0);
    assert_eq!(scrape.sum("shardlog_group_lag", &p1), 0.0);
    assert!(
        scrape.has("shardlog_group_lag", &p1),
        "a caught-up group shows 0"
    );
}
