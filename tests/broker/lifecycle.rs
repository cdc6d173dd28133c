//! Crashes and restarts: kill -9 mid-load loses nothing acknowledged;
//! SIGTERM shuts down cleanly; a restart gets its ports back at once; a
//! taken port or a locked data dir is refused with a clear message; the
//! log written to a file or a pipe is plain text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shardlog::batch::Batches;
use shardlog::protocol::produce::Acks;

use crate::common::{batch, broker_command, Broker, Client, DataDir};
use crate::data::{fetch, produce};

const PARTITIONS: u32 = 4;

/// Every record of every partition, as (partition, offset, value).
fn read_everything(client: &mut Client, topic: &str) -> Vec<(u32, u64, Vec<u8>)> {
    let mut records = Vec::new();
    for p in 0..PARTITIONS {
        let mut offset = 0;
        loop {
            let response = fetch(client, topic, &[(p, offset)], 0, 0);
            let answer = &response.topics[0].1[0];
            assert_eq!(answer.error_code, 0);
            let Some(bytes) = answer.records.first() else {
                break;
            };
            for batch in Batches::new(bytes.clone(), u32::MAX) {
                let batch = batch.expect("valid batch");
                for record in batch.records() {
                    if record.offset >= offset {
                        assert_eq!(record.offset, offset, "dense offsets");
                        records.push((p, record.offset, record.value.to_vec()));
                        offset += 1;
                    }
                }
            }
        }
    }
    records
}

#[test]
fn kill_9_mid_load_loses_no_acknowledged_record() {
    let dir = DataDir::new("kill9");
    let broker = Broker::start(&dir.0);
    assert_eq!(
        broker
            .connect()
            .create_topic("durable", PARTITIONS)
            .header
            .error_code,
        0
    );
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|id| {
            let (addr, stop) = (broker.addr, stop.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                let mut acked = Vec::new();
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let p = (n + id) % PARTITIONS;
                    let tag = format!("p{id}-{n}");
                    let request = vec![(p, batch(&tag, 3))];
                    let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        produce(&mut client, "durable", request, Acks::Durable)
                    }));
                    match response {
                        Ok(r) if r.topics[0].1[0].error_code == 0 => {
                            acked.push((p, r.topics[0].1[0].base_offset, tag))
                        }
                        _ => break, // the broker died under us
                    }
                    n += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    broker.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(u32, u64, String)> = producers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    assert!(acked.len() > 10, "the load ran ({} acked)", acked.len());

    let broker = Broker::start(&dir.0);
    let records = read_everything(&mut broker.connect(), "durable");
    for (p, base, tag) in &acked {
        for i in 0..3u64 {
            let expected = format!("{tag}-{i}").into_bytes();
            let found = records
                .iter()
                .any(|(rp, ro, rv)| rp == p && *ro == base + i && *rv == expected);
            assert!(found, "acknowledged {tag}-{i} at {p}/{} is there", base + i);
        }
    }
}

#[test]
fn sigterm_shuts_down_cleanly_and_restarts_with_the_data() {
    let dir = DataDir::new("sigterm");
    let broker = Broker::start(&dir.0);
    let mut client = broker.connect();
    assert_eq!(client.create_topic("kept", PARTITIONS).header.error_code, 0);
    for p in 0..PARTITIONS {
        produce(&mut client, "kept", vec![(p, batch("x", 5))], Acks::Written);
    }
    drop(client);
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "exit 0 on SIGTERM: {status} {stderr}");
    for p in 0..PARTITIONS {
        let marker = dir.0.join(format!("topics/kept/{p}/clean-shutdown"));
        assert!(marker.exists(), "clean-shutdown marker in partition {p}");
    }
    let broker = Broker::start(&dir.0);
    let records = read_everything(&mut broker.connect(), "kept");
    assert_eq!(
        records.len(),
        (PARTITIONS * 5) as usize,
        "written-mode records were flushed at shutdown"
    );
}

/// Found by the soak (scripts/soak.sh): a killed or stopped broker leaves
/// its accepted connections in FIN-WAIT-2 or TIME-WAIT on its ports, and
/// the next broker refused those ports as "already in use" for up to a
/// minute, until the kernel let go of them.
#[test]
fn a_restart_gets_its_ports_back_while_old_connections_linger() {
    let dir = DataDir::new("restart-port");
    let mut broker = Broker::start(&dir.0);
    let listen = broker.addr.to_string();
    for (ending, topic) in [("kill -9", "before-kill"), ("SIGTERM", "before-term")] {
        // A client that keeps its connection open through the restart.
        let mut client = broker.connect();
        assert_eq!(client.create_topic(topic, 1).header.error_code, 0);
        if ending == "kill -9" {
            broker.kill9();
        } else {
            let (status, stderr) = broker.terminate();
            assert!(status.success(), "{stderr}");
        }
        broker = Broker::start_on(&dir.0, &listen, &[]);
        let code = broker
            .connect()
            .create_topic(&format!("after-{topic}"), 1)
            .header
            .error_code;
        assert_eq!(code, 0, "serving on {listen} again after {ending}");
        drop(client);
    }
}

#[test]
fn a_taken_port_or_a_locked_data_dir_is_refused_clearly() {
    let dir = DataDir::new("refusals");
    let broker = Broker::start(&dir.0);
    let other = DataDir::new("refusals-other");
    let (mut same_port, _) = broker_command(&other.0, &broker.addr.to_string(), &[]);
    let output = same_port.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("already in use"),
        "port refusal says why: {stderr}"
    );

    let (mut same_dir, _) = broker_command(&dir.0, "127.0.0.1:0", &[]);
    let output = same_dir.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locked by another broker"),
        "lock refusal says why: {stderr}"
    );
}

/// Found by a new user: journald and log files were full of ANSI colour
/// codes. Off a terminal (here a pipe) the log is plain text.
#[test]
fn the_log_off_a_terminal_has_no_colour_codes() {
    let dir = DataDir::new("plain-log");
    let (mut command, ready) = broker_command(&dir.0, "127.0.0.1:0", &[]);
    command.env("RUST_LOG", "info").env_remove("NO_COLOR");
    let mut child = command.spawn().expect("spawn shardlog");
    let started = std::time::Instant::now();
    let addr = loop {
        if let Some(addr) = std::fs::read_to_string(&ready)
            .ok()
            .and_then(|text| text.lines().next()?.parse().ok())
        {
            break addr;
        }
        assert!(child.try_wait().unwrap().is_none(), "the broker exited");
        assert!(started.elapsed() < Duration::from_secs(30), "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    };
    let broker = Broker {
        child,
        addr,
        metrics: None,
        kafka: None,
    };
    let (status, stderr) = broker.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("INFO"), "info lines were logged: {stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "no escape sequence in the log: {stderr:?}"
    );
}
