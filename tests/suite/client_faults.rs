//! trawl-client when things go wrong: a node that sheds load for a while, one that never
//! recovers, writes that must not be repeated, and TLS with basic auth through a real
//! HTTPS front.

use std::time::{Duration, Instant};

use serde_json::json;
use trawl_client::{
    BulkIndexer, BulkOp, BulkOptions, Client, ClientConfig, ClientError, Refresh, RetryPolicy,
};
use trawl_tests::{AuthFront, FaultFront, TestCa, require_services};

use crate::client::{client_for, scratch_index};

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        max_total: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

async fn fault_front(
    services: &trawl_stack::Services,
    fail_first: usize,
    status: u16,
) -> FaultFront {
    FaultFront::start(
        services.engine.url.clone(),
        services.engine.http_client().unwrap(),
        fail_first,
        status,
    )
    .await
    .unwrap()
}

fn client_via(front: &FaultFront, retry: RetryPolicy) -> Client {
    Client::new(
        ClientConfig::builder()
            .host(front.url())
            .retry(retry)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn retries_ride_out_429_and_503_and_every_document_lands_exactly_once() {
    let services = require_services!();
    let direct = client_for(&services, |b| b);
    let (index, _cleanup) = scratch_index(&services, &direct, "retry").await;

    let front = fault_front(&services, 6, 429).await;
    let client = client_via(&front, quick_retries(10));
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            max_ops: 10,
            concurrency: 1,
            ..BulkOptions::default()
        },
    );
    for i in 0..50 {
        bulk.add(BulkOp::index(&index, format!("d{i}"), json!({"n": i})))
            .await
            .unwrap();
    }
    let summary = bulk.finish().await.unwrap();
    assert_eq!((summary.created, summary.failed), (50, 0), "{summary:?}");
    assert_eq!(front.seen(), front.forwarded() + 6);
    assert_eq!(client.metrics().retries, 6);

    // 503 on a single-document write with an id: retried, applied once.
    let front = fault_front(&services, 3, 503).await;
    let client = client_via(&front, quick_retries(10));
    let written = client
        .index_document(&index, Some("single"), &json!({"n": -1}), None, Refresh::No)
        .await
        .unwrap();
    assert_eq!(written.version, Some(1));
    assert_eq!(client.metrics().retries, 3);

    direct.refresh(&index).await.unwrap();
    assert_eq!(direct.count(&index, None).await.unwrap(), 51);
    let versions = direct
        .search(
            &index,
            &json!({"size": 100, "version": true, "query": {"match_all": {}}}),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(versions.hits.len(), 51);
    let raw = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .ok(
            reqwest::Method::POST,
            &format!("{index}/_search"),
            Some(json!({"size": 100, "version": true})),
        )
        .await
        .unwrap();
    for hit in raw["hits"]["hits"].as_array().unwrap() {
        assert_eq!(hit["_version"], 1, "written more than once: {hit}");
    }
}

#[tokio::test]
async fn a_node_that_never_recovers_ends_with_a_clear_error_within_the_budget() {
    let services = require_services!();
    let front = fault_front(&services, usize::MAX, 503).await;
    let client = client_via(&front, quick_retries(4));
    let started = Instant::now();
    let err = client.cluster_health().await.unwrap_err();
    match &err {
        ClientError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert_eq!(last.status(), Some(503));
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.to_string().starts_with("gave up after 4 attempts"),
        "{err}"
    );
    assert_eq!((front.seen(), front.forwarded()), (4, 0));
}

#[tokio::test]
async fn a_write_without_a_document_id_is_never_repeated() {
    let services = require_services!();
    let direct = client_for(&services, |b| b);
    let (index, _cleanup) = scratch_index(&services, &direct, "noretry").await;
    let front = fault_front(&services, 1, 503).await;
    let client = client_via(&front, quick_retries(10));
    let err = client
        .index_document(&index, None, &json!({"n": 1}), None, Refresh::No)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Api { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!((front.seen(), client.metrics().retries), (1, 0));

    // Bulk with an auto-id operation is not repeated either; with ids it is.
    let front = fault_front(&services, 1, 503).await;
    let client = client_via(&front, quick_retries(10));
    let bulk = BulkIndexer::new(client.clone(), BulkOptions::default());
    bulk.add(BulkOp::Index {
        index: index.clone(),
        id: None,
        routing: None,
        document: json!({"n": 2}),
    })
    .await
    .unwrap();
    let summary = bulk.finish().await.unwrap();
    assert_eq!(summary.failed, 1, "{summary:?}");
    assert_eq!(summary.failures[0].status, 503);
    assert_eq!(front.seen(), 1);
}

#[tokio::test]
async fn tls_with_a_ca_file_and_basic_auth_through_a_real_https_front() {
    let services = require_services!();
    let ca = TestCa::generate("trawl test CA").unwrap();
    let front = match AuthFront::start_tls(&services.engine.url, "trawl", "right-pass", &ca) {
        Ok(Some(front)) => front,
        Ok(None) => {
            assert!(!trawl_tests::is_ci(), "CI must have nginx");
            eprintln!("SKIPPED: nginx is not installed");
            return;
        }
        Err(e) => panic!("{e:#}"),
    };
    let build = |host: String, ca_file: &std::path::Path, password: Option<&str>| {
        let mut b = ClientConfig::builder()
            .host(host)
            .ca_file(ca_file)
            .retry(quick_retries(1));
        if let Some(p) = password {
            b = b.basic_auth("trawl", p);
        }
        Client::new(b.build().unwrap()).unwrap()
    };

    // The right CA and password.
    let ok = build(front.https_url(), &ca.ca_file(), Some("right-pass"));
    let info = ok.engine_info().await.unwrap();
    assert!(!info.cluster_name.is_empty());
    // Credentials embedded in the URL work too.
    let embedded = build(
        front
            .https_url()
            .replace("https://", "https://trawl:right-pass@"),
        &ca.ca_file(),
        None,
    );
    embedded.cluster_health().await.unwrap();

    // A CA that did not sign the server's certificate: a TLS error naming the CA file.
    let other = TestCa::generate("some other CA").unwrap();
    let err = build(front.https_url(), &other.ca_file(), Some("right-pass"))
        .cluster_health()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&other.ca_file().display().to_string()),
        "{err}"
    );

    // A wrong password: 401, the user named, the password nowhere.
    let err = build(front.https_url(), &ca.ca_file(), Some("hunter2-wrong"))
        .cluster_health()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let message = format!("{err} {err:?}");
    assert!(
        message.contains("user 'trawl'") && !message.contains("hunter2"),
        "{message}"
    );

    // Plain http to the https port: the answer says to use https.
    let err = build(front.url(), &ca.ca_file(), Some("right-pass"))
        .cluster_health()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("use an https:// URL"), "{err}");
}

