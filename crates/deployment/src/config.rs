//! The configuration of one deployment: defaults, then `trawl.toml`, then the
//! environment, each key resolved once by a pure function ([`Config::resolve`]) and
//! checked with the key, its origin and the fix named in every refusal.

mod file;
mod values;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use trawl_analyzers::{BlobStorage, IndexKind, IndexOptions, KindSettings};
use trawl_client::ClientConfig;
use trawl_indexer::{IndexNames, QueueConfig};
use trawl_redis::RedisTarget;
use trawl_registry::RegistryConfig;
use trawl_service_url::Secret;

use crate::ConfigError;
use crate::masked::{MaskedConfig, Origin};
use values::Resolver;

/// The variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "TRAWL_CONFIG";

/// The file read from the working directory when neither `--config` nor
/// [`CONFIG_ENV`] names one.
pub const DEFAULT_FILE: &str = "trawl.toml";

/// Every environment variable the configuration reads (besides [`CONFIG_ENV`]).
pub const ENV_VARS: [&str; 14] = [
    "TRAWL_INDEX_PREFIX",
    "TRAWL_ES_URL",
    "TRAWL_ES_CA_FILE",
    "TRAWL_ES_USER",
    "TRAWL_ES_PASSWORD",
    "TRAWL_ES_API_KEY",
    "TRAWL_ES_BEARER_TOKEN",
    "TRAWL_ES_REQUEST_TIMEOUT",
    "TRAWL_ES_MAX_IN_FLIGHT",
    "TRAWL_REDIS_URL",
    "TRAWL_PG_URL",
    "TRAWL_QUEUE_SHARDS",
    "TRAWL_METRICS_ADDR",
    CONFIG_ENV,
];

/// One deployment's resolved, checked configuration. Services not named by the file or
/// the environment are `None` here; [`Config::with_engine`] and friends fill them in
/// (e.g. from a development stack) before [`crate::Deployment::connect`].
#[derive(Clone, Debug)]
pub struct Config {
    names: IndexNames,
    engine: Option<ClientConfig>,
    redis: Option<RedisTarget>,
    /// The PostgreSQL connection string, credentials included.
    postgres: Option<Secret>,
    limits: IndexingLimits,
    queue_shards: u16,
    metrics_addr: Option<SocketAddr>,
    indices: BTreeMap<IndexKind, KindSettings>,
    /// `[indices.blobs] content_in_source`.
    blob_content_in_source: bool,
    shown: MaskedConfig,
}

/// Sizes that bound indexing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexingLimits {
    /// Files above this many bytes are indexed with their path only.
    pub max_file_bytes: u64,
    /// A `_bulk` request is sent before it grows past this many bytes.
    pub bulk_max_bytes: usize,
    /// … or past this many operations.
    pub bulk_max_docs: usize,
}

impl Config {
    /// Resolves the configuration: defaults, overridden by `file` (its path and text),
    /// overridden by the environment as read through `env`. Pure apart from reading the
    /// secret files the configuration names.
    pub fn resolve(
        file: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let parsed = match file {
            Some((path, text)) => Some((path, file::parse(path, text)?)),
            None => None,
        };
        Resolver::new(parsed, env).resolve()
    }

