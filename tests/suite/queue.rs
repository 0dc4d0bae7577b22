//! The update queue against a real Redis: coalescing, FIFO order, leases and their
//! expiry, heartbeats, backoff and dead letters, pause, release, shards, and what a Redis
//! restart keeps (with AOF) or loses (without persistence, detected by `intact`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trawl_indexer::QueueItem;

use trawl_indexer::queue::{FailOutcome, MAX_SHARDS};
use trawl_indexer::{Claimed, Queue, QueueConfig, QueueRef};
use trawl_redis::RedisConnection;
use trawl_registry::RepoId;
use trawl_tests::{KeyCleanup, require_services, unique_name};

pub(crate) fn repo(name: &str) -> QueueRef {
    QueueRef::Repo(RepoId::new(name).unwrap())
}

fn members(claimed: &[Claimed]) -> Vec<String> {
    claimed.iter().map(|c| c.member.clone()).collect()
}

/// A queue config under a namespace no other test uses.
pub(crate) fn config(shards: u16) -> QueueConfig {
    QueueConfig {
        namespace: format!("{}-", unique_name("q")),
        shards,
        lease: Duration::from_secs(60),
        max_attempts: 3,
        base_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(10),
    }
}

/// A connection to the Redis (or Redis Cluster) at `url`, as the library crates take it.
pub(crate) async fn manager(url: &str) -> RedisConnection {
    let endpoint = trawl_stack::RedisEndpoint::parse(url, "TRAWL_REDIS_URL").unwrap();
    trawl_tests::redis_connection(&endpoint).await.unwrap()
}

/// A queue on the shared Redis, initialised, with its keys deleted on drop.
pub(crate) async fn queue(url: &str, config: QueueConfig) -> (Queue, KeyCleanup) {
    let keys = trawl_indexer::RedisKeys::namespaced(config.namespace.as_str()).unwrap();
    let cleanup = KeyCleanup::new(url, keys.scan_pattern());
    let queue = Queue::new(manager(url).await, config).unwrap();
    queue.init().await.unwrap();
    assert!(queue.intact().await.unwrap());
    (queue, cleanup)
}

#[tokio::test]
async fn enqueue_coalesces_and_claims_in_order() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 1);
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 0);
    assert_eq!(
        q.enqueue(&[repo("b"), repo("c"), repo("d")]).await.unwrap(),
        3
    );
    // Pushed again while waiting: no new entry, and they keep their place.
    assert_eq!(q.enqueue(&[repo("c"), repo("a")]).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(20)).await;

    let status = q.status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.delayed, status.dead),
        (4, 0, 0, 0)
    );
    assert!(status.oldest_ms.is_some_and(|ms| ms >= 20), "{status:?}");
    assert!(status.intact && !status.paused);

    let first = q.claim(0, 2, "w1").await.unwrap();
    assert_eq!(members(&first), ["repo:a", "repo:b"]);
    assert!(first.iter().all(|c| c.attempts == 0 && c.shard == 0));
    assert_eq!(first[0].queue_ref, repo("a"));
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (2, 2));

    assert_eq!(q.ack(&first, "w1").await.unwrap(), 2);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (2, 0));
    // A minute boundary may fall between the ack and the status.
    assert_eq!(
        status.processed_this_minute + status.processed_last_minute,
        2
    );

    let rest = q.claim(0, 10, "w1").await.unwrap();
    assert_eq!(members(&rest), ["repo:c", "repo:d"]);
    assert_eq!(q.ack(&rest, "w1").await.unwrap(), 2);
    assert!(q.claim(0, 10, "w1").await.unwrap().is_empty());
    // Acknowledging twice does nothing.
    assert_eq!(q.ack(&rest, "w1").await.unwrap(), 0);

    let status = q.status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.delayed, status.dead),
        (0, 0, 0, 0)
    );
    assert_eq!(status.oldest_ms, None, "nothing waits any more");
    assert_eq!(
        status.processed_this_minute + status.processed_last_minute,
        4
    );
}

