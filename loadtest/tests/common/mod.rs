//! The in-process broker the loadtest crate's tests drive.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use shardlog::config::BrokerConfig;
use shardlog::shard::runtime::{run_until, StopOn};

/// A broker on 127.0.0.1:0 in this process; stopped and removed on drop.
pub struct Broker {
    pub addr: String,
    /// Core 0's Kafka address, the bootstrap for `--protocol kafka`.
    #[allow(dead_code)] // read by the Kafka test only; each test crate compiles this module
    pub kafka_addr: String,
    /// The metrics endpoint (`--broker-metrics`).
    #[allow(dead_code)] // read by the pipelined-mode test only
    pub metrics_addr: String,
    stop: Option<flume::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
    pub dir: PathBuf,
}

fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tmp/tests")
        .join(format!("loadtest-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Broker {
    pub fn start(name: &str) -> Broker {
        let dir = temp_dir(name);
        let config = BrokerConfig {
            data_dir: dir.join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            cores: BrokerConfig::default().cores.min(2),
            io_memory_bytes: 1 << 20,
            kafka_listen: Some("127.0.0.1:0".parse().unwrap()),
            metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..BrokerConfig::default()
        };
        let (stop, stop_rx) = flume::bounded(1);
        let (ready_tx, ready_rx) = flume::bounded(1);
        let thread = std::thread::spawn(move || {
            run_until(
                config,
                |ready| {
                    let kafka = ready
                        .kafka
                        .first()
                        .map(|core| format!("{}:{}", core.host, core.port))
                        .expect("the Kafka listener is on");
                    let metrics = ready
                        .metrics
                        .expect("the metrics endpoint is on")
                        .to_string();
                    ready_tx
                        .send((ready.listen.to_string(), kafka, metrics))
                        .unwrap()
                },
                StopOn::Channel(stop_rx),
            )
        });
        let (addr, kafka_addr, metrics_addr) = ready_rx.recv().expect("broker started");
        Broker {
            addr,
            kafka_addr,
            metrics_addr,
            stop: Some(stop),
            thread: Some(thread),
            dir,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
