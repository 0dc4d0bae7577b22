//! The bulk worker of application records against the real PostgreSQL, Redis and engine:
//! every kind's create, update and delete reaches the index exactly; repeated tracking
//! writes once with the last state; project refs carry visibility and members to the
//! registry and the documents; a worker killed mid-batch or cut off from the database
//! loses nothing; and a visibility change racing a stream of record writes never leaves
//! a document a non-member could read.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use trawl_analyzers::IndexKind;
use trawl_records::{AppDb, AppDbConfig, RecordKind, RecordRef, RecordsWorkerOptions};
use trawl_registry::{Principal, RepoChange, Visibility};
use trawl_tests::{RecordsFixture, TcpProxy, pg_url, require_services};

fn r(kind: RecordKind, id: i64) -> RecordRef {
    RecordRef::new(kind, id).unwrap()
}

const PEOPLE: &str =
    "INSERT INTO users (id, username) VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dave');";

/// The rows of issue `id` as its document must show them.
async fn issue_row(f: &RecordsFixture, id: i64) -> Value {
    let client = f.db.pool().get().await.unwrap();
    let row = client
        .query_one(
            "SELECT i.title, i.description, i.state, i.labels, u.username, i.confidential, i.iid,
                    coalesce((SELECT array_agg(au.username ORDER BY au.username) FROM issue_assignees a
                              JOIN users au ON au.id = a.user_id WHERE a.issue_id = i.id), '{}') AS assignees
             FROM issues i JOIN users u ON u.id = i.author_id WHERE i.id = $1",
            &[&id],
        )
        .await
        .unwrap();
    serde_json::json!({
        "title": row.get::<_, String>(0),
        "description": row.get::<_, String>(1),
        "state": row.get::<_, String>(2),
        "labels": row.get::<_, Vec<String>>(3),
        "author": row.get::<_, String>(4),
        "confidential": row.get::<_, bool>(5),
        "iid": row.get::<_, i32>(6),
        "assignees": row.get::<_, Vec<String>>(7),
    })
}

