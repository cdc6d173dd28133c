//! What produced a run, so that a report can be shared and compared: the
//! harness's version and commit, when the run started, the host (CPU,
//! cores, kernel, the data dir's file system), the broker's settings as it
//! reports them, and the machine's limits when the suite measured them.
//!
//! It only reads: `/proc`, the build's environment and what the broker
//! answers. Every fact it cannot learn is `None` (JSON `null`), never a
//! guess.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use shardlog::client::{Admin, ConnectionConfig};

use crate::workload::Protocol;

/// The harness's crate version (the workspace's versions move together).
pub const SHARDLOG_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit the harness was built from (`build.rs`), or "unknown".
pub const GIT_COMMIT: &str = env!("SHARDLOG_GIT_COMMIT");
/// "true", "false" or "unknown" (`build.rs`).
const GIT_DIRTY: &str = env!("SHARDLOG_GIT_DIRTY");

/// Why `broker.not_reported` is there: what a reader should not look for.
pub const BROKER_NOT_REPORTED: &str = "the native protocol has no request for the broker's \
     configuration (fsync policy, segment and write sizes, io memory): only its version, \
     cores and the topic's settings are reported";

const CPUINFO: &str = "/proc/cpuinfo";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
const HOSTNAME: &str = "/proc/sys/kernel/hostname";
const MEMINFO: &str = "/proc/meminfo";
const MOUNTS: &str = "/proc/self/mounts";

/// Everything `summary.json` records about where a run came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The harness's version; the broker's is in `broker.version`.
    pub shardlog_version: String,
    /// The commit the harness was built from, or "unknown".
    pub git_commit: String,
    /// Tracked files differed from the commit at build time (`None`: git
    /// could not say).
    pub git_dirty: Option<bool>,
    /// When the run started, RFC 3339 in UTC, to the second.
    pub started_at: String,
    pub started_at_unix_ms: u64,
    pub host: Host,
    /// The protocol and client library that drove the load (`None` in
    /// summaries written before `--protocol`: the native client).
    pub client: Option<ClientLibrary>,
    /// `None` when the broker could not be asked.
    pub broker: Option<BrokerSettings>,
    /// The machine's limits measured in the same suite (`--limits FILE`).
    pub limits: Option<Limits>,
}

/// Which protocol and client library drove the load.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientLibrary {
    /// "native" or "kafka", as `--protocol`.
    pub protocol: String,
    /// "shardlog-client" or "librdkafka".
    pub library: String,
    /// The library's version: the workspace's for shardlog-client, what
    /// librdkafka reports (`rd_kafka_version_str`) for librdkafka.
    pub library_version: String,
}

impl ClientLibrary {
    /// The client `protocol` uses, with its version.
    pub fn of(protocol: Protocol) -> ClientLibrary {
        match protocol {
            Protocol::Native => ClientLibrary {
                protocol: "native".into(),
                library: "shardlog-client".into(),
                library_version: SHARDLOG_VERSION.into(),
            },
            Protocol::Kafka => ClientLibrary {
                protocol: "kafka".into(),
                library: "librdkafka".into(),
                library_version: rdkafka::util::get_rdkafka_version().1,
            },
        }
    }
}

/// The machine the harness ran on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: Option<String>,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// CPUs this process may run on (what `nproc` prints).
    pub cores: u32,
    /// `/proc/sys/kernel/osrelease` (what `uname -r` prints).
    pub kernel: Option<String>,
    pub memory_bytes: Option<u64>,
    /// The broker's data directory, when given with `--data-dir`.
    pub data_dir: Option<DataDir>,
}

/// Where the broker's data lives: the file system decides what a
/// durable append costs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataDir {
    pub path: PathBuf,
    /// "ext4", "xfs", "tmpfs", ...
    pub fs_type: String,
    /// The mounted device ("/dev/vda").
    pub device: String,
    pub mount_point: PathBuf,
    pub mount_options: String,
}

