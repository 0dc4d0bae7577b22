//! How commands reach the services: one [`Deployment`] per process, built from the
//! deployment's [`Config`] (`trawl.toml`, then the environment), with the running stack's
//! engine, Redis and PostgreSQL filled in where neither names them. `TRAWL_INDEX_PREFIX`
//! (or `prefix` in the file) puts every alias and key under a prefix, so side-by-side
//! deployments and tests never meet.

use anyhow::Context as _;
use tokio::sync::OnceCell;
use trawl_client::Client;
use trawl_deployment::{Config, Deployment};
use trawl_indexer::{IndexNames, IndexSet};
use trawl_stack::{Services, Stack};

/// The origin shown for a value taken from the running stack.
const FROM_STACK: &str = "the running stack";

/// The services `cargo xtask up` started, or those named by `TRAWL_ES_URL`,
/// `TRAWL_REDIS_URL` and `TRAWL_PG_URL`.
pub fn services() -> anyhow::Result<Services> {
    Stack::new(crate::state_dir()?).running_services()?.context(
        "no services: start them with `cargo xtask up`, or set TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL",
    )
}

/// The deployment's configuration (`TRAWL_CONFIG` or `./trawl.toml`, then the
/// environment), the running stack's services where neither names one.
pub fn config(services: &Services) -> anyhow::Result<Config> {
    let config = Config::load(None)?;
    Ok(config
        .with_engine(
            crate::bench_cmd::client_config(&services.engine)?,
            FROM_STACK,
        )
        .with_redis(
            services.redis.target(),
            &services.redis.recorded_url(),
            FROM_STACK,
        )
        .with_postgres(&services.postgres.connection_string(), FROM_STACK))
}

/// The one deployment of this process, connected on first use.
pub async fn deployment(services: &Services) -> anyhow::Result<Deployment> {
    static DEPLOYMENT: OnceCell<Deployment> = OnceCell::const_new();
    let deployment = DEPLOYMENT
        .get_or_try_init(|| async {
            let config = config(services)?;
            anyhow::Ok(Deployment::connect(&config).await?)
        })
        .await?;
    Ok(deployment.clone())
}

/// A client for the deployment's engine.
pub fn client(services: &Services) -> anyhow::Result<Client> {
    let config = config(services)?;
    let engine = config.engine().context("no engine configured")?;
    Ok(Client::new(engine.clone())?)
}

/// The names this deployment uses: `prefix` in `trawl.toml` or `TRAWL_INDEX_PREFIX`,
/// checked (a wildcard, comma, uppercase letter or other character the engine or Redis
/// would read differently is refused with the key named).
pub fn index_names() -> anyhow::Result<IndexNames> {
    Ok(Config::load(None)?.names().clone())
}

/// The deployment's index set: its definitions, bulk limits and write routes (so that
/// writes are copied to the new indices while a reindex runs).
pub async fn index_set(services: &Services) -> anyhow::Result<IndexSet> {
    Ok(deployment(services).await?.indices())
}

/// The deployment's Redis connection (reconnects by itself; 10 s response timeout, room
/// for scripts over large sets).
pub async fn redis(services: &Services) -> anyhow::Result<trawl_redis::RedisConnection> {
    Ok(deployment(services)
        .await
        .context("cannot connect to the deployment (is the stack up? `cargo xtask status`)")?
        .redis())
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
        Ok(names) => {
            trawl_indexer::RepoLocks::new(redis, trawl_indexer::RedisKeys::new(&names), ttl)
        }
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

/// Where the registry of this deployment (its index prefix) is.
pub fn registry_config(services: &Services) -> anyhow::Result<trawl_registry::RegistryConfig> {
    config(services)?
        .registry()
        .context("no registry (PostgreSQL) configured")
}

/// The repository registry of this deployment.
pub async fn registry(services: &Services) -> anyhow::Result<trawl_registry::Registry> {
    Ok(deployment(services).await?.registry().clone())
}

/// What migrations of this deployment work with: its indices, Redis and registry, and
/// the queue's configured shards.
pub async fn migration_context(
    services: &Services,
) -> anyhow::Result<trawl_migrations::MigrationContext> {
    Ok(deployment(services).await?.migration_context())
}
