//! Migrations and re-renders given what nobody meant to give them, against the real
//! engine and Redis: stored states of the wrong shape (from another release, or edited by
//! hand), names and kinds `migrate new` must refuse, two re-renders of one repository at
//! once, and a re-render whose repository is gone.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::Refresh;
use trawl_indexer::{IndexError, IndexMode, LockError, StatusStore};
use trawl_migrations::helpers::{DeleteBelowSchemaVersion, HelperMigration};
use trawl_migrations::{
    MigrationError, MigrationOptions, MigrationRecord, MigrationRunner, RunOptions,
};
use trawl_registry::RepoId;
use trawl_tests::{register_and_index, require_services, test_indices};

use crate::indexing::{TestRepo, assert_exact, indexer, spec, xtask_binary};
use crate::migrations::{context, count, redis};

const VERSION: u64 = 20260101000000;

#[tokio::test]
async fn a_stored_state_of_the_wrong_shape_halts_the_migration_naming_it_and_stays_as_it_was() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "h-mig-state").await.unwrap();
    let redis = redis(&services).await;
    // Documents below schema 99: the helper has work, so the runner steps it.
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.commit("one");
    let indexer = indexer(&services, &set).await;
    register_and_index(&indexer, &spec("state-shape", &repo), Arc::default())
        .await
        .unwrap();
    let migration = HelperMigration::new(
        VERSION,
        "delete_below_99",
        DeleteBelowSchemaVersion::new(IndexKind::Blobs, 99),
    )
    .with_options(MigrationOptions {
        max_attempts: 1,
        retry_backoff: Duration::ZERO,
        ..MigrationOptions::default()
    });
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![Box::new(migration)],
    )
    .unwrap();
    let once = RunOptions { once: true };
    let alias = set.alias(IndexKind::Migrations);
    // Each fails before anything starts: no task is started for a state it cannot read.
    let hostile = [
        json!({ "deleted": "many" }),
        json!({ "task_failures": -1 }),
        json!({ "deleted": 1e300 }),
        json!({ "deleted": null }),
        json!({ "task": 5 }),
        json!({ "task": { "$gt": "" } }),
    ];
    for state in hostile {
        let mut planted = MigrationRecord::new(VERSION, "delete_below_99");
        planted.started_at = Some(jiff::Timestamp::now());
        planted.state = state.clone();
        set.client()
            .index_document(
                &alias,
                Some(&VERSION.to_string()),
                &serde_json::to_value(&planted).unwrap(),
                None,
                Refresh::WaitFor,
            )
            .await
            .unwrap();
        let err = runner.run(once).await.unwrap_err();
        assert!(
            matches!(err, MigrationError::Halted { .. }),
            "{state}: {err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("20260101000000 delete_below_99") && message.contains("does not read"),
            "{state}: {message}"
        );
        let record = runner.record(VERSION).await.unwrap().unwrap();
        assert_eq!(record.state, state, "the stored state is left as it was");
        assert!(record.halted);
        // A retry cannot mend it either, and leaves it alone.
        let retried = runner.retry(VERSION).await.unwrap();
        assert_eq!(retried.state, state);
    }
    let all = json!({ "term": { "repo_id": "state-shape" } });
    assert_eq!(
        count(&set, IndexKind::Blobs, all).await,
        1,
        "nothing deleted"
    );
}

fn xtask_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(xtask_binary())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs xtask")
}

#[tokio::test]
async fn migrate_new_refuses_hostile_names_and_kinds_and_writes_nothing() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("crates/migrations/src/migrations");
    let before: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    let long = "a".repeat(101);
    for name in [
        "",
        "../escape",
        "a/b",
        "Add",
        "a b",
        "a\u{1b}[31m",
        "naïve",
        "_x",
        "9lives",
        long.as_str(),
    ] {
        let out = xtask_in(&dir, &["migrate", "new", name]);
        assert!(!out.status.success(), "{name:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("snake_case"), "{name:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{name:?}: raw escape echoed");
    }
    let out = xtask_in(&dir, &["migrate", "new", "fine", "--kind", "backfil"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add-mappings, backfill"), "{stderr}");
    let after: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(before.len(), after.len(), "no file written");
}

#[tokio::test]
async fn two_rerenders_of_one_repository_at_once_leave_it_exact() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "h-rerender-race").await.unwrap();
    let repo = TestRepo::new();
    for i in 0..200 {
        repo.write(&format!("f{i}.rs"), format!("fn f{i}() {{}}\n"));
    }
    repo.commit("one");
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("race").unwrap();
    register_and_index(&indexer, &spec("race", &repo), Arc::default())
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        indexer.rerender(&id, Arc::default()),
        indexer.rerender(&id, Arc::default())
    );
    let mut rendered = 0;
    for result in [a, b] {
        match result {
            Ok(report) => {
                assert_eq!(report.mode, IndexMode::Rewrite);
                rendered += 1;
            }
            Err(IndexError::Lock(LockError::Held { .. })) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(rendered >= 1);
    assert_exact(&set, "race", &repo).await;
    let status = StatusStore::new(set.clone())
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status.checkpoint, status.status.as_deref()),
        (None, Some("indexed"))
    );
}

#[tokio::test]
async fn a_rerender_whose_repository_is_gone_fails_without_removing_a_document() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "h-rerender-gone").await.unwrap();
    let repo = TestRepo::new();
    repo.write("a.rs", "fn a() {}\n");
    repo.write("b.rs", "fn b() {}\n");
    let head = repo.commit("one");
    let indexer = indexer(&services, &set).await;
    let id = RepoId::new("gone-source").unwrap();
    let registered = spec("gone-source", &repo);
    register_and_index(&indexer, &registered, Arc::default())
        .await
        .unwrap();
    drop(repo);
    let err = indexer.rerender(&id, Arc::default()).await.unwrap_err();
    assert!(!matches!(err, IndexError::NotRegistered(_)), "{err}");
    let all: Value = json!({ "term": { "repo_id": "gone-source" } });
    assert_eq!(
        count(&set, IndexKind::Blobs, all).await,
        2,
        "search keeps finding it"
    );
    let status = StatusStore::new(set.clone())
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.last_indexed_commit.as_deref(), Some(head.as_str()));
    assert_eq!(status.checkpoint, None);
    assert_eq!(status.status.as_deref(), Some("failed"));
}
