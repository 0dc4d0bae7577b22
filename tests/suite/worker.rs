//! Queue workers against the real engine and Redis: a worker killed mid-batch loses
//! nothing, three workers on a stream of pushes never index one repository at once and
//! end exact, a ref that keeps failing while the engine is down is dead-lettered and
//! applied once retried, and a worker that lost a lease mid-run leaves the ref to its new
//! holder.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use trawl_indexer::QueueItem;

use tokio::sync::watch;
use trawl_client::{Client, ClientConfig, RetryPolicy};
use trawl_indexer::{
    IndexSet, IndexingOptions, Queue, QueueConfig, QueueError, QueueRef, RepoIndexer, StatusStore,
    Worker, WorkerOptions, WorkerStats,
};
use trawl_registry::RepoId;
use trawl_tests::{FaultFront, register_and_index, require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, assert_exact, indexer, locks, spec, xtask_binary};

/// Short leases and backoffs, so that expiry and retries happen within a test.
fn queue_config(set: &IndexSet, max_attempts: u32) -> QueueConfig {
    QueueConfig {
        namespace: set.names().prefix().to_string(),
        shards: 4,
        lease: Duration::from_secs(2),
        max_attempts,
        base_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    }
}

async fn queue(services: &trawl_stack::Services, config: QueueConfig) -> Queue {
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    Queue::new(redis, config).unwrap()
}

fn worker_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        idle_poll: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(20),
    }
}

/// An in-process worker on a task of its own, stopped through its watch channel.
struct Running {
    token: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<WorkerStats, QueueError>>,
}

fn start(queue: &Queue, indexer: RepoIndexer, concurrency: usize) -> Running {
    let worker = Worker::new(queue.clone(), indexer, worker_options(concurrency));
    let token = worker.token().to_string();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(async move { worker.run(stopped).await });
    Running { token, stop, task }
}

