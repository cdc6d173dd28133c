//! `serve` settings: config file, then `SHARDLOG_*` environment, then
//! flags, each overriding the one before; refusals name the key.

use std::process::{Command, Output};

use crate::common::DataDir;

fn serve(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shardlog"));
    command.arg("serve").args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn flags_override_environment_which_overrides_the_file() {
    let dir = DataDir::new("config-precedence");
    let file = dir.0.join("shardlog.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7001\"\nsegment_bytes = 8388608\nflush_interval_ms = 7\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let output = serve(
        &[
            "--config",
            config,
            "--print-config",
            "--flush-interval-ms",
            "9",
        ],
        &[
            ("SHARDLOG_SEGMENT_BYTES", "16777216"),
            ("SHARDLOG_FLUSH_INTERVAL_MS", "8"),
            ("SHARDLOG_METRICS_LISTEN", "127.0.0.1:9644"),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("listen = \"127.0.0.1:7001\""),
        "from the file: {stdout}"
    );
    assert!(
        stdout.contains("segment_bytes = 16777216"),
        "the environment over the file: {stdout}"
    );
    assert!(
        stdout.contains("flush_interval_ms = 9"),
        "the flag over the environment: {stdout}"
    );
    assert!(
        stdout.contains("metrics_listen = \"127.0.0.1:9644\""),
        "the environment: {stdout}"
    );
    assert!(
        stdout.contains("tail_cache_bytes = 67108864"),
        "defaults fill the rest: {stdout}"
    );
    // The printed config is itself a valid config file.
    std::fs::write(&file, &stdout).unwrap();
    let again = serve(&["--config", config, "--print-config"], &[]);
    assert_eq!(text(&again).0, stdout);
}

#[test]
fn bad_settings_are_refused_at_start_naming_the_key() {
    let dir = DataDir::new("config-refusals");
    let cases = [
        ("segment_bytez = 5\n", "segment_bytez"),
        ("cores = \"many\"\n", "cores"),
        ("preallocation = \"sometimes\"\n", "preallocation"),
        (
            "segment_bytes = 8192\nbatch_bytes_max = 16384\n",
            "batch_bytes_max",
        ),
        ("listen = \"nowhere\"\n", "listen"),
        ("metrics_listen = \"localhost\"\n", "metrics_listen"),
    ];
    for (i, (contents, key)) in cases.iter().enumerate() {
        let file = dir.0.join(format!("bad-{i}.toml"));
        std::fs::write(&file, contents).unwrap();
        let output = serve(&["--config", file.to_str().unwrap(), "--print-config"], &[]);
        let (_, stderr) = text(&output);
        assert!(!output.status.success(), "{contents:?} must be refused");
        assert!(stderr.contains(key), "the refusal names {key}: {stderr}");
    }
    let missing = serve(&["--config", "/nonexistent/shardlog.toml"], &[]);
    assert!(!missing.status.success());
    let bad_env = serve(&["--print-config"], &[("SHARDLOG_CORES", "lots")]);
    assert!(!bad_env.status.success());
    assert!(text(&bad_env).1.contains("cores"), "{}", text(&bad_env).1);
}

#[test]
fn the_shipped_sample_config_is_valid() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/shardlog.toml");
    // The sample is for a 4-core server; this machine may have fewer, and
    // --print-config shows it all the same.
    let output = serve(&["--config", sample, "--print-config"], &[]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("kafka_listen = \"0.0.0.0:9092\""),
        "{stdout}"
    );
    assert!(stdout.contains("cores = 4"), "{stdout}");
    assert!(stdout.contains("segment_bytes = 1073741824"), "{stdout}");
    assert!(
        stdout.contains("retention_check_interval_ms = 60000"),
        "{stdout}"
    );
}

#[test]
fn print_config_still_refuses_what_no_machine_can_run() {
    let output = serve(&["--print-config", "--cores", "0"], &[]);
    assert!(!output.status.success());
    assert!(text(&output).1.contains("cores"), "{}", text(&output).1);
    // Serving checks the cores against this machine's CPUs.
    let dir = DataDir::new("config-too-many-cores");
    let output = serve(
        &["--data-dir", dir.0.to_str().unwrap(), "--cores", "256"],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        text(&output).1.contains("the CPUs this process may use"),
        "{}",
        text(&output).1
    );
}

/// One size and one duration setting, each from a flag, an environment
/// variable and the file, given with units and as plain numbers.
#[test]
fn sizes_and_durations_take_units_or_plain_numbers_everywhere() {
    let dir = DataDir::new("config-units");
    let file = dir.0.join("shardlog.toml");
    let config = file.to_str().unwrap();
    let cases: [(&str, &str, &str); 4] = [
        ("64KiB", "30s", "units"),
        ("65536", "30000", "plain numbers"),
        ("\"64KiB\"", "\"30s\"", "units in the file"),
        ("65536", "30000", "plain numbers in the file"),
    ];
    for (size, duration, how) in cases {
        let expected = [
            "index_interval_bytes = 65536",
            "retention_check_interval_ms = 30000",
        ];
        let output = if how.ends_with("in the file") {
            std::fs::write(
                &file,
                format!(
                    "index_interval_bytes = {size}\nretention_check_interval_ms = {duration}\n"
                ),
            )
            .unwrap();
            serve(&["--config", config, "--print-config"], &[])
        } else {
            let from_flags = serve(
                &[
                    "--print-config",
                    "--index-interval-bytes",
                    size,
                    "--retention-check-interval-ms",
                    duration,
                ],
                &[],
            );
            let (stdout, stderr) = text(&from_flags);
            assert!(from_flags.status.success(), "flags, {how}: {stderr}");
            for line in expected {
                assert!(stdout.contains(line), "flags, {how}: {stdout}");
            }
            serve(
                &["--print-config"],
                &[
                    ("SHARDLOG_INDEX_INTERVAL_BYTES", size),
                    ("SHARDLOG_RETENTION_CHECK_INTERVAL_MS", duration),
                ],
            )
        };
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{how}: {stderr}");
        for line in expected {
            assert!(stdout.contains(line), "{how}: {stdout}");
        }
    }
}

#[test]
fn ambiguous_or_out_of_range_units_are_refused_naming_the_setting() {
    let dir = DataDir::new("config-bad-units");
    let file = dir.0.join("shardlog.toml");
    std::fs::write(&file, "segment_bytes = \"64k\"\n").unwrap();
    let output = serve(&["--config", file.to_str().unwrap(), "--print-config"], &[]);
    let stderr = text(&output).1;
    assert!(!output.status.success());
    assert!(
        stderr.contains("segment_bytes") && stderr.contains("ambiguous"),
        "{stderr}"
    );

    let output = serve(&["--print-config", "--frame-bytes-max", "8GiB"], &[]);
    let stderr = text(&output).1;
    assert!(!output.status.success());
    assert!(stderr.contains("--frame-bytes-max"), "{stderr}");

    let output = serve(
        &["--print-config"],
        &[("SHARDLOG_FLUSH_INTERVAL_MS", "3 fortnights")],
    );
    let stderr = text(&output).1;
    assert!(!output.status.success());
    assert!(stderr.contains("flush-interval-ms"), "{stderr}");
    assert!(stderr.contains("SHARDLOG_FLUSH_INTERVAL_MS"), "{stderr}");
}

#[test]
fn ports_that_overlap_are_refused_naming_both() {
    // The native port on Kafka's default port.
    let output = serve(&["--print-config", "--listen", "127.0.0.1:9092"], &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("port 9092 is both listen and core 0's Kafka port"),
        "{stderr}"
    );
    // Core 1's native port on core 0's Kafka port.
    let output = serve(
        &["--print-config", "--cores", "2", "--core-port-base", "9091"],
        &[],
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("port 9092 is both"), "{stderr}");
    // The defaults never collide, and Kafka can be turned off.
    let output = serve(&["--print-config", "--cores", "64"], &[]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("kafka_listen = \"127.0.0.1:9092\""),
        "{stdout}"
    );
    let output = serve(&["--print-config", "--kafka-listen", "off"], &[]);
    let (stdout, _) = text(&output);
    assert!(stdout.contains("kafka_listen = \"off\""), "{stdout}");
    let output = serve(&["--print-config", "--kafka-listen", "nowhere"], &[]);
    assert!(!output.status.success());
}
