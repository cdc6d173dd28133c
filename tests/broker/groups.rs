//! Consumer groups against the real broker: assignment over members,
//! rebalancing when a member dies, at-least-once with commit-after-process,
//! committed offsets across restarts, typed refusals, internal logs hidden.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use shardlog::client::{
    Admin, ConnectionConfig, ConsumerConfig, GroupConsumer, GroupConsumerConfig, OffsetReset,
    Producer, ProducerConfig, ProducerRecord, TopicSettings,
};
use shardlog::error::ErrorCode;
use shardlog::protocol::groups::{
    CommitPartition, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest,
    NO_GENERATION,
};
use shardlog::protocol::ApiKey;

use crate::common::{Broker, Client, DataDir};

/// Longest a test waits for the group to settle before failing.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
const SESSION_TIMEOUT_MS: u32 = 1_000;

fn create_topic(bootstrap: &str, topic: &str, partitions: u32) {
    let mut admin = Admin::connect(bootstrap, ConnectionConfig::default()).unwrap();
    admin
        .create_topic(
            topic,
            TopicSettings {
                partitions,
                retention_ms: None,
                retention_bytes: None,
                segment_bytes: None,
            },
        )
        .unwrap();
}

/// Produces `count` records to every partition, valued `"{tag}-{p}-{i}"`.
fn produce(bootstrap: &str, topic: &str, partitions: u32, count: u32, tag: &str) {
    let mut producer = Producer::new(ProducerConfig {
        bootstrap: bootstrap.to_string(),
        ..ProducerConfig::default()
    })
    .unwrap();
    for i in 0..count {
        for p in 0..partitions {
            let record = ProducerRecord::new(format!("{tag}-{p}-{i}")).partition(p);
            producer.send(topic, record).unwrap();
        }
    }
    for delivery in producer.flush() {
        delivery.result.expect("every batch acknowledged");
    }
}

fn member_config(bootstrap: &str, group: &str, strategy: &str) -> GroupConsumerConfig {
    GroupConsumerConfig {
        consumer: ConsumerConfig {
            bootstrap: bootstrap.to_string(),
            max_wait_ms: 50,
            ..ConsumerConfig::default()
        },
        group: group.to_string(),
        strategy: strategy.to_string(),
        session_timeout_ms: SESSION_TIMEOUT_MS,
        heartbeat_interval_ms: 100,
        rebalance_timeout_ms: 5_000,
        auto_commit: false,
        auto_offset_reset: OffsetReset::Earliest,
        ..GroupConsumerConfig::default()
    }
}

/// What a member thread reports.
enum Report {
    Assigned {
        member: usize,
        generation: u32,
        partitions: Vec<u32>,
    },
    /// Records processed (partition, offset); `committed` says whether the
    /// commit after them succeeded.
    Processed {
        records: Vec<(u32, u64)>,
        committed: bool,
    },
}

/// A member that polls, processes (reports), then commits; on `kill` it
/// stops between processing and committing and is dropped without
/// leaving, as a crashed process would be.
fn spawn_member(
    member: usize,
    config: GroupConsumerConfig,
    reports: mpsc::Sender<Report>,
    kill: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut consumer = GroupConsumer::new(config).unwrap();
        consumer.subscribe(&["events"]);
        let mut reported = None;
        while !stop.load(Ordering::Relaxed) {
            let records = consumer.poll().expect("poll");
            if consumer.generation() != reported {
                reported = consumer.generation();
                if let Some(generation) = reported {
                    let partitions = consumer.assignment().iter().map(|(_, p)| *p).collect();
                    let _ = reports.send(Report::Assigned {
                        member,
                        generation,
                        partitions,
                    });
                }
            }
            let processed: Vec<(u32, u64)> =
                records.iter().map(|r| (r.partition, r.offset)).collect();
            if kill.load(Ordering::Relaxed) {
                let _ = reports.send(Report::Processed {
                    records: processed,
                    committed: false,
                });
                return; // dropped without a commit and without leaving
            }
            if records.is_empty() {
                continue;
            }
            let committed = consumer.commit().is_ok();
            let _ = reports.send(Report::Processed {
                records: processed,
                committed,
            });
        }
        consumer.close().unwrap();
    })
}

