//! The harness against a real broker (run in this process) for a few
//! seconds: counts add up, the histograms parse, and the fixed-rate mode
//! holds its rate.

mod common;

use clap::Parser;
use common::Broker;
use loadtest::report::{parse_hgrm, write_report};
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
    write_report(&dir, s, &outcome.produce_ack_us, &outcome.e2e_us).expect("report");
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
}