fn pick(doc: &Value, fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|f| ((*f).to_owned(), doc[*f].clone()))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_reaches_the_index_exactly_through_create_update_and_delete() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-kinds").await.unwrap();
    f.register("acme", Visibility::Internal).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, description, labels, author_id, confidential)
             VALUES (10, 1, 1, 'Crash on start', 'It crashes.', '{{bug,p1}}', 1, true),
                    (11, 1, 2, 'Docs', '', '{{}}', 2, false);
         INSERT INTO issue_assignees VALUES (10, 3), (10, 2);
         INSERT INTO merge_requests (id, project_id, iid, title, description, source_branch, target_branch, state, author_id)
             VALUES (20, 1, 1, 'Fix crash', 'Fixes #1', 'fix', 'main', 'opened', 2);
         INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id)
             VALUES (30, 1, 'issue', 10, 'same here', 4),
                    (31, 1, 'merge_request', 20, 'LGTM', 1);"
    ))
    .await
    .unwrap();
    let refs = [
        r(RecordKind::Issue, 10),
        r(RecordKind::Issue, 11),
        r(RecordKind::MergeRequest, 20),
        r(RecordKind::Note, 30),
        r(RecordKind::Note, 31),
    ];
    f.tracker.track(&refs).await.unwrap();
    let worker = f.worker().unwrap();
    let first = worker.run_once().await.unwrap();
    assert_eq!(first.claimed, 5, "{first:?}");
    assert_eq!(first.indexed, 5, "{first:?}");
    assert_eq!(first.acked, 5, "{first:?}");
    assert_eq!(
        first.cascaded, 1,
        "the confidential issue's note follows it"
    );
    f.drain(&worker).await.unwrap();

    let fields = [
        "title",
        "description",
        "state",
        "labels",
        "author",
        "confidential",
        "iid",
        "assignees",
    ];
    for id in [10, 11] {
        let doc = f.doc(IndexKind::Issues, id).await.unwrap().unwrap();
        assert_eq!(pick(&doc, &fields), issue_row(&f, id).await, "issue {id}");
        assert_eq!(doc["repo_id"], "acme");
        assert_eq!(doc["visibility"], "internal", "the registry's visibility");
        assert_eq!(doc["project_id"], 1);
    }
    let confidential = f.doc(IndexKind::Issues, 10).await.unwrap().unwrap();
    assert_eq!(
        confidential["confidential_readers"],
        serde_json::json!(["alice", "bob", "carol"])
    );
    let mr = f.doc(IndexKind::MergeRequests, 20).await.unwrap().unwrap();
    assert_eq!(mr["title"], "Fix crash");
    assert_eq!(mr["source_branch"], "fix");
    assert_eq!(mr["target_branch"], "main");
    assert_eq!(mr["author"], "bob");
    let note = f.doc(IndexKind::Notes, 30).await.unwrap().unwrap();
    assert_eq!(note["note"], "same here");
    assert_eq!(note["author"], "dave");
    assert_eq!(note["noteable_type"], "issue");
    assert_eq!(note["noteable_id"], 10);
    assert_eq!(note["confidential"], true);
    assert_eq!(
        note["confidential_readers"],
        serde_json::json!(["alice", "bob", "carol"])
    );
    let mr_note = f.doc(IndexKind::Notes, 31).await.unwrap().unwrap();
    assert_eq!(mr_note["confidential"], false);
    assert_eq!(mr_note["noteable_type"], "merge_request");

    // Updates: the issue is no longer confidential (its note must follow without being
    // tracked by the application), the merge request is merged.
    f.sql(
        "UPDATE issues SET confidential = false, title = 'Crash on start (fixed)', state = 'closed' WHERE id = 10;
         DELETE FROM issue_assignees WHERE issue_id = 10 AND user_id = 3;
         UPDATE merge_requests SET state = 'merged', labels = '{done}' WHERE id = 20;
         UPDATE notes SET note = 'LGTM, merged' WHERE id = 31;",
    )
    .await
    .unwrap();
    f.tracker
        .track(&[
            r(RecordKind::Issue, 10),
            r(RecordKind::MergeRequest, 20),
            r(RecordKind::Note, 31),
        ])
        .await
        .unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(
        stats.indexed, 4,
        "three tracked and the cascaded note: {stats:?}"
    );
    let doc = f.doc(IndexKind::Issues, 10).await.unwrap().unwrap();
    assert_eq!(pick(&doc, &fields), issue_row(&f, 10).await);
    assert_eq!(doc["confidential_readers"], serde_json::json!([]));
    let note = f.doc(IndexKind::Notes, 30).await.unwrap().unwrap();
    assert_eq!(note["confidential"], false, "the note followed its issue");
    let mr = f.doc(IndexKind::MergeRequests, 20).await.unwrap().unwrap();
    assert_eq!(mr["state"], "merged");
    assert_eq!(mr["labels"], serde_json::json!(["done"]));
    assert_eq!(
        f.doc(IndexKind::Notes, 31).await.unwrap().unwrap()["note"],
        "LGTM, merged"
    );

    // Deletes: the merge request (its notes go by trigger; their documents follow through
    // the cascade) and an issue.
    f.sql("DELETE FROM merge_requests WHERE id = 20; DELETE FROM issues WHERE id = 11;")
        .await
        .unwrap();
    f.tracker
        .track(&[r(RecordKind::MergeRequest, 20), r(RecordKind::Issue, 11)])
        .await
        .unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.deleted, 3, "MR, issue and the MR's note: {stats:?}");
    assert!(f.doc(IndexKind::MergeRequests, 20).await.unwrap().is_none());
    assert!(f.doc(IndexKind::Issues, 11).await.unwrap().is_none());
    assert!(f.doc(IndexKind::Notes, 31).await.unwrap().is_none());
    assert!(f.doc(IndexKind::Notes, 30).await.unwrap().is_some());
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.dead),
        (0, 0, 0),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_changed_many_times_before_a_run_is_written_once_with_its_last_state() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-once").await.unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (10, 1, 1, 'v0', 1);
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (11, 1, 2, 'gone soon', 1);"
    ))
    .await
    .unwrap();
    for n in 1..=25 {
        f.sql(&format!("UPDATE issues SET title = 'v{n}' WHERE id = 10"))
            .await
            .unwrap();
        f.tracker
            .track(&[r(RecordKind::Issue, 10), r(RecordKind::Issue, 11)])
            .await
            .unwrap();
    }
    f.sql("DELETE FROM issues WHERE id = 11").await.unwrap();
    let worker = f.worker().unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.claimed, 2, "{stats:?}");
    assert_eq!((stats.indexed, stats.deleted), (1, 1), "{stats:?}");
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let answer = engine
        .ok(
            reqwest::Method::GET,
            &format!("{}/_doc/10", f.alias(IndexKind::Issues)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer["_version"], 1, "written once: {answer}");
    assert_eq!(answer["_source"]["title"], "v25");
    assert!(f.doc(IndexKind::Issues, 11).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_ref_carries_visibility_and_members_to_the_registry_and_the_documents() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-project")
        .await
        .unwrap();
    let repo = f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public'),
                                                                    (2, 'not-registered', 'Other', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (10, 1, 1, 'Crash', 1);"
    ))
    .await
    .unwrap();
    f.tracker.track(&[r(RecordKind::Issue, 10)]).await.unwrap();
    let worker = f.worker().unwrap();
    f.drain(&worker).await.unwrap();
    assert_eq!(
        f.doc(IndexKind::Issues, 10).await.unwrap().unwrap()["visibility"],
        "public"
    );

    f.sql(
        "UPDATE projects SET visibility = 'private';
         INSERT INTO project_members VALUES (1, 2), (1, 3);",
    )
    .await
    .unwrap();
    f.tracker
        .track(&[
            r(RecordKind::Project, 1),
            r(RecordKind::Project, 2),
            r(RecordKind::Project, 99),
        ])
        .await
        .unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.projects, 1, "{stats:?}");
    assert_eq!(stats.unregistered, 1, "project 2's repository: {stats:?}");
    assert_eq!(stats.synced, 1, "synced inline: {stats:?}");
    let registration = f.registry.get(&repo).await.unwrap().unwrap();
    assert_eq!(registration.spec.visibility, Visibility::Private);
    let readers: Vec<&str> = registration
        .spec
        .readers
        .iter()
        .map(|u| u.as_str())
        .collect();
    assert_eq!(readers, ["bob", "carol"]);
    assert_eq!(
        f.doc(IndexKind::Issues, 10).await.unwrap().unwrap()["visibility"],
        "private",
        "the access sync rewrote the record document"
    );
    let anonymous = f
        .registry
        .access(&Principal::Anonymous, None)
        .await
        .unwrap();
    assert!(!anonymous.admits("acme", Some(Visibility::Private)));
    let bob = Principal::parse("bob").unwrap();
    assert!(
        f.registry
            .access(&bob, None)
            .await
            .unwrap()
            .admits("acme", Some(Visibility::Private))
    );
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!((status.pending, status.dead), (0, 0));
}