/// Collects reports until the latest assignments of `members` share one
/// generation and cover `partitions` partitions; returns that generation
/// and the assignment by member.
fn settle(
    reports: &mpsc::Receiver<Report>,
    members: &[usize],
    partitions: u32,
    after_generation: u32,
    seen: &mut Vec<(Vec<(u32, u64)>, bool)>,
) -> (u32, BTreeMap<usize, Vec<u32>>) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut latest: BTreeMap<usize, (u32, Vec<u32>)> = BTreeMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the group did not settle: {latest:?}");
        match reports.recv_timeout(left) {
            Ok(Report::Assigned {
                member,
                generation,
                partitions,
            }) => {
                latest.insert(member, (generation, partitions));
            }
            Ok(Report::Processed { records, committed }) => seen.push((records, committed)),
            Err(e) => panic!("no report: {e}"),
        }
        let generations: BTreeSet<u32> = members
            .iter()
            .filter_map(|m| latest.get(m).map(|(g, _)| *g))
            .collect();
        let total: usize = members
            .iter()
            .filter_map(|m| latest.get(m).map(|(_, ps)| ps.len()))
            .sum();
        if generations.len() == 1
            && members.iter().all(|m| latest.contains_key(m))
            && generations.iter().all(|g| *g > after_generation)
            && total == partitions as usize
        {
            let generation = *generations.iter().next().unwrap();
            let by_member = members.iter().map(|m| (*m, latest[m].1.clone())).collect();
            return (generation, by_member);
        }
    }
}

fn assert_each_partition_once(assignment: &BTreeMap<usize, Vec<u32>>, partitions: u32) {
    let mut all: Vec<u32> = assignment.values().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..partitions).collect::<Vec<_>>(), "{assignment:?}");
}

#[test]
fn three_members_share_twelve_partitions_and_a_dead_members_move_without_loss() {
    const PARTITIONS: u32 = 12;
    let dir = DataDir::new("groups-three");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", PARTITIONS);
    produce(&bootstrap, "events", PARTITIONS, 50, "a");

    let (tx, reports) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let kills: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let members: Vec<_> = (0..3)
        .map(|m| {
            let config = member_config(&bootstrap, "billing", "range");
            spawn_member(m, config, tx.clone(), kills[m].clone(), stop.clone())
        })
        .collect();
    drop(tx);
    let mut seen = Vec::new();
    let (first, assignment) = settle(&reports, &[0, 1, 2], PARTITIONS, 0, &mut seen);
    assert_each_partition_once(&assignment, PARTITIONS);
    for partitions in assignment.values() {
        assert_eq!(partitions.len(), 4, "range over 3 members: 4 each");
    }

    // Member 2 dies (no leave): its partitions move to 0 and 1 once its
    // session times out.
    produce(&bootstrap, "events", PARTITIONS, 50, "b");
    kills[2].store(true, Ordering::Relaxed);
    let (second, assignment) = settle(&reports, &[0, 1], PARTITIONS, first, &mut seen);
    assert!(second > first);
    assert_each_partition_once(&assignment, PARTITIONS);
    produce(&bootstrap, "events", PARTITIONS, 50, "c");

    // Every record is processed at least once; only records processed and
    // not committed may come twice.
    let expected: BTreeSet<(u32, u64)> = (0..PARTITIONS)
        .flat_map(|p| (0..150u64).map(move |o| (p, o)))
        .collect();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let processed = |seen: &Vec<(Vec<(u32, u64)>, bool)>| -> BTreeSet<(u32, u64)> {
        seen.iter().flat_map(|(r, _)| r.iter().copied()).collect()
    };
    while !processed(&seen).is_superset(&expected) {
        let left = deadline.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(Report::Processed { records, committed }) => seen.push((records, committed)),
            Ok(Report::Assigned { .. }) => {}
            Err(e) => panic!(
                "records never processed ({e}): {:?}",
                expected
                    .difference(&processed(&seen))
                    .take(10)
                    .collect::<Vec<_>>()
            ),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for member in members {
        member.join().unwrap();
    }
    while let Ok(report) = reports.try_recv() {
        if let Report::Processed { records, committed } = report {
            seen.push((records, committed));
        }
    }
    let uncommitted: BTreeSet<(u32, u64)> = seen
        .iter()
        .filter(|(_, committed)| !committed)
        .flat_map(|(r, _)| r.iter().copied())
        .collect();
    let mut counts: BTreeMap<(u32, u64), usize> = BTreeMap::new();
    for (records, _) in &seen {
        for r in records {
            *counts.entry(*r).or_default() += 1;
        }
    }
    let duplicates: Vec<(u32, u64)> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(r, _)| *r)
        .collect();
    for record in &duplicates {
        assert!(
            uncommitted.contains(record),
            "{record:?} came twice though its processing was committed"
        );
    }
    assert!(
        counts.keys().all(|r| expected.contains(r)),
        "nothing but the produced records"
    );
}

