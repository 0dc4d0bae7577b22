//! Blobs schema 3: after the rekeying every registered repository's blob documents were
//! written again at schema 3, so what is left below it belongs to no registered
//! repository — documents of repositories removed without a purge. They go.
//!
//! Workers of an older release must not run any more (they would write schema 2
//! documents). On a fresh deployment nothing is below schema 3 and it is completed at once.

use trawl_analyzers::IndexKind;

use crate::helpers::{DeleteBelowSchemaVersion, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261201000300;

/// Deletes blob documents below schema version 3 (async delete-by-query, task polled).
pub fn migration() -> HelperMigration<DeleteBelowSchemaVersion> {
    HelperMigration::new(VERSION, "delete_unkeyed_blobs", helper())
}

fn helper() -> DeleteBelowSchemaVersion {
    DeleteBelowSchemaVersion::new(IndexKind::Blobs, 3)
}
