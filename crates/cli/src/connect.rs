//! How commands reach the services: one [`Deployment`] per process, built from the
//! deployment's [`Config`] (`--config`, `TRAWL_CONFIG` or `./trawl.toml`, then the
//! environment). Under `cargo xtask` (or with `TRAWL_STATE_DIR`), the stack `cargo xtask up`
//! recorded fills in the engine, Redis and PostgreSQL where neither the file nor the
//! environment names them. `prefix` (or `TRAWL_INDEX_PREFIX`) puts every alias and key under
//! a prefix, so side-by-side deployments and tests never meet.

use anyhow::Context as _;
use tokio::sync::OnceCell;
use trawl_client::{Client, ClientConfig};
use trawl_deployment::{Config, Deployment};
use trawl_indexer::{IndexNames, IndexSet};
use trawl_stack::{EngineAuth, EngineEndpoint, Stack, StateDir};

use crate::invocation;

/// The services of this deployment: its resolved configuration, with every service named.
#[derive(Clone, Debug)]
pub struct Services {
    config: Config,
}

impl Services {
    /// The resolved configuration (what `config show` prints, secrets masked).
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The origin shown for a value taken from the running stack.
const FROM_STACK: &str = "the running stack";

/// The deployment's services: the configuration file and the environment, the recorded
/// stack filling what they leave out. An error names what is missing and where to set it.
pub fn services() -> anyhow::Result<Services> {
    let config = config()?;
    let missing: Vec<&str> = [
        ("[engine] hosts / TRAWL_ES_URL", config.engine().is_none()),
        ("[redis] url / TRAWL_REDIS_URL", config.redis().is_none()),
        ("[postgres] url / TRAWL_PG_URL", config.registry().is_none()),
    ]
    .into_iter()
    .filter_map(|(what, absent)| absent.then_some(what))
    .collect();
    if missing.is_empty() {
        return Ok(Services { config });
    }
    let invocation = invocation::current();
    let hint = match invocation.workspace {
        Some(_) => "start the stack with `cargo xtask up`, or name them".to_owned(),
        None => format!(
            "name them in trawl.toml (`{} --config PATH`, TRAWL_CONFIG) or the environment (or set TRAWL_STATE_DIR to the state directory of a stack `cargo xtask up` started)",
            invocation.program
        ),
    };
    anyhow::bail!("no services: {} not set; {hint}", missing.join(", "))
}

/// The stack `cargo xtask up` recorded (the checkout's, or the one under
/// `TRAWL_STATE_DIR`), with the environment's URLs taking precedence; `None` when there is
/// neither. Developer tasks (bench, analyze, relevance) reach the engine through it.
pub fn stack_services() -> anyhow::Result<Option<trawl_stack::Services>> {
    let invocation = invocation::current();
    let state_dir = match (
        &invocation.workspace,
        std::env::var_os(trawl_stack::ENV_STATE_DIR),
    ) {
        (Some(workspace), _) => Some(StateDir::for_workspace(workspace)?),
        (None, Some(dir)) if !dir.is_empty() => Some(StateDir::new(dir)?),
        (None, _) => None,
    };
    match state_dir {
        Some(dir) => Ok(Stack::new(dir).running_services()?),
        None => Ok(None),
    }
}

/// The deployment's configuration: the file and the environment, then the recorded stack
/// where they name no engine, Redis or PostgreSQL.
pub fn config() -> anyhow::Result<Config> {
    let config = file_config()?;
    if config.engine().is_some() && config.redis().is_some() && config.registry().is_some() {
        return Ok(config);
    }
    let Some(stack) = stack_services()? else {
        return Ok(config);
    };
    Ok(config
        .with_engine(client_config(&stack.engine)?, FROM_STACK)
        .with_redis(
            stack.redis.target(),
            &stack.redis.recorded_url(),
            FROM_STACK,
        )
        .with_postgres(&stack.postgres.connection_string(), FROM_STACK))
}

/// The one deployment of this process, connected on first use.
pub async fn deployment(services: &Services) -> anyhow::Result<Deployment> {
    static DEPLOYMENT: OnceCell<Deployment> = OnceCell::const_new();
    let deployment = DEPLOYMENT
        .get_or_try_init(|| async {
            anyhow::Ok(
                Deployment::connect(&services.config)
                    .await
                    .context("cannot open the deployment (engine client, Redis, registry)")?,
            )
        })
        .await?;
    Ok(deployment.clone())
}

/// A client for the deployment's engine.
pub fn client(services: &Services) -> anyhow::Result<Client> {
    let engine = services
        .config
        .engine()
        .context("no engine configured ([engine] hosts or TRAWL_ES_URL)")?;
    Ok(Client::new(engine.clone())?)
}

/// The client configuration for a stack's `endpoint`: its URL, credentials and CA file.
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

/// The names this deployment uses: `prefix` in `trawl.toml` or `TRAWL_INDEX_PREFIX`,
/// checked (a wildcard, comma, uppercase letter or other character the engine or Redis
/// would read differently is refused with the key named).
pub fn index_names() -> anyhow::Result<IndexNames> {
    Ok(file_config()?.names().clone())
}

/// The configuration file this invocation names (`--config`, else `TRAWL_CONFIG`, else
/// `./trawl.toml`) under the environment, without the stack's fallbacks: the one way
/// commands read settings, so that `--config` reaches every part of them.
pub fn file_config() -> anyhow::Result<Config> {
    Ok(Config::load(invocation::current().config.as_deref())?)
}

/// The deployment's index set: its definitions, bulk limits and write routes (so that
/// writes are copied to the new indices while a reindex runs).
pub async fn index_set(services: &Services) -> anyhow::Result<IndexSet> {
    Ok(deployment(services).await?.indices())
}

/// The deployment's Redis connection (reconnects by itself; 10 s response timeout, room
/// for scripts over large sets).
pub async fn redis(services: &Services) -> anyhow::Result<trawl_redis::RedisConnection> {
    Ok(deployment(services).await?.redis())
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

/// Where the registry of this deployment (its index prefix) is.
pub fn registry_config(services: &Services) -> anyhow::Result<trawl_registry::RegistryConfig> {
    services
        .config
        .registry()
        .context("no registry configured ([postgres] url or TRAWL_PG_URL)")
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

/// Where `cargo xtask seed` puts repositories in the checkout; `None` for `trawl`, which
/// has no checkout.
pub fn repos_dir() -> Option<std::path::PathBuf> {
    invocation::current()
        .workspace
        .as_deref()
        .map(|root| StateDir::workspace_path(root).join("repos"))
}
