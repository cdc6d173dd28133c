//! What the broker and its disk spent over the measured window, read at
//! its start and its end:
//!
//! - the broker's CPU: `process_cpu_seconds_total` (utime + stime) from
//!   its metrics endpoint (`--broker-metrics HOST:PORT`, the broker's
//!   `serve --metrics-listen`), and its produce requests
//!   (`shardlog_requests_total{api="Produce"}`, every core's);
//! - the data disk: sectors written and flushes completed, from
//!   `/proc/diskstats`, for the block device that holds `--data-dir`.
//!
//! Both count everything on the machine that uses them: another client of
//! the broker, another writer on the disk. The harness reads, never
//! changes, either.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A scrape of the metrics endpoint may take this long, connect included.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest metrics page read (a broker with many partitions writes a few
/// hundred KB).
const SCRAPE_BYTES_MAX: u64 = 64 << 20;
const MOUNTINFO: &str = "/proc/self/mountinfo";
const DISKSTATS: &str = "/proc/diskstats";
const SYS_DEV_BLOCK: &str = "/sys/dev/block";
/// /proc/diskstats counts sectors of 512 bytes, whatever the device's.
const SECTOR_BYTES: u64 = 512;

/// What to read at the window's ends; each part is optional.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    /// The broker's metrics endpoint, `HOST:PORT`.
    pub broker_metrics: Option<String>,
    /// The block device of the broker's data directory.
    pub disk: Option<DataDisk>,
}

/// The figures of the metrics endpoint the harness uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrokerCounters {
    pub cpu_seconds: f64,
    /// Produce requests answered, summed over cores; `None` when the
    /// endpoint does not export them.
    pub produce_requests: Option<u64>,
}

/// One device's counters in `/proc/diskstats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskCounters {
    pub writes: u64,
    pub sectors_written: u64,
    /// "flush requests completed": `None` on kernels before 4.18.
    pub flushes: Option<u64>,
}

/// The block device under a data directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataDisk {
    pub path: PathBuf,
    /// Its name in /proc/diskstats ("vda", "nvme0n1p2", "dm-0"); `None`
    /// when unknown, `note` says why.
    pub device: Option<String>,
    /// "disk", "partition of vda", "device-mapper cryptroot over sda2",
    /// or "unknown".
    pub kind: String,
    /// Why the device is unknown, or what the figures include.
    pub note: Option<String>,
}

/// The broker's CPU over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerUsage {
    /// The metrics endpoint read.
    pub metrics_endpoint: String,
    pub window_s: f64,
    /// utime + stime of the broker process over the window.
    pub cpu_seconds: f64,
    /// Per record acknowledged in the window; `None` without records.
    pub cpu_us_per_record: Option<f64>,
    /// Produce requests in the window, and who counted them: "harness"
    /// (one per record, `--pipeline`) or "broker" (its
    /// `shardlog_requests_total{api="Produce"}`: every client's).
    pub requests: Option<u64>,
    pub requests_counted_by: Option<String>,
    pub cpu_us_per_request: Option<f64>,
    /// The broker's own count of produce requests in the window, whoever
    /// counted `requests`.
    pub broker_produce_requests: Option<u64>,
}

/// The data disk over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// The device read, or "unknown" (then every figure is `None`).
    pub device: String,
    pub kind: String,
    pub note: Option<String>,
    pub window_s: f64,
    pub bytes_written: Option<u64>,
    pub writes: Option<u64>,
    /// Record bytes (value + key) acknowledged in the window.
    pub record_bytes: u64,
    /// `bytes_written / record_bytes`: 1 is no write amplification.
    pub bytes_per_record_byte: Option<f64>,
    /// Flush requests the device completed (about one per fdatasync that
    /// reached it).
    pub flushes: Option<u64>,
    pub flushes_per_s: Option<f64>,
}

/// The counters at one end of the window.
#[derive(Clone, Debug)]
pub struct Reading {
    pub at: Instant,
    pub broker: Option<Result<BrokerCounters, String>>,
    pub disk: Option<Result<DiskCounters, String>>,
}

