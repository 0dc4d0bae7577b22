//! Blobs schema 2: `blob.line_count` (lines of the file's content) joins the mapping.
//!
//! The release that writes the field needs it in the mapping first (mappings are strict):
//! run `cargo xtask migrate run` before starting its workers. Fresh indices have it already.

use serde_json::json;
use trawl_analyzers::IndexKind;

use crate::helpers::{AddMappings, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261124000000;

/// Adds `blob.line_count` to the blobs mapping and sets its schema version to 2.
pub fn migration() -> HelperMigration<AddMappings> {
    HelperMigration::new(VERSION, "add_blob_line_count", helper())
}

fn helper() -> AddMappings {
    AddMappings::new(
        IndexKind::Blobs,
        json!({ "blob": { "properties": { "line_count": { "type": "integer" } } } }),
    )
    .with_schema_version(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_analyzers::IndexOptions;

    #[test]
    fn adds_what_the_current_definition_has() {
        let def = IndexKind::Blobs.definition(&IndexOptions::default());
        let helper = helper();
        assert_eq!(
            helper.properties["blob"]["properties"]["line_count"],
            def["mappings"]["properties"]["blob"]["properties"]["line_count"]
        );
        assert_eq!(helper.fields(), ["blob.line_count"]);
    }
}
