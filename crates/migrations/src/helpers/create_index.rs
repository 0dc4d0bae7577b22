//! [`CreateIndex`]: an index kind behind its alias, when the alias is missing.

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;

use super::MigrationHelper;
use crate::{MigrationContext, MigrationError, Step};

/// Creates `kind`'s index (with its current definition) behind its alias, if the alias
/// does not exist yet. One step.
#[derive(Clone, Debug)]
pub struct CreateIndex {
    /// The index kind to create.
    pub kind: IndexKind,
}

impl CreateIndex {
    /// Creates `kind` when missing.
    pub fn new(kind: IndexKind) -> Self {
        CreateIndex { kind }
    }
}

#[async_trait::async_trait]
impl MigrationHelper for CreateIndex {
    /// Creates the index when its alias is missing; records the concrete name in `state`.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        if !self.completed(ctx).await? {
            let index = ctx.indices.create(self.kind).await?;
            state["created"] = json!(index);
        }
        Ok(Step::Done)
    }

    /// Whether the alias exists.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(ctx
            .client()
            .index_exists(&ctx.indices.alias(self.kind))
            .await?)
    }
}