    /// Finds and reads the file — `path` (`--config`), else [`CONFIG_ENV`], else
    /// `./trawl.toml` if present, else none — and resolves it against the process's
    /// environment. A variable that is set but not UTF-8 is refused, never ignored.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        for var in ENV_VARS {
            if let Some(value) = std::env::var_os(var)
                && value.to_str().is_none()
            {
                return Err(ConfigError::Invalid {
                    key: var.to_owned(),
                    origin: format!("environment variable {var}"),
                    reason: "it is not valid UTF-8".into(),
                    fix: format!("set {var} to UTF-8 text or unset it"),
                });
            }
        }
        let env = |key: &str| std::env::var(key).ok();
        let chosen: Option<PathBuf> = match path {
            Some(p) => Some(p.to_owned()),
            None => match env(CONFIG_ENV).filter(|v| !v.trim().is_empty()) {
                Some(p) => Some(PathBuf::from(p)),
                None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
            },
        };
        match chosen {
            None => Config::resolve(None, &env),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Config::resolve(Some((&path, &text)), &env)
            }
        }
    }

    /// The deployment's names (its checked prefix).
    pub fn names(&self) -> &IndexNames {
        &self.names
    }

    /// The engine client's configuration, if the file or the environment named an engine.
    pub fn engine(&self) -> Option<&ClientConfig> {
        self.engine.as_ref()
    }

    /// Where Redis is, if named.
    pub fn redis(&self) -> Option<&RedisTarget> {
        self.redis.as_ref()
    }

    /// The registry's configuration for this deployment, if PostgreSQL is named.
    pub fn registry(&self) -> Option<RegistryConfig> {
        self.postgres
            .as_ref()
            .map(|pg| RegistryConfig::new(pg.expose(), self.names.prefix()))
    }

    /// The PostgreSQL connection string (credentials included), if named: the registry's
    /// database, which also holds the application's tables.
    pub fn postgres_connection(&self) -> Option<&str> {
        self.postgres.as_ref().map(|pg| pg.expose())
    }

    /// The same deployment's services under other names: a scratch deployment (e.g. an
    /// estimate's sample) beside this one, with its own indices, keys and registrations.
    pub fn with_names(mut self, names: IndexNames, origin: &str) -> Self {
        self.shown.set(
            "prefix",
            names.prefix().to_owned(),
            Origin::Fallback(origin.into()),
        );
        self.names = names;
        self
    }

    /// Uses `engine` when neither the file nor the environment named one.
    pub fn with_engine(mut self, engine: ClientConfig, origin: &str) -> Self {
        if self.engine.is_none() {
            let hosts: Vec<String> = engine.hosts.iter().map(|u| u.to_string()).collect();
            self.shown.set(
                "engine.hosts",
                hosts.join(","),
                Origin::Fallback(origin.into()),
            );
            self.engine = Some(engine);
        }
        self
    }

    /// Uses `redis` (its URL as shown: `shown`) when none was named.
    pub fn with_redis(mut self, redis: RedisTarget, shown: &str, origin: &str) -> Self {
        if self.redis.is_none() {
            self.shown.set(
                "redis.url",
                trawl_service_url::redact(shown),
                Origin::Fallback(origin.into()),
            );
            self.redis = Some(redis);
        }
        self
    }

    /// Uses the PostgreSQL connection string `connection` when none was named.
    pub fn with_postgres(mut self, connection: &str, origin: &str) -> Self {
        if self.postgres.is_none() {
            self.shown.set(
                "postgres.url",
                trawl_service_url::redact(connection),
                Origin::Fallback(origin.into()),
            );
            self.postgres = Some(Secret::new(connection));
        }
        self
    }

    /// The index definitions' options: sizes, the file limit, each kind's own shards,
    /// replicas, codec and refresh interval, and whether blobs keep the file content in
    /// `_source`.
    pub fn index_options(&self) -> IndexOptions {
        IndexOptions {
            file_size_limit_bytes: self.limits.max_file_bytes,
            per_kind: self.indices.clone(),
            blob_storage: BlobStorage {
                content_in_source: self.blob_content_in_source,
                ..BlobStorage::default()
            },
            ..IndexOptions::default()
        }
    }

    /// Indexing sizes.
    pub fn limits(&self) -> IndexingLimits {
        self.limits
    }

    /// The update queue's layout: this deployment's namespace and the configured shards.
    /// The worker and the migrations both take it from here.
    pub fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            namespace: self.names.prefix().to_owned(),
            shards: self.queue_shards,
            ..QueueConfig::default()
        }
    }

    /// Where the worker serves `/metrics`, `/healthz` and `/readyz`; `None` (the default,
    /// `off`) serves none, so two workers on one host never contend for a port.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Every effective value with where it came from, secrets as `****`: what
    /// `config show` prints (serializable for `--json`).
    pub fn masked(&self) -> &MaskedConfig {
        &self.shown
    }
}

#[cfg(test)]
mod tests;