#[tokio::test]
async fn a_ref_pushed_while_leased_waits_for_the_lease_and_survives_the_ack() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    q.enqueue(&[repo("a")]).await.unwrap();
    let held = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&held), ["repo:a"]);

    // Changed again while w1 processes it, then something else changed.
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 1);
    assert_eq!(q.enqueue(&[repo("b")]).await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (2, 1));

    // Another worker skips the leased ref and takes what is behind it.
    let other = q.claim(0, 10, "w2").await.unwrap();
    assert_eq!(members(&other), ["repo:b"]);
    assert!(q.claim(0, 10, "w2").await.unwrap().is_empty());

    // The ack of the older push leaves the newer one in line.
    assert_eq!(q.ack(&held, "w1").await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (1, 1));
    assert!(status.oldest_ms.is_some());

    let again = q.claim(0, 10, "w2").await.unwrap();
    assert_eq!(members(&again), ["repo:a"]);
    assert_eq!(q.ack(&again, "w2").await.unwrap(), 1);
    assert_eq!(q.ack(&other, "w2").await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.oldest_ms),
        (0, 0, None)
    );
}

#[tokio::test]
async fn expired_leases_go_to_other_workers_and_heartbeats_keep_them() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(
        url,
        QueueConfig {
            lease: Duration::from_millis(300),
            ..config(1)
        },
    )
    .await;

    q.enqueue(&[repo("a")]).await.unwrap();
    let lost = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&lost), ["repo:a"]);
    assert!(q.claim(0, 1, "w2").await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // w1 "crashed": its lease ran out, so w2 gets the ref (no attempt counted).
    let taken = q.claim(0, 1, "w2").await.unwrap();
    assert_eq!(members(&taken), ["repo:a"]);
    assert_eq!(taken[0].attempts, 0);
    // w1 comes back too late: its ack, heartbeat, release and fail do nothing.
    assert_eq!(q.ack(&lost, "w1").await.unwrap(), 0);
    assert_eq!(q.heartbeat(&lost, "w1").await.unwrap(), 0);
    assert_eq!(q.release(&lost, "w1").await.unwrap(), 0);
    assert_eq!(
        q.fail(&lost[0], "w1", "late").await.unwrap(),
        FailOutcome::NotHeld
    );
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.delayed), (0, 1, 0));
    assert_eq!(q.ack(&taken, "w2").await.unwrap(), 1);

    // A worker that heartbeats keeps its lease well past the first deadline.
    q.enqueue(&[repo("b")]).await.unwrap();
    let kept = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&kept), ["repo:b"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(900) {
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(q.heartbeat(&kept, "w1").await.unwrap(), 1);
        assert!(q.claim(0, 1, "w2").await.unwrap().is_empty());
    }
    assert_eq!(q.ack(&kept, "w1").await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 0));
}

