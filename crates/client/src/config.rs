//! Every setting and limit of the client, in one place (the broker's are in
//! `shardlog::config`). Each config's `Default` is the documented default and
//! `validate` refuses values outside the hard limits, naming the setting.

use shardlog_protocol::limits::BATCH_BYTES_MAX;
use shardlog_protocol::produce::Acks;

/// Bytes read from the socket at a time while waiting for a frame's length.
pub const READ_CHUNK_BYTES: usize = 64 << 10;

/// The capacity a connection's request buffer starts with; a larger
/// request grows it.
pub const REQUEST_BUFFER_BYTES_INITIAL: usize = 4096;

/// The broker address the CLI and the defaults use.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9392";

/// Most requests one connection may have in flight: each holds its encoded
/// request until answered, so this bounds the memory of a retry.
pub const IN_FLIGHT_MAX: usize = 1024;

/// `Producer::send` looks for answers and due batches at most this often
/// (and whenever a batch fills): a few system calls per record would cap
/// the record rate far below what the connection carries.
pub const SEND_IO_INTERVAL_US: u64 = 500;

/// After a failed metadata refresh, routing goes on with what is known
/// and the refresh is not tried again for this long.
pub const METADATA_RETRY_MS: u64 = 1_000;

/// Bytes of a response frame beyond its records: headers, names, per
/// partition fields. Added to the records a fetch may return to size the
/// largest response accepted.
pub const RESPONSE_OVERHEAD_BYTES: u32 = 1 << 20;

/// Largest response frame any client connection accepts: a fetch of at
/// most this many bytes of batches plus overhead.
pub const RESPONSE_BYTES_MAX: u32 = 4 * BATCH_BYTES_MAX + RESPONSE_OVERHEAD_BYTES;

const _: () = assert!(BATCH_BYTES_MAX < RESPONSE_BYTES_MAX - RESPONSE_OVERHEAD_BYTES);

/// Timeouts and limits of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Giving up on a TCP connect after this long.
    pub connect_timeout_ms: u64,
    /// Giving up on a response (and the connection) after this long without
    /// one; a fetch adds its `max_wait_ms` to this.
    pub request_timeout_ms: u64,
    /// A response whose length prefix exceeds this closes the connection.
    pub response_bytes_max: u32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            response_bytes_max: BATCH_BYTES_MAX + RESPONSE_OVERHEAD_BYTES,
        }
    }
}

impl ConnectionConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.connect_timeout_ms == 0 {
            return Err("connect_timeout_ms must be at least 1".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("request_timeout_ms must be at least 1".into());
        }
        if !(RESPONSE_OVERHEAD_BYTES..=RESPONSE_BYTES_MAX).contains(&self.response_bytes_max) {
            return Err(format!(
                "response_bytes_max {} outside {RESPONSE_OVERHEAD_BYTES}..={RESPONSE_BYTES_MAX}",
                self.response_bytes_max
            ));
        }
        Ok(())
    }
}

/// Settings of a [`super::Producer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `HOST:PORT` of any listener of the broker; Metadata names the rest.
    pub bootstrap: String,
    /// When the broker answers a produce.
    pub acks: Acks,
    /// A batch that is not full is sent once its first record is this old
    /// (checked whenever the producer runs: `send`, `poll`, `flush`).
    pub linger_ms: u64,
    /// A batch is closed before a record would take it past this size. Must
    /// not exceed the topic's batch limit on the broker (1 MiB by default).
    pub batch_bytes_max: u32,
    /// At most this many bytes of batches go in one produce request.
    pub request_bytes_max: u32,
    /// Requests in flight per connection before the producer waits for a
    /// response. Each partition has at most one batch in flight, whatever
    /// this says: that is what keeps a partition's order across retries.
    pub max_in_flight: usize,
    /// Idempotent produce (docs/CLIENT.md, "Idempotence"): the producer
    /// gets a producer id (InitProducer) and numbers its batches per
    /// partition, so a batch resent after a lost answer is written once.
    /// `false`: version 1 batches, at-least-once (a resend may duplicate).
    pub idempotence: bool,
    /// Records buffered (open, waiting, in flight) up to this many bytes;
    /// beyond it `send` waits for acknowledgements.
    pub buffer_bytes_max: usize,
    /// Times a batch is sent again after a retriable error before it fails.
    pub retries: u32,
    /// Wait before resending a batch that failed retriably.
    pub retry_backoff_ms: u64,
    pub connection: ConnectionConfig,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            bootstrap: DEFAULT_BOOTSTRAP.to_string(),
            acks: Acks::Durable,
            linger_ms: 5,
            batch_bytes_max: 256 << 10,
            request_bytes_max: 4 << 20,
            max_in_flight: 8,
            idempotence: true,
            buffer_bytes_max: 32 << 20,
            retries: 5,
            retry_backoff_ms: 100,
            connection: ConnectionConfig::default(),
        }
    }
}

