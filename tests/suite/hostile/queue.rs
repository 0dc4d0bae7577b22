//! The update queue, the repository lock and the bulk accounting a queued run relies on,
//! under hostile conditions, against the real Redis and engine: pushes, failures,
//! releases and crashes racing each other; corrupt counters, huge errors and huge
//! batches; a lock taken over or out of reach mid-run; a bulk batch whose task panics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trawl_indexer::QueueItem;

use serde_json::json;
use trawl_client::{
    BulkIndexer, BulkItemOutcome, BulkOp, BulkOptions, ClientError, MirrorTicket, WriteMirror,
};
use trawl_indexer::lock::{ExpiringLock, LockLoss};
use trawl_indexer::queue::MAX_CLAIM;
use trawl_indexer::{IndexProgress, IndexingOptions, Queue, QueueConfig, RepoIndexer, StatusStore};
use trawl_tests::{Engine, engine_client, require_services, test_indices, unique_name};

use crate::indexing::{TestRepo, locks, spec};
use crate::queue::{OwnRedis, config, free_port, queue, repo};

/// What the racing actors saw, on one logical clock. A push is stamped before it is
/// sent, a claim after it returned: a claim stamped later than a push may have taken
/// that push or may have run before it, but a claim stamped earlier certainly ran before
/// it. So "no attempt stamped after the last push" proves a push went unprocessed, and
/// the check never blames a push that a claim did take.
#[derive(Default)]
struct Ledger {
    clock: AtomicU64,
    /// Ref → the stamp of its last push.
    last_push: Mutex<HashMap<String, u64>>,
    /// Ref → the latest stamp of a claim whose attempt was then acknowledged, or
    /// dead-lettered.
    covered: Mutex<HashMap<String, u64>>,
}

impl Ledger {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn pushed(&self, member: &str, at: u64) {
        let mut last = self.last_push.lock().unwrap();
        let entry = last.entry(member.to_owned()).or_default();
        *entry = (*entry).max(at);
    }

    fn cover(&self, member: &str, claimed_at: u64) {
        let mut covered = self.covered.lock().unwrap();
        let entry = covered.entry(member.to_owned()).or_default();
        *entry = (*entry).max(claimed_at);
    }
}

/// Pushers and workers race on a few refs: workers acknowledge, fail (into backoff and
/// the dead letters), release, or "crash" (leave the lease to expire). Once everything
/// settles, every push is covered by an attempt that may have begun after it and ended in
/// an acknowledgement or a dead letter — none is lost beside a lease — and no claim ever
/// carries an attempt count over the budget.
#[tokio::test]
async fn racing_pushes_failures_releases_and_crashes_lose_no_push() {
    let services = require_services!();
    let url = services.redis.connection_url();
    // One queue where every failure is the last attempt, one with backoffs between two.
    let mut queues = Vec::new();
    for max_attempts in [1, 2] {
        queues.push(
            queue(
                url,
                QueueConfig {
                    lease: Duration::from_millis(250),
                    max_attempts,
                    base_backoff: Duration::from_millis(10),
                    max_backoff: Duration::from_millis(40),
                    ..config(2)
                },
            )
            .await,
        );
    }
    // Each round ends with its own last pushes, where a lost one would show.
    for round in 0..6 {
        race(&queues[round as usize % 2].0, round).await;
    }
}

