//! Blobs schema 4: `blob.defs` (the names a file defines, told by a regular expression per
//! language family when the file is rendered, as the code analyzer's whole terms) joins
//! the mapping; searches rank files that define a searched identifier higher.
//!
//! The release that writes the field needs it in the mapping first (mappings are strict):
//! run `cargo xtask migrate run` before starting its workers. Fresh indices have it already.

use serde_json::json;
use trawl_analyzers::IndexKind;

use crate::helpers::{AddMappings, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261202000000;

/// Adds `blob.defs` to the blobs mapping and sets its schema version to 4.
pub fn migration() -> HelperMigration<AddMappings> {
    HelperMigration::new(VERSION, "add_blob_defs", helper())
}

fn helper() -> AddMappings {
    AddMappings::new(
        IndexKind::Blobs,
        json!({ "blob": { "properties": { "defs": { "type": "keyword", "doc_values": false } } } }),
    )
    .with_schema_version(4)
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
            helper.properties["blob"]["properties"]["defs"],
            def["mappings"]["properties"]["blob"]["properties"]["defs"]
        );
        assert_eq!(helper.fields(), ["blob.defs"]);
    }
}