#[tokio::test]
async fn failures_back_off_then_dead_letter_and_retry_dead_replays() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    q.enqueue(&[repo("a")]).await.unwrap();
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(c[0].attempts, 0);
    // Another token cannot fail it.
    assert_eq!(
        q.fail(&c[0], "w2", "not mine").await.unwrap(),
        FailOutcome::NotHeld
    );
    assert_eq!(q.status().await.unwrap().leased, 1);

    // Attempt 1 fails: delayed by the base backoff (200 ms).
    assert!(!q.fail(&c[0], "w1", "boom 1").await.unwrap().is_dead());
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.delayed), (0, 0, 1));
    assert!(status.oldest_ms.is_some(), "a delayed ref still waits");
    // Pushed again during its backoff: still one entry, still after the backoff, but
    // new work, so its count starts over.
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 0);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.delayed), (0, 1));
    assert!(q.claim(0, 1, "w1").await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&c), ["repo:a"]);
    assert_eq!(c[0].attempts, 0);

    // Attempt 1 (of the newer push) fails: the base backoff again.
    assert!(!q.fail(&c[0], "w1", "boom 1").await.unwrap().is_dead());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&c), ["repo:a"]);
    assert_eq!(c[0].attempts, 1);

    // Attempt 2 fails: the backoff doubles (400 ms).
    assert!(!q.fail(&c[0], "w1", "boom 2").await.unwrap().is_dead());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(q.claim(0, 1, "w1").await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(c[0].attempts, 2);

    // Attempt 3 fails: the budget (3) is spent.
    assert!(q.fail(&c[0], "w1", "boom 3").await.unwrap().is_dead());
    let status = q.status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.delayed, status.dead),
        (0, 0, 0, 1)
    );
    assert_eq!(
        status.oldest_ms, None,
        "a dead ref does not wait: {status:?}"
    );
    let dead = q.dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].member, "repo:a");
    assert_eq!(dead[0].shard, 0);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].error, "boom 3");
    assert!(dead[0].dead_since_ms > 0);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(q.claim(0, 1, "w1").await.unwrap().is_empty());

    // Replayed with a fresh budget.
    assert_eq!(q.retry_dead().await.unwrap(), 1);
    assert!(q.dead().await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(10)).await;
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.dead), (1, 0));
    assert!(
        status.oldest_ms.is_some(),
        "a replayed ref waits: {status:?}"
    );
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(members(&c), ["repo:a"]);
    assert_eq!(c[0].attempts, 0);
    assert!(!q.fail(&c[0], "w1", "boom again").await.unwrap().is_dead());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = q.claim(0, 1, "w1").await.unwrap();
    assert_eq!(c[0].attempts, 1);
    assert_eq!(q.ack(&c, "w1").await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert_eq!(
        (
            status.pending,
            status.delayed,
            status.dead,
            status.oldest_ms
        ),
        (0, 0, 0, None)
    );
}

#[tokio::test]
async fn a_paused_queue_hands_out_nothing_but_accumulates() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(4)).await;

    q.enqueue(&[repo("a"), repo("b")]).await.unwrap();
    assert!(!q.is_paused().await.unwrap());
    q.pause().await.unwrap();
    assert!(q.is_paused().await.unwrap());
    for shard in 0..MAX_SHARDS {
        assert!(q.claim(shard, 10, "w1").await.unwrap().is_empty());
    }
    assert_eq!(q.enqueue(&[repo("c"), repo("a")]).await.unwrap(), 1);
    let status = q.status().await.unwrap();
    assert!(status.paused);
    assert_eq!((status.pending, status.leased), (3, 0));

    q.resume().await.unwrap();
    assert!(!q.is_paused().await.unwrap());
    let mut got = BTreeSet::new();
    for shard in 0..MAX_SHARDS {
        let c = q.claim(shard, 10, "w1").await.unwrap();
        assert_eq!(q.ack(&c, "w1").await.unwrap(), c.len() as u64);
        got.extend(members(&c));
    }
    assert_eq!(
        got,
        BTreeSet::from(["repo:a".into(), "repo:b".into(), "repo:c".into()])
    );
    assert!(!q.status().await.unwrap().paused);
}

#[tokio::test]
async fn release_puts_refs_back_at_the_front_without_an_attempt() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    q.enqueue(&[repo("a"), repo("b"), repo("c"), repo("d")])
        .await
        .unwrap();
    let c = q.claim(0, 2, "w1").await.unwrap();
    assert_eq!(members(&c), ["repo:a", "repo:b"]);
    assert_eq!(q.release(&c, "w2").await.unwrap(), 0, "not w2's");
    assert_eq!(q.release(&c, "w1").await.unwrap(), 2);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (4, 0));

    // Next in line again, in their original order, with no attempt counted.
    let c = q.claim(0, 3, "w2").await.unwrap();
    assert_eq!(members(&c), ["repo:a", "repo:b", "repo:c"]);
    assert!(c.iter().all(|c| c.attempts == 0));
    // Released after a failure: the failed attempt stays counted, no more.
    assert_eq!(q.release(&c[2..], "w2").await.unwrap(), 1);
    assert_eq!(q.ack(&c[..2], "w2").await.unwrap(), 2);
    let c = q.claim(0, 1, "w3").await.unwrap();
    assert_eq!(members(&c), ["repo:c"]);
    assert!(!q.fail(&c[0], "w3", "flaky").await.unwrap().is_dead());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Its backoff over, c rejoined the line behind d.
    let c = q.claim(0, 5, "w3").await.unwrap();
    assert_eq!(members(&c), ["repo:d", "repo:c"]);
    assert_eq!((c[0].attempts, c[1].attempts), (0, 1));
    assert_eq!(q.release(&c, "w3").await.unwrap(), 2);
    let c = q.claim(0, 5, "w3").await.unwrap();
    assert_eq!(members(&c), ["repo:d", "repo:c"]);
    assert_eq!((c[0].attempts, c[1].attempts), (0, 1));
    assert_eq!(q.ack(&c, "w3").await.unwrap(), 2);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.delayed), (0, 0, 0));
}