/// One round of the race above on 30 refs of its own, checked once it settled.
async fn race(q: &Queue, round: u64) {
    let max_attempts = q.config().max_attempts;
    let refs: Vec<_> = (0..30).map(|i| repo(&format!("race{round}-{i}"))).collect();
    let ledger = Arc::new(Ledger::default());
    let pushing = Arc::new(AtomicBool::new(true));

    let mut pushers = tokio::task::JoinSet::new();
    for p in 0..2u64 {
        let (q, ledger, refs) = (q.clone(), ledger.clone(), refs.clone());
        pushers.spawn(async move {
            let mut rng = fastrand::Rng::with_seed(0x9054 + 16 * round + p);
            for _ in 0..200 {
                let r = &refs[rng.usize(0..refs.len())];
                let at = ledger.tick();
                q.enqueue(std::slice::from_ref(r)).await.unwrap();
                ledger.pushed(&r.encode(), at);
                tokio::time::sleep(Duration::from_millis(rng.u64(0..4))).await;
            }
        });
    }
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..3u64 {
        let (q, ledger, pushing) = (q.clone(), ledger.clone(), pushing.clone());
        workers.spawn(async move {
            let token = format!("w{w}");
            let mut rng = fastrand::Rng::with_seed(0x3a11 + 16 * round + w);
            let mut idle_since: Option<Instant> = None;
            loop {
                let racing = pushing.load(Ordering::SeqCst);
                let mut got = 0;
                for shard in 0..2 {
                    let claimed = q.claim(shard, 2, &token).await.unwrap();
                    let claimed_at = ledger.tick();
                    got += claimed.len();
                    for c in claimed {
                        assert!(c.attempts < max_attempts, "over the budget: {c:?}");
                        tokio::time::sleep(Duration::from_millis(rng.u64(2..20))).await;
                        // Once the pushers stopped, every attempt succeeds so that the
                        // queue settles.
                        let roll = if racing { rng.u8(0..100) } else { 0 };
                        let settled = if roll < 50 {
                            q.ack(std::slice::from_ref(&c), &token).await.unwrap() == 1
                        } else if roll < 85 {
                            let outcome = q.fail(&c, &token, "racing failure").await.unwrap();
                            outcome.is_dead()
                        } else if roll < 95 {
                            q.release(std::slice::from_ref(&c), &token).await.unwrap();
                            false
                        } else {
                            false // crashed: the lease expires
                        };
                        if settled {
                            ledger.cover(&c.member, claimed_at);
                        }
                    }
                }
                if got > 0 || racing {
                    idle_since = None;
                } else {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    let s = q.status().await.unwrap();
                    // Crashed leases take 250 ms to return, backoffs up to 40 ms.
                    if s.pending + s.leased + s.delayed == 0 && since.elapsed().as_millis() > 300 {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    while let Some(done) = pushers.join_next().await {
        done.expect("a pusher does not panic");
    }
    pushing.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(done) = workers.join_next().await {
            done.expect("a worker's assertions hold");
        }
    })
    .await
    .expect("the queue settles within a minute");

    let last_push = ledger.last_push.lock().unwrap().clone();
    let covered = ledger.covered.lock().unwrap().clone();
    assert_eq!(last_push.len(), refs.len(), "every ref was pushed");
    let lost: Vec<_> = last_push
        .iter()
        .filter(|(member, pushed)| covered.get(*member).is_none_or(|c| c < *pushed))
        .collect();
    assert!(
        lost.is_empty(),
        "round {round}: pushes no attempt covered (ref, stamp of its last push): {lost:?}"
    );
    let status = q.status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.delayed), (0, 0, 0));
    // A dead ref's last attempt may have begun after its last push.
    for dead in q.dead().await.unwrap() {
        if let Some(pushed) = last_push.get(&dead.member) {
            assert!(covered[&dead.member] > *pushed, "round {round}: {dead:?}");
        }
    }
}

/// A counter that is not a number (a bug elsewhere, a hand edit) must not wedge a ref: a
/// failure still counts and backs off, and the claim reads it as no attempts.
#[tokio::test]
async fn a_corrupt_attempt_count_still_counts_failures() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let config = config(1);
    let attempts = trawl_indexer::RedisKeys::namespaced(config.namespace.as_str())
        .unwrap()
        .queue_shard(0, "attempts");
    let (q, _cleanup) = queue(url, config).await;
    let mut conn = crate::queue::manager(url).await;

    for garbage in ["not a number", "-7", "1e400", ""] {
        q.enqueue(&[repo("a")]).await.unwrap();
        let _: i64 = redis::cmd("HSET")
            .arg(&attempts)
            .arg("repo:a")
            .arg(garbage)
            .query_async(&mut conn)
            .await
            .unwrap();
        let c = q.claim(0, 1, "w1").await.unwrap();
        assert_eq!(c.len(), 1, "{garbage:?}");
        assert_eq!(c[0].attempts, 0, "{garbage:?} reads as no attempts");
        assert!(
            !q.fail(&c[0], "w1", "boom").await.unwrap().is_dead(),
            "{garbage:?}"
        );
        let s = q.status().await.unwrap();
        assert_eq!((s.pending, s.leased, s.delayed), (0, 0, 1), "{garbage:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let c = q.claim(0, 1, "w1").await.unwrap();
        assert_eq!(c[0].attempts, 1, "{garbage:?}: counted from zero");
        assert_eq!(q.ack(&c, "w1").await.unwrap(), 1);
    }
}

/// An error of any size is kept in the dead letters, cut to a bounded length on a
/// character boundary; an empty one too.
#[tokio::test]
async fn huge_and_empty_errors_are_kept_bounded() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(
        url,
        QueueConfig {
            max_attempts: 1,
            ..config(1)
        },
    )
    .await;
    let huge = "é\u{0}\n".repeat(400_000);
    for (r, error) in [("a", huge.as_str()), ("b", "")] {
        q.enqueue(&[repo(r)]).await.unwrap();
        let c = q.claim(0, 1, "w1").await.unwrap();
        assert!(q.fail(&c[0], "w1", error).await.unwrap().is_dead());
    }
    let dead = q.dead().await.unwrap();
    assert_eq!(dead.len(), 2, "{}", dead.len());
    let a = dead.iter().find(|d| d.member == "repo:a").unwrap();
    assert!(a.error.len() <= 8 * 1024, "{} bytes kept", a.error.len());
    assert!(a.error.starts_with("é\u{0}\n"), "the start is kept");
    let b = dead.iter().find(|d| d.member == "repo:b").unwrap();
    assert_eq!(b.error, "");
}

/// Enqueueing many refs in one call keeps one entry per ref; a claim asking for any
/// number (up to `usize::MAX`) hands out at most [`MAX_CLAIM`], in order, until all are
/// taken; a claim of zero still takes one; heartbeats, releases and acknowledgements of
/// all of them at once work, and a release keeps their order.
#[tokio::test]
async fn one_push_of_many_refs_and_unbounded_claims() {
    let services = require_services!();
    let url = services.redis.connection_url();
    let (q, _cleanup) = queue(url, config(1)).await;
    let refs: Vec<_> = (0..20_000).map(|i| repo(&format!("r{i}"))).collect();
    assert_eq!(q.enqueue(&refs).await.unwrap(), 20_000);
    assert_eq!(q.enqueue(&refs).await.unwrap(), 0);
    let one = q.claim(0, 0, "w1").await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].member, "repo:r0");
    let mut taken = one;
    loop {
        let c = q.claim(0, usize::MAX, "w1").await.unwrap();
        if c.is_empty() {
            break;
        }
        assert!(c.len() <= MAX_CLAIM, "{}", c.len());
        taken.extend(c);
    }
    let expected: Vec<String> = refs.iter().map(|r| r.encode()).collect();
    let got: Vec<String> = taken.iter().map(|c| c.member.clone()).collect();
    assert_eq!(got, expected, "all, once each, in push order");
    // Heartbeat and release all at once: back at the front, in their order.
    assert_eq!(q.heartbeat(&taken, "w1").await.unwrap(), 20_000);
    assert_eq!(q.release(&taken, "w1").await.unwrap(), 20_000);
    let mut taken = Vec::new();
    loop {
        let c = q.claim(0, MAX_CLAIM, "w1").await.unwrap();
        if c.is_empty() {
            break;
        }
        taken.extend(c);
    }
    let got: Vec<String> = taken.iter().map(|c| c.member.clone()).collect();
    assert_eq!(got, expected, "released in order");
    assert_eq!(q.ack(&taken, "w1").await.unwrap(), 20_000);
    let s = q.status().await.unwrap();
    assert_eq!((s.pending, s.leased, s.oldest_ms), (0, 0, None));
}