impl ProducerConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.connection.validate()?;
        let batch = self.batch_bytes_max;
        let header_len = if self.idempotence {
            shardlog_protocol::batch::header::HEADER_LEN_PRODUCER
        } else {
            shardlog_protocol::batch::HEADER_LEN
        };
        if !(header_len as u32 + 1..=BATCH_BYTES_MAX).contains(&batch) {
            return Err(format!(
                "batch_bytes_max {batch} outside {}..={BATCH_BYTES_MAX}",
                header_len + 1
            ));
        }
        if self.request_bytes_max < batch {
            return Err(format!(
                "request_bytes_max {} is below batch_bytes_max {batch}",
                self.request_bytes_max
            ));
        }
        if !(1..=IN_FLIGHT_MAX).contains(&self.max_in_flight) {
            return Err(format!(
                "max_in_flight {} outside 1..={IN_FLIGHT_MAX}",
                self.max_in_flight
            ));
        }
        if self.buffer_bytes_max < batch as usize {
            return Err(format!(
                "buffer_bytes_max {} is below batch_bytes_max {batch}",
                self.buffer_bytes_max
            ));
        }
        Ok(())
    }
}

/// Settings of a [`super::Consumer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `HOST:PORT` of any listener of the broker; Metadata names the rest.
    pub bootstrap: String,
    /// A fetch waits on the broker up to this long for `min_bytes`.
    pub max_wait_ms: u32,
    /// A fetch answers as soon as this many bytes are there.
    pub min_bytes: u32,
    /// Bytes of batches one fetch returns over all its partitions (the first
    /// batch always comes whole, even if larger).
    pub max_bytes: u32,
    /// Bytes of batches one fetch returns for one partition.
    pub partition_max_bytes: u32,
    /// Times a fetch or offset lookup is sent again after a retriable error
    /// (a failed connection, the broker's retriable codes).
    pub retries: u32,
    /// Wait before such a retry.
    pub retry_backoff_ms: u64,
    pub connection: ConnectionConfig,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            bootstrap: DEFAULT_BOOTSTRAP.to_string(),
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 16 << 20,
            partition_max_bytes: 4 << 20,
            retries: 5,
            retry_backoff_ms: 200,
            connection: ConnectionConfig::default().with_fetch_room(16 << 20),
        }
    }
}

impl ConnectionConfig {
    /// This config with room for a fetch of `max_bytes` of batches (plus
    /// one whole batch past the limit, and the overhead).
    pub fn with_fetch_room(mut self, max_bytes: u32) -> Self {
        let needed = max_bytes
            .saturating_add(BATCH_BYTES_MAX)
            .saturating_add(RESPONSE_OVERHEAD_BYTES)
            .min(RESPONSE_BYTES_MAX);
        self.response_bytes_max = self.response_bytes_max.max(needed);
        self
    }
}

impl ConsumerConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.connection.validate()?;
        if self.max_bytes == 0 || self.partition_max_bytes == 0 {
            return Err("max_bytes and partition_max_bytes must be at least 1".into());
        }
        let fetch_limit = RESPONSE_BYTES_MAX - RESPONSE_OVERHEAD_BYTES - BATCH_BYTES_MAX;
        if self.max_bytes > fetch_limit {
            return Err(format!("max_bytes {} above {fetch_limit}", self.max_bytes));
        }
        let needed = self.max_bytes + BATCH_BYTES_MAX + RESPONSE_OVERHEAD_BYTES;
        if self.connection.response_bytes_max < needed {
            return Err(format!(
                "connection.response_bytes_max {} cannot hold a fetch of max_bytes {} \
                 (needs {needed}: use ConnectionConfig::with_fetch_room)",
                self.connection.response_bytes_max, self.max_bytes
            ));
        }
        Ok(())
    }
}

/// Where a group consumer starts a partition its group has no committed
/// offset for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// The oldest record still kept.
    Earliest,
    /// After the newest record: only records produced from now on.
    Latest,
    /// Fail: `poll` returns an error naming the partition.
    None,
}

