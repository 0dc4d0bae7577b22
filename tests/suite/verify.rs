//! `verify` against the real engine, Redis and PostgreSQL: documents changed behind
//! trawl's back (deleted, added, blob id rewritten) are found exactly, `--repair` plus a
//! worker makes the repository exact again, a repository whose indexed commit vanished
//! from git is reported rather than failing the check; and a reindex refuses to start
//! when the cluster lacks the free disk it asks for.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use trawl_analyzers::IndexKind;
use trawl_client::Refresh;
use trawl_indexer::verify::{RepoState, RepoVerdict, Verifier};
use trawl_indexer::{IndexingOptions, Queue, QueueConfig, Worker, WorkerOptions};
use trawl_migrations::reindex::{ReindexDriver, ReindexError, ReindexOptions};
use trawl_registry::RepoId;
use trawl_tests::{register_and_index, require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, assert_exact, indexer, spec};

fn verifier(set: &trawl_indexer::IndexSet, registry: trawl_registry::Registry) -> Verifier {
    Verifier::new(set.clone(), registry, IndexingOptions::default())
}

fn find<'a>(verdicts: &'a [RepoVerdict], id: &str) -> &'a RepoVerdict {
    verdicts
        .iter()
        .find(|v| v.repo.as_str() == id)
        .unwrap_or_else(|| panic!("no verdict for {id}: {verdicts:?}"))
}