/// The broker's settings, as far as it reports them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerSettings {
    pub address: String,
    /// ApiVersions' `broker_version`.
    pub version: String,
    /// Cores serving (one listener each), from Metadata.
    pub cores: u32,
    /// The driven topic (the first, with --topics N).
    pub topic: TopicSettingsReported,
    /// What the broker does not report; see [`BROKER_NOT_REPORTED`].
    pub not_reported: String,
}

/// The driven topic, from DescribeTopic. `None` is the broker's default
/// (keep forever, default segment size).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopicSettingsReported {
    pub name: String,
    pub partitions: u32,
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    pub segment_bytes: Option<u64>,
}

/// The machine's limits measured in the same run (scripts/bench.sh writes
/// them as `limits/limits.json`): throughput figures are read beside them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// min of the figures below: what bounds a durable produce here.
    pub limit_mb_per_s: f64,
    /// Which one it is.
    pub limit_name: String,
    /// fio, O_DIRECT sequential 1 MiB writes, fdatasync after each.
    pub fio_fdatasync_1m_mb_per_s: Option<f64>,
    /// iperf3 over loopback, one stream.
    pub iperf3_loopback_mb_per_s: Option<f64>,
    /// When they were measured, RFC 3339.
    pub measured_at: Option<String>,
}

impl Provenance {
    /// The harness's build and the host, stamped now. The broker, the data
    /// dir and the limits are added by the caller when it has them.
    pub fn now() -> Provenance {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Provenance {
            shardlog_version: SHARDLOG_VERSION.to_string(),
            git_commit: GIT_COMMIT.to_string(),
            git_dirty: GIT_DIRTY.parse().ok(),
            started_at: rfc3339_utc(since_epoch.as_secs()),
            started_at_unix_ms: since_epoch.as_millis() as u64,
            host: Host::this(),
            client: None,
            broker: None,
            limits: None,
        }
    }

    /// One line for plots and the text report: version, commit, host, when.
    pub fn one_line(&self) -> String {
        let commit: String = self.git_commit.chars().take(COMMIT_SHORT_CHARS).collect();
        let dirty = if self.git_dirty == Some(true) {
            "+dirty"
        } else {
            ""
        };
        let mut line = format!(
            "shardlog {} ({commit}{dirty}), {}",
            self.shardlog_version, self.started_at
        );
        if let Some(client) = self.client.as_ref().filter(|c| c.protocol != "native") {
            line.push_str(&format!(
                ", over {} ({} {})",
                client.protocol, client.library, client.library_version
            ));
        }
        let host = &self.host;
        line.push_str(&format!(
            "; {} cores, {}",
            host.cores,
            host.cpu_model.as_deref().unwrap_or("unknown CPU")
        ));
        if let Some(kernel) = &host.kernel {
            line.push_str(&format!(", Linux {kernel}"));
        }
        if let Some(data_dir) = &host.data_dir {
            line.push_str(&format!(", data on {}", data_dir.fs_type));
        }
        if let Some(limits) = &self.limits {
            line.push_str(&format!(
                "; limit {:.1} MB/s ({})",
                limits.limit_mb_per_s, limits.limit_name
            ));
        }
        line
    }
}

/// Characters of the commit shown in one-line summaries.
const COMMIT_SHORT_CHARS: usize = 12;

impl Host {
    /// What `/proc` says about this machine.
    pub fn this() -> Host {
        let read = |path: &str| fs::read_to_string(path).ok();
        Host {
            hostname: read(HOSTNAME).map(|s| s.trim().to_string()),
            cpu_model: read(CPUINFO).and_then(|text| cpu_model(&text)),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            kernel: read(OSRELEASE).map(|s| s.trim().to_string()),
            memory_bytes: read(MEMINFO).and_then(|text| memory_bytes(&text)),
            data_dir: None,
        }
    }
}

impl DataDir {
    /// The file system `path` lives on, from the mount table.
    pub fn of(path: &Path) -> Result<DataDir, String> {
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("--data-dir {}: {e}", path.display()))?;
        let mounts =
            fs::read_to_string(MOUNTS).map_err(|e| format!("cannot read {MOUNTS}: {e}"))?;
        let mount = mount_of(&mounts, &canonical).ok_or_else(|| {
            format!(
                "no mount in {MOUNTS} holds {} (the data dir)",
                canonical.display()
            )
        })?;
        Ok(DataDir {
            path: canonical,
            fs_type: mount.fs_type,
            device: mount.device,
            mount_point: mount.mount_point,
            mount_options: mount.options,
        })
    }
}

