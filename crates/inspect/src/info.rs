//! `info`: one picture of a deployment, GitLab's `gitlab:elastic:info` for trawl — the
//! engine (distribution, version, health), every alias with its indices, settings,
//! document counts and store sizes, the update queue, pending and halted migrations, the
//! latest reindex task, and trawl's own configuration. Secrets are never part of it: the
//! configuration carries the prefix and knobs, never a URL or a credential.

use serde::Serialize;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{ClientError, ClusterHealth};
use trawl_indexer::{IndexSet, Queue, QueueError, QueueStatus};
use trawl_migrations::reindex::{ReindexDriver, ReindexError, ReindexTask};
use trawl_migrations::{MigrationError, MigrationRunner, MigrationState, MigrationStatus};

/// Everything `info` shows.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentInfo {
    pub engine: EngineSummary,
    /// One row per concrete index behind each of the deployment's aliases (an alias whose
    /// index is missing has none).
    pub indices: Vec<IndexInfo>,
    pub queue: QueueStatus,
    pub migrations: MigrationSummary,
    /// The newest reindex task, if any ran here.
    pub reindex: Option<ReindexSummary>,
    pub config: ConfigSummary,
}

/// The engine and the cluster's health.
#[derive(Clone, Debug, Serialize)]
pub struct EngineSummary {
    pub distribution: String,
    pub version: String,
    pub health: ClusterHealth,
}

/// One concrete index behind an alias.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexInfo {
    pub kind: IndexKind,
    pub alias: String,
    pub index: String,
    pub docs: u64,
    pub primary_store_bytes: u64,
    pub total_store_bytes: u64,
    pub shards: Option<u32>,
    pub replicas: Option<u32>,
    /// `default` when the index does not set one.
    pub codec: String,
    /// `None`: the engine's default.
    pub refresh_interval: Option<String>,
}

/// Migrations that are not done.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationSummary {
    pub pending: Vec<MigrationStatus>,
    pub halted: Vec<MigrationStatus>,
}

/// Where the newest reindex task stands.
#[derive(Clone, Debug, Serialize)]
pub struct ReindexSummary {
    pub id: String,
    pub stage: String,
    pub error: Option<String>,
    /// Aliases it rebuilds.
    pub aliases: Vec<String>,
}

impl From<&ReindexTask> for ReindexSummary {
    fn from(task: &ReindexTask) -> Self {
        ReindexSummary {
            id: task.id.clone(),
            stage: task.stage.to_string(),
            error: task.error.clone(),
            aliases: task.indices.iter().map(|i| i.alias.clone()).collect(),
        }
    }
}

/// trawl's configuration as it applies to this deployment; no secret is a field here.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigSummary {
    pub prefix: String,
    pub queue_shards: u16,
    pub index_options: IndexOptions,
}

/// What stops `info`.
#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error(
        "cannot read the engine's state: {0} (check that the engine answers and that the credentials may read cluster and index state)"
    )]
    Engine(#[from] ClientError),
    #[error("cannot read the update queue: {0} (check that Redis answers at the configured URL)")]
    Queue(#[from] QueueError),
    #[error("cannot read the migrations' state: {0}")]
    Migrations(#[from] MigrationError),
    #[error("cannot read the reindex tasks: {0}")]
    Reindex(#[from] ReindexError),
}

/// The services and handles `info` reads from.
pub struct InfoSources<'a> {
    pub indices: &'a IndexSet,
    pub queue: &'a Queue,
    pub migrations: &'a MigrationRunner,
    pub reindex: &'a ReindexDriver,
}

/// Gathers the deployment's picture. Reads only.
pub async fn gather(sources: InfoSources<'_>) -> Result<DeploymentInfo, InfoError> {
    let client = sources.indices.client();
    let engine = client.engine_info().await?;
    let engine = EngineSummary {
        distribution: engine.distribution.to_string(),
        version: engine.version.to_string(),
        health: client.cluster_health().await?,
    };
    let mut indices = Vec::new();
    for size in sources.indices.sizes().await? {
        let settings = client.get_settings(&size.index).await?;
        let settings = &settings[size.index.as_str()];
        let number = |key: &str| settings[key].as_str().and_then(|s| s.parse().ok());
        indices.push(IndexInfo {
            kind: size.kind,
            shards: number("index.number_of_shards"),
            replicas: number("index.number_of_replicas"),
            codec: settings["index.codec"]
                .as_str()
                .unwrap_or("default")
                .to_owned(),
            refresh_interval: settings["index.refresh_interval"]
                .as_str()
                .map(str::to_owned),
            alias: size.alias,
            index: size.index,
            docs: size.docs,
            primary_store_bytes: size.primary_store_bytes,
            total_store_bytes: size.total_store_bytes,
        });
    }
    let queue = sources.queue.status().await?;
    let statuses = sources.migrations.status().await?;
    let migrations = MigrationSummary {
        pending: statuses
            .iter()
            .filter(|m| matches!(m.state, MigrationState::Pending | MigrationState::Running))
            .cloned()
            .collect(),
        halted: statuses
            .into_iter()
            .filter(|m| m.state == MigrationState::Halted)
            .collect(),
    };
    let reindex = sources
        .reindex
        .list()
        .await?
        .first()
        .map(ReindexSummary::from);
    Ok(DeploymentInfo {
        engine,
        indices,
        queue,
        migrations,
        reindex,
        config: ConfigSummary {
            prefix: sources.indices.names().prefix().to_owned(),
            queue_shards: sources.queue.config().shards,
            index_options: sources.indices.options().clone(),
        },
    })
}
