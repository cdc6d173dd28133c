//! A smoke test of `shardlog-hostile` against a broker in this process,
//! with small numbers: every record of the normal producer is acknowledged
//! in both phases, every hostile client ran and got the answers it should,
//! and the broker answers afterwards. No timing assertions.

mod common;

use clap::Parser;
use common::Broker;
use loadtest::hostile::report::write_report;
use loadtest::hostile::{answers_api_versions, run, HostileArgs};

fn args(broker: &Broker) -> HostileArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: HostileArgs,
    }
    let pid = std::process::id().to_string();
    Cli::parse_from([
        "hostile",
        "--broker",
        &broker.addr,
        "--broker-pid",
        &pid,
        "--rate",
        "200",
        "--phase-s",
        "2",
        "--warmup-s",
        "0.5",
        "--idle-connections",
        "200",
        "--slow-senders",
        "5",
        "--slow-byte-interval-ms",
        "20",
        "--attack-rate",
        "20",
        "--settle-s",
        "0",
    ])
    .args
}

#[test]
fn the_normal_producer_is_served_through_hostile_clients() {
    let broker = Broker::start("hostile");
    let report = run(&args(&broker), |_| {}).expect("hostile run");

    for (phase, figures) in [("baseline", &report.baseline), ("hostile", &report.hostile)] {
        assert!(figures.records_acknowledged > 0, "{phase}: {figures:?}");
        assert_eq!(figures.records_failed, 0, "{phase}: {figures:?}");
        assert!(figures.errors.is_empty(), "{phase}: {figures:?}");
    }
    assert_eq!(report.idle.opened, 200, "{:?}", report.idle);
    assert_eq!(
        report.idle.open_at_end, 200,
        "idle connections are kept: {:?}",
        report.idle
    );
    for (name, attack) in &report.attacks {
        assert!(attack.as_expected > 0, "{name} ran: {attack:?}");
        assert_eq!(attack.unexpected, 0, "{name}: {attack:?}");
        assert_eq!(attack.connect_errors, 0, "{name}: {attack:?}");
    }
    assert!(report.broker_answers_after);
    let addr = broker.addr.parse().unwrap();
    assert!(answers_api_versions(addr), "and still does");
    let memory = &report.broker_memory;
    assert!(memory.before.is_some() && memory.during_max.is_some() && memory.after.is_some());

    let dir = tempfile::tempdir().unwrap();
    let written = write_report(dir.path(), &report).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
    for field in [
        "baseline",
        "hostile",
        "ratios",
        "broker_memory",
        "attacks",
        "idle",
    ] {
        assert!(json.get(field).is_some(), "hostile.json has {field}");
    }
    assert!(std::fs::read_to_string(&written[1])
        .unwrap()
        .contains("ack p99"));
}