impl Running {
    async fn stop(mut self) -> WorkerStats {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(60), &mut self.task)
            .await
            .expect("the worker stops within its grace period")
            .expect("the worker task does not panic")
            .expect("the worker ends without a queue error")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panicked before stop(): nothing may keep running.
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn sigkill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Waits until nothing is pending, leased or delayed (dead refs are not waited for).
async fn drain(queue: &Queue, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = queue.status().await.unwrap();
        if status.pending + status.leased + status.delayed == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the queue did not drain within {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes the test's Redis keys (queue, locks, write routes: all under its prefix) on
/// drop.
fn repo_ref(id: &str) -> QueueRef {
    QueueRef::Repo(RepoId::new(id).unwrap())
}

fn write_files(repo: &TestRepo, n: usize, version: &str) {
    for i in 0..n {
        let body = format!(
            "// {version} file {i}\npub fn handleRequest{i}(input: &str) -> String {{\n    format!(\"{{input}} {}\")\n}}\n",
            "lorem ipsum dolor sit amet ".repeat(30)
        );
        repo.write(&format!("src/m{:02}/f{i:05}.rs", i % 17), body);
    }
}

async fn last_indexed(store: &StatusStore, id: &str) -> Option<String> {
    store
        .get(&RepoId::new(id).unwrap())
        .await
        .unwrap()
        .and_then(|status| status.last_indexed_commit)
}

/// The real `cargo xtask worker` process, SIGKILLed while it holds leases mid-batch; a new
/// worker takes the refs over once the leases (and the dead worker's repository locks)
/// run out, and every repository ends exactly at its head.
#[tokio::test]
async fn a_worker_killed_mid_batch_loses_no_change() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "wkill").await.unwrap();
    let store = StatusStore::new(set.clone());
    let registry = test_registry(&services, &set).await.unwrap();
    let ids = ["kill-a", "kill-b", "kill-c", "kill-d"];
    let repos: Vec<TestRepo> = ids.iter().map(|_| TestRepo::new()).collect();
    for (id, repo) in ids.iter().zip(&repos) {
        write_files(repo, 800, "v1");
        repo.commit("many files");
        trawl_tests::register(&registry, &spec(id, repo))
            .await
            .unwrap();
    }
    let queue = queue(&services, queue_config(&set, 5)).await;
    queue.init().await.unwrap();
    let refs: Vec<QueueRef> = ids.iter().map(|id| repo_ref(id)).collect();
    assert_eq!(queue.enqueue(&refs).await.unwrap(), 4);

    let mut child = ChildGuard(Some(
        Command::new(xtask_binary())
            .args([
                "worker",
                "--concurrency",
                "2",
                "--lease-secs",
                "2",
                "--backoff-ms",
                "200",
                "--lock-ttl-secs",
                "3",
            ])
            .env("TRAWL_INDEX_PREFIX", set.names().prefix())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));

    // Mid-batch: refs leased and documents already being written for one of them.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = queue.status().await.unwrap();
        let mut started = false;
        for id in ids {
            let s = store.get(&RepoId::new(id).unwrap()).await.unwrap();
            started |= s.is_some_and(|s| s.checkpoint.is_some() || s.last_indexed_commit.is_some());
        }
        if status.leased > 0 && started {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never got going: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.sigkill();
    let status = queue.status().await.unwrap();
    assert!(
        status.leased > 0,
        "the killed worker's leases are still held: {status:?}"
    );
    let indexed_at_kill = {
        let mut n = 0;
        for id in ids {
            n += usize::from(last_indexed(&store, id).await.is_some());
        }
        n
    };
    assert!(
        indexed_at_kill < ids.len(),
        "killed mid-batch, not after it ({indexed_at_kill} of 4 done)"
    );

    // More pushes while the dead worker's leases are still held.
    for repo in &repos {
        repo.write("after-kill.txt", "pushed after the worker died\n");
        repo.write("src/m00/f00000.rs", "// edited after the kill\n");
        repo.commit("after kill");
    }
    queue.enqueue(&refs).await.unwrap();

    // A new worker: leases expire in 2 s; repository locks the dead worker held expire
    // with their TTL (3 s here); a ref whose repository is still locked is given back
    // (no attempt counted) and claimed again, never indexed beside a stale holder.
    let worker = start(&queue, indexer(&services, &set).await, 2);
    drain(&queue, Duration::from_secs(180)).await;
    let stats = worker.stop().await;
    assert_eq!((stats.failed, stats.dead_lettered), (0, 0), "{stats:?}");
    assert!(stats.processed >= 4, "{stats:?}");
    assert_eq!(queue.status().await.unwrap().dead, 0);
    for (id, repo) in ids.iter().zip(&repos) {
        assert_exact(&set, id, repo).await;
        assert_eq!(
            last_indexed(&store, id).await.as_deref(),
            Some(repo.git(&["rev-parse", "HEAD"]).as_str()),
            "{id} indexed up to its head"
        );
    }
}

/// What the sampler saw while three workers ran.
#[derive(Default)]
struct Samples {
    taken: AtomicU64,
    locked: AtomicU64,
}

/// Three workers on one queue while a writer pushes ~30 commits to four repositories.
///
/// "Never two at once" is asserted two ways:
/// - a sampler reads, in one MULTI (atomically), every repository's lock key and its
///   lease owner: whenever a repository's lock is held, exactly one of the three workers
///   holds its lease (no indexing without a lease, no lease for two);
/// - every worker's `released` count stays 0: a worker handed a repository another one
///   is indexing would find its lock taken and release the ref (the only other release
///   is at shutdown, and the workers stop only after the queue drained), so no two
///   `index()` calls on one repository ever overlapped.
#[tokio::test]
async fn three_workers_on_a_stream_of_pushes_end_exact() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "wthree").await.unwrap();
    let base = indexer(&services, &set).await;
    let ids = ["three-a", "three-b", "three-c", "three-d"];
    let repos: Vec<TestRepo> = ids.iter().map(|_| TestRepo::new()).collect();
    for (id, repo) in ids.iter().zip(&repos) {
        write_files(repo, 60, "v0");
        repo.commit("initial");
        register_and_index(&base, &spec(id, repo), Arc::default())
            .await
            .unwrap();
    }
    let config = queue_config(&set, 5);
    let queue = queue(&services, config.clone()).await;
    queue.init().await.unwrap();

    let workers: Vec<Running> = (0..3).map(|_| start(&queue, base.clone(), 2)).collect();
    let tokens: BTreeSet<String> = workers.iter().map(|w| w.token.clone()).collect();
    assert_eq!(tokens.len(), 3, "each worker has its own token");

