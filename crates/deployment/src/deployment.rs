//! [`Deployment`]: one deployment's services connected once, and everything built on them
//! handed out from the same configuration.

use std::time::Duration;

use trawl_client::{Client, ClientError};
use trawl_indexer::{
    CodeSearch, IndexNames, IndexSet, Queue, QueueConfig, QueueError, RedisKeys, RepoLocks,
    WriteRoutes,
};
use trawl_migrations::MigrationContext;
use trawl_migrations::reindex::{ReindexDriver, ReindexError};
use trawl_records::{AppDb, AppDbConfig, RecordRef, RecordSearch, RecordsError, Tracker};
use trawl_redis::{ConnectOptions, RedisConnection};
use trawl_registry::{Registry, RegistryError};

use crate::{Config, ConfigError};

/// Why a deployment could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "the engine client cannot be built: {0}; check engine.hosts / TRAWL_ES_URL and the CA and credential settings"
    )]
    Engine(#[from] ClientError),
    #[error(
        "cannot connect to Redis: {0}; check redis.url / TRAWL_REDIS_URL (is Redis running and reachable?)"
    )]
    Redis(#[from] redis::RedisError),
    #[error("{}", registry_error(.0))]
    Registry(#[from] RegistryError),
}

/// A registry error with what to check: the connection settings, unless the database
/// answered and its schema is what stands in the way.
fn registry_error(e: &RegistryError) -> String {
    match e {
        RegistryError::NewerSchema { .. } => e.to_string(),
        _ => format!(
            "cannot reach the registry (PostgreSQL): {e}; check postgres.url / TRAWL_PG_URL and the password file"
        ),
    }
}

/// One deployment: its configuration, engine client, Redis connection and registry,
/// connected once. Cheap to clone. Everything it hands out uses the same names, keys,
/// routes and queue layout.
#[derive(Clone, Debug)]
pub struct Deployment {
    config: Config,
    keys: RedisKeys,
    client: Client,
    redis: RedisConnection,
    registry: Registry,
    indices: IndexSet,
}

impl Deployment {
    /// Connects the engine client, Redis and the registry named by `config`. Nothing is
    /// created anywhere: indices are made by [`IndexSet::ensure`] on [`Self::indices`].
    pub async fn connect(config: &Config) -> Result<Deployment, DeploymentError> {
        let engine = config.engine().ok_or(ConfigError::Missing {
            what: "engine",
            key: "engine.hosts",
            env: "TRAWL_ES_URL",
        })?;
        let redis_target = config.redis().ok_or(ConfigError::Missing {
            what: "Redis",
            key: "redis.url",
            env: "TRAWL_REDIS_URL",
        })?;
        let registry_config = config.registry().ok_or(ConfigError::Missing {
            what: "registry (PostgreSQL)",
            key: "postgres.url",
            env: "TRAWL_PG_URL",
        })?;
        let client = Client::new(engine.clone())?;
        let redis = RedisConnection::connect(redis_target, ConnectOptions::default()).await?;
        let registry = Registry::connect(&registry_config).await?;
        let keys = RedisKeys::new(config.names());
        let limits = config.limits();
        let indices = IndexSet::new(
            client.clone(),
            config.names().clone(),
            config.index_options(),
            WriteRoutes::new(redis.clone(), keys.clone()),
        )
        .with_bulk_limits(limits.bulk_max_bytes, limits.bulk_max_docs);
        Ok(Deployment {
            config: config.clone(),
            keys,
            client,
            redis,
            registry,
            indices,
        })
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its names (the checked prefix).
    pub fn names(&self) -> &IndexNames {
        self.config.names()
    }

    /// Its Redis keys.
    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// The engine client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The Redis connection (reconnects by itself).
    pub fn redis(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// The repository registry of this deployment.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Its indices, with the configured definitions, bulk limits and its write routes.
    pub fn indices(&self) -> IndexSet {
        self.indices.clone()
    }

    /// The update queue's layout (namespace and configured shards).
    pub fn queue_config(&self) -> QueueConfig {
        self.config.queue_config()
    }

    /// The update queue, with the configured shards: the one the worker drains and the
    /// migrations push to.
    pub fn queue(&self) -> Result<Queue, QueueError> {
        Queue::new(self.redis(), self.queue_config())
    }

    /// The records queue (issues, merge requests, notes): the update queue's layout and
    /// shards under its own keys.
    pub fn records_queue(&self) -> Result<Queue<RecordRef>, QueueError> {
        Queue::open(self.redis(), self.queue_config())
    }

    /// The after-commit tracker of application records, on [`Self::records_queue`].
    pub fn tracker(&self) -> Result<Tracker, QueueError> {
        Ok(Tracker::new(self.records_queue()?))
    }

    /// The application's database: the tables in `schema` of the deployment's PostgreSQL
    /// (created and brought up to date on connect).
    pub async fn app_db(&self, schema: &str) -> Result<AppDb, RecordsError> {
        let connection = self.config.postgres_connection().ok_or_else(|| {
            RecordsError::Database(
                "no PostgreSQL is configured: set postgres.url or TRAWL_PG_URL".into(),
            )
        })?;
        AppDb::connect(&AppDbConfig::new(connection, schema)?).await
    }

    /// Per-repository locks expiring `ttl` after the last heartbeat.
    pub fn locks(&self, ttl: Duration) -> RepoLocks {
        RepoLocks::new(self.redis(), self.keys.clone(), ttl)
    }

    /// Access-filtered search over its indices.
    pub fn search(&self) -> CodeSearch {
        CodeSearch::new(self.indices(), self.registry.clone())
    }

    /// Access-filtered search over the application records (issues, merge requests,
    /// notes), with the registry of this deployment.
    pub fn record_search(&self) -> RecordSearch {
        RecordSearch::new(self.indices(), self.registry.clone())
    }

    /// The zero-downtime reindex driver.
    pub fn reindex_driver(&self) -> Result<ReindexDriver, ReindexError> {
        ReindexDriver::new(self.indices(), self.redis(), self.registry.clone())
    }

    /// What migrations work with; its queue has the configured shards.
    pub fn migration_context(&self) -> MigrationContext {
        MigrationContext::new(self.indices(), self.redis(), self.registry.clone())
            .with_queue_shards(self.config.queue_config().shards)
    }
}
