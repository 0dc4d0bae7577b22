//! trawl-migrations: versioned index migrations and zero-downtime reindexing.
//!
//! Its job (issue 7): timestamped migrations with stored state that batch, throttle,
//! halt and resume, and reindexing that swaps aliases atomically once the copy checks out.
//!
//! A [`Migration`] is one file under `src/migrations/`, named `YYYYMMDDHHMMSS_name.rs`
//! and registered in version order in [`migrations::all`]. The [`MigrationRunner`]
//! applies them strictly in order, one step at a time, keeping a [`MigrationRecord`] per
//! version in the migrations index; a migration that keeps failing halts and blocks the
//! later ones until `cargo xtask migrate retry VERSION` lets it resume from its stored state.

mod error;
mod lock;
pub mod migrations;
mod record;
mod runner;
pub mod skeleton;

use std::time::Duration;

/// The attribute for implementing [`Migration`] (re-exported from `async-trait`).
pub use async_trait::async_trait;
pub use error::MigrationError;
pub use lock::{RunnerLock, RunnerLockGuard};
pub use record::{MigrationRecord, MigrationState, MigrationStatus};
pub use runner::{MigrationRunner, PlannedMigration, RunOptions, RunReport};

use trawl_indexer::IndexSet;

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

/// What a migration works with: the index set (and through it, the client).
#[derive(Debug, Clone)]
pub struct MigrationContext {
    /// The indices of this deployment, behind their aliases.
    pub indices: IndexSet,
}

impl MigrationContext {
    /// The engine client.
    pub fn client(&self) -> &trawl_client::Client {
        self.indices.client()
    }
}

/// One versioned migration.
///
/// `state` is a free-form JSON object the migration owns (e.g. a cursor); the runner
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
}
