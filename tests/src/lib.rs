//! Support for trawl's end-to-end suites: the real services (from `cargo xtask test`,
//! the environment, or a stack started with `cargo xtask up`), names no other test
//! uses, and cleanup that runs even when a test panics.
//!
//! Every test works under its own prefix, so tests share one engine and one Redis and
//! still run in parallel.

mod fault;
mod front;
mod hostile_repo;
mod records_fixture;

pub use fault::FaultFront;
pub use front::{AuthFront, TestCa};
pub use hostile_repo::{CommitMeta, Content, FileOp, HostileRepo, Stream};
pub use records_fixture::{RecordsFixture, TcpProxy};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::Value;
use trawl_stack::{EngineEndpoint, RedisEndpoint, Services, Stack, StackEnv, StateDir};

/// Set by `cargo xtask test` when it could not bring services up (outside CI).
const ENV_UNAVAILABLE: &str = "TRAWL_SERVICES_UNAVAILABLE";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Whether this run is CI, where a test that needs services must fail without them.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The engine, Redis and PostgreSQL for `test`, or `None` (after saying why) when one of
/// them is missing. Each comes from its variable (`TRAWL_ES_URL`, `TRAWL_REDIS_URL`,
/// `TRAWL_PG_URL`) if set, else from the stack `cargo xtask up` recorded.
///
/// Under CI a missing service is a failure, never a skip.
pub fn services(test: &str) -> Option<Services> {
    let found = StateDir::for_workspace(&workspace_root())
        .and_then(|dir| Stack::with_env(dir, StackEnv::from_process()).running_services());
    let reason = match found {
        Ok(Some(services)) => return Some(services),
        Ok(None) => std::env::var(ENV_UNAVAILABLE).unwrap_or_else(|_| {
            "TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL are not all set and no stack (with PostgreSQL) was started with `cargo xtask up`".into()
        }),
        Err(e) => e.to_string(),
    };
    if is_ci() {
        panic!(
            "{test}: CI needs real services, but {reason}; run the suite through `cargo xtask test`"
        );
    }
    eprintln!(
        "SKIPPED {test}: {reason}. Run `cargo xtask test`, or `cargo xtask up` before `cargo test`."
    );
    None
}

/// `let services = require_services!();` — the services, or return from the test
/// (locally) after saying why; under CI it fails instead.
#[macro_export]
macro_rules! require_services {
    () => {
        match $crate::services(module_path!()) {
            Some(services) => services,
            None => return,
        }
    };
}

/// A lowercase name no other test or run uses: `trawl-test-<what>-<pid>-<n>-<time>`.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("trawl-test-{what}-{}-{n}-{nanos:x}", std::process::id()).to_ascii_lowercase()
}

/// A small JSON-over-HTTP handle on the engine for tests that exercise it directly.
#[derive(Clone)]
pub struct Engine {
    client: reqwest::Client,
    endpoint: EngineEndpoint,
}

/// An engine answer: status code and JSON body (`Null` when the body is empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Engine {
    /// A handle on the given endpoint, with its CA file and credentials.
    pub fn new(endpoint: &EngineEndpoint) -> anyhow::Result<Self> {
        Ok(Engine {
            client: endpoint.http_client()?,
            endpoint: endpoint.clone(),
        })
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        let url = self.endpoint.url.join(path.trim_start_matches('/'))?;
        let mut request = self.client.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{method} {path}: not JSON: {text}"))?
        };
        Ok(Answer { status, body })
    }

    /// Like [`Engine::send`] but fails unless the status is 2xx.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let answer = self.send(method.clone(), path, body).await?;
        anyhow::ensure!(
            (200..300).contains(&answer.status),
            "{method} {path}: HTTP {}: {}",
            answer.status,
            answer.body
        );
        Ok(answer.body)
    }

    /// Deletes the indices matching `pattern` when dropped, even after a panic.
    pub fn cleanup(&self, pattern: impl Into<String>) -> IndexCleanup {
        IndexCleanup {
            engine: self.clone(),
            pattern: pattern.into(),
        }
    }
}

/// Deletes indices on drop (from a thread of its own, so it works inside any runtime).
pub struct IndexCleanup {
    engine: Engine,
    pattern: String,
}

