//! Starting the broker: check the data directory and ports, start one
//! glommio executor pinned per core, wire their channels, gather each
//! core's port for metadata, and stop them all cleanly on SIGINT/SIGTERM.

use std::fs::File;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use super::group_routes::group_timer_loop;
use super::inbox::serve_inbox;
use super::messages::ShardMessage;
use super::notify::sleep_unless_raised;
use super::{Shard, ShardStart, METADATA_CORE};
use crate::config::{
    BrokerConfig, INBOX_CAPACITY, LISTEN_BACKLOG, PORT_RELEASE_WAIT_MS, PORT_RETRY_MS,
};
use crate::protocol::metadata::CoreAddress;
use crate::server::listener::{accept_loop, Front};
use crate::server::metrics_http::serve_metrics;
use crate::storage::prime_executor_io;
use crate::topics::store;
use crate::topics::{TopicIds, TopicMap};

/// Lock file that keeps a second broker off the data directory.
pub const LOCK_FILE: &str = ".lock";

/// What `run` tells its caller once every core serves.
#[derive(Clone, Debug)]
pub struct Ready {
    pub listen: SocketAddr,
    pub cores: Vec<CoreAddress>,
    /// Each core's Kafka address (node id = core), if Kafka is on.
    pub kafka: Vec<CoreAddress>,
    /// Where the metrics endpoint listens, if it is on.
    pub metrics: Option<SocketAddr>,
}

/// What stops a running broker.
pub enum StopOn {
    /// SIGINT or SIGTERM (the `serve` command).
    Signals,
    /// A message on, or the closing of, this channel (embedding, tests).
    Channel(flume::Receiver<()>),
}

/// Runs the broker until SIGINT or SIGTERM; returns once every core has
/// closed its partitions. `on_ready` is called once the broker serves.
pub fn run(config: BrokerConfig, on_ready: impl FnOnce(&Ready)) -> Result<(), String> {
    run_until(config, on_ready, StopOn::Signals)
}

