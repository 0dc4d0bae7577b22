//! trawl-client: the only way trawl talks to Elasticsearch or OpenSearch.
//!
//! Built on the official `elasticsearch` crate's transport (one per node: TLS with a CA
//! file, basic auth or API key, connection reuse), with what trawl needs on top:
//!
//! - **Nodes**: round-robin over one or many hosts; a failing node is backed off and
//!   tried again later.
//! - **Honest timeouts**: a bounded number of requests in flight. Waiting too long for a
//!   slot is [`ClientError::PoolTimeout`], the request's own deadline is
//!   [`ClientError::RequestTimeout`], and the server's shard `timeout` is a successful
//!   [`SearchResult`] with `partial: true`. They never blur into one another.
//! - **Retries** with jittered exponential backoff on 429, 502, 503, 504 and connection
//!   errors, bounded by attempts and total time; never for a request that is not safe
//!   to repeat (an index request without a document id).
//! - **Bulk**: [`BulkIndexer`], a streaming sink with back-pressure and per-item results.
//! - **Metrics**: [`Client::metrics`].
//!
//! Requests are data ([`EngineRequest`]) so that a retry can go to another node; the crate's
//! one-shot API builders cannot be replayed. It must not know about git, Redis or trawl's
//! index layouts.

mod api;
mod bulk;
mod capabilities;
mod client;
mod config;
mod engine;
mod error;
mod metrics;
mod nodes;
mod request;

pub use api::{
    AliasAction, AnalyzeToken, ByQueryOutcome, ClusterHealth, ClusterStats, Hit, IndexStats,
    NodeInfo, Refresh, Scroll, SearchOptions, SearchResult, TaskId, TaskStatus, WriteResult,
};
pub use bulk::{
    BulkFailure, BulkIndexer, BulkItemOutcome, BulkOp, BulkOptions, BulkSummary, ItemCallback,
    MirrorTicket, WriteMirror,
};
pub use capabilities::{Capabilities, Codec, EngineFacts, HighlightOffset, PointInTimeApi};
pub use client::Client;
pub use config::{Auth, ClientConfig, ClientConfigBuilder, RetryPolicy};
pub use engine::{Distribution, EngineInfo, Version};
pub use error::{ClientError, ErrorKind};
pub use metrics::ClientMetrics;
pub use request::{EngineRequest, EngineResponse, Method};