impl BrokerSettings {
    /// Asks the broker at `address` for its version, cores and the topic's
    /// settings.
    pub fn ask(address: &str, topic: &str) -> Result<BrokerSettings, String> {
        let context = |what: &str, e: shardlog::client::ClientError| {
            format!("asking the broker at {address} for {what}: {e}")
        };
        let mut admin = Admin::connect(address, ConnectionConfig::default())
            .map_err(|e| context("a connection", e))?;
        let versions = admin
            .api_versions()
            .map_err(|e| context("its version", e))?;
        let metadata = admin
            .metadata(&[topic.to_string()])
            .map_err(|e| context("its cores", e))?;
        let described = admin
            .describe_topic(topic)
            .map_err(|e| context("the topic's settings", e))?;
        Ok(BrokerSettings {
            address: address.to_string(),
            version: versions.broker_version,
            cores: metadata.cores.len() as u32,
            topic: TopicSettingsReported {
                name: described.name,
                partitions: described.partitions.len() as u32,
                retention_ms: described.settings.retention_ms,
                retention_bytes: described.settings.retention_bytes,
                segment_bytes: described.settings.segment_bytes,
            },
            not_reported: BROKER_NOT_REPORTED.to_string(),
        })
    }
}

impl Limits {
    /// A `limits.json` as scripts/bench.sh writes it.
    pub fn read(path: &Path) -> Result<Limits, String> {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("--limits: cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "--limits: {} is not a limits file (limit_mb_per_s, limit_name, ...): {e}",
                path.display()
            )
        })
    }
}

/// The first `model name` of `/proc/cpuinfo`; some architectures call it
/// `Processor` or `cpu model`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Processor", "cpu model"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name.trim() == *key).then(|| value.trim().to_string())
            })
        })
        .filter(|model| !model.is_empty())
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn memory_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// One line of the mount table.
#[derive(Debug, PartialEq)]
struct Mount {
    device: String,
    mount_point: PathBuf,
    fs_type: String,
    options: String,
}

/// The mount that holds `path` (canonical): the longest mount point that
/// is one of its ancestors; the last such line wins, as in the kernel,
/// where a later mount covers an earlier one.
fn mount_of(mounts: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(device), Some(mount_point), Some(fs_type), Some(options)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mount_point = PathBuf::from(unescape_mount_field(mount_point));
        if !path.starts_with(&mount_point) {
            continue;
        }
        let deeper = best
            .as_ref()
            .is_none_or(|b| mount_point.components().count() >= b.mount_point.components().count());
        if deeper {
            best = Some(Mount {
                device: unescape_mount_field(device),
                mount_point,
                fs_type: fs_type.to_string(),
                options: options.to_string(),
            });
        }
    }
    best
}