/// Runs the broker until `stop` says so; see [`run`].
pub fn run_until(
    config: BrokerConfig,
    on_ready: impl FnOnce(&Ready),
    stop: StopOn,
) -> Result<(), String> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", config.data_dir.display()))?;
    let mut config = config;
    // Absolute from here on: glommio's calls fail on relative paths.
    config.data_dir = std::fs::canonicalize(&config.data_dir)
        .map_err(|e| format!("cannot resolve data dir {}: {e}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    let listen = probe_port(config.listen)?;
    // Resolved here (port 0 included), so core 0 binds what Ready reports.
    config.metrics_listen = config.metrics_listen.map(probe_port).transpose()?;
    for core in 0..config.cores {
        let own = SocketAddr::new(config.listen.ip(), config.core_port(core));
        if own.port() != 0 {
            probe_port(own)?;
        }
        if let Some(kafka) = config.kafka_core_addr(core).filter(|a| a.port() != 0) {
            probe_port(kafka)?;
        }
    }
    let stored =
        store::load(&config.data_dir).map_err(|e| format!("reading the topic map: {e}"))?;
    if stored.upgraded {
        store::save(&config.data_dir, &stored.map, stored.ids)
            .map_err(|e| format!("saving the topic map with topic ids: {e}"))?;
        tracing::info!(
            topics = stored.map.len(),
            "topic map upgraded: every topic has an id"
        );
    }
    let (topics, topic_ids) = (stored.map, stored.ids);
    remove_stray_topic_dirs(&config.data_dir, &topics);

    let channels: Vec<_> = (0..config.cores)
        .map(|_| flume::bounded(INBOX_CAPACITY))
        .collect();
    let peers: Vec<flume::Sender<ShardMessage>> =
        channels.iter().map(|(tx, _)| tx.clone()).collect();
    let connections = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel::<(usize, Result<BoundPorts, String>)>();
    let mut address_txs = Vec::new();
    let mut handles = Vec::new();
    for (core, (_, inbox)) in channels.into_iter().enumerate() {
        let (address_tx, address_rx) = flume::bounded::<Addresses>(1);
        address_txs.push(address_tx);
        let start = CoreStart {
            core,
            config: config.clone(),
            listen,
            peers: peers.clone(),
            inbox,
            topics: topics.clone(),
            topic_ids,
            connections: connections.clone(),
            started: started_tx.clone(),
            addresses: address_rx,
        };
        let handle = LocalExecutorBuilder::new(Placement::Fixed(core))
            .name(&format!("shardlog-core-{core}"))
            .io_memory(config.io_memory_bytes)
            .spawn(move || core_main(start))
            .map_err(|e| format!("starting core {core}: {e}"))?;
        handles.push(handle);
    }
    drop(started_tx);

    // Every core reports its own port once bound...
    let host = config
        .advertise_host
        .clone()
        .unwrap_or_else(|| listen.ip().to_string());
    let mut addresses = vec![None; config.cores];
    let mut kafka = vec![None; config.cores];
    for _ in 0..config.cores {
        let (core, ports) = started_rx
            .recv()
            .map_err(|_| "a core stopped while starting".to_string())?;
        let ports = ports?;
        let address = |port| CoreAddress {
            core: core as u16,
            host: host.clone(),
            port,
        };
        addresses[core] = Some(address(ports.native));
        kafka[core] = ports.kafka.map(address);
    }
    let addresses: Vec<CoreAddress> = addresses.into_iter().flatten().collect();
    let kafka: Vec<CoreAddress> = kafka.into_iter().flatten().collect();
    // ...then learns everyone's, opens its partitions, and reports ready.
    for tx in &address_txs {
        tx.send(Addresses {
            native: addresses.clone(),
            kafka: kafka.clone(),
        })
        .map_err(|_| "a core stopped while starting".to_string())?;
    }
    for _ in 0..config.cores {
        let (core, opened) = started_rx
            .recv()
            .map_err(|_| "a core stopped while starting".to_string())?;
        opened.map_err(|e| format!("core {core}: {e}"))?;
    }
    tracing::info!(
        listen = %listen,
        cores = config.cores,
        core_ports = ?addresses.iter().map(|a| a.port).collect::<Vec<_>>(),
        data_dir = %config.data_dir.display(),
        topics = topics.len(),
        frame_bytes_max = config.frame_bytes_max,
        batch_bytes_max = config.log.batch_bytes_max,
        connections_max = config.connections_max,
        inflight_bytes_per_connection = config.inflight_bytes_per_connection,
        "shardlog serving"
    );
    for (native, kafka) in addresses
        .iter()
        .zip(kafka.iter().map(Some).chain(std::iter::repeat(None)))
    {
        let kafka = kafka.map(|k| format!("{}:{}", k.host, k.port));
        tracing::info!(
            core = native.core,
            native = %format!("{}:{}", native.host, native.port),
            kafka = kafka.as_deref().unwrap_or("off"),
            "core serving"
        );
    }
    if let Some(bootstrap) = kafka.first() {
        tracing::info!(
            "Kafka clients: bootstrap.servers={}:{}",
            bootstrap.host,
            bootstrap.port
        );
    }
    if let Some(metrics) = config.metrics_listen {
        tracing::info!(%metrics, "serving metrics at http://{metrics}/metrics");
    }
    on_ready(&Ready {
        listen,
        cores: addresses,
        kafka,
        metrics: config.metrics_listen,
    });

    match stop {
        StopOn::Signals => spawn_signal_watcher(peers.clone())?,
        StopOn::Channel(stop) => spawn_stop_watcher(peers.clone(), stop)?,
    }
    let mut failed = Vec::new();
    for (core, handle) in handles.into_iter().enumerate() {
        if let Err(e) = handle.join() {
            failed.push(format!("core {core}: {e}"));
            // One core is gone: stop the others rather than serve half.
            shut_down_all(&peers);
        }
    }
    if failed.is_empty() {
        tracing::info!("shardlog stopped cleanly");
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

struct CoreStart {
    core: usize,
    config: BrokerConfig,
    listen: SocketAddr,
    peers: Vec<flume::Sender<ShardMessage>>,
    inbox: flume::Receiver<ShardMessage>,
    topics: TopicMap,
    topic_ids: TopicIds,
    connections: Arc<AtomicUsize>,
    started: mpsc::Sender<(usize, Result<BoundPorts, String>)>,
    addresses: flume::Receiver<Addresses>,
}

/// The ports one core bound: its own native port, and its Kafka port.
#[derive(Clone, Copy)]
struct BoundPorts {
    native: u16,
    kafka: Option<u16>,
}

/// Every core's addresses, for metadata.
struct Addresses {
    native: Vec<CoreAddress>,
    kafka: Vec<CoreAddress>,
}

/// What one core listens on.
struct Listeners {
    shared: TcpListener,
    own: TcpListener,
    kafka: Option<TcpListener>,
    metrics: Option<TcpListener>,
}

async fn core_main(start: CoreStart) {
    let CoreStart {
        core,
        config,
        listen,
        peers,
        inbox,
        topics,
        topic_ids,
        connections,
        started,
        addresses,
    } = start;
    let bound = bind(core, &config, listen).await;
    let listeners = match bound {
        Ok(listeners) => listeners,
        Err(e) => {
            let _ = started.send((core, Err(e)));
            return;
        }
    };
    let ports = BoundPorts {
        native: listeners.own.local_addr().map(|a| a.port()).unwrap_or(0),
        kafka: listeners
            .kafka
            .as_ref()
            .map(|k| k.local_addr().map(|a| a.port()).unwrap_or(0)),
    };
    let _ = started.send((core, Ok(ports)));
    let Ok(addresses) = addresses.recv_async().await else {
        return;
    };
    let shard = Rc::new(Shard::new(ShardStart {
        id: core,
        config,
        senders: peers,
        core_addresses: addresses.native,
        kafka_addresses: addresses.kafka,
        topic_ids,
        storage: Default::default(),
        connections,
    }));
    let opened = match shard.partitions.apply_topic_map(topics).await {
        Ok(()) => shard.open_offsets_logs().await,
        Err(failed) => Err(failed.message),
    };
    let failed = opened.is_err();
    let _ = started.send((core, opened.map(|()| ports)));
    if failed {
        return;
    }
    let Listeners {
        shared,
        own,
        kafka,
        metrics,
    } = listeners;
    glommio::spawn_local(accept_loop(shard.clone(), shared, Front::Native)).detach();
    glommio::spawn_local(accept_loop(shard.clone(), own, Front::Native)).detach();
    if let Some(kafka) = kafka {
        glommio::spawn_local(accept_loop(shard.clone(), kafka, Front::Kafka)).detach();
    }
    glommio::spawn_local(retention_loop(shard.clone())).detach();
    glommio::spawn_local(group_timer_loop(shard.clone())).detach();
    if let Some(metrics) = metrics {
        glommio::spawn_local(serve_metrics(shard.clone(), metrics)).detach();
    }
    serve_inbox(shard, inbox).await;
}

async fn bind(core: usize, config: &BrokerConfig, listen: SocketAddr) -> Result<Listeners, String> {
    prime_executor_io(&config.data_dir).await.map_err(|e| {
        format!(
            "core {core}: preparing I/O in {}: {e}",
            config.data_dir.display()
        )
    })?;
    let shared =
        listen_on(listen).map_err(|e| format!("core {core}: listening on {listen}: {e}"))?;
    let own_addr = SocketAddr::new(listen.ip(), config.core_port(core));
    let own =
        listen_on(own_addr).map_err(|e| format!("core {core}: listening on {own_addr}: {e}"))?;
    let metrics = match config.metrics_listen {
        Some(addr) if core == METADATA_CORE => Some(
            listen_on(addr).map_err(|e| format!("core {core}: metrics endpoint on {addr}: {e}"))?,
        ),
        _ => None,
    };
    let kafka = match config.kafka_core_addr(core) {
        Some(addr) => Some(
            listen_on(addr).map_err(|e| format!("core {core}: Kafka listener on {addr}: {e}"))?,
        ),
        None => None,
    };
    Ok(Listeners {
        shared,
        own,
        kafka,
        metrics,
    })
}

async fn retention_loop(shard: Rc<Shard>) {
    let interval = Duration::from_millis(shard.config.retention_check_interval_ms);
    while !sleep_unless_raised(&shard.shutdown, interval).await {
        shard.partitions.apply_retention().await;
    }
}

/// A listener with SO_REUSEPORT (every core listens on the shared port)
/// and SO_REUSEADDR, like glommio's `TcpListener::bind` plus the latter.
/// The connections it accepts inherit SO_REUSEADDR; without it, those
/// left in FIN-WAIT-2 or TIME-WAIT by a killed or stopped broker made the
/// next broker's [`probe_port`] refuse the port for up to a minute.
fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use std::os::unix::io::{FromRawFd, IntoRawFd};
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    // SAFETY: the descriptor is a bound, listening TCP socket that nothing
    // else owns: `into_raw_fd` gave up the socket's ownership of it.
    Ok(unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

/// glommio's listeners set SO_REUSEPORT, so a second broker on the same
/// port would bind silently; a plain bind first tells that the port is
/// taken (by a listener: connections a previous broker left behind do not
/// count, see [`listen_on`]). A previous broker that has just died holds
/// its listeners a few milliseconds longer (the kernel tears its io_uring
/// down after the process is gone), so a taken port is tried again for up
/// to [`PORT_RELEASE_WAIT_MS`] before it is refused. Returns the address
/// with the port resolved (for port 0).
fn probe_port(addr: SocketAddr) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + Duration::from_millis(PORT_RELEASE_WAIT_MS);
    let probe = loop {
        match StdTcpListener::bind(addr) {
            Ok(probe) => break probe,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if Instant::now() >= deadline {
                    return Err(format!("{addr} is already in use by another process"));
                }
                std::thread::sleep(Duration::from_millis(PORT_RETRY_MS));
            }
            Err(e) => return Err(format!("cannot listen on {addr}: {e}")),
        }
    };
    probe.local_addr().map_err(|e| e.to_string())
}

/// Takes the data dir's lock, or says which broker holds it. Held until the
/// returned file is dropped.
pub fn lock_data_dir(dir: &Path) -> Result<File, String> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "data dir {} is locked by another broker",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// A crash in the middle of a topic deletion can leave its directory.
fn remove_stray_topic_dirs(data_dir: &Path, topics: &TopicMap) {
    let Ok(entries) = std::fs::read_dir(data_dir.join("topics")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !topics.contains_key(&name) {
            let path: PathBuf = entry.path();
            tracing::warn!(dir = %path.display(), "removing the directory of a deleted topic");
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove it");
            }
        }
    }
}

fn spawn_signal_watcher(peers: Vec<flume::Sender<ShardMessage>>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("shardlog-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                tracing::info!(signal, "shutting down");
                shut_down_all(&peers);
            }
        })
        .map_err(|e| format!("starting the signal thread: {e}"))?;
    Ok(())
}

fn spawn_stop_watcher(
    peers: Vec<flume::Sender<ShardMessage>>,
    stop: flume::Receiver<()>,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("shardlog-stop".into())
        .spawn(move || {
            // A message or a dropped sender: either way, stop.
            let _ = stop.recv();
            tracing::info!("shutting down on request");
            shut_down_all(&peers);
        })
        .map(|_| ())
        .map_err(|e| format!("starting the stop thread: {e}"))
}

/// Asks every core to stop and waits for each to answer.
fn shut_down_all(peers: &[flume::Sender<ShardMessage>]) {
    let answers: Vec<_> = peers
        .iter()
        .filter_map(|peer| {
            let (reply, answer) = flume::bounded(1);
            peer.send(ShardMessage::Shutdown { reply })
                .ok()
                .map(|()| answer)
        })
        .collect();
    for answer in answers {
        let _ = answer.recv();
    }
}