    // The sampler.
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Samples::default());
    let sampler = {
        let done = done.clone();
        let samples = samples.clone();
        let tokens = tokens.clone();
        let mut conn = trawl_tests::redis(&services.redis).await.unwrap();
        let ns = trawl_indexer::RedisKeys::namespaced(config.namespace.as_str()).unwrap();
        let keys: Vec<(String, String, String)> = ids
            .iter()
            .map(|id| {
                let r = repo_ref(id);
                (
                    ns.repo_lock(id),
                    ns.queue_shard(r.shard(config.shards), "owner"),
                    r.encode(),
                )
            })
            .collect();
        tokio::spawn(async move {
            let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            while !done.load(Ordering::SeqCst) {
                let got = sample(&mut conn, &keys).await;
                samples.taken.fetch_add(1, Ordering::Relaxed);
                for (pair, (_, _, member)) in got.chunks(2).zip(&keys) {
                    let (lock, owner) = (&pair[0], &pair[1]);
                    if let Some(owner) = owner {
                        assert!(tokens.contains(owner), "{member} leased to {owner}");
                        holders
                            .entry(member.clone())
                            .or_default()
                            .insert(owner.clone());
                    }
                    if lock.is_some() {
                        samples.locked.fetch_add(1, Ordering::Relaxed);
                        assert!(
                            owner.is_some(),
                            "{member} is being indexed (locked) without a lease"
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            holders
        })
    };

    // The writer: ~30 commits in random order, each followed by its push.
    let mut rng = fastrand::Rng::with_seed(0x7a11);
    for n in 0..30 {
        let i = rng.usize(0..ids.len());
        let repo = &repos[i];
        match rng.u8(0..3) {
            0 => repo.write(&format!("pushes/p{n}.txt"), format!("push {n}\n")),
            1 => repo.write(
                &format!("src/m{:02}/f{:05}.rs", n % 17, rng.usize(0..60)),
                format!("// rewritten by push {n}\n"),
            ),
            _ => {
                let files = repo.head_files();
                let victim = files.keys().nth(rng.usize(0..files.len())).unwrap();
                std::fs::remove_file(repo.path.join(victim)).unwrap();
            }
        }
        repo.commit(&format!("push {n}"));
        queue.enqueue(&[repo_ref(ids[i])]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(rng.u64(20..150))).await;
    }

    drain(&queue, Duration::from_secs(120)).await;
    done.store(true, Ordering::SeqCst);
    let holders = sampler.await.expect("the sampler's assertions hold");
    let mut total = WorkerStats::default();
    for w in workers {
        let s = w.stop().await;
        total.processed += s.processed;
        total.failed += s.failed;
        total.dead_lettered += s.dead_lettered;
        total.released += s.released;
    }
    assert!(
        samples.taken.load(Ordering::Relaxed) > 50 && samples.locked.load(Ordering::Relaxed) > 0,
        "the sampler saw indexing happen ({} samples, {} with a lock held)",
        samples.taken.load(Ordering::Relaxed),
        samples.locked.load(Ordering::Relaxed)
    );
    let working: BTreeSet<&String> = holders.values().flatten().collect();
    assert!(
        working.len() >= 2,
        "the work was spread over the workers: {holders:?}"
    );
    assert_eq!(
        (total.failed, total.dead_lettered, total.released),
        (0, 0, 0),
        "no failure, nothing dead, no repository found locked by another worker: {total:?}"
    );
    assert!(total.processed >= 4, "{total:?}");
    let status = queue.status().await.unwrap();
    assert_eq!(status.dead, 0, "nothing dead-lettered: {status:?}");
    assert!(queue.dead().await.unwrap().is_empty());

    // Exact, and no stale overwrite: every repository's status is at its head.
    for (id, repo) in ids.iter().zip(&repos) {
        assert_exact(&set, id, repo).await;
        assert_eq!(
            last_indexed(base.status(), id).await.as_deref(),
            Some(repo.git(&["rev-parse", "HEAD"]).as_str()),
            "{id}'s last indexed commit is its head"
        );
    }
}

/// While the engine is unreachable a ref is retried with backoff, then dead-lettered
/// with the error; once the engine is back, `retry_dead` replays it and the change lands.
#[tokio::test]
async fn an_unreachable_engine_dead_letters_then_retry_dead_applies() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "wdead").await.unwrap();
    let good = indexer(&services, &set).await;
    let repo = TestRepo::new();
    let id = "dead-one";
    write_files(&repo, 20, "v1");
    repo.commit("first");
    register_and_index(&good, &spec(id, &repo), Arc::default())
        .await
        .unwrap();
    assert_exact(&set, id, &repo).await;

    // The engine "goes away": every request through the front is refused with a 503.
    let front = FaultFront::start(
        services.engine.url.clone(),
        services.engine.http_client().unwrap(),
        usize::MAX,
        503,
    )
    .await
    .unwrap();
    let bad_client = Client::new(
        ClientConfig::builder()
            .host(front.url())
            .retry(RetryPolicy {
                max_attempts: 2,
                max_total: Duration::from_secs(2),
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
            })
            .build()
            .unwrap(),
    )
    .unwrap();
    let bad_set = IndexSet::unrouted(
        bad_client,
        set.names().clone(),
        trawl_analyzers::IndexOptions::default(),
    );
    let bad = RepoIndexer::new(
        bad_set,
        test_registry(&services, &set).await.unwrap(),
        locks(&services, set.names().prefix(), Duration::from_secs(30)).await,
        IndexingOptions::default(),
    );

    repo.write(
        "src/m00/f00000.rs",
        "// changed while the engine was down\n",
    );
    repo.write("new.txt", "new\n");
    let head = repo.commit("second");
    let queue = queue(&services, queue_config(&set, 3)).await;
    queue.init().await.unwrap();
    queue.enqueue(&[repo_ref(id)]).await.unwrap();

    let worker = start(&queue, bad, 1);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    while queue.status().await.unwrap().dead == 0 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = worker.stop().await;
    assert_eq!(
        (stats.processed, stats.failed, stats.dead_lettered),
        (0, 3, 1),
        "three attempts, then dead: {stats:?}"
    );
    // Backoffs of 200 and 400 ms between the three attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(front.seen() > 0 && front.forwarded() == 0);
    let dead = queue.dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].member, format!("repo:{id}"));
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0].error.contains("503") || dead[0].error.contains("injected_fault"),
        "the last error is kept: {}",
        dead[0].error
    );
    let status = queue.status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.delayed, status.dead),
        (0, 0, 0, 1)
    );
    // Nothing of the second commit reached the index.
    assert_eq!(
        last_indexed(good.status(), id).await.as_deref(),
        Some(repo.git(&["rev-parse", "HEAD~1"]).as_str())
    );

    // The engine is back: a worker with a good client, and the dead ref replayed.
    drop(front);
    let worker = start(&queue, good.clone(), 1);
    assert_eq!(queue.retry_dead().await.unwrap(), 1);
    drain(&queue, Duration::from_secs(60)).await;
    let stats = worker.stop().await;
    assert_eq!(
        (stats.processed, stats.failed, stats.dead_lettered),
        (1, 0, 0),
        "{stats:?}"
    );
    assert!(queue.dead().await.unwrap().is_empty());
    assert_exact(&set, id, &repo).await;
    assert_eq!(
        last_indexed(good.status(), id).await.as_deref(),
        Some(head.as_str())
    );
}