/// Index, tamper with the documents behind trawl's back, verify finds exactly that (also
/// through `cargo xtask verify`, exit code 1); repair + a worker → exact again.
#[tokio::test]
async fn verify_finds_tampering_and_repair_restores_the_documents() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "verify").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = TestRepo::new();
    for name in ["a.rs", "b.rs", "c.rs", "d.rs"] {
        repo.write(
            &format!("src/{name}"),
            format!("fn {}() {{}}\n", &name[..1]),
        );
    }
    let first = repo.commit("first");
    repo.write("README.md", "# hello\n");
    repo.commit("second");
    let spec = spec("tamper", &repo);
    register_and_index(&indexer, &spec, Default::default())
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let verifier = verifier(&set, registry);
    let clean = verifier.verify_all().await.unwrap();
    assert_eq!(clean.len(), 1);
    assert_eq!(clean[0].state, RepoState::Exact, "{clean:?}");
    assert_eq!(clean[0].documents, 5 + 2);

    // Behind trawl's back: a file's and a commit's documents deleted, a document for no
    // file added, and one document's blob id rewritten.
    let client = set.client();
    let (blobs, commits) = (set.alias(IndexKind::Blobs), set.alias(IndexKind::Commits));
    let routing = Some("tamper");
    assert!(
        client
            .delete_document(&blobs, "tamper:src/b.rs", routing, Refresh::No)
            .await
            .unwrap()
    );
    assert!(
        client
            .delete_document(&commits, &format!("tamper_{first}"), routing, Refresh::No)
            .await
            .unwrap()
    );
    let mut ghost = client
        .get_document(&blobs, "tamper:src/a.rs", routing)
        .await
        .unwrap()
        .unwrap();
    ghost["blob"]["path"] = json!("src/ghost.rs");
    ghost["blob"]["file_name"] = json!("ghost.rs");
    client
        .index_document(
            &blobs,
            Some("tamper:src/ghost.rs"),
            &ghost,
            routing,
            Refresh::No,
        )
        .await
        .unwrap();
    client
        .update_document(
            &blobs,
            "tamper:src/c.rs",
            &json!({ "blob": { "oid": "0".repeat(40) } }),
            false,
            routing,
            Refresh::No,
        )
        .await
        .unwrap();

    let verdict = verifier.verify(&spec.id).await.unwrap();
    let RepoState::Drifted { files, commits } = &verdict.state else {
        panic!("expected drift, got {verdict:?}");
    };
    assert_eq!(files.missing.examples, ["src/b.rs"]);
    assert_eq!(files.extra.examples, ["src/ghost.rs"]);
    assert_eq!(files.stale.examples, ["src/c.rs"]);
    assert_eq!(
        (files.missing.count, files.extra.count, files.stale.count),
        (1, 1, 1)
    );
    assert_eq!(commits.missing.examples, std::slice::from_ref(&first));
    assert!(commits.extra.is_empty());

    // The command: exit code 1 on drift, the same findings in its JSON.
    let out = crate::hostile::xtask(set.names().prefix(), &["verify", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["drifted"], true);
    let only = &report["repositories"][0];
    assert_eq!(only["state"], "drifted");
    assert_eq!(only["files"]["stale"]["examples"], json!(["src/c.rs"]));

    // Repair: a full run queued, a worker drains it, the documents are exact again.
    let queue = Queue::new(
        trawl_tests::redis_connection(&services.redis)
            .await
            .unwrap(),
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..QueueConfig::default()
        },
    )
    .unwrap();
    queue.init().await.unwrap();
    let locks =
        crate::indexing::locks(&services, set.names().prefix(), Duration::from_secs(30)).await;
    let queued = verifier
        .repair(
            &queue,
            &locks,
            std::slice::from_ref(&verdict),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(queued, std::slice::from_ref(&spec.id));
    let worker = Worker::new(
        queue.clone(),
        indexer.clone(),
        WorkerOptions {
            concurrency: 1,
            idle_poll: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(20),
        },
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(async move { worker.run(stopped).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = queue.status().await.unwrap();
        if status.pending + status.leased + status.delayed == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "queue not drained: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(queue.status().await.unwrap().dead, 0, "{stats:?}");
    assert_exact(&set, "tamper", &repo).await;
    let after = verifier.verify(&spec.id).await.unwrap();
    assert_eq!(after.state, RepoState::Exact, "{after:?}");
    let out = crate::hostile::xtask(set.names().prefix(), &["verify", "--repo", "tamper"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository whose indexed commit was rewritten away and garbage-collected is its own
/// finding; the others of the deployment are still verified, a registered but never
/// indexed one is named, and an unknown `--repo` is an error naming the way out.
#[tokio::test]
async fn a_vanished_commit_is_a_finding_not_a_crash() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "verifygone").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let gone = TestRepo::new();
    gone.write("x.txt", "one\n");
    let old = gone.commit("to be rewritten");
    register_and_index(&indexer, &spec("gone", &gone), Default::default())
        .await
        .unwrap();
    gone.write("x.txt", "two\n");
    gone.git(&["commit", "-q", "-a", "--amend", "-m", "rewritten"]);
    gone.git(&["reflog", "expire", "--expire=now", "--all"]);
    gone.git(&["gc", "-q", "--prune=now"]);
    let fine = TestRepo::new();
    fine.write("y.txt", "y\n");
    fine.commit("y");
    register_and_index(&indexer, &spec("fine", &fine), Default::default())
        .await
        .unwrap();
    let never = TestRepo::new();
    never.write("z.txt", "z\n");
    never.commit("z");
    trawl_tests::register(indexer.registry(), &spec("never", &never))
        .await
        .unwrap();

    let registry = test_registry(&services, &set).await.unwrap();
    let verifier = verifier(&set, registry);
    let verdicts = verifier.verify_all().await.unwrap();
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert_eq!(
        find(&verdicts, "gone").state,
        RepoState::CommitGone {
            commit: old.clone()
        }
    );
    assert_eq!(find(&verdicts, "fine").state, RepoState::Exact);
    assert_eq!(find(&verdicts, "never").state, RepoState::NeverIndexed);

    let err = verifier
        .verify(&RepoId::new("nobody").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repo list"), "{err}");

    let out = crate::hostile::xtask(set.names().prefix(), &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("commit gone"), "{text}");
    assert!(text.contains(&old), "{text}");

    // `--repair` queues exactly the two that need a full run, and exits 0.
    let out = crate::hostile::xtask(set.names().prefix(), &["verify", "--repair", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["queued"], json!(["gone", "never"]));
    let queue = Queue::new(
        trawl_tests::redis_connection(&services.redis)
            .await
            .unwrap(),
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..QueueConfig::default()
        },
    )
    .unwrap();
    assert_eq!(queue.status().await.unwrap().pending, 2);
    let status = trawl_indexer::StatusStore::new(set.clone())
        .get(&RepoId::new("gone").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.last_indexed_commit, None, "forgotten for a full run");
}

/// A reindex asks for a multiple of the source indices' size free; a factor no disk can
/// meet (the real cluster's real numbers) refuses before anything is created, naming the
/// numbers and the override.
#[tokio::test]
async fn reindex_refuses_to_start_without_the_free_space_it_needs() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "nospace").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = TestRepo::new();
    repo.write("a.txt", "some content for the index to hold\n");
    repo.commit("a");
    register_and_index(&indexer, &spec("space", &repo), Default::default())
        .await
        .unwrap();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let driver = ReindexDriver::new(set.clone(), redis, registry).unwrap();
    let before = set
        .client()
        .alias_targets(&set.alias(IndexKind::Blobs))
        .await
        .unwrap();
    let err = driver
        .start(&ReindexOptions {
            kinds: vec![IndexKind::Blobs],
            free_space_factor: Some(1e12),
            ..ReindexOptions::default()
        })
        .await
        .unwrap_err();
    let ReindexError::NoSpace(shortfall) = &err else {
        panic!("expected a refusal for space, got {err}");
    };
    assert!(shortfall.source_bytes > 0, "{shortfall:?}");
    assert!(shortfall.free_bytes > 0, "{shortfall:?}");
    assert!(shortfall.needed_bytes > shortfall.free_bytes);
    let text = err.to_string();
    assert!(text.contains("--skip-space-check"), "{text}");
    assert!(text.contains("the cluster has"), "{text}");
    assert!(
        driver.list().await.unwrap().is_empty(),
        "no task was stored"
    );
    let after = set
        .client()
        .alias_targets(&set.alias(IndexKind::Blobs))
        .await
        .unwrap();
    assert_eq!(before, after, "nothing was created or swapped");
    // The default (twice the source) passes on this machine's disk.
    let task = driver
        .start(&ReindexOptions {
            kinds: vec![IndexKind::Blobs],
            retention: Duration::ZERO,
            ..ReindexOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(task.stage.as_str(), "done");
    driver.cleanup(true).await.unwrap();
}
