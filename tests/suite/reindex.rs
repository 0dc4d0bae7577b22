//! Zero-downtime reindexing against the real engine and Redis: writes and searches go on
//! during the copy; the result is exactly what a replay of the writes says; a killed
//! driver resumes; abort leaves the old indices serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;
use trawl_analyzers::IndexKind;
use trawl_client::{BulkIndexer, BulkOp, SearchOptions};
use trawl_indexer::{IndexSet, StatusStore};
use trawl_migrations::reindex::{
    ReindexDriver, ReindexError, ReindexOptions, ReindexStage, ReindexTask,
};
use trawl_registry::RepoId;
use trawl_tests::{require_services, test_indices_keeping_content};

const REPOS: [&str; 4] = ["r0", "r1", "r2", "r3"];

fn blob(repo: &str, path: &str, content: &str) -> Value {
    json!({
        "type": "blob",
        "repo_id": repo,
        "visibility": "public",
        "schema_version": IndexKind::Blobs.schema_version(),
        "blob": { "path": path, "content": content },
    })
}

/// What the blobs alias should hold: id → (repo, content).
type Reference = BTreeMap<String, (String, String)>;

/// Fills the blobs alias with `n` documents through the normal write path.
async fn fill(set: &IndexSet, n: usize) -> Reference {
    let bulk = BulkIndexer::new(set.client().clone(), set.bulk_options());
    let alias = set.alias(IndexKind::Blobs);
    let mut reference = Reference::new();
    for i in 0..n {
        let repo = REPOS[i % REPOS.len()];
        let id = format!("{repo}_src/f{i}.rs");
        let content = format!("fn handle_request_{i}() {{ searchable_token }} rev0");
        bulk.add(
            BulkOp::index(&alias, &id, blob(repo, &format!("src/f{i}.rs"), &content)).routing(repo),
        )
        .await
        .unwrap();
        reference.insert(id, (repo.to_string(), content));
    }
    let summary = bulk.finish().await.unwrap();
    assert_eq!(summary.failed, 0, "{:?}", summary.failures);
    set.client().refresh(&alias).await.unwrap();
    reference
}

/// Every blob document behind the alias: id → (repo, content).
async fn contents(set: &IndexSet) -> Reference {
    let alias = set.alias(IndexKind::Blobs);
    set.client().refresh(&alias).await.unwrap();
    let mut scroll = set
        .client()
        .scroll(
            &alias,
            json!({ "match_all": {} }),
            json!([{ "blob.path.keyword": "asc" }, { "repo_id": "asc" }]),
            2000,
        )
        .await
        .unwrap();
    let mut out = Reference::new();
    while let Some(page) = scroll.next_page().await.unwrap() {
        for hit in page {
            let repo = hit.source["repo_id"].as_str().unwrap().to_string();
            let content = hit.source["blob"]["content"].as_str().unwrap().to_string();
            assert!(
                out.insert(hit.id.clone(), (repo, content)).is_none(),
                "{}",
                hit.id
            );
        }
    }
    out
}

