//! The indexer against the real engine and Redis: after every run, the repository's
//! documents are exactly what its head says — paths, blob ids, commits — through adds,
//! edits, deletes, renames, a force push, special files, an interruption and a lock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_indexer::indexing::stages::Stage;
use trawl_indexer::{
    IndexMode, IndexProgress, IndexSet, IndexingOptions, LockError, RepoIndexer, RepoLocks,
};
use trawl_registry::{Documents, RepoId, RepoSource, RepoSpec, Visibility};
use trawl_tests::{
    register_and_index, require_services, test_indices, test_registry, workspace_root,
};

/// A scratch git repository driven with the git CLI (the tests' way to make history; the
/// indexer itself never runs git).
pub struct TestRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("work");
        std::fs::create_dir(&path).unwrap();
        let repo = TestRepo { _dir: dir, path };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "protocol.file.allow=always",
            ])
            .args(args)
            .current_dir(&self.path)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.path.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// `path -> blob oid` of the head tree, submodules left out (they get no document).
    pub fn head_files(&self) -> BTreeMap<String, String> {
        let listing = self.git(&["ls-tree", "-r", "HEAD"]);
        listing
            .lines()
            .filter(|l| !l.is_empty())
            .filter_map(|line| {
                let (meta, path) = line.split_once('\t')?;
                let mut parts = meta.split_whitespace();
                let (_mode, kind, oid) = (parts.next()?, parts.next()?, parts.next()?);
                (kind == "blob").then(|| (path.to_string(), oid.to_string()))
            })
            .collect()
    }

    pub fn head_commits(&self) -> Vec<String> {
        let mut shas: Vec<String> = self
            .git(&["rev-list", "HEAD"])
            .lines()
            .map(str::to_owned)
            .collect();
        shas.sort();
        shas
    }
}

pub async fn locks(services: &trawl_stack::Services, namespace: &str, ttl: Duration) -> RepoLocks {
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    RepoLocks::new(
        redis,
        trawl_indexer::RedisKeys::namespaced(namespace).unwrap(),
        ttl,
    )
}

pub async fn indexer(services: &trawl_stack::Services, set: &IndexSet) -> RepoIndexer {
    indexer_with(services, set, IndexingOptions::default()).await
}

pub(crate) async fn indexer_with(
    services: &trawl_stack::Services,
    set: &IndexSet,
    options: IndexingOptions,
) -> RepoIndexer {
    let locks = locks(services, set.names().prefix(), Duration::from_secs(30)).await;
    let registry = test_registry(services, set).await.unwrap();
    RepoIndexer::new(set.clone(), registry, locks, options)
}

/// `path -> blob oid` of the repository's blob documents, and its commit shas.
pub async fn indexed(set: &IndexSet, repo: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let client = set.client();
    let query = json!({ "term": { "repo_id": repo } });
    let mut files = BTreeMap::new();
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        client.refresh(&set.alias(kind)).await.unwrap();
    }
    let mut scroll = client
        .scroll(
            &set.alias(IndexKind::Blobs),
            query.clone(),
            json!([{ "_doc": "asc" }]),
            500,
        )
        .await
        .unwrap();
    while let Some(page) = scroll.next_page().await.unwrap() {
        for hit in page {
            let blob = &hit.source["blob"];
            let path = blob["path"].as_str().unwrap().to_string();
            assert_eq!(hit.id, format!("{repo}:{path}"), "document id");
            assert_eq!(hit.source["repo_id"], repo);
            let previous = files.insert(path.clone(), blob["oid"].as_str().unwrap().to_string());
            assert!(previous.is_none(), "two documents for {path}");
        }
    }
    scroll.close().await.unwrap();
    let mut commits = Vec::new();
    let mut scroll = client
        .scroll(
            &set.alias(IndexKind::Commits),
            query,
            json!([{ "_doc": "asc" }]),
            500,
        )
        .await
        .unwrap();
    while let Some(page) = scroll.next_page().await.unwrap() {
        for hit in page {
            commits.push(hit.source["commit"]["sha"].as_str().unwrap().to_string());
        }
    }
    scroll.close().await.unwrap();
    commits.sort();
    (files, commits)
}

