//! What the client knows of the broker: which core owns each partition, each
//! core's own listener, and the connections open to them.
//!
//! Shard-aware routing: a partition's requests go to its owner core's port
//! (from Metadata), so the broker never hops them between cores. A core
//! port that cannot be reached is marked unreachable until the next
//! Metadata refresh, and its partitions go to the bootstrap address, which
//! serves every partition.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::config::{ConnectionConfig, METADATA_RETRY_MS};
use super::connection::Connection;
use super::error::{ClientError, ClientResult};
use shardlog_protocol::error::ErrorCode;
use shardlog_protocol::metadata::{MetadataRequest, MetadataResponse};
use shardlog_protocol::ApiKey;

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// The listener of the core that owns the partitions.
    Core(u16),
    /// The address the client was given; serves every partition.
    Bootstrap,
}

/// Metadata cache and connection pool.
#[derive(Debug)]
pub struct Cluster {
    bootstrap: String,
    config: ConnectionConfig,
    connections: HashMap<Route, Connection>,
    /// A connection to the bootstrap address for one-at-a-time calls
    /// (Metadata, ListOffsets, admin), apart from the pipelined data
    /// connections so that a call never waits behind their requests.
    control: Option<Connection>,
    /// Each core's listener, `HOST:PORT`.
    cores: HashMap<u16, String>,
    /// For each known topic, the owner core of each partition.
    topics: HashMap<String, Vec<u16>>,
    /// Cores whose port refused a connection since the last refresh.
    unreachable: HashSet<u16>,
    /// Set after a connection failed: refresh before routing again.
    stale: bool,
    /// After a failed refresh, the next is not tried before this.
    refresh_not_before: Option<Instant>,
}

impl Cluster {
    /// Knows only the bootstrap address; connects on first use.
    pub fn new(bootstrap: &str, config: ConnectionConfig) -> Cluster {
        Cluster {
            bootstrap: bootstrap.to_string(),
            config,
            connections: HashMap::new(),
            control: None,
            cores: HashMap::new(),
            topics: HashMap::new(),
            unreachable: HashSet::new(),
            stale: false,
            refresh_not_before: None,
        }
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The partition count of `topic`, asking the broker if it is not known.
    pub fn partition_count(&mut self, topic: &str) -> ClientResult<u32> {
        if self.stale || !self.topics.contains_key(topic) {
            self.refresh(&[topic.to_string()])?;
        }
        let cores = self.topics.get(topic).ok_or_else(|| ClientError::Broker {
            code: ErrorCode::UnknownTopic,
            message: format!("topic '{topic}' does not exist"),
        })?;
        Ok(cores.len() as u32)
    }

    /// The partition count of `topic` if it is known, without asking.
    pub fn known_partition_count(&self, topic: &str) -> Option<u32> {
        self.topics.get(topic).map(|cores| cores.len() as u32)
    }

    /// Asks the bootstrap listener for `topics` (and every known topic), and
    /// replaces what is known of the cores. A requested topic the broker
    /// does not know is forgotten; the error says which.
    pub fn refresh(&mut self, topics: &[String]) -> ClientResult<()> {
        let mut wanted: Vec<String> = self.topics.keys().cloned().collect();
        for topic in topics {
            if !wanted.contains(topic) {
                wanted.push(topic.clone());
            }
        }
        let request = MetadataRequest {
            topics: wanted.clone(),
        };
        let metadata = self.bootstrap_call(
            ApiKey::Metadata,
            |buf| request.encode(buf),
            MetadataResponse::decode,
        )?;
        self.apply(metadata);
        for topic in topics {
            if !self.topics.contains_key(topic) {
                return Err(ClientError::Broker {
                    code: ErrorCode::UnknownTopic,
                    message: format!("topic '{topic}' does not exist"),
                });
            }
        }
        Ok(())
    }

    /// Takes in a Metadata response.
    pub fn apply(&mut self, metadata: MetadataResponse) {
        let bootstrap_host = host_of(&self.bootstrap);
        self.cores = metadata
            .cores
            .into_iter()
            .map(|core| {
                // A listener bound to all interfaces reports the unspecified
                // address: the bootstrap host reaches it.
                let host = match core.host.as_str() {
                    "" | "0.0.0.0" | "::" | "[::]" => bootstrap_host,
                    host => host,
                };
                (core.core, join_host_port(host, core.port))
            })
            .collect();
        self.topics.clear();
        for topic in metadata.topics {
            if topic.error_code == ErrorCode::None as u16 {
                self.topics.insert(topic.name, topic.partition_cores);
            }
        }
        self.unreachable.clear();
        self.stale = false;
    }

    /// Where requests for `partition` of `topic` go now.
    pub fn route(&self, topic: &str, partition: u32) -> Route {
        let core = self
            .topics
            .get(topic)
            .and_then(|cores| cores.get(partition as usize));
        match core {
            Some(core) if self.cores.contains_key(core) && !self.unreachable.contains(core) => {
                Route::Core(*core)
            }
            _ => Route::Bootstrap,
        }
    }

    /// Refreshes metadata if a connection failed since the last refresh.
    /// A failed refresh keeps what was known (the bootstrap still serves
    /// everything) and is reported.
    pub fn refresh_if_stale(&mut self) -> ClientResult<()> {
        if !self.stale
            || self
                .refresh_not_before
                .is_some_and(|at| Instant::now() < at)
        {
            return Ok(());
        }
        let result = self.refresh(&[]);
        self.refresh_not_before = result
            .is_err()
            .then(|| Instant::now() + Duration::from_millis(METADATA_RETRY_MS));
        result
    }

    /// The open connection for `route`, connecting if needed. A core port
    /// that cannot be reached falls back to the bootstrap connection: the
    /// route returned is the one actually used.
    pub fn connection(&mut self, route: Route) -> ClientResult<(Route, &mut Connection)> {
        let route = match route {
            Route::Core(core) if !self.connections.contains_key(&route) => {
                let addr = self.cores.get(&core).cloned();
                match addr.map(|addr| Connection::connect(&addr, &self.config)) {
                    Some(Ok(connection)) => {
                        self.connections.insert(route, connection);
                        route
                    }
                    Some(Err(err)) => {
                        tracing::warn!(core, %err, "core port unreachable, using the bootstrap address");
                        self.unreachable.insert(core);
                        Route::Bootstrap
                    }
                    None => Route::Bootstrap,
                }
            }
            route => route,
        };
        if !self.connections.contains_key(&route) {
            let connection = Connection::connect(&self.bootstrap, &self.config)?;
            self.connections.insert(route, connection);
        }
        let connection = self.connections.get_mut(&route).expect("inserted above");
        Ok((route, connection))
    }

    /// An open connection for `route`, if there is one.
    pub fn existing(&mut self, route: Route) -> Option<&mut Connection> {
        self.connections.get_mut(&route)
    }

    /// Routes with an open connection.
    pub fn open_routes(&self) -> Vec<Route> {
        let mut routes: Vec<Route> = self.connections.keys().copied().collect();
        routes.sort();
        routes
    }

    /// Closes the connection of `route` after it failed; its requests in
    /// flight are lost. Metadata is refreshed before the next routing.
    pub fn drop_connection(&mut self, route: Route) {
        self.connections.remove(&route);
        self.stale = true;
    }

    /// Opens the control connection to the bootstrap address if it is not.
    pub fn connect_control(&mut self) -> ClientResult<&mut Connection> {
        if self.control.is_none() {
            self.control = Some(Connection::connect(&self.bootstrap, &self.config)?);
        }
        Ok(self.control.as_mut().expect("connected above"))
    }

    /// One request and its answer over the control connection to the
    /// bootstrap address, which is dropped if it fails.
    pub fn bootstrap_call<T>(
        &mut self,
        api: ApiKey,
        encode: impl FnOnce(&mut bytes::BytesMut),
        decode: impl FnOnce(
            &mut shardlog_protocol::WireReader,
        ) -> Result<T, shardlog_protocol::DecodeError>,
    ) -> ClientResult<T> {
        let (_, newest) = api.versions();
        self.bootstrap_call_at(api, newest, encode, decode)
    }

    /// [`Cluster::bootstrap_call`] at `api_version`.
    pub fn bootstrap_call_at<T>(
        &mut self,
        api: ApiKey,
        api_version: u16,
        encode: impl FnOnce(&mut bytes::BytesMut),
        decode: impl FnOnce(
            &mut shardlog_protocol::WireReader,
        ) -> Result<T, shardlog_protocol::DecodeError>,
    ) -> ClientResult<T> {
        let result = self
            .connect_control()?
            .call_at(api, api_version, encode, decode);
        if let Err(err) = &result {
            if err.breaks_connection() {
                self.control = None;
            }
        }
        result
    }
}

/// The host part of `HOST:PORT` (IPv6 hosts keep their brackets).
fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardlog_protocol::metadata::{CoreAddress, TopicMetadata};