#[test]
fn committed_offsets_survive_kill9_and_sigterm_and_a_new_member_resumes() {
    const PARTITIONS: u32 = 4;
    let dir = DataDir::new("groups-restart");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", PARTITIONS);
    produce(&bootstrap, "events", PARTITIONS, 30, "a");

    // One member reads some records, commits them, and dies.
    let mut consumer = GroupConsumer::new(member_config(&bootstrap, "resume", "sticky")).unwrap();
    consumer.subscribe(&["events"]);
    let mut read = 0;
    while read < 40 {
        read += consumer.poll().unwrap().len();
    }
    consumer.commit().unwrap();
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    let committed = admin.committed_offsets("resume").unwrap();
    assert_eq!(committed.len(), PARTITIONS as usize);
    assert!(committed.iter().map(|c| c.offset).sum::<u64>() >= 40);
    drop(consumer);
    drop(admin);

    let broker = {
        broker.kill9();
        Broker::start(&dir.0)
    };
    let bootstrap = broker.addr.to_string();
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    assert_eq!(
        admin.committed_offsets("resume").unwrap(),
        committed,
        "after kill -9"
    );
    drop(admin);
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    assert_eq!(
        admin.committed_offsets("resume").unwrap(),
        committed,
        "after SIGTERM"
    );

    // A new member (the old one's session is long gone with the broker)
    // starts each partition at the committed offset.
    let mut consumer = GroupConsumer::new(member_config(&bootstrap, "resume", "sticky")).unwrap();
    consumer.subscribe(&["events"]);
    let mut first: BTreeMap<u32, u64> = BTreeMap::new();
    let mut count = 0;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while count < 120 - committed.iter().map(|c| c.offset).sum::<u64>() as usize {
        assert!(Instant::now() < deadline, "read {count}");
        for record in consumer.poll().unwrap() {
            first.entry(record.partition).or_insert(record.offset);
            count += 1;
        }
    }
    for c in &committed {
        if c.offset < 30 {
            assert_eq!(first[&c.partition], c.offset, "partition {}", c.partition);
        } else {
            assert!(!first.contains_key(&c.partition));
        }
    }
    consumer.close().unwrap();
}

fn join_frame(client: &mut Client, group: &str, member_id: &str) -> (u32, bytes::BytesMut) {
    let request = JoinGroupRequest {
        group: group.to_string(),
        member_id: member_id.to_string(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        strategy: "roundrobin".into(),
        topics: vec!["events".into()],
    };
    client.frame(ApiKey::JoinGroup as u16, 0, |b| request.encode(b))
}

fn joined(response: &crate::common::Response) -> JoinGroupResponse {
    assert_eq!(response.header.error_code, 0, "{:?}", response.error());
    JoinGroupResponse::decode(&mut response.reader()).unwrap()
}

fn commit(client: &mut Client, member_id: &str, generation: i32) -> (u16, String) {
    let request = OffsetCommitRequest {
        group: "stale".into(),
        member_id: member_id.into(),
        generation,
        topics: vec![(
            "events".into(),
            vec![CommitPartition {
                partition: 0,
                offset: 1,
                metadata: String::new(),
            }],
        )],
    };
    client
        .call(ApiKey::OffsetCommit, |b| request.encode(b))
        .error()
}

#[test]
fn stale_generations_and_strangers_are_refused_with_their_codes() {
    let dir = DataDir::new("groups-stale");
    let broker = Broker::start(&dir.0);
    create_topic(&broker.addr.to_string(), "events", 2);
    let mut first = broker.connect();
    let mut second = broker.connect();

    let (_, frame) = join_frame(&mut first, "stale", "");
    first.send(&frame);
    let one = joined(&first.receive());
    assert_eq!(one.generation, 1);
    assert_eq!(
        commit(&mut first, &one.member_id, 1).0,
        0,
        "current generation"
    );

    // A second member joins: the first hears of it by heartbeat, joins
    // again, and both get generation 2.
    let (_, frame) = join_frame(&mut second, "stale", "");
    second.send(&frame);
    let heartbeat = HeartbeatRequest {
        group: "stale".into(),
        member_id: one.member_id.clone(),
        generation: 1,
    };
    // The second join may reach the coordinator after a first heartbeat
    // (another connection, maybe another core): until then all is well.
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let answer = first.call(ApiKey::Heartbeat, |b| heartbeat.encode(b));
        if answer.header.error_code == ErrorCode::RebalanceInProgress as u16 {
            break;
        }
        assert_eq!(answer.header.error_code, 0, "{:?}", answer.error());
        assert!(Instant::now() < deadline, "the rebalance never showed");
        thread::sleep(Duration::from_millis(5));
    }
    let (_, frame) = join_frame(&mut first, "stale", &one.member_id);
    first.send(&frame);
    let again = joined(&first.receive());
    let two = joined(&second.receive());
    assert_eq!((again.generation, two.generation), (2, 2));
    let total: usize = [&again, &two]
        .iter()
        .map(|j| j.assignment.iter().map(|(_, ps)| ps.len()).sum::<usize>())
        .sum();
    assert_eq!(total, 2);

    let (code, message) = commit(&mut first, &one.member_id, 1);
    assert_eq!(code, ErrorCode::IllegalGeneration as u16, "{message}");
    assert_eq!(commit(&mut first, &one.member_id, 2).0, 0);
    assert_eq!(
        commit(&mut first, "stranger", 2).0,
        ErrorCode::UnknownMemberId as u16
    );
    assert_eq!(
        commit(&mut first, "", NO_GENERATION).0,
        ErrorCode::GroupNotEmpty as u16,
        "no commits outside membership while the group has members"
    );
    let bad_name = OffsetCommitRequest {
        group: "no spaces".into(),
        member_id: String::new(),
        generation: NO_GENERATION,
        topics: Vec::new(),
    };
    let answer = first.call(ApiKey::OffsetCommit, |b| bad_name.encode(b));
    assert_eq!(answer.header.error_code, ErrorCode::InvalidGroupId as u16);
}

