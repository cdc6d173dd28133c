//! The broker process as a whole, for the standard `process_*` metric
//! family of Prometheus clients (CPU time, memory, file descriptors, start
//! time), read from `/proc/self` at each scrape, and the build it runs.
//!
//! Linux only, as the broker is; where `/proc` cannot be read the scrape
//! goes on without these families. Never called on the data path: only the
//! metrics endpoint reads it.

use std::io;

/// The version and commit of this build (`shardlog_build_info`); the
/// commit is "unknown" when the build had no git (see `build.rs`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("SHARDLOG_GIT_COMMIT");

/// What `/proc/self` says of the process, in the units Prometheus names.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessSnapshot {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub virtual_memory_bytes: u64,
    pub open_fds: u64,
    /// The soft limit of open file descriptors (RLIMIT_NOFILE); `None`:
    /// unlimited.
    pub max_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

impl ProcessSnapshot {
    /// Reads this process's figures from `/proc`.
    pub fn read() -> io::Result<ProcessSnapshot> {
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let boot_time_seconds = boot_time_seconds(&std::fs::read_to_string("/proc/stat")?)?;
        let figures = parse_stat(
            &stat,
            rustix::param::clock_ticks_per_second(),
            rustix::param::page_size() as u64,
            boot_time_seconds,
        )?;
        let open_fds = std::fs::read_dir("/proc/self/fd")?.count() as u64;
        let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        Ok(ProcessSnapshot {
            open_fds,
            max_fds,
            ..figures
        })
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed {what}"))
}

/// `btime` of `/proc/stat`: when the machine booted, in seconds since
/// the epoch.
fn boot_time_seconds(proc_stat: &str) -> io::Result<u64> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| malformed("/proc/stat (no btime)"))
}

/// The figures of `/proc/self/stat` (proc(5)): utime, stime and starttime
/// in clock ticks, vsize in bytes, rss in pages. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after its
/// last `)`. File descriptors are left at zero.
fn parse_stat(
    stat: &str,
    clock_ticks_per_second: u64,
    page_bytes: u64,
    boot_time_seconds: u64,
) -> io::Result<ProcessSnapshot> {
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| malformed("/proc/self/stat"))?;
    // Field 3 (state) is at index 0.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| -> io::Result<u64> {
        fields
            .get(number - 3)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| malformed("/proc/self/stat"))
    };
    let ticks = clock_ticks_per_second.max(1) as f64;
    Ok(ProcessSnapshot {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        virtual_memory_bytes: field(23)?,
        resident_memory_bytes: field(24)?.saturating_mul(page_bytes),
        open_fds: 0,
        max_fds: None,
        start_time_seconds: boot_time_seconds as f64 + field(22)? as f64 / ticks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis.
        let stat = "4242 (shard (x) log) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 150 0 0 20 0 3 0 1000 123456789 2048 18446744073709551615";
        let snapshot = parse_stat(stat, 100, 4096, 1_700_000_000).unwrap();
        assert_eq!(snapshot.cpu_seconds, 4.0);
        assert_eq!(snapshot.virtual_memory_bytes, 123_456_789);
        assert_eq!(snapshot.resident_memory_bytes, 2048 * 4096);
        assert_eq!(snapshot.start_time_seconds, 1_700_000_010.0);
        assert!(parse_stat("4242 (shardlog) S 1", 100, 4096, 0).is_err());
    }

    #[test]
    fn this_process_reads_itself() {
        let snapshot = ProcessSnapshot::read().unwrap();
        assert!(snapshot.resident_memory_bytes > 0);
        assert!(snapshot.virtual_memory_bytes >= snapshot.resident_memory_bytes);
        assert!(snapshot.open_fds >= 3, "{snapshot:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(snapshot.start_time_seconds <= now + 1.0);
        assert!(snapshot.start_time_seconds > now - 86_400.0 * 365.0);
        assert_eq!(boot_time_seconds("cpu 1 2\nbtime 17\n").unwrap(), 17);
    }
}
