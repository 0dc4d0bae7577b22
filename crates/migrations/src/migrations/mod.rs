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
#[path = "20261202000000_add_blob_defs.rs"]
mod m20261202000000_add_blob_defs;
#[path = "20261202000100_backfill_blob_defs.rs"]
mod m20261202000100_backfill_blob_defs;
#[path = "20261203000000_sync_access_pending.rs"]
mod m20261203000000_sync_access_pending;
#[path = "20261204000000_recompress_blobs.rs"]
mod m20261204000000_recompress_blobs;
#[path = "20261205000000_create_record_indices.rs"]
mod m20261205000000_create_record_indices;
#[path = "20261206000000_blob_content_source.rs"]
mod m20261206000000_blob_content_source;

/// Every migration, in version order.
pub fn all() -> Vec<Box<dyn Migration>> {
    vec![
        Box::new(m20261122000000_create_indices::migration()),
        Box::new(m20261124000000_add_blob_line_count::migration()),
        Box::new(m20261124000100_backfill_blob_line_count::migration()),
        Box::new(m20261124000200_delete_stale_blobs::migration()),
        Box::new(m20261201000000_add_repo_status_fields::migration()),
        Box::new(m20261201000100_import_registrations::migration()),
        Box::new(m20261201000200_rekey_blobs::migration()),
        Box::new(m20261201000300_delete_unkeyed_blobs::migration()),
        Box::new(m20261202000000_add_blob_defs::migration()),
        Box::new(m20261202000100_backfill_blob_defs::migration()),
        Box::new(m20261203000000_sync_access_pending::migration()),
        Box::new(m20261204000000_recompress_blobs::migration()),
        Box::new(m20261205000000_create_record_indices::migration()),
        Box::new(m20261206000000_blob_content_source::migration()),
    ]
}