#[test]
fn the_internal_offsets_log_is_not_a_topic() {
    let dir = DataDir::new("groups-internal");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 1);
    produce(&bootstrap, "events", 1, 3, "a");
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    admin
        .set_committed_offsets("g", "events", &[(0, 2)])
        .unwrap();
    assert!(
        dir.0.join("internal/__consumer_offsets").is_dir(),
        "offsets stored"
    );
    let names: Vec<String> = admin
        .list_topics()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["events"]);
    let settings = TopicSettings {
        partitions: 1,
        retention_ms: None,
        retention_bytes: None,
        segment_bytes: None,
    };
    let created = admin.create_topic("__consumer_offsets", settings);
    assert_eq!(
        created.unwrap_err().code(),
        Some(ErrorCode::InvalidTopicName)
    );
    let deleted = admin.delete_topic("__consumer_offsets");
    assert_eq!(deleted.unwrap_err().code(), Some(ErrorCode::UnknownTopic));
    let described = admin.describe_topic("__consumer_offsets");
    assert_eq!(described.unwrap_err().code(), Some(ErrorCode::UnknownTopic));
    let mut client = broker.connect();
    for p in [0, 1] {
        let batch = crate::common::batch("x", 1);
        let acks = shardlog::protocol::produce::Acks::Durable;
        let produced =
            crate::data::produce(&mut client, "__consumer_offsets", vec![(p, batch)], acks);
        assert_eq!(
            produced.topics[0].1[0].error_code,
            ErrorCode::UnknownTopic as u16,
            "no produce to the internal log"
        );
    }
    let fetched = crate::data::fetch(&mut client, "__consumer_offsets", &[(0, 0)], 0, 1);
    assert_eq!(
        fetched.topics[0].1[0].error_code,
        ErrorCode::UnknownTopic as u16
    );
    let listed = admin.list_groups().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].group.as_str(), listed[0].state.as_str()),
        ("g", "Empty")
    );
}

