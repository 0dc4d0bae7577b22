//! trawl-migrations: versioned index migrations and zero-downtime reindexing.
//!
//! Its job: timestamped migrations with stored state that batch, throttle, halt and
//! resume, and reindexing that swaps aliases atomically once the copy checks out.
//!
//! A [`Migration`] is one file under `src/migrations/`, named `YYYYMMDDHHMMSS_name.rs`
//! and registered in version order in [`migrations::all`]. Such a file is data: a version,
//! a name and a [`helpers::MigrationHelper`] (a common kind, or a one-off helper with a
//! typed state), made a migration by the one adapter [`helpers::HelperMigration`]. The [`MigrationRunner`]
//! applies them strictly in order, one step at a time, keeping a [`MigrationRecord`] per
//! version in the migrations index; a migration that keeps failing halts and blocks the
//! later ones until `cargo xtask migrate retry VERSION` lets it resume from its stored state.
//!
//! [`helpers`] holds the common kinds (create an index, add mappings, backfill a field
//! through the update queue, delete documents below a schema version, remove a field), and
//! [`MigrationGate`] lets application code ask, cheaply, whether a migration has completed.

mod error;
mod gate;
pub mod helpers;
mod lock;
pub mod migrations;
mod record;
pub mod reindex;
mod runner;
pub mod skeleton;

use std::time::Duration;

/// The attribute for implementing [`Migration`] (re-exported from `async-trait`).
pub use async_trait::async_trait;
pub use error::MigrationError;
pub use gate::MigrationGate;
pub use lock::{RunnerLock, RunnerLockGuard};
pub use record::{MigrationRecord, MigrationState, MigrationStatus};
pub use runner::{MigrationRunner, PlannedMigration, RunOptions, RunReport};

use trawl_indexer::{IndexSet, Queue, QueueConfig, StatusStore};
use trawl_redis::RedisConnection;
use trawl_registry::Registry;

/// How the runner treats a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationOptions {
    /// Runs in steps of `batch_size` units of work, with `throttle` between steps.
    pub batched: bool,
    /// How much one step should do (the migration reads it; the runner does not).
    pub batch_size: usize,
    /// The pause between two steps of a batched migration.
    pub throttle: Duration,
    /// Failed steps (since the last retry) after which the migration halts.
    pub max_attempts: u32,
    /// The migration can no longer run against the current code; the runner halts on it
    /// and advises recreating the indices.
    pub obsolete: bool,
    /// Pause the update queue while it runs (workers claim nothing; pushes accumulate),
    /// restoring the queue's previous pause state afterwards, whatever the outcome.
    pub pause_indexing: bool,
    /// Free disk (bytes) every data node must have before the migration starts. Checked
    /// once, before its first step; when a node has less, the run stops with
    /// [`MigrationError::InsufficientSpace`] without starting it (no attempt is counted:
    /// nothing ran) and the next run checks again.
    pub space_required: Option<u64>,
    /// The wait after the first failed step before the next attempt; it doubles with every
    /// further failure, up to `max_retry_backoff`.
    pub retry_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_retry_backoff: Duration,
}

impl MigrationOptions {
    /// The wait before the next attempt after `attempts` failed ones (`0` for none):
    /// `retry_backoff`, doubled per further failure, at most `max_retry_backoff`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow((attempts - 1).min(20));
        self.retry_backoff
            .saturating_mul(factor)
            .min(self.max_retry_backoff)
    }
}

impl Default for MigrationOptions {
    fn default() -> Self {
        MigrationOptions {
            batched: false,
            batch_size: 1000,
            throttle: Duration::ZERO,
            max_attempts: 3,
            obsolete: false,
            pause_indexing: false,
            space_required: None,
            retry_backoff: Duration::from_secs(1),
            max_retry_backoff: Duration::from_secs(60),
        }
    }
}

/// What a step says about the work left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More work remains; the runner calls `migrate` again (after `throttle`).
    More,
    /// The migration is done; the runner marks it completed.
    Done,
}

/// What a migration works with: the index set (and through it, the client), Redis (the
/// update queue of the same deployment) and the deployment's repository registry.
#[derive(Debug, Clone)]
pub struct MigrationContext {
    /// The indices of this deployment, behind their aliases.
    pub indices: IndexSet,
    redis: RedisConnection,
    registry: Registry,
    /// The update queue's shards: the worker's setting, so that a backfill pushes refs
    /// where the deployment's configuration says.
    queue_shards: u16,
}

impl MigrationContext {
    /// A context for `indices`, with `redis` holding the deployment's update queue and
    /// `registry` its repositories.
    pub fn new(indices: IndexSet, redis: RedisConnection, registry: Registry) -> Self {
        MigrationContext {
            indices,
            redis,
            registry,
            queue_shards: QueueConfig::default().shards,
        }
    }

    /// Uses the deployment's queue shard count (the one its workers use).
    pub fn with_queue_shards(mut self, shards: u16) -> Self {
        self.queue_shards = shards;
        self
    }

    /// The engine client.
    pub fn client(&self) -> &trawl_client::Client {
        self.indices.client()
    }

    /// The Redis connection.
    pub fn redis(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// The update queue of this deployment (its namespace is the index prefix, its
    /// shards the configured ones).
    pub fn queue(&self) -> Result<Queue, MigrationError> {
        Ok(Queue::new(
            self.redis.clone(),
            QueueConfig {
                namespace: self.indices.names().prefix().to_string(),
                shards: self.queue_shards,
                ..QueueConfig::default()
            },
        )?)
    }

    /// The repositories' indexing status (in the repos index).
    pub fn status(&self) -> StatusStore {
        StatusStore::new(self.indices.clone())
    }

    /// The deployment's repository registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// One versioned migration.
///
/// Implemented once, by [`helpers::HelperMigration`], for every helper; a new migration
/// is a helper, not an implementation of this trait.
///
/// `state` is a free-form JSON object the migration owns (e.g. a cursor; the adapter
/// decodes it into the helper's typed state); the runner
/// persists it after every successful step and hands it back on the next one, also after
/// a halt and `retry`. A failed step's changes to `state` are discarded, so a step should
/// be safe to repeat.
#[async_trait::async_trait]
pub trait Migration: Send + Sync {
    /// The version, the timestamp of the file name (e.g. `20261122153000`).
    fn version(&self) -> u64;
    /// A short snake_case name, the rest of the file name.
    fn name(&self) -> &str;
    /// How the runner treats it.
    fn options(&self) -> MigrationOptions {
        MigrationOptions::default()
    }
    /// Does one step of the work.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut serde_json::Value,
    ) -> Result<Step, MigrationError>;
    /// Whether the work is already done (checked before every step).
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError>;
    /// Whether this deployment does not need it at all (checked once, before it starts);
    /// a skipped migration is recorded as completed with `state.skipped = true`.
    async fn skip(&self, _ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
    /// Called by [`MigrationRunner::retry`] on the stored state before a halted migration
    /// resumes: clear what made it give up (e.g. a failed engine task, a failure count) so
    /// that the next step starts that part afresh. The default keeps the state as it is.
    fn on_retry(&self, _state: &mut serde_json::Value) {}
}
