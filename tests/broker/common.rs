//! A broker process for one test, and a raw protocol client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shardlog::batch::builder::NewRecord;
use shardlog::batch::{BatchBuilder, TimestampType};
use shardlog::config::BATCH_BYTES_MAX;
use shardlog::protocol::frame::{finish_frame, RequestHeader, ResponseHeader, LENGTH_BYTES};
use shardlog::protocol::topics::{CreateTopicRequest, TopicSettings};
use shardlog::protocol::{ApiKey, WireReader};

/// How long a broker may take to start before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A data directory under `<repo>/tmp/tests`, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> DataDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tmp/tests")
            .join(format!("broker-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        DataDir(path)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // The broker's ready file sits beside the directory (broker_command).
        let _ = std::fs::remove_file(self.0.with_extension("ready"));
    }
}

/// A running broker; killed when dropped.
pub struct Broker {
    pub child: Child,
    pub addr: SocketAddr,
    /// The metrics endpoint, when started with `--metrics-listen`.
    pub metrics: Option<SocketAddr>,
    /// Core 0's Kafka address (the bootstrap), unless Kafka is off.
    pub kafka: Option<SocketAddr>,
}

/// More cores than any test broker runs (they run at most this machine's
/// cores, and tests ask for 1 or 2).
const CORES_MAX_IN_TESTS: u16 = 8;

/// The first of `count` consecutive loopback ports that could all be
/// bound just now, `avoid` not among them.
fn free_port_run(count: u16, avoid: u16) -> u16 {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("an ephemeral port")
            .port();
        if first.checked_add(count).is_none() || (first..first + count).contains(&avoid) {
            continue;
        }
        let all_free = (first..first + count)
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        if all_free {
            return first;
        }
    }
    panic!("no run of {count} free loopback ports");
}