/// Runs `shardlog ARGS...` against the broker; returns (success, stdout,
/// stderr).
fn shardlog(broker: &Broker, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(args)
        .env("SHARDLOG_BROKER", broker.addr.to_string())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_cli_consumes_with_a_group_twice_in_sequence_then_describes_and_resets() {
    const PARTITIONS: u32 = 3;
    let dir = DataDir::new("groups-cli");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", PARTITIONS);
    produce(&bootstrap, "events", PARTITIONS, 10, "a");
    let all: BTreeSet<String> = (0..PARTITIONS)
        .flat_map(|p| (0..10).map(move |i| format!("a-{p}-{i}")))
        .collect();

    let consume = |count: &str| {
        let (ok, out, err) = shardlog(
            &broker,
            &["consume", "events", "--group", "cli", "--count", count],
        );
        assert!(ok, "{err}");
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let first = consume("12");
    assert_eq!(first.len(), 12);
    let second = consume("100");
    assert_eq!(second.len(), 18, "the second run continues: {second:?}");
    let seen: BTreeSet<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(seen, all, "every record once over both runs");
    assert!(consume("100").is_empty(), "nothing left");

    let (ok, out, err) = shardlog(&broker, &["group", "describe", "cli"]);
    assert!(ok, "{err}");
    assert!(out.contains("state Empty"), "{out}");
    for p in 0..PARTITIONS {
        let row = format!("events  {p}          10         10      0");
        assert!(out.contains(&row), "{row:?} in\n{out}");
    }
    let (ok, out, _) = shardlog(&broker, &["group", "list"]);
    assert!(ok && out.contains("cli"), "{out}");

    let (ok, out, err) = shardlog(
        &broker,
        &[
            "group", "reset", "cli", "--topic", "events", "--to", "earliest",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("events/2 committed offset set to 0"), "{out}");
    let (ok, out, err) = shardlog(
        &broker,
        &[
            "group",
            "reset",
            "cli",
            "--topic",
            "events",
            "--to",
            "8",
            "--partition",
            "1",
        ],
    );
    assert!(ok, "{err} {out}");
    let again = consume("100");
    assert_eq!(again.len(), 20 + 2, "two partitions from 0, one from 8");

    // While a member is in the group, reset is refused.
    let mut member = GroupConsumer::new(member_config(&bootstrap, "cli", "range")).unwrap();
    member.subscribe(&["events"]);
    member.poll().unwrap();
    let (ok, _, err) = shardlog(
        &broker,
        &[
            "group", "reset", "cli", "--topic", "events", "--to", "latest",
        ],
    );
    assert!(!ok && err.contains("active members"), "{err}");
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    let refused = admin.set_committed_offsets("cli", "events", &[(0, 0)]);
    assert_eq!(refused.unwrap_err().code(), Some(ErrorCode::GroupNotEmpty));
    member.close().unwrap();
}

#[test]
fn describing_a_group_that_does_not_exist_fails_saying_so() {
    let dir = DataDir::new("groups-describe-missing");
    let broker = Broker::start(&dir.0);
    let (ok, out, err) = shardlog(&broker, &["group", "describe", "nosuchgroup"]);
    assert!(!ok, "a missing group is an error: {out}");
    assert!(
        err.contains("group nosuchgroup not found"),
        "stderr names the group: {err}"
    );
    assert!(out.is_empty(), "nothing on stdout: {out}");
}

#[test]
fn an_interrupted_follow_commits_what_it_printed() {
    use std::io::BufRead;
    let dir = DataDir::new("groups-follow");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 2);
    produce(&bootstrap, "events", 2, 5, "a");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["consume", "events", "--group", "follow", "--follow"])
        .env("SHARDLOG_BROKER", &bootstrap)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..10 {
        lines.next().expect("a record").unwrap();
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "Ctrl-C is a normal end");
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    let committed: Vec<(u32, u64)> = admin
        .committed_offsets("follow")
        .unwrap()
        .into_iter()
        .map(|c| (c.partition, c.offset))
        .collect();
    assert_eq!(committed, [(0, 5), (1, 5)]);
}

/// The `.log` segment files of the group's committed-offsets partition.
fn offsets_segments(dir: &std::path::Path, group: &str) -> usize {
    let partition = shardlog::group_logic::offsets_partition(group);
    let path = dir.join(format!("internal/__consumer_offsets/{partition}"));
    std::fs::read_dir(path)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

#[test]
fn the_offsets_log_is_compacted_and_keeps_the_latest_commits() {
    const PARTITIONS: u32 = 64;
    let dir = DataDir::new("groups-compact");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", PARTITIONS);
    let mut client = broker.connect();
    let metadata = "m".repeat(shardlog::config::OFFSET_METADATA_BYTES_MAX);
    // Each round rewrites every partition's offset with large metadata:
    // far more bytes than the live entries.
    let rounds = (shardlog::config::OFFSETS_COMPACT_BYTES_MIN
        / (u64::from(PARTITIONS) * metadata.len() as u64))
        + 8;
    let mut most_segments = 0;
    for round in 0..rounds {
        let request = OffsetCommitRequest {
            group: "compacted".into(),
            member_id: String::new(),
            generation: NO_GENERATION,
            topics: vec![(
                "events".into(),
                (0..PARTITIONS)
                    .map(|p| CommitPartition {
                        partition: p,
                        offset: round,
                        metadata: metadata.clone(),
                    })
                    .collect(),
            )],
        };
        let response = client.call(ApiKey::OffsetCommit, |b| request.encode(b));
        assert_eq!(response.header.error_code, 0, "{:?}", response.error());
        most_segments = most_segments.max(offsets_segments(&dir.0, "compacted"));
    }
    assert!(most_segments > 2, "the log grew over several segments");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while offsets_segments(&dir.0, "compacted") > 2 {
        assert!(Instant::now() < deadline, "never compacted");
        thread::sleep(Duration::from_millis(50));
    }
    // What compaction kept is the latest commit of every partition, also
    // after a crash.
    broker.kill9();
    let broker = Broker::start(&dir.0);
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let committed = admin.committed_offsets("compacted").unwrap();
    assert_eq!(committed.len(), PARTITIONS as usize);
    for c in committed {
        assert_eq!((c.offset, c.metadata.len()), (rounds - 1, metadata.len()));
    }
}

#[test]
fn every_core_forwards_group_requests_to_the_coordinator() {
    let dir = DataDir::new("groups-forward");
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 2);
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    let cores = admin.metadata(&[]).unwrap().cores;
    assert_eq!(cores.len(), 2);
    let coordinator = admin.find_coordinator("forwarded").unwrap();
    assert_eq!(
        coordinator.core as usize,
        shardlog::group_logic::coordinator_core("forwarded", 2)
    );
    // Commit through one core's own port, read back through each.
    for (round, core) in cores.iter().enumerate() {
        let addr = format!("127.0.0.1:{}", core.port);
        let mut via = Admin::connect(&addr, ConnectionConfig::default()).unwrap();
        via.set_committed_offsets("forwarded", "events", &[(0, round as u64 + 7)])
            .unwrap();
        for reader in &cores {
            let addr = format!("127.0.0.1:{}", reader.port);
            let mut reader = Admin::connect(&addr, ConnectionConfig::default()).unwrap();
            let committed = reader.committed_offsets("forwarded").unwrap();
            assert_eq!(
                committed[0].offset,
                round as u64 + 7,
                "via core {}",
                core.core
            );
            let listed = reader.list_groups().unwrap();
            assert_eq!(
                listed[0].core, coordinator.core,
                "ListGroups asks every core"
            );
        }
    }
}

#[test]
fn committed_offsets_follow_their_group_when_the_core_count_changes() {
    let dir = DataDir::new("groups-cores");
    let groups = ["billing", "g", "orders-app", "audit", "x.y-z"];
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 3);
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    for (i, group) in groups.iter().enumerate() {
        admin
            .set_committed_offsets(group, "events", &[(i as u32 % 3, i as u64 + 1)])
            .unwrap();
    }
    drop(admin);
    let mut broker = broker;
    for cores in ["1", "2"] {
        let (status, stderr) = broker.terminate();
        assert!(status.success(), "{stderr}");
        broker = Broker::start_with(&dir.0, &["--cores", cores]);
        let mut admin =
            Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
        for (i, group) in groups.iter().enumerate() {
            let committed = admin.committed_offsets(group).unwrap();
            assert_eq!(committed.len(), 1, "{group} on {cores} cores");
            assert_eq!(
                (committed[0].partition, committed[0].offset),
                (i as u32 % 3, i as u64 + 1),
                "{group} on {cores} cores"
            );
        }
    }
}

