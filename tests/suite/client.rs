//! trawl-client against the real engine: every API trawl uses, bulk with bad documents,
//! the three kinds of timeout kept apart, and failover.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trawl_client::{
    AliasAction, BulkIndexer, BulkOp, BulkOptions, ByQueryOutcome, Client, ClientError, Refresh,
    SearchOptions,
};
use trawl_tests::{require_services, unique_name};

/// A fresh one-shard index named after `what`, deleted when the guard drops.
pub async fn scratch_index(
    services: &trawl_stack::Services,
    client: &Client,
    what: &str,
) -> (String, trawl_tests::IndexCleanup) {
    let index = unique_name(what);
    let cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    client
        .create_index(
            &index,
            &json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
        )
        .await
        .unwrap();
    (index, cleanup)
}

/// A client for the test engine, with the endpoint's credentials and CA.
pub fn client_for(
    services: &trawl_stack::Services,
    tune: impl FnOnce(trawl_client::ClientConfigBuilder) -> trawl_client::ClientConfigBuilder,
) -> Client {
    let builder = trawl_tests::client_builder(&services.engine);
    Client::new(tune(builder).build().unwrap()).unwrap()
}

fn strict_index() -> Value {
    json!({
        "settings": { "number_of_shards": 2, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "title": { "type": "text" },
                "tag": { "type": "keyword" },
                "n": { "type": "long" }
            }
        }
    })
}

