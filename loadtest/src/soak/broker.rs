//! The broker as a child process: `shardlog serve` on fixed ports (chosen
//! free once, kept across restarts, so clients find it again where it was)
//! and a data directory the soak owns. Started, signalled, waited for with
//! a timeout each, and killed when dropped, so no broker outlives the soak.
//!
//! It runs in its own process group: a Ctrl-C in the terminal reaches the
//! soak, which then stops the broker itself, not the broker behind its back.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::config::TICK;
use super::faults::{Rng, Signal};

/// Ports tried when looking for free ones: below Linux's ephemeral range
/// (32768..), so a port chosen now is not handed to some other socket's
/// `bind(:0)` while the broker is down.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;
/// Attempts at finding free ports.
const PORT_ATTEMPTS_MAX: u32 = 200;

/// The shared port and the first per-core port (core `i` on `core_base + i`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub listen: u16,
    pub core_base: u16,
}

impl Ports {
    /// `cores + 1` consecutive ports on 127.0.0.1 that are free now.
    pub fn find_free(cores: usize, rng: &mut Rng) -> Result<Ports, String> {
        let span = u16::try_from(cores + 1).map_err(|_| "too many cores".to_string())?;
        for _ in 0..PORT_ATTEMPTS_MAX {
            let width = PORT_RANGE.end - PORT_RANGE.start - span;
            let first = PORT_RANGE.start + (rng.next_u64() % u64::from(width)) as u16;
            let all_free =
                (first..first + span).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok());
            if all_free {
                return Ok(Ports {
                    listen: first,
                    core_base: first + 1,
                });
            }
        }
        Err(format!(
            "no {span} consecutive free ports in {PORT_RANGE:?} after {PORT_ATTEMPTS_MAX} tries"
        ))
    }
}

/// How to run the broker.
#[derive(Clone, Debug)]
pub struct BrokerSpec {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub ports: Ports,
    pub cores: usize,
    pub extra_args: Vec<String>,
    /// Where the broker's standard error goes, appended over restarts.
    pub log: PathBuf,
}

impl BrokerSpec {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.listen)
    }

    fn ready_file(&self) -> PathBuf {
        self.data_dir.with_extension("ready")
    }
}

/// The broker child, if one runs.
pub struct BrokerProcess {
    spec: BrokerSpec,
    child: Option<Child>,
}

impl BrokerProcess {
    pub fn new(spec: BrokerSpec) -> BrokerProcess {
        BrokerProcess { spec, child: None }
    }

    pub fn spec(&self) -> &BrokerSpec {
        &self.spec
    }

    /// Starts a broker (none may be running); returns when it was spawned.
    pub fn spawn(&mut self) -> Result<Instant, String> {
        assert!(self.child.is_none(), "a broker is already running");
        let _ = std::fs::remove_file(self.spec.ready_file());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .map_err(|e| format!("opening {}: {e}", self.spec.log.display()))?;
        let mut command = Command::new(&self.spec.bin);
        command
            .arg("serve")
            .arg("--listen")
            .arg(self.spec.address())
            .arg("--core-port-base")
            .arg(self.spec.ports.core_base.to_string())
            // The soak drives the native protocol: no fixed Kafka port to collide on.
            .arg("--kafka-listen")
            .arg("off")
            .arg("--cores")
            .arg(self.spec.cores.to_string())
            .arg("--data-dir")
            .arg(&self.spec.data_dir)
            .arg("--ready-file")
            .arg(self.spec.ready_file())
            .args(&self.spec.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .process_group(0);
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.spec.bin.display()))?;
        let spawned = Instant::now();
        self.child = Some(child);
        Ok(spawned)
    }

    /// Waits until the broker serves (its ready file is there); an exit
    /// before that, or `timeout`, is an error.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.spec.ready_file().exists() {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "the broker exited with {status} before serving (log: {})",
                    self.spec.log.display()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!("the broker did not serve within {timeout:?}"));
            }
            std::thread::sleep(TICK);
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status if the broker has exited (then it is forgotten).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Sends `signal` to the running broker.
    pub fn signal(&mut self, signal: Signal) -> Result<(), String> {
        let child = self.child.as_mut().ok_or("no broker is running")?;
        match signal {
            Signal::Kill => child.kill().map_err(|e| format!("SIGKILL: {e}")),
            Signal::Term => {
                let status = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status()
                    .map_err(|e| format!("running kill: {e}"))?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("kill -TERM {} failed: {status}", child.id()))
                }
            }
        }
    }

    /// Waits for the broker to exit; past `timeout` it gets SIGKILL.
    /// Returns the status, and whether the timeout passed.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, bool), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().ok_or("no broker is running")?;
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                self.child = None;
                return Ok((status, false));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait().map_err(|e| e.to_string())?;
                self.child = None;
                return Ok((status, true));
            }
            std::thread::sleep(TICK);
        }
    }

    /// SIGTERM and wait, SIGKILL if it takes too long; nothing if none runs.
    pub fn stop(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, String> {
        if self.child.is_none() {
            return Ok(None);
        }
        self.signal(Signal::Term)?;
        self.wait_exit(timeout).map(|(status, _)| Some(status))
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The resident set size of process `pid`, in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The number of open file descriptors of process `pid`.
pub fn open_files(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// `shardlog` next to the running program (both are built into the same
/// target directory).
pub fn default_broker_bin() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let bin = me.with_file_name("shardlog");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it (cargo build --release) or give --broker-bin",
            bin.display()
        ))
    }
}

/// Creates `dir` for the broker's data: it must not exist, or be empty.
pub fn create_data_dir(dir: &Path) -> Result<PathBuf, String> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(format!(
                "{} is not empty: the soak removes its data dir at the end, give a new one",
                dir.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // glommio refuses relative paths (EBADF).
    dir.canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// The directory, its ready file and the broker log, removed when dropped
/// unless kept.
pub struct OwnedDataDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl Drop for OwnedDataDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept the data dir {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
        let _ = std::fs::remove_file(self.path.with_extension("ready"));
        let _ = std::fs::remove_file(self.path.with_extension("tmp"));
    }
}

/// A file handle for the broker's log, created empty.
pub fn create_log(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))
}
