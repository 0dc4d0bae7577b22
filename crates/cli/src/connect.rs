//! How commands reach the services: the running stack (or the environment's URLs), a
//! client for the engine, and the index set (`TRAWL_INDEX_PREFIX` puts every alias
//! under a prefix, so side-by-side deployments and tests never meet).

use anyhow::Context as _;
use trawl_analyzers::IndexOptions;
use trawl_client::Client;
use trawl_indexer::{IndexNames, IndexSet};
use trawl_stack::{Services, Stack};

/// The services `cargo xtask up` started, or those named by `TRAWL_ES_URL`,
/// `TRAWL_REDIS_URL` and `TRAWL_PG_URL`.
pub fn services() -> anyhow::Result<Services> {
    Stack::new(crate::state_dir()?).running_services()?.context(
        "no services: start them with `cargo xtask up`, or set TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL",
    )
}

/// A client for the running engine.
pub fn client(services: &Services) -> anyhow::Result<Client> {
    Ok(Client::new(crate::bench_cmd::client_config(
        &services.engine,
    )?)?)
}

/// The names this deployment uses: `TRAWL_INDEX_PREFIX`, checked (a wildcard, comma,
/// uppercase letter or other character the engine or Redis would read differently is
/// refused with the variable named).
pub fn index_names() -> anyhow::Result<IndexNames> {
    Ok(IndexNames::from_env()?)
}

/// The index set with the default definitions and the deployment's write routes (so
/// that writes are copied to the new indices while a reindex runs).
pub async fn index_set(services: &Services) -> anyhow::Result<IndexSet> {
    let names = index_names()?;
    let routes = trawl_indexer::WriteRoutes::new(redis(services).await?, names.prefix());
    Ok(IndexSet::new(client(services)?, names, IndexOptions::default()).with_write_routes(routes))
}

/// A Redis connection that reconnects by itself; its response timeout (10 s) leaves room
/// for scripts over large sets.
pub async fn redis(services: &Services) -> anyhow::Result<trawl_redis::RedisConnection> {
    trawl_redis::RedisConnection::connect(
        &services.redis.target(),
        trawl_redis::ConnectOptions::default(),
    )
    .await
    .context("cannot connect to Redis (is the stack up? `cargo xtask status`)")
}

/// Per-repository locks under the deployment's prefix.
///
/// Every caller makes the index set first, which checks the prefix; should the check
/// still fail here, the command stops with the error rather than lock under another name.
pub fn repo_locks(
    redis: trawl_redis::RedisConnection,
    ttl: std::time::Duration,
) -> trawl_indexer::RepoLocks {
    match index_names() {
        Ok(names) => trawl_indexer::RepoLocks::new(redis, names.prefix(), ttl),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1)
        }
    }
}

/// Where seeded repositories live.
pub fn repos_dir() -> std::path::PathBuf {
    crate::state_path("repos")
}

/// Where the registry of this deployment (its index prefix) is: the stack's PostgreSQL.
pub fn registry_config(services: &Services) -> anyhow::Result<trawl_registry::RegistryConfig> {
    Ok(trawl_registry::RegistryConfig::new(
        services.postgres.connection_string(),
        index_names()?.prefix(),
    ))
}

/// The repository registry of this deployment.
pub async fn registry(services: &Services) -> anyhow::Result<trawl_registry::Registry> {
    Ok(trawl_registry::Registry::connect(&registry_config(services)?).await?)
}

/// What migrations of this deployment work with: its indices, Redis and registry.
pub async fn migration_context(
    services: &Services,
) -> anyhow::Result<trawl_migrations::MigrationContext> {
    Ok(trawl_migrations::MigrationContext::new(
        index_set(services).await?,
        redis(services).await?,
        registry(services).await?,
    ))
}