/// A repository large enough for many checkpoints, its lock taken over by another holder
/// mid-run (as after Redis was unreachable longer than the lock's time to live): the run
/// stops with an error that says so, and the status does not move past what was stored
/// when the lock went.
#[tokio::test]
async fn a_run_whose_lock_is_taken_over_does_not_advance_the_status() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "lockfence").await.unwrap();
    let prefix = set.names().prefix().to_string();
    let fenced_key = trawl_indexer::RedisKeys::new(set.names()).repo_lock("fenced");
    let repo = TestRepo::new();
    for i in 0..2000 {
        repo.write(
            &format!("src/d{:02}/f{i:05}.txt", i % 20),
            format!("file {i}\n"),
        );
    }
    repo.commit("many files");
    let spec = spec("fenced", &repo);
    let checkpoint_files = 25;
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    trawl_tests::register(&registry, &spec).await.unwrap();
    let indexer = RepoIndexer::new(
        set.clone(),
        registry,
        locks(&services, &prefix, Duration::from_millis(900)).await,
        IndexingOptions {
            checkpoint_files,
            ..IndexingOptions::default()
        },
    );
    let store = StatusStore::new(set.clone());
    let run = {
        let (indexer, id) = (indexer.clone(), spec.id.clone());
        tokio::spawn(async move { indexer.index(&id, Arc::new(IndexProgress::default())).await })
    };

    // The first checkpoint is stored: take the lock over.
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_takeover = loop {
        if let Some(status) = store.get(&spec.id).await.unwrap()
            && let Some(checkpoint) = status.checkpoint
            && checkpoint.files_done > 0
        {
            let mut conn = crate::queue::manager(services.redis.connection_url()).await;
            let _: () = redis::cmd("SET")
                .arg(fenced_key.as_str())
                .arg("another-holder")
                .arg("PX")
                .arg(60_000)
                .query_async(&mut conn)
                .await
                .unwrap();
            break checkpoint.files_done;
        }
        assert!(
            !run.is_finished(),
            "the run ended before its first checkpoint"
        );
        assert!(Instant::now() < deadline, "no checkpoint within 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let result = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run ends")
        .expect("the run does not panic");
    let error = result
        .expect_err("a run that lost its lock must not finish")
        .to_string();
    assert!(
        error.contains("lock") && error.contains("lost") && error.contains("fenced"),
        "the error says why: {error}"
    );
    let status = store.get(&spec.id).await.unwrap().unwrap();
    assert_eq!(status.last_indexed_commit, None, "not completed");
    let done = status.checkpoint.map_or(0, |c| c.files_done);
    // At most the checkpoint that was already past its check when the lock went.
    assert!(
        done <= at_takeover + checkpoint_files,
        "the checkpoint moved from {at_takeover} to {done} after the lock was lost"
    );
    let mut conn = crate::queue::manager(services.redis.connection_url()).await;
    let holder: Option<String> = redis::cmd("GET")
        .arg(fenced_key.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        holder.as_deref(),
        Some("another-holder"),
        "left to its holder"
    );
}

