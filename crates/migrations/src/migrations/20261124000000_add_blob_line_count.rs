//! Blobs schema 2: `blob.line_count` (lines of the file's content) joins the mapping.
//!
//! The release that writes the field needs it in the mapping first (mappings are strict):
//! run `cargo xtask migrate run` before starting its workers. Fresh indices have it already.

use serde_json::json;
use trawl_analyzers::IndexKind;

use crate::helpers::AddMappings;
use crate::{Migration, MigrationContext, MigrationError, Step};

/// Adds `blob.line_count` to the blobs mapping and sets its schema version to 2.
#[derive(Debug)]
pub struct AddBlobLineCount;

impl AddBlobLineCount {
    /// The version of this migration.
    pub const VERSION: u64 = 20261124000000;

    fn helper() -> AddMappings {
        AddMappings::new(
            IndexKind::Blobs,
            json!({ "blob": { "properties": { "line_count": { "type": "integer" } } } }),
        )
        .with_schema_version(2)
    }
}

#[async_trait::async_trait]
impl Migration for AddBlobLineCount {
    fn version(&self) -> u64 {
        Self::VERSION
    }

    fn name(&self) -> &str {
        "add_blob_line_count"
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
        let def = IndexKind::Blobs.definition(&IndexOptions::default());
        let helper = AddBlobLineCount::helper();
        assert_eq!(
            helper.properties["blob"]["properties"]["line_count"],
            def["mappings"]["properties"]["blob"]["properties"]["line_count"]
        );
        assert_eq!(helper.fields(), ["blob.line_count"]);
    }
}
