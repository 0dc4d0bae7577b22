//! The bulk worker of application records against the real PostgreSQL, Redis and engine:
//! every kind's create, update and delete reaches the index exactly; repeated tracking
//! writes once with the last state; project refs carry visibility and members to the
//! registry and the documents; a worker killed mid-batch or cut off from the database
//! loses nothing; and a visibility change racing a stream of record writes never leaves
//! a document a non-member could read.

use std::time::{Duration, Instant};

use serde_json::Value;
use trawl_analyzers::IndexKind;
use trawl_records::{RecordKind, RecordRef, RecordsWorkerOptions};
use trawl_registry::{Memberships, Principal, RepoChange, Visibility};
use trawl_tests::{RecordsFixture, TcpProxy, require_services};

mod faults;

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
async fn track_all_fills_a_records_index_created_again_with_every_row() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-all").await.unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    // More issues than one page of `track_all` holds.
    f.sql(&format!(
        "{PEOPLE}
         INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');
         INSERT INTO issues (id, project_id, iid, title, author_id)
             SELECT n, 1, n, 'issue ' || n, 1 + n % 4 FROM generate_series(1, 5003) AS n;
         INSERT INTO merge_requests (id, project_id, iid, title, source_branch, target_branch, author_id)
             VALUES (20, 1, 1, 'Fix', 'fix', 'main', 2), (21, 1, 2, 'More', 'more', 'main', 3);
         INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id)
             VALUES (30, 1, 'issue', 1, 'first', 1), (31, 1, 'issue', 2, 'second', 2),
                    (32, 1, 'merge_request', 20, 'lgtm', 3);"
    ))
    .await
    .unwrap();
    let counts = |tracked: Vec<(RecordKind, trawl_records::TrackedKind)>| {
        tracked
            .into_iter()
            .map(|(kind, done)| (kind, done.tracked, done.new_in_line))
            .collect::<Vec<_>>()
    };
    let mut pages = 0;
    let first = f.tracker.track_all(&f.db, |_, _| pages += 1).await.unwrap();
    assert_eq!(
        counts(first),
        [
            (RecordKind::Issue, 5003, 5003),
            (RecordKind::MergeRequest, 2, 2),
            (RecordKind::Note, 3, 3)
        ]
    );
    assert_eq!(pages, 2 + 1 + 1, "issues in two pages");
    // Tracked again before a worker ran: one entry each, as for any ref.
    let again = f.tracker.track_all(&f.db, |_, _| {}).await.unwrap();
    assert!(
        again.iter().all(|(_, done)| done.new_in_line == 0),
        "{again:?}"
    );
    assert_eq!(f.tracker.queue().status().await.unwrap().pending, 5008);

    let worker = f.worker().unwrap();
    f.drain(&worker).await.unwrap();
    assert_eq!(f.all_docs(IndexKind::Issues).await.unwrap().len(), 5003);

    // The issues index deleted and created again, empty: tracking everything refills it.
    let indices = f.deployment.indices();
    let alias = f.alias(IndexKind::Issues);
    for index in indices.client().alias_targets(&alias).await.unwrap() {
        indices.client().delete_index(&index).await.unwrap();
    }
    assert_eq!(indices.ensure().await.unwrap(), [alias]);
    assert!(f.all_docs(IndexKind::Issues).await.unwrap().is_empty());
    f.tracker.track_all(&f.db, |_, _| {}).await.unwrap();
    f.drain(&worker).await.unwrap();
    assert_eq!(f.all_docs(IndexKind::Issues).await.unwrap().len(), 5003);
    assert_eq!(f.all_docs(IndexKind::Notes).await.unwrap().len(), 3);
    assert_eq!(f.all_docs(IndexKind::MergeRequests).await.unwrap().len(), 2);
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
        .access(&Principal::Anonymous, None, Memberships::All)
        .await
        .unwrap();
    assert!(!anonymous.admits("acme", Some(Visibility::Private)));
    let bob = Principal::parse("bob").unwrap();
    assert!(
        f.registry
            .access(&bob, None, Memberships::All)
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
                .access(&Principal::Anonymous, None, Memberships::All)
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