#[test]
fn a_committed_offset_outside_the_log_restarts_by_auto_offset_reset() {
    let dir = DataDir::new("groups-out-of-range");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 1);
    produce(&bootstrap, "events", 1, 10, "a");
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    admin
        .set_committed_offsets("far", "events", &[(0, 1_000)])
        .unwrap();
    let mut consumer = GroupConsumer::new(member_config(&bootstrap, "far", "range")).unwrap();
    consumer.subscribe(&["events"]);
    let mut offsets = Vec::new();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while offsets.len() < 10 {
        assert!(Instant::now() < deadline, "read {offsets:?}");
        offsets.extend(consumer.poll().unwrap().iter().map(|r| r.offset));
    }
    assert_eq!(
        offsets,
        (0..10).collect::<Vec<u64>>(),
        "earliest, once each"
    );
    consumer.close().unwrap();

    // With auto_offset_reset none, the member says so instead of guessing.
    admin
        .set_committed_offsets("far", "events", &[(0, 1_000)])
        .unwrap();
    let strict = GroupConsumerConfig {
        auto_offset_reset: OffsetReset::None,
        ..member_config(&bootstrap, "far", "range")
    };
    let mut consumer = GroupConsumer::new(strict).unwrap();
    consumer.subscribe(&["events"]);
    let err = loop {
        match consumer.poll() {
            Ok(_) => assert!(Instant::now() < deadline, "no error"),
            Err(err) => break err,
        }
    };
    assert!(err.to_string().contains("events/0"), "{err}");
}

