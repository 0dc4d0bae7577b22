//! The change outbox and its relay against inputs nobody here wrote: outbox rows written
//! by hand that are no refs, ids at their limits, rows held by a stuck transaction, a
//! neighbour schema's outbox, and hostile schema names and options on the command line.

use std::process::{Command, Stdio};

use trawl_records::RelayOptions;

use crate::records_relay::{App, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_are_no_refs_leave_the_outbox_and_never_block_the_rest() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-garbage").await;
    let huge = "x".repeat(1 << 20);
    let client = app.db.pool().get().await.unwrap();
    for value in [
        "",
        "issue",
        "issue:0",
        "issue:-1",
        "issue:01",
        "repo:acme",
        "issue:9223372036854775808",
        "issue:1\n",
        "ISSUE:1",
        "issue:١",
        "note:\u{7}2",
        "project:*",
        "issue:1;DEL trawl:*",
        huge.as_str(),
        "issue:9223372036854775807",
        "note:5",
    ] {
        client
            .execute(
                "INSERT INTO trawl_record_changes (ref) VALUES ($1)",
                &[&value],
            )
            .await
            .unwrap();
    }
    let stats = app
        .relay(RelayOptions {
            page: 3,
            ..RelayOptions::default()
        })
        .await
        .drain()
        .await
        .expect("drain");
    assert_eq!(stats.rows, 16);
    assert_eq!(stats.unreadable, 14);
    assert_eq!(app.outbox_depth().await, 0);
    assert_eq!(
        app.take_queued().await,
        set(&["issue:9223372036854775807", "note:5"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_at_their_limits_are_tracked_as_they_are() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-limits").await;
    app.sql(&format!(
        "INSERT INTO users (id, username) VALUES ({max}, 'ünïcødé-名前');
         INSERT INTO projects (id, repo_id, name, visibility) VALUES ({max}, 'r', 'n', 'private');
         INSERT INTO issues (id, project_id, iid, title, author_id) VALUES ({max}, {max}, 2147483647, repeat('t', 100000), {max});
         INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id) VALUES ({max}, {max}, 'issue', {max}, E'\\x01\\x7f', {max});",
        max = i64::MAX
    ))
    .await;
    assert_eq!(
        app.relayed().await,
        set(&[
            "project:9223372036854775807",
            "issue:9223372036854775807",
            "note:9223372036854775807"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_held_by_a_stuck_transaction_are_skipped_then_relayed() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-stuck").await;
    app.sql(
        "INSERT INTO trawl_record_changes (ref) SELECT 'issue:' || i FROM generate_series(1, 10) AS i",
    )
    .await;
    // Another relay took the first rows and hangs before committing.
    let mut stuck = app.db.pool().get().await.unwrap();
    let tx = stuck.transaction().await.unwrap();
    tx.query(
        "SELECT id FROM trawl_record_changes ORDER BY id LIMIT 4 FOR UPDATE",
        &[],
    )
    .await
    .unwrap();
    let relay = app.relay(RelayOptions::default()).await;
    let stats = tokio::time::timeout(std::time::Duration::from_secs(20), relay.drain())
        .await
        .expect("the relay does not wait for the stuck rows")
        .expect("drain");
    assert_eq!(stats.rows, 6);
    assert_eq!(app.outbox_depth().await, 4);
    tx.rollback().await.unwrap();
    relay.drain().await.expect("drain");
    let expected: Vec<String> = (1..=10).map(|i| format!("issue:{i}")).collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(app.take_queued().await, set(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_never_touches_another_schemas_outbox() {
    let services = trawl_tests::require_services!();
    let (a, b) = (
        App::new(&services, "relay-mine").await,
        App::new(&services, "relay-theirs").await,
    );
    a.sql("INSERT INTO trawl_record_changes (ref) VALUES ('issue:1')")
        .await;
    b.sql("INSERT INTO trawl_record_changes (ref) VALUES ('issue:2')")
        .await;
    assert_eq!(a.relayed().await, set(&["issue:1"]));
    assert_eq!(b.outbox_depth().await, 1);
    assert!(b.take_queued().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_schema_names_and_options_are_refused_before_anything_runs() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-args").await;
    let run = |args: &[&str], schema: &str| {
        Command::new(crate::indexing::xtask_binary())
            .arg("records")
            .args(args)
            .env("TRAWL_INDEX_PREFIX", &app.prefix)
            .env("TRAWL_APP_SCHEMA", schema)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("runs xtask")
    };
    for schema in [
        "",
        "app;drop schema app",
        "App",
        "pg_catalog",
        "1app",
        "a b",
    ] {
        let out = run(&["relay", "--once"], schema);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{schema:?} was accepted");
        assert!(err.contains("not a schema name"), "{schema:?}: {err}");
    }
    for bad in [
        &["relay", "--poll-ms", "0"][..],
        &["relay", "--page", "0"],
        &["relay", "--page", "50001"],
        &["relay", "--poll-ms", "-5"],
    ] {
        let out = run(bad, app.config.schema());
        assert!(!out.status.success(), "{bad:?} was accepted");
    }
    let out = run(&["status"], "no_such_schema_here");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("none (the schema has no trawl_record_changes table)"),
        "{text}"
    );
}
