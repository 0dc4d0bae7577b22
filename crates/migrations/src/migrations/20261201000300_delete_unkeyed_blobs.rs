//! Blobs schema 3: after the rekeying every registered repository's blob documents were
//! written again at schema 3, so what is left below it belongs to no registered
//! repository — documents of repositories removed without a purge. They go.
//!
//! Workers of an older release must not run any more (they would write schema 2
//! documents). On a fresh deployment nothing is below schema 3 and it is completed at once.

use trawl_analyzers::IndexKind;

use crate::helpers::DeleteBelowSchemaVersion;
use crate::{Migration, MigrationContext, MigrationError, MigrationOptions, Step};

/// Deletes blob documents below schema version 3 (async delete-by-query, task polled).
#[derive(Debug)]
pub struct DeleteUnkeyedBlobs;

impl DeleteUnkeyedBlobs {
    /// The version of this migration.
    pub const VERSION: u64 = 20261201000300;

    fn helper() -> DeleteBelowSchemaVersion {
        DeleteBelowSchemaVersion::new(IndexKind::Blobs, 3)
    }
}

#[async_trait::async_trait]
impl Migration for DeleteUnkeyedBlobs {
    fn version(&self) -> u64 {
        Self::VERSION
    }

    fn name(&self) -> &str {
        "delete_unkeyed_blobs"
    }

    fn options(&self) -> MigrationOptions {
        Self::helper().options()
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut serde_json::Value,
    ) -> Result<Step, MigrationError> {
        Self::helper().migrate(ctx, state).await
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Self::helper().completed(ctx).await
    }

    fn on_retry(&self, state: &mut serde_json::Value) {
        Self::helper().on_retry(state);
    }
}
