//! A blobs index that keeps no file content in `_source` (the content still analyzed and
//! searchable): searches mark their snippets from git, `search --explain` reads the file
//! from git, and a zero-downtime reindex copies the documents with their content read
//! from git — each compared with a deployment that keeps the content, on the same
//! repository.

use std::sync::Arc;

use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_client::{BulkIndexer, BulkOp};
use trawl_indexer::search::{BlobHit, BlobQuery};
use trawl_indexer::{CodeSearch, IndexSet};
use trawl_migrations::reindex::{ReindexDriver, ReindexOptions, ReindexStage};
use trawl_registry::{Principal, RepoId};
use trawl_tests::{DeploymentCleanup, register_and_index, require_services, test_deployment};

use crate::indexing::{TestRepo, indexer, spec};

/// A deployment under its own prefix whose blobs index keeps the content in `_source`
/// (`keeps`) or not, created.
async fn deployment(
    services: &trawl_stack::Services,
    what: &str,
    keeps: bool,
) -> (IndexSet, DeploymentCleanup) {
    let (deployment, cleanup) = test_deployment(services, what).await.unwrap();
    let base = deployment.indices();
    let mut options = base.options().clone();
    options.blob_storage.content_in_source = keeps;
    let set = IndexSet::new(
        base.client().clone(),
        base.names().clone(),
        options,
        base.write_routes().cloned().unwrap(),
    );
    set.ensure().await.unwrap();
    (set, cleanup)
}

fn files(repo: &TestRepo) {
    std::fs::create_dir_all(repo.path.join("src")).unwrap();
    std::fs::write(
        repo.path.join("src/client.rs"),
        "use std::io;\n\nfn send() {\n    let r = getHttpResponse(req);\n}\n\nfn get_http_response() {}\n",
    )
    .unwrap();
    std::fs::write(
        repo.path.join("README.md"),
        "# Client\n\nCall `getHttpResponse` for an HTTP response.\n",
    )
    .unwrap();
    std::fs::write(
        repo.path.join("src/latin1.c"),
        b"/* r\xe9sum\xe9 */\nint get_http_response(void);\n",
    )
    .unwrap();
    std::fs::write(repo.path.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0getHttp").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("src/client.rs", repo.path.join("link.rs")).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "files"]);
}

/// The hits of `text`, as anonymous, without scores (the two deployments' indices are
/// alike but not one index).
async fn hits(search: &CodeSearch, text: &str) -> Vec<BlobHit> {
    search
        .search_blobs(&Principal::Anonymous, &BlobQuery::new(text))
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| BlobHit { score: None, ..h })
        .collect()
}