/// A writer that keeps adding, updating and deleting blob documents (and re-registering
/// and removing repositories) through trawl's write path, recording what it did.
struct Writer {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    during_copy: Arc<AtomicU64>,
    reference: Arc<Mutex<Reference>>,
    repos: Arc<Mutex<BTreeMap<String, Option<String>>>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(set: IndexSet, reference: Reference, copying: Arc<AtomicBool>, seed: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let during_copy = Arc::new(AtomicU64::new(0));
        let reference = Arc::new(Mutex::new(reference));
        let repos = Arc::new(Mutex::new(BTreeMap::new()));
        let handle = {
            let (stop, ops, during_copy, reference, repos) = (
                stop.clone(),
                ops.clone(),
                during_copy.clone(),
                reference.clone(),
                repos.clone(),
            );
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(seed);
                let alias = set.alias(IndexKind::Blobs);
                let store = StatusStore::new(set.clone());
                let mut next = 1_000_000u64;
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let mut batch = Vec::new();
                    let mut planned = Vec::new();
                    {
                        let reference = reference.lock().await;
                        let ids: Vec<&String> = reference.keys().collect();
                        for _ in 0..20 {
                            let choice = rng.u8(0..10);
                            if choice < 3 || ids.is_empty() {
                                next += 1;
                                let repo = REPOS[rng.usize(0..REPOS.len())];
                                let id = format!("{repo}_new/n{next}.rs");
                                let content = format!("fn added_{next}() {{ searchable_token }}");
                                batch.push(
                                    BulkOp::index(
                                        &alias,
                                        &id,
                                        blob(repo, &format!("new/n{next}.rs"), &content),
                                    )
                                    .routing(repo),
                                );
                                planned.push((id, Some((repo.to_string(), content))));
                            } else {
                                let id = ids[rng.usize(0..ids.len())].clone();
                                if planned.iter().any(|(p, _)| *p == id) {
                                    continue;
                                }
                                let repo = reference[&id].0.clone();
                                if choice < 7 {
                                    let content = format!("updated {round} {}", rng.u32(..));
                                    let path = id.split_once('_').unwrap().1.to_string();
                                    batch.push(
                                        BulkOp::index(&alias, &id, blob(&repo, &path, &content))
                                            .routing(&repo),
                                    );
                                    planned.push((id, Some((repo, content))));
                                } else {
                                    batch.push(BulkOp::delete(&alias, &id).routing(&repo));
                                    planned.push((id, None));
                                }
                            }
                        }
                    }
                    let in_copy = copying.load(Ordering::Relaxed);
                    let summary = set.client().bulk_write(batch, &set.bulk_options()).await;
                    assert_eq!(summary.failed, 0, "writer: {:?}", summary.failures);
                    {
                        let mut reference = reference.lock().await;
                        for (id, value) in planned {
                            match value {
                                Some(v) => {
                                    reference.insert(id, v);
                                }
                                None => {
                                    reference.remove(&id);
                                }
                            }
                        }
                    }
                    ops.fetch_add(20, Ordering::Relaxed);
                    if in_copy && copying.load(Ordering::Relaxed) {
                        during_copy.fetch_add(1, Ordering::Relaxed);
                    }
                    // Repository statuses: a new error text (a partial update), or removed,
                    // now and then.
                    if round.is_multiple_of(3) {
                        let repo = format!("w{}", rng.u8(0..6));
                        let id = RepoId::new(&repo).unwrap();
                        if rng.u8(0..4) == 0 {
                            store.remove(&id).await.unwrap();
                            repos.lock().await.insert(repo, None);
                        } else {
                            let name = format!("{repo} as of {round}");
                            store.fail(&id, &name).await.unwrap();
                            repos.lock().await.insert(repo, Some(name));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            })
        };
        Writer {
            stop,
            ops,
            during_copy,
            reference,
            repos,
            handle,
        }
    }

    async fn stop(self) -> (Reference, BTreeMap<String, Option<String>>, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.expect("the writer failed");
        (
            self.reference.lock().await.clone(),
            self.repos.lock().await.clone(),
            self.ops.load(Ordering::Relaxed),
            self.during_copy.load(Ordering::Relaxed),
        )
    }
}

/// A reader that keeps searching the blobs alias; counts searches and failures.
struct Reader {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl Reader {
    fn start(set: IndexSet) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let alias = set.alias(IndexKind::Blobs);
                let (mut searches, mut failures) = (0u64, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let result = set
                        .client()
                        .search(
                            &alias,
                            &json!({ "query": { "match": { "blob.content": "searchable_token" } }, "size": 5 }),
                            &SearchOptions::default(),
                        )
                        .await;
                    searches += 1;
                    match result {
                        Ok(r) if r.shards_failed == 0 && r.total > 0 => {}
                        Ok(r) => failures.push(format!("{r:?}")),
                        Err(e) => failures.push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (searches, failures)
            })
        };
        Reader { stop, handle }
    }

    async fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap()
    }
}

async fn driver(set: &IndexSet, services: &trawl_stack::Services) -> ReindexDriver {
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(services, set).await.unwrap();
    ReindexDriver::new(set.clone(), redis, registry)
        .unwrap()
        .with_poll_interval(Duration::from_millis(100))
}

fn slow_copy(kinds: Vec<IndexKind>, rps: f64) -> ReindexOptions {
    ReindexOptions {
        kinds,
        slices_per_shard: 2,
        max_running_slices: 2,
        batch_size: 100,
        requests_per_second: Some(rps),
        retention: Duration::from_secs(3600),
        ..ReindexOptions::default()
    }
}

