//! The registry: one file per migration, `YYYYMMDDHHMMSS_name.rs`, in version order.

use crate::Migration;

#[path = "20261122000000_create_indices.rs"]
mod m20261122000000_create_indices;

/// Every migration, in version order.
pub fn all() -> Vec<Box<dyn Migration>> {
    vec![Box::new(m20261122000000_create_indices::CreateIndices)]
}
