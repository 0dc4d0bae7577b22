//! The common kinds of migration. Each is a [`MigrationHelper`]; a migration that is one
//! of them is a [`HelperMigration`] — a version, a name and the helper — so a migration
//! file is a few lines of data:
//!
//! - [`CreateIndex`]: creates an index kind behind its alias when the alias is missing.
//! - [`AddMappings`]: adds fields to the mappings of an index kind; completed when every
//!   new field is in the mapping of every index behind the alias.
//! - [`BackfillField`]: documents missing a field (or repositories indexed below a blob
//!   schema) are written again by having their repositories indexed again through the
//!   update queue, in batches, holding back while the queue is deep, pass after pass until no registered
//!   repository has such documents.
//! - [`DeleteBelowSchemaVersion`]: an async delete-by-query of the documents below a schema
//!   version, its engine task polled step by step.
//! - [`RemoveField`]: an async update-by-query that removes a field from `_source`, polled
//!   the same way.
//!
//! Each keeps what it needs in the migration's `state` (saved after every step), so a
//! crashed or halted run resumes where it was: a cursor, or the id of the engine task it
//! started (a rerun polls that task rather than starting another). Each writes a
//! `progress` note for `cargo xtask migrate status`.

mod add_mappings;
mod backfill;
mod by_query;
mod create_index;

use serde_json::{Value, json};

pub use add_mappings::AddMappings;
pub use backfill::{BackfillField, Backfilled};
pub use by_query::{DeleteBelowSchemaVersion, RemoveField};
pub use create_index::CreateIndex;

use crate::{Migration, MigrationContext, MigrationError, MigrationOptions, Step};

/// A kind of migration that does all of one migration's work: what the runner calls on a
/// [`Migration`], without the version and the name.
#[async_trait::async_trait]
pub trait MigrationHelper: std::fmt::Debug + Send + Sync {
    /// How the runner should treat it.
    fn options(&self) -> MigrationOptions {
        MigrationOptions::default()
    }
    /// One step of the work.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError>;
    /// Whether the work is done.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError>;
    /// Clears what made it give up, before `migrate retry` resumes it.
    fn on_retry(&self, _state: &mut Value) {}
}

/// A migration that is one helper with a version and a name (and, optionally, other
/// options than the helper's own).
#[derive(Debug)]
pub struct HelperMigration<H> {
    version: u64,
    name: &'static str,
    helper: H,
    options: Option<MigrationOptions>,
}

impl<H: MigrationHelper> HelperMigration<H> {
    /// The migration `version` (`YYYYMMDDHHMMSS`) named `name` that `helper` does.
    pub fn new(version: u64, name: &'static str, helper: H) -> Self {
        HelperMigration {
            version,
            name,
            helper,
            options: None,
        }
    }

    /// Uses `options` instead of the helper's.
    pub fn with_options(mut self, options: MigrationOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// The helper.
    pub fn helper(&self) -> &H {
        &self.helper
    }
}

#[async_trait::async_trait]
impl<H: MigrationHelper> Migration for HelperMigration<H> {
    fn version(&self) -> u64 {
        self.version
    }

    fn name(&self) -> &str {
        self.name
    }

    fn options(&self) -> MigrationOptions {
        self.options
            .clone()
            .unwrap_or_else(|| self.helper.options())
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.helper.migrate(ctx, state).await
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        self.helper.completed(ctx).await
    }

    fn on_retry(&self, state: &mut Value) {
        self.helper.on_retry(state);
    }
}

/// `{"bool": {"must_not": {"exists": field}}}`: documents without `field`.
fn missing(field: &str) -> Value {
    json!({ "bool": { "must_not": [{ "exists": { "field": field } }] } })
}