/// A `repo set` to private racing a stream of record writes: after the sync, no document
/// of the repository is readable by anyone but its members.
#[tokio::test(flavor = "multi_thread")]
async fn a_visibility_change_racing_record_writes_never_leaves_a_readable_document() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-race").await.unwrap();
    let repo = f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id)
             SELECT g, 1, g, 'issue ' || g, 1 FROM generate_series(1, 40) g;"
    ))
    .await
    .unwrap();
    let all: Vec<RecordRef> = (1..=40).map(|id| r(RecordKind::Issue, id)).collect();
    // The worker reaches the engine through a proxy that holds its requests for a while:
    // a write that read the visibility before the change reaches the engine well after a
    // sync could have confirmed and cleared (without the records lock, rounds fail).
    let engine_addr = tokio::net::lookup_host(format!(
        "{}:{}",
        services.engine.url.host_str().unwrap(),
        services.engine.url.port_or_known_default().unwrap()
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let proxy = TcpProxy::start(engine_addr).await.unwrap();
    let mut slow_engine = services.engine.clone();
    slow_engine.url.set_host(Some("127.0.0.1")).unwrap();
    slow_engine.url.set_port(Some(proxy.addr().port())).unwrap();
    let slow = f.deployment_via(&services, &slow_engine).await.unwrap();
    proxy.set_latency(Duration::from_millis(1200));
    let worker = std::sync::Arc::new(
        f.worker_in(
            &slow,
            f.db.clone(),
            RecordsWorkerOptions::default(),
            Duration::from_secs(60),
        )
        .unwrap(),
    );
    let locks = f.deployment.locks(Duration::from_secs(30));
    let indexer = trawl_indexer::RepoIndexer::new(
        f.deployment.indices(),
        f.registry.clone(),
        locks,
        trawl_indexer::IndexingOptions::default(),
    );
    let started = Instant::now();
    for round in 0..30 {
        let visibility = if round % 2 == 0 {
            Visibility::Public
        } else {
            Visibility::Private
        };
        let target = if visibility == Visibility::Public {
            Visibility::Private
        } else {
            Visibility::Public
        };
        // The stream: track and write continuously while the visibility changes.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (worker, tracker, stop, all) =
                (worker.clone(), f.tracker.clone(), stop.clone(), all.clone());
            // Five issues per run, in turn: a document written stale is not overwritten
            // by the stream's next runs before the checks look at it.
            tokio::spawn(async move {
                let mut chunks = all.chunks(5).cycle();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    tracker.track(chunks.next().unwrap()).await.unwrap();
                    worker.run_once().await.unwrap();
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20 + (round % 5) * 15)).await;
        let change = RepoChange {
            visibility: Some(target),
            ..RepoChange::default()
        };
        f.registry.set(&repo, &change, None).await.unwrap();
        // What `repo set` does: the sync inline, retried here until it is not busy.
        loop {
            // An error (a write landed during the sync) leaves the repository pending:
            // correct, and the next sync tries again.
            match indexer.sync_access(&repo).await {
                Ok(
                    trawl_indexer::AccessSync::Synced { .. }
                    | trawl_indexer::AccessSync::NotPending,
                ) => break,
                other => {
                    assert!(
                        started.elapsed() < Duration::from_secs(240),
                        "sync stuck: {other:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        // Right after the sync, and after the stream ends: no document carries the old
        // visibility where a search would trust it.
        let check = |when: &'static str| {
            let (f, repo) = (&f, &repo);
            async move {
                let pending = f.registry.pending_revision(repo).await.unwrap().is_some();
                for (id, doc) in f.all_docs(IndexKind::Issues).await.unwrap() {
                    let shown = doc["visibility"].as_str().unwrap().to_owned();
                    if !pending {
                        assert_eq!(
                            shown,
                            target.as_str(),
                            "round {round} {when}: issue {id} carries {shown} though the repository is {target} and not pending"
                        );
                    }
                }
            }
        };
        check("after the sync").await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.await.unwrap();
        check("after the stream").await;
        if target == Visibility::Private {
            let anonymous = f
                .registry
                .access(&Principal::Anonymous, None)
                .await
                .unwrap();
            for (id, doc) in f.all_docs(IndexKind::Issues).await.unwrap() {
                let v: Visibility = doc["visibility"].as_str().unwrap().parse().unwrap();
                assert!(
                    !anonymous.admits("acme", Some(v)),
                    "round {round}: issue {id} would be shown to anyone"
                );
            }
        }
    }
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!(status.dead, 0, "{status:?}");
}

/// The database behind a proxy: cut while the worker holds a batch, nothing is
/// acknowledged or dead-lettered; restored, the index converges on the database.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_down_then_up_is_ridden_out() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-dbdown").await.unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id)
             SELECT g, 1, g, 'issue ' || g, 1 FROM generate_series(1, 50) g;"
    ))
    .await
    .unwrap();
    let url = url::Url::parse(&pg_url(&services)).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let target = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(target).await.unwrap();
    let mut proxied = url.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.addr().port())).unwrap();
    let db = AppDb::connect(&AppDbConfig::new(proxied.as_str(), &f.schema).unwrap())
        .await
        .unwrap();
    let worker = f
        .worker_on(db, RecordsWorkerOptions::default(), Duration::from_secs(60))
        .unwrap();
    let refs: Vec<RecordRef> = (1..=50).map(|id| r(RecordKind::Issue, id)).collect();
    f.tracker.track(&refs).await.unwrap();

    proxy.cut();
    for _ in 0..3 {
        let stats = worker.run_once().await.unwrap();
        assert_eq!(stats.claimed, 50, "{stats:?}");
        assert_eq!(
            (stats.acked, stats.failed, stats.dead_lettered),
            (0, 0, 0),
            "{stats:?}"
        );
        assert_eq!(stats.released, 50, "{stats:?}");
        assert!(stats.unavailable.is_some(), "{stats:?}");
    }
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!(
        (status.pending, status.dead, status.leased),
        (50, 0, 0),
        "{status:?}"
    );
    assert!(f.all_docs(IndexKind::Issues).await.unwrap().is_empty());

    proxy.restore();
    f.sql("UPDATE issues SET title = title || ' (after)' WHERE id <= 5")
        .await
        .unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.indexed, 50, "{stats:?}");
    let docs = f.all_docs(IndexKind::Issues).await.unwrap();
    assert_eq!(docs.len(), 50);
    for (id, doc) in docs {
        let id: i64 = id.parse().unwrap();
        assert_eq!(doc["title"], issue_row(&f, id).await["title"]);
    }
}

