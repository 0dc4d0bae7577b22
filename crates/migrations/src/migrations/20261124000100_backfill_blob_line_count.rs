//! Blobs schema 2: blob documents written before `blob.line_count` existed get it, by
//! having their repositories indexed again (in place, no purge) through the update queue.
//!
//! Needs workers of the release that writes the field; it waits for them pass by pass. On a
//! fresh deployment (no document lacks the field) it is completed at once.

use trawl_analyzers::IndexKind;

use crate::helpers::{BackfillField, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261124000100;

/// Re-indexes the repositories whose blob documents lack `blob.line_count`.
pub fn migration() -> HelperMigration<BackfillField> {
    HelperMigration::new(VERSION, "backfill_blob_line_count", helper())
}

fn helper() -> BackfillField {
    BackfillField::new(IndexKind::Blobs, "blob.line_count")
        .with_batch_size(100)
        .with_max_queue_depth(500)
}