    fn metadata() -> MetadataResponse {
        MetadataResponse {
            cores: vec![
                CoreAddress {
                    core: 0,
                    host: "0.0.0.0".into(),
                    port: 9093,
                },
                CoreAddress {
                    core: 1,
                    host: "10.0.0.7".into(),
                    port: 9094,
                },
            ],
            topics: vec![
                TopicMetadata {
                    name: "t".into(),
                    error_code: 0,
                    partition_cores: vec![1, 0, 7],
                },
                TopicMetadata {
                    name: "gone".into(),
                    error_code: ErrorCode::UnknownTopic as u16,
                    partition_cores: vec![],
                },
            ],
        }
    }

    #[test]
    fn routes_to_the_owner_core_or_the_bootstrap() {
        let mut cluster = Cluster::new("broker.local:9092", ConnectionConfig::default());
        cluster.apply(metadata());
        assert_eq!(cluster.route("t", 0), Route::Core(1));
        assert_eq!(cluster.route("t", 1), Route::Core(0));
        assert_eq!(
            cluster.route("t", 2),
            Route::Bootstrap,
            "core 7 has no port"
        );
        assert_eq!(cluster.route("t", 3), Route::Bootstrap, "no such partition");
        assert_eq!(cluster.route("gone", 0), Route::Bootstrap);
        assert_eq!(cluster.cores[&0], "broker.local:9093", "unspecified host");
        assert_eq!(cluster.cores[&1], "10.0.0.7:9094");
        cluster.unreachable.insert(1);
        assert_eq!(cluster.route("t", 0), Route::Bootstrap);
        cluster.apply(metadata());
        assert_eq!(
            cluster.route("t", 0),
            Route::Core(1),
            "a refresh retries it"
        );
    }

    #[test]
    fn ipv6_hosts_keep_brackets() {
        assert_eq!(join_host_port("::1", 9), "[::1]:9");
        assert_eq!(join_host_port("[::1]", 9), "[::1]:9");
        assert_eq!(host_of("[::1]:9092"), "[::1]");
        assert_eq!(host_of("localhost:9092"), "localhost");
    }
}