/// Settings of a [`super::GroupConsumer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConsumerConfig {
    /// The broker address and the fetch settings.
    pub consumer: ConsumerConfig,
    /// The group's name, `[a-zA-Z0-9._-]{1,249}`.
    pub group: String,
    /// `range`, `roundrobin` or `sticky`; every member of a group must
    /// name the same.
    pub strategy: String,
    /// The coordinator removes a member that sends nothing for this long.
    pub session_timeout_ms: u32,
    /// `poll` sends a heartbeat when this long has passed since the last.
    pub heartbeat_interval_ms: u64,
    /// How long the coordinator waits for every member to join again in a
    /// rebalance (a join waits up to this long).
    pub rebalance_timeout_ms: u32,
    /// Commit the positions every `auto_commit_interval_ms` (in `poll`)
    /// and before giving up partitions in a rebalance or at `close`.
    pub auto_commit: bool,
    pub auto_commit_interval_ms: u64,
    /// Where to start a partition the group has no committed offset for.
    pub auto_offset_reset: OffsetReset,
}

impl Default for GroupConsumerConfig {
    fn default() -> Self {
        GroupConsumerConfig {
            consumer: ConsumerConfig::default(),
            group: String::new(),
            strategy: "range".to_string(),
            session_timeout_ms: 10_000,
            heartbeat_interval_ms: 3_000,
            rebalance_timeout_ms: 30_000,
            auto_commit: true,
            auto_commit_interval_ms: 5_000,
            auto_offset_reset: OffsetReset::Latest,
        }
    }
}

impl GroupConsumerConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.consumer.validate()?;
        shardlog_protocol::names::validate_group_name(&self.group)
            .map_err(|e| format!("group: {e}"))?;
        if shardlog_protocol::groups::Strategy::from_name(&self.strategy).is_none() {
            return Err(format!(
                "strategy {:?}: expected range, roundrobin or sticky",
                self.strategy
            ));
        }
        // poll blocks up to max_wait_ms between heartbeats.
        let between_heartbeats = self.heartbeat_interval_ms + u64::from(self.consumer.max_wait_ms);
        if self.heartbeat_interval_ms == 0
            || between_heartbeats >= u64::from(self.session_timeout_ms)
        {
            return Err(format!(
                "heartbeat_interval_ms {} plus consumer.max_wait_ms {} must be below \
                 session_timeout_ms {}",
                self.heartbeat_interval_ms, self.consumer.max_wait_ms, self.session_timeout_ms
            ));
        }
        if self.rebalance_timeout_ms == 0 {
            return Err("rebalance_timeout_ms must be at least 1".into());
        }
        if self.auto_commit && self.auto_commit_interval_ms == 0 {
            return Err("auto_commit_interval_ms must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ConnectionConfig::default().validate(), Ok(()));
        assert_eq!(ProducerConfig::default().validate(), Ok(()));
        assert_eq!(ConsumerConfig::default().validate(), Ok(()));
        let group = GroupConsumerConfig {
            group: "g".into(),
            ..GroupConsumerConfig::default()
        };
        assert_eq!(group.validate(), Ok(()));
        let slow = GroupConsumerConfig {
            session_timeout_ms: 3_000,
            ..group.clone()
        };
        assert!(slow
            .validate()
            .unwrap_err()
            .contains("heartbeat_interval_ms"));
        let unnamed = GroupConsumerConfig::default();
        assert!(unnamed.validate().unwrap_err().contains("group"));
    }

    #[test]
    fn each_refusal_names_its_setting() {
        let producer = |f: fn(&mut ProducerConfig)| {
            let mut c = ProducerConfig::default();
            f(&mut c);
            c.validate().expect_err("invalid")
        };
        assert!(producer(|c| c.max_in_flight = 0).contains("max_in_flight"));
        assert!(producer(|c| c.batch_bytes_max = 10).contains("batch_bytes_max"));
        assert!(producer(|c| c.request_bytes_max = 1).contains("request_bytes_max"));
        assert!(producer(|c| c.buffer_bytes_max = 1).contains("buffer_bytes_max"));
        assert!(producer(|c| c.connection.request_timeout_ms = 0).contains("request_timeout_ms"));
        let consumer = ConsumerConfig {
            max_bytes: 200 << 20,
            ..ConsumerConfig::default()
        };
        assert!(consumer
            .validate()
            .expect_err("too big")
            .contains("max_bytes"));
    }
}