/// Redis goes away under a running worker and comes back (with AOF): the worker's
/// connection reconnects with backoff and it goes on processing, the queue intact.
#[tokio::test]
async fn a_worker_rides_out_a_redis_restart() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "wredis").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let own = crate::queue::OwnRedis::start(crate::queue::free_port(), dir.path(), true).await;
    let redis: trawl_redis::RedisConnection = redis::Client::open(own.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap()
        .into();
    let queue = Queue::new(redis.clone(), queue_config(&set, 5)).unwrap();
    let locks = trawl_indexer::RepoLocks::new(
        redis,
        trawl_indexer::RedisKeys::new(set.names()),
        Duration::from_secs(30),
    );
    let indexer = RepoIndexer::new(
        set.clone(),
        test_registry(&services, &set).await.unwrap(),
        locks,
        trawl_indexer::IndexingOptions::default(),
    );
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.commit("a");
    let spec = spec("restart", &repo);
    register_and_index(&indexer, &spec, Arc::default())
        .await
        .unwrap();
    let the_ref = [QueueRef::Repo(spec.id.clone())];
    let worker = start(&queue, indexer, 1);

    repo.write("b.rs", "fn b() {}\n");
    repo.commit("b");
    queue.enqueue(&the_ref).await.unwrap();
    drain(&queue, Duration::from_secs(60)).await;
    assert_exact(&set, "restart", &repo).await;

    // Redis restarts under the worker.
    let own = own.restart().await;
    repo.write("c.rs", "fn c() {}\n");
    repo.commit("c");
    // The producer's connection reconnects too: its first command may see the old
    // connection's error.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match queue.enqueue(&the_ref).await {
            Ok(_) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "Redis did not come back: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(queue.intact().await.unwrap(), "AOF kept the queue's marker");
    drain(&queue, Duration::from_secs(60)).await;
    assert_exact(&set, "restart", &repo).await;
    let stats = worker.stop().await;
    assert_eq!(stats.processed, 2, "{stats:?}");
    assert_eq!((stats.failed, stats.dead_lettered), (0, 0), "{stats:?}");
    drop(own);
}