pub fn broker_command(data_dir: &Path, listen: &str, extra: &[&str]) -> (Command, PathBuf) {
    let ready = data_dir.with_extension("ready");
    let _ = std::fs::remove_file(&ready);
    let mut command = Command::new(env!("CARGO_BIN_EXE_shardlog"));
    command
        .args([
            "serve",
            "--listen",
            listen,
            "--io-memory-bytes",
            "1048576",
            "--retention-check-interval-ms",
            "200",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--ready-file")
        .arg(&ready)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "warn")
        // Tests run in parallel: no fixed Kafka port (a flag overrides it).
        .env("SHARDLOG_KAFKA_LISTEN", "127.0.0.1:0");
    (command, ready)
}

impl Broker {
    pub fn start(data_dir: &Path) -> Broker {
        Broker::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Broker {
        Broker::start_on(data_dir, "127.0.0.1:0", extra)
    }

    /// A broker listening on `listen` (a fixed port, to restart on it).
    /// Its cores' own ports are a run found free (unless `extra` names
    /// them): by default they would be the listen port + 1.., which nobody
    /// checked and another process's ephemeral port may hold.
    pub fn start_on(data_dir: &Path, listen: &str, extra: &[&str]) -> Broker {
        let fixed = !listen.ends_with(":0");
        let names_base = extra.contains(&"--core-port-base");
        let listen_port: u16 = listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("listen is HOST:PORT");
        let base = (fixed && !names_base)
            .then(|| free_port_run(CORES_MAX_IN_TESTS, listen_port).to_string());
        let mut args: Vec<&str> = extra.to_vec();
        if let Some(base) = &base {
            args.extend(["--core-port-base", base.as_str()]);
        }
        let (command, ready) = broker_command(data_dir, listen, &args);
        Broker::spawn(command, &ready)
    }

    /// Starts `command` (from [`broker_command`]) and waits for `ready`.
    pub fn spawn(mut command: Command, ready: &Path) -> Broker {
        let mut child = command.spawn().expect("spawn shardlog");
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(ready) {
                let mut lines = text.lines();
                let addr = lines
                    .next()
                    .and_then(|line| line.parse().ok())
                    .expect("the ready file's first line is the listen address");
                let rest: Vec<&str> = lines.collect();
                let labelled = |label: &str| -> Option<SocketAddr> {
                    rest.iter()
                        .find_map(|line| line.strip_prefix(label))
                        .map(|a| a.parse().expect("an address"))
                };
                return Broker {
                    child,
                    addr,
                    metrics: labelled("metrics "),
                    kafka: labelled("kafka "),
                };
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("broker exited with {status} before serving: {err}");
            }
            assert!(started.elapsed() < START_TIMEOUT, "broker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits; returns the exit status and stderr.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw protocol client: frames in, frames out.
pub struct Client {
    pub stream: TcpStream,
    next_id: u32,
}

/// A response: its header and body.
pub struct Response {
    pub header: ResponseHeader,
    pub body: Bytes,
}

impl Response {
    pub fn reader(&self) -> WireReader {
        WireReader::new(self.body.clone())
    }

    /// The error code and message of an error response.
    pub fn error(&self) -> (u16, String) {
        let message = self.reader().string("message").unwrap_or_default();
        (self.header.error_code, message)
    }
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client { stream, next_id: 1 }
    }

    /// Encodes a request frame.
    pub fn frame(
        &mut self,
        api: u16,
        version: u16,
        body: impl FnOnce(&mut BytesMut),
    ) -> (u32, BytesMut) {
        let id = self.next_id;
        self.next_id += 1;
        let mut buf = BytesMut::new();
        let start = RequestHeader {
            api_key: api,
            api_version: version,
            correlation_id: id,
        }
        .begin(&mut buf);
        body(&mut buf);
        finish_frame(&mut buf, start);
        (id, buf)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn receive(&mut self) -> Response {
        let mut prefix = [0u8; LENGTH_BYTES];
        self.stream
            .read_exact(&mut prefix)
            .expect("response length");
        let length = u32::from_le_bytes(prefix) as usize;
        let mut frame = vec![0u8; LENGTH_BYTES + length];
        frame[..LENGTH_BYTES].copy_from_slice(&prefix);
        self.stream
            .read_exact(&mut frame[LENGTH_BYTES..])
            .expect("response body");
        let header = ResponseHeader::decode(&frame).expect("a whole header");
        Response {
            header,
            body: Bytes::from(frame).slice(LENGTH_BYTES + 6..),
        }
    }

    /// Sends one request and reads its response, checking the id.
    pub fn call(&mut self, api: ApiKey, body: impl FnOnce(&mut BytesMut)) -> Response {
        let (id, frame) = self.frame(api as u16, 0, body);
        self.send(&frame);
        let response = self.receive();
        assert_eq!(response.header.correlation_id, id, "correlation id echoed");
        response
    }

    pub fn create_topic(&mut self, name: &str, partitions: u32) -> Response {
        self.call(ApiKey::CreateTopic, |b| {
            CreateTopicRequest {
                name: name.to_string(),
                settings: TopicSettings {
                    partitions,
                    retention_ms: None,
                    retention_bytes: None,
                    segment_bytes: None,
                },
            }
            .encode(b)
        })
    }
}

/// A batch of `count` records with values `"{tag}-{i}"`.
pub fn batch(tag: &str, count: u32) -> BytesMut {
    let mut builder = BatchBuilder::new(TimestampType::Create, BATCH_BYTES_MAX);
    for i in 0..count {
        let value = format!("{tag}-{i}");
        builder
            .append(&NewRecord {
                key: Some(tag.as_bytes()),
                value: value.as_bytes(),
                headers: &[],
                timestamp_ms: 1_700_000_000_000 + i64::from(i),
            })
            .unwrap();
    }
    builder.finish().unwrap()
}

/// Waits up to `timeout` for `child` to exit (killing it and failing the
/// test with `what` if it does not); returns its status and its stderr.
pub fn wait_for_exit(
    child: &mut std::process::Child,
    timeout: Duration,
    what: &str,
) -> (std::process::ExitStatus, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            child.kill().unwrap();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status, stderr)
}