#[tokio::test]
async fn refs_spread_over_shards_and_fewer_shards_strand_nothing() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let wide_config = config(16);
    let (wide, _cleanup) = queue(url, wide_config.clone()).await;
    let narrow = Queue::new(
        manager(url).await,
        QueueConfig {
            shards: 4,
            ..wide_config
        },
    )
    .unwrap();

    let refs: Vec<QueueRef> = (0..200).map(|i| repo(&format!("r{i}"))).collect();
    assert_eq!(wide.enqueue(&refs).await.unwrap(), 200);
    let mut expected: BTreeMap<u16, u64> = BTreeMap::new();
    for r in &refs {
        *expected.entry(r.shard(16)).or_default() += 1;
    }
    assert!(
        expected.len() >= 12,
        "200 refs use most shards: {expected:?}"
    );
    assert!(expected.keys().any(|&s| s >= 4));
    let status = wide.status().await.unwrap();
    assert_eq!(status.pending, 200);
    let per_shard: BTreeMap<u16, u64> = status
        .shards
        .iter()
        .filter(|s| s.pending > 0)
        .map(|s| (s.shard, s.pending))
        .collect();
    assert_eq!(per_shard, expected);

    // A worker configured with 4 shards drains all 16, as workers do.
    assert_eq!(narrow.status().await.unwrap().pending, 200);
    let mut drained = BTreeSet::new();
    for shard in 0..MAX_SHARDS {
        loop {
            let c = narrow.claim(shard, 7, "narrow").await.unwrap();
            if c.is_empty() {
                break;
            }
            assert!(c.iter().all(|c| c.shard == shard));
            assert_eq!(narrow.ack(&c, "narrow").await.unwrap(), c.len() as u64);
            drained.extend(c.into_iter().map(|c| c.queue_ref));
        }
    }
    assert_eq!(drained, refs.into_iter().collect::<BTreeSet<_>>());
    let status = wide.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 0));
}

/// A `redis-server` of this test's own, killed on drop.
pub(crate) struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persist: bool,
}