impl Probes {
    /// Reads everything asked for now; a failed read is kept as its error.
    pub fn read(&self) -> Reading {
        let at = Instant::now();
        Reading {
            at,
            broker: self.broker_metrics.as_deref().map(scrape),
            disk: self
                .disk
                .as_ref()
                .and_then(|d| d.device.as_deref())
                .map(read_diskstats),
        }
    }

    /// Fails at once on an endpoint that does not answer or lacks the CPU
    /// counter (a typo in --broker-metrics), before any load runs.
    pub fn check(&self) -> Result<(), String> {
        if let Some(endpoint) = &self.broker_metrics {
            scrape(endpoint).map_err(|e| format!("--broker-metrics {endpoint}: {e}"))?;
        }
        Ok(())
    }

    /// What was spent between `start` and `end`. `records` and
    /// `record_bytes` were acknowledged in the window; `harness_requests`
    /// is the harness's own count of produce requests, when it counts them.
    /// Warnings (a read that failed) go to `warn`.
    pub fn usage(
        &self,
        start: &Reading,
        end: &Reading,
        records: u64,
        record_bytes: u64,
        harness_requests: Option<u64>,
        warn: &mut Vec<String>,
    ) -> (Option<BrokerUsage>, Option<DiskUsage>) {
        let window_s = end.at.saturating_duration_since(start.at).as_secs_f64();
        let broker = match (&self.broker_metrics, &start.broker, &end.broker) {
            (Some(endpoint), Some(Ok(a)), Some(Ok(b))) => {
                let broker_requests = match (a.produce_requests, b.produce_requests) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                    _ => None,
                };
                let (requests, counted_by) = match (harness_requests, broker_requests) {
                    (Some(n), _) => (Some(n), Some("harness".to_string())),
                    (None, Some(n)) => (Some(n), Some("broker".to_string())),
                    (None, None) => (None, None),
                };
                let cpu_seconds = (b.cpu_seconds - a.cpu_seconds).max(0.0);
                let per = |n: u64| (n > 0).then(|| cpu_seconds * 1e6 / n as f64);
                Some(BrokerUsage {
                    metrics_endpoint: endpoint.clone(),
                    window_s,
                    cpu_seconds,
                    cpu_us_per_record: per(records),
                    requests,
                    requests_counted_by: counted_by,
                    cpu_us_per_request: requests.and_then(per),
                    broker_produce_requests: broker_requests,
                })
            }
            (Some(endpoint), a, b) => {
                for error in [a, b]
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_ref().err())
                {
                    warn.push(format!("broker metrics at {endpoint}: {error}"));
                }
                None
            }
            (None, ..) => None,
        };
        let disk = self.disk.as_ref().map(|disk| {
            let mut usage = DiskUsage {
                device: disk.device.clone().unwrap_or_else(|| "unknown".into()),
                kind: disk.kind.clone(),
                note: disk.note.clone(),
                window_s,
                record_bytes,
                ..DiskUsage::default()
            };
            match (&start.disk, &end.disk) {
                (Some(Ok(a)), Some(Ok(b))) => {
                    let bytes = b.sectors_written.saturating_sub(a.sectors_written) * SECTOR_BYTES;
                    usage.bytes_written = Some(bytes);
                    usage.writes = Some(b.writes.saturating_sub(a.writes));
                    usage.bytes_per_record_byte =
                        (record_bytes > 0).then(|| bytes as f64 / record_bytes as f64);
                    usage.flushes = match (a.flushes, b.flushes) {
                        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                        _ => None,
                    };
                    usage.flushes_per_s = usage
                        .flushes
                        .filter(|_| window_s > 0.0)
                        .map(|f| f as f64 / window_s);
                }
                (a, b) => {
                    for error in [a, b]
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_ref().err())
                    {
                        warn.push(format!("disk {}: {error}", usage.device));
                    }
                }
            }
            usage
        });
        (broker, disk)
    }
}