/// Repository id → the error text of its status document.
async fn stored_repos(set: &IndexSet) -> BTreeMap<String, String> {
    let client = set.client();
    let alias = set.alias(IndexKind::Repos);
    client.refresh(&alias).await.unwrap();
    let mut scroll = client
        .scroll(
            &alias,
            json!({ "match_all": {} }),
            json!([{ "repo_id": "asc" }]),
            500,
        )
        .await
        .unwrap();
    let mut repos = BTreeMap::new();
    while let Some(page) = scroll.next_page().await.unwrap() {
        for hit in page {
            repos.insert(
                hit.source["repo_id"].as_str().unwrap().to_string(),
                hit.source["last_error"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    scroll.close().await.unwrap();
    repos
}

/// The whole scenario, shared with the three-node cluster test: fill, then reindex while a
/// writer and a reader run; check zero failed searches and an exact final state.
pub(crate) async fn live_reindex(set: &IndexSet, driver: ReindexDriver, docs: usize, rps: f64) {
    let reference = fill(set, docs).await;
    let copying = Arc::new(AtomicBool::new(false));
    let stages = Arc::new(std::sync::Mutex::new(Vec::<ReindexStage>::new()));
    let driver = {
        let (copying, stages) = (copying.clone(), stages.clone());
        driver.with_observer(Arc::new(move |task: &ReindexTask| {
            copying.store(task.stage == ReindexStage::Copying, Ordering::Relaxed);
            let mut stages = stages.lock().unwrap();
            if stages.last() != Some(&task.stage) {
                stages.push(task.stage);
            }
        }))
    };
    let reader = Reader::start(set.clone());
    let writer = Writer::start(set.clone(), reference, copying.clone(), 7);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let task = driver
        .start(&slow_copy(vec![IndexKind::Blobs, IndexKind::Repos], rps))
        .await
        .unwrap();
    let took = started.elapsed();
    // Writes after the swap go to the new indices only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (reference, repos, ops, during_copy) = writer.stop().await;
    let (searches, failures) = reader.stop().await;

    assert_eq!(task.stage, ReindexStage::Done, "{task:?}");
    assert_eq!(
        *stages.lock().unwrap(),
        vec![
            ReindexStage::Created,
            ReindexStage::IndicesCreated,
            ReindexStage::Mirroring,
            ReindexStage::Copying,
            ReindexStage::Copied,
            ReindexStage::Compared,
            ReindexStage::SettingsRestored,
            ReindexStage::Swapped,
            ReindexStage::Done,
        ]
    );
    eprintln!(
        "reindex of {docs} docs took {took:?}; writer: {ops} ops, {during_copy} batches during the copy; reader: {searches} searches"
    );
    assert!(
        during_copy >= 3,
        "the writer must have written during the copy"
    );
    assert!(searches >= 20, "{searches}");
    assert!(
        failures.is_empty(),
        "{} failed searches: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );

    // The aliases point at the new indices, which hold exactly the replayed writes.
    for index in &task.indices {
        let live = set.client().alias_targets(&index.alias).await.unwrap();
        assert_eq!(live, vec![index.new.clone()]);
        assert!(
            set.client().index_exists(&index.old).await.unwrap(),
            "kept for retention"
        );
        // The balancer may move the new shards again (held in place during the copy).
        let settings = set.client().get_settings(&index.new).await.unwrap();
        assert_eq!(
            settings[&index.new]["index.routing.rebalance.enable"], "all",
            "{}",
            index.new
        );
    }
    let stored = contents(set).await;
    let missing: Vec<_> = reference
        .keys()
        .filter(|k| !stored.contains_key(*k))
        .take(5)
        .collect();
    let resurrected: Vec<_> = stored
        .keys()
        .filter(|k| !reference.contains_key(*k))
        .take(5)
        .collect();
    let stale: Vec<_> = reference
        .iter()
        .filter(|(k, v)| stored.get(*k).is_some_and(|s| s != *v))
        .map(|(k, _)| k)
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && resurrected.is_empty() && stale.is_empty(),
        "lost writes {missing:?}, resurrected deletes {resurrected:?}, stale updates {stale:?} ({} stored, {} expected)",
        stored.len(),
        reference.len()
    );
    let expected_repos: BTreeMap<String, String> = repos
        .into_iter()
        .filter_map(|(id, name)| name.map(|n| (id, n)))
        .collect();
    assert_eq!(stored_repos(set).await, expected_repos);
    // Mirroring stopped.
    assert_not_mirroring(set).await;
}

#[tokio::test]
async fn writes_and_searches_go_on_during_a_reindex() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-live")
        .await
        .unwrap();
    let driver = driver(&set, &services).await;
    live_reindex(&set, driver, 3000, 400.0).await;

    // Cleanup keeps the old indices within the retention, removes them with --force.
    let driver = self::driver(&set, &services).await;
    assert!(driver.cleanup(false).await.unwrap().is_empty());
    let task = driver.status(None).await.unwrap().unwrap();
    let deleted = driver.cleanup(true).await.unwrap();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    for index in &task.indices {
        assert!(!set.client().index_exists(&index.old).await.unwrap());
    }
    let task = driver.status(None).await.unwrap().unwrap();
    assert_eq!(task.stage, ReindexStage::CleanedUp);
}

/// `cargo xtask reindex start` killed with SIGKILL during the copy; its lock expires; a
/// new driver resumes the stored task (polling the slices the dead one started) and
/// finishes with the exact documents.
#[tokio::test]
async fn a_killed_driver_resumes_and_finishes() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-kill")
        .await
        .unwrap();
    let reference = fill(&set, 2000).await;
    // The command builds the new index from its configuration: keeping the content too.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[indices.blobs]\ncontent_in_source = true\n").unwrap();
    let mut child = std::process::Command::new(crate::indexing::xtask_binary())
        .args(["reindex", "start", "--kinds", "blobs", "--batch-size", "50"])
        .env("TRAWL_CONFIG", config.path())
        .args([
            "--requests-per-second",
            "300",
            "--lock-ttl-secs",
            "3",
            "--json",
        ])
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let driver = driver(&set, &services)
        .await
        .with_lock_ttl(Duration::from_secs(3));
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed = loop {
        if let Some(task) = driver.status(None).await.unwrap()
            && task.stage == ReindexStage::Copying
            && task.progress().0 >= 200
        {
            child.kill().unwrap();
            child.wait().unwrap();
            break task;
        }
        assert!(Instant::now() < deadline, "the copy never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the driver ended early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The dead driver's lock is still there for a moment; then it expires.
    match driver.resume(None).await {
        Err(ReindexError::Locked { .. }) => {}
        other => panic!("expected the lock to be held still: {other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let task = driver.resume(None).await.unwrap();
    assert_eq!(task.id, killed.id);
    assert_eq!(task.stage, ReindexStage::Done);
    let index = &task.indices[0];
    assert!(index.slices.iter().all(|s| s.done));
    assert_eq!(index.old_count, Some(2000));
    assert_eq!(index.new_count, Some(2000));
    assert_eq!(
        set.client().alias_targets(&index.alias).await.unwrap(),
        vec![index.new.clone()]
    );
    assert_eq!(contents(&set).await, reference);
    assert_not_mirroring(&set).await;
}

/// Abort during the copy (from another driver, while one runs): the running driver undoes
/// the task; the aliases stay on the old indices, the new ones are gone, writes are no
/// longer copied, and a new task can start.
#[tokio::test]
async fn abort_leaves_the_old_indices_serving() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-abort")
        .await
        .unwrap();
    let reference = fill(&set, 2000).await;
    let old = set
        .client()
        .alias_targets(&set.alias(IndexKind::Blobs))
        .await
        .unwrap();
    let running = {
        let driver = driver(&set, &services).await;
        tokio::spawn(async move {
            driver
                .start(&slow_copy(vec![IndexKind::Blobs], 200.0))
                .await
        })
    };
    let driver = driver(&set, &services).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        if let Some(task) = driver.status(None).await.unwrap()
            && task.stage == ReindexStage::Copying
        {
            break task;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let aborted = driver.abort(None).await.unwrap();
    assert_eq!(aborted.id, task.id);
    assert_eq!(aborted.stage, ReindexStage::Aborted);
    match running.await.unwrap() {
        Err(ReindexError::Aborted { id }) => assert_eq!(id, task.id),
        other => panic!("the running driver should report the abort: {other:?}"),
    }
    let alias = set.alias(IndexKind::Blobs);
    assert_eq!(set.client().alias_targets(&alias).await.unwrap(), old);
    assert!(
        !set.client()
            .index_exists(&task.indices[0].new)
            .await
            .unwrap()
    );
    assert_not_mirroring(&set).await;
    // Writes go to the old index only, and do not bring the deleted one back.
    let summary = set
        .client()
        .bulk_write(
            vec![
                BulkOp::index(&alias, "r0_after.rs", blob("r0", "after.rs", "after abort"))
                    .routing("r0"),
            ],
            &set.bulk_options(),
        )
        .await;
    assert_eq!(summary.failed, 0, "{:?}", summary.failures);
    assert!(
        !set.client()
            .index_exists(&task.indices[0].new)
            .await
            .unwrap()
    );
    let mut expected = reference;
    expected.insert("r0_after.rs".into(), ("r0".into(), "after abort".into()));
    assert_eq!(contents(&set).await, expected);
    // Nothing is left active: a new task may start.
    assert!(driver.active().await.unwrap().is_none());
}

/// Refusals that protect data: a second task while one is unfinished; the tool's own
/// state indices; an index set without write routes.
#[tokio::test]
async fn unsafe_requests_are_refused() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-refuse")
        .await
        .unwrap();
    let driver = driver(&set, &services).await;
    let err = driver
        .create(&ReindexOptions {
            kinds: vec![IndexKind::Migrations],
            ..ReindexOptions::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not reindexed this way"), "{err}");
    // Not while a migration runner runs (migrations may write by query, not mirrored).
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let runner_lock = trawl_migrations::RunnerLock::new(
        redis,
        &trawl_indexer::RedisKeys::new(set.names()),
        Duration::from_secs(30),
    );
    let held = runner_lock.acquire().await.unwrap();
    let err = driver.create(&ReindexOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("migration runner is running"),
        "{err}"
    );
    held.release().await.unwrap();
    let task = driver
        .create(&slow_copy(vec![IndexKind::Blobs], 100.0))
        .await
        .unwrap();
    let err = driver.create(&ReindexOptions::default()).await.unwrap_err();
    assert!(
        matches!(&err, ReindexError::Active { id, .. } if *id == task.id),
        "{err}"
    );
    assert!(err.to_string().contains("reindex resume"), "{err}");
    let aborted = driver.abort(None).await.unwrap();
    assert_eq!(aborted.stage, ReindexStage::Aborted);

    let bare = IndexSet::unrouted(
        set.client().clone(),
        set.names().clone(),
        set.options().clone(),
    );
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let err = ReindexDriver::new(bare, redis, registry).unwrap_err();
    assert!(err.to_string().contains("write routes"), "{err}");
}

/// A copy that cannot succeed (documents with a field the current, strict definition no
/// longer has): each slice is retried up to its limit, then the task fails, deletes the
/// new index and leaves the alias on the old one, which keeps serving.
#[tokio::test]
async fn a_failing_copy_fails_the_task_and_leaves_the_old_index() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-fail")
        .await
        .unwrap();
    let reference = fill(&set, 200).await;
    let alias = set.alias(IndexKind::Blobs);
    let old = set.client().alias_targets(&alias).await.unwrap();
    // The live index has a field the current definition dropped, and a document uses it.
    set.client()
        .put_mapping(
            &alias,
            &json!({ "properties": { "legacy": { "type": "keyword" } } }),
        )
        .await
        .unwrap();
    let mut doc = blob("r1", "legacy.rs", "legacy");
    doc["legacy"] = json!("yes");
    let summary = set
        .client()
        .bulk_write(
            vec![BulkOp::index(&alias, "r1_legacy.rs", doc).routing("r1")],
            &set.bulk_options(),
        )
        .await;
    assert_eq!(summary.failed, 0, "{:?}", summary.failures);

    let driver = driver(&set, &services).await;
    let err = driver
        .start(&ReindexOptions {
            kinds: vec![IndexKind::Blobs],
            max_slice_attempts: 2,
            ..ReindexOptions::default()
        })
        .await
        .unwrap_err();
    let ReindexError::Failed { id, reason } = &err else {
        panic!("expected a failed task: {err}");
    };
    assert!(reason.contains("failed 2 times"), "{reason}");
    assert!(reason.contains("strict"), "{reason}");
    let task = driver.task(id).await.unwrap().unwrap();
    assert_eq!(task.stage, ReindexStage::Failed);
    assert_eq!(
        task.indices[0].slices.iter().map(|s| s.attempts).max(),
        Some(2)
    );
    assert_eq!(set.client().alias_targets(&alias).await.unwrap(), old);
    assert!(
        !set.client()
            .index_exists(&task.indices[0].new)
            .await
            .unwrap()
    );
    assert_not_mirroring(&set).await;
    let mut expected = reference;
    expected.insert("r1_legacy.rs".into(), ("r1".into(), "legacy".into()));
    assert_eq!(contents(&set).await, expected);
    assert!(driver.active().await.unwrap().is_none());
}

/// The barrier a reindex relies on: after a change of mirror targets, waiting returns only
/// once every writer that began before has ended — or died (its ticket's deadline passed);
/// writers that begin after the change get the new targets.
#[tokio::test]
async fn write_routes_wait_for_writers_that_began_before_a_change() {
    use trawl_client::WriteMirror as _;
    let services = require_services!();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let ns = format!("{}-", trawl_tests::unique_name("routes"));
    // The dead writer's ticket below outlives the test unless removed.
    let keys = trawl_indexer::RedisKeys::namespaced(ns.as_str()).unwrap();
    let _keys = trawl_tests::KeyCleanup::new(services.redis.connection_url(), keys.scan_pattern());
    let routes = trawl_indexer::WriteRoutes::new(redis.clone(), keys.clone())
        .with_writer_ttl(Duration::from_secs(60));

    let early = routes.begin().await.unwrap();
    assert!(early.targets.is_empty());
    let writers = routes
        .set_mirror("a-blobs", Some("a-blobs-2"))
        .await
        .unwrap();
    assert_eq!(writers.len(), 1);
    let late = routes.begin().await.unwrap();
    assert_eq!(
        late.targets.get("a-blobs").map(String::as_str),
        Some("a-blobs-2")
    );
    // The late writer does not hold the barrier; the early one does until it ends.
    let ender = {
        let routes = routes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            routes.end(early).await;
        })
    };
    let started = Instant::now();
    routes.wait_for_writers(&writers).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
    ender.await.unwrap();
    routes.end(late).await;

    // A writer that dies without ending holds the barrier only until its deadline.
    let short =
        trawl_indexer::WriteRoutes::new(redis, keys).with_writer_ttl(Duration::from_millis(600));
    let _dead = short.begin().await.unwrap();
    let writers = short.set_mirror("a-blobs", None).await.unwrap();
    assert_eq!(writers.len(), 1);
    let started = Instant::now();
    short.wait_for_writers(&writers).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(short.targets().await.unwrap().is_empty());
}

/// No alias of the set is mirrored any more (the task stopped or undid its mirroring).
async fn assert_not_mirroring(set: &IndexSet) {
    let targets = set.write_routes().unwrap().targets().await.unwrap();
    assert!(targets.is_empty(), "still mirrored: {targets:?}");
}

/// `reindex start` without `--kinds` rebuilds the records indices too when the deployment
/// has them: every alias ends on a new index, with its documents.
#[tokio::test]
async fn reindex_start_without_kinds_rebuilds_every_alias_the_deployment_has() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "reindex-default")
        .await
        .unwrap();
    fill(&set, 100).await;
    let kinds = [
        IndexKind::Blobs,
        IndexKind::Commits,
        IndexKind::Repos,
        IndexKind::Issues,
        IndexKind::MergeRequests,
        IndexKind::Notes,
    ];
    let mut before = Vec::new();
    for kind in kinds {
        let targets = set.client().alias_targets(&set.alias(kind)).await.unwrap();
        assert_eq!(targets.len(), 1, "{kind:?}: {targets:?}");
        before.push(targets[0].clone());
    }
    let output = std::process::Command::new(crate::indexing::xtask_binary())
        .args(["reindex", "start", "--json"])
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (kind, old) in kinds.into_iter().zip(before) {
        let now = set.client().alias_targets(&set.alias(kind)).await.unwrap();
        assert_eq!(now.len(), 1, "{kind:?}: {now:?}");
        assert_ne!(now[0], old, "{kind:?} was not rebuilt");
    }
    assert_eq!(
        set.client()
            .count(&set.alias(IndexKind::Blobs), None)
            .await
            .unwrap(),
        100
    );
}
