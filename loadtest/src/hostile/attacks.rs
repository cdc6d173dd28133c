//! The hostile clients that run while the normal producer measures: slow
//! senders, frames with length u32::MAX, random garbage, truncated frames
//! and reconnect churn, each on its own thread at its own pace until told
//! to stop. Each keeps [`AttackStats`]: what it tried and what the broker
//! did. (Idle connections are held by [`super::idle`].)

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use shardlog::error::ErrorCode;

use super::frames::{answer_or_silence, api_versions_frame, connect, Answer};

/// How long a garbage client waits for an answer before closing: a random
/// length prefix below the frame limit leaves the broker waiting for more.
const GARBAGE_READ_TIMEOUT: Duration = Duration::from_millis(200);
/// Bytes of random garbage per garbage connection, at most.
const GARBAGE_BYTES_MAX: usize = 512;
/// The frame a truncated client announces, of which it sends half.
const TRUNCATED_FRAME_BYTES: u32 = 1024;

/// The hostile load, as the command line gives it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HostileLoad {
    pub idle_connections: usize,
    pub slow_senders: usize,
    pub slow_byte_interval_ms: u64,
    /// Attempts per second of each of: huge length, garbage, truncated,
    /// churn.
    pub attack_rate_per_s: u32,
}

/// What one kind of hostile client did, and how the broker answered.
#[derive(Debug, Default)]
pub struct AttackStats {
    pub attempts: AtomicU64,
    /// The broker answered as it should (an error code, a close, or the
    /// right response).
    pub as_expected: AtomicU64,
    /// Anything else; the first one is described in `first_unexpected`.
    pub unexpected: AtomicU64,
    pub connect_errors: AtomicU64,
    pub first_unexpected: Mutex<Option<String>>,
}

impl AttackStats {
    fn expected(&self) {
        self.as_expected.fetch_add(1, Ordering::Relaxed);
    }

    fn unexpected(&self, what: String) {
        self.unexpected.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_unexpected
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(what);
    }

    fn connect(&self, addr: SocketAddr) -> Option<TcpStream> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        match connect(addr) {
            Ok(stream) => Some(stream),
            Err(_) => {
                self.connect_errors.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub fn figures(&self) -> AttackFigures {
        AttackFigures {
            attempts: self.attempts.load(Ordering::Relaxed),
            as_expected: self.as_expected.load(Ordering::Relaxed),
            unexpected: self.unexpected.load(Ordering::Relaxed),
            connect_errors: self.connect_errors.load(Ordering::Relaxed),
            first_unexpected: self
                .first_unexpected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// [`AttackStats`] as the report shows them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AttackFigures {
    pub attempts: u64,
    pub as_expected: u64,
    pub unexpected: u64,
    pub connect_errors: u64,
    pub first_unexpected: Option<String>,
}

/// The stats of every kind of attack.
#[derive(Debug, Default)]
pub struct Attacks {
    pub slow_senders: AttackStats,
    pub huge_length: AttackStats,
    pub garbage: AttackStats,
    pub truncated: AttackStats,
    pub churn: AttackStats,
}

/// The running attack threads; [`Running::stop`] ends and joins them.
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub attacks: Arc<Attacks>,
}

impl Running {
    pub fn stop(self) -> Arc<Attacks> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
        self.attacks
    }
}

/// Starts every attack but the idle connections against `addr`.
pub fn start(addr: SocketAddr, load: &HostileLoad) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let attacks = Arc::new(Attacks::default());
    let mut threads = Vec::new();
    let mut spawn = |body: fn(SocketAddr, &Attacks, &AtomicBool, &HostileLoad)| {
        let (stop, attacks, load) = (stop.clone(), attacks.clone(), load.clone());
        threads.push(std::thread::spawn(move || {
            body(addr, &attacks, &stop, &load)
        }));
    };
    if load.slow_senders > 0 {
        spawn(slow_senders);
    }
    if load.attack_rate_per_s > 0 {
        spawn(|addr, attacks, stop, load| {
            paced(stop, load, || huge_length(addr, &attacks.huge_length))
        });
        spawn(|addr, attacks, stop, load| {
            let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
            paced(stop, load, || garbage(addr, &attacks.garbage, &mut rng))
        });
        spawn(|addr, attacks, stop, load| {
            paced(stop, load, || truncated(addr, &attacks.truncated))
        });
        spawn(|addr, attacks, stop, load| paced(stop, load, || churn(addr, &attacks.churn)));
    }
    Running {
        stop,
        threads,
        attacks,
    }
}

/// Runs `attempt` `attack_rate_per_s` times a second until `stop`.
fn paced(stop: &AtomicBool, load: &HostileLoad, mut attempt: impl FnMut()) {
    let interval = Duration::from_secs_f64(1.0 / f64::from(load.attack_rate_per_s.max(1)));
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        attempt();
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // Behind (the broker is slow to answer): do not burst to catch up.
            next = now;
        }
    }
}

