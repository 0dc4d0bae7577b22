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

pub use m20261124000000_add_blob_line_count::AddBlobLineCount;
pub use m20261124000100_backfill_blob_line_count::BackfillBlobLineCount;
pub use m20261124000200_delete_stale_blobs::DeleteStaleBlobs;

/// Every migration, in version order.
pub fn all() -> Vec<Box<dyn Migration>> {
    vec![
        Box::new(m20261122000000_create_indices::CreateIndices),
        Box::new(AddBlobLineCount),
        Box::new(BackfillBlobLineCount),
        Box::new(DeleteStaleBlobs),
    ]
}