impl OwnRedis {
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) async fn start(port: u16, dir: &Path, persist: bool) -> OwnRedis {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("redis.log"))
            .unwrap();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if persist {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .spawn()
            .expect("redis-server must be on PATH for the restart test");
        let mut server = OwnRedis {
            child: Some(child),
            port,
            dir: dir.to_owned(),
            persist,
        };
        let client = redis::Client::open(server.url()).unwrap();
        let start = Instant::now();
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                break;
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "redis-server exited ({status}); see {}",
                    dir.join("redis.log").display()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not answer in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers, as when
    /// Redis is unreachable; [`OwnRedis::thaw`] lets it go on.
    pub(crate) fn freeze(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    pub(crate) fn thaw(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.child.as_ref().expect("running").id();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }

    /// Shuts the server down cleanly (`SHUTDOWN`) and starts it again on the same port
    /// and directory.
    pub(crate) async fn restart(mut self) -> OwnRedis {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        // The server closes the connection instead of answering.
        let _ = redis::cmd("SHUTDOWN").query_async::<()>(&mut conn).await;
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not shut down"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        OwnRedis::start(self.port, &self.dir, self.persist).await
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: it also ends a frozen (SIGSTOPped) server.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Enqueues 20 refs on one shard and leases 5 of them to `w1`.
async fn fill(url: &str, config: &QueueConfig) -> Vec<Claimed> {
    let q = Queue::new(manager(url).await, config.clone()).unwrap();
    q.init().await.unwrap();
    let refs: Vec<QueueRef> = (0..20).map(|i| repo(&format!("r{i}"))).collect();
    assert_eq!(q.enqueue(&refs).await.unwrap(), 20);
    let leased = q.claim(0, 5, "w1").await.unwrap();
    assert_eq!(leased.len(), 5);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (15, 5));
    assert!(status.intact);
    leased
}

#[tokio::test]
async fn a_restart_with_aof_keeps_the_queue_and_without_persistence_is_detected() {
    // Redis of its own: the shared one must not restart under other tests.
    let config = config(1);

    // With AOF (fsync always): everything survives.
    let dir = tempfile::tempdir().unwrap();
    let server = OwnRedis::start(free_port(), dir.path(), true).await;
    let leased = fill(&server.url(), &config).await;
    let server = server.restart().await;
    let q = Queue::new(manager(&server.url()).await, config.clone()).unwrap();
    assert!(q.intact().await.unwrap());
    let status = q.status().await.unwrap();
    assert!(status.intact);
    assert!(status.persistence.aof, "{:?}", status.persistence);
    assert_eq!((status.pending, status.leased), (15, 5));
    // The leases and their owners survived: w1 still holds its refs, nobody else does.
    assert_eq!(q.heartbeat(&leased, "w1").await.unwrap(), 5);
    let rest = q.claim(0, 100, "w2").await.unwrap();
    assert_eq!(rest.len(), 15);
    let held: BTreeSet<_> = members(&leased).into_iter().collect();
    assert!(rest.iter().all(|c| !held.contains(&c.member)));
    assert_eq!(q.ack(&leased, "w1").await.unwrap(), 5);
    assert_eq!(q.ack(&rest, "w2").await.unwrap(), 15);
    // Enqueueing still coalesces and orders after the restart (the sequence survived).
    q.enqueue(&[repo("late"), repo("later")]).await.unwrap();
    let c = q.claim(0, 10, "w2").await.unwrap();
    assert_eq!(members(&c), ["repo:late", "repo:later"]);
    drop(server);

    // Without persistence: the restart loses everything, and `intact` says so.
    let dir = tempfile::tempdir().unwrap();
    let server = OwnRedis::start(free_port(), dir.path(), false).await;
    fill(&server.url(), &config).await;
    let server = server.restart().await;
    let q = Queue::new(manager(&server.url()).await, config.clone()).unwrap();
    assert!(!q.intact().await.unwrap());
    let status = q.status().await.unwrap();
    assert!(!status.intact);
    assert_eq!(status.persistence, Default::default());
    assert_eq!(
        (status.pending, status.leased, status.delayed, status.dead),
        (0, 0, 0, 0)
    );
    assert!(q.claim(0, 100, "w1").await.unwrap().is_empty());
    // A worker re-creates the marker once it has reported the loss.
    q.init().await.unwrap();
    assert!(q.intact().await.unwrap());
}

#[tokio::test]
async fn an_unknown_ref_is_dead_lettered_on_claim() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let config = config(1);
    let pending = trawl_indexer::RedisKeys::namespaced(config.namespace.as_str())
        .unwrap()
        .queue_shard(0, "pending");
    let (q, _cleanup) = queue(url, config).await;

    q.enqueue(&[repo("a")]).await.unwrap();
    // Written by a newer version: ahead of `a` in line.
    let mut conn = manager(url).await;
    let _: i64 = redis::cmd("ZADD")
        .arg(&pending)
        .arg(-1)
        .arg("blob:x")
        .query_async(&mut conn)
        .await
        .unwrap();
    let c = q.claim(0, 10, "w1").await.unwrap();
    assert_eq!(members(&c), ["repo:a"]);
    let dead = q.dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].member, "blob:x");
    assert!(dead[0].error.contains("not a queue ref"), "{:?}", dead[0]);
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.dead), (0, 1, 1));
    assert_eq!(q.ack(&c, "w1").await.unwrap(), 1);
}

