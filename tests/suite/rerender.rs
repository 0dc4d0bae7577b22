//! Re-rendering through the indexer's own API: a backfill migration has the workers write
//! every document of an indexed repository again with the current definitions, in place,
//! and leaves the repository's status meaning what it always means (a later plain `index`
//! has nothing to do).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_indexer::{IndexMode, IndexProgress, StatusStore};
use trawl_migrations::helpers::{BackfillField, HelperMigration, MigrationHelper};
use trawl_migrations::{MigrationOptions, MigrationRunner, RunOptions};
use trawl_registry::RepoId;
use trawl_tests::{register_and_index, require_services, test_indices};

use crate::indexing::{TestRepo, assert_exact, indexer, spec};
use crate::migrations::{RunningWorker, context, count, deployment_queue, redis};

/// Removes `blob.line_count` from every blob document, as if a release before the field
/// existed had written them (the schema version stays current, so nothing else tells).
async fn strip_line_count(set: &trawl_indexer::IndexSet) {
    let blobs = set.alias(IndexKind::Blobs);
    set.client()
        .update_by_query(
            &blobs,
            &json!({ "match_all": {} }),
            Some(&json!({ "source": "ctx._source.blob.remove('line_count')" })),
            true,
        )
        .await
        .unwrap();
    set.client().refresh(&blobs).await.unwrap();
}

#[tokio::test]
async fn a_backfill_rerenders_every_document_in_place_and_leaves_the_status_meaning_what_it_did() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "rerender").await.unwrap();
    let redis = redis(&services).await;
    let repo = TestRepo::new();
    for i in 0..12 {
        repo.write(
            &format!("src/f{i}.rs"),
            "fn f() {\n    1\n}\n".repeat(i + 1),
        );
    }
    repo.write("README.md", "# rerender");
    let head = repo.commit("one");
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("rerender-one").unwrap();
    let first = register_and_index(&indexer, &spec(id.as_str(), &repo), Arc::default())
        .await
        .unwrap();
    assert_eq!(first.blob_count, 13);
    let store = StatusStore::new(set.clone());
    let before = store.get(&id).await.unwrap().unwrap();

    strip_line_count(&set).await;
    let with_field = json!({ "exists": { "field": "blob.line_count" } });
    assert_eq!(count(&set, IndexKind::Blobs, with_field.clone()).await, 0);
    // A plain run cannot bring the field back: the repository is up to date.
    let plain = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!((plain.mode, plain.docs_written), (IndexMode::UpToDate, 0));

    // The backfill, as a migration, with a worker of the current release.
    let backfill = BackfillField::new(IndexKind::Blobs, "blob.line_count");
    let options = MigrationOptions {
        throttle: Duration::from_millis(100),
        ..backfill.options()
    };
    let worker = RunningWorker::start(deployment_queue(&set, &redis), indexer.clone());
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        vec![Box::new(
            HelperMigration::new(20261124000100, "backfill_blob_line_count", backfill)
                .with_options(options),
        )],
    )
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(120), runner.run(RunOptions::default()))
        .await
        .expect("the backfill finishes")
        .unwrap();
    worker.stop().await;
    assert_eq!(report.completed, [20261124000100]);
    let record = runner.record(20261124000100).await.unwrap().unwrap();
    assert_eq!(record.state["enqueued"], 1, "{}", record.state);
    assert_eq!(record.state["orphans"], 0, "{}", record.state);

    // Every document has the field again, and the documents are exactly the head's.
    assert_eq!(count(&set, IndexKind::Blobs, with_field).await, 13);
    assert_exact(&set, id.as_str(), &repo).await;
    let readme = set
        .client()
        .get_document(
            &set.alias(IndexKind::Blobs),
            "rerender-one:README.md",
            Some(id.as_str()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(readme["blob"]["line_count"], 1);

    // The status says what it said: indexed at the same head, no checkpoint left.
    let after = store.get(&id).await.unwrap().unwrap();
    assert_eq!(after.checkpoint, None);
    assert_eq!(after.last_indexed_commit.as_deref(), Some(head.as_str()));
    assert_eq!(after.status.as_deref(), Some("indexed"));
    assert_eq!(after.blob_count, before.blob_count);
    assert_eq!(
        after.blob_schema_version,
        Some(IndexKind::Blobs.schema_version())
    );
    // A later plain run is a no-op delta, not a rebuild.
    let later = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!((later.mode, later.docs_written), (IndexMode::UpToDate, 0));
}

#[tokio::test]
async fn a_rerender_of_a_moved_head_writes_the_head_in_place_and_removes_what_is_gone() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "rerender-moved").await.unwrap();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.write("gone.rs", "fn gone() {}\n");
    repo.commit("one");
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("rerender-moved").unwrap();
    register_and_index(&indexer, &spec(id.as_str(), &repo), Arc::default())
        .await
        .unwrap();
    strip_line_count(&set).await;
    repo.git(&["rm", "-q", "gone.rs"]);
    repo.write("b.rs", "fn b() {}\n");
    let head = repo.commit("two");

    let report = indexer
        .rerender(&id, Arc::new(IndexProgress::default()))
        .await
        .unwrap();
    assert_eq!(report.mode, IndexMode::Rewrite);
    assert_eq!(report.to.as_deref(), Some(head.as_str()));
    assert_exact(&set, id.as_str(), &repo).await;
    let with_field = json!({ "exists": { "field": "blob.line_count" } });
    assert_eq!(count(&set, IndexKind::Blobs, with_field).await, 2);
    let status = StatusStore::new(set.clone())
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.checkpoint, None);
    assert_eq!(status.last_indexed_commit.as_deref(), Some(head.as_str()));
    // Asking again re-renders again (the request is not remembered as "done" anywhere);
    // a plain run has nothing to do.
    let again = indexer.rerender(&id, Arc::default()).await.unwrap();
    assert_eq!(again.mode, IndexMode::Rewrite);
    let plain = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!(plain.mode, IndexMode::UpToDate);
    // An unregistered repository is refused like a plain run.
    let err = indexer
        .rerender(&RepoId::new("rerender-nobody").unwrap(), Arc::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, trawl_indexer::IndexError::NotRegistered(_)),
        "{err}"
    );
}

