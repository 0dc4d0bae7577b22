//! A Redis Cluster brought up by the stack itself: three masters, every slot served, the
//! queue working across them, and nothing left running after `down`.

use std::collections::BTreeSet;
use std::time::Duration;

use trawl_indexer::{Queue, QueueConfig, QueueRef};
use trawl_registry::RepoId;
use trawl_stack::{Handle, StackEnv, UpRequest};
use trawl_tests::require_services;

use crate::stack::{external_engine_and_postgres, isolated, skip_or_fail, which};

fn quiet(_: &str) {}

/// `up --redis-cluster` in a fresh state directory: three masters cover all 16384 slots,
/// `CLUSTER KEYSLOT` agrees with trawl's slot rule for every queue key, a queue round trip
/// spreads its shards over the masters, and `down` stops every node.
#[tokio::test]
async fn a_local_redis_cluster_comes_up_serves_the_queue_and_goes_down() {
    let services = require_services!();
    if which("redis-server").is_none() || which("redis-cli").is_none() {
        return skip_or_fail("redis-server and redis-cli are not installed");
    }
    let (_dir, stack) = isolated(external_engine_and_postgres(&services));
    let request = UpRequest {
        redis_cluster: true,
        ..UpRequest::default()
    };
    let up = stack.up(&request, &quiet).await.unwrap();
    let Handle::Cluster { nodes } = &up.state.redis.handle else {
        panic!("not recorded as a cluster: {:?}", up.state.redis)
    };
    assert_eq!(nodes.len(), 3);
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    assert!(up.services.redis.is_cluster());
    assert_eq!(up.state.redis.url.matches("redis+cluster://").count(), 3);
    let processes: BTreeSet<u32> = stack.processes().into_iter().collect();
    assert!(pids.iter().all(|p| processes.contains(p)), "{processes:?}");

    let mut conn = trawl_tests::redis_connection(&up.services.redis)
        .await
        .unwrap();
    assert!(conn.is_cluster());
    let masters = conn.masters().await.unwrap();
    assert_eq!(masters.len(), 3, "{masters:?}");
    assert_eq!(masters.iter().map(|m| m.slots).sum::<u32>(), 16384);
    assert!(masters.iter().all(|m| m.slots > 0), "{masters:?}");

    // The server's slot of every queue and mirror key is the one trawl reckons.
    let namespace = "trawl-test-rc-";
    let owned = trawl_indexer::RedisKeys::namespaced(namespace).unwrap();
    let mut keys: Vec<String> = (0..trawl_indexer::queue::MAX_SHARDS)
        .flat_map(|s| {
            ["pending", "leased", "owner", "dead_error", "processed:1"]
                .map(|what| owned.queue_shard(s, what))
        })
        .collect();
    keys.push(owned.mirror_targets());
    keys.push(owned.mirror_writers());
    for key in &keys {
        let server: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(server, trawl_redis::key_slot(key.as_bytes()), "{key}");
    }

    // A queue round trip over all sixteen shards.
    let config = QueueConfig {
        namespace: namespace.into(),
        shards: 16,
        lease: Duration::from_secs(30),
        ..QueueConfig::default()
    };
    let queue = Queue::new(conn.clone(), config).unwrap();
    queue.init().await.unwrap();
    let refs: Vec<QueueRef> = (0..200)
        .map(|i| QueueRef::Repo(RepoId::new(format!("rc-{i}")).unwrap()))
        .collect();
    assert_eq!(queue.enqueue(&refs).await.unwrap(), 200);
    assert_eq!(queue.enqueue(&refs).await.unwrap(), 0, "deduplicated");
    queue.pause().await.unwrap();
    assert!(queue.is_paused().await.unwrap());
    assert!(queue.claim(0, 10, "w").await.unwrap().is_empty());
    queue.resume().await.unwrap();
    let mut claimed = Vec::new();
    for shard in 0..trawl_indexer::queue::MAX_SHARDS {
        claimed.extend(queue.claim(shard, 1000, "w").await.unwrap());
    }
    assert_eq!(claimed.len(), 200);
    let status = queue.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 200));
    // The shards' keys sit on more than one master.
    let holding: Vec<usize> = {
        let mut per_master = Vec::new();
        for m in &masters {
            let mut node = redis::Client::open(format!("redis://{}:{}", m.host, m.port))
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let n: usize = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
            per_master.push(n);
        }
        per_master
    };
    assert!(
        holding.iter().filter(|&&n| n > 0).count() >= 2,
        "{holding:?}"
    );
    assert_eq!(queue.ack(&claimed, "w").await.unwrap(), 200);
    let status = queue.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 0));
    let pattern = owned.scan_pattern();
    assert!(!conn.scan_match(&pattern).await.unwrap().is_empty());
    conn.delete_matching(&pattern).await.unwrap();
    assert!(conn.scan_match(&pattern).await.unwrap().is_empty());
    drop(queue);
    drop(conn);

    let report = stack.down().await.unwrap();
    assert!(
        report.stopped.iter().any(|s| s.contains("Redis")),
        "{report:?}"
    );
    assert!(stack.processes().is_empty());
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "Redis Cluster node {pid} survived down"
        );
    }
}

/// `--redis-cluster` beside a `TRAWL_REDIS_URL` that names one server is refused before
/// anything starts, naming the variable and the cluster URL form.
#[tokio::test]
async fn a_cluster_request_beside_a_single_server_url_is_refused() {
    let services = require_services!();
    let env: StackEnv = external_engine_and_postgres(&services)
        .with("TRAWL_REDIS_URL", "redis://:secret@127.0.0.1:1");
    let (_dir, stack) = isolated(env);
    let request = UpRequest {
        redis_cluster: true,
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err().to_string();
    assert!(
        err.contains("TRAWL_REDIS_URL") && err.contains("redis+cluster://"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(stack.processes().is_empty());
}