#[tokio::test]
async fn every_api_trawl_uses_works_on_the_real_engine() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let info = client.engine_info().await.unwrap();
    let index = unique_name("api");
    let alias = format!("{index}-alias");
    let _cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(format!("{index}*"));

    client.create_index(&index, &strict_index()).await.unwrap();
    assert!(client.index_exists(&index).await.unwrap());
    client
        .put_mapping(
            &index,
            &json!({ "properties": { "added": { "type": "keyword" } } }),
        )
        .await
        .unwrap();
    let mapping = client.get_mapping(&index).await.unwrap();
    assert_eq!(
        mapping[&index]["mappings"]["properties"]["added"]["type"],
        "keyword"
    );

    // Documents: with an id, without one, a partial update, an upsert, a delete.
    let written = client
        .index_document(
            &index,
            Some("a/1"),
            &json!({"title": "hello world", "tag": "x", "n": 1}),
            Some("r1"),
            Refresh::No,
        )
        .await
        .unwrap();
    assert_eq!(
        (written.id.as_str(), written.result.as_str()),
        ("a/1", "created")
    );
    let auto = client
        .index_document(
            &index,
            None,
            &json!({"title": "auto id", "n": 2}),
            None,
            Refresh::No,
        )
        .await
        .unwrap();
    assert!(!auto.id.is_empty());
    client
        .update_document(
            &index,
            "a/1",
            &json!({"n": 10}),
            false,
            Some("r1"),
            Refresh::No,
        )
        .await
        .unwrap();
    let upserted = client
        .update_document(
            &index,
            "new",
            &json!({"title": "upserted", "n": 3}),
            true,
            None,
            Refresh::WaitFor,
        )
        .await
        .unwrap();
    assert_eq!(upserted.result, "created");
    let doc = client
        .get_document(&index, "a/1", Some("r1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc, json!({"title": "hello world", "tag": "x", "n": 10}));
    assert_eq!(
        client.get_document(&index, "missing", None).await.unwrap(),
        None
    );
    client.refresh(&index).await.unwrap();
    assert_eq!(client.count(&index, None).await.unwrap(), 3);
    assert!(
        client
            .delete_document(&index, &auto.id, None, Refresh::WaitFor)
            .await
            .unwrap()
    );
    assert!(
        !client
            .delete_document(&index, &auto.id, None, Refresh::No)
            .await
            .unwrap()
    );
    client.refresh(&index).await.unwrap();
    assert_eq!(
        client
            .count(&index, Some(&json!({"term": {"tag": "x"}})))
            .await
            .unwrap(),
        1
    );

    // Search with highlighting.
    let found = client
        .search(
            &index,
            &json!({"query": {"match": {"title": "hello"}}, "highlight": {"fields": {"title": {}}}}),
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert!(!found.partial);
    assert_eq!(found.hits[0].highlight["title"][0], "<em>hello</em> world");

    // search_after paging over 25 documents, 10 a page.
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    for i in 0..25 {
        bulk.add(BulkOp::index(
            &index,
            format!("p{i:02}"),
            json!({"tag": "page", "n": i}),
        ))
        .await
        .unwrap();
    }
    assert_eq!(bulk.finish().await.unwrap().created, 25);
    let mut scroll = client
        .scroll(
            &index,
            json!({"term": {"tag": "page"}}),
            json!([{"n": "asc"}]),
            10,
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(page) = scroll.next_page().await.unwrap() {
        pages += 1;
        seen.extend(page.into_iter().map(|h| h.source["n"].as_i64().unwrap()));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..25).collect::<Vec<_>>());

    // Aliases: point at the index, then swap atomically to a second one.
    let second = format!("{index}-b");
    client.create_index(&second, &strict_index()).await.unwrap();
    client
        .update_aliases(&[AliasAction::Add {
            index: index.clone(),
            alias: alias.clone(),
            is_write_index: Some(true),
        }])
        .await
        .unwrap();
    assert_eq!(
        client.alias_targets(&alias).await.unwrap(),
        vec![index.clone()]
    );
    client
        .update_aliases(&[
            AliasAction::Remove {
                index: index.clone(),
                alias: alias.clone(),
            },
            AliasAction::Add {
                index: second.clone(),
                alias: alias.clone(),
                is_write_index: Some(true),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        client.alias_targets(&alias).await.unwrap(),
        vec![second.clone()]
    );
    assert!(
        client
            .alias_targets("trawl-no-such-alias")
            .await
            .unwrap()
            .is_empty()
    );

    // Reindex (async, polled), update-by-query (async), delete-by-query (sync).
    let task = client
        .reindex(
            &json!({"source": {"index": index}, "dest": {"index": second}}),
            Some("auto"),
        )
        .await
        .unwrap();
    let status = client
        .wait_for_task(&task, Duration::from_millis(100), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(status.succeeded(), "{status:?}");
    assert_eq!(status.response.as_ref().unwrap()["created"], 27);
    client.refresh(&second).await.unwrap();
    assert_eq!(client.count(&alias, None).await.unwrap(), 27);

    let started = client
        .update_by_query(
            &second,
            &json!({"term": {"tag": "page"}}),
            Some(&json!({"source": "ctx._source.n += params.d", "params": {"d": 100}})),
            false,
        )
        .await
        .unwrap();
    let ByQueryOutcome::Started(task) = started else {
        panic!("expected a task")
    };
    let status = client
        .wait_for_task(&task, Duration::from_millis(100), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(status.succeeded(), "{status:?}");
    assert_eq!(status.response.as_ref().unwrap()["updated"], 25);
    client.refresh(&second).await.unwrap();
    assert_eq!(
        client
            .count(&second, Some(&json!({"range": {"n": {"gte": 100}}})))
            .await
            .unwrap(),
        25
    );

    let deleted = client
        .delete_by_query(&second, &json!({"term": {"tag": "page"}}), true)
        .await
        .unwrap();
    let ByQueryOutcome::Done(summary) = deleted else {
        panic!("expected a summary")
    };
    assert_eq!(summary["deleted"], 25);

    // Sizes, cluster facts, nodes, analysis.
    client.refresh(&index).await.unwrap();
    let stats = client.index_stats(&index).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].docs, 27);
    assert!(
        stats[0].primary_store_bytes > 0
            && stats[0].total_store_bytes >= stats[0].primary_store_bytes
    );
    let health = client.cluster_health().await.unwrap();
    assert!(matches!(health.status.as_str(), "green" | "yellow"));
    let cluster = client.cluster_stats().await.unwrap();
    assert!(cluster.fs_available_bytes > 0 && cluster.nodes >= 1);
    let nodes = client.nodes_info().await.unwrap();
    assert_eq!(nodes.len() as u64, cluster.nodes);
    assert!(
        nodes
            .iter()
            .all(|n| n.version.starts_with(&info.version.major.to_string()))
    );
    let tokens = client
        .analyze(
            None,
            &json!({"tokenizer": "whitespace", "filter": ["lowercase"], "text": "Foo BAR"}),
        )
        .await
        .unwrap();
    assert_eq!(
        tokens.iter().map(|t| t.token.as_str()).collect::<Vec<_>>(),
        ["foo", "bar"]
    );
    assert_eq!(
        (
            tokens[1].start_offset,
            tokens[1].end_offset,
            tokens[1].position
        ),
        (4, 7, 1)
    );

    assert!(client.delete_index(&second).await.unwrap());
    assert!(!client.delete_index(&second).await.unwrap());
    let m = client.metrics();
    assert_eq!(
        (m.in_flight, m.waiting, m.pool_timeouts, m.request_timeouts),
        (0, 0, 0, 0)
    );
    assert!(m.completed > 30);
}

#[tokio::test]
async fn writes_that_require_an_alias_never_create_an_index() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let index = unique_name("needs-alias");
    let (alias, missing) = (format!("{index}-alias"), format!("{index}-gone"));
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let _cleanup = [index.clone(), missing.clone()].map(|i| engine.cleanup(i));
    client.create_index(&index, &strict_index()).await.unwrap();
    client
        .update_aliases(&[AliasAction::Add {
            index: index.clone(),
            alias: alias.clone(),
            is_write_index: Some(true),
        }])
        .await
        .unwrap();

    let options = BulkOptions {
        require_alias: true,
        ..BulkOptions::default()
    };
    let doc = json!({ "title": "t" });
    let summary = client
        .bulk_write(
            vec![
                BulkOp::index(alias.as_str(), "1", doc.clone()),
                BulkOp::index(missing.as_str(), "2", doc.clone()),
                BulkOp::Update {
                    index: missing.clone(),
                    id: "3".into(),
                    routing: None,
                    partial: doc.clone(),
                    upsert: true,
                },
            ],
            &options,
        )
        .await;
    assert_eq!(
        (summary.failed, summary.acknowledged()),
        (2, 1),
        "{summary:?}"
    );
    for failure in &summary.failures {
        assert_eq!(failure.index, missing);
        assert_eq!(
            failure.error_type, "index_not_found_exception",
            "{failure:?}"
        );
    }
    client
        .index_document_via_alias(&alias, "4", &doc, Refresh::No)
        .await
        .unwrap();
    let refused = client
        .index_document_via_alias(&missing, "5", &doc, Refresh::No)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(404), "{refused}");
    assert!(!client.index_exists(&missing).await.unwrap(), "created");
    // Without the requirement the engine does create it: what the option prevents.
    let created = client
        .bulk_write(
            vec![BulkOp::index(missing.as_str(), "6", doc)],
            &BulkOptions::default(),
        )
        .await;
    assert_eq!(created.failed, 0, "{created:?}");
    assert!(client.index_exists(&missing).await.unwrap());
}

#[tokio::test]
async fn bulk_lands_valid_documents_and_reports_each_invalid_one_by_id() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let index = unique_name("bulk");
    let _cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    client.create_index(&index, &strict_index()).await.unwrap();

    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let options = BulkOptions {
        max_ops: 7,
        concurrency: 3,
        refresh: Some("wait_for"),
        on_item: Some(std::sync::Arc::new(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })),
        ..BulkOptions::default()
    };
    let bulk = BulkIndexer::new(client.clone(), options);
    for i in 0..60 {
        let document = match i % 10 {
            3 => json!({"title": "bad", "unknown_field": i}),
            7 => json!({"title": "bad", "n": "not a number"}),
            _ => json!({"title": "good", "n": i}),
        };
        bulk.add(BulkOp::index(&index, format!("doc-{i}"), document))
            .await
            .unwrap();
    }
    bulk.add(BulkOp::delete(&index, "doc-0")).await.unwrap();
    bulk.add(BulkOp::delete(&index, "never-existed"))
        .await
        .unwrap();
    let summary = bulk.finish().await.unwrap();

    assert_eq!(summary.sent, 62);
    assert_eq!(summary.created, 48);
    assert_eq!((summary.deleted, summary.not_found), (1, 1));
    assert_eq!(summary.failed, 12);
    assert!(summary.requests >= 9, "{summary:?}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 62);
    let mut failed_ids: Vec<_> = summary
        .failures
        .iter()
        .map(|f| f.id.clone().unwrap())
        .collect();
    failed_ids.sort();
    let mut expected: Vec<_> = (0..60)
        .filter(|i| i % 10 == 3 || i % 10 == 7)
        .map(|i| format!("doc-{i}"))
        .collect();
    expected.sort();
    assert_eq!(failed_ids, expected);
    for failure in &summary.failures {
        assert_eq!(failure.status, 400);
        assert!(
            matches!(
                failure.error_type.as_str(),
                "strict_dynamic_mapping_exception"
                    | "mapper_parsing_exception"
                    | "document_parsing_exception"
            ),
            "{failure:?}"
        );
    }
    assert_eq!(client.count(&index, None).await.unwrap(), 47);
}

/// A slow call for these tests: the server holds cluster health for `hold` waiting for
/// nodes that never come, then answers.
fn slow_health(hold: Duration) -> trawl_client::EngineRequest {
    trawl_client::EngineRequest::get("_cluster/health")
        .query("wait_for_nodes", 99)
        .query("timeout", format!("{}ms", hold.as_millis()))
}

#[tokio::test]
async fn waiting_for_a_slot_and_the_request_deadline_fail_as_different_errors() {
    let services = require_services!();
    let client = client_for(&services, |b| {
        b.max_in_flight(1)
            .pool_timeout(Duration::from_millis(300))
            .request_timeout(Duration::from_secs(10))
    });
    // Occupy the only slot for 2 s.
    let busy = tokio::spawn({
        let client = client.clone();
        // The engine answers 408 when its wait runs out: an answer, so `send_raw`.
        async move { client.send_raw(&slow_health(Duration::from_secs(2))).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = client.cluster_health().await.unwrap_err();
    match &err {
        ClientError::PoolTimeout {
            waited,
            limit,
            in_flight,
            ..
        } => {
            assert!(
                *waited >= Duration::from_millis(290) && *waited < Duration::from_secs(2),
                "{waited:?}"
            );
            assert_eq!((*limit, *in_flight), (1, 1));
        }
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        err.to_string().contains("the engine was not asked"),
        "{err}"
    );
    assert_eq!(busy.await.unwrap().unwrap().status, 408);

    // The request's own deadline: the slot is free, the answer is slow.
    let request = slow_health(Duration::from_secs(3)).timeout(Duration::from_millis(400));
    let err = client.send(&request).await.unwrap_err();
    assert!(
        matches!(err, ClientError::RequestTimeout { after, .. } if after == Duration::from_millis(400)),
        "{err:?}"
    );

    let m = client.metrics();
    assert_eq!(
        (m.pool_timeouts, m.request_timeouts, m.in_flight, m.waiting),
        (1, 1, 0, 0)
    );
}

#[tokio::test]
async fn a_server_side_search_timeout_is_a_partial_result_not_an_error() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let (index, _cleanup) = scratch_index(&services, &client, "partial").await;
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    for i in 0..20_000 {
        bulk.add(BulkOp::index(
            &index,
            i.to_string(),
            json!({"n": i, "text": format!("word{} common", i % 100)}),
        ))
        .await
        .unwrap();
    }
    assert_eq!(bulk.finish().await.unwrap().failed, 0);

    // A script that runs on every document, with a shard timeout far below its cost.
    let body = json!({
        "query": {"function_score": {"query": {"match": {"text": "common"}},
            "script_score": {"script": {"source": "double s = 0; for (int i = 0; i < 5000; i++) { s += Math.sqrt(i + doc['n'].value); } return s;"}}}},
        "size": 5,
        "track_total_hits": true
    });
    // Not 1 ms: a deadline that passes before collection starts (query rewrite, weights)
    // makes the engine fail the shard instead of returning what it collected.
    let options = SearchOptions {
        server_timeout: Some(Duration::from_millis(30)),
        ..SearchOptions::default()
    };
    let result = client.search(&index, &body, &options).await.unwrap();
    assert!(
        result.timed_out && result.partial,
        "took {} ms, not partial",
        result.took_ms
    );
    assert_eq!(client.metrics().partial_searches, 1);

    let full = client
        .search(&index, &body, &SearchOptions::default())
        .await
        .unwrap();
    assert!(!full.partial);
    assert_eq!(full.total, 20_000);
}

#[tokio::test]
async fn a_dead_host_is_skipped_and_requests_succeed_through_the_other() {
    let services = require_services!();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_for(&services, |b| b.host(format!("http://127.0.0.1:{dead}")));
    assert_eq!(client.config().hosts.len(), 2);
    let started = Instant::now();
    for _ in 0..20 {
        client.cluster_health().await.unwrap();
    }
    let elapsed = started.elapsed();
    let m = client.metrics();
    assert_eq!(m.completed, 20);
    // The dead node was tried once, then backed off for 1 s, 2 s, 4 s…: it is tried
    // again only when its backoff ran out (20 calls over TLS on a busy machine can take
    // longer than the first second), so one retry per backoff window that passed.
    let windows = (elapsed.as_secs_f64() + 1.0).log2().floor() as u64;
    assert!(m.retries <= 1 + windows, "{m:?} in {elapsed:?}");
}

/// Open search contexts (scroll or point in time) on `index`'s shards.
async fn open_contexts(client: &Client, index: &str) -> u64 {
    let request = trawl_client::EngineRequest::get(format!("{index}/_stats/search"));
    let stats: Value = client
        .send(&request)
        .await
        .unwrap()
        .json(request.method, &request.path)
        .unwrap();
    stats["_all"]["total"]["search"]["open_contexts"]
        .as_u64()
        .unwrap()
}

/// Every page of a walk, as the `n` of each hit, and how many pages there were.
async fn walk(mut scroll: trawl_client::Scroll) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(page) = scroll.next_page().await.unwrap() {
        pages += 1;
        seen.extend(page.into_iter().map(|h| h.source["n"].as_i64().unwrap()));
    }
    assert!(
        scroll.next_page().await.unwrap().is_none(),
        "a finished walk stays finished"
    );
    (seen, pages)
}

#[tokio::test]
async fn both_scroll_paths_give_the_same_pages_and_release_their_views() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let info = client.engine_info().await.unwrap();
    let caps = client.capabilities().await.unwrap();
    let index = unique_name("scroll-paths");
    let _cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    client.create_index(&index, &strict_index()).await.unwrap();
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    // Ids in the reverse order of `n`, over two shards: the order comes from the sort alone.
    for i in 0..57 {
        bulk.add(BulkOp::index(
            &index,
            format!("d{:02}", 99 - i),
            json!({"tag": if i % 3 == 0 { "skip" } else { "walk" }, "n": i}),
        ))
        .await
        .unwrap();
    }
    assert_eq!(bulk.finish().await.unwrap().created, 57);
    let query = json!({"term": {"tag": "walk"}});
    let sort = json!([{"n": "desc"}]);
    let expected: Vec<i64> = (0..57).rev().filter(|i| i % 3 != 0).collect();

    let started = Instant::now();
    let (by_capability, pages) = walk(
        client
            .scroll(&index, query.clone(), sort.clone(), 10)
            .await
            .unwrap(),
    )
    .await;
    println!(
        "{} {}: point in time {:?}; {} hits in {pages} pages in {:?}",
        info.distribution,
        info.version,
        caps.point_in_time,
        by_capability.len(),
        started.elapsed()
    );
    assert_eq!(by_capability, expected);
    assert_eq!(pages, 4);
    let started = Instant::now();
    let (by_context, pages) =
        walk(client.scroll_context(&index, query.clone(), sort.clone(), 10)).await;
    println!("scroll context: {pages} pages in {:?}", started.elapsed());
    assert_eq!(by_context, expected);
    assert_eq!(pages, 4);
    // A page size that divides the hits: the last page is full, the next one empty.
    let (exact, pages) = walk(client.scroll_context(&index, query.clone(), sort.clone(), 19)).await;
    assert_eq!((exact, pages), (expected.clone(), 2));
    // A page size of 0 means one hit a page, not an endless walk of empty pages.
    let (single, pages) = walk(client.scroll_context(&index, query.clone(), sort.clone(), 0)).await;
    assert_eq!((single.len(), pages), (38, 38));
    assert_eq!(
        open_contexts(&client, &index).await,
        0,
        "finished walks release their views"
    );

    // Stopping early: close releases the view, and closing again is harmless.
    let mut early = client.scroll_context(&index, query.clone(), sort.clone(), 5);
    assert_eq!(early.next_page().await.unwrap().unwrap().len(), 5);
    assert!(
        open_contexts(&client, &index).await > 0,
        "a scroll context is open mid-walk"
    );
    let shown = format!("{early:?}");
    assert!(
        shown.contains("scroll context") && !shown.contains("scroll_id"),
        "{shown}"
    );
    early.close().await.unwrap();
    early.close().await.unwrap();
    assert!(early.next_page().await.unwrap().is_none());
    let mut early = client.scroll(&index, query.clone(), sort, 5).await.unwrap();
    assert_eq!(early.next_page().await.unwrap().unwrap().len(), 5);
    early.close().await.unwrap();
    assert_eq!(
        open_contexts(&client, &index).await,
        0,
        "closed walks release their views"
    );

    // A walk over an index that does not exist fails with the engine's answer.
    let missing = format!("{index}-missing");
    let err = match client
        .scroll(&missing, query.clone(), json!([{"n": "asc"}]), 5)
        .await
    {
        Ok(mut scroll) => scroll.next_page().await.unwrap_err(),
        Err(e) => e,
    };
    assert!(err.to_string().contains("missing"), "{err}");
    let err = client
        .scroll_context(&missing, query, json!([{"n": "asc"}]), 5)
        .next_page()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("index_not_found") || err.to_string().contains("404"),
        "{err}"
    );
}