/// `GET /metrics` from `endpoint` (`HOST:PORT`).
pub fn scrape(endpoint: &str) -> Result<BrokerCounters, String> {
    let addr = endpoint
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or("resolves to no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT)
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(SCRAPE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(SCRAPE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("sending the request: {e}"))?;
    let mut page = String::new();
    stream
        .take(SCRAPE_BYTES_MAX)
        .read_to_string(&mut page)
        .map_err(|e| format!("reading the answer: {e}"))?;
    let (head, body) = page.split_once("\r\n\r\n").ok_or("not an HTTP answer")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        return Err(format!("answered {status:?}"));
    }
    parse_metrics(body)
}

/// The CPU and produce-request counters of a Prometheus text page.
pub fn parse_metrics(page: &str) -> Result<BrokerCounters, String> {
    let mut cpu_seconds = None;
    let mut produce_requests: Option<u64> = None;
    for line in page.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        match name {
            "process_cpu_seconds_total" => cpu_seconds = value.parse::<f64>().ok(),
            "shardlog_requests_total" if labels.split(',').any(|l| l == "api=\"Produce\"") => {
                let n = value.parse::<f64>().map_err(|e| format!("{line:?}: {e}"))?;
                *produce_requests.get_or_insert(0) += n as u64;
            }
            _ => {}
        }
    }
    let cpu_seconds = cpu_seconds.ok_or(
        "no process_cpu_seconds_total in the page (a broker that cannot read /proc/self/stat?)",
    )?;
    // A broker that has answered no produce yet has the family, not the
    // line; one without the family does not count requests.
    let family = page.contains("# TYPE shardlog_requests_total ");
    Ok(BrokerCounters {
        cpu_seconds,
        produce_requests: produce_requests.or(family.then_some(0)),
    })
}

/// The counters of `device` in /proc/diskstats.
pub fn read_diskstats(device: &str) -> Result<DiskCounters, String> {
    let text = fs::read_to_string(DISKSTATS).map_err(|e| format!("{DISKSTATS}: {e}"))?;
    parse_diskstats(&text, device).ok_or_else(|| format!("no line for {device} in {DISKSTATS}"))
}

/// Fields after major, minor and name (Documentation/admin-guide/iostats):
/// 5 writes completed, 7 sectors written, 16 flush requests completed.
pub fn parse_diskstats(text: &str, device: &str) -> Option<DiskCounters> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(2) != Some(&device) {
            return None;
        }
        let field = |n: usize| fields.get(2 + n).and_then(|v| v.parse::<u64>().ok());
        Some(DiskCounters {
            writes: field(5)?,
            sectors_written: field(7)?,
            flushes: field(16),
        })
    })
}