#[test]
fn the_offsets_of_a_deleted_topic_are_dropped() {
    let dir = DataDir::new("groups-deleted-topic");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "doomed", 2);
    create_topic(&bootstrap, "kept", 1);
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    admin
        .set_committed_offsets("g", "doomed", &[(0, 3), (1, 4)])
        .unwrap();
    admin.set_committed_offsets("g", "kept", &[(0, 5)]).unwrap();
    admin
        .set_committed_offsets("only-doomed", "doomed", &[(1, 1)])
        .unwrap();
    admin.delete_topic("doomed").unwrap();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while admin.committed_offsets("g").unwrap().len() > 1 {
        assert!(Instant::now() < deadline, "never dropped");
        thread::sleep(Duration::from_millis(50));
    }
    let groups = |admin: &mut Admin| -> Vec<String> {
        admin
            .list_groups()
            .unwrap()
            .into_iter()
            .map(|g| g.group)
            .collect()
    };
    while groups(&mut admin) != ["g"] {
        assert!(Instant::now() < deadline, "{:?}", groups(&mut admin));
        thread::sleep(Duration::from_millis(50));
    }
    drop(admin);
    broker.kill9();
    let broker = Broker::start(&dir.0);
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let kept = admin.committed_offsets("g").unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].topic.as_str(), kept[0].offset), ("kept", 5));
    assert_eq!(groups(&mut admin), ["g"], "dropped for good");
}

#[test]
fn a_join_waiting_at_shutdown_is_answered_shutting_down() {
    let dir = DataDir::new("groups-shutdown");
    let broker = Broker::start(&dir.0);
    create_topic(&broker.addr.to_string(), "events", 2);
    let mut first = broker.connect();
    let mut second = broker.connect();
    let (_, frame) = join_frame(&mut first, "stopping", "");
    first.send(&frame);
    joined(&first.receive());
    // The first member never joins again: the second's join waits.
    let (_, frame) = join_frame(&mut second, "stopping", "");
    second.send(&frame);
    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while admin.describe_group("stopping").unwrap().state != "Rebalancing" {
        assert!(Instant::now() < deadline, "the second join never arrived");
        thread::sleep(Duration::from_millis(5));
    }
    drop(admin);
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
    let answer = second.receive();
    assert_eq!(
        answer.header.error_code,
        ErrorCode::ShuttingDown as u16,
        "{:?}",
        answer.error()
    );
}

#[test]
fn a_deleted_subscribed_topic_makes_the_member_join_again_and_go_on() {
    let dir = DataDir::new("groups-topic-gone");
    let broker = Broker::start(&dir.0);
    let bootstrap = broker.addr.to_string();
    create_topic(&bootstrap, "events", 1);
    create_topic(&bootstrap, "doomed", 1);
    produce(&bootstrap, "doomed", 1, 3, "d");
    let mut consumer = GroupConsumer::new(member_config(&bootstrap, "goes-on", "range")).unwrap();
    consumer.subscribe(&["events", "doomed"]);
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut read = 0;
    while read < 3 {
        assert!(Instant::now() < deadline);
        read += consumer.poll().unwrap().len();
    }
    assert_eq!(consumer.assignment().len(), 2);
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    admin.delete_topic("doomed").unwrap();
    produce(&bootstrap, "events", 1, 5, "e");
    let mut values = Vec::new();
    while values.len() < 5 {
        assert!(Instant::now() < deadline, "got {values:?}");
        let records = consumer.poll().expect("poll goes on");
        values.extend(records.into_iter().map(|r| (r.topic, r.offset)));
    }
    assert!(values.iter().all(|(t, _)| t == "events"), "{values:?}");
    assert_eq!(
        consumer.assignment(),
        [("events".to_string(), 0)],
        "joined again without the deleted topic"
    );
    consumer.close().unwrap();
}

