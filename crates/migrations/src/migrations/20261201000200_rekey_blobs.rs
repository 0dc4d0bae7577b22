//! Blobs schema 3: blob documents are keyed `<repo>:<path>` (or `<repo>#<hash of the path's
//! bytes>`) instead of `<repo>_<path>`, under which two repositories' files could share an
//! id and overwrite each other. Every indexed repository whose status records an older
//! blob schema (or none) is enqueued — found by its status, not by its documents, since a
//! file whose document was overwritten by another repository's has none; a worker finds
//! the status at an older blob schema and rewrites the whole head tree in place (search
//! keeps finding the repository; a file may show twice until its repository is done),
//! then removes the older documents.
//!
//! Needs workers of the release that writes schema 3; it waits for them pass by pass. On a
//! fresh deployment every status records schema 3 and it is completed at once.

use crate::helpers::{BackfillField, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261201000200;

/// Re-indexes, as a whole, every repository indexed below blob schema 3.
pub fn migration() -> HelperMigration<BackfillField> {
    HelperMigration::new(VERSION, "rekey_blobs", helper())
}

fn helper() -> BackfillField {
    BackfillField::blob_rewrite(3)
        .with_batch_size(100)
        .with_max_queue_depth(500)
}
