//! Repos schema 2: a repository's status records the blob schema its documents were last
//! written with as a whole (`blob_schema_version`) and the files its last run left out
//! (`left_out`).
//!
//! The release that writes them needs them in the mapping first (mappings are strict):
//! run `cargo xtask migrate run` before starting its workers. Fresh indices have them.

use serde_json::json;
use trawl_analyzers::IndexKind;

use crate::helpers::AddMappings;
use crate::{Migration, MigrationContext, MigrationError, Step};

/// Adds `blob_schema_version` and `left_out` to the repos mapping, schema version 2.
#[derive(Debug)]
pub struct AddRepoStatusFields;

impl AddRepoStatusFields {
    /// The version of this migration.
    pub const VERSION: u64 = 20261201000000;

    fn helper() -> AddMappings {
        AddMappings::new(
            IndexKind::Repos,
            json!({
                "blob_schema_version": { "type": "integer" },
                "left_out": { "type": "object", "enabled": false }
            }),
        )
        .with_schema_version(2)
    }
}

#[async_trait::async_trait]
impl Migration for AddRepoStatusFields {
    fn version(&self) -> u64 {
        Self::VERSION
    }

    fn name(&self) -> &str {
        "add_repo_status_fields"
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut serde_json::Value,
    ) -> Result<Step, MigrationError> {
        Self::helper().migrate(ctx, state).await
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Self::helper().completed(ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_analyzers::IndexOptions;

    #[test]
    fn adds_what_the_current_definition_has() {
        let def = IndexKind::Repos.definition(&IndexOptions::default());
        for field in AddRepoStatusFields::helper().fields() {
            assert_eq!(
                def["mappings"]["properties"][&field],
                AddRepoStatusFields::helper().properties[&field],
                "{field}"
            );
        }
        assert_eq!(IndexKind::Repos.schema_version(), 2);
    }
}
