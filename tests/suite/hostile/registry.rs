//! The registry as users meet it through `cargo xtask`: a visibility change is never
//! undone by a later command, two repositories' documents never share an id, a removed
//! repository is unsearchable at once and `--purge` leaves nothing behind, registrations
//! survive `recreate-index`, an older export never undoes a newer change, and ids outside
//! the grammar are refused with the grammar in the message.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands as _;
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_indexer::{BlobQuery, CodeSearch, IndexSet, StatusStore};
use trawl_registry::{Principal, Registry, RepoId};
use trawl_tests::{require_services, test_indices, test_registry};

use super::{xtask, xtask_ok};
use crate::indexing::TestRepo;

/// Repository ids of the hits for `text` as `principal`, sorted.
async fn hits(search: &CodeSearch, principal: &str, text: &str) -> Vec<String> {
    let principal = Principal::parse(principal).unwrap();
    let results = search
        .search_blobs(&principal, &BlobQuery::new(text))
        .await
        .unwrap();
    let mut repos: Vec<String> = results
        .hits
        .iter()
        .map(|h| format!("{}:{}", h.repo_id, h.path))
        .collect();
    repos.sort();
    repos
}

fn search(set: &IndexSet, registry: &Registry) -> CodeSearch {
    CodeSearch::new(set.clone(), registry.clone())
}

#[tokio::test]
async fn a_visibility_change_is_never_undone_by_a_later_plain_index() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-vis").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let prefix = set.names().prefix();
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn zebraVisibilityToken() {}\n");
    repo.commit("one");
    let path = repo.path.to_str().unwrap();
    let search = search(&set, &registry);

    // The README's forms: registered public, then made private for alice by `index`.
    xtask_ok(
        prefix,
        &[
            "index",
            path,
            "--id",
            "vis",
            "--visibility",
            "public",
            "--register",
        ],
    );
    assert_eq!(
        hits(&search, "anonymous", "zebraVisibilityToken").await,
        ["vis:src/lib.rs"]
    );
    xtask_ok(
        prefix,
        &[
            "index",
            path,
            "--id",
            "vis",
            "--visibility",
            "private",
            "--reader",
            "alice",
        ],
    );
    assert!(
        hits(&search, "anonymous", "zebraVisibilityToken")
            .await
            .is_empty()
    );
    assert_eq!(
        hits(&search, "alice", "zebraVisibilityToken").await.len(),
        1
    );

    // A plain `index`, an `index` of the path without flags, a re-`seed`-style
    // registration and a new push: none of them brings the old visibility back.
    xtask_ok(prefix, &["index"]);
    xtask_ok(prefix, &["index", path, "--id", "vis"]);
    repo.write("src/more.rs", "fn zebraVisibilityToken2() {}\n");
    repo.commit("two");
    xtask_ok(prefix, &["index"]);
    assert!(
        hits(&search, "anonymous", "zebraVisibilityToken")
            .await
            .is_empty(),
        "made private, stays private"
    );
    assert!(
        hits(&search, "bob", "zebraVisibilityToken")
            .await
            .is_empty()
    );
    assert_eq!(
        hits(&search, "alice", "zebraVisibilityToken").await,
        ["vis:src/lib.rs", "vis:src/more.rs"]
    );
    let shown: Value =
        serde_json::from_str(&xtask_ok(prefix, &["repo", "show", "vis", "--json"])).unwrap();
    assert_eq!(shown["visibility"], "private");
    assert_eq!(shown["readers"], json!(["alice"]));
    assert_eq!(shown["status"]["status"], "indexed");

    // `repo set` is in effect for the very next search.
    xtask_ok(prefix, &["repo", "set", "vis", "--visibility", "internal"]);
    assert_eq!(hits(&search, "bob", "zebraVisibilityToken").await.len(), 2);
    assert!(
        hits(&search, "anonymous", "zebraVisibilityToken")
            .await
            .is_empty()
    );
    // Another path under a registered id is refused, not silently re-pointed.
    let other = TestRepo::new();
    other.write("x.rs", "fn x() {}\n");
    other.commit("x");
    let out = xtask(
        prefix,
        &["index", other.path.to_str().unwrap(), "--id", "vis"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repo set vis --source"), "{err}");
}

#[tokio::test]
async fn documents_of_different_repositories_never_share_an_id() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-ids").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let prefix = set.names().prefix();
    // `acme_api` + `src/main.rs` and `acme` + `api_src/main.rs` were one id before.
    let private = TestRepo::new();
    private.write("src/main.rs", "fn main() { quokkaPrivateToken(); }\n");
    private.commit("private");
    let public = TestRepo::new();
    public.write("api_src/main.rs", "fn main() { quokkaPublicToken(); }\n");
    public.commit("public");
    xtask_ok(
        prefix,
        &[
            "index",
            private.path.to_str().unwrap(),
            "--id",
            "acme_api",
            "--visibility",
            "private",
            "--reader",
            "alice",
        ],
    );
    xtask_ok(
        prefix,
        &[
            "index",
            public.path.to_str().unwrap(),
            "--id",
            "acme",
            "--visibility",
            "public",
        ],
    );
    let search = search(&set, &registry);
    assert_eq!(
        hits(&search, "alice", "quokkaPrivateToken").await,
        ["acme_api:src/main.rs"]
    );
    assert_eq!(
        hits(&search, "anonymous", "quokkaPublicToken").await,
        ["acme:api_src/main.rs"]
    );
    assert!(
        hits(&search, "anonymous", "quokkaPrivateToken")
            .await
            .is_empty()
    );
    assert!(hits(&search, "bob", "quokkaPrivateToken").await.is_empty());
    let blobs = set.alias(IndexKind::Blobs);
    set.client().refresh(&blobs).await.unwrap();
    assert_eq!(set.client().count(&blobs, None).await.unwrap(), 2);
}

