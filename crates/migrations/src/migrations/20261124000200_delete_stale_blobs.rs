//! Blobs schema 2: after the backfill every registered repository's blob documents were
//! written again at schema 2, so what is left below it belongs to no indexed head —
//! documents of repositories removed from the registry without a purge. They go.
//!
//! Workers of an older release must not run any more (they would write schema 1
//! documents). On a fresh deployment nothing is below schema 2 and it is completed at once.

use trawl_analyzers::IndexKind;

use crate::helpers::{DeleteBelowSchemaVersion, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261124000200;

/// Deletes blob documents below schema version 2 (async delete-by-query, task polled).
pub fn migration() -> HelperMigration<DeleteBelowSchemaVersion> {
    HelperMigration::new(VERSION, "delete_stale_blobs", helper())
}

fn helper() -> DeleteBelowSchemaVersion {
    DeleteBelowSchemaVersion::new(IndexKind::Blobs, 2)
}