#[tokio::test]
async fn an_interrupted_in_place_run_resumes_in_place_and_an_older_release_s_marker_still_resumes()
{
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "rerender-resume").await.unwrap();
    let repo = TestRepo::new();
    for i in 0..20 {
        repo.write(&format!("f{i}.rs"), format!("fn f{i}() {{}}\n"));
    }
    let head = repo.commit("one");
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("resume-in-place").unwrap();
    register_and_index(&indexer, &spec(id.as_str(), &repo), Arc::default())
        .await
        .unwrap();
    strip_line_count(&set).await;
    let store = StatusStore::new(set.clone());
    let with_field = json!({ "exists": { "field": "blob.line_count" } });

    // A whole-tree in-place run killed after 5 files: the rest is written in place, and
    // the first 5 are not written again (they were, by the killed run).
    let killed = trawl_indexer::Checkpoint {
        target: head.clone(),
        base: None,
        purged: false,
        in_place: true,
        files_done: 5,
        commits_done: 0,
    };
    store.save_checkpoint(&id, &killed).await.unwrap();
    let resumed = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!(
        (resumed.mode, resumed.resumed, resumed.skipped_files),
        (IndexMode::Rewrite, true, 5)
    );
    assert_exact(&set, id.as_str(), &repo).await;
    assert_eq!(
        count(&set, IndexKind::Blobs, with_field.clone()).await,
        15,
        "no purge: the 5 done before keep their documents as they were"
    );

    // The marker an earlier release's backfill stored (from scratch, `purged` set, no
    // `in_place`) still resumes without a purge.
    strip_line_count(&set).await;
    let mut marker = serde_json::to_value(trawl_indexer::Checkpoint {
        in_place: false,
        purged: true,
        files_done: 0,
        ..killed
    })
    .unwrap();
    marker.as_object_mut().unwrap().remove("in_place");
    let marker: trawl_indexer::Checkpoint = serde_json::from_value(marker).unwrap();
    store.save_checkpoint(&id, &marker).await.unwrap();
    let resumed = indexer.index(&id, Arc::default()).await.unwrap();
    assert_eq!((resumed.mode, resumed.resumed), (IndexMode::Full, true));
    assert_exact(&set, id.as_str(), &repo).await;
    assert_eq!(count(&set, IndexKind::Blobs, with_field).await, 20);
    let status = store.get(&id).await.unwrap().unwrap();
    assert_eq!(status.checkpoint, None);
}
