//! The broker's process as /proc shows it: resident memory (VmRSS) and
//! open descriptors, sampled before, during and after the hostile load.

use std::path::Path;

use serde::Serialize;

/// One look at the broker process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessSample {
    pub rss_kib: u64,
    /// Open file descriptors; `None` when /proc/PID/fd is not readable.
    pub fds: Option<u64>,
}

/// Reads VmRSS from /proc/PID/status and counts /proc/PID/fd.
pub fn sample(pid: u32) -> Result<ProcessSample, String> {
    let status_path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&status_path)
        .map_err(|e| format!("reading {status_path}: {e} (is the broker running?)"))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{status_path} has no VmRSS line"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|entries| entries.count() as u64);
    Ok(ProcessSample { rss_kib, fds })
}

/// The pid of the one running `shardlog serve`, found by its command line;
/// an error if there is none or more than one (then pass --broker-pid).
pub fn discover() -> Result<u32, String> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("reading /proc: {e}"))?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let mut args = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty());
        let is_shardlog = args
            .next()
            .and_then(|arg0| std::str::from_utf8(arg0).ok())
            .is_some_and(|arg0| Path::new(arg0).file_name().is_some_and(|n| n == "shardlog"));
        if is_shardlog && args.next() == Some(b"serve".as_slice()) {
            found.push(pid);
        }
    }
    match found.as_slice() {
        [pid] => Ok(*pid),
        [] => Err("no running `shardlog serve` found; pass --broker-pid".into()),
        many => Err(format!(
            "{} `shardlog serve` processes ({many:?}); pass --broker-pid",
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_kib > 0);
        assert!(sample.fds.unwrap() > 0);
    }
}
