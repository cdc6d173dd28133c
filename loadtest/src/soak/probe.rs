//! The recovery probe: after a restart, one record at a time to the soak's
//! topic until one is acknowledged. Recovery time is from the restart
//! (the spawn) to that acknowledgement. The probe is a producer like the
//! others, with its own id, and the checker verifies its records too.

use std::time::{Duration, Instant};

use shardlog::client::{Acks, ConnectionConfig, Producer, ProducerConfig, ProducerRecord};

use crate::payload::{self, Stamp};
use crate::verify::history::{Outcome, ProducerHistory};

/// Pause between two attempts.
const ATTEMPT_PAUSE: Duration = Duration::from_millis(10);

pub struct Probe {
    broker: String,
    topic: String,
    partitions: u32,
    acks: Acks,
    record_bytes: usize,
    pub history: ProducerHistory,
}

impl Probe {
    pub fn new(
        id: u32,
        broker: &str,
        topic: &str,
        partitions: u32,
        acks: Acks,
        record_bytes: usize,
    ) -> Probe {
        Probe {
            broker: broker.to_string(),
            topic: topic.to_string(),
            partitions,
            acks,
            record_bytes,
            history: ProducerHistory {
                producer: id,
                outcomes: Vec::new(),
            },
        }
    }

    /// Sends until a record is acknowledged (returns when) or `deadline`
    /// passes or `alive` says the broker is gone (`None`).
    pub fn until_accepted(
        &mut self,
        deadline: Instant,
        mut alive: impl FnMut() -> bool,
    ) -> Option<Instant> {
        while Instant::now() < deadline && alive() {
            if self.attempt() {
                return Some(Instant::now());
            }
            std::thread::sleep(ATTEMPT_PAUSE);
        }
        None
    }

    /// One record with a fresh producer and no retries: true if acknowledged.
    fn attempt(&mut self) -> bool {
        let config = ProducerConfig {
            bootstrap: self.broker.clone(),
            acks: self.acks,
            linger_ms: 0,
            retries: 0,
            connection: ConnectionConfig {
                connect_timeout_ms: 500,
                request_timeout_ms: 5_000,
                ..ConnectionConfig::default()
            },
            ..ProducerConfig::default()
        };
        let sequence = self.history.outcomes.len() as u64;
        self.history.outcomes.push(Outcome::Failed);
        let Ok(mut producer) = Producer::new(config) else {
            return false;
        };
        let mut value = Vec::new();
        let stamp = Stamp {
            producer: self.history.producer,
            sequence,
            send_time_ns: payload::unix_now_ns(),
        };
        payload::encode(stamp, self.record_bytes, &mut value);
        let partition = (sequence % u64::from(self.partitions)) as u32;
        let record = ProducerRecord::new(value).partition(partition);
        if producer.send(&self.topic, record).is_err() {
            return false;
        }
        let deliveries = producer.flush();
        let outcome = match deliveries.first().map(|d| &d.result) {
            Some(Ok(Some(offset))) => Outcome::Acknowledged {
                partition,
                offset: *offset,
            },
            Some(_) => Outcome::Failed,
            // flush returns once every batch is answered: no delivery means
            // the record is in no batch, which cannot be; keep it unknown.
            None => Outcome::Unknown,
        };
        self.history.outcomes[sequence as usize] = outcome;
        matches!(outcome, Outcome::Acknowledged { .. })
    }
}