pub(crate) async fn assert_exact(set: &IndexSet, id: &str, repo: &TestRepo) {
    let (files, commits) = indexed(set, id).await;
    assert_eq!(files, repo.head_files(), "blob documents of {id}");
    assert_eq!(commits, repo.head_commits(), "commit documents of {id}");
}

pub(crate) fn spec(id: &str, repo: &TestRepo) -> RepoSpec {
    let mut spec = RepoSpec::new(RepoId::new(id).unwrap(), source(&repo.path));
    spec.visibility = Visibility::Public;
    spec
}

/// The registry's form of a local path.
pub(crate) fn source(path: &std::path::Path) -> RepoSource {
    RepoSource::new(path.display().to_string()).unwrap()
}

async fn get_doc(set: &IndexSet, repo: &str, path: &str) -> serde_json::Value {
    set.client()
        .get_document(
            &set.alias(IndexKind::Blobs),
            &format!("{repo}:{path}"),
            Some(repo),
        )
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no document for {path}"))
}

#[tokio::test]
async fn incremental_runs_keep_the_exact_document_set() {
    let services = require_services!();
    let (set, _cleanup) = trawl_tests::test_indices_keeping_content(&services, "incr")
        .await
        .unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = TestRepo::new();
    let spec = spec("incr", &repo);
    let run = || async {
        register_and_index(&indexer, &spec, Arc::default())
            .await
            .unwrap()
    };

    // An empty repository: nothing to index, no error.
    let report = run().await;
    assert_eq!(report.mode, IndexMode::Empty);
    assert_eq!(indexed(&set, "incr").await.0.len(), 0);

    repo.write("src/main.rs", "fn main() { println!(\"hello\"); }\n");
    repo.write("src/lib/parser.rs", "pub fn parseHttpHeader() {}\n");
    repo.write("README.md", "# incr\n");
    repo.write("docs/guide.md", "guide\n");
    let first = repo.commit("first");
    let report = run().await;
    assert_eq!(report.mode, IndexMode::Full);
    assert_eq!(report.to.as_deref(), Some(first.as_str()));
    assert_eq!((report.files_indexed, report.commits_indexed), (4, 1));
    // A first run's counts come from its writes; they are the engine's.
    assert_eq!((report.blob_count, report.commit_count), (4, 1));
    assert_exact(&set, "incr", &repo).await;

    // Add, modify, delete, rename (git sees a delete and an add).
    repo.write("src/new.rs", "pub const NEW: u8 = 1;\n");
    repo.write("src/main.rs", "fn main() { println!(\"changed\"); }\n");
    std::fs::remove_file(repo.path.join("docs/guide.md")).unwrap();
    repo.git(&["mv", "src/lib/parser.rs", "src/lib/http_parser.rs"]);
    repo.commit("second");
    repo.write("src/new.rs", "pub const NEW: u8 = 2;\n");
    let third = repo.commit("third");
    let report = run().await;
    assert_eq!(report.mode, IndexMode::Incremental);
    assert_eq!(report.from.as_deref(), Some(first.as_str()));
    assert_eq!(report.to.as_deref(), Some(third.as_str()));
    // src/new.rs, src/main.rs and http_parser.rs indexed; guide.md and parser.rs deleted.
    assert_eq!((report.files_indexed, report.files_deleted), (3, 2));
    assert_eq!(report.commits_indexed, 2);
    assert_exact(&set, "incr", &repo).await;
    let main = get_doc(&set, "incr", "src/main.rs").await;
    assert!(
        main["blob"]["content"]
            .as_str()
            .unwrap()
            .contains("changed")
    );
    assert_eq!(main["blob"]["language"], "rust");
    assert_eq!(main["blob"]["commit_sha"], third);

    // Nothing new: up to date, nothing written.
    let report = run().await;
    assert_eq!(report.mode, IndexMode::UpToDate);
    assert_eq!(report.docs_written, 0);

    // The stored status advanced, with counts.
    let status = indexer
        .status()
        .get(&RepoId::new("incr").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.last_indexed_commit.as_deref(), Some(third.as_str()));
    assert_eq!(status.blob_count, Some(4));
    assert_eq!(status.commit_count, Some(3));
    assert_eq!(status.checkpoint, None);
    assert_eq!(status.status.as_deref(), Some("indexed"));

    // Force push: history rewritten, the old head no longer an ancestor.
    repo.git(&["reset", "-q", "--hard", &first]);
    repo.write("only-after-force-push.txt", "rewritten\n");
    repo.commit("rewritten");
    let report = run().await;
    assert_eq!(report.mode, IndexMode::Rebuild);
    assert_exact(&set, "incr", &repo).await;
    let (files, commits) = indexed(&set, "incr").await;
    assert!(!files.contains_key("src/new.rs"));
    assert_eq!(
        (report.blob_count, report.commit_count),
        (files.len() as u64, commits.len() as u64)
    );
}

