//! Topic creation on the shards' own code, with one core's storage
//! injecting faults: two shards on one executor, their inbox loops
//! serving each other, and core 0's `create_topic` doing the real create
//! path (save the map, broadcast `TopicsChanged`, open the partitions).
//! A core that cannot open its partitions fails the create with a typed
//! code, and the create is rolled back on every core and on disk.

use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use shardlog::config::{BrokerConfig, ShardStorageConfig};
use shardlog::error::ErrorCode;
use shardlog::protocol::metadata::CoreAddress;
use shardlog::router::shard_for;
use shardlog::shard::inbox::serve_inbox;
use shardlog::shard::messages::ShardMessage;
use shardlog::shard::storage::ShardStorage;
use shardlog::shard::{Shard, ShardStart};
use shardlog::storage::faults::{FaultPlan, FaultyStorage};
use shardlog::topics::{store, TopicConfig, NO_TOPIC_ID};

use crate::common::{run, small_config, TempDir};

const CORES: usize = 2;
const PARTITIONS: u32 = 4;

/// Every core's shard on this executor, each on its own fault plan,
/// serving its inbox.
fn start_shards(config: &BrokerConfig, plans: &[Rc<FaultPlan>]) -> Vec<Rc<Shard>> {
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..CORES).map(|_| flume::bounded(64)).unzip();
    let addresses: Vec<CoreAddress> = (0..CORES)
        .map(|core| CoreAddress {
            core: core as u16,
            host: "127.0.0.1".into(),
            port: 0,
        })
        .collect();
    let shards: Vec<Rc<Shard>> = plans
        .iter()
        .enumerate()
        .map(|(id, plan)| {
            Rc::new(Shard::new(ShardStart {
                id,
                config: config.clone(),
                senders: senders.clone(),
                core_addresses: addresses.clone(),
                kafka_addresses: Vec::new(),
                topic_ids: Default::default(),
                storage: ShardStorage::Faulty(FaultyStorage::new(plan.clone())),
                connections: Arc::new(AtomicUsize::new(0)),
            }))
        })
        .collect();
    for (shard, inbox) in shards.iter().zip(inboxes) {
        glommio::spawn_local(serve_inbox(shard.clone(), inbox)).detach();
    }
    shards
}

async fn stop_shards(shards: Vec<Rc<Shard>>) {
    for shard in shards {
        let (reply, answer) = flume::bounded(1);
        shard
            .peers
            .inbox(shard.id)
            .send_async(ShardMessage::Shutdown { reply })
            .await
            .unwrap();
        answer.recv_async().await.unwrap();
    }
}

#[test]
fn a_create_that_a_core_cannot_open_fails_typed_and_is_rolled_back() {
    let dir = TempDir::new("topic-create-faults");
    let data_dir = dir.path().to_path_buf();
    run(dir.path(), move || async move {
        let config = BrokerConfig {
            data_dir: data_dir.clone(),
            cores: CORES,
            log: small_config(),
            shard_storage: ShardStorageConfig {
                tail_cache_bytes: 1 << 20,
                read_chunk_bytes: 8 << 10,
            },
            ..BrokerConfig::default()
        };
        let plans: Vec<Rc<FaultPlan>> = (0..CORES as u64).map(FaultPlan::new).collect();
        let shards = start_shards(&config, &plans);
        let topic = TopicConfig {
            id: NO_TOPIC_ID,
            partitions: PARTITIONS,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: None,
        };
        let mut ids_given = 0;
        for failing in [1, 0] {
            let name = format!("full-on-{failing}");
            plans[failing].disk_full.set(true);
            let created = shards[0].create_topic(name.clone(), topic.clone()).await;
            ids_given += 1;
            let shardlog::error::WireError { code, message } =
                created.expect_err("a core could not open its partitions");
            assert_eq!(code, ErrorCode::StorageFull, "{message}");
            assert!(message.contains(&format!("core {failing}")), "{message}");
            for shard in &shards {
                assert!(
                    !shard.partitions.topics().contains_key(&name),
                    "core {}",
                    shard.id
                );
                assert!(!shard.partitions.is_open(&name), "core {}", shard.id);
            }
            let stored = store::load(&data_dir).unwrap();
            assert!(!stored.map.contains_key(&name), "not on disk");
            assert!(
                !store::topic_dir(&data_dir, &name).exists(),
                "no files left"
            );

            // Space again: the same name is created on every core, with
            // an id never given before.
            plans[failing].disk_full.set(false);
            shards[0]
                .create_topic(name.clone(), topic.clone())
                .await
                .unwrap();
            ids_given += 1;
            for shard in &shards {
                let id = shard.partitions.topics()[&name].id;
                assert_eq!(id, ids_given, "core {}", shard.id);
                assert!(shard.partitions.is_open(&name), "core {}", shard.id);
                for partition in 0..PARTITIONS {
                    let owned = shard_for(&name, partition, CORES) == shard.id;
                    assert_eq!(
                        shard.partitions.log(&name, partition).is_some(),
                        owned,
                        "core {} partition {partition}",
                        shard.id
                    );
                }
            }
            assert_eq!(store::load(&data_dir).unwrap().map[&name].id, ids_given);
        }
        stop_shards(shards).await;
    });
}
