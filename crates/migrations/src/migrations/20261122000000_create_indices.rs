//! Makes sure every trawl index exists behind its alias.

use trawl_analyzers::IndexKind;

use crate::helpers::{CreateIndex, MigrationHelper as _};
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
        let mut created = Vec::new();
        for kind in IndexKind::ALL {
            let mut one = serde_json::json!({});
            CreateIndex::new(kind).migrate(ctx, &mut one).await?;
            if let Some(index) = one["created"].as_str() {
                created.push(index.to_owned());
            }
        }
        state["created"] = serde_json::json!(created);
        Ok(Step::Done)
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        for kind in IndexKind::ALL {
            if !CreateIndex::new(kind).completed(ctx).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