/// Time the indexer's runs spent purging so far.
fn purge_time(indexer: &RepoIndexer) -> Duration {
    let stages = indexer.stage_times().snapshot();
    stages
        .into_iter()
        .find(|(stage, _)| *stage == Stage::Purge)
        .map(|(_, time)| time)
        .unwrap_or_default()
}

/// A repository of `files` in one commit, registered as `id`; what the registry then
/// knows of its documents.
async fn registered(
    registry: &trawl_registry::Registry,
    id: &RepoId,
    files: &[(&str, &str)],
) -> (TestRepo, Documents) {
    let repo = TestRepo::new();
    for (path, content) in files {
        repo.write(path, content);
    }
    repo.commit("one");
    trawl_tests::register(registry, &spec(id.as_str(), &repo))
        .await
        .unwrap();
    let registration = registry.get(id).await.unwrap().unwrap();
    (repo, registration.documents)
}

#[tokio::test]
async fn a_first_run_purges_only_what_an_earlier_registration_may_have_left() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "again").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let registry = indexer.registry().clone();
    let id = RepoId::new("again").unwrap();

    // Registered the first time: the registry knows no document of it, and its first run
    // looks for none.
    let (before, documents) = registered(
        &registry,
        &id,
        &[("kept.txt", "in both\n"), ("only-before.txt", "left\n")],
    )
    .await;
    assert_eq!(documents, Documents::None);
    indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!(purge_time(&indexer), Duration::ZERO, "nothing to purge");
    assert_exact(&set, "again", &before).await;
    let marked = registry.get(&id).await.unwrap().unwrap();
    assert_eq!(marked.documents, Documents::Marked);

    // Removed without purging, its status lost too, and registered again with another
    // source: the earlier documents may still be there, and the first run purges them.
    registry.remove(&id).await.unwrap();
    indexer.status().remove(&id).await.unwrap();
    let (after, documents) = registered(
        &registry,
        &id,
        &[
            ("kept.txt", "in both, changed\n"),
            ("only-after.txt", "new\n"),
        ],
    )
    .await;
    assert_eq!(documents, Documents::Unconfirmed);
    let report = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!(report.mode, IndexMode::Full);
    assert!(purge_time(&indexer) > Duration::ZERO, "purged");
    assert_exact(&set, "again", &after).await;
    assert_eq!((report.blob_count, report.commit_count), (2, 1));
}

#[tokio::test]
async fn a_deleted_index_is_not_recreated_by_a_write_nor_refilled_only_in_part() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "gone").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("gone").unwrap();
    let (repo, _) = registered(indexer.registry(), &id, &[("a.txt", "first\n")]).await;
    indexer.index(&id, Arc::default()).await.unwrap();
    let status = indexer.status().get(&id).await.unwrap().unwrap();

    // The blobs index is deleted behind trawl's back (its alias goes with it).
    let alias = set.alias(IndexKind::Blobs);
    for index in set.client().alias_targets(&alias).await.unwrap() {
        set.client().delete_index(&index).await.unwrap();
    }
    repo.write("b.txt", "second\n");
    repo.commit("two");
    let err = indexer.index(&id, Arc::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, trawl_indexer::IndexError::IndexMissing { index, .. } if *index == alias),
        "{text}"
    );
    assert!(
        text.contains(&alias) && text.contains(" index`") && text.contains("not advanced"),
        "{text}"
    );
    // The engine was not let create an index under the alias's name.
    assert!(
        !set.client().index_exists(&alias).await.unwrap(),
        "{alias} was created"
    );
    let after = indexer.status().get(&id).await.unwrap().unwrap();
    assert_eq!(after.last_indexed_commit, status.last_indexed_commit);

    // Created again, the index is empty: the statuses beside it no longer describe it, so
    // the next run (a plain one) writes the whole tree, not only what changed.
    // `index` as users run it says so.
    let out = Command::new(xtask_binary())
        .args([
            "index",
            repo.path.to_str().unwrap(),
            "--id",
            "gone",
            "--json",
        ])
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("note: created {alias}, empty")) && said.contains("whole tree"),
        "{said}"
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["mode"], "full", "{reports}");
    assert_exact(&set, "gone", &repo).await;
    // Nothing lost: a fresh deployment's first ensure has no status to touch, and one that
    // creates nothing leaves the statuses alone.
    assert!(set.ensure().await.unwrap().is_empty());
    let report = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!(report.mode, IndexMode::UpToDate);
}