impl Drop for IndexCleanup {
    fn drop(&mut self) {
        let endpoint = self.engine.endpoint.clone();
        let pattern = self.pattern.clone();
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // A client of its own: pooled connections of the test's client belong to the
            // test's runtime, which is blocked on this thread, so a request on one of them
            // would wait until it timed out (and the indices would stay).
            let engine = Engine::new(&endpoint)?;
            runtime.block_on(async {
                // Names, not a wildcard: Elasticsearch 8 refuses wildcard deletes by default
                // (`action.destructive_requires_name`).
                let found = engine
                    .send(
                        reqwest::Method::GET,
                        &format!("_cat/indices/{pattern}?format=json&h=index&expand_wildcards=all"),
                        None,
                    )
                    .await?;
                let names: Vec<String> = found
                    .body
                    .as_array()
                    .map(|rows| {
                        rows.iter()
                            .filter_map(|r| r["index"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                for chunk in names.chunks(20) {
                    engine
                        .send(reqwest::Method::DELETE, &chunk.join(","), None)
                        .await?;
                }
                anyhow::Ok(())
            })?;
            anyhow::Ok(())
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("cleanup of {} failed: {e:#}", self.pattern);
        }
    }
}

/// Everything a test deployment leaves behind, removed on drop: its indices, its
/// registrations and its Redis keys (queue, locks, write routes: `trawl:<prefix>*`).
pub struct DeploymentCleanup {
    _registry: RegistryCleanup,
    _indices: IndexCleanup,
    _keys: KeyCleanup,
}

/// Deletes the Redis keys matching a pattern on drop, even after a panic.
pub struct KeyCleanup {
    url: String,
    pattern: String,
}

impl KeyCleanup {
    /// Deletes `pattern`'s keys (a `SCAN MATCH` pattern) from the Redis at `url` on drop.
    pub fn new(url: &str, pattern: impl Into<String>) -> KeyCleanup {
        KeyCleanup {
            url: url.to_owned(),
            pattern: pattern.into(),
        }
    }
}

impl Drop for KeyCleanup {
    fn drop(&mut self) {
        // On a thread of its own with its own runtime: drop may run inside a test's
        // runtime, which must not block. On a Redis Cluster every master is scanned.
        let (url, pattern) = (self.url.clone(), self.pattern.clone());
        let run = move || -> anyhow::Result<u64> {
            let endpoint = RedisEndpoint::parse(&url, "TRAWL_REDIS_URL")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = trawl_redis::RedisConnection::connect(
                    &endpoint.target(),
                    trawl_redis::ConnectOptions::default(),
                )
                .await?;
                Ok(conn.delete_matching(&pattern).await?)
            })
        };
        let outcome = std::thread::spawn(run).join();
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("cleanup of {} failed: {e:#}", self.pattern),
            Err(_) => eprintln!("cleanup of {} panicked", self.pattern),
        }
    }
}

/// Everything the deployment under `prefix` leaves behind — indices, registrations and
/// Redis keys — removed on drop.
pub fn deployment_cleanup(services: &Services, prefix: &str) -> anyhow::Result<DeploymentCleanup> {
    // A pattern is safe here, unlike in trawl itself: a test's prefix ends in this
    // process's unique counter and time, so only this test's own names (its deployment,
    // and any it nests under it on purpose) start with it.
    Ok(DeploymentCleanup {
        _registry: RegistryCleanup {
            config: trawl_registry::RegistryConfig::new(pg_url(services), prefix),
        },
        _indices: Engine::new(&services.engine)?.cleanup(format!("{prefix}*")),
        _keys: KeyCleanup::new(
            services.redis.connection_url(),
            trawl_indexer::RedisKeys::namespaced(prefix)?.scan_pattern(),
        ),
    })
}

/// `config` with the shared services' engine, Redis and PostgreSQL where it names none.
pub fn with_services(
    config: trawl_deployment::Config,
    services: &Services,
) -> anyhow::Result<trawl_deployment::Config> {
    Ok(config
        .with_engine(
            client_builder(&services.engine).build()?,
            "the test services",
        )
        .with_redis(
            services.redis.target(),
            &services.redis.recorded_url(),
            "the test services",
        )
        .with_postgres(&pg_url(services), "the test services"))
}

/// A deployment under a prefix no other test uses, on the shared services (nothing
/// created yet), with everything under the prefix deleted on drop.
pub async fn test_deployment(
    services: &Services,
    what: &str,
) -> anyhow::Result<(trawl_deployment::Deployment, DeploymentCleanup)> {
    let prefix = format!("{}-", unique_name(what));
    let cleanup = deployment_cleanup(services, &prefix)?;
    let env = |key: &str| (key == "TRAWL_INDEX_PREFIX").then(|| prefix.clone());
    let config = with_services(trawl_deployment::Config::resolve(None, &env)?, services)?;
    Ok((
        trawl_deployment::Deployment::connect(&config).await?,
        cleanup,
    ))
}

/// An index set under a prefix no other test uses, created, with every index under the
/// prefix and every registration of that deployment deleted on drop.
pub async fn test_indices(
    services: &Services,
    what: &str,
) -> anyhow::Result<(trawl_indexer::IndexSet, DeploymentCleanup)> {
    let (deployment, cleanup) = test_deployment(services, what).await?;
    let set = deployment.indices();
    set.ensure().await?;
    Ok((set, cleanup))
}