/// The mount table writes space, tab, newline and backslash as octal
/// escapes (`\040`).
fn unescape_mount_field(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at + 1..at + 4);
        match escape.and_then(|digits| u8::from_str_radix(digits, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Seconds since the Unix epoch as RFC 3339 UTC: "2026-11-30T22:57:31Z".
/// Civil-from-days by Howard Hinnant's algorithm (proleptic Gregorian).
pub fn rfc3339_utc(unix_s: u64) -> String {
    const SECONDS_PER_DAY: u64 = 86_400;
    let days = (unix_s / SECONDS_PER_DAY) as i64;
    let second_of_day = unix_s % SECONDS_PER_DAY;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400`: the leap day of a year divisible by 400.
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_796_079_451), "2026-11-30T22:57:31Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn cpu_model_and_memory_from_proc_text() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\n\
                       \nprocessor\t: 1\nmodel name\t: AMD EPYC 9B14\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 9B14"));
        assert_eq!(
            cpu_model("processor : 0\nProcessor : ARMv7 rev 4 (v7l)\n").as_deref(),
            Some("ARMv7 rev 4 (v7l)")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
        assert_eq!(
            memory_bytes("MemTotal:       24594432 kB\nMemFree: 1 kB\n"),
            Some(24_594_432 * 1024)
        );
        assert_eq!(memory_bytes("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn the_deepest_mount_holding_the_path_wins() {
        let mounts = "/dev/vda / ext4 rw,relatime,discard 0 0\n\
                      proc /proc proc rw 0 0\n\
                      tmpfs /work/tmp tmpfs rw,nosuid 0 0\n\
                      /dev/vdb /work/my\\040disk xfs rw 0 0\n";
        let of = |path: &str| mount_of(mounts, Path::new(path)).unwrap();
        assert_eq!(
            of("/work/main/data"),
            Mount {
                device: "/dev/vda".into(),
                mount_point: "/".into(),
                fs_type: "ext4".into(),
                options: "rw,relatime,discard".into(),
            }
        );
        assert_eq!(of("/work/tmp/data").fs_type, "tmpfs");
        // A sibling whose name starts the same is not inside the mount.
        assert_eq!(of("/work/tmpdata").fs_type, "ext4");
        let spaced = of("/work/my disk/data");
        assert_eq!(
            (spaced.fs_type.as_str(), spaced.mount_point),
            ("xfs", PathBuf::from("/work/my disk"))
        );
        assert_eq!(mount_of("", Path::new("/x")), None);
    }

    #[test]
    fn this_host_is_described() {
        let host = Host::this();
        assert!(host.cores >= 1);
        // The test machines are Linux: these come from /proc.
        assert!(host.kernel.as_deref().is_some_and(|k| !k.is_empty()));
        assert!(host.memory_bytes.is_some_and(|m| m > 0));
        let data_dir = DataDir::of(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(!data_dir.fs_type.is_empty());
        assert!(data_dir.path.starts_with(&data_dir.mount_point));
        assert!(DataDir::of(Path::new("/no/such/dir"))
            .unwrap_err()
            .contains("/no/such/dir"));
    }

    #[test]
    fn the_build_says_which_commit() {
        let provenance = Provenance::now();
        assert_eq!(provenance.shardlog_version, env!("CARGO_PKG_VERSION"));
        // Built inside a git checkout (`.git` is a directory, or a file in
        // a worktree): a full hex commit; from a tarball: the fallback.
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.git");
        if checkout.exists() {
            assert_eq!(provenance.git_commit.len(), 40, "{}", provenance.git_commit);
            assert!(provenance.git_commit.chars().all(|c| c.is_ascii_hexdigit()));
        } else {
            assert_eq!(provenance.git_commit, "unknown");
            assert_eq!(provenance.git_dirty, None);
        }
        assert!(provenance.started_at.ends_with('Z'));
        let line = provenance.one_line();
        assert!(line.starts_with(&format!(
            "shardlog {} ({}",
            SHARDLOG_VERSION,
            GIT_COMMIT
                .chars()
                .take(COMMIT_SHORT_CHARS)
                .collect::<String>()
        )));
    }

    #[test]
    fn limits_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("limits.json");
        fs::write(
            &good,
            r#"{"limit_mb_per_s": 1292.4, "limit_name": "fio O_DIRECT+fdatasync 1 MiB",
                "fio_fdatasync_1m_mb_per_s": 1292.4, "iperf3_loopback_mb_per_s": 2233.0,
                "measured_at": "2026-11-22T07:08:29Z"}"#,
        )
        .unwrap();
        let limits = Limits::read(&good).unwrap();
        assert_eq!(limits.limit_mb_per_s, 1292.4);
        assert_eq!(limits.iperf3_loopback_mb_per_s, Some(2233.0));
        let bad = dir.path().join("bad.json");
        fs::write(&bad, r#"{"limit": 3}"#).unwrap();
        let error = Limits::read(&bad).unwrap_err();
        assert!(error.contains("bad.json"), "{error}");
        assert!(Limits::read(&dir.path().join("none.json"))
            .unwrap_err()
            .contains("none.json"));
    }
}
