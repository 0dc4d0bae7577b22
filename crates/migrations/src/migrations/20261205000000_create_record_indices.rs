//! Creates the indices of application records (issues, merge requests, notes) on
//! deployments that predate them.

use trawl_analyzers::IndexKind;

use crate::helpers::{CreateIndex, HelperMigration};

/// The version of this migration.
pub const VERSION: u64 = 20261205000000;

/// Creates `trawl-issues`, `trawl-merge-requests` and `trawl-notes` where missing.
pub fn migration() -> HelperMigration<CreateIndex> {
    HelperMigration::new(
        VERSION,
        "create_record_indices",
        CreateIndex {
            kinds: IndexKind::RECORDS.to_vec(),
        },
    )
}