/// Length u32::MAX: a FrameTooLarge error response, then the broker closes.
fn huge_length(addr: SocketAddr, stats: &AttackStats) {
    let Some(mut stream) = stats.connect(addr) else {
        return;
    };
    if let Err(e) = stream.write_all(&u32::MAX.to_le_bytes()) {
        stats.unexpected(format!("write: {e}"));
        return;
    }
    match answer_or_silence(&mut stream) {
        Ok(answer) if answer.error_code() == Some(ErrorCode::FrameTooLarge) => {
            match answer_or_silence(&mut stream) {
                Ok(Answer::Closed) => stats.expected(),
                other => stats.unexpected(format!("not closed after FrameTooLarge: {other:?}")),
            }
        }
        other => stats.unexpected(format!("length u32::MAX answered {other:?}")),
    }
}

/// Random bytes, the length prefix included, then a short wait: an error
/// response, a close, or silence (a plausible length that the broker waits
/// to fill) are all fine; a success is not.
fn garbage(addr: SocketAddr, stats: &AttackStats, rng: &mut Xorshift) {
    let Some(mut stream) = stats.connect(addr) else {
        return;
    };
    let len = 1 + (rng.next() as usize % GARBAGE_BYTES_MAX);
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    // The broker may close mid-write after reading a bad prefix.
    let _ = stream.write_all(&bytes);
    let _ = stream.set_read_timeout(Some(GARBAGE_READ_TIMEOUT));
    match answer_or_silence(&mut stream) {
        Ok(Answer::Response(header)) if header.error_code == 0 => {
            stats.unexpected(format!("garbage answered with success: {header:?}"))
        }
        Ok(_) => stats.expected(),
        // A reset mid-read or a response the broker never sends.
        Err(e) => stats.unexpected(format!("garbage: {e}")),
    }
}

/// Announces a frame, sends half of it, and closes.
fn truncated(addr: SocketAddr, stats: &AttackStats) {
    let Some(mut stream) = stats.connect(addr) else {
        return;
    };
    let mut frame = vec![0u8; 4 + TRUNCATED_FRAME_BYTES as usize / 2];
    frame[..4].copy_from_slice(&TRUNCATED_FRAME_BYTES.to_le_bytes());
    frame[4..12].copy_from_slice(&api_versions_frame(1)[4..12]);
    match stream.write_all(&frame) {
        Ok(()) => stats.expected(),
        Err(e) => stats.unexpected(format!("write: {e}")),
    }
}

/// Connects, asks ApiVersions, reads the answer, closes.
fn churn(addr: SocketAddr, stats: &AttackStats) {
    let Some(mut stream) = stats.connect(addr) else {
        return;
    };
    if let Err(e) = stream.write_all(&api_versions_frame(1)) {
        stats.unexpected(format!("write: {e}"));
        return;
    }
    match answer_or_silence(&mut stream) {
        Ok(Answer::Response(header)) if header.error_code == 0 => stats.expected(),
        other => stats.unexpected(format!("ApiVersions answered {other:?}")),
    }
}

/// `slow_senders` connections, each sending ApiVersions requests one byte
/// every `slow_byte_interval_ms`; every completed request must be answered.
fn slow_senders(addr: SocketAddr, attacks: &Attacks, stop: &AtomicBool, load: &HostileLoad) {
    let stats = &attacks.slow_senders;
    struct Slow {
        stream: TcpStream,
        frame: Vec<u8>,
        sent: usize,
        correlation_id: u32,
    }
    let mut senders: Vec<Slow> = (0..load.slow_senders)
        .filter_map(|_| stats.connect(addr))
        .map(|stream| Slow {
            stream,
            frame: api_versions_frame(0).to_vec(),
            sent: 0,
            correlation_id: 0,
        })
        .collect();
    let interval = Duration::from_millis(load.slow_byte_interval_ms.max(1));
    while !stop.load(Ordering::Relaxed) && !senders.is_empty() {
        senders.retain_mut(|slow| {
            if let Err(e) = slow.stream.write_all(&slow.frame[slow.sent..slow.sent + 1]) {
                stats.unexpected(format!("slow write: {e}"));
                return false;
            }
            slow.sent += 1;
            if slow.sent < slow.frame.len() {
                return true;
            }
            match answer_or_silence(&mut slow.stream) {
                Ok(Answer::Response(h))
                    if h.error_code == 0 && h.correlation_id == slow.correlation_id =>
                {
                    stats.expected()
                }
                other => {
                    stats.unexpected(format!("slow request answered {other:?}"));
                    return false;
                }
            }
            slow.correlation_id += 1;
            slow.frame = api_versions_frame(slow.correlation_id).to_vec();
            slow.sent = 0;
            true
        });
        std::thread::sleep(interval);
    }
}

/// A tiny deterministic generator (xorshift64) for the garbage bytes, so a
/// run's garbage replays.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
