//! The common kinds of migration, and the adapter that makes one a migration.
//!
//! Each kind is a [`MigrationHelper`] with a typed [`MigrationHelper::State`] (a serde
//! struct); [`HelperMigration`] — a version, a name and the helper — is the one
//! [`Migration`] implementation for all of them. It decodes the stored JSON state into the
//! helper's type before a step and encodes it back after, so a migration file is a few
//! lines of data and a helper never touches string-keyed JSON:
//!
//! ```ignore
//! pub const VERSION: u64 = 20261202000000;
//! pub fn migration() -> HelperMigration<AddMappings> {
//!     HelperMigration::new(VERSION, "add_blob_defs", AddMappings::new(IndexKind::Blobs, fields))
//! }
//! ```
//!
//! - [`CreateIndex`]: creates index kinds behind their aliases when the aliases are missing.
//! - [`AddMappings`]: adds fields to the mappings of an index kind; completed when every
//!   new field is in the mapping of every index behind the alias.
//! - [`BackfillField`]: documents missing a field (or repositories indexed below a blob
//!   schema) are written again by asking the workers to re-render their repositories
//!   through the update queue, in batches, holding back while the queue is deep, pass
//!   after pass until no registered repository has such documents.
//! - [`DeleteBelowSchemaVersion`]: an async delete-by-query of the documents below a schema
//!   version, its engine task polled step by step.
//! - [`RemoveField`]: an async update-by-query that removes a field from `_source`, polled
//!   the same way.
//!
//! A one-off migration implements [`MigrationHelper`] itself, in its own file, and uses the
//! same adapter. Each keeps what it needs in its state (saved after every step), so a
//! crashed or halted run resumes where it was: a cursor, or the id of the engine task it
//! started (a rerun polls that task rather than starting another). Each writes a
//! `progress` note for `cargo xtask migrate status`. The states keep the key names earlier
//! releases stored, so a record written by them still loads.

mod add_mappings;
mod backfill;
mod by_query;
mod create_index;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use add_mappings::{AddMappings, AddMappingsState};
pub use backfill::{BackfillField, BackfillPhase, BackfillState, Backfilled};
pub use by_query::{DeleteBelowSchemaVersion, DeleteState, RemoveField, TaskState, UpdateState};
pub use create_index::{CreateIndex, CreateIndexState};

use crate::{Migration, MigrationContext, MigrationError, MigrationOptions, Step};

/// A kind of migration that does all of one migration's work: what the runner calls on a
/// [`Migration`], without the version and the name, over a typed state.
#[async_trait::async_trait]
pub trait MigrationHelper: std::fmt::Debug + Send + Sync {
    /// What it keeps between steps (stored as JSON in the migration's record). Every field
    /// has a default, so a fresh migration starts from `Default` and a state stored by an
    /// earlier release, which may lack newer fields, still loads.
    type State: Serialize + DeserializeOwned + Default + Send + Sync;
    /// How the runner should treat it.
    fn options(&self) -> MigrationOptions {
        MigrationOptions::default()
    }
    /// One step of the work.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Self::State,
    ) -> Result<Step, MigrationError>;
    /// Whether the work is done.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError>;
    /// Clears what made it give up, before `migrate retry` resumes it.
    fn on_retry(&self, _state: &mut Self::State) {}
}

/// A migration that is one helper with a version and a name (and, optionally, other
/// options than the helper's own): the adapter between the runner's stored JSON state and
/// the helper's typed one.
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

    /// The helper's state as stored: `{}` and `null` read as a fresh state.
    pub fn decode_state(&self, stored: &Value) -> Result<H::State, MigrationError> {
        decode_state(self.version, self.name, stored)
    }
}