/// Claims `r` (alone on shard 0), failing it until `attempts` failures are counted; waits
/// out each backoff.
async fn fail_until(q: &Queue, attempts: u32, token: &str) {
    for n in 0..attempts {
        let c = claim_when_due(q, token).await;
        assert_eq!(c.attempts, n, "{c:?}");
        assert!(
            !q.fail(&c, token, &format!("boom {n}"))
                .await
                .unwrap()
                .is_dead()
        );
    }
}

/// Waits (up to 5 s) until shard 0 hands out one ref, and returns it.
async fn claim_when_due(q: &Queue, token: &str) -> Claimed {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = q.claim(0, 1, token).await.unwrap();
        if let Some(c) = c.pop() {
            return c;
        }
        assert!(Instant::now() < deadline, "nothing became due");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(pending, leased, delayed, dead)`.
async fn depths(q: &Queue) -> (u64, u64, u64, u64) {
    let s = q.status().await.unwrap();
    (s.pending, s.leased, s.delayed, s.dead)
}

#[tokio::test]
async fn a_push_waiting_beside_a_failing_last_attempt_survives_the_dead_letter() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    q.enqueue(&[repo("a")]).await.unwrap();
    fail_until(&q, 2, "w1").await;
    let last = claim_when_due(&q, "w1").await;
    assert_eq!(last.attempts, 2, "the last of 3 attempts");
    // Pushed again while the last attempt runs: new work.
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 1);
    // The last attempt fails: the newer push must not go down with it.
    assert_eq!(
        q.fail(&last, "w1", "boom 2").await.unwrap(),
        FailOutcome::Superseded
    );
    assert_eq!(depths(&q).await, (1, 0, 0, 0), "the newer push waits");
    assert!(q.dead().await.unwrap().is_empty());
    assert!(q.status().await.unwrap().oldest_ms.is_some());

    // It runs with a fresh budget: three more failures before it is dead.
    fail_until(&q, 2, "w2").await;
    let c = claim_when_due(&q, "w2").await;
    assert_eq!(c.attempts, 2);
    assert!(q.fail(&c, "w2", "boom for good").await.unwrap().is_dead());
    assert_eq!(depths(&q).await, (0, 0, 0, 1));
    assert_eq!(q.status().await.unwrap().oldest_ms, None);
}

/// Whether a push lands just before or just after a failure decides nothing: either way
/// the ref backs off once and then runs with a fresh count.
#[tokio::test]
async fn a_push_and_a_failure_give_the_same_state_in_either_order() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    // Push, then fail.
    q.enqueue(&[repo("a")]).await.unwrap();
    let c = claim_when_due(&q, "w1").await;
    q.enqueue(&[repo("a")]).await.unwrap();
    assert!(!q.fail(&c, "w1", "first").await.unwrap().is_dead());
    let push_then_fail = depths(&q).await;
    let c = claim_when_due(&q, "w1").await;
    let push_then_fail_attempts = c.attempts;
    assert_eq!(q.ack(&[c], "w1").await.unwrap(), 1);

    // Fail, then push.
    q.enqueue(&[repo("a")]).await.unwrap();
    let c = claim_when_due(&q, "w1").await;
    assert!(!q.fail(&c, "w1", "first").await.unwrap().is_dead());
    q.enqueue(&[repo("a")]).await.unwrap();
    let fail_then_push = depths(&q).await;
    let c = claim_when_due(&q, "w1").await;
    let fail_then_push_attempts = c.attempts;
    assert_eq!(q.ack(&[c], "w1").await.unwrap(), 1);

    assert_eq!(fail_then_push, (0, 0, 1, 0), "backing off, one entry");
    assert_eq!(push_then_fail, fail_then_push);
    assert_eq!(
        (push_then_fail_attempts, fail_then_push_attempts),
        (0, 0),
        "the newer push starts with a fresh count"
    );
    assert_eq!(depths(&q).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn a_push_resets_the_count_of_a_ref_in_backoff_and_revives_a_dead_one() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    // In backoff after two failures: a push keeps its one entry in backoff and resets
    // the count.
    q.enqueue(&[repo("a")]).await.unwrap();
    fail_until(&q, 2, "w1").await;
    assert_eq!(depths(&q).await, (0, 0, 1, 0));
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 0);
    assert_eq!(depths(&q).await, (0, 0, 1, 0));
    // Three fresh attempts: two failures, and the third is still not dead.
    fail_until(&q, 2, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(c.attempts, 2);
    assert!(q.fail(&c, "w1", "dead now").await.unwrap().is_dead());
    assert_eq!(depths(&q).await, (0, 0, 0, 1));

    // Dead: a push brings it back in line with the full budget.
    assert_eq!(q.enqueue(&[repo("a")]).await.unwrap(), 1);
    assert_eq!(depths(&q).await, (1, 0, 0, 0), "pending, no longer dead");
    assert!(q.dead().await.unwrap().is_empty());
    fail_until(&q, 2, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(c.attempts, 2);
    assert!(q.fail(&c, "w1", "dead again").await.unwrap().is_dead());
    let dead = q.dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].attempts, dead[0].error.as_str()),
        (3, "dead again")
    );
}

#[tokio::test]
async fn retry_dead_gives_a_replayed_ref_its_full_budget() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;

    q.enqueue(&[repo("a")]).await.unwrap();
    fail_until(&q, 2, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert!(q.fail(&c, "w1", "dead").await.unwrap().is_dead());
    assert_eq!(q.retry_dead().await.unwrap(), 1);
    assert_eq!(depths(&q).await, (1, 0, 0, 0));
    // Not one more attempt: three.
    fail_until(&q, 2, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(c.attempts, 2);
    assert!(q.fail(&c, "w1", "dead again").await.unwrap().is_dead());
    assert_eq!(depths(&q).await, (0, 0, 0, 1));
}

/// A push that waited beside a lease is new work whatever ends that lease: a release
/// (shutdown, repository locked elsewhere) or its expiry (a crashed worker).
#[tokio::test]
async fn a_push_waiting_beside_a_released_or_expired_lease_starts_fresh() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(
        url,
        QueueConfig {
            lease: Duration::from_millis(300),
            ..config(1)
        },
    )
    .await;

    // Released.
    q.enqueue(&[repo("a")]).await.unwrap();
    fail_until(&q, 1, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(c.attempts, 1);
    q.enqueue(&[repo("a")]).await.unwrap();
    assert_eq!(q.release(std::slice::from_ref(&c), "w1").await.unwrap(), 1);
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(c.attempts, 0, "released beside a newer push");
    assert_eq!(q.ack(&[c], "w1").await.unwrap(), 1);

    // Expired and reclaimed.
    q.enqueue(&[repo("b")]).await.unwrap();
    fail_until(&q, 1, "w1").await;
    let lost = claim_when_due(&q, "w1").await;
    assert_eq!(lost.attempts, 1);
    q.enqueue(&[repo("b")]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = claim_when_due(&q, "w2").await;
    assert_eq!(c.attempts, 0, "expired beside a newer push");
    // The crashed worker comes back: nothing it does touches w2's lease.
    assert_eq!(
        q.heartbeat(std::slice::from_ref(&lost), "w1")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        q.fail(&lost, "w1", "late").await.unwrap(),
        FailOutcome::NotHeld
    );
    assert_eq!(q.ack(std::slice::from_ref(&lost), "w1").await.unwrap(), 0);
    assert_eq!(depths(&q).await, (0, 1, 0, 0));
    assert_eq!(q.ack(&[c], "w2").await.unwrap(), 1);

    // Without a push, a release or an expiry keeps the count (no fresh work came in).
    q.enqueue(&[repo("c")]).await.unwrap();
    fail_until(&q, 1, "w1").await;
    let c = claim_when_due(&q, "w1").await;
    assert_eq!(q.release(std::slice::from_ref(&c), "w1").await.unwrap(), 1);
    let _lost = claim_when_due(&q, "w1").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = claim_when_due(&q, "w2").await;
    assert_eq!(c.attempts, 1);
    assert_eq!(q.ack(&[c], "w2").await.unwrap(), 1);
    assert_eq!(depths(&q).await, (0, 0, 0, 0));
}
