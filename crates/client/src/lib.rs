//! trawl-client: the only way trawl talks to Elasticsearch or OpenSearch.
//!
//! Its job (issue 3): hosts with failover, TLS with a CA file, basic auth or API key,
//! a bounded request pool whose waiting time is reported apart from the request's own
//! timeout, retries with backoff, a streaming bulk sink and the index APIs trawl uses.
//! It must not know about git, Redis or trawl's index layouts.
