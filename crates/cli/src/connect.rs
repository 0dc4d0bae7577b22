//! How commands reach the services: the running stack (or the environment's URLs), a
//! client for the engine, and the index set (`TRAWL_INDEX_PREFIX` puts every alias
//! under a prefix, so side-by-side deployments and tests never meet).

use anyhow::Context as _;
use trawl_analyzers::IndexOptions;
use trawl_client::Client;
use trawl_client::ClientConfig;
use trawl_indexer::{IndexNames, IndexSet};
use trawl_stack::{
    EngineAuth, EngineEndpoint, PostgresEndpoint, RedisEndpoint, Services, Stack, StackEnv,
    StateDir,
};

use crate::invocation;

/// The services named by `TRAWL_ES_URL`, `TRAWL_REDIS_URL` and `TRAWL_PG_URL`; a
/// variable left unset is taken from the stack `cargo xtask up` recorded — the
/// checkout's, or the one under `TRAWL_STATE_DIR`.
pub fn services() -> anyhow::Result<Services> {
    let invocation = invocation::current();
    let state_dir = match (
        &invocation.workspace,
        std::env::var_os(trawl_stack::ENV_STATE_DIR),
    ) {
        (Some(workspace), _) => Some(StateDir::for_workspace(workspace)?),
        (None, Some(dir)) if !dir.is_empty() => Some(StateDir::new(dir)?),
        (None, _) => None,
    };
    let services = match state_dir {
        Some(dir) => Stack::new(dir).running_services()?,
        None => services_from_env()?,
    };
    services.with_context(|| match invocation.workspace {
        Some(_) => "no services: start them with `cargo xtask up`, or set TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL".to_owned(),
        None => format!(
            "no services: set TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL for `{}` (or TRAWL_STATE_DIR to the state directory of a stack `cargo xtask up` started)",
            invocation.program
        ),
    })
}

/// The services named by the environment alone; `None` when a variable is missing.
fn services_from_env() -> anyhow::Result<Option<Services>> {
    let env = StackEnv::from_process();
    let (Some(engine), Some(redis), Some(postgres)) = (
        EngineEndpoint::from_env(&env)?,
        RedisEndpoint::from_env(&env)?,
        PostgresEndpoint::from_env(&env)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(Services {
        engine,
        redis,
        postgres,
    }))
}

/// A client for the running engine.
pub fn client(services: &Services) -> anyhow::Result<Client> {
    Ok(Client::new(client_config(&services.engine)?)?)
}

/// The client configuration for `endpoint`: its URL, credentials and CA file.
pub fn client_config(endpoint: &EngineEndpoint) -> anyhow::Result<ClientConfig> {
    let mut builder = ClientConfig::builder().host(endpoint.url.as_str());
    match &endpoint.auth {
        EngineAuth::None => {}
        EngineAuth::Basic { user, password } => {
            builder = builder.basic_auth(user, password.expose())
        }
        EngineAuth::ApiKey(key) => builder = builder.api_key(key.expose()),
        EngineAuth::Bearer(token) => builder = builder.bearer_token(token.expose()),
    }
    if let Some(ca) = &endpoint.ca_file {
        builder = builder.ca_file(ca);
    }
    Ok(builder.build()?)
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
    .with_context(|| {
        format!(
            "cannot connect to Redis: check TRAWL_REDIS_URL and that Redis is up ({})",
            trawl_operator_command::step("queue status")
        )
    })
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

/// Where `cargo xtask seed` puts repositories in the checkout; `None` for `trawl`, which
/// has no checkout.
pub fn repos_dir() -> Option<std::path::PathBuf> {
    invocation::current()
        .workspace
        .as_deref()
        .map(|root| StateDir::workspace_path(root).join("repos"))
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
