//! The engine is real: analysis-common components analyse, documents index and match.

use reqwest::Method;
use serde_json::{Value, json};
use trawl_tests::{Engine, require_services, unique_name};

/// Settings in the shape of trawl's code analyzers, built from analysis-common parts.
fn code_index_body() -> Value {
    json!({
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {
                "filter": {
                    "code_wdg": { "type": "word_delimiter_graph", "preserve_original": true }
                },
                "tokenizer": {
                    "path_reversed": { "type": "path_hierarchy", "reverse": true }
                },
                "analyzer": {
                    "code": {
                        "type": "custom",
                        "tokenizer": "whitespace",
                        "filter": ["code_wdg", "flatten_graph", "lowercase", "asciifolding", "remove_duplicates"]
                    },
                    "path": {
                        "type": "custom",
                        "tokenizer": "path_reversed",
                        "filter": ["lowercase", "asciifolding"]
                    }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "content": { "type": "text", "analyzer": "code" },
                "path": { "type": "text", "analyzer": "path" }
            }
        }
    })
}

fn tokens(analyze: &Value) -> Vec<(String, u64)> {
    analyze["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            (
                t["token"].as_str().unwrap().to_owned(),
                t["position"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn analysis_common_components_analyze_code_and_paths() {
    let services = require_services!();
    let engine = Engine::new(&services.engine).unwrap();
    let index = unique_name("analyze");
    let _cleanup = engine.cleanup(index.clone());
    engine
        .ok(Method::PUT, &index, Some(code_index_body()))
        .await
        .unwrap();

    let code = engine
        .ok(
            Method::POST,
            &format!("{index}/_analyze"),
            Some(json!({ "analyzer": "code", "text": "getHTTP2Response café" })),
        )
        .await
        .unwrap();
    assert_eq!(
        tokens(&code),
        [
            ("gethttp2response".to_owned(), 0),
            ("get".to_owned(), 0),
            ("http".to_owned(), 1),
            ("2".to_owned(), 2),
            ("response".to_owned(), 3),
            ("cafe".to_owned(), 4),
        ]
    );

    let path = engine
        .ok(
            Method::POST,
            &format!("{index}/_analyze"),
            Some(json!({ "analyzer": "path", "text": "App/Models/Ünïcode.rb" })),
        )
        .await
        .unwrap();
    let path_tokens: Vec<String> = tokens(&path).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        path_tokens,
        ["app/models/unicode.rb", "models/unicode.rb", "unicode.rb"]
    );
}

#[tokio::test]
async fn documents_index_and_match_through_the_code_analyzer() {
    let services = require_services!();
    let engine = Engine::new(&services.engine).unwrap();
    let index = unique_name("search");
    let _cleanup = engine.cleanup(index.clone());
    engine
        .ok(Method::PUT, &index, Some(code_index_body()))
        .await
        .unwrap();

    for (id, content, path) in [
        (
            "1",
            "fn getHTTP2Response(café: &str) -> Response",
            "src/http/Client.rs",
        ),
        (
            "2",
            "def parse_config(path): return yaml.load(path)",
            "lib/config.py",
        ),
    ] {
        engine
            .ok(
                Method::PUT,
                &format!("{index}/_doc/{id}?refresh=wait_for"),
                Some(json!({ "content": content, "path": path })),
            )
            .await
            .unwrap();
    }

    let hits = |body: Value| {
        let engine = engine.clone();
        let index = index.clone();
        async move {
            let found = engine
                .ok(Method::POST, &format!("{index}/_search"), Some(body))
                .await
                .unwrap();
            let mut ids: Vec<String> = found["hits"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    // A camelCase part, an ASCII-folded accent, a snake_case part, a path suffix.
    assert_eq!(
        hits(json!({ "query": { "match": { "content": "http" } } })).await,
        ["1"]
    );
    assert_eq!(
        hits(json!({ "query": { "match": { "content": "cafe" } } })).await,
        ["1"]
    );
    assert_eq!(
        hits(json!({ "query": { "match": { "content": "config" } } })).await,
        ["2"]
    );
    assert_eq!(
        hits(json!({ "query": { "term": { "path": "client.rs" } } })).await,
        ["1"]
    );
    assert!(
        hits(json!({ "query": { "match": { "content": "kubernetes" } } }))
            .await
            .is_empty()
    );

    // `dynamic: strict` is enforced by the engine: an unknown field is refused.
    let refused = engine
        .send(
            Method::PUT,
            &format!("{index}/_doc/3"),
            Some(json!({ "unknown": 1 })),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["type"],
        "strict_dynamic_mapping_exception"
    );
}

#[tokio::test]
async fn engine_reports_itself_and_is_healthy() {
    let services = require_services!();
    let info = trawl_stack::engine_info(&services.engine).await.unwrap();
    assert!(
        matches!(info.distribution.as_str(), "opensearch" | "elasticsearch"),
        "{info:?}"
    );
    assert!(info.version.split('.').count() >= 2, "{info:?}");
    let health =
        trawl_stack::engine_health(&services.engine, None, std::time::Duration::from_secs(5))
            .await
            .unwrap();
    assert!(
        matches!(health.status.as_str(), "green" | "yellow"),
        "{health:?}"
    );
    assert!(health.number_of_nodes >= 1);
}

/// What the client claims about codecs is what the engine does: every codec it claims
/// makes an index, every other one is refused (so `index-size-change --variant codec=…`
/// refuses exactly the codecs the engine would fail on, before building anything).
#[tokio::test]
async fn the_codecs_the_client_claims_are_the_ones_the_engine_accepts() {
    use trawl_client::Codec;
    let services = require_services!();
    let engine = Engine::new(&services.engine).unwrap();
    let client = trawl_tests::engine_client(&services.engine).unwrap();
    let capabilities = client.capabilities().await.unwrap();
    let prefix = unique_name("codec");
    let _cleanup = engine.cleanup(format!("{prefix}-*"));
    for codec in [
        Codec::Default,
        Codec::BestCompression,
        Codec::Zstd,
        Codec::ZstdNoDict,
    ] {
        let index = format!("{prefix}-{}", codec.as_str().replace('_', "-"));
        let body = json!({ "settings": {
            "number_of_shards": 1, "number_of_replicas": 0, "index.codec": codec.as_str()
        } });
        let answer = engine.send(Method::PUT, &index, Some(body)).await.unwrap();
        let accepted = (200..300).contains(&answer.status);
        assert_eq!(
            accepted,
            capabilities.supports_codec(codec),
            "{codec}: the engine answered HTTP {}: {}",
            answer.status,
            answer.body
        );
    }
}