/// Like [`test_indices`], but the blobs index keeps the file content in `_source` (the
/// engine highlights it): for tests that write documents by hand, whose blobs are in no
/// repository for a search to read them from.
pub async fn test_indices_keeping_content(
    services: &Services,
    what: &str,
) -> anyhow::Result<(trawl_indexer::IndexSet, DeploymentCleanup)> {
    let (deployment, cleanup) = test_deployment(services, what).await?;
    let base = deployment.indices();
    let mut options = base.options().clone();
    options.blob_storage.content_in_source = true;
    let routes = base
        .write_routes()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("a deployment's index set has write routes"))?;
    let set =
        trawl_indexer::IndexSet::new(base.client().clone(), base.names().clone(), options, routes);
    set.ensure().await?;
    Ok((set, cleanup))
}

/// The registry database's connection string (credentials included) for the tests.
pub fn pg_url(services: &Services) -> String {
    services.postgres.connection_string()
}

/// The registry of the deployment `set` belongs to (its prefix). The cleanup of
/// [`test_indices`] removes its registrations.
pub async fn test_registry(
    services: &Services,
    set: &trawl_indexer::IndexSet,
) -> anyhow::Result<trawl_registry::Registry> {
    let config = trawl_registry::RegistryConfig::new(pg_url(services), set.names().prefix());
    Ok(trawl_registry::Registry::connect(&config).await?)
}

/// Registers `spec` as given (a registered id gets exactly these values) and indexes it.
pub async fn register_and_index(
    indexer: &trawl_indexer::RepoIndexer,
    spec: &trawl_registry::RepoSpec,
    progress: std::sync::Arc<trawl_indexer::IndexProgress>,
) -> Result<trawl_indexer::IndexReport, trawl_indexer::IndexError> {
    register(indexer.registry(), spec).await?;
    indexer.index(&spec.id, progress).await
}

/// Registers `spec` as given: added, or the registration changed to exactly these values.
pub async fn register(
    registry: &trawl_registry::Registry,
    spec: &trawl_registry::RepoSpec,
) -> Result<trawl_registry::Registration, trawl_registry::RegistryError> {
    match registry.get(&spec.id).await? {
        None => registry.add(spec).await,
        Some(existing) => Ok(registry
            .set(&spec.id, &existing.spec.change_to(spec), None)
            .await?
            .after),
    }
}

/// Removes a deployment's registrations on drop (from a thread and runtime of its own).
pub struct RegistryCleanup {
    config: trawl_registry::RegistryConfig,
}

impl Drop for RegistryCleanup {
    fn drop(&mut self) {
        let config = self.config.clone();
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let registry = trawl_registry::Registry::connect(&config).await?;
                registry.remove_deployment().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!(
                "cleanup of the registrations of {:?} failed: {e:#}",
                self.config.deployment
            );
        }
    }
}

/// A trawl client configuration builder for the endpoint, with its credentials and CA
/// file, to tune further.
pub fn client_builder(endpoint: &EngineEndpoint) -> trawl_client::ClientConfigBuilder {
    let mut builder = trawl_client::ClientConfig::builder().host(endpoint.url.as_str());
    match &endpoint.auth {
        trawl_stack::EngineAuth::None => {}
        trawl_stack::EngineAuth::Basic { user, password } => {
            builder = builder.basic_auth(user, password.expose())
        }
        trawl_stack::EngineAuth::ApiKey(key) => builder = builder.api_key(key.expose()),
        trawl_stack::EngineAuth::Bearer(token) => builder = builder.bearer_token(token.expose()),
    }
    if let Some(ca) = &endpoint.ca_file {
        builder = builder.ca_file(ca);
    }
    builder
}

/// A trawl client for the endpoint, with its credentials and CA file.
pub fn engine_client(endpoint: &EngineEndpoint) -> anyhow::Result<trawl_client::Client> {
    Ok(trawl_client::Client::new(
        client_builder(endpoint).build()?,
    )?)
}

/// A Redis connection (reconnects by itself; a single server or a cluster, as the
/// endpoint names), as the library crates take it.
pub async fn redis_connection(
    endpoint: &RedisEndpoint,
) -> anyhow::Result<trawl_redis::RedisConnection> {
    Ok(trawl_redis::RedisConnection::connect(
        &endpoint.target(),
        trawl_redis::ConnectOptions::default(),
    )
    .await?)
}

/// A PostgreSQL session on the endpoint (its connection task runs until the client is
/// dropped).
pub async fn postgres(
    endpoint: &trawl_stack::PostgresEndpoint,
) -> anyhow::Result<tokio_postgres::Client> {
    let config: tokio_postgres::Config = endpoint.connection_string().parse()?;
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A Redis connection whose response timeout (30 s) fits blocking commands.
pub async fn redis(endpoint: &RedisEndpoint) -> anyhow::Result<trawl_redis::RedisConnection> {
    Ok(trawl_redis::RedisConnection::connect(
        &endpoint.target(),
        trawl_redis::ConnectOptions {
            response_timeout: Some(std::time::Duration::from_secs(30)),
            ..trawl_redis::ConnectOptions::default()
        },
    )
    .await?)
}