#[tokio::test]
async fn an_index_standing_under_an_alias_name_is_refused_by_name() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "squat").await.unwrap();
    let alias = set.alias(IndexKind::Commits);
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let _squatter = engine.cleanup(alias.clone());
    for index in set.client().alias_targets(&alias).await.unwrap() {
        set.client().delete_index(&index).await.unwrap();
    }
    // What an engine makes of a write there without `require_alias`.
    set.client()
        .create_index(
            &alias,
            &json!({ "mappings": { "properties": { "x": { "type": "long" } } } }),
        )
        .await
        .unwrap();
    let err = set.ensure().await.unwrap_err();
    assert!(
        matches!(&err, trawl_indexer::IndexSetError::AliasTaken { alias: a } if *a == alias),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("DELETE /{alias}")) && text.contains("index"),
        "{text}"
    );
    assert!(
        set.client().alias_targets(&alias).await.unwrap().is_empty(),
        "nothing was created"
    );
    // Deleted as the error says, the index comes back under its alias.
    set.client().delete_index(&alias).await.unwrap();
    assert_eq!(set.ensure().await.unwrap(), std::slice::from_ref(&alias));
    assert_eq!(set.client().alias_targets(&alias).await.unwrap().len(), 1);
}

#[tokio::test]
async fn runs_finishing_together_are_each_searchable_when_they_report_done() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "together").await.unwrap();
    // Only the runs' own refreshes make documents searchable here.
    let manual = json!({ "index": { "refresh_interval": "-1" } });
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        set.client()
            .put_settings(&set.alias(kind), &manual)
            .await
            .unwrap();
    }
    let indexer = indexer(&services, &set).await;
    let repos: Vec<(RepoId, TestRepo)> = (0..12)
        .map(|i| {
            (
                RepoId::new(format!("together-{i}")).unwrap(),
                TestRepo::new(),
            )
        })
        .collect();
    for (id, repo) in &repos {
        repo.write("first.txt", "first\n");
        repo.commit("first");
        trawl_tests::register(indexer.registry(), &spec(id.as_str(), repo))
            .await
            .unwrap();
    }
    // Rounds of runs by one indexer's clones, as a worker's slots: their refreshes are
    // shared. Each run counts its documents the moment it reports done, without a
    // refresh of its own.
    for round in 1..=3u64 {
        let runs = repos.iter().enumerate().map(|(i, (id, repo))| {
            let (indexer, set) = (indexer.clone(), set.clone());
            for f in 0..i {
                repo.write(&format!("r{round}-{f}.txt"), format!("{round} {f}\n"));
            }
            repo.commit("more");
            async move {
                let report = indexer.index(id, Arc::default()).await.unwrap();
                let query = json!({ "term": { "repo_id": id.as_str() } });
                let visible = set
                    .client()
                    .count(&set.alias(IndexKind::Blobs), Some(&query))
                    .await
                    .unwrap();
                assert_eq!(report.blob_count, 1 + round * i as u64);
                assert_eq!(visible, report.blob_count, "{id} searchable when done");
            }
        });
        futures::future::join_all(runs).await;
    }
}

