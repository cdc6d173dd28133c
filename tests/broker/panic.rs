//! A panic on any core ends the broker process with a non-zero status and
//! a clear log line, so that a supervisor restarts it; the restarted broker
//! serves everything that was acknowledged.

use std::io::Read;
use std::time::{Duration, Instant};

use shardlog::protocol::produce::Acks;
use shardlog::router::shard_for;
use shardlog::shard::panic::{DEBUG_PANIC_TOPIC_ENV, PANIC_EXIT_CODE};

use crate::common::{batch, broker_command, Broker, DataDir};
use crate::data::{fetch, produce};

/// How long a panicking broker may take to exit before the test fails.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn a_panic_on_either_core_ends_the_process_and_a_restart_serves_the_data() {
    let dir = DataDir::new("panic");
    let cores = 2;
    for panicking_core in 0..cores {
        let (mut command, ready) = broker_command(&dir.0, "127.0.0.1:0", &["--cores", "2"]);
        command.env(DEBUG_PANIC_TOPIC_ENV, "boom");
        let mut broker = Broker::spawn(command, &ready);
        let mut client = broker.connect();
        if panicking_core == 0 {
            assert_eq!(client.create_topic("kept", 2).header.error_code, 0);
            assert_eq!(client.create_topic("boom", 2).header.error_code, 0);
        }
        for partition in 0..2 {
            let answer = produce(
                &mut client,
                "kept",
                vec![(partition, batch(&format!("run{panicking_core}"), 2))],
                Acks::Durable,
            );
            assert_eq!(answer.topics[0].1[0].error_code, 0);
        }

        // A produce to the partition of "boom" that this core owns panics there.
        let partition = (0..2)
            .find(|&p| shard_for("boom", p, cores) == panicking_core)
            .unwrap();
        let request = shardlog::protocol::produce::ProduceRequest {
            acks: Acks::Durable,
            topics: vec![shardlog::protocol::produce::ProduceTopic {
                name: "boom".into(),
                partitions: vec![shardlog::protocol::produce::ProducePartition {
                    partition,
                    batch: batch("boom", 1),
                }],
            }],
        };
        let (_, frame) = client.frame(shardlog::protocol::ApiKey::Produce as u16, 0, |b| {
            request.encode(b)
        });
        client.send(&frame);

        let started = Instant::now();
        let status = loop {
            if let Some(status) = broker.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < EXIT_TIMEOUT,
                "core {panicking_core} panicked but the broker is still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            status.code(),
            Some(PANIC_EXIT_CODE),
            "core {panicking_core}: exit status"
        );
        let mut log = String::new();
        broker
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        assert!(
            log.contains("panic: the broker exits so that its supervisor restarts it")
                && log.contains(&format!("shardlog-core-{panicking_core}")),
            "a clear log line naming the core:\n{log}"
        );
    }

    // Restarted without the trigger: every acknowledged record is there.
    let broker = Broker::start_with(&dir.0, &["--cores", "2"]);
    let mut client = broker.connect();
    let got = fetch(&mut client, "kept", &[(0, 0), (1, 0)], 0, 0);
    for answer in &got.topics[0].1 {
        assert_eq!(answer.error_code, 0);
        assert_eq!(answer.high_watermark, 4, "two runs of two records each");
    }
    let got = fetch(&mut client, "boom", &[(0, 0), (1, 0)], 0, 0);
    for answer in &got.topics[0].1 {
        assert_eq!(answer.error_code, 0);
        assert_eq!(
            answer.high_watermark, 0,
            "the panicking produce wrote nothing"
        );
    }
}