/// A topic deleted and at once created again under the same name is a new
/// incarnation (a new topic id): the group's offsets committed on the old
/// one never apply to it, however soon after the delete it comes. Before
/// topic ids the old offsets stayed until the coordinator's periodic
/// cleanup dropped them, and a consumer of the new topic started there.
#[test]
fn a_topic_created_again_starts_without_the_old_incarnations_offsets() {
    const ITERATIONS: u32 = 50;
    const RECORDS: u32 = 5;
    const PARTITIONS: u32 = 2;
    let dir = DataDir::new("groups-recreate");
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let bootstrap = broker.addr.to_string();
    let mut admin = Admin::connect(&bootstrap, ConnectionConfig::default()).unwrap();
    for iteration in 0..ITERATIONS {
        create_topic(&bootstrap, "cycled", PARTITIONS);
        let committed = admin.committed_offsets("cycler").unwrap();
        assert!(
            committed.is_empty(),
            "iteration {iteration}: the new incarnation has committed offsets {committed:?}"
        );
        let tag = format!("i{iteration}");
        produce(&bootstrap, "cycled", PARTITIONS, RECORDS, &tag);

        let mut consumer =
            GroupConsumer::new(member_config(&bootstrap, "cycler", "range")).unwrap();
        consumer.subscribe(&["cycled"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen: BTreeMap<u32, Vec<(u64, String)>> = BTreeMap::new();
        while seen.values().map(Vec::len).sum::<usize>() < (RECORDS * PARTITIONS) as usize {
            assert!(
                Instant::now() < deadline,
                "iteration {iteration}: the group consumer saw only {seen:?}"
            );
            for record in consumer.poll().unwrap() {
                let value = String::from_utf8(record.value.to_vec()).unwrap();
                seen.entry(record.partition)
                    .or_default()
                    .push((record.offset, value));
            }
        }
        for p in 0..PARTITIONS {
            let expected: Vec<(u64, String)> = (0..RECORDS)
                .map(|i| (u64::from(i), format!("{tag}-{p}-{i}")))
                .collect();
            assert_eq!(seen[&p], expected, "iteration {iteration}, partition {p}");
        }
        consumer.commit().unwrap();
        consumer.close().unwrap();
        let committed = admin.committed_offsets("cycler").unwrap();
        assert_eq!(committed.len(), PARTITIONS as usize, "{committed:?}");
        assert!(committed.iter().all(|c| c.offset == u64::from(RECORDS)));

        admin.delete_topic("cycled").unwrap();
    }
}

/// A key of the committed-offsets log as written before topic ids
/// (version 0): `u16 0 | string group | string topic | u32 partition`.
fn key_without_topic_id(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    let mut key = 0u16.to_le_bytes().to_vec();
    for s in [group, topic] {
        key.extend((s.len() as u16).to_le_bytes());
        key.extend(s.as_bytes());
    }
    key.extend(partition.to_le_bytes());
    key
}

/// A data directory written before topic ids: a version 1 `topics.meta`
/// and committed offsets without topic ids. They load, belong to the
/// topics that existed then, and never to a topic created again later,
/// across restarts too.
#[test]
fn offsets_committed_before_topic_ids_belong_to_the_topics_of_then() {
    use shardlog::batch::builder::NewRecord;
    use shardlog::batch::{BatchBuilder, TimestampType};
    use shardlog::config::BATCH_BYTES_MAX;
    use shardlog::group_logic::commit_log::{encode_value, CommitValue};
    use shardlog::group_logic::{offsets_partition, OFFSETS_LOG};

    let dir = DataDir::new("groups-before-ids");
    std::fs::write(
        dir.0.join("topics.meta"),
        "# shardlog topics v1: name partitions retention_ms retention_bytes segment_bytes\n\
         old 2 - - 1073741824\n",
    )
    .unwrap();
    let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
    // "gone" was deleted before the upgrade, its offset never dropped.
    for (topic, partition, offset) in [("old", 0, 3), ("old", 1, 4), ("gone", 0, 9)] {
        let key = key_without_topic_id("legacy", topic, partition);
        let value = encode_value(Some(&CommitValue {
            offset,
            metadata: String::new(),
        }));
        builder
            .append(&NewRecord {
                key: Some(&key),
                value: &value,
                headers: &[],
                timestamp_ms: 1_700_000_000_000,
            })
            .unwrap();
    }
    let log_dir = dir
        .0
        .join("internal")
        .join(OFFSETS_LOG)
        .join(offsets_partition("legacy").to_string());
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::write(
        log_dir.join(format!("{:020}.log", 0)),
        builder.finish().unwrap(),
    )
    .unwrap();

    let offsets = |broker: &Broker| -> Vec<(String, u32, u64)> {
        let mut admin =
            Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
        admin
            .committed_offsets("legacy")
            .unwrap()
            .into_iter()
            .map(|c| (c.topic, c.partition, c.offset))
            .collect()
    };
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    assert_eq!(
        offsets(&broker),
        [("old".to_string(), 0, 3), ("old".to_string(), 1, 4)]
    );
    let meta = std::fs::read_to_string(dir.0.join("topics.meta")).unwrap();
    assert!(
        meta.contains("\n@next_topic_id 2\n") && meta.contains("\nold 2 - - 1073741824 1\n"),
        "saved with ids at once: {meta}"
    );

    let mut admin = Admin::connect(&broker.addr.to_string(), ConnectionConfig::default()).unwrap();
    admin.delete_topic("old").unwrap();
    create_topic(&broker.addr.to_string(), "old", 2);
    assert_eq!(offsets(&broker), [], "the new incarnation starts afresh");
    admin
        .set_committed_offsets("legacy", "old", &[(1, 1)])
        .unwrap();
    drop(admin);
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    assert_eq!(
        offsets(&broker),
        [("old".to_string(), 1, 1)],
        "the old records do not come back at replay"
    );
}