#[tokio::test]
async fn special_files_get_the_documents_the_design_asks_for() {
    let services = require_services!();
    let (set, _cleanup) = trawl_tests::test_indices_keeping_content(&services, "special")
        .await
        .unwrap();
    let indexer = indexer(&services, &set).await;

    // A repository to use as a submodule.
    let sub = TestRepo::new();
    sub.write("inner.txt", "inner\n");
    sub.commit("inner");

    let repo = TestRepo::new();
    repo.write(
        "bin/logo.png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01",
    );
    let big = "x".repeat(1024 * 1024 + 10);
    repo.write("data/huge.log", &big);
    let latin1: Vec<u8> = "Le café est prêt, où est la clé? Très bien, merci à vous, ça va."
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    repo.write("docs/latin1.txt", &latin1);
    repo.write(
        "docs/junk.bin.txt",
        [0x81u8, 0x8D, 0xC3, 0x28, 0xA0, 0xFF, 0xFE, 0x41],
    );
    std::os::unix::fs::symlink("src/target.rs", repo.path.join("link.rs")).unwrap();
    repo.write("src/target.rs", "fn target() {}\n");
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.path.to_str().unwrap(),
        "vendor/sub",
    ]);
    repo.commit("special files");

    let report = register_and_index(&indexer, &spec("special", &repo), Arc::default())
        .await
        .unwrap();
    assert_eq!(report.submodules_skipped, 1);
    assert_exact(&set, "special", &repo).await;
    let (files, _) = indexed(&set, "special").await;
    assert!(!files.contains_key("vendor/sub"), "submodules are skipped");
    assert!(files.contains_key(".gitmodules"));

    let png = get_doc(&set, "special", "bin/logo.png").await;
    assert_eq!(png["blob"]["binary"], true);
    assert_eq!(png["blob"]["content"], "");
    assert_eq!(png["blob"]["extension"], "png");

    let huge = get_doc(&set, "special", "data/huge.log").await;
    assert_eq!(huge["blob"]["truncated"], true);
    assert_eq!(huge["blob"]["content"], "");
    assert_eq!(huge["blob"]["size"], big.len());

    let text = get_doc(&set, "special", "docs/latin1.txt").await;
    assert_eq!(text["blob"]["lossy"], false);
    assert!(text["blob"]["content"].as_str().unwrap().contains("café"));
    assert_eq!(text["blob"]["encoding"], "windows-1252");

    let junk = get_doc(&set, "special", "docs/junk.bin.txt").await;
    assert_eq!(junk["blob"]["binary"], false);
    assert!(
        junk["blob"]["lossy"] == true || junk["blob"]["encoding"] != "utf-8",
        "{junk}"
    );

    let link = get_doc(&set, "special", "link.rs").await;
    assert_eq!(link["blob"]["symlink"], true);
    assert_eq!(link["blob"]["content"], "src/target.rs");
}