const QUERIES: [&str; 6] = [
    "getHttpResponse",
    "http",
    "get_http*",
    "\"http response\"",
    "int",
    "http -io",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_without_contents_searches_explains_and_reindexes_from_git() {
    let services = require_services!();
    let repo = TestRepo::new();
    files(&repo);
    let (full, _full_cleanup) = deployment(&services, "keeps-content", true).await;
    let (lean, _lean_cleanup) = deployment(&services, "no-content", false).await;
    for set in [&full, &lean] {
        register_and_index(
            &indexer(&services, set).await,
            &spec("app", &repo),
            Arc::default(),
        )
        .await
        .unwrap();
    }
    let blobs = lean.alias(IndexKind::Blobs);
    let stored = lean
        .client()
        .search(
            &blobs,
            &json!({ "query": { "match_all": {} }, "size": 10 }),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(stored.hits.len(), 5);
    assert!(
        stored
            .hits
            .iter()
            .all(|h| h.source["blob"].get("content").is_none()),
        "the lean index keeps no content: {:?}",
        stored.hits[0].source
    );
    let full_search = CodeSearch::new(
        full.clone(),
        trawl_tests::test_registry(&services, &full).await.unwrap(),
    );
    let lean_registry = trawl_tests::test_registry(&services, &lean).await.unwrap();
    let lean_search = CodeSearch::new(lean.clone(), lean_registry.clone());

    // Searching: the same hits and snippets as the engine's highlighter over a kept
    // content, line numbers included.
    for text in QUERIES {
        let expected = hits(&full_search, text).await;
        assert!(!expected.is_empty(), "{text} finds nothing");
        assert_eq!(hits(&lean_search, text).await, expected, "{text}");
    }
    let found = hits(&lean_search, "getHttpResponse").await;
    let client_rs = found.iter().find(|h| h.path == "src/client.rs").unwrap();
    assert_eq!(
        client_rs.snippets[0]
            .lines
            .iter()
            .find(|l| !l.matches.is_empty())
            .unwrap()
            .number,
        4
    );

    // Explaining one file: its content's terms, from git.
    let query = BlobQuery::new("get http");
    let app = RepoId::new("app").unwrap();
    let explained = lean_search
        .explain_path(&Principal::Anonymous, &query, &app, "src/latin1.c")
        .await
        .unwrap()
        .unwrap();
    let reference = full_search
        .explain_path(&Principal::Anonymous, &query, &app, "src/latin1.c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(explained, reference);
    assert!(explained.found && explained.content_unavailable.is_none());

    // A document whose blob git does not have (as after a force push and `gc`, before the
    // repository's next run): found by name, no snippets, and the reason.
    let bulk = BulkIndexer::new(lean.client().clone(), lean.bulk_options());
    let mut ghost = stored
        .hits
        .iter()
        .find(|h| h.source["blob"]["path"] == "README.md")
        .unwrap()
        .source
        .clone();
    ghost["blob"]["path"] = json!("docs/ghost.md");
    ghost["blob"]["file_name"] = json!("ghost.md");
    ghost["blob"]["oid"] = json!("0123456789abcdef0123456789abcdef01234567");
    ghost["blob"]["content"] = json!("getHttpResponse is gone from git");
    bulk.add(BulkOp::index(&blobs, "app_ghost", ghost).routing("app"))
        .await
        .unwrap();
    assert_eq!(bulk.finish().await.unwrap().failed, 0);
    lean.client().refresh(&blobs).await.unwrap();
    let with_ghost = hits(&lean_search, "getHttpResponse").await;
    let ghost_hit = with_ghost
        .iter()
        .find(|h| h.path == "docs/ghost.md")
        .unwrap();
    assert!(ghost_hit.snippets.is_empty());
    let reason = ghost_hit.content_unavailable.as_deref().unwrap();
    assert!(reason.contains("0123456789abcdef"), "{reason}");

    // Reindexing: `_reindex` would copy documents without content; the driver copies them
    // with their content from git, so the new index finds and marks the same.
    let before: Vec<BlobHit> = {
        let mut all = Vec::new();
        for text in QUERIES {
            all.extend(hits(&lean_search, text).await);
        }
        all
    };
    let old_index = lean.client().alias_targets(&blobs).await.unwrap();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let driver = ReindexDriver::new(lean.clone(), redis, lean_registry)
        .unwrap()
        .with_poll_interval(std::time::Duration::from_millis(100));
    let task = driver
        .start(&ReindexOptions {
            kinds: vec![IndexKind::Blobs],
            ..ReindexOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(task.stage, ReindexStage::Done, "{:?}", task.error);
    let copied = &task.indices[0];
    assert!(copied.content_from_git);
    assert_eq!(copied.slices.len(), 1);
    assert_eq!(copied.slices[0].total, 6);
    assert_eq!(copied.slices[0].contents_missing, 1);
    assert_ne!(
        lean.client().alias_targets(&blobs).await.unwrap(),
        old_index
    );
    let after: Vec<BlobHit> = {
        let mut all = Vec::new();
        for text in QUERIES {
            all.extend(hits(&lean_search, text).await);
        }
        all
    };
    // The ghost, copied with empty content, no longer matches by its text; everything
    // else is as before.
    let without_ghost = |hits: Vec<BlobHit>| -> Vec<BlobHit> {
        hits.into_iter()
            .filter(|h| h.path != "docs/ghost.md")
            .collect()
    };
    assert_eq!(without_ghost(after), without_ghost(before));
    driver.cleanup(true).await.unwrap();
}
