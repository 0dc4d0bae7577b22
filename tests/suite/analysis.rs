//! trawl-analyzers against the real engine: the index definitions are accepted and behave
//! as the analyzers promise.

use serde_json::json;
use trawl_analyzers::{ContentVariant, IndexKind, IndexOptions};
use trawl_client::Refresh;
use trawl_tests::{require_services, unique_name};

use crate::client::client_for;

#[tokio::test]
async fn every_index_definition_is_accepted_and_searchable() {
    let services = require_services!();
    let client = client_for(&services, |b| b);
    let prefix = unique_name("defs");
    let _cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(format!("{prefix}-*"));
    for kind in IndexKind::ALL {
        let name = format!("{prefix}-{}", kind.alias());
        client
            .create_index(&name, &kind.definition(&IndexOptions::default()))
            .await
            .unwrap();
        let mapping = client.get_mapping(&name).await.unwrap();
        assert_eq!(mapping[&name]["mappings"]["dynamic"], "strict");
    }

    // The edge n-gram variant: a prefix of an identifier finds it without wildcards.
    for variant in [ContentVariant::Standard, ContentVariant::EdgeNgram] {
        let name = format!("{prefix}-blobs-{variant:?}").to_ascii_lowercase();
        let options = IndexOptions {
            content_variant: variant,
            ..IndexOptions::default()
        };
        client
            .create_index(&name, &IndexKind::Blobs.definition(&options))
            .await
            .unwrap();
        let doc = json!({
            "type": "blob", "repo_id": "7", "visibility": "public", "schema_version": 1,
            "blob": {
                "oid": "E83C5163316F89BFBDE7D9AB23CA2E25604AF290", "rid": "7", "commit_sha": "abc",
                "path": "src/net/HttpClient.rs", "file_name": "HttpClient.rs", "extension": "rs",
                "content": "fn getHTTP2Response(req: &Request) -> Response", "language": "Rust", "size": 48,
                "binary": false, "truncated": false, "lossy": false, "encoding": "utf-8", "symlink": false
            }
        });
        client
            .index_document(
                &name,
                Some("7_src/net/HttpClient.rs"),
                &doc,
                Some("7"),
                Refresh::WaitFor,
            )
            .await
            .unwrap();
        let count = |query: serde_json::Value| {
            let client = client.clone();
            let name = name.clone();
            async move { client.count(&name, Some(&query)).await.unwrap() }
        };
        assert_eq!(
            count(json!({"match": {"blob.content": "RESPONSE"}})).await,
            1,
            "{variant:?}"
        );
        assert_eq!(
            count(json!({"match": {"blob.path": "net/httpclient.rs"}})).await,
            1
        );
        // The reverse sub-field: a match is reversed like the indexed name; a prefix query
        // on the reversed text is an extension search.
        assert_eq!(
            count(json!({"match": {"blob.file_name.reverse": "HTTPCLIENT.RS"}})).await,
            1
        );
        assert_eq!(
            count(json!({"prefix": {"blob.file_name.reverse": "sr."}})).await,
            1
        );
        assert_eq!(
            count(json!({"prefix": {"blob.file_name.reverse": "yp."}})).await,
            0
        );
        assert_eq!(
            count(json!({"term": {"blob.oid": "e83c5163316f89bfbde7d9ab23ca2e25604af290"}})).await,
            1
        );
        let prefix_hits = count(json!({"match": {"blob.content": "respon"}})).await;
        // A camelCase part with a digit: the standard chain matches it as the phrase
        // "http 2"; edge n-grams drop one-character parts (min_gram 2), so that variant
        // cannot — a trade-off the size comparison has to be read with.
        let http2_hits = count(json!({"match": {"blob.content": "http2"}})).await;
        match variant {
            ContentVariant::Standard => assert_eq!((prefix_hits, http2_hits), (0, 1)),
            ContentVariant::EdgeNgram => assert_eq!((prefix_hits, http2_hits), (1, 0)),
        }
        // Routing is required: a blob without it is refused.
        let refused = client
            .index_document(&name, Some("x"), &doc, None, Refresh::No)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), Some(400), "{refused}");
    }
}

/// Indices made with the current definitions carry the current analysis version; an index
/// of an older chain (no version, as every index before the code tokenizer) is named as
/// stale, so that the operator knows a reindex is due.
#[tokio::test]
async fn indices_of_an_older_analysis_are_named_stale() {
    let services = require_services!();
    let (set, _cleanup) = trawl_tests::test_indices(&services, "analysis-stale")
        .await
        .unwrap();
    assert!(set.stale_analysis().await.unwrap().is_empty());
    let client = set.client();
    // The blobs index, and a records index (whose `.code` sub-fields use the code analyzer).
    let mut stale = Vec::new();
    for (kind, name) in [
        (IndexKind::Blobs, "trawl-blobs"),
        (IndexKind::Notes, "trawl-notes"),
    ] {
        let alias = set.alias(kind);
        let old = format!("{}{name}-20200101-000000", set.names().prefix());
        let mut definition = kind.definition(&IndexOptions::default());
        definition["mappings"]["_meta"]
            .as_object_mut()
            .unwrap()
            .remove("analysis_version");
        client.create_index(&old, &definition).await.unwrap();
        let current = client.alias_targets(&alias).await.unwrap().remove(0);
        client
            .update_aliases(&[
                trawl_client::AliasAction::Add {
                    index: old.clone(),
                    alias: alias.clone(),
                    is_write_index: Some(true),
                },
                trawl_client::AliasAction::RemoveIndex { index: current },
            ])
            .await
            .unwrap();
        stale.push(old);
    }
    assert_eq!(set.stale_analysis().await.unwrap(), stale);
}