/// A `trawl records worker` killed with SIGKILL while it holds a batch loses nothing: its
/// leases run out and a second worker finishes; the index equals the database.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_batch_loses_nothing() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-kill").await.unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, description, author_id)
             SELECT g, 1, g, 'issue ' || g, repeat('word ', 4000), 1 FROM generate_series(1, 2000) g;"
    ))
    .await
    .unwrap();
    let refs: Vec<RecordRef> = (1..=2000).map(|id| r(RecordKind::Issue, id)).collect();
    f.tracker.track(&refs).await.unwrap();
    let binary = tokio::task::spawn_blocking(|| {
        let cargo =
            std::path::PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        trawl_dist::build(
            &cargo,
            &trawl_tests::workspace_root(),
            trawl_dist::Profile::Debug,
        )
        .expect("builds trawl")
    })
    .await
    .unwrap();
    let mut env: Vec<(String, String)> = services
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("PATH".into(), "/usr/bin:/bin".into()));
    env.push((
        "TRAWL_INDEX_PREFIX".into(),
        f.deployment.names().prefix().to_owned(),
    ));
    let mut child = Command::new(&binary)
        .args([
            "records",
            "worker",
            "--batch",
            "1000",
            "--lease-secs",
            "2",
            "--app-schema",
            &f.schema,
        ])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it holds leases (before it could finish the 2000 large documents).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = f.tracker.queue().status().await.unwrap();
        if status.leased > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never claimed: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let status = f.tracker.queue().status().await.unwrap();
    assert!(
        status.leased > 0,
        "killed while holding a batch: {status:?}"
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let worker = f.worker().unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.failed, 0, "{stats:?}");
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!(
        (status.pending, status.leased, status.dead),
        (0, 0, 0),
        "{status:?}"
    );
    let client = f.deployment.client();
    let alias = f.alias(IndexKind::Issues);
    client.refresh(&alias).await.unwrap();
    assert_eq!(client.count(&alias, None).await.unwrap(), 2000);
}