#[tokio::test]
async fn a_removed_repository_is_unsearchable_at_once_and_purge_leaves_nothing() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-remove").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let prefix = set.names().prefix();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn marmotRemovalToken() {}\n");
    repo.write("b.rs", "fn other() {}\n");
    repo.commit("one");
    let path = repo.path.to_str().unwrap();
    xtask_ok(
        prefix,
        &["index", path, "--id", "gone", "--visibility", "public"],
    );
    let search = search(&set, &registry);
    assert_eq!(
        hits(&search, "anonymous", "marmotRemovalToken").await.len(),
        1
    );

    // Removed without a purge: nobody reads it from the next search on, its documents
    // stay (and `index` no longer touches it).
    xtask_ok(prefix, &["repo", "remove", "gone"]);
    for who in ["anonymous", "alice"] {
        assert!(hits(&search, who, "marmotRemovalToken").await.is_empty());
    }
    let count = |kind| {
        let set = set.clone();
        async move {
            let alias = set.alias(kind);
            set.client().refresh(&alias).await.unwrap();
            set.client()
                .count(&alias, Some(&json!({ "term": { "repo_id": "gone" } })))
                .await
                .unwrap()
        }
    };
    assert_eq!(count(IndexKind::Blobs).await, 2);
    let out = xtask(prefix, &["repo", "show", "gone"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));

    // A lock left behind (a crashed indexer) does not stop the purge once it expires; the
    // purge deletes documents, status and lock.
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let locks = trawl_indexer::RepoLocks::new(
        redis.clone(),
        trawl_indexer::RedisKeys::namespaced(prefix).unwrap(),
        Duration::from_secs(2),
    );
    let held = locks.acquire(&RepoId::new("gone").unwrap()).await.unwrap();
    drop(held); // a crashed holder: the lock expires by itself
    xtask_ok(prefix, &["repo", "remove", "gone", "--purge"]);
    assert_eq!(count(IndexKind::Blobs).await, 0);
    assert_eq!(count(IndexKind::Commits).await, 0);
    let status = StatusStore::new(set.clone());
    assert!(
        status
            .get(&RepoId::new("gone").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let mut conn = redis.clone();
    let keys: Vec<String> = conn.keys(format!("*{prefix}*gone*")).await.unwrap();
    assert!(keys.is_empty(), "keys left: {keys:?}");
    // Removing what is not registered, without --purge, says so.
    let out = xtask(prefix, &["repo", "remove", "gone"]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn registrations_survive_recreate_index_and_a_worker_keeps_going() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-recreate").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let prefix = set.names().prefix();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn walrusRecreateToken() {}\n");
    repo.commit("one");
    xtask_ok(
        prefix,
        &[
            "index",
            repo.path.to_str().unwrap(),
            "--id",
            "kept",
            "--visibility",
            "internal",
        ],
    );
    xtask_ok(prefix, &["recreate-index", "--yes"]);
    let listed: Value =
        serde_json::from_str(&xtask_ok(prefix, &["repo", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["id"], "kept");
    assert_eq!(listed[0]["visibility"], "internal");

    // A worker processes a push after the recreation: indexed from scratch, not failed.
    let queue = trawl_indexer::Queue::new(
        trawl_tests::redis_connection(&services.redis)
            .await
            .unwrap(),
        trawl_indexer::QueueConfig {
            namespace: prefix.to_string(),
            ..trawl_indexer::QueueConfig::default()
        },
    )
    .unwrap();
    let indexer = crate::indexing::indexer(&services, &set).await;
    let worker = Arc::new(trawl_indexer::Worker::new(
        queue.clone(),
        indexer,
        trawl_indexer::WorkerOptions {
            idle_poll: Duration::from_millis(50),
            ..trawl_indexer::WorkerOptions::default()
        },
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(stopped).await }
    });
    xtask_ok(prefix, &["queue", "enqueue", "kept"]);
    let search = search(&set, &registry);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while hits(&search, "carol", "walrusRecreateToken")
        .await
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never indexed after the recreation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(
        (stats.processed, stats.failed, stats.dead_lettered),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn an_older_export_never_undoes_a_newer_change() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-export").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let prefix = set.names().prefix();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.commit("one");
    let path = repo.path.to_str().unwrap();
    xtask_ok(
        prefix,
        &["repo", "add", path, "--id", "exp", "--visibility", "public"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("repos.toml");
    xtask_ok(prefix, &["repo", "export", "-o", file.to_str().unwrap()]);
    xtask_ok(prefix, &["repo", "set", "exp", "--visibility", "private"]);

    let out = xtask(
        prefix,
        &["repo", "import", file.to_str().unwrap(), "--update"],
    );
    assert!(!out.status.success(), "a stale entry is refused");
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
    let now = registry
        .get(&RepoId::new("exp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.spec.visibility, trawl_registry::Visibility::Private);
    // Without --update nothing registered changes either; new entries are added.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        "\n[[repo]]\nid = \"imported\"\nsource = \"{path}\"\nvisibility = \"internal\"\n"
    ));
    std::fs::write(&file, text).unwrap();
    xtask_ok(prefix, &["repo", "import", file.to_str().unwrap()]);
    let all = registry.list().await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.spec.id.as_str()).collect();
    assert_eq!(ids, ["exp", "imported"]);
    assert_eq!(all[0].spec.visibility, trawl_registry::Visibility::Private);
    // A set from an older view (`--if-revision`) is refused too.
    let out = xtask(
        prefix,
        &[
            "repo",
            "set",
            "exp",
            "--visibility",
            "public",
            "--if-revision",
            "1",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("older than the registered revision"));
}

#[tokio::test]
async fn ids_and_names_outside_the_grammar_are_refused_with_the_grammar() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-grammar").await.unwrap();
    let prefix = set.names().prefix();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.commit("one");
    let path = repo.path.to_str().unwrap();
    for bad in ["Acme", "a/b", "a:b", "-x", "a b", "é", &"x".repeat(129)] {
        let out = xtask(prefix, &["repo", "add", path, &format!("--id={bad}")]);
        assert!(!out.status.success(), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("a-z, 0-9"), "{bad:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    for bad in ["anonymous", "al ice", "a\u{1b}[31m"] {
        let out = xtask(
            prefix,
            &[
                "repo",
                "add",
                path,
                "--id",
                "ok",
                &format!("--reader={bad}"),
            ],
        );
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("user name"));
    }
    let out = xtask(
        prefix,
        &["repo", "add", path, "--id", "ok", "--ref", "a..b"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("'..'"));
    let out = xtask(prefix, &["search", "x", "--as", "a\u{7}b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("user name"));
}

/// A worker in this process, stopped on drop.
struct BackgroundWorker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<trawl_indexer::WorkerStats, trawl_indexer::QueueError>>,
}

impl BackgroundWorker {
    async fn start(
        services: &trawl_stack::Services,
        set: &IndexSet,
        options: trawl_indexer::IndexingOptions,
    ) -> (BackgroundWorker, trawl_indexer::Queue) {
        let queue = trawl_indexer::Queue::new(
            trawl_tests::redis_connection(&services.redis)
                .await
                .unwrap(),
            trawl_indexer::QueueConfig {
                namespace: set.names().prefix().to_string(),
                ..trawl_indexer::QueueConfig::default()
            },
        )
        .unwrap();
        queue.init().await.unwrap();
        let locks =
            crate::indexing::locks(services, set.names().prefix(), Duration::from_secs(30)).await;
        let indexer = trawl_indexer::RepoIndexer::new(
            set.clone(),
            test_registry(services, set).await.unwrap(),
            locks,
            options,
        );
        let worker = trawl_indexer::Worker::new(
            queue.clone(),
            indexer,
            trawl_indexer::WorkerOptions {
                idle_poll: Duration::from_millis(20),
                ..trawl_indexer::WorkerOptions::default()
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move { worker.run(stopped).await });
        (BackgroundWorker { stop, task }, queue)
    }

    async fn stop(self) -> trawl_indexer::WorkerStats {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap()
    }
}

async fn drained(queue: &trawl_indexer::Queue) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = queue.status().await.unwrap();
        if s.pending + s.leased + s.delayed == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not drained: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_change_made_while_a_worker_indexes_wins_over_the_workers_copy() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-midrun").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let repo = TestRepo::new();
    for i in 0..1500 {
        repo.write(
            &format!("src/f{i:04}.rs"),
            format!("fn lemurMidRunToken{i}() {{}}\n"),
        );
    }
    repo.commit("many");
    let mut spec = trawl_registry::RepoSpec::new(
        RepoId::new("midrun").unwrap(),
        crate::indexing::source(&repo.path),
    );
    spec.visibility = trawl_registry::Visibility::Public;
    registry.add(&spec).await.unwrap();
    let (worker, queue) = BackgroundWorker::start(
        &services,
        &set,
        trawl_indexer::IndexingOptions {
            checkpoint_files: 100,
            bulk_max_ops: 100,
            ..trawl_indexer::IndexingOptions::default()
        },
    )
    .await;
    queue
        .enqueue(&[trawl_indexer::QueueRef::Repo(spec.id.clone())])
        .await
        .unwrap();
    // Mid-run: documents are being written (a checkpoint was stored).
    let status = StatusStore::new(set.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if status
            .get(&spec.id)
            .await
            .unwrap()
            .is_some_and(|s| s.checkpoint.is_some())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let search = search(&set, &registry);
    let blobs = set.alias(IndexKind::Blobs);
    loop {
        set.client().refresh(&blobs).await.unwrap();
        if !hits(&search, "anonymous", "lemurMidRunToken")
            .await
            .is_empty()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing searchable mid-run"
        );
    }
    let private = trawl_registry::RepoChange {
        visibility: Some(trawl_registry::Visibility::Private),
        ..Default::default()
    };
    registry.set(&spec.id, &private, None).await.unwrap();
    // The very next search, while the worker still writes the public copy's documents.
    assert!(
        hits(&search, "anonymous", "lemurMidRunToken")
            .await
            .is_empty()
    );
    drained(&queue).await;
    let done = status.get(&spec.id).await.unwrap().unwrap();
    assert_eq!(done.status.as_deref(), Some("indexed"));
    assert!(
        hits(&search, "anonymous", "lemurMidRunToken")
            .await
            .is_empty()
    );
    assert!(hits(&search, "alice", "lemurMidRunToken").await.is_empty());
    let now = registry.get(&spec.id).await.unwrap().unwrap();
    assert_eq!(
        now.spec.visibility,
        trawl_registry::Visibility::Private,
        "the worker never writes it back"
    );
    worker.stop().await;
}

/// A blob document as the release before the registry wrote it: id `<repo>_<path>`, blob
/// schema 2.
fn legacy_blob(repo: &str, path: &str, content: &str, oid: &str) -> (String, Value) {
    let context = trawl_indexer::document::RepoContext {
        id: RepoId::new(repo).unwrap(),
        visibility: trawl_registry::Visibility::Public,
    };
    let path_bytes = trawl_indexer::git::RepoPath::from(path);
    let doc = trawl_indexer::document::render_blob(
        &context,
        trawl_indexer::document::BlobInput {
            path: &path_bytes,
            oid,
            kind: trawl_indexer::git::EntryKind::Regular,
            content: trawl_indexer::git::BlobContent::Content(content.as_bytes().to_vec()),
            commit_sha: "0000000000000000000000000000000000000000",
        },
    );
    let mut source = doc.source;
    source["schema_version"] = json!(2);
    (format!("{repo}_{path}"), source)
}

#[tokio::test]
async fn an_old_deployment_moves_to_the_registry_and_new_ids_while_searches_work() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-upgrade").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let client = set.client().clone();
    // Two repositories whose files shared an id: acme_api (private, alice) and acme
    // (public); plus `lone`, internal.
    let acme_api = TestRepo::new();
    acme_api.write("src/main.rs", "fn main() { ibexUpgradeToken(); }\n");
    let acme_api_head = acme_api.commit("api");
    let acme = TestRepo::new();
    acme.write("api_src/main.rs", "fn main() { ibexUpgradeToken(); }\n");
    acme.write("README.md", "ibexUpgradeToken docs\n");
    let acme_head = acme.commit("acme");
    let lone = TestRepo::new();
    lone.write("lib.rs", "pub fn ibexUpgradeToken() {}\n");
    let lone_head = lone.commit("lone");

    // What the old release left: registrations inside repository documents, statuses
    // without a blob schema, blob documents under the old ids (the colliding one written
    // twice: acme's file overwrote acme_api's).
    let repos_alias = set.alias(IndexKind::Repos);
    for (id, repo, head, visibility, readers) in [
        (
            "acme_api",
            &acme_api,
            &acme_api_head,
            "private",
            json!(["alice"]),
        ),
        ("acme", &acme, &acme_head, "public", json!([])),
        ("lone", &lone, &lone_head, "internal", json!([])),
    ] {
        let doc = json!({
            "type": "repo", "repo_id": id, "name": id, "source": repo.path.display().to_string(),
            "visibility": visibility, "readers": readers, "indexed_ref": null,
            "last_indexed_commit": head, "status": "indexed", "schema_version": 1,
            "blob_count": 1, "commit_count": 1
        });
        client
            .index_document(
                &repos_alias,
                Some(id),
                &doc,
                None,
                trawl_client::Refresh::No,
            )
            .await
            .unwrap();
        for (path, oid) in repo.head_files() {
            let content = std::fs::read_to_string(repo.path.join(&path)).unwrap();
            let (doc_id, doc) = legacy_blob(id, &path, &content, &oid);
            client
                .index_document(
                    &set.alias(IndexKind::Blobs),
                    Some(&doc_id),
                    &doc,
                    Some(id),
                    trawl_client::Refresh::No,
                )
                .await
                .unwrap();
        }
    }
    for kind in [IndexKind::Repos, IndexKind::Blobs] {
        client.refresh(&set.alias(kind)).await.unwrap();
    }
    assert!(registry.list().await.unwrap().is_empty());

    // The new release: migrations with its workers, and a searcher that must never fail.
    let (worker, queue) =
        BackgroundWorker::start(&services, &set, trawl_indexer::IndexingOptions::default()).await;
    let searching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let searcher = tokio::spawn({
        let search = search(&set, &registry);
        let searching = searching.clone();
        async move {
            let mut searches = 0u64;
            while searching.load(std::sync::atomic::Ordering::Relaxed) {
                for who in ["anonymous", "alice", "bob"] {
                    let principal = Principal::parse(who).unwrap();
                    search
                        .search_blobs(&principal, &BlobQuery::new("ibexUpgradeToken"))
                        .await
                        .expect("searches keep working during the upgrade");
                    searches += 1;
                }
            }
            searches
        }
    });
    let ctx = trawl_migrations::MigrationContext::new(
        set.clone(),
        trawl_tests::redis_connection(&services.redis)
            .await
            .unwrap(),
        registry.clone(),
    );
    let runner =
        trawl_migrations::MigrationRunner::new(ctx, trawl_migrations::migrations::all()).unwrap();
    let report = tokio::time::timeout(
        Duration::from_secs(180),
        runner.run(trawl_migrations::RunOptions::default()),
    )
    .await
    .expect("the migrations finish")
    .unwrap();
    drained(&queue).await;
    searching.store(false, std::sync::atomic::Ordering::Relaxed);
    let searches = searcher.await.unwrap();
    worker.stop().await;
    assert!(searches > 0);
    assert!(report.completed.contains(&20261201000300), "{report:?}");

    // The registry holds what the documents held; the documents hold it no more.
    let all = registry.list().await.unwrap();
    let got: Vec<(String, String, Vec<String>)> = all
        .iter()
        .map(|r| {
            (
                r.spec.id.to_string(),
                r.spec.visibility.to_string(),
                r.spec.readers.iter().map(|u| u.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("acme".into(), "public".into(), vec![]),
            (
                "acme_api".into(),
                "private".into(),
                vec!["alice".to_string()]
            ),
            ("lone".into(), "internal".into(), vec![]),
        ]
    );
    client.refresh(&repos_alias).await.unwrap();
    assert_eq!(
        client
            .count(
                &repos_alias,
                Some(&json!({ "exists": { "field": "source" } }))
            )
            .await
            .unwrap(),
        0
    );
    // Every file under its new id, the lost one back; nothing under an old id.
    crate::indexing::assert_exact(&set, "acme_api", &acme_api).await;
    crate::indexing::assert_exact(&set, "acme", &acme).await;
    crate::indexing::assert_exact(&set, "lone", &lone).await;
    let search = search(&set, &registry);
    assert_eq!(
        hits(&search, "alice", "ibexUpgradeToken").await,
        [
            "acme:README.md",
            "acme:api_src/main.rs",
            "acme_api:src/main.rs",
            "lone:lib.rs"
        ]
    );
    assert_eq!(
        hits(&search, "anonymous", "ibexUpgradeToken").await,
        ["acme:README.md", "acme:api_src/main.rs"]
    );
    assert_eq!(
        hits(&search, "bob", "ibexUpgradeToken").await,
        ["acme:README.md", "acme:api_src/main.rs", "lone:lib.rs"]
    );
}
