//! Makes sure every trawl index exists behind its alias.

use crate::helpers::{CreateIndex, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261122000000;

/// Creates the indices whose aliases do not exist yet.
pub fn migration() -> HelperMigration<CreateIndex> {
    HelperMigration::new(VERSION, "create_indices", CreateIndex::all())
}
