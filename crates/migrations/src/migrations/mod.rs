//! The registry: one file per migration, `YYYYMMDDHHMMSS_name.rs`, in version order.

use crate::Migration;

#[path = "20261122000000_create_indices.rs"]
mod m20261122000000_create_indices;
#[path = "20261124000000_add_blob_line_count.rs"]
mod m20261124000000_add_blob_line_count;
#[path = "20261124000100_backfill_blob_line_count.rs"]
mod m20261124000100_backfill_blob_line_count;
#[path = "20261124000200_delete_stale_blobs.rs"]
mod m20261124000200_delete_stale_blobs;
#[path = "20261201000000_add_repo_status_fields.rs"]
mod m20261201000000_add_repo_status_fields;
#[path = "20261201000100_import_registrations.rs"]
mod m20261201000100_import_registrations;
#[path = "20261201000200_rekey_blobs.rs"]
mod m20261201000200_rekey_blobs;
#[path = "20261201000300_delete_unkeyed_blobs.rs"]
mod m20261201000300_delete_unkeyed_blobs;

pub use m20261124000000_add_blob_line_count::AddBlobLineCount;
pub use m20261124000100_backfill_blob_line_count::BackfillBlobLineCount;
pub use m20261124000200_delete_stale_blobs::DeleteStaleBlobs;
pub use m20261201000000_add_repo_status_fields::AddRepoStatusFields;
pub use m20261201000100_import_registrations::ImportRegistrations;
pub use m20261201000200_rekey_blobs::RekeyBlobs;
pub use m20261201000300_delete_unkeyed_blobs::DeleteUnkeyedBlobs;

/// Every migration, in version order.
pub fn all() -> Vec<Box<dyn Migration>> {
    vec![
        Box::new(m20261122000000_create_indices::CreateIndices),
        Box::new(AddBlobLineCount),
        Box::new(BackfillBlobLineCount),
        Box::new(DeleteStaleBlobs),
        Box::new(AddRepoStatusFields),
        Box::new(ImportRegistrations),
        Box::new(RekeyBlobs),
        Box::new(DeleteUnkeyedBlobs),
    ]
}