/// A real engine with a write pool of one thread and a queue of one rejects bulk items
/// under concurrent load (429, `rejected_execution`); the sink re-sends exactly those items
/// until every document has landed.
#[tokio::test]
async fn bulk_items_rejected_by_a_tiny_write_queue_are_retried_until_they_land() {
    use crate::stack::{isolated, skip_or_fail, tools_env, which};
    if which("java").is_none() || which("mvn").is_none() || which("redis-server").is_none() {
        return skip_or_fail("java, mvn or redis-server is not installed");
    }
    let (_dir, stack) = isolated(tools_env());
    let request = trawl_stack::UpRequest {
        provider: Some(trawl_stack::ProviderKind::Local),
        engine_settings: vec![
            ("thread_pool.write.size".into(), "1".into()),
            ("thread_pool.write.queue_size".into(), "1".into()),
        ],
        ..trawl_stack::UpRequest::default()
    };
    let up = stack.up(&request, &|_| {}).await;
    let result = async {
        let up = up?;
        let client = Client::new(
            ClientConfig::builder()
                .host(up.services.engine.url.as_str())
                .retry(quick_retries(10))
                .build()?,
        )?;
        client
            .create_index(
                "tiny-queue",
                &json!({"settings": {"number_of_shards": 4, "number_of_replicas": 0}}),
            )
            .await?;
        let bulk = BulkIndexer::new(
            client.clone(),
            BulkOptions {
                max_ops: 25,
                concurrency: 8,
                max_item_retries: 50,
                ..BulkOptions::default()
            },
        );
        for i in 0..3000 {
            bulk.add(BulkOp::index("tiny-queue", i.to_string(), json!({"n": i})))
                .await?;
        }
        let summary = bulk.finish().await?;
        anyhow::ensure!(summary.failed == 0, "{:?}", summary.failures.first());
        anyhow::ensure!(summary.created == 3000, "{summary:?}");
        anyhow::ensure!(
            summary.retried > 0,
            "the tiny queue rejected nothing: {summary:?}"
        );
        client.refresh("tiny-queue").await?;
        anyhow::ensure!(client.count("tiny-queue", None).await? == 3000);
        eprintln!(
            "tiny write queue: {} item re-sends over {} requests",
            summary.retried, summary.requests
        );
        anyhow::Ok(())
    }
    .await;
    stack.down().await.unwrap();
    assert!(stack.processes().is_empty());
    result.unwrap();
}