#[tokio::test]
async fn forks_are_indexed_under_their_own_id_and_locks_keep_indexers_apart() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "forks").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let origin = TestRepo::new();
    origin.write("lib.rs", "pub fn shared() {}\n");
    origin.commit("origin");
    let fork_dir = tempfile::tempdir().unwrap();
    let fork_path = fork_dir.path().join("fork.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&origin.path)
        .arg(&fork_path)
        .output()
        .unwrap();
    assert!(out.status.success());

    register_and_index(&indexer, &spec("origin", &origin), Arc::default())
        .await
        .unwrap();
    // A bare clone, named by a file:// URL.
    let mut fork = RepoSpec::new(
        RepoId::new("origin-fork").unwrap(),
        RepoSource::new(format!("file://{}", fork_path.display())).unwrap(),
    );
    fork.forked_from = Some(RepoId::new("origin").unwrap());
    let report = register_and_index(&indexer, &fork, Arc::default())
        .await
        .unwrap();
    assert_eq!(report.blob_count, 1);
    let (origin_files, _) = indexed(&set, "origin").await;
    let (fork_files, fork_commits) = indexed(&set, "origin-fork").await;
    assert_eq!(origin_files, fork_files);
    assert_eq!(fork_commits.len(), 1);
    let stored = indexer.registry().get(&fork.id).await.unwrap().unwrap();
    assert_eq!(stored.spec.forked_from, fork.forked_from);

    // While one indexer holds a repository's lock, another is refused, not blocked.
    let locks = locks(&services, set.names().prefix(), Duration::from_secs(30)).await;
    let held = locks.acquire(&fork.id).await.unwrap();
    let err = register_and_index(&indexer, &fork, Arc::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, trawl_indexer::IndexError::Lock(LockError::Held { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("origin-fork"), "{err}");
    held.release().await.unwrap();
    register_and_index(&indexer, &fork, Arc::default())
        .await
        .unwrap();

    // Any ref on request: a branch other than the default one.
    origin.git(&["checkout", "-q", "-b", "dev"]);
    origin.write("dev-only.rs", "pub fn dev() {}\n");
    let dev_head = origin.commit("dev work");
    origin.git(&["checkout", "-q", "main"]);
    let mut dev = spec("origin-dev", &origin);
    dev.git_ref = Some(trawl_registry::GitRef::new("dev").unwrap());
    let report = register_and_index(&indexer, &dev, Arc::default())
        .await
        .unwrap();
    assert_eq!(report.to.as_deref(), Some(dev_head.as_str()));
    let (dev_files, _) = indexed(&set, "origin-dev").await;
    assert!(dev_files.contains_key("dev-only.rs"));
    let (main_files, _) = indexed(&set, "origin").await;
    assert!(!main_files.contains_key("dev-only.rs"));
    // A ref that does not exist is an error naming it; nothing is written.
    let mut missing = spec("origin-missing", &origin);
    missing.git_ref = Some(trawl_registry::GitRef::new("no-such-branch").unwrap());
    let err = register_and_index(&indexer, &missing, Arc::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

pub(crate) fn xtask_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug/xtask");
    assert!(
        bin.exists(),
        "{} is missing: run the suite through `cargo xtask test` (or `cargo build -p xtask`)",
        bin.display()
    );
    bin
}

fn write_many(repo: &TestRepo, n: usize) {
    for i in 0..n {
        let body = format!(
            "// file {i}\npub fn handleRequest{i}(input: &str) -> String {{\n    let snake_case_{i} = input.to_uppercase();\n    format!(\"{{snake_case_{i}}} {}\")\n}}\n",
            "lorem ipsum dolor sit amet ".repeat(40)
        );
        repo.write(&format!("src/m{:02}/f{i:05}.rs", i % 37), body);
    }
}

#[tokio::test]
async fn a_killed_indexer_resumes_from_its_checkpoint() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "resume").await.unwrap();
    let repo = TestRepo::new();
    write_many(&repo, 3000);
    repo.commit("many files");
    let id = RepoId::new("resume").unwrap();

    // The indexer as users run it, killed with SIGKILL once a checkpoint is stored.
    let mut child = Command::new(xtask_binary())
        .args(["index", repo.path.to_str().unwrap(), "--id", "resume"])
        .args([
            "--checkpoint-files",
            "150",
            "--lock-ttl-secs",
            "3",
            "--json",
        ])
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = trawl_indexer::StatusStore::new(set.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        if let Some(status) = store.get(&id).await.unwrap()
            && let Some(checkpoint) = status.checkpoint
            && checkpoint.files_done >= 300
        {
            child.kill().unwrap();
            break checkpoint.files_done;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the indexer finished before it could be interrupted"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint within 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.wait().unwrap();
    assert!(killed_at < 3000, "killed mid-run");

    // The dead indexer's lock expires by itself; then a new run resumes.
    let indexer = indexer_with(
        &services,
        &set,
        IndexingOptions {
            checkpoint_files: 150,
            ..IndexingOptions::default()
        },
    )
    .await;
    let spec = RepoSpec::new(id.clone(), source(&repo.path));
    let report = loop {
        match register_and_index(&indexer, &spec, Arc::new(IndexProgress::default())).await {
            Err(trawl_indexer::IndexError::Lock(LockError::Held { .. })) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert!(report.resumed, "{report:?}");
    let checkpoint_now = report.skipped_files;
    assert!(checkpoint_now >= killed_at, "{report:?}");
    // It redid at most one checkpoint's worth of files, not the repository.
    assert_eq!(report.files_indexed, 3000 - checkpoint_now, "{report:?}");
    assert_exact(&set, "resume", &repo).await;
}
