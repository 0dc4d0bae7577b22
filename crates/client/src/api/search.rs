//! Searching: one request and its answer, with partial results (a server-side timeout,
//! failed shards) kept apart from errors.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::segment;
use crate::{Client, ClientError, EngineRequest};

/// Per-call search settings.
#[derive(Clone, Debug, Default)]
pub struct SearchOptions {
    /// The server-side shard `timeout`: shards that take longer are skipped and the
    /// result comes back partial (`timed_out: true`), not as an error.
    pub server_timeout: Option<Duration>,
    /// This call's request deadline (overrides the client's).
    pub request_timeout: Option<Duration>,
    /// Search only the shard(s) for this routing value.
    pub routing: Option<String>,
}

/// One hit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    pub index: String,
    pub id: String,
    pub score: Option<f64>,
    pub source: Value,
    pub highlight: Value,
    /// Sort values, for `search_after`.
    pub sort: Value,
    /// The document's version, when the search asked for it (`"version": true`).
    pub version: Option<u64>,
    /// The names (`_name`) of the named clauses the document matched.
    pub matched_queries: Vec<String>,
}

/// A search answer. `partial` is true when the server's `timeout` cut it short or some
/// shards failed: the hits are real but may be incomplete.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResult {
    pub took_ms: u64,
    pub timed_out: bool,
    pub shards_total: u64,
    pub shards_failed: u64,
    /// Shard failure reasons, when some failed.
    pub shard_failures: Vec<String>,
    pub partial: bool,
    /// Total hits (a lower bound when `total_is_lower_bound`).
    pub total: u64,
    pub total_is_lower_bound: bool,
    pub hits: Vec<Hit>,
    pub aggregations: Value,
}

impl SearchResult {
    pub(super) fn from_json(body: &Value) -> SearchResult {
        let shards = &body["_shards"];
        let shard_failures: Vec<String> = shards["failures"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        f["reason"]["reason"]
                            .as_str()
                            .or(f["reason"]["type"].as_str())
                            .unwrap_or("unknown")
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let timed_out = body["timed_out"].as_bool().unwrap_or(false);
        let shards_failed = shards["failed"].as_u64().unwrap_or(0);
        SearchResult {
            took_ms: body["took"].as_u64().unwrap_or(0),
            timed_out,
            shards_total: shards["total"].as_u64().unwrap_or(0),
            shards_failed,
            shard_failures,
            partial: timed_out || shards_failed > 0,
            total: body["hits"]["total"]["value"]
                .as_u64()
                .or(body["hits"]["total"].as_u64())
                .unwrap_or(0),
            total_is_lower_bound: body["hits"]["total"]["relation"] == "gte",
            hits: body["hits"]["hits"]
                .as_array()
                .map(|hits| {
                    hits.iter()
                        .map(|h| Hit {
                            index: h["_index"].as_str().unwrap_or_default().to_owned(),
                            id: h["_id"].as_str().unwrap_or_default().to_owned(),
                            score: h["_score"].as_f64(),
                            source: h["_source"].clone(),
                            highlight: h["highlight"].clone(),
                            sort: h["sort"].clone(),
                            version: h["_version"].as_u64(),
                            matched_queries: matched_queries(&h["matched_queries"]),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            aggregations: body["aggregations"].clone(),
        }
    }
}

/// The names of a hit's matched clauses: a list, or (when scores were asked for) an
/// object keyed by name.
fn matched_queries(value: &Value) -> Vec<String> {
    match value {
        Value::Array(names) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        Value::Object(scores) => scores.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

impl Client {
    /// Runs a search. A server-side timeout or failed shards give `partial: true`, never
    /// an error; the client's own deadline and slot wait stay separate errors.
    pub async fn search(
        &self,
        index: &str,
        body: &Value,
        options: &SearchOptions,
    ) -> Result<SearchResult, ClientError> {
        let mut request = EngineRequest::post(format!("{}/_search", segment(index)))
            .idempotent(true)
            .json(body);
        if let Some(t) = options.server_timeout {
            request = request.query("timeout", format!("{}ms", t.as_millis()));
        }
        if let Some(t) = options.request_timeout {
            request = request.timeout(t);
        }
        if let Some(r) = &options.routing {
            request = request.query("routing", r);
        }
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let result = SearchResult::from_json(&body);
        if result.partial {
            self.counters()
                .partial_searches
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!(trawl_telemetry::series::CLIENT_PARTIAL_SEARCHES).increment(1);
            tracing::warn!(
                index,
                timed_out = result.timed_out,
                shards_failed = result.shards_failed,
                "partial search result"
            );
        }
        Ok(result)
    }
}
