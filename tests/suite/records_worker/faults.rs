//! The records worker under faults: the database cut and restored, a worker killed
//! mid-batch, and documents the engine refuses.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trawl_analyzers::IndexKind;
use trawl_records::{AppDb, AppDbConfig, RecordKind, RecordRef, RecordsWorkerOptions};
use trawl_registry::Visibility;
use trawl_tests::{RecordsFixture, TcpProxy, pg_url, require_services};

use super::{PEOPLE, issue_row, r};

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
    // Behind the alias (writes require one: a bare index under its name is refused).
    engine
        .ok(
            reqwest::Method::PUT,
            &format!("{alias}-numbers"),
            Some(serde_json::json!({
                "mappings": { "properties": { "title": { "type": "integer" } } },
                "aliases": { alias.clone(): { "is_write_index": true } }
            })),
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
