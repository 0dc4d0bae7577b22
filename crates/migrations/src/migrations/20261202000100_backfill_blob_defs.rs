//! Blobs schema 4: repositories indexed before `blob.defs` existed are rewritten in place
//! (no purge: search keeps finding them), found by the blob schema their status records,
//! so that their files' definitions rank too.
//!
//! Needs workers of the release that writes schema 4; it waits for them pass by pass. On a
//! fresh deployment every status records schema 4 and it is completed at once.

use crate::helpers::{BackfillField, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261202000100;

/// Re-indexes, as a whole, every repository indexed below blob schema 4.
pub fn migration() -> HelperMigration<BackfillField> {
    HelperMigration::new(VERSION, "backfill_blob_defs", helper())
}

fn helper() -> BackfillField {
    BackfillField::blob_rewrite(4)
        .with_batch_size(100)
        .with_max_queue_depth(500)
}
