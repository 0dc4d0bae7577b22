//! Repos schema 2: a repository's status records the blob schema its documents were last
//! written with as a whole (`blob_schema_version`) and the files its last run left out
//! (`left_out`).
//!
//! The release that writes them needs them in the mapping first (mappings are strict):
//! run `cargo xtask migrate run` before starting its workers. Fresh indices have them.

use serde_json::json;
use trawl_analyzers::IndexKind;

use crate::helpers::{AddMappings, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261201000000;

/// Adds `blob_schema_version` and `left_out` to the repos mapping, schema version 2.
pub fn migration() -> HelperMigration<AddMappings> {
    HelperMigration::new(VERSION, "add_repo_status_fields", helper())
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_analyzers::IndexOptions;

    #[test]
    fn adds_what_the_current_definition_has() {
        let def = IndexKind::Repos.definition(&IndexOptions::default());
        for field in helper().fields() {
            assert_eq!(
                def["mappings"]["properties"][&field],
                helper().properties[&field],
                "{field}"
            );
        }
        assert_eq!(IndexKind::Repos.schema_version(), 2);
    }
}
