//! The records worker against rows and refs nobody here wrote: refs of rows that never
//! existed, a 50 MB description, labels of odd characters, a thousand refs of one project
//! in one run, notes whose issue vanished, and a row whose timestamp no document can hold.

use trawl_analyzers::IndexKind;
use trawl_records::render::{MAX_LABELS, MAX_PROSE_BYTES, MAX_SHORT_BYTES};
use trawl_records::{RecordKind, RecordRef};
use trawl_registry::Visibility;
use trawl_tests::{RecordsFixture, require_services};

fn r(kind: RecordKind, id: i64) -> RecordRef {
    RecordRef::new(kind, id).unwrap()
}

const SETUP: &str = "INSERT INTO users (id, username) VALUES (1, 'alice'), (2, 'bob');
     INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'acme', 'Acme', 'public');";

#[tokio::test(flavor = "multi_thread")]
async fn refs_of_rows_that_never_existed_are_deletes_of_nothing_and_settle() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-h-ghost")
        .await
        .unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(SETUP).await.unwrap();
    let refs = [
        r(RecordKind::Issue, 1),
        r(RecordKind::MergeRequest, i64::MAX),
        r(RecordKind::Note, 424242),
        r(RecordKind::Project, 77),
    ];
    f.tracker.track(&refs).await.unwrap();
    let worker = f.worker().unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.claimed, 4, "{stats:?}");
    assert_eq!(stats.deleted, 3, "{stats:?}");
    assert_eq!(
        (stats.indexed, stats.failed, stats.projects),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.acked, 4, "{stats:?}");
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!((status.pending, status.leased, status.dead), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_description_is_cut_and_odd_labels_arrive_intact() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-h-huge").await.unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(SETUP).await.unwrap();
    // 50 MB of prose; a note of two-byte characters whose cut falls inside one; labels
    // with quotes, braces, commas, control characters, right-to-left text, an emoji, an
    // empty one, a long one, and more of them than a document holds.
    f.sql(
        "INSERT INTO issues (id, project_id, iid, title, description, author_id)
             VALUES (1, 1, 1, repeat('T', 5000), repeat('x', 50000000), 1);
         INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id)
             VALUES (2, 1, 'issue', 1, 'a' || repeat('é', 100000), 2);",
    )
    .await
    .unwrap();
    let odd: Vec<String> = vec![
        String::new(),
        " ".into(),
        "a,b".into(),
        "\"quoted\"".into(),
        "{braces}".into(),
        "back\\slash".into(),
        "ctrl\u{1}\u{7f}\u{1b}[31m".into(),
        "שלום".into(),
        "🦀 crab".into(),
        "NULL".into(),
        "é".repeat(600),
    ];
    let mut labels = odd.clone();
    labels.extend((0..150).map(|i| format!("l{i}")));
    {
        let client = f.db.pool().get().await.unwrap();
        client
            .execute(
                "INSERT INTO merge_requests (id, project_id, iid, title, source_branch, target_branch, labels, author_id)
                 VALUES (3, 1, 1, 'odd', 'feature/ünïcode', 'main', $1, 1)",
                &[&labels],
            )
            .await
            .unwrap();
    }
    f.tracker
        .track(&[
            r(RecordKind::Issue, 1),
            r(RecordKind::Note, 2),
            r(RecordKind::MergeRequest, 3),
        ])
        .await
        .unwrap();
    let worker = f.worker().unwrap();
    let stats = worker.run_once().await.unwrap();
    assert_eq!(stats.indexed, 3, "{stats:?}");
    assert_eq!(stats.truncated, 3, "{stats:?}");
    f.drain(&worker).await.unwrap();

    let issue = f.doc(IndexKind::Issues, 1).await.unwrap().unwrap();
    let description = issue["description"].as_str().unwrap();
    assert_eq!(description.len(), MAX_PROSE_BYTES);
    assert!(description.bytes().all(|b| b == b'x'));
    assert_eq!(issue["title"].as_str().unwrap().len(), MAX_SHORT_BYTES);
    let note = f.doc(IndexKind::Notes, 2).await.unwrap().unwrap();
    let text = note["note"].as_str().unwrap();
    assert!(text.len() <= MAX_PROSE_BYTES && text.len() >= MAX_PROSE_BYTES - 1);
    assert!(text.starts_with("aé"));
    let mr = f.doc(IndexKind::MergeRequests, 3).await.unwrap().unwrap();
    let got: Vec<String> = serde_json::from_value(mr["labels"].clone()).unwrap();
    assert_eq!(got.len(), MAX_LABELS);
    let mut expected = odd;
    let long = expected.pop().unwrap();
    expected.push(long[..MAX_SHORT_BYTES].to_owned());
    assert_eq!(got[..expected.len()], expected[..]);
    assert_eq!(mr["source_branch"], "feature/ünïcode");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_refs_of_one_project_are_one_run() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-h-thousand")
        .await
        .unwrap();
    f.register("acme", Visibility::Internal).await.unwrap();
    f.sql(&format!(
        "{SETUP}
         INSERT INTO issues (id, project_id, iid, title, author_id)
             SELECT g, 1, g, 'issue ' || g, 1 + g % 2 FROM generate_series(1, 1000) g;"
    ))
    .await
    .unwrap();
    let refs: Vec<RecordRef> = (1..=1000).map(|id| r(RecordKind::Issue, id)).collect();
    f.tracker.track(&refs).await.unwrap();
    let worker = f.worker().unwrap();
    let stats = worker.run_once().await.unwrap();
    assert_eq!(stats.claimed, 1000, "{stats:?}");
    assert_eq!((stats.indexed, stats.acked), (1000, 1000), "{stats:?}");
    let docs = f.all_docs(IndexKind::Issues).await.unwrap();
    assert_eq!(docs.len(), 1000);
    assert!(docs.iter().all(|(_, d)| d["visibility"] == "internal"));
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_whose_issue_vanished_leave_the_index() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-h-orphan")
        .await
        .unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{SETUP}
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (10, 1, 1, 'parent', 1);
         INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id)
             VALUES (20, 1, 'issue', 10, 'on a live issue', 2),
                    (21, 1, 'issue', 999999, 'on an issue that never was', 2),
                    (22, 1, 'merge_request', 999999, 'on a merge request that never was', 2);"
    ))
    .await
    .unwrap();
    f.tracker
        .track(&[
            r(RecordKind::Issue, 10),
            r(RecordKind::Note, 20),
            r(RecordKind::Note, 21),
            r(RecordKind::Note, 22),
        ])
        .await
        .unwrap();
    let worker = f.worker().unwrap();
    f.drain(&worker).await.unwrap();
    assert!(f.doc(IndexKind::Notes, 20).await.unwrap().is_some());
    assert!(f.doc(IndexKind::Notes, 21).await.unwrap().is_none());
    assert!(f.doc(IndexKind::Notes, 22).await.unwrap().is_none());

    // The issue goes (its note by the trigger); only the issue is tracked.
    f.sql("DELETE FROM issues WHERE id = 10").await.unwrap();
    f.tracker.track(&[r(RecordKind::Issue, 10)]).await.unwrap();
    let stats = f.drain(&worker).await.unwrap();
    assert_eq!(stats.deleted, 2, "{stats:?}");
    assert!(f.doc(IndexKind::Issues, 10).await.unwrap().is_none());
    assert!(f.doc(IndexKind::Notes, 20).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_no_document_can_hold_fails_alone() {
    let services = require_services!();
    let f = RecordsFixture::new(&services, "recw-h-infinity")
        .await
        .unwrap();
    f.register("acme", Visibility::Public).await.unwrap();
    f.sql(&format!(
        "{SETUP}
         INSERT INTO issues (id, project_id, iid, title, author_id, updated_at)
             VALUES (1, 1, 1, 'fine', 1, now()),
                    (2, 1, 2, 'forever', 1, 'infinity'),
                    (3, 1, 3, 'far future', 1, '20000-01-01');"
    ))
    .await
    .unwrap();
    f.tracker
        .track(&[
            r(RecordKind::Issue, 1),
            r(RecordKind::Issue, 2),
            r(RecordKind::Issue, 3),
        ])
        .await
        .unwrap();
    let worker = f.worker().unwrap();
    let stats = worker.run_once().await.unwrap();
    assert_eq!(
        (stats.indexed, stats.failed, stats.deleted),
        (1, 2, 0),
        "{stats:?}"
    );
    assert!(f.doc(IndexKind::Issues, 1).await.unwrap().is_some());
    let status = f.tracker.queue().status().await.unwrap();
    assert_eq!(
        status.delayed, 2,
        "retried after a backoff, not dropped: {status:?}"
    );
    let dead = f.tracker.queue().dead().await.unwrap();
    assert!(dead.is_empty());
}