/// A worker's lease is lost mid-run (another claim took the ref back — here written
/// directly, as a claim after an expiry leaves it): the run, which still holds the
/// repository lock, finishes and advances the status; its acknowledgement changes nothing
/// and is counted as `lease_lost`; the ref stays with its new holder, which settles it.
#[tokio::test]
async fn a_worker_that_lost_its_lease_leaves_the_ref_to_its_new_holder() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "wlost").await.unwrap();
    let store = StatusStore::new(set.clone());
    let registry = test_registry(&services, &set).await.unwrap();
    let repo = TestRepo::new();
    write_files(&repo, 800, "v1");
    let head = repo.commit("many files");
    trawl_tests::register(&registry, &spec("lost-lease", &repo))
        .await
        .unwrap();
    let config = queue_config(&set, 5);
    let queue = queue(&services, config.clone()).await;
    queue.init().await.unwrap();
    let the_ref = repo_ref("lost-lease");
    queue.enqueue(std::slice::from_ref(&the_ref)).await.unwrap();
    let owner = trawl_indexer::RedisKeys::namespaced(config.namespace.as_str())
        .unwrap()
        .queue_shard(the_ref.shard(config.shards), "owner");
    let mut conn = trawl_tests::redis(&services.redis).await.unwrap();

    let worker = start(&queue, indexer(&services, &set).await, 1);
    // Mid-run: leased, and documents being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let leased_to: Option<String> = redis::cmd("HGET")
            .arg(&owner)
            .arg(the_ref.encode())
            .query_async(&mut conn)
            .await
            .unwrap();
        let started = store
            .get(&RepoId::new("lost-lease").unwrap())
            .await
            .unwrap()
            .is_some_and(|s| s.checkpoint.is_some());
        if leased_to.is_some() && started {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The new holder's claim: its token, and a lease of its own (a minute).
    let leased = owner.replace(":owner", ":leased");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let _: () = redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(&owner)
        .arg(the_ref.encode())
        .arg("new-holder")
        .ignore()
        .cmd("ZADD")
        .arg(&leased)
        .arg("XX")
        .arg(until)
        .arg(the_ref.encode())
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_indexed(&store, "lost-lease").await.is_none() {
        assert!(Instant::now() < deadline, "the run never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the worker time to try its acknowledgement.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = worker.stop().await;
    assert_eq!(
        (stats.processed, stats.lease_lost, stats.failed),
        (0, 1, 0),
        "{stats:?}"
    );
    assert_eq!(last_indexed(&store, "lost-lease").await, Some(head));
    assert_exact(&set, "lost-lease", &repo).await;
    // Still leased, to its new holder, who settles it.
    let status = queue.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 1), "{status:?}");
    let held = trawl_indexer::Claimed {
        queue_ref: the_ref.clone(),
        member: the_ref.encode(),
        shard: the_ref.shard(config.shards),
        attempts: 0,
    };
    assert_eq!(queue.ack(&[held], "new-holder").await.unwrap(), 1);
    let status = queue.status().await.unwrap();
    assert_eq!((status.pending, status.leased), (0, 0), "{status:?}");
}

/// Per ref: its lock's holder and its lease's owner, as one observation.
///
/// On one server a `MULTI` reads all of them at one instant. On a Redis Cluster a lock and
/// a lease live in different slots, so nothing reads both at once: the owner is read
/// before and after the lock, and counts as present if either read saw it (a worker
/// takes the lease before the lock and gives it back after, so a lock seen between two
/// reads that both miss the lease would need a whole claim-index-ack in between).
async fn sample(
    conn: &mut trawl_redis::RedisConnection,
    keys: &[(String, String, String)],
) -> Vec<Option<String>> {
    if !conn.is_cluster() {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (lock, owner, member) in keys {
            pipe.get(lock).hget(owner, member);
        }
        return pipe.query_async(conn).await.unwrap();
    }
    let mut got = Vec::with_capacity(keys.len() * 2);
    for (lock, owner, member) in keys {
        let hget = redis::cmd("HGET").arg(owner).arg(member).clone();
        let before: Option<String> = hget.query_async(conn).await.unwrap();
        let held: Option<String> = redis::cmd("GET").arg(lock).query_async(conn).await.unwrap();
        let after: Option<String> = hget.query_async(conn).await.unwrap();
        got.push(held);
        got.push(before.or(after));
    }
    got
}