impl DataDisk {
    /// The block device of the file system `path` is on; an unknown device
    /// (tmpfs, a network file system, no /sys) is not an error: `note`
    /// says why, and the figures read "unknown".
    pub fn of(path: &Path) -> Result<DataDisk, String> {
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("--data-dir {}: {e}", path.display()))?;
        let unknown = |note: String| DataDisk {
            path: canonical.clone(),
            device: None,
            kind: "unknown".into(),
            note: Some(note),
        };
        let mountinfo = match fs::read_to_string(MOUNTINFO) {
            Ok(text) => text,
            Err(e) => return Ok(unknown(format!("cannot read {MOUNTINFO}: {e}"))),
        };
        let Some(mount) = mount_of(&mountinfo, &canonical) else {
            return Ok(unknown(format!("no mount in {MOUNTINFO} holds it")));
        };
        let (mut major, mut minor) = mount.dev;
        if major == 0 {
            // btrfs and other file systems with an anonymous device number:
            // the mounted source may still be a block device.
            match block_device_number(&mount.source) {
                Some(dev) => (major, minor) = dev,
                None => {
                    return Ok(unknown(format!(
                        "{} ({}) is on no block device this harness can find",
                        mount.source, mount.fs_type
                    )))
                }
            }
        }
        let sys = Path::new(SYS_DEV_BLOCK).join(format!("{major}:{minor}"));
        let Some(name) = fs::canonicalize(&sys)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        else {
            return Ok(unknown(format!("no {}", sys.display())));
        };
        let kind = if sys.join("partition").exists() {
            let parent = fs::canonicalize(&sys)
                .ok()
                .and_then(|p| {
                    p.parent()?
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "?".into());
            format!("partition of {parent}")
        } else if let Ok(dm_name) = fs::read_to_string(sys.join("dm/name")) {
            let slaves: Vec<String> = fs::read_dir(sys.join("slaves"))
                .map(|entries| {
                    entries
                        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "device-mapper {} over {}",
                dm_name.trim(),
                slaves.join(", ")
            )
        } else {
            "disk".to_string()
        };
        let text = fs::read_to_string(DISKSTATS).unwrap_or_default();
        if parse_diskstats(&text, &name).is_none() {
            return Ok(unknown(format!("{name} has no line in {DISKSTATS}")));
        }
        let note = kind.starts_with("device-mapper").then(|| {
            "a device-mapper device: what reaches the disks under it may differ (RAID, \
             encryption, thin provisioning)"
                .to_string()
        });
        Ok(DataDisk {
            path: canonical,
            device: Some(name),
            kind,
            note,
        })
    }
}

/// A mount of /proc/self/mountinfo: its device number, source and type.
#[derive(Debug, PartialEq)]
struct Mount {
    dev: (u32, u32),
    mount_point: PathBuf,
    fs_type: String,
    source: String,
}

/// The mount whose mount point is the longest prefix of `path` (the last
/// listed wins a tie: it is mounted over the others).
fn mount_of(mountinfo: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        // id parent MAJ:MIN root mount_point options [optional...] - type source super
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(dev), Some(point), Some(fs_type), Some(source)) =
            (left.get(2), left.get(4), right.first(), right.get(1))
        else {
            continue;
        };
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        let mount_point = PathBuf::from(unescape(point));
        if !path.starts_with(&mount_point) {
            continue;
        }
        let longer = best
            .as_ref()
            .is_none_or(|b| mount_point.components().count() >= b.mount_point.components().count());
        if longer {
            best = Some(Mount {
                dev: (major, minor),
                mount_point,
                fs_type: fs_type.to_string(),
                source: unescape(source),
            });
        }
    }
    best
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The device number of a block device node (`/dev/sda2`).
fn block_device_number(source: &str) -> Option<(u32, u32)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if !source.starts_with("/dev/") {
        return None;
    }
    let meta = fs::metadata(source).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    let dev = meta.rdev();
    // glibc's gnu_dev_major and gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    Some((major as u32, minor as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_and_produce_counters_are_read_from_a_metrics_page() {
        let page = "# HELP process_cpu_seconds_total Total user and system CPU time.\n\
                    # TYPE process_cpu_seconds_total counter\n\
                    process_cpu_seconds_total 12.34\n\
                    shardlog_requests_total{core=\"0\",api=\"Produce\"} 100\n\
                    shardlog_requests_total{core=\"1\",api=\"Produce\"} 23\n\
                    shardlog_requests_total{core=\"1\",api=\"Fetch\"} 999\n";
        let counters = parse_metrics(page).unwrap();
        assert_eq!(counters.cpu_seconds, 12.34);
        assert_eq!(counters.produce_requests, Some(123));
        let no_requests = parse_metrics("process_cpu_seconds_total 1\n").unwrap();
        assert_eq!(no_requests.produce_requests, None);
        let none_yet =
            parse_metrics("# TYPE shardlog_requests_total counter\nprocess_cpu_seconds_total 1\n");
        assert_eq!(none_yet.unwrap().produce_requests, Some(0));
        let no_cpu = parse_metrics("shardlog_requests_total{api=\"Produce\"} 1\n");
        assert!(no_cpu.unwrap_err().contains("process_cpu_seconds_total"));
    }

    #[test]
    fn diskstats_fields_are_counted_after_the_name() {
        let text = "   7       0 loop0 500 0 228226 42 6017 7907 659378 1035 0 1028 1883 0 0 0 0 4027 804\n \
                    254       0 vda 2842436 82998 255690368 7450445 51256035 773526 2919742792 17432654 1 2478776 26212117 784162 2786 1702468992 241529 14365406 1087488\n \
                    8 1 sda1 1 2 3 4 5 6 7 8 9 10 11\n";
        let vda = parse_diskstats(text, "vda").unwrap();
        assert_eq!(vda.writes, 51_256_035);
        assert_eq!(vda.sectors_written, 2_919_742_792);
        assert_eq!(vda.flushes, Some(14_365_406));
        let old_kernel = parse_diskstats(text, "sda1").unwrap();
        assert_eq!((old_kernel.writes, old_kernel.flushes), (5, None));
        assert_eq!(parse_diskstats(text, "vd"), None);
    }

    #[test]
    fn the_deepest_mount_holds_a_path() {
        let mountinfo = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                         40 27 8:17 / /mnt/with\\040space rw - xfs /dev/sdb1 rw\n\
                         41 27 0:44 / /work/tmp rw - tmpfs tmpfs rw\n";
        let m = mount_of(mountinfo, Path::new("/work/wt/tmp")).unwrap();
        assert_eq!((m.dev, m.fs_type.as_str()), ((254, 0), "ext4"));
        let m = mount_of(mountinfo, Path::new("/work/tmp/data")).unwrap();
        assert_eq!((m.dev, m.source.as_str()), ((0, 44), "tmpfs"));
        let m = mount_of(mountinfo, Path::new("/mnt/with space/data")).unwrap();
        assert_eq!(m.dev, (8, 17));
        assert_eq!(m.mount_point, PathBuf::from("/mnt/with space"));
    }

    #[test]
    fn usage_divides_by_the_window_s_records() {
        let probes = Probes {
            broker_metrics: Some("127.0.0.1:9644".into()),
            disk: Some(DataDisk {
                path: "/data".into(),
                device: Some("vda".into()),
                kind: "disk".into(),
                note: None,
            }),
        };
        let t0 = Instant::now();
        let start = Reading {
            at: t0,
            broker: Some(Ok(BrokerCounters {
                cpu_seconds: 1.0,
                produce_requests: Some(10),
            })),
            disk: Some(Ok(DiskCounters {
                writes: 5,
                sectors_written: 100,
                flushes: Some(7),
            })),
        };
        let end = Reading {
            at: t0 + Duration::from_secs(2),
            broker: Some(Ok(BrokerCounters {
                cpu_seconds: 3.0,
                produce_requests: Some(1_010),
            })),
            disk: Some(Ok(DiskCounters {
                writes: 105,
                sectors_written: 100 + 4_000,
                flushes: Some(107),
            })),
        };
        let mut warnings = Vec::new();
        let (broker, disk) = probes.usage(&start, &end, 100_000, 1_024_000, None, &mut warnings);
        let broker = broker.unwrap();
        assert_eq!(broker.cpu_seconds, 2.0);
        assert_eq!(broker.cpu_us_per_record, Some(20.0));
        assert_eq!(broker.requests, Some(1_000));
        assert_eq!(broker.requests_counted_by.as_deref(), Some("broker"));
        assert_eq!(broker.cpu_us_per_request, Some(2_000.0));
        let disk = disk.unwrap();
        assert_eq!(disk.bytes_written, Some(2_048_000));
        assert_eq!(disk.bytes_per_record_byte, Some(2.0));
        assert_eq!((disk.flushes, disk.flushes_per_s), (Some(100), Some(50.0)));
        let (broker, _) = probes.usage(&start, &end, 100_000, 0, Some(100_000), &mut warnings);
        let broker = broker.unwrap();
        assert_eq!(broker.requests_counted_by.as_deref(), Some("harness"));
        assert_eq!(broker.cpu_us_per_request, Some(20.0));
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