/// Decodes the stored state of migration `version` `name`; see
/// [`HelperMigration::decode_state`].
fn decode_state<S: DeserializeOwned + Default>(
    version: u64,
    name: &str,
    stored: &Value,
) -> Result<S, MigrationError> {
    match stored {
        Value::Null => Ok(S::default()),
        Value::Object(map) if map.is_empty() => Ok(S::default()),
        _ => serde_json::from_value(stored.clone()).map_err(|e| {
            MigrationError::step(format!(
                "the stored state of migration {version} {name} does not read as this release's ({e}), so it cannot resume; run the release that wrote it to the end, or delete the record's state in the migrations index (the migration starts over; its steps are safe to repeat)"
            ))
        }),
    }
}

/// Encodes a state for storing.
fn encode_state<S: Serialize>(state: &S) -> Result<Value, MigrationError> {
    serde_json::to_value(state)
        .map_err(|e| MigrationError::step(format!("a migration state does not encode: {e}")))
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
        let mut typed = self.decode_state(state)?;
        let step = self.helper.migrate(ctx, &mut typed).await?;
        *state = encode_state(&typed)?;
        Ok(step)
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        self.helper.completed(ctx).await
    }

    /// A state that does not decode is left as it is (the next step says why).
    fn on_retry(&self, state: &mut Value) {
        if let Ok(mut typed) = self.decode_state(state) {
            self.helper.on_retry(&mut typed);
            if let Ok(encoded) = encode_state(&typed) {
                *state = encoded;
            }
        }
    }
}

/// `{"bool": {"must_not": {"exists": field}}}`: documents without `field`.
fn missing(field: &str) -> Value {
    json!({ "bool": { "must_not": [{ "exists": { "field": field } }] } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A helper that counts its steps and is done at three.
    #[derive(Debug)]
    struct Counting;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct CountingState {
        steps: u64,
        retried: bool,
    }

    #[async_trait::async_trait]
    impl MigrationHelper for Counting {
        type State = CountingState;
        async fn migrate(
            &self,
            _ctx: &MigrationContext,
            state: &mut CountingState,
        ) -> Result<Step, MigrationError> {
            state.steps += 1;
            Ok(if state.steps >= 3 {
                Step::Done
            } else {
                Step::More
            })
        }
        async fn completed(&self, _ctx: &MigrationContext) -> Result<bool, MigrationError> {
            Ok(false)
        }
        fn on_retry(&self, state: &mut CountingState) {
            state.retried = true;
        }
    }

    fn adapter() -> HelperMigration<Counting> {
        HelperMigration::new(20260101000000, "counting", Counting)
    }

    #[test]
    fn the_adapter_is_the_migration_with_its_version_name_and_options() {
        let m = adapter();
        assert_eq!((m.version(), m.name()), (20260101000000, "counting"));
        assert_eq!(Migration::options(&m), MigrationOptions::default());
        let batched = MigrationOptions {
            batched: true,
            ..MigrationOptions::default()
        };
        let m = adapter().with_options(batched.clone());
        assert_eq!(Migration::options(&m), batched);
    }

    #[test]
    fn stored_states_decode_fresh_partial_and_refuse_the_wrong_shape() {
        let m = adapter();
        assert_eq!(
            m.decode_state(&json!({})).unwrap(),
            CountingState::default()
        );
        assert_eq!(
            m.decode_state(&Value::Null).unwrap(),
            CountingState::default()
        );
        // An earlier release's state: fewer fields, and keys it no longer knows.
        assert_eq!(
            m.decode_state(&json!({ "steps": 2, "progress": "x", "skipped": false }))
                .unwrap(),
            CountingState {
                steps: 2,
                retried: false
            }
        );
        let err = m
            .decode_state(&json!({ "steps": "two" }))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("20260101000000 counting") && err.contains("starts over"),
            "{err}"
        );
        assert!(m.decode_state(&json!([1, 2])).is_err());
    }

    #[test]
    fn retry_goes_through_the_typed_state_and_leaves_a_bad_one_alone() {
        let m = adapter();
        let mut state = json!({ "steps": 1 });
        Migration::on_retry(&m, &mut state);
        assert_eq!(state, json!({ "steps": 1, "retried": true }));
        let mut bad = json!({ "steps": -1 });
        Migration::on_retry(&m, &mut bad);
        assert_eq!(bad, json!({ "steps": -1 }));
    }
}
