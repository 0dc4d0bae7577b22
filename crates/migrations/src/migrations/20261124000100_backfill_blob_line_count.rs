//! Blobs schema 2: blob documents written before `blob.line_count` existed get it, by
//! having their repositories indexed again (in place, no purge) through the update queue.
//!
//! Needs workers of the release that writes the field; it waits for them pass by pass. On a
//! fresh deployment (no document lacks the field) it is completed at once.

use trawl_analyzers::IndexKind;

use crate::helpers::BackfillField;
use crate::{Migration, MigrationContext, MigrationError, MigrationOptions, Step};

/// Re-indexes the repositories whose blob documents lack `blob.line_count`.
#[derive(Debug)]
pub struct BackfillBlobLineCount;

impl BackfillBlobLineCount {
    /// The version of this migration.
    pub const VERSION: u64 = 20261124000100;

    fn helper() -> BackfillField {
        BackfillField::new(IndexKind::Blobs, "blob.line_count")
            .with_batch_size(100)
            .with_max_queue_depth(500)
    }
}

#[async_trait::async_trait]
impl Migration for BackfillBlobLineCount {
    fn version(&self) -> u64 {
        Self::VERSION
    }

    fn name(&self) -> &str {
        "backfill_blob_line_count"
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