/// A document the engine refuses (here: an issues index whose mapping cannot hold a
/// title) is failed with the engine's error, dead-lettered after its attempt budget,
/// visible among the dead letters and back in line after `retry_dead`; the rest of the
/// batch is written and acknowledged.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_the_engine_refuses_is_dead_lettered_with_its_error() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-refused")
        .await
        .unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (10, 1, 1, 'Crash', 1);
         INSERT INTO merge_requests (id, project_id, iid, title, source_branch, target_branch, author_id)
             VALUES (20, 1, 1, 'Fix', 'fix', 'main', 2);"
    ))
    .await
    .unwrap();
    // Put an index whose `title` is a number where the issues alias pointed.
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let alias = f.alias(IndexKind::Issues);
    let aliases = engine
        .ok(reqwest::Method::GET, &format!("_alias/{alias}"), None)
        .await
        .unwrap();
    for index in aliases.as_object().unwrap().keys() {
        engine
            .ok(reqwest::Method::DELETE, index, None)
            .await
            .unwrap();
    }
    engine
        .ok(
            reqwest::Method::PUT,
            &alias,
            Some(serde_json::json!({ "mappings": { "properties": { "title": { "type": "integer" } } } })),
        )
        .await
        .unwrap();

    let d = &f.deployment;
    let queue = trawl_indexer::Queue::open(
        d.redis(),
        trawl_indexer::QueueConfig {
            max_attempts: 2,
            base_backoff: Duration::from_millis(100),
            ..d.queue_config()
        },
    )
    .unwrap();
    let locks = d.locks(Duration::from_secs(30));
    let indexer = trawl_indexer::RepoIndexer::new(
        d.indices(),
        f.registry.clone(),
        locks.clone(),
        trawl_indexer::IndexingOptions::default(),
    );
    let worker = trawl_records::RecordsWorker::new(
        f.db.clone(),
        queue,
        indexer,
        locks,
        d.queue().unwrap(),
        RecordsWorkerOptions::default(),
    )
    .unwrap();
    f.tracker
        .track(&[r(RecordKind::Issue, 10), r(RecordKind::MergeRequest, 20)])
        .await
        .unwrap();
    let first = worker.run_once().await.unwrap();
    assert_eq!(
        (first.indexed, first.failed, first.dead_lettered),
        (1, 1, 0),
        "{first:?}"
    );
    assert_eq!(first.acked, 1, "only the merge request: {first:?}");
    assert!(
        first.unavailable.is_none(),
        "a refusal is not an outage: {first:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = worker.run_once().await.unwrap();
    assert_eq!((second.failed, second.dead_lettered), (1, 1), "{second:?}");
    let dead = f.tracker.queue().dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].member, "issue:10");
    assert!(
        dead[0].error.contains("mapper_parsing_exception")
            || dead[0].error.contains("number_format"),
        "the engine's error: {}",
        dead[0].error
    );
    assert!(f.doc(IndexKind::MergeRequests, 20).await.unwrap().is_some());
    assert_eq!(f.tracker.queue().retry_dead().await.unwrap(), 1);
    assert_eq!(f.tracker.queue().status().await.unwrap().pending, 1);
}
