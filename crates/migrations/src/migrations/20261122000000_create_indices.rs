//! Makes sure every trawl index exists behind its alias.

use trawl_analyzers::IndexKind;

use crate::{Migration, MigrationContext, MigrationError, Step};

/// Creates the indices whose aliases do not exist yet.
#[derive(Debug)]
pub struct CreateIndices;

#[async_trait::async_trait]
impl Migration for CreateIndices {
    fn version(&self) -> u64 {
        20261122000000
    }

    fn name(&self) -> &str {
        "create_indices"
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut serde_json::Value,
    ) -> Result<Step, MigrationError> {
        let created = ctx.indices.ensure().await?;
        state["created"] = serde_json::json!(created);
        Ok(Step::Done)
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        for kind in IndexKind::ALL {
            if !ctx.client().index_exists(&ctx.indices.alias(kind)).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