/// Redis unreachable for longer than a lock's time to live (here: frozen): the heartbeat
/// records the loss, a check fails at once with that reason and keeps failing once Redis
/// is back, and another holder can take the lock; a deleted key is a loss too.
#[tokio::test]
async fn a_lock_out_of_reach_longer_than_its_ttl_is_lost_for_good() {
    // A Redis of its own: freezing the shared one would stall every other test.
    let dir = tempfile::tempdir().unwrap();
    let own = OwnRedis::start(free_port(), dir.path(), false).await;
    let manager = redis::Client::open(own.url())
        .unwrap()
        .get_connection_manager_with_config(
            redis::aio::ConnectionManagerConfig::new()
                .set_response_timeout(Some(Duration::from_millis(200))),
        )
        .await
        .unwrap();
    let manager = trawl_redis::RedisConnection::from(manager);
    let frozen = trawl_indexer::RedisKeys::default().lock("frozen");
    let lock = ExpiringLock::new(manager.clone(), frozen.as_str(), Duration::from_millis(600));
    let held = lock.try_acquire().await.unwrap().expect("free");
    // The heartbeat keeps it well past its time to live.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(held.lost(), None);
    held.ensure_held().await.unwrap();

    own.freeze();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let lost = held.lost();
    own.thaw();
    assert!(
        matches!(lost, Some(LockLoss::Unreachable { ttl_ms: 600, .. })),
        "the heartbeat recorded the loss: {lost:?}"
    );
    let error = held.ensure_held().await.unwrap_err();
    assert!(matches!(error, LockLoss::Unreachable { .. }), "{error}");
    assert!(
        error.to_string().contains("could not reach Redis"),
        "{error}"
    );
    assert!(!held.is_held().await.unwrap());
    // The key expired while Redis was out of reach: someone else takes it, and the old
    // holder's release leaves it alone.
    let other = lock
        .try_acquire()
        .await
        .unwrap()
        .expect("expired meanwhile");
    other.ensure_held().await.unwrap();
    held.release().await.unwrap();
    assert!(other.is_held().await.unwrap());
    other.release().await.unwrap();

    // A key deleted under its holder.
    let held = lock.try_acquire().await.unwrap().expect("free again");
    let mut conn = manager.clone();
    let _: i64 = redis::cmd("DEL")
        .arg(frozen.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(held.ensure_held().await, Err(LockLoss::Gone));
    // Once lost, lost: a holder that comes back later does not make it ours again.
    let other = lock.try_acquire().await.unwrap().expect("free");
    assert_eq!(held.ensure_held().await, Err(LockLoss::Gone));
    other.release().await.unwrap();
    assert_eq!(held.ensure_held().await, Err(LockLoss::Gone));
    drop(own);
}

/// A bulk batch whose task panics — here the item callback, on one marked document —
/// reports each of its operations as failed with the reason; nothing goes unaccounted.
#[tokio::test]
async fn a_panicking_bulk_batch_counts_its_items_as_failed() {
    let services = require_services!();
    let index = unique_name("bulkpanic");
    let _cleanup = Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    let client = engine_client(&services.engine).unwrap();
    let reported: Arc<Mutex<Vec<BulkItemOutcome>>> = Arc::default();
    let on_item = {
        let reported = reported.clone();
        Arc::new(move |o: &BulkItemOutcome| {
            if o.succeeded() && o.id.as_deref() == Some("boom") {
                panic!("a bug in the item callback");
            }
            reported.lock().unwrap().push(o.clone());
        })
    };
    let bulk = BulkIndexer::new(
        client,
        BulkOptions {
            max_ops: 10,
            on_item: Some(on_item),
            ..BulkOptions::default()
        },
    );
    for i in 0..30 {
        let id = if i == 14 {
            "boom".to_string()
        } else {
            format!("d{i}")
        };
        bulk.add(BulkOp::index(&index, id, json!({ "n": i })))
            .await
            .unwrap();
    }
    let summary = bulk.finish().await.expect("the sink itself survives");
    let acked = summary.created + summary.updated + summary.deleted + summary.noop;
    assert_eq!(summary.sent, 30);
    assert_eq!(
        acked + summary.failed,
        30,
        "every item accounted: {summary:?}"
    );
    assert!(summary.failed >= 1, "{summary:?}");
    assert_eq!(summary.failures.len() as u64, summary.failed);
    assert!(
        summary
            .failures
            .iter()
            .any(|f| f.id.as_deref() == Some("boom")),
        "{:?}",
        summary.failures
    );
    for f in &summary.failures {
        assert!(f.reason.contains("panicked"), "{f:?}");
    }
    // The callback heard of every failure too.
    let reported = reported.lock().unwrap();
    for f in &summary.failures {
        assert!(
            reported.iter().any(|o| o.id == f.id && !o.succeeded()),
            "{f:?} not reported"
        );
    }
}

/// A write mirror that panics when its second request begins.
#[derive(Debug, Default)]
struct PanickingMirror {
    begun: AtomicUsize,
}

#[async_trait::async_trait]
impl WriteMirror for PanickingMirror {
    async fn begin(&self) -> Result<MirrorTicket, ClientError> {
        if self.begun.fetch_add(1, Ordering::SeqCst) == 1 {
            panic!("a bug in the write mirror");
        }
        Ok(MirrorTicket::default())
    }

    async fn end(&self, _ticket: MirrorTicket) {}
}

/// The same when the batch dies before it was sent (its write mirror panics): its items
/// are failed, the others written.
#[tokio::test]
async fn a_batch_whose_mirror_panics_counts_its_items_as_failed() {
    let services = require_services!();
    let index = unique_name("bulkmirror");
    let _cleanup = Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    let client = engine_client(&services.engine).unwrap();
    let bulk = BulkIndexer::new(
        client,
        BulkOptions {
            max_ops: 10,
            concurrency: 1,
            mirror: Some(Arc::new(PanickingMirror::default())),
            ..BulkOptions::default()
        },
    );
    for i in 0..30 {
        bulk.add(BulkOp::index(&index, format!("d{i}"), json!({ "n": i })))
            .await
            .unwrap();
    }
    let summary = bulk.finish().await.expect("the sink itself survives");
    assert_eq!(summary.sent, 30);
    assert_eq!(summary.created + summary.failed, 30, "{summary:?}");
    assert!(summary.failed >= 1 && summary.created >= 1, "{summary:?}");
    assert!(
        summary
            .failures
            .iter()
            .all(|f| f.reason.contains("panicked")),
        "{:?}",
        summary.failures
    );
}
